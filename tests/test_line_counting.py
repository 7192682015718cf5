"""Counting lines (``count: true`` on a fences line) through a whole appliance run on a video
file: a generated clip with one vehicle driving each way across a vertical line."""

from __future__ import annotations

import cv2
import numpy as np
from appliances import build_appliance, run_for, site_data, stored
from gpiozero.pins.mock import MockFactory
from videos import write_video

from roadcam.appliance.clock import Clock
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.hal.base import Frame
from roadcam.hal.hardware import Hardware
from roadcam.plugins.fences.plugin import Fences

WIDTH, HEIGHT, FRAMES = 320, 240, 110


def two_way_traffic() -> list[np.ndarray]:
    """A textured road with a dark box driving right along the upper half (frames 0-69) and a
    light one driving left along the lower half (frames 40-109)."""
    rng = np.random.default_rng(11)
    background = rng.integers(90, 130, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = []
    for index in range(FRAMES):
        frame = background.copy()
        if index < 70:
            x = int(-40 + index * (WIDTH + 80) / 70)
            cv2.rectangle(frame, (x, 50), (x + 44, 90), (30, 30, 30), -1)
        if index >= 40:
            x = int(WIDTH + 40 - (index - 40) * (WIDTH + 80) / 70)
            cv2.rectangle(frame, (x - 44, 150), (x, 190), (220, 220, 220), -1)
        frames.append(frame)
    return frames


LINES = [{"name": "count", "points": [[0.5, 0.02], [0.5, 0.98]], "count": True},
         {"name": "plain", "points": [[0.3, 0.02], [0.3, 0.98]]}]


class FaultAtStart:
    """Raises a camera fault on the first frame, as the diagnostics plugin would."""

    def __init__(self, code: str):
        self.code = code

    @hookimpl
    def roadcam_configure(self, appliance):
        self.appliance = appliance

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        if frame.index == 0:
            self.appliance.raise_fault(self.code, frame.camera, "test")
        return []


def directions(tmp_path, *plugins) -> list[str]:
    tmp_path.mkdir()
    video = write_video(tmp_path / "north.avi", two_way_traffic(), fps=25.0)
    appliance = build_appliance(tmp_path, plugins=plugins,
                                cameras=[{"name": "north", "source": {"type": "opencv", "url": str(video)}}],
                                fences={"cameras": [{"camera": "north", "lines": LINES}]})
    run_for(appliance)
    return sorted(event.data["direction"] for event in stored(tmp_path, "line.crossed"))


def test_a_video_file_lagging_the_wall_clock_still_counts_but_a_moved_view_counts_nothing(tmp_path):
    # a file analysed slower than it was recorded looks like a camera that stopped (no_frames)
    assert directions(tmp_path / "slow", FaultAtStart("camera.no_frames")) == ["back", "forward"]
    assert directions(tmp_path / "moved", FaultAtStart("camera.view_changed")) == []


def test_a_counting_line_stores_one_line_crossed_event_per_vehicle_with_its_direction(tmp_path):
    video = write_video(tmp_path / "north.avi", two_way_traffic(), fps=25.0)
    # walked top to bottom, the line's right-hand side is the picture's left: forward = rightwards
    appliance = build_appliance(tmp_path, cameras=[{"name": "north", "source": {"type": "opencv", "url": str(video)}}],
                                fences={"cameras": [{"camera": "north", "lines": LINES}]})
    run_for(appliance)
    crossed = stored(tmp_path, "line.crossed")
    got = sorted((event.data["line"], event.data["direction"], event.data["frame_index"] // 10) for event in crossed)
    # the box's centre reaches x = 160 at frame 33 (rightwards) and at frame 40 + 37 (leftwards)
    assert got == [("count", "back", 7), ("count", "forward", 3)]
    finished = {event.data["track_id"] for event in stored(tmp_path, "track.finished")}
    assert {event.data["track_id"] for event in crossed} <= finished
    assert len({event.data["track_id"] for event in crossed}) == 2
    (health,) = stored(tmp_path, "health")
    assert health.data["fences"]["crossings"] == {"north/count": {"forward": 1, "back": 1}}


def test_a_track_the_tracker_ended_as_a_duplicate_counts_nothing(tmp_path):
    """Two tracks on one car driving up over the line: the older one counts it, at its end."""
    data = site_data(tmp_path, cameras=[{"name": "cam", "source": {"type": "opencv", "url": str(tmp_path / "x.avi")}}],
                     fences={"cameras": [{"camera": "cam", "lines": [
                         {"name": "count", "points": [[0.02, 0.5], [0.98, 0.5]], "count": True}]}]})
    config, manager = site_from_data(data)
    clock = Clock()
    plugin = Fences(Appliance(config, manager, Hardware(config, clock, pin_factory=MockFactory()), clock),
                    config.section("fences"))
    older = Track(id=1, camera="cam", kind_votes={"car": 3.0, "truck": 1.0})
    newer = Track(id=2, camera="cam", kind_votes={"car": 1.0})
    image = np.full((HEIGHT, WIDTH, 3), 100, np.uint8)
    drafts = []
    for index in range(20):
        bottom = 0.9 - 0.04 * index
        box = (140.0, bottom * HEIGHT - 30, 180.0, bottom * HEIGHT)
        time_ns = 10**18 + index * 40_000_000
        for track in (older, newer):
            track.points.append(TrackPoint(index, time_ns, box, None, True))
        drafts += plugin.roadcam_analyze(frame=Frame("cam", index, time_ns, time_ns, image), tracks=[older, newer],
                                         signals={})
    assert drafts == []   # nothing until the tracks end
    newer.duplicate_of = older.id
    assert plugin.roadcam_track_finished(newer) == []
    (event,) = plugin.roadcam_track_finished(older)
    assert (event.type, event.data["direction"], event.data["track_id"], event.data["class"]) == (
        "line.crossed", "forward", 1, "car")
    assert event.data["frame_index"] == 10 and 10**18 + 9 * 40_000_000 < event.time_ns <= 10**18 + 10 * 40_000_000
