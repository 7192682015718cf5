"""Records waiting for a plate in the plugins that hold them (roadcam.appliance.plate_wait), on
unstarted bench appliances with the real SQLite store, their hooks driven frame by frame on a
ManualClock:

- a violation whose track the plugin stopped following (the fences blinded by a frozen camera,
  then the tracker losing the track; a speeding car's track lost right after the loops) still
  goes out ``plate_wait_s`` after the track ended, not at shutdown;
- a violation whose camera stops sending frames (no track of it ends) goes out on the plugin's
  ``roadcam_tick`` once the camera has been silent ``plate_wait_s`` + ``SILENT_S``, with no frame;
- what still waits when the appliance stops is stored then, with the plate where one was read;
- the plugin's health figures count the records waiting and how long the oldest has.
"""

from __future__ import annotations

import numpy as np
from appliances import site_data, stored, unstarted_appliance
from test_fences import CALIBRATION, FRAME_NS, T0, Drive, bench

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.events import EventDraft
from roadcam.appliance.plate_wait import SILENT_S
from roadcam.appliance.site import site_from_data
from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.hal.base import Frame
from roadcam.plugins.speed.plugin import SpotSpeed

S = 10**9
WAIT_NS = 3 * S  # the fences' and the speed section's default plate_wait_s


def plate_read(appliance, track_id: int, plate: str, time_ns: int) -> None:
    """Store plate_capture's read of a track, as the plugins hear of it (``roadcam_event``)."""
    appliance.submit([EventDraft("plate.read", {"camera": "cam", "track_id": track_id, "plate": plate,
                                                "confidence": 0.95}, time_ns)])


# -- fences --------------------------------------------------------------------------------------

class ClockedDrive(Drive):
    """The fences' Drive with the appliance's ManualClock kept at each frame's time."""

    def __init__(self, appliance, plugin, clock: ManualClock):
        super().__init__(appliance, plugin, initial="red")
        self.clock = clock

    def frame(self, x: float, y_bottom: float, measured: bool = True, box: tuple | None = None) -> None:
        self.clock.advance_to(self.now - T0)
        super().frame(x, y_bottom, measured, box)


def test_a_parked_car_lost_while_the_fences_are_blind_goes_out_plate_wait_s_after_its_track_ended(tmp_path):
    clock = ManualClock(T0)
    appliance, plugin = bench(tmp_path, clock=clock,
                              illegal_parking={"enabled": True, "zones": ["kerb"], "max_stop_s": 2})
    drive = ClockedDrive(appliance, plugin, clock)
    other = Track(id=8, camera="cam", kind_votes={"car": 1.0})
    drive.standing = [(other, (279.0, 136.0, 309.0, 156.0))]   # parked at the kerb from the first frame
    first_held_ns = None
    for x, y in [(0.92, 0.95 - 0.02 * i) for i in range(5)] + [(0.92, 0.85)] * 95:   # car 7 parks: 3.8 s there
        drive.frame(x, y)
        if first_held_ns is None and appliance.health()["fences"]["plate_waiting"]:
            first_held_ns = clock.mono_ns()   # car 8 has stood over max_stop_s: its violation is held
    assert not stored(tmp_path, "violation.illegal_parking")   # both violations wait: their tracks live
    health = appliance.health()["fences"]
    assert health["plate_waiting"] == 2 and health["plate_oldest_wait_s"] == (clock.mono_ns() - first_held_ns) / S > 0

    appliance.raise_fault("camera.frozen", "cam", "the picture stopped changing")  # the fences stop following
    drive.path([(0.92, 0.85)] * 5)
    appliance.submit(plugin.roadcam_track_finished(drive.track))   # the tracker loses car 7
    ended_ns = drive.track.last_ns
    drive.track = Track(id=9, camera="cam", kind_votes={"car": 1.0})
    while drive.now < ended_ns + WAIT_NS:
        drive.frame(0.92, 0.85)
        assert not stored(tmp_path, "violation.illegal_parking")   # it waits for car 7's plate
    drive.frame(0.92, 0.85)                                         # plate_wait_s after car 7's end
    [violation] = stored(tmp_path, "violation.illegal_parking")
    assert violation.data["track_id"] == 7 and "plate" not in violation.data   # no read came
    assert appliance.health()["fences"]["plate_waiting"] == 1                       # car 8's, still in view

    plate_read(appliance, 8, "PARK-8", drive.now)   # car 8's plate was read; its track never ends
    appliance.shutdown()
    events = stored(tmp_path, "violation.illegal_parking")
    assert [(e.data["track_id"], e.data.get("plate")) for e in events] == [(7, None), (8, "PARK-8")]


def ticks_until(appliance, plugin, clock: ManualClock, until_mono_ns: int, kind: str) -> None:
    """The appliance's ticks, once a second while no frame comes, up to just before ``until_mono_ns``:
    nothing of ``kind`` is stored on any of them."""
    while clock.mono_ns() + S < until_mono_ns:
        clock.advance(1.0)
        appliance.submit(plugin.roadcam_tick(now_ns=clock.wall_ns()))
        assert not stored(appliance.config.storage.database.parent, kind)


def test_a_violation_whose_camera_stops_sending_frames_goes_out_on_a_tick_after_the_silence_bound(tmp_path):
    clock = ManualClock(T0)
    appliance, plugin = bench(tmp_path, clock=clock,
                              illegal_parking={"enabled": True, "zones": ["kerb"], "max_stop_s": 2})
    drive = ClockedDrive(appliance, plugin, clock)
    drive.path([(0.92, 0.95 - 0.02 * i) for i in range(5)] + [(0.92, 0.85)] * 95)   # car 7 parks: 3.8 s there
    assert appliance.health()["fences"]["plate_waiting"] == 1   # its violation waits: its track lives
    last_frame_ns = clock.mono_ns()
    appliance.raise_fault("camera.no_frames", "cam", "no frame for 3 s")   # the camera dies: no track ends
    bound_ns = last_frame_ns + WAIT_NS + round(SILENT_S * S)
    ticks_until(appliance, plugin, clock, bound_ns, "violation.illegal_parking")
    clock.advance_to(bound_ns)
    appliance.submit(plugin.roadcam_tick(now_ns=clock.wall_ns()))
    [violation] = stored(tmp_path, "violation.illegal_parking")
    assert violation.data["track_id"] == 7 and "plate" not in violation.data   # no read came
    assert appliance.health()["fences"]["plate_waiting"] == 0
    appliance.shutdown()
    assert len(stored(tmp_path, "violation.illegal_parking")) == 1   # not stored again


# -- speed ---------------------------------------------------------------------------------------

KMH = 1 / 3.6
UP_M, DOWN_M, LOOP_M, SPACING_M, CAR_M = 10.0, 14.0, 2.0, 4.0, 4.0  # loops' near edges along the road


def speed_bench(tmp_path, clock: ManualClock):
    """An unstarted appliance with one calibrated camera and one loop pair it checks (limit 50 km/h),
    and its spot-speed plugin driven through the hooks."""
    loops = [{"name": "up", "pin": "GPIO5", "lane": 1, "length_m": LOOP_M},
             {"name": "down", "pin": "GPIO6", "lane": 1, "length_m": LOOP_M}]
    pair = {"name": "lane1", "upstream": "up", "downstream": "down", "spacing_m": SPACING_M,
            "camera_check": {"camera": "cam", "zone": [0.0, 4.0, UP_M - 1, DOWN_M + LOOP_M + 1]}}
    camera = {"name": "cam", "source": {"type": "opencv", "url": str(tmp_path / "x.mp4")}, "calibration": CALIBRATION}
    config, manager = site_from_data(site_data(tmp_path, cameras=[camera], loops=loops,
                                               speed={"limit_kmh": 50, "pairs": [pair]}))
    appliance = unstarted_appliance(config, manager, clock)
    meter = SpotSpeed(appliance, config.section("speed"))
    manager.register(meter, name="speed.spot")
    return appliance, meter


class Road:
    """Cars driving along lane 1 at constant speeds: the camera's frames (every 40 ms, each car's
    front as its track's road point) and the loops' edges reach the plugin in time order, with
    the appliance's ManualClock at each one's time; what the hooks return is stored."""

    def __init__(self, appliance, meter, clock: ManualClock):
        self.appliance, self.meter, self.clock = appliance, meter, clock
        self.index = 0
        self.cars: dict[int, tuple[Track, int, float]] = {}  # track id -> track, time its front is at 0 m, m/s
        self.edges: list[tuple[int, str, bool]] = []

    @property
    def now(self) -> int:
        return T0 + self.index * FRAME_NS

    def car(self, track_id: int, front_at_up_ns: int, kmh: float) -> None:
        """A car whose front reaches the upstream loop at ``front_at_up_ns``: its track and edges."""
        v = kmh * KMH
        at = front_at_up_ns - round(UP_M / v * S)
        self.cars[track_id] = (Track(id=track_id, camera="cam", kind_votes={"car": 1.0}), at, v)

        def when(front_m: float) -> int:
            return at + round(front_m / v * S)
        self.edges += [(when(UP_M), "up", True), (when(UP_M + LOOP_M + CAR_M), "up", False),
                       (when(DOWN_M), "down", True), (when(DOWN_M + LOOP_M + CAR_M), "down", False)]
        self.edges.sort()

    def lose(self, track_id: int) -> Track:
        """The tracker loses a car: its track ends at its last point."""
        track, _, _ = self.cars.pop(track_id)
        self.appliance.submit(self.meter.roadcam_track_finished(track))
        return track

    def frame(self) -> None:
        while self.edges and self.edges[0][0] <= self.now:
            time_ns, loop, occupied = self.edges.pop(0)
            self.clock.advance_to(time_ns - T0)
            self.appliance.submit(self.meter.roadcam_loop_changed(loop=loop, occupied=occupied, time_ns=time_ns))
        self.clock.advance_to(self.now - T0)
        for track, at, v in self.cars.values():
            front = (self.now - at) / S * v
            track.points.append(TrackPoint(self.index, self.now, (150.0, 100.0, 170.0, 120.0), (2.0, front), True))
        frame = Frame("cam", self.index, self.now, self.now, np.full((240, 320, 3), 100, np.uint8))
        tracks = [track for track, _, _ in self.cars.values()]
        self.appliance.submit(self.meter.roadcam_analyze(frame=frame, tracks=tracks))
        self.index += 1

    def until(self, time_ns: int) -> None:
        while self.now < time_ns:
            self.frame()


def test_a_speeding_car_whose_track_was_lost_goes_out_plate_wait_s_after_and_one_still_in_view_at_shutdown(tmp_path):
    clock = ManualClock(T0)
    appliance, meter = speed_bench(tmp_path, clock)
    road = Road(appliance, meter, clock)
    road.car(7, T0 + 1 * S, kmh=62.0)
    road.until(T0 + 1 * S + round((DOWN_M + LOOP_M + CAR_M - UP_M) / (62 * KMH) * S) + FRAME_NS)  # past the loops
    ended = road.lose(7)   # hidden behind a truck right after the loops: the tracker gives it up
    while not stored(tmp_path, "speed.spot"):   # the camera's check: its frames cover the fit window
        road.frame()
    [spot] = stored(tmp_path, "speed.spot")
    assert spot.data["speed_low_kmh"] > 50 and spot.data["camera_check"]["track"] == 7
    held_ns = road.now
    road.until(held_ns + 1 * S)
    assert appliance.health()["speed"]["plate_waiting"] == 1
    assert appliance.health()["speed"]["plate_oldest_wait_s"] == (road.now - held_ns) / S
    while road.now < ended.last_ns + WAIT_NS:
        assert not stored(tmp_path, "violation.speeding")   # it waits for track 7's plate
        road.frame()
    road.frame()
    [violation] = stored(tmp_path, "violation.speeding")
    assert violation.data["track_id"] == 7 and "plate" not in violation.data
    health = appliance.health()["speed"]
    assert (health["plate_waiting"], health["plate_oldest_wait_s"]) == (0, 0.0)

    road.car(8, road.now + 1 * S, kmh=70.0)   # its track still followed when the appliance stops
    while len(stored(tmp_path, "speed.spot")) < 2:
        road.frame()
    plate_read(appliance, 8, "FAST-8", road.now)
    assert appliance.health()["speed"]["plate_waiting"] == 1
    appliance.shutdown()
    events = stored(tmp_path, "violation.speeding")
    assert [(e.data["track_id"], e.data.get("plate")) for e in events] == [(7, None), (8, "FAST-8")]


def test_a_speeding_violation_whose_camera_stops_sending_frames_goes_out_on_a_tick_after_the_silence_bound(
        tmp_path):
    clock = ManualClock(T0)
    appliance, meter = speed_bench(tmp_path, clock)
    road = Road(appliance, meter, clock)
    road.car(7, T0 + 1 * S, kmh=62.0)
    while not stored(tmp_path, "speed.spot"):   # the camera's check: its frames cover the fit window
        road.frame()
    assert appliance.health()["speed"]["plate_waiting"] == 1   # the violation waits: track 7 lives
    last_frame_ns = clock.mono_ns()                            # the camera dies: no track ends
    bound_ns = last_frame_ns + WAIT_NS + round(SILENT_S * S)
    ticks_until(appliance, meter, clock, bound_ns, "violation.speeding")
    clock.advance_to(bound_ns)
    appliance.submit(meter.roadcam_tick(now_ns=clock.wall_ns()))
    [violation] = stored(tmp_path, "violation.speeding")
    assert violation.data["track_id"] == 7 and "plate" not in violation.data
    assert appliance.health()["speed"]["plate_waiting"] == 0
