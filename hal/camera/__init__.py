"""Camera backends, chosen by the ``type`` of a camera's source in the site config.

- ``opencv``: :class:`roadcam.hal.camera.opencv.OpenCVCamera` (RTSP/HTTP streams, USB cameras, files;
  a file with ``source.speed`` is replayed through :class:`roadcam.hal.pacing.PacedCamera`);
- ``picamera2``: :class:`roadcam.hal.camera.picamera2.Picamera2Camera` (Raspberry Pi CSI cameras;
  picamera2 itself is imported only when such a camera is opened);
- ``roadcam.sim``: made by the simulator, which hands its factory to :func:`make_camera`.
"""

from __future__ import annotations

from collections.abc import Callable

from roadcam.appliance.clock import Clock
from roadcam.appliance.config import CameraConfig, OpenCVSource, Picamera2Source
from roadcam.common.errors import CameraUnavailable

from ..base import Camera
from ..pacing import PacedCamera
from .opencv import OpenCVCamera
from .picamera2 import Picamera2Camera


def make_camera(config: CameraConfig, clock: Clock, *,
                sim_cameras: Callable[[str], Camera] | None = None) -> Camera:
    """An unopened camera for one camera config.

    ``sim_cameras(name)`` makes the cameras whose source type is ``roadcam.sim``; only ``roadcam simulate``
    has one, so without it such a camera raises :class:`CameraUnavailable`.
    """
    source = config.source
    if isinstance(source, OpenCVSource):
        camera = OpenCVCamera(config.name, source, clock)
        return PacedCamera(camera, source.speed) if source.speed else camera
    if isinstance(source, Picamera2Source):
        return Picamera2Camera(config.name, source, clock)
    if sim_cameras is None:
        raise CameraUnavailable(
            f"camera {config.name!r} has source type sim, which only works under `roadcam simulate`")
    return sim_cameras(config.name)
