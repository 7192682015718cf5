"""The fences plugin through its hooks on a bench appliance (real store, real evidence files):
fences config errors, the debounced signal book and its lamp faults, the red-light, wrong-lane
and dwell rules with their evidence packages, and ``roadcam fence preview``."""

from __future__ import annotations

import numpy as np
import pytest
from appliances import site_data, stored, unstarted_appliance

from roadcam.appliance.clock import Clock
from roadcam.appliance.events import EventDraft
from roadcam.appliance.runtime import SignalView
from roadcam.appliance.site import site_from_data
from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.common.errors import ConfigError
from roadcam.hal.base import Frame
from roadcam.plugins.fences.plugin import Fences

W, H = 320, 240
T0 = 1_800_000_000 * 10**9
FRAME_NS = 40_000_000
SIGNALS = [{"head": "main", "red": "GPIO17", "amber": "GPIO27", "green": "GPIO22"}]


def fences(**rules) -> dict:
    """One camera: lane 1 (straight only) below a stop line across the middle of the picture,
    an exit zone to the left above it, a no-parking zone at the bottom right."""
    return {"cameras": [{
        "camera": "cam",
        "inertia_frames": 2,
        "lanes": [{"id": 1, "polygon": [[0.2, 0.5], [0.8, 0.5], [0.8, 1.0], [0.2, 1.0]],
                   "movements": ["straight"], "head": "main"}],
        "lines": [{"name": "stop", "points": [[0.1, 0.5], [0.9, 0.5]]}],
        "stop_line": "stop",
        "zones": [{"name": "exit-left", "polygon": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.4], [0.0, 0.4]]},
                  {"name": "kerb", "polygon": [[0.85, 0.6], [1.0, 0.6], [1.0, 1.0], [0.85, 1.0]]}],
        "exits": [{"movement": "left", "zone": "exit-left"}]}], **rules}


#: A camera looking straight down the road: 10 px across a metre, 4 px along one; the stop line
#: (y = 0.5 of the picture) is 30 m from the bottom edge.
CALIBRATION = {"image_points": [[0, 0], [320, 0], [320, 240], [0, 240]],
               "road_points": [[0, 60], [32, 60], [32, 0], [0, 0]]}


def bench(tmp_path, calibrated=False, lines=(), zones=None, clock=None, **rules):
    """An unstarted appliance with the real store, and its fences driven through their hooks;
    ``clock``: the appliance's (default: the system clock)."""
    section = fences(red_light={"enabled": True}, **rules)
    section["cameras"][0]["lines"] += list(lines)
    if zones is not None:
        section["cameras"][0]["zones"] = zones
    camera = {"name": "cam", "source": {"type": "opencv", "url": str(tmp_path / "x.mp4")}}
    if calibrated:
        camera["calibration"] = CALIBRATION
    data = site_data(tmp_path, cameras=[camera], signals=SIGNALS, fences=section)
    config, manager = site_from_data(data)
    clock = clock or Clock()
    appliance = unstarted_appliance(config, manager, clock)
    rules_ = Fences(appliance, config.section("fences"))
    manager.register(rules_, name="fences.rules")
    return appliance, rules_


class Drive:
    """Feeds one vehicle's track, frame by frame, to the plugin's hooks and stores what comes out."""

    def __init__(self, appliance, plugin, initial="green"):
        self.appliance, self.plugin = appliance, plugin
        self.index = 0
        self.track = Track(id=7, camera="cam", kind_votes={"car": 1.0})
        self.signals = {"main": SignalView(initial, T0 - 10**9)}
        self.standing: list[tuple[Track, tuple]] = []   # other road users standing still, with their boxes

    @property
    def now(self) -> int:
        return T0 + self.index * FRAME_NS

    def lamp(self, state: str, at_ns: int | None = None) -> None:
        self.appliance.submit(self.plugin.roadcam_signal_changed("main", state, at_ns or self.now))

    def frame(self, x: float, y_bottom: float, measured: bool = True, box: tuple | None = None) -> None:
        image = np.full((H, W, 3), 100, np.uint8)
        box = box or (x * W - 15, y_bottom * H - 20, x * W + 15, y_bottom * H)
        self.track.points.append(TrackPoint(self.index, self.now, box, None, measured))
        for other, other_box in self.standing:
            other.points.append(TrackPoint(self.index, self.now, other_box, None))
        frame = Frame("cam", self.index, self.now, self.now, image)
        tracks = [self.track, *(other for other, _ in self.standing)]
        self.appliance.submit(self.plugin.roadcam_analyze(frame=frame, tracks=tracks, signals=self.signals))
        self.index += 1

    def path(self, points) -> None:
        for x, y in points:
            self.frame(x, y)

    def end(self) -> None:
        self.appliance.submit(self.plugin.roadcam_track_finished(self.track))
        self.appliance.submit(self.plugin.roadcam_finish(self.appliance))


def straight(start=0.95, stop=0.1, frames=30):
    return [(0.5, start + (stop - start) * i / (frames - 1)) for i in range(frames)]


def test_a_vehicle_crossing_on_red_is_a_red_light_violation_with_its_evidence_package(tmp_path):
    appliance, plugin = bench(tmp_path)
    drive = Drive(appliance, plugin)
    drive.frame(0.5, 0.95)
    drive.lamp("amber")
    drive.path(straight(0.94, 0.6, 5))
    red_at = drive.now
    drive.lamp("red")
    drive.path(straight(0.58, 0.1, 20))   # crosses the line (y = 0.5) a few frames into red
    appliance.submit([EventDraft("plate.read", {"camera": "cam", "track_id": 7, "plate": "ABC-1234",
                                                "confidence": 0.97}, drive.now)])
    drive.end()
    (event,) = stored(tmp_path, "violation.red_light")
    data = event.data
    assert (data["rule"], data["lane"], data["head"], data["phase"], data["article"]) == ("red_light", 1, "main",
                                                                                         "red", "53-1")
    assert 0 < data["into_red_ms"] < 200
    assert data["into_red_ms"] == pytest.approx((_crossing_ns(0.58, 0.1, 20, drive, red_at) - red_at) / 1e6, abs=1)
    assert data["plate"] == "ABC-1234" and data["track_id"] == 7
    assert [ref.kind for ref in event.evidence] == ["frame_before", "frame_after"]
    for ref in event.evidence:
        assert appliance.store.evidence_path(ref.sha256).read_bytes()[:2] == b"\xff\xd8"  # JPEG files on disk
    assert len(data["package_sha256"]) == 64
    assert not stored(tmp_path, "fault.raised")


def _crossing_ns(start, stop, frames, drive, red_at) -> int:
    step = (stop - start) / (frames - 1)
    k = (0.5 - start) / step   # frames after red_at when the bottom centre reached y = 0.5
    return int(red_at + k * FRAME_NS)


def test_crossing_at_amber_a_queue_at_red_and_a_green_crossing_are_not_violations(tmp_path):
    appliance, plugin = bench(tmp_path)
    drive = Drive(appliance, plugin)
    drive.path(straight(0.95, 0.7, 6))
    drive.lamp("amber")
    drive.path(straight(0.68, 0.1, 10))        # already past the line at amber
    drive.lamp("red")
    drive.path([(0.5, 0.1)] * 5)
    drive.end()
    queue = Drive(appliance, plugin)
    queue.index = drive.index
    queue.track = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    queue.path(straight(0.95, 0.52, 10) + [(0.5, 0.52)] * 30)  # waits at the line through the red
    queue.lamp("green")
    queue.path(straight(0.52, 0.1, 8))
    queue.end()
    assert not stored(tmp_path, "violation.red_light")


@pytest.mark.parametrize("sequence, fault", [(["dark"], "signal.dark"), (["amber", "green"], "signal.inconsistent")])
def test_inconsistent_lamps_are_a_fault_never_a_violation(tmp_path, sequence, fault):
    appliance, plugin = bench(tmp_path)
    drive = Drive(appliance, plugin, initial="red")
    drive.frame(0.5, 0.95)
    drive.lamp("green")
    drive.frame(0.5, 0.94)
    drive.path(straight(0.93, 0.9, 3))  # the green settles
    for state in sequence:
        drive.lamp(state)
        drive.path(straight(0.9, 0.88, 3))
    drive.lamp("red")
    drive.path(straight(0.87, 0.1, 20))
    drive.end()
    assert not stored(tmp_path, "violation.red_light")
    assert [e.data["code"] for e in stored(tmp_path, "fault.raised")] == [fault]


def test_red_and_green_lit_together_are_a_fault_never_a_violation(tmp_path):
    """The head's state reads red throughout (the core shows the most restrictive lamp); only the
    lamp edges tell that green is lit too."""
    appliance, plugin = bench(tmp_path)
    drive = Drive(appliance, plugin)
    drive.path(straight(0.95, 0.9, 3))
    drive.lamp("amber")
    drive.path(straight(0.89, 0.7, 4))
    drive.lamp("red")
    appliance.submit(plugin.roadcam_lamps_changed("main", ("red",), drive.now))
    drive.frame(0.5, 0.69)
    appliance.submit(plugin.roadcam_lamps_changed("main", ("red", "green"), drive.now))
    drive.path(straight(0.68, 0.1, 12))   # crosses the line with red and green lit
    drive.end()
    assert not stored(tmp_path, "violation.red_light")
    assert [e.data["code"] for e in stored(tmp_path, "fault.raised")] == ["signal.inconsistent"]


def test_a_lamp_glitch_shorter_than_the_debounce_is_ignored_and_red_dates_from_its_edge(tmp_path):
    appliance, plugin = bench(tmp_path)
    drive = Drive(appliance, plugin)
    drive.path(straight(0.95, 0.9, 3))
    drive.lamp("amber")
    drive.path(straight(0.89, 0.7, 4))
    red_at = drive.now - 10_000_000
    drive.lamp("red", red_at)            # red lit 10 ms before this frame, amber still lit a moment
    drive.lamp("dark", red_at + 1_000_000)
    drive.lamp("red", red_at + 2_000_000)
    drive.path(straight(0.68, 0.1, 12))
    drive.end()
    assert not stored(tmp_path, "fault.raised")
    (event,) = stored(tmp_path, "violation.red_light")
    assert event.data["into_red_ms"] > 0


def test_turning_left_from_a_straight_lane_is_a_wrong_lane_violation(tmp_path):
    appliance, plugin = bench(tmp_path, wrong_lane={"enabled": True, "article": "48-1-2"})
    drive = Drive(appliance, plugin)
    drive.path(straight(0.95, 0.45, 15) + [(0.5 - 0.05 * i, 0.45 - 0.02 * i) for i in range(1, 8)])
    drive.end()
    (event,) = stored(tmp_path, "violation.wrong_lane")
    assert (event.data["lane"], event.data["movement"], event.data["allowed"]) == (1, "left", ["straight"])
    assert [ref.kind for ref in event.evidence] == ["frame_at_stop_line", "frame_at_exit"]


def test_a_track_that_coasted_hidden_in_a_queue_and_came_back_on_a_turning_vehicle_is_not_a_wrong_lane(tmp_path):
    """Track 7 waits in lane 1 (straight only), is hidden 4 s, and comes back on a vehicle
    already past the line turning left: its crossing was not seen, its lane is not that
    vehicle's. Track 8, missed by the detector for 0.2 s as it crosses, turns left from lane 1."""
    appliance, plugin = bench(tmp_path, wrong_lane={"enabled": True})
    queued = Drive(appliance, plugin)
    queued.path(straight(0.95, 0.6, 15) + [(0.5, 0.6)] * 10)
    for _ in range(100):
        queued.frame(0.5, 0.6, measured=False)
    queued.path([(0.3 - 0.02 * i, 0.4 - 0.01 * i) for i in range(8)])
    queued.end()
    turner = Drive(appliance, plugin)
    turner.index = queued.index
    turner.track = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    turner.path(straight(0.95, 0.55, 15))
    for _ in range(5):
        turner.frame(0.5, 0.52, measured=False)
    turner.path([(0.5, 0.48)] + [(0.5 - 0.05 * i, 0.45 - 0.02 * i) for i in range(1, 8)])
    turner.end()
    assert [(e.data["track_id"], e.data["lane"], e.data["movement"])
            for e in stored(tmp_path, "violation.wrong_lane")] == [(8, 1, "left")]


def test_standing_in_a_no_parking_zone_counts_and_a_queue_at_red_does_not(tmp_path):
    appliance, plugin = bench(tmp_path, illegal_parking={"enabled": True, "zones": ["kerb"], "max_stop_s": 2})
    drive = Drive(appliance, plugin, initial="red")
    drive.path([(0.92, 0.95 - 0.02 * i) for i in range(5)] + [(0.92, 0.85)] * 80)   # 3.2 s at the kerb
    drive.end()
    (event,) = stored(tmp_path, "violation.illegal_parking")
    assert event.data["zone"] == "kerb" and event.data["stood_s"] > 2
    appliance2, plugin2 = bench(tmp_path / "queue", illegal_parking={"enabled": True, "zones": ["kerb"],
                                                                     "max_stop_s": 2, "cameras": ["cam"]})
    queue = Drive(appliance2, plugin2, initial="red")
    queue.path([(0.8, 0.95 - 0.02 * i) for i in range(5)] + [(0.8, 0.85)] * 80)  # in lane 1 at red: a queue
    queue.end()
    assert not stored(tmp_path / "queue", "violation.illegal_parking")


@pytest.mark.parametrize("change, where", [
    ({"zones": [{"name": "z", "polygon": [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]}]},
     "fences.cameras[0].zones[0].polygon"),
    ({"lines": [{"name": "stop", "points": [[0.1, 0.5], [1.2, 0.5]]}]}, "fences.cameras[0].lines[0].points"),
    ({"stop_line": "nowhere"}, "fences.cameras[0]"),
])
def test_a_fence_outside_the_frame_or_crossing_itself_is_a_config_error_naming_its_field(tmp_path, change, where):
    section = fences()
    section["cameras"][0].update(change)
    data = site_data(tmp_path, cameras=[{"name": "cam", "source": {"type": "opencv", "url": "x.mp4"}}],
                     signals=SIGNALS, fences=section)
    with pytest.raises(ConfigError) as caught:
        site_from_data(data)
    assert any(f": {where}:" in problem for problem in caught.value.problems), caught.value.problems


def test_a_lane_head_the_site_does_not_have_is_a_config_error(tmp_path):
    data = site_data(tmp_path, cameras=[{"name": "cam", "source": {"type": "opencv", "url": "x.mp4"}}],
                     fences=fences())
    with pytest.raises(ConfigError) as caught:
        site_from_data(data)
    assert any("fences.cameras[0].lanes[0]: no signal head named 'main'" in p for p in caught.value.problems)


def test_fence_preview_draws_the_fences_into_a_png(tmp_path):
    import cv2
    import yaml

    from roadcam.appliance.cli import main

    data = site_data(tmp_path, cameras=[{"name": "cam", "source": {"type": "opencv", "url": "x.mp4"}}],
                     signals=SIGNALS, fences=fences())
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(data))
    snapshot = np.full((H, W, 3), 50, np.uint8)
    cv2.imwrite(str(tmp_path / "snap.png"), snapshot)
    out = tmp_path / "preview.png"
    assert main(["fence", "preview", "--config", str(tmp_path / "site.yaml"), "--image", str(tmp_path / "snap.png"),
                 "--out", str(out)]) == 0
    drawn = cv2.imread(str(out))
    assert drawn.shape == snapshot.shape
    assert (drawn != snapshot).any(axis=2).mean() > 0.1   # lanes, zones and lines cover part of it
    assert main(["fence", "preview", "--config", str(tmp_path / "site.yaml"), "--camera", "other",
                 "--out", str(out)]) == 2


def test_a_front_over_the_line_on_red_standing_there_is_an_overrun_not_a_red_light_violation(tmp_path):
    appliance, plugin = bench(tmp_path, calibrated=True, stop_line={"enabled": True, "stand_s": 1.0})
    drive = Drive(appliance, plugin, initial="red")
    # rear (the box's bottom) stops 8 px = 2 m before the line: a car's front is 2.5 m over it
    drive.path(straight(0.95, 0.5 + 8 / H, 30) + [(0.5, 0.5 + 8 / H)] * 40)
    drive.lamp("green")
    drive.path(straight(0.5 + 8 / H, 0.1, 30))   # goes on at green
    drive.end()
    (event,) = stored(tmp_path, "violation.stop_line")
    assert (event.data["head"], event.data["lane"], event.data["over_m"]) == ("main", 1, pytest.approx(2.5, abs=0.3))
    assert [ref.kind for ref in event.evidence] == ["frame_before", "frame_standing"]
    assert not stored(tmp_path, "violation.red_light")


def test_a_car_standing_past_the_line_on_red_that_then_drives_on_on_red_is_no_overrun(tmp_path):
    """Its front 2.5 m over the line, it stands there on red (people on the crosswalk ahead),
    then drives on through while still red: it ran the red, it did not overrun the line."""
    appliance, plugin = bench(tmp_path, calibrated=True, stop_line={"enabled": True, "stand_s": 1.0})
    drive = Drive(appliance, plugin, initial="red")
    drive.path(straight(0.95, 0.5 + 8 / H, 30) + [(0.5, 0.5 + 8 / H)] * 40)
    drive.path(straight(0.5 + 8 / H, 0.1, 30))   # goes on, the head still red
    drive.end()
    assert not stored(tmp_path, "violation.stop_line")


def test_judged_by_its_front_a_car_whose_front_crossed_before_red_is_not_a_violation(tmp_path):
    appliance, plugin = bench(tmp_path, calibrated=True)
    drive = Drive(appliance, plugin)
    drive.path(straight(0.95, 0.7, 20))
    drive.lamp("amber")
    drive.path(straight(0.69, 0.56, 10))     # front (4.5 m = 18 px ahead of the rear) over the line
    drive.lamp("red")
    drive.path(straight(0.55, 0.1, 30))      # the rear crosses on red: not running the red
    drive.end()
    assert not stored(tmp_path, "violation.red_light")


def test_pedestrians_and_estimated_boxes_are_not_placed(tmp_path):
    appliance, plugin = bench(tmp_path)
    walker = Drive(appliance, plugin, initial="red")
    walker.track.kind_votes = {"pedestrian": 1.0}
    walker.path(straight(0.95, 0.1, 20))
    walker.end()
    hidden = Drive(appliance, plugin, initial="red")
    hidden.track = Track(id=9, camera="cam", kind_votes={"car": 1.0})
    hidden.path([(0.5, 0.6)] * 5)
    for index in range(10):   # the tracker carries a hidden queued car forward over the line
        hidden.frame(0.5, 0.58 - 0.05 * index, measured=False)
    hidden.end()
    assert not stored(tmp_path, "violation.red_light")


def test_a_scooter_held_in_a_car_only_lane_is_a_lane_class_violation_and_a_car_is_not(tmp_path):
    appliance, plugin = bench(tmp_path, lane_class={"enabled": True, "min_s": 0.5})
    plugin.config.cameras[0].lanes[0].classes[:] = ["car", "truck", "bus"]
    scooter = Drive(appliance, plugin)
    scooter.track.kind_votes = {"scooter": 1.0}
    scooter.path(straight(0.95, 0.6, 30))
    scooter.end()
    car = Drive(appliance, plugin)
    car.track = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    car.path(straight(0.95, 0.6, 30))
    car.end()
    (event,) = stored(tmp_path, "violation.lane_class")
    assert (event.data["track_id"], event.data["vehicle_kind"], event.data["allowed"]) == (7, "scooter",
                                                                                         ["car", "truck", "bus"])


@pytest.mark.parametrize("window, reported", [({"days": ["fri"], "start": "16:00", "end": "17:00"}, 1),
                                               ({"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}, 0),
                                               ({"days": ["thu"], "start": "22:00", "end": "06:00"}, 0)])
def test_entering_a_restricted_zone_counts_only_inside_its_time_window(tmp_path, window, reported):
    # T0 is 2027-01-15 08:00 UTC, a Friday: 16:00 in Taiwan (utc_offset_h 8)
    appliance, plugin = bench(tmp_path, restricted={"enabled": True, "zones": ["kerb"], "classes": ["truck"],
                                                    "windows": [window]})
    truck = Drive(appliance, plugin)
    truck.track.kind_votes = {"truck": 1.0}
    truck.path([(0.92, 0.95 - 0.01 * i) for i in range(10)])
    truck.end()
    assert len(stored(tmp_path, "violation.restricted")) == reported


def test_crossing_a_solid_line_either_way_is_a_violation_once_per_line(tmp_path):
    appliance, plugin = bench(tmp_path, lines=[{"name": "centre", "points": [[0.6, 0.95], [0.6, 0.55]]}],
                              solid_line={"enabled": True, "lines": ["centre"]})
    weaver = Drive(appliance, plugin)
    weaver.path([(0.5 + 0.01 * i, 0.9 - 0.005 * i) for i in range(20)]          # over to the right
                + [(0.69 - 0.01 * i, 0.8 - 0.005 * i) for i in range(20)])      # and back
    weaver.end()
    events = stored(tmp_path, "violation.solid_line")
    assert [(e.data["line"], e.data["direction"]) for e in events] == [("centre", "back")]
    assert [ref.kind for ref in events[0].evidence] == ["frame_before", "frame_after"]


def test_a_box_cut_by_the_picture_edge_crosses_no_line_while_it_grows_into_view(tmp_path):
    appliance, plugin = bench(tmp_path, lines=[{"name": "centre", "points": [[0.9, 0.95], [0.9, 0.55]]}],
                              solid_line={"enabled": True, "lines": ["centre"]})
    bus = Drive(appliance, plugin)
    for step in range(12):  # coming in at the right edge: the cut box's bottom centre slides from 0.98 to 0.81
        bus.frame(0, 0, box=(W - 12 - 10 * step, 0.85 * H - 40, W, 0.85 * H))
    bus.path([(0.78, 0.85 - 0.01 * i) for i in range(10)])  # whole in view, straight on in its lane
    bus.end()
    assert stored(tmp_path, "violation.solid_line") == []


@pytest.mark.parametrize("measured_between", [0, 10])
def test_a_track_jumping_to_a_neighbour_across_a_solid_line_did_not_cross_it(tmp_path, measured_between):
    """A car's track, driving up its lane left of the line, takes the box of a bigger vehicle in
    the next lane: at once, or after coasting unmeasured for a while. Its bottom centre 'crossed'
    the line in the jump; the car did not."""
    appliance, plugin = bench(tmp_path, lines=[{"name": "centre", "points": [[0.6, 0.95], [0.6, 0.55]]}],
                              solid_line={"enabled": True, "lines": ["centre"]})
    drive = Drive(appliance, plugin)
    drive.path([(0.5, 0.9 - 0.005 * i) for i in range(15)])
    for i in range(measured_between):
        drive.frame(0.5, 0.825 - 0.005 * i, measured=False)
    for i in range(15):
        y = (0.82 - 0.005 * (measured_between + i)) * H
        drive.frame(0, 0, box=(0.7 * W - 25, y - 30, 0.7 * W + 25, y))
    drive.end()
    assert stored(tmp_path, "violation.solid_line") == []


def test_a_box_wobbling_over_a_solid_line_it_drives_along_did_not_cross_it(tmp_path):
    """A vehicle driving along the line, its box's bottom centre a few pixels either side of it
    frame after frame, never stayed over it."""
    appliance, plugin = bench(tmp_path, lines=[{"name": "centre", "points": [[0.6, 0.95], [0.6, 0.55]]}],
                              solid_line={"enabled": True, "lines": ["centre"]})
    drive = Drive(appliance, plugin)
    drive.path([(0.6 + (0.004 if (i // 3) % 2 else -0.004), 0.9 - 0.005 * i) for i in range(60)])
    drive.end()
    assert stored(tmp_path, "violation.solid_line") == []


def test_a_car_standing_in_the_scooter_box_is_a_violation_and_a_scooter_there_is_not(tmp_path):
    appliance, plugin = bench(tmp_path, scooter_box={"enabled": True, "zones": ["kerb"], "max_stop_s": 1})
    for track_id, kind in ((7, "scooter"), (8, "car")):
        drive = Drive(appliance, plugin, initial="red")
        drive.track = Track(id=track_id, camera="cam", kind_votes={kind: 1.0})
        drive.path([(0.92, 0.95 - 0.02 * i) for i in range(5)] + [(0.92, 0.85)] * 60)
        drive.end()
    (event,) = stored(tmp_path, "violation.scooter_box")
    assert (event.data["track_id"], event.data["vehicle_kind"]) == (8, "car")


def crosswalk_with_pedestrian(tmp_path, person_x: float) -> Drive:
    """A bench with a crosswalk across the picture above the stop line and fail_to_yield on, and
    a pedestrian standing on it at ``person_x``; returns the drive of the vehicle to judge."""
    crosswalk = {"name": "crosswalk", "polygon": [[0.0, 0.4], [1.0, 0.4], [1.0, 0.48], [0.0, 0.48]]}
    appliance, plugin = bench(tmp_path, calibrated=True, fail_to_yield={"enabled": True, "crosswalk": "crosswalk"},
                              zones=fences()["cameras"][0]["zones"] + [crosswalk])
    drive = Drive(appliance, plugin)
    person = Track(id=50, camera="cam", kind_votes={"pedestrian": 1.0})
    drive.standing.append((person, (person_x * W - 4, 0.44 * H - 20, person_x * W + 4, 0.44 * H)))
    return drive


@pytest.mark.parametrize("person_x, reported", [(0.55, 1), (0.95, 0)])
def test_entering_the_crosswalk_with_a_pedestrian_near_its_path_is_failing_to_yield(tmp_path, person_x, reported):
    drive = crosswalk_with_pedestrian(tmp_path, person_x)
    drive.path(straight(0.95, 0.2, 60))   # 45 m in 2.4 s
    drive.end()
    events = stored(tmp_path, "violation.fail_to_yield")
    assert len(events) == reported
    if reported:
        assert events[0].data["nearest_m"] == pytest.approx(1.6, abs=0.3)


def test_nothing_is_judged_while_the_camera_view_has_moved(tmp_path):
    appliance, plugin = bench(tmp_path)
    appliance.raise_fault("camera.view_changed", "cam", "moved")
    drive = Drive(appliance, plugin, initial="red")
    drive.path(straight(0.95, 0.1, 30))
    drive.end()
    assert not stored(tmp_path, "violation.red_light")
    appliance.clear_fault("camera.view_changed", "cam")
    again = Drive(appliance, plugin, initial="red")
    again.index = drive.index
    again.track = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    again.path(straight(0.95, 0.1, 30))
    again.end()
    assert [e.data["track_id"] for e in stored(tmp_path, "violation.red_light")] == [8]


def test_a_road_user_first_seen_at_the_stop_line_is_not_judged_but_one_from_the_approach_is(tmp_path):
    """Someone walking the crosswalk just past the line, taken for a scooter, crosses the stop
    line on paper and reaches the left exit: it never came up a lane, so it ran no red and
    turned from no lane. The same path begun up the approach is both violations."""
    appliance, plugin = bench(tmp_path, calibrated=True, wrong_lane={"enabled": True})
    walker = Drive(appliance, plugin, initial="red")
    walker.track.kind_votes = {"scooter": 1.0}
    start = 0.5 + 4 / H   # 1 m before the line
    walker.path([(0.5, start - 0.005 * i) for i in range(12)] + [(0.5 - 0.03 * i, 0.44 - 0.01 * i) for i in range(10)])
    walker.end()
    assert not stored(tmp_path, "violation.red_light") and not stored(tmp_path, "violation.wrong_lane")
    runner = Drive(appliance, plugin, initial="red")
    runner.index = walker.index
    runner.track = Track(id=8, camera="cam", kind_votes={"scooter": 1.0})
    runner.path(straight(0.95, start, 20) + [(0.5, start - 0.005 * i) for i in range(12)]
                + [(0.5 - 0.03 * i, 0.44 - 0.01 * i) for i in range(10)])
    runner.end()
    assert [e.data["track_id"] for e in stored(tmp_path, "violation.red_light")] == [8]
    assert [e.data["track_id"] for e in stored(tmp_path, "violation.wrong_lane")] == [8]


def test_with_calibration_a_turn_seen_past_the_line_counts_though_the_track_ends_before_the_exit(tmp_path):
    """A track lost mid-turn (far exits, a new identity) still shows the turn: its heading past
    the stop line, held for several frames, points at the left exit. A vehicle drifting a little
    sideways as it goes straight on does not turn."""
    appliance, plugin = bench(tmp_path, calibrated=True, wrong_lane={"enabled": True})
    turner = Drive(appliance, plugin)
    turner.path(straight(0.95, 0.45, 60) + [(0.5 - 0.008 * i, 0.45 - 0.0016 * i) for i in range(1, 26)])
    turner.end()   # last seen at (0.3, 0.41): never inside exit-left (y < 0.4)
    drifter = Drive(appliance, plugin)
    drifter.index = turner.index
    drifter.track = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    drifter.path(straight(0.95, 0.45, 60) + [(0.5 - 0.002 * i, 0.45 - 0.008 * i) for i in range(1, 30)])
    drifter.end()
    (event,) = stored(tmp_path, "violation.wrong_lane")
    assert (event.data["track_id"], event.data["movement"]) == (7, "left")
    assert [ref.kind for ref in event.evidence] == ["frame_at_stop_line", "frame_at_exit"]


def test_a_queued_box_creeping_over_the_line_on_red_and_leaving_on_green_did_not_run_the_red(tmp_path):
    """A scooter stands 1 m before the line through the red while its detected box's bottom
    creeps 2 m over it (someone walking in front); it drives on only at green."""
    appliance, plugin = bench(tmp_path, calibrated=True)
    drive = Drive(appliance, plugin, initial="red")
    drive.track.kind_votes = {"scooter": 1.0}
    stand = 0.5 + 4 / H
    drive.path(straight(0.95, stand, 40) + [(0.5, stand - 12 / H * i / 30) for i in range(31)]
               + [(0.5, stand - 12 / H)] * 20)
    drive.lamp("green")
    drive.path(straight(stand - 12 / H, 0.1, 20))
    drive.end()
    assert not stored(tmp_path, "violation.red_light")


def test_a_track_that_coasted_hidden_and_came_back_past_the_line_did_not_cross_it_on_red(tmp_path):
    appliance, plugin = bench(tmp_path, calibrated=True)
    drive = Drive(appliance, plugin, initial="red")
    drive.path(straight(0.95, 0.5 + 24 / H, 40) + [(0.5, 0.5 + 24 / H)] * 10)   # queued 6 m before the line
    for _ in range(30):   # hidden 1.2 s: the tracker's estimates are not placed
        drive.frame(0.5, 0.5 + 24 / H, measured=False)
    drive.path(straight(0.5 - 8 / H, 0.1, 20))   # back on someone 2 m past the line, driving on
    drive.end()
    assert not stored(tmp_path, "violation.red_light")


def test_a_queued_scooter_whose_track_came_back_past_the_line_after_a_coast_did_not_run_the_red(tmp_path):
    """Scooter 7 queues on red with its front 0.4 m over the line; its track coasts unmeasured
    0.8 s and comes back on someone 1 m past the line who drives on: the scooter's own crossing
    was not seen (tuning fence_rush 2405 track 73). Scooter 8, missed for 0.2 s while it crosses,
    ran the red."""
    appliance, plugin = bench(tmp_path, calibrated=True)
    queued = Drive(appliance, plugin, initial="red")
    queued.track.kind_votes = {"scooter": 1.0}
    stand = 0.5 + 6 / H   # rear 1.5 m before the line: a scooter's front 0.4 m over it
    queued.path(straight(0.95, stand, 40) + [(0.5, stand)] * 10)
    for _ in range(20):
        queued.frame(0.5, stand, measured=False)
    queued.path(straight(0.5 - 4 / H, 0.1, 20))
    queued.end()
    runner = Drive(appliance, plugin, initial="red")
    runner.index = queued.index
    runner.track = Track(id=8, camera="cam", kind_votes={"scooter": 1.0})
    for x, y in straight(0.95, 0.1, 60):
        runner.frame(x, y, measured=not 0.46 < y < 0.53)
    runner.end()
    assert [event.data["track_id"] for event in stored(tmp_path, "violation.red_light")] == [8]


def test_a_car_that_stood_over_the_line_on_red_and_then_drove_on_on_red_ran_the_red(tmp_path):
    """A car's front goes 1.5 m over the line on red; it stands there 10 s, then drives on
    through the junction with the head still red: a red-light runner, however long it waited."""
    appliance, plugin = bench(tmp_path, calibrated=True)
    drive = Drive(appliance, plugin, initial="red")
    stand = 0.5 + 12 / H   # rear 3 m before the line: a car's front 1.5 m over it
    drive.path(straight(0.95, stand, 40) + [(0.5, stand)] * 250)
    drive.path(straight(stand, 0.1, 20))
    drive.end()
    (event,) = stored(tmp_path, "violation.red_light")
    assert event.data["phase"] == "red"


def test_a_vehicle_waiting_at_the_crosswalk_whose_box_creeps_in_did_not_fail_to_yield(tmp_path):
    """People walking in front hide the bottom of a waiting car's box, which creeps up the
    picture: its front seems to inch into the crosswalk, slower than any vehicle driving in."""
    drive = crosswalk_with_pedestrian(tmp_path, 0.55)
    drive.path(straight(0.95, 0.57, 60) + [(0.5, 0.57)] * 25 + [(0.5, 0.57 - 0.025 * i / 50) for i in range(51)]
               + [(0.5, 0.545)] * 100)
    drive.end()
    assert not stored(tmp_path, "violation.fail_to_yield")


def test_a_queued_car_whose_box_bottom_the_car_behind_hides_is_no_stop_line_overrun(tmp_path):
    """A car waits with its front 0.5 m before the line; the car behind pulls up and hides the
    bottom of its box, whose visible part ends 2 m further up the road: its front, placed from
    that bottom, seems to go 1.5 m over the line while it stands on red."""
    appliance, plugin = bench(tmp_path, calibrated=True, stop_line={"enabled": True, "stand_s": 1.0})
    drive = Drive(appliance, plugin, initial="red")
    stand = 0.5 + 20 / H   # rear 5 m before the line: a car's front 0.5 m before it
    drive.path(straight(0.95, stand, 30) + [(0.5, stand)] * 10)
    behind = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    drive.standing.append((behind, (0.5 * W - 16, stand * H - 6, 0.5 * W + 16, stand * H + 24)))
    for step in range(1, 21):   # what is left in view of its box ends higher and higher up the picture
        bottom = stand * H - 8 * step / 20
        drive.frame(0.5, 0, box=(0.5 * W - 15, bottom - 20 + 8 * step / 20, 0.5 * W + 15, bottom))
    for _ in range(60):
        drive.frame(0.5, 0, box=(0.5 * W - 15, stand * H - 20, 0.5 * W + 15, stand * H - 8))
    drive.lamp("green")
    drive.path(straight(stand - 8 / H, 0.1, 20))
    drive.end()
    assert not stored(tmp_path, "violation.stop_line")


def test_a_front_placed_a_little_over_the_line_by_a_jittery_box_is_within_the_margin(tmp_path):
    """A car stops with its front at the line; its box's bottom jitters by a pixel (0.25 m), so
    its front is placed up to 0.25 m over the line: less than ``margin_m`` (0.5 m), no overrun."""
    appliance, plugin = bench(tmp_path, calibrated=True, stop_line={"enabled": True, "stand_s": 1.0})
    drive = Drive(appliance, plugin, initial="red")
    stand = 0.5 + 18 / H   # rear 4.5 m before the line: a car's front at it
    drive.path(straight(0.95, stand, 30) + [(0.5, stand - (index % 2) / H) for index in range(60)])
    drive.lamp("green")
    drive.path(straight(stand, 0.1, 20))
    drive.end()
    assert not stored(tmp_path, "violation.stop_line")


def test_a_queued_car_whose_box_a_nearer_vehicle_cuts_short_did_not_enter_the_crosswalk(tmp_path):
    """A car waits at the stop line while someone walks in front; a vehicle pulling up beside and
    behind it hides the bottom of its box, which now ends 4 m further up the road: on paper its
    front jumps into the crosswalk at speed. It is not judged from such a frame."""
    drive = crosswalk_with_pedestrian(tmp_path, 0.55)
    stand = 0.5 + 20 / H   # rear 5 m before the line: a car's front 0.5 m before it
    drive.path(straight(0.95, stand, 40) + [(0.5, stand)] * 20)
    nearer = Track(id=8, camera="cam", kind_votes={"truck": 1.0})
    drive.standing.append((nearer, (0.5 * W - 20, stand * H - 17, 0.5 * W + 40, stand * H + 40)))
    for step in (1, 2, 3):
        drive.frame(0.5, stand - 16 / H * step / 3)
    drive.path([(0.5, stand - 16 / H)] * 40)
    drive.end()
    assert not stored(tmp_path, "violation.fail_to_yield")


def test_a_standing_scooter_whose_box_people_behind_it_cut_short_did_not_fail_to_yield(tmp_path):
    """A scooter waits with its front 0.5 m before the line while people walk across behind it;
    its box's bottom rises 2 m up the road in 0.4 s and stays there: its front seems to enter the
    crosswalk at 3.5 m/s from a standstill, faster than any vehicle starts."""
    drive = crosswalk_with_pedestrian(tmp_path, 0.55)
    drive.track = Track(id=7, camera="cam", kind_votes={"scooter": 1.0})
    stand = 0.5 + (0.5 + 1.9) * 4 / H   # rear 2.4 m before the line
    for x, y in straight(0.95, stand, 40) + [(0.5, stand)] * 30 + [(0.5, stand - 8 / H * i / 10) for i in
                                                                      range(1, 11)] + [(0.5, stand - 8 / H)] * 40:
        drive.frame(x, y, box=(x * W - 4, y * H - 14, x * W + 4, y * H))
    drive.end()
    assert not stored(tmp_path, "violation.fail_to_yield")


def test_a_track_walking_sideways_over_the_crosswalk_did_not_fail_to_yield_but_a_vehicle_driving_in_did(tmp_path):
    """A scooter's track, waiting at the line, takes the box of someone walking across the
    crosswalk and follows them sideways at 1.6 m/s next to another person: a person, not a
    vehicle entering. A car driving in beside the same person did fail to yield."""
    drive = crosswalk_with_pedestrian(tmp_path, 0.55)
    drive.track = Track(id=7, camera="cam", kind_votes={"scooter": 1.0})
    stand = 0.5 + (0.3 + 1.9) * 4 / H
    walk = [(0.45 + 0.64 / W * i, 0.46) for i in range(75)]   # 1.6 m/s across, 1.2 m short of the person
    for x, y in straight(0.95, stand, 40) + [(0.5, stand)] * 30 + walk:
        drive.frame(x, y, box=(x * W - 4, y * H - 16, x * W + 4, y * H))
    drive.end()
    assert not stored(tmp_path, "violation.fail_to_yield")
    car = Drive(drive.appliance, drive.plugin)
    car.index, car.standing = drive.index, drive.standing
    car.track = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    car.path(straight(0.95, 0.2, 60))
    car.end()
    assert [e.data["track_id"] for e in stored(tmp_path, "violation.fail_to_yield")] == [8]


def test_a_second_box_on_part_of_a_vehicle_in_a_restricted_zone_is_not_a_second_violation(tmp_path):
    """The detector puts a second box, taken for a scooter, on the upper part of a car turning
    into the closed street, and the tracker follows it too: one vehicle, one violation. A
    scooter of its own beside the car is reported."""
    appliance, plugin = bench(tmp_path, restricted={"enabled": True, "zones": ["kerb"], "classes": ["car", "scooter"]})
    car = Drive(appliance, plugin)
    part = Track(id=8, camera="cam", kind_votes={"scooter": 1.0})
    beside = Track(id=9, camera="cam", kind_votes={"scooter": 1.0})
    car.standing += [(part, ()), (beside, ())]
    for index in range(12):
        x, y = 0.92 * W, (0.95 - 0.01 * index) * H
        car.standing[0] = (part, (x - 10, y - 20, x + 5, y - 6))
        car.standing[1] = (beside, (x + 16, y - 20, x + 23, y - 2))   # clear of the picture's edge
        car.frame(0.92, 0.95 - 0.01 * index)
    car.end()
    assert sorted(e.data["track_id"] for e in stored(tmp_path, "violation.restricted")) == [7, 9]


def test_a_track_jumping_from_a_queued_car_into_the_crosswalk_did_not_fail_to_yield(tmp_path):
    """A track on a car waiting at the line while someone walks in front takes a box 4 m on in
    one frame (another road user): 8 m/s on paper from a standstill. No vehicle speeds up so
    fast; it is not judged from such a frame."""
    drive = crosswalk_with_pedestrian(tmp_path, 0.55)
    stand = 0.5 + 20 / H
    drive.path(straight(0.95, stand, 40) + [(0.5, stand)] * 30 + [(0.5, stand - 16 / H)] * 40)
    drive.end()
    assert not stored(tmp_path, "violation.fail_to_yield")


def test_a_reported_vehicle_found_again_under_a_new_track_is_not_reported_again(tmp_path):
    """A scooter on the sidewalk is reported; its track is lost where it stands and a new track
    takes it up there a second later: the same scooter. Another scooter coming onto the
    sidewalk meanwhile is reported."""
    appliance, plugin = bench(tmp_path, restricted={"enabled": True, "zones": ["kerb"], "classes": ["scooter"]})
    index = 0
    for track_id, path in ((7, [(0.92, 0.95 - 0.01 * i) for i in range(12)]), (8, [(0.92, 0.84)] * 12),
                           (9, [(0.94, 0.99 - 0.01 * i) for i in range(12)])):   # its box inside the picture
        drive = Drive(appliance, plugin)
        drive.index = index + 25   # a second between tracks
        drive.track = Track(id=track_id, camera="cam", kind_votes={"scooter": 1.0})
        drive.path(path)
        drive.appliance.submit(plugin.roadcam_track_finished(drive.track))
        index = drive.index
    drive.end()
    assert sorted(e.data["track_id"] for e in stored(tmp_path, "violation.restricted")) == [7, 9]


def test_a_box_on_the_lower_part_of_a_reported_scooter_is_not_a_second_violation(tmp_path):
    """Close to the camera the detector also boxes a sidewalk scooter's lower part, and the
    tracker follows that box too; it overlaps the scooter's own box by 0.4 of its area: the
    same vehicle. A scooter beside it, its box apart, is reported."""
    appliance, plugin = bench(tmp_path, restricted={"enabled": True, "zones": ["kerb"], "classes": ["scooter"]})
    scooter = Drive(appliance, plugin)
    scooter.track.kind_votes = {"scooter": 1.0}
    part = Track(id=8, camera="cam", kind_votes={"scooter": 1.0})
    beside = Track(id=9, camera="cam", kind_votes={"scooter": 1.0})
    scooter.standing += [(part, ()), (beside, ())]
    for index in range(12):
        x, y = 0.92 * W, (0.9 - 0.01 * index) * H
        scooter.standing[0] = (part, (x - 10, y - 8, x + 10, y + 12))
        scooter.standing[1] = (beside, (x + 16, y - 20, x + 23, y - 2))   # clear of the picture's edge
        scooter.frame(0.92, 0.9 - 0.01 * index)
    scooter.end()
    assert sorted(e.data["track_id"] for e in stored(tmp_path, "violation.restricted")) == [7, 9]


def test_a_second_track_under_a_reported_one_not_seen_this_frame_is_not_a_second_violation(tmp_path):
    """The scooter's reported track misses a few detections while a second track starts on the
    same scooter: compared with the reported track's box of a frame before, it is that scooter."""
    appliance, plugin = bench(tmp_path, restricted={"enabled": True, "zones": ["kerb"], "classes": ["scooter"]})
    scooter = Drive(appliance, plugin)
    scooter.track.kind_votes = {"scooter": 1.0}
    scooter.path([(0.92, 0.9 - 0.01 * i) for i in range(8)])
    second = Track(id=8, camera="cam", kind_votes={"scooter": 1.0})
    scooter.standing.append((second, (0.92 * W - 14, 0.81 * H - 20, 0.92 * W + 14, 0.81 * H)))
    for _ in range(3):
        scooter.frame(0.92, 0.81, measured=False)
    scooter.end()
    assert [e.data["track_id"] for e in stored(tmp_path, "violation.restricted")] == [7]


def test_a_reported_vehicle_found_again_further_along_its_way_is_not_reported_again(tmp_path):
    """A truck (6 m/s) is reported, lost, and found again under a new track a second later, 6 m
    further along its way: the same truck. A scooter coming in 6 m behind where the truck was
    lost is another vehicle and is reported."""
    appliance, plugin = bench(tmp_path, calibrated=True,
                              restricted={"enabled": True, "zones": ["kerb"], "classes": ["truck", "scooter"]})
    index = 0
    per_frame = 0.24 * 4 / H   # 0.24 m a frame (6 m/s) up the picture, 4 px a metre
    for track_id, kind, (start, speed) in ((7, "truck", (0.9, per_frame)), (8, "truck", (0.76, per_frame)),
                                           (9, "scooter", (0.96, per_frame / 4))):
        drive = Drive(appliance, plugin)
        drive.index = index + 25   # a second between tracks
        drive.track = Track(id=track_id, camera="cam", kind_votes={kind: 1.0})
        drive.path([(0.92, start - speed * i) for i in range(10)])
        drive.appliance.submit(plugin.roadcam_track_finished(drive.track))
        index = drive.index
    drive.end()
    assert sorted(e.data["track_id"] for e in stored(tmp_path, "violation.restricted")) == [7, 9]


KERB_AND_SIDE = [{"name": "exit-left", "polygon": [[0.0, 0.0], [0.3, 0.0], [0.3, 0.4], [0.0, 0.4]]},
                 {"name": "kerb", "polygon": [[0.85, 0.6], [1.0, 0.6], [1.0, 1.0], [0.85, 1.0]]},
                 {"name": "side", "polygon": [[0.85, 0.3], [1.0, 0.3], [1.0, 0.6], [0.85, 0.6]]}]


def test_a_vehicle_reported_in_one_restricted_zone_is_not_reported_again_in_the_next(tmp_path):
    """A car turning into a closed side street cuts the sidewalk's corner: a second box on its
    upper part, taken for a scooter, is reported in the side street first, then the car's own
    track is confirmed on the sidewalk under it: one vehicle, one violation, of a car (the
    larger box's class). A scooter of its own beside the car on the sidewalk is reported."""
    appliance, plugin = bench(tmp_path, zones=KERB_AND_SIDE,
                              restricted={"enabled": True, "zones": ["kerb", "side"], "classes": ["car", "scooter"]})
    car = Drive(appliance, plugin)
    part = Track(id=8, camera="cam", kind_votes={"scooter": 1.0})
    beside = Track(id=9, camera="cam", kind_votes={"scooter": 1.0})
    car.standing += [(part, ()), (beside, ())]
    y = 0.65 * H
    for index in range(12):
        x = (0.80 + 0.01 * index) * W
        car.standing[0] = (part, (x, y - 40, x + 15, y - 20))          # bottom centre in the side street first
        car.standing[1] = (beside, (x + 20, y - 10, x + 28, y + 10))   # on the sidewalk, apart from the car
        car.frame(0.80 + 0.01 * index, 0.65, box=(x - 15, y - 40, x + 15, y))
    car.end()
    reports = stored(tmp_path, "violation.restricted")
    assert sorted((e.data["track_id"], e.data["vehicle_kind"]) for e in reports) == [(8, "car"), (9, "scooter")]


def test_a_reported_vehicle_taken_up_by_a_track_cut_by_the_picture_edge_is_not_reported_again(tmp_path):
    """A truck is reported on the sidewalk; its track then goes unmeasured (the tracker carries
    it on) while a new track takes the truck up as it leaves the picture into the side street,
    its box cut by the right edge: no second violation. A car that comes into the side street
    from the edge is reported once its whole box is there."""
    appliance, plugin = bench(tmp_path, zones=KERB_AND_SIDE,
                              restricted={"enabled": True, "zones": ["kerb", "side"], "classes": ["truck", "car"]})
    truck = Drive(appliance, plugin)
    truck.track.kind_votes = {"truck": 1.0}
    truck.path([(0.92, 0.95 - 0.02 * i) for i in range(10)])
    edge = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    car = Track(id=9, camera="cam", kind_votes={"car": 1.0})
    truck.standing.append((edge, ()))
    for index in range(10):
        truck.standing[0] = (edge, (W - 30 + index, 0.5 * H - 30, W, 0.5 * H))
        truck.frame(0.92, 0.75 - 0.02 * index, measured=False)
    truck.appliance.submit(plugin.roadcam_track_finished(edge))
    truck.standing[0] = (car, ())
    for index in range(12):
        x = W - 20 - 3 * index   # cut by the edge for its first frames, then whole
        truck.standing[0] = (car, (x, 0.45 * H - 20, min(x + 40, W), 0.45 * H))
        truck.frame(0.92, 0.55, measured=False)
    truck.end()
    assert [e.data["track_id"] for e in stored(tmp_path, "violation.restricted")] == [7, 9]
