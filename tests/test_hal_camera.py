"""Camera backends: OpenCV on a real video file and unreachable sources; picamera2 without
picamera2 (and with a stand-in that behaves like its request API)."""

import concurrent.futures
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from videos import grey_ramp, write_video

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.config import CameraConfig, OpenCVSource, Picamera2Source
from roadcam.common.errors import BackendNotFound, CameraUnavailable
from roadcam.hal.camera import make_camera
from roadcam.hal.camera.opencv import FFMPEG_OPTIONS_VARIABLE, OpenCVCamera
from roadcam.hal.camera.picamera2 import Picamera2Camera

START_WALL_NS = 1_790_000_000 * 10**9
WIDTH, HEIGHT = 96, 64


def opencv_camera(url, clock=None, **source):
    return OpenCVCamera("north", OpenCVSource(type="opencv", url=str(url), **source),
                        clock or ManualClock(START_WALL_NS))


def test_video_file_reads_every_frame_in_order_with_media_time_stamps(tmp_path):
    video = write_video(tmp_path / "approach.avi", grey_ramp(5, WIDTH, HEIGHT), fps=10.0)
    clock = ManualClock(START_WALL_NS)
    clock.advance(3.0)
    with opencv_camera(video, clock) as camera:
        camera.open()
        assert camera.live is False
        assert camera.nominal_fps == pytest.approx(10.0)
        frames = [camera.read() for _ in range(5)]
        assert camera.read() is None
    assert [frame.index for frame in frames] == [0, 1, 2, 3, 4]
    assert all(frame.camera == "north" and frame.image.shape == (HEIGHT, WIDTH, 3)
               and frame.image.dtype == np.uint8 for frame in frames)
    assert [round(float(frame.image.mean()) / 40) for frame in frames] == [0, 1, 2, 3, 4]
    assert [frame.mono_ns for frame in frames] == [3_000_000_000 + i * 100_000_000 for i in range(5)]
    assert [frame.time_ns - frame.mono_ns for frame in frames] == [START_WALL_NS] * 5


def test_reopening_a_file_starts_again(tmp_path):
    camera = opencv_camera(write_video(tmp_path / "clip.avi", grey_ramp(2, WIDTH, HEIGHT), fps=5.0))
    camera.open()
    camera.read()
    camera.open()
    assert camera.read().index == 0
    camera.close()
    camera.close()


def test_missing_video_file_names_camera_and_path(tmp_path):
    camera = opencv_camera(tmp_path / "nope.avi")
    with pytest.raises(CameraUnavailable, match=r"camera 'north' .*video file .*nope\.avi not found"):
        camera.open()


def test_file_that_is_not_a_video(tmp_path):
    text = tmp_path / "notes.avi"
    text.write_text("not a video")
    with pytest.raises(CameraUnavailable, match=r"camera 'north' .*notes\.avi.*decode"):
        opencv_camera(text).open()


@pytest.mark.parametrize("url", ["/dev/video99", "99"])
def test_missing_video_device_says_what_to_check(url):
    with pytest.raises(CameraUnavailable) as raised:
        opencv_camera(url).open()
    message = str(raised.value)
    assert f"camera 'north' (source {url}): /dev/video99 does not exist" in message
    assert "USB cable" in message and "ls /dev/video*" in message


def test_unreachable_stream_fails_fast_over_tcp(monkeypatch):
    monkeypatch.delenv(FFMPEG_OPTIONS_VARIABLE, raising=False)
    camera = opencv_camera("rtsp://127.0.0.1:9/stream", timeout_s=1.0)
    assert camera.live is True
    with pytest.raises(CameraUnavailable, match=r"camera 'north' \(source rtsp://127\.0\.0\.1:9/stream\): "
                                                r"cannot open the stream within 1 s"):
        camera.open()
    assert os.environ[FFMPEG_OPTIONS_VARIABLE] == "rtsp_transport;tcp"


def test_read_before_open_is_an_error():
    with pytest.raises(CameraUnavailable, match="camera 'north' is not open"):
        opencv_camera("/tmp/x.avi").read()


def test_sim_source_outside_the_simulator():
    config = CameraConfig(name="sim-cam", source={"type": "sim"})
    with pytest.raises(CameraUnavailable, match=r"camera 'sim-cam' has source type sim, which only "
                                                r"works under `roadcam simulate`"):
        make_camera(config, ManualClock(START_WALL_NS))


def test_importing_the_picamera2_backend_does_not_import_picamera2():
    code = ("import sys; sys.modules['picamera2'] = None\n"  # any import of picamera2 now fails
            "import hal.camera.picamera2, hal.hardware\n"
            "print('loaded')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)), timeout=60)
    assert result.stdout.strip() == "loaded", result.stderr


def picamera2_source(**fields):
    return Picamera2Source(type="picamera2", width=WIDTH, height=HEIGHT, fps=30.0, **fields)


def test_missing_picamera2_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    camera = Picamera2Camera("pole-cam", picamera2_source(), ManualClock(START_WALL_NS))
    with pytest.raises(BackendNotFound) as raised:
        camera.open()
    message = str(raised.value)
    assert "camera 'pole-cam': picamera2 is not installed" in message
    assert "apt install python3-picamera2" in message


class FakeRequest:
    def __init__(self, metadata):
        self.metadata = metadata
        self.released = False

    def make_array(self, stream):
        assert stream == "main"
        return np.zeros((HEIGHT, WIDTH, 3), np.uint8)

    def get_metadata(self):
        return self.metadata

    def release(self):
        self.released = True


class FakeJob:
    def __init__(self, request):
        self.request = request

    def get_result(self, timeout):
        if self.request is None:
            raise concurrent.futures.TimeoutError()
        return self.request


class FakePicamera2:
    """Stands in for picamera2.Picamera2: records its configuration, hands out queued requests."""

    made = []

    def __init__(self, camera_num):
        self.camera_num = camera_num
        self.requests = []
        self.configuration = None
        self.running = False
        self.closed = False
        FakePicamera2.made.append(self)

    def create_video_configuration(self, **configuration):
        return configuration

    def configure(self, configuration):
        self.configuration = configuration

    def start(self):
        self.running = True

    def capture_request(self, wait):
        assert wait is False
        return FakeJob(self.requests.pop(0) if self.requests else None)

    def stop(self):
        self.running = False

    def close(self):
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch):
    FakePicamera2.made = []
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    return FakePicamera2


def test_picamera2_frames_are_stamped_from_the_sensor_timestamp(fake_picamera2):
    clock = ManualClock(START_WALL_NS)
    clock.advance(10.0)
    camera = Picamera2Camera("pole-cam", picamera2_source(index=1), clock, frame_timeout_s=0.1)
    camera.open()
    device = fake_picamera2.made[0]
    assert device.camera_num == 1 and device.running
    assert device.configuration == {"main": {"size": (WIDTH, HEIGHT), "format": "RGB888"},
                                    "controls": {"FrameRate": 30.0}}
    stamped, unstamped = FakeRequest({"SensorTimestamp": 9_987_654_321}), FakeRequest({})
    device.requests += [stamped, unstamped]
    first, second = camera.read(), camera.read()
    assert (first.index, first.mono_ns, first.time_ns) == (0, 9_987_654_321, START_WALL_NS + 9_987_654_321)
    assert (second.index, second.mono_ns) == (1, 10_000_000_000)
    assert first.image.shape == (HEIGHT, WIDTH, 3)
    assert stamped.released and unstamped.released
    with pytest.raises(CameraUnavailable, match=r"camera 'pole-cam' \(picamera2 camera 1\) "
                                                r"delivered no frame in 0.1 s"):
        camera.read()
    camera.close()
    camera.close()
    assert device.closed and not device.running


def test_picamera2_that_cannot_start_names_the_camera(fake_picamera2, monkeypatch):
    def no_camera(self, camera_num):
        raise RuntimeError("Camera __init__ sequence did not complete.")

    monkeypatch.setattr(fake_picamera2, "__init__", no_camera)
    camera = Picamera2Camera("pole-cam", picamera2_source(), ManualClock(START_WALL_NS))
    with pytest.raises(CameraUnavailable, match=r"camera 'pole-cam' \(picamera2 camera 0\): cannot "
                                                r"start: Camera __init__ .*ribbon cable"):
        camera.open()
