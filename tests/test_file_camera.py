"""A video file as the camera of `roadcam run`: its pacing (``source.speed``) and its config checks."""

from __future__ import annotations

import re
import time

import pytest
import yaml
from appliances import build_appliance, run_for, site_data, stored
from videos import grey_ramp, write_video

from roadcam.appliance.clock import Clock
from roadcam.appliance.config import CameraConfig
from roadcam.appliance.site import load_site
from roadcam.common.errors import ConfigError
from roadcam.hal.camera import make_camera
from roadcam.hal.camera.opencv import OpenCVCamera
from roadcam.hal.pacing import PacedCamera

FPS = 25.0


def file_camera(path, **source) -> CameraConfig:
    return CameraConfig.model_validate({"name": "north", "source": {"type": "opencv", "url": str(path), **source}})


def read_all(camera) -> tuple[list, float]:
    """Every frame of an opened camera, and how long reading them took (wall seconds)."""
    camera.open()
    started = time.monotonic()
    frames = []
    while (frame := camera.read()) is not None:
        frames.append(frame)
    camera.close()
    return frames, time.monotonic() - started


def test_a_file_at_speed_4_arrives_no_faster_than_four_times_its_frame_rate(tmp_path):
    path = write_video(tmp_path / "ramp.avi", grey_ramp(6) * 4, fps=FPS)  # 24 frames, 0.96 s of video
    camera = make_camera(file_camera(path, speed=4.0), Clock())
    assert isinstance(camera, PacedCamera) and not camera.live
    frames, took_s = read_all(camera)
    assert len(frames) == 24
    assert took_s >= 23 / (FPS * 4) * 0.95
    # stamps stay the file's media time, whatever the pace
    assert (frames[-1].mono_ns - frames[0].mono_ns) / 1e9 == pytest.approx(23 / FPS, abs=0.002)


def test_a_file_without_speed_is_read_as_fast_as_it_is_taken(tmp_path):
    path = write_video(tmp_path / "ramp.avi", grey_ramp(6), fps=FPS)
    camera = make_camera(file_camera(path), Clock())
    assert isinstance(camera, OpenCVCamera)
    frames, _ = read_all(camera)
    assert [frame.index for frame in frames] == list(range(6))


def test_real_time_replay_through_the_appliance_drops_nothing(tmp_path):
    path = write_video(tmp_path / "ramp.avi", grey_ramp(6) * 3, fps=FPS)
    appliance = build_appliance(tmp_path, cameras=[{"name": "north",
                                                    "source": {"type": "opencv", "url": str(path), "speed": 1.0}}])
    started = time.monotonic()
    run_for(appliance)
    assert time.monotonic() - started >= 17 / FPS * 0.95
    (health,) = stored(tmp_path, "health")
    counts = health.data["cameras"]["north"]
    assert (counts["captured"], counts["processed"], counts["dropped"], counts["ended"]) == (18, 18, 0, True)


@pytest.mark.parametrize("url", ["rtsp://10.0.0.2/stream", "/dev/video0", "0"])
def test_speed_on_a_live_source_is_refused_with_its_line(tmp_path, url):
    config = tmp_path / "site.yaml"
    data = site_data(tmp_path, cameras=[{"name": "north", "source": {"type": "opencv", "url": url, "speed": 1}}])
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as refused:
        load_site(config)
    (problem,) = refused.value.problems
    assert re.search(r"site.yaml:\d+: cameras\[0\]\.source.*speed applies to video files only", problem)
