"""Raspberry Pi camera backend (CSI cameras through libcamera and picamera2).

picamera2 is imported inside :meth:`Picamera2Camera.open`, never at module import, so this module
loads on machines without it (a laptop, CI) and only a site that uses a Pi camera needs it.

Frames are stamped with the sensor's own timestamp (``SensorTimestamp`` in the request metadata:
the start of exposure, in nanoseconds on the kernel's monotonic clock, the one
:meth:`appliance.clock.Clock.mono_ns` reads), so queueing inside libcamera does not move them.
"""

from __future__ import annotations

import concurrent.futures

from roadcam.appliance.clock import Clock
from roadcam.appliance.config import Picamera2Source
from roadcam.common.errors import BackendNotFound, CameraUnavailable

from ..base import Camera, Frame

#: How long read() waits for a frame before declaring the camera failed.
FRAME_TIMEOUT_S = 5.0


class Picamera2Camera(Camera):
    """A CSI camera on a Raspberry Pi, in a video configuration of the configured size and rate."""

    def __init__(self, name: str, source: Picamera2Source, clock: Clock, *,
                 frame_timeout_s: float = FRAME_TIMEOUT_S):
        self.name = name
        self._source = source
        self._clock = clock
        self._frame_timeout_s = frame_timeout_s
        self._camera = None
        self._frames_read = 0

    @property
    def nominal_fps(self) -> float:
        return self._source.fps

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise BackendNotFound(
                f"camera {self.name!r}: picamera2 is not installed: on Raspberry Pi OS install "
                f"python3-picamera2 with apt (sudo apt install python3-picamera2) and create the "
                f"virtualenv with --system-site-packages; without a Pi camera use an opencv "
                f"source") from exc
        self.close()
        try:
            self._camera = Picamera2(self._source.index)
            self._camera.configure(self._camera.create_video_configuration(
                main={"size": (self._source.width, self._source.height), "format": "RGB888"},
                controls={"FrameRate": self._source.fps}))
            self._camera.start()
        except Exception as exc:  # libcamera reports a missing or busy camera as RuntimeError/IndexError
            self.close()
            raise CameraUnavailable(
                f"camera {self.name!r} (picamera2 camera {self._source.index}): cannot start: "
                f"{exc}: check the ribbon cable, that `rpicam-hello --list-cameras` lists it, and "
                f"that no other program uses the camera") from exc
        self._frames_read = 0

    def read(self) -> Frame:
        if self._camera is None:
            raise CameraUnavailable(f"camera {self.name!r} is not open: call open() first")
        job = self._camera.capture_request(wait=False)
        try:
            request = job.get_result(timeout=self._frame_timeout_s)
        except concurrent.futures.TimeoutError as exc:
            raise CameraUnavailable(
                f"camera {self.name!r} (picamera2 camera {self._source.index}) delivered no frame "
                f"in {self._frame_timeout_s:g} s: check the ribbon cable and the power "
                f"supply") from exc
        try:
            image = request.make_array("main")
            metadata = request.get_metadata()
        finally:
            request.release()
        sensor_mono_ns = metadata.get("SensorTimestamp")
        mono_ns = int(sensor_mono_ns) if sensor_mono_ns is not None else self._clock.mono_ns()
        frame = Frame(camera=self.name, index=self._frames_read,
                      time_ns=self._clock.wall_from_mono(mono_ns), mono_ns=mono_ns, image=image)
        self._frames_read += 1
        return frame

    def close(self) -> None:
        if self._camera is not None:
            camera, self._camera = self._camera, None
            camera.stop()
            camera.close()
