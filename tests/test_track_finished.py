"""``track.finished``: one event per road user, from ``roadcam run`` on a real video file.

The video is written with cv2.VideoWriter: a calibrated road (tests/synthetic.py) where a car and
then a bus drive towards the camera and out of the bottom of the picture. The appliance runs
with its shipped plugins (background subtraction, plate capture, diagnostics) as a technician
would run it (``roadcam run``), and the events are read back from its store.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from appliances import build_appliance, run_for, site_data, stored
from synthetic import FPS, LANES_M, POSE, Mover, render, textured_road
from videos import moving_box, write_video

from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.appliance.tracking.finished import finished_event, frame_edges

#: The video is written at half the synthetic scene's size, to keep the test quick.
SCALE = 0.5
WARMUP_FRAMES = 30
#: (mover, first second shown): a car from the far end at 15 m/s, a bus 2.5 s later at 14 m/s
#: (once the car is near enough not to hide it).
BUS_AFTER_S = 2.5
TRAFFIC = [(Mover(LANES_M[0], 0.0, 1.8, 4.5, 1.5, vy_mps=15.0, colour=(40, 40, 200)), 0.0),
           (Mover(LANES_M[1], 0.0, 2.5, 11.0, 3.2, vy_mps=14.0, colour=(200, 150, 40), start_s=BUS_AFTER_S),
            BUS_AFTER_S)]
SECONDS = 7.0


def road_video(path):
    """The scene as an MJPG file; returns its calibration (image and road points)."""
    background = textured_road()
    frames = []
    for index in range(WARMUP_FRAMES + int(SECONDS * FPS)):
        time_s = (index - WARMUP_FRAMES) / FPS
        shown = [mover for mover, first_s in TRAFFIC if index >= WARMUP_FRAMES and time_s >= first_s]
        frames.append(cv2.resize(render(background, shown, time_s), None, fx=SCALE, fy=SCALE,
                                 interpolation=cv2.INTER_AREA))
    write_video(path, frames, FPS)
    road = np.array([(x, y) for x in (0.0, 9.0) for y in (10.0, 25.0, 40.0, 55.0)])
    pixels, _ = POSE.project(np.column_stack([road, np.zeros(len(road))]))
    return {"image_points": (pixels * SCALE).round(1).tolist(), "road_points": road.tolist()}


def roadcam(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "roadcam.appliance.cli", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The track.finished events of one `roadcam run` over the video, and the run's stderr."""
    tmp_path = tmp_path_factory.mktemp("road")
    calibration = road_video(tmp_path / "road.avi")
    config = tmp_path / "site.yaml"
    camera = {"name": "north", "source": {"type": "opencv", "url": str(tmp_path / "road.avi")},
              "calibration": calibration}
    config.write_text(yaml.safe_dump(site_data(tmp_path, cameras=[camera])))
    run = roadcam("run", "--config", str(config))
    assert run.returncode == 0, run.stderr
    return [json.loads(event.model_dump_json()) for event in stored(tmp_path, "track.finished")], run.stderr


def test_one_track_finished_per_vehicle_with_its_class(finished):
    events, stderr = finished
    assert "Traceback" not in stderr
    assert [event["data"]["class"] for event in events] == ["car", "bus"]
    assert len({event["data"]["track_id"] for event in events}) == 2
    assert all(event["data"]["camera"] == "north" for event in events)


def test_entry_and_exit_on_the_road_plane_and_in_the_image(finished):
    events, _ = finished
    for event, lane_m in zip(events, LANES_M):
        assert abs(event["data"]["entry"]["road_xy"][0] - lane_m) < 1.0  # lanes are 3.5 m apart
        entry, exit_ = event["data"]["entry"], event["data"]["exit"]
        # driving towards the camera (road y grows) along its lane; the exit box is cut by the
        # frame's edge, which moves its ground point sideways
        assert entry["road_xy"][1] < 15.0 < 55.0 < exit_["road_xy"][1]
        assert abs(exit_["road_xy"][0] - entry["road_xy"][0]) < 2.0
        assert entry["edges"] == [] and "bottom" in exit_["edges"]  # came from the distance, left below
        assert entry["image_xy"][1] < exit_["image_xy"][1]
        for end in (entry, exit_):  # the ground contact point: the box's bottom centre
            x1, _, x2, y2 = end["box"]
            assert end["image_xy"] == pytest.approx([(x1 + x2) / 2, y2], abs=0.1)


def test_times_are_the_files_own_spacing(finished):
    """A file replays with its media time: the track's duration and the gap between the two
    vehicles' entries are the video's, however fast it was analysed."""
    events, _ = finished
    car, bus = (event["data"] for event in events)
    for data in (car, bus):
        frames = data["exit"]["frame_index"] - data["entry"]["frame_index"]
        assert data["duration_s"] == pytest.approx(frames / FPS, abs=0.002)
        assert events[[car, bus].index(data)]["time"] == data["exit"]["time"]
    gap_frames = bus["entry"]["frame_index"] - car["entry"]["frame_index"]
    assert BUS_AFTER_S * FPS - 6 <= gap_frames <= BUS_AFTER_S * FPS + 6
    # about 4 s through the view (the road's 57 m at 14-15 m/s)
    assert 3.0 < car["duration_s"] < 5.0 and 3.0 < bus["duration_s"] < 5.0


def test_a_duplicate_track_and_a_track_without_points_get_no_event():
    point = TrackPoint(3, 1_000_000_000, (10.0, 10.0, 20.0, 30.0), None)
    track = Track(id=4, camera="north", points=[point], kind_votes={"car": 2.0, "truck": 1.0}, confirmed=True)
    draft = finished_event(track, (640, 360))
    assert draft.type == "track.finished" and draft.data["class"] == "car"
    assert draft.data["class_share"] == pytest.approx(0.667)
    assert draft.data["entry"]["road_xy"] is None  # an uncalibrated camera: image points only
    track.duplicate_of = 2
    assert finished_event(track, (640, 360)) is None
    assert finished_event(Track(id=5, camera="north"), (640, 360)) is None


def test_frame_edges():
    assert frame_edges((0.0, 100.0, 50.0, 150.0), (640, 360)) == ["left"]
    assert frame_edges((300.0, 300.0, 400.0, 359.0), (640, 360)) == ["bottom"]
    assert frame_edges((1.0, 300.0, 400.0, 360.0), (640, 360)) == ["bottom", "left"]
    assert frame_edges((300.0, 100.0, 400.0, 200.0), (640, 360)) == []
    assert frame_edges((300.0, 100.0, 400.0, 200.0), None) is None


@pytest.mark.parametrize("enabled", [True, False])
def test_the_events_can_be_switched_off(tmp_path, enabled):
    path = write_video(tmp_path / "box.avi", moving_box(60), fps=25.0)
    appliance = build_appliance(tmp_path, cameras=[{"name": "north", "source": {"type": "opencv", "url": str(path)}}],
                                tracking={"finished_events": enabled})
    run_for(appliance)
    assert len(stored(tmp_path, "track.finished")) == (1 if enabled else 0)
