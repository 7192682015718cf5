"""Replaying a recorded or simulated source at a chosen speed in real time."""

from __future__ import annotations

import time

from .base import Camera, Frame


class PacedCamera(Camera):
    """Wraps a non-live camera so its frames arrive at ``speed`` times their nominal rate.

    ``speed`` 1 is real time, 4 is four times faster; 0 means as fast as the analysis takes
    them (no pacing). Used by ``roadcam simulate --speed``.
    """

    def __init__(self, inner: Camera, speed: float):
        if speed < 0:
            raise ValueError("speed must be 0 (unpaced) or more")
        self.inner = inner
        self.name = inner.name
        self.speed = speed
        self._start_s: float | None = None
        self._frames = 0

    @property
    def live(self) -> bool:
        return self.inner.live

    @property
    def nominal_fps(self) -> float | None:
        return self.inner.nominal_fps

    def open(self) -> None:
        self.inner.open()

    def read(self) -> Frame | None:
        frame = self.inner.read()
        fps = self.inner.nominal_fps
        if frame is not None and self.speed > 0 and fps:
            if self._start_s is None:
                self._start_s = time.monotonic()
            due_s = self._start_s + self._frames / (fps * self.speed)
            self._frames += 1
            delay_s = due_s - time.monotonic()
            if delay_s > 0:
                time.sleep(delay_s)
        return frame

    def close(self) -> None:
        self.inner.close()
