"""OpenCV camera backend: RTSP/HTTP streams, USB (V4L2) cameras and video files.

``source.url`` decides the kind of source:

- ``rtsp://``, ``http://`` or any other ``scheme://``: a network stream (live), read through
  FFmpeg over TCP with open and read timeouts of ``source.timeout_s``;
- ``/dev/videoN`` (or any ``/dev/`` path, such as ``/dev/v4l/by-id/...``) or a bare device number
  ``N`` (meaning ``/dev/videoN``): a V4L2 camera (live);
- anything else: a video file (not live, so the analysis waits for it instead of dropping frames),
  delivered as fast as the analysis takes its frames, or with ``source.speed`` at that many times
  its frame rate (:func:`roadcam.hal.camera.make_camera` wraps it in a :class:`PacedCamera`).

Live frames are stamped with the clock the moment OpenCV has grabbed them. File frames are stamped
with their media time from the moment the file was opened, so a recording replays with its own
frame spacing however fast or slow the analysis runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from roadcam.appliance.clock import Clock
from roadcam.appliance.config import OpenCVSource
from roadcam.common.errors import CameraUnavailable

from ..base import Camera, Frame

#: FFmpeg capture options OpenCV reads from the environment whenever it opens anything with FFmpeg.
#: For RTSP: TCP transport, so a lost UDP packet cannot smear a frame. Only options that leave
#: other sources alone belong here (``fflags;nobuffer`` would drop the last frame of every file).
#: A value already set (by a technician) is kept.
FFMPEG_OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
RTSP_CAPTURE_OPTIONS = "rtsp_transport;tcp"


class OpenCVCamera(Camera):
    """A camera read through ``cv2.VideoCapture``; see the module docstring for the sources."""

    def __init__(self, name: str, source: OpenCVSource, clock: Clock):
        self.name = name
        self._source = source
        self._clock = clock
        self._capture: cv2.VideoCapture | None = None
        self._first_frame: Frame | None = None
        self._frames_read = 0
        self._opened_mono_ns = 0
        self._nominal_fps: float | None = None

    @property
    def live(self) -> bool:
        return self._source.is_device or self._source.is_stream

    @property
    def nominal_fps(self) -> float | None:
        return self._nominal_fps

    def open(self) -> None:
        """Open the source and read its first frame; fails fast with CameraUnavailable."""
        self.close()
        self._capture = self._open_capture()
        self._frames_read = 0
        self._opened_mono_ns = self._clock.mono_ns()
        reported_fps = self._capture.get(cv2.CAP_PROP_FPS)
        self._nominal_fps = self._source.fps or (reported_fps if reported_fps > 0 else None)
        self._first_frame = self._next_frame()
        if self._first_frame is None:
            self.close()
            raise CameraUnavailable(
                f"camera {self.name!r}: video file {self._source.url} has no readable frame: "
                f"check that it is a video OpenCV/FFmpeg can decode")

    def read(self) -> Frame | None:
        if self._capture is None:
            raise CameraUnavailable(f"camera {self.name!r} is not open: call open() first")
        if self._first_frame is not None:
            frame, self._first_frame = self._first_frame, None
            return frame
        return self._next_frame()

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._first_frame = None

    def _describe(self) -> str:
        return f"camera {self.name!r} (source {self._source.url})"

    def _open_capture(self) -> cv2.VideoCapture:
        capture = self._open_device() if self._source.is_device else self._open_with_ffmpeg()
        if self.live:
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return capture

    def _open_device(self) -> cv2.VideoCapture:
        url = self._source.url
        device = f"/dev/video{url}" if url.isdigit() else url
        if not Path(device).exists():
            raise CameraUnavailable(
                f"{self._describe()}: {device} does not exist: check the USB cable and that the "
                f"camera is listed by `ls /dev/video*` or `v4l2-ctl --list-devices`")
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise CameraUnavailable(
                f"{self._describe()}: cannot open {device}: it may be busy in another program or "
                f"not a capture device (check `v4l2-ctl --list-devices`)")
        if self._source.fps:
            capture.set(cv2.CAP_PROP_FPS, self._source.fps)
        return capture

    def _open_with_ffmpeg(self) -> cv2.VideoCapture:
        url = self._source.url
        if not self._source.is_stream and not Path(url).is_file():
            raise CameraUnavailable(
                f"{self._describe()}: video file {url} not found: check source.url")
        if url.startswith("rtsp"):
            os.environ.setdefault(FFMPEG_OPTIONS_VARIABLE, RTSP_CAPTURE_OPTIONS)
        timeout_ms = round(self._source.timeout_s * 1000)
        capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms,
        ])
        if not capture.isOpened():
            capture.release()
            if self._source.is_stream:
                raise CameraUnavailable(
                    f"{self._describe()}: cannot open the stream within "
                    f"{self._source.timeout_s:g} s: check the address, user and password in the "
                    f"URL, the network, and that the camera is powered")
            raise CameraUnavailable(
                f"{self._describe()}: cannot open video file {url}: check that it is a video "
                f"OpenCV/FFmpeg can decode")
        return capture

    def _next_frame(self) -> Frame | None:
        """Grab, stamp and decode the next frame; None at the end of a file."""
        if not self._capture.grab():
            return self._end_of_source()
        capture_mono_ns = self._capture_mono_ns()
        decoded, image = self._capture.retrieve()
        if not decoded:
            return self._end_of_source()
        frame = Frame(camera=self.name, index=self._frames_read,
                      time_ns=self._clock.wall_from_mono(capture_mono_ns),
                      mono_ns=capture_mono_ns, image=image)
        self._frames_read += 1
        return frame

    def _end_of_source(self) -> None:
        """None for a file that has ended; a live source has failed."""
        if self.live:
            raise CameraUnavailable(
                f"{self._describe()} delivered no frame: check the camera's power, cable or "
                f"network")
        return None

    def _capture_mono_ns(self) -> int:
        """When the frame just grabbed was captured: now for a live source, its media time after
        the open for a file."""
        if self.live:
            return self._clock.mono_ns()
        return self._opened_mono_ns + round(self._capture.get(cv2.CAP_PROP_POS_MSEC) * 1e6)
