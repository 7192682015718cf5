"""The bounded queue between a camera's capture thread and the analysis thread, with its counts.

A live camera runs on its own clock: when the analysis falls behind, the oldest frame is
dropped and counted (latest wins). A recorded or simulated source waits for the analysis
instead, so no frame is lost and a run is repeatable.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field


@dataclass
class CameraCounts:
    """Frames captured, processed and dropped since start, for one camera."""

    captured: int = 0
    processed: int = 0
    dropped: int = 0


@dataclass
class RateWindow:
    """Turns running counts into per-second rates between two readings."""

    last_counts: CameraCounts = field(default_factory=CameraCounts)
    last_mono_ns: int | None = None

    def rates(self, counts: CameraCounts, mono_ns: int) -> dict[str, float]:
        """camera_fps, processed_fps and dropped_fps since the previous call (0 on the first)."""
        elapsed_s = (mono_ns - self.last_mono_ns) / 1e9 if self.last_mono_ns is not None else 0.0
        previous, self.last_counts, self.last_mono_ns = self.last_counts, CameraCounts(**vars(counts)), mono_ns
        if elapsed_s <= 0:
            return {"camera_fps": 0.0, "processed_fps": 0.0, "dropped_fps": 0.0}
        return {
            "camera_fps": round((counts.captured - previous.captured) / elapsed_s, 2),
            "processed_fps": round((counts.processed - previous.processed) / elapsed_s, 2),
            "dropped_fps": round((counts.dropped - previous.dropped) / elapsed_s, 2),
        }


class FrameQueue:
    """A bounded FIFO of frames for one camera. ``wakeup`` is notified on every put."""

    def __init__(self, capacity: int, live: bool, wakeup: threading.Condition):
        self.capacity = capacity
        self.live = live
        self.counts = CameraCounts()
        self.ended = False
        self._frames: collections.deque = collections.deque()
        self._wakeup = wakeup

    def put(self, frame, stop: threading.Event) -> bool:
        """Queue a frame. Live: drop the oldest when full. Not live: wait for space (until
        ``stop`` is set). Returns False when stopped before the frame could be queued."""
        with self._wakeup:
            self.counts.captured += 1
            while not self.live and len(self._frames) >= self.capacity:
                if stop.is_set():
                    return False
                self._wakeup.wait(0.1)
            if len(self._frames) >= self.capacity:
                self._frames.popleft()
                self.counts.dropped += 1
            self._frames.append(frame)
            self._wakeup.notify_all()
            return True

    def end(self) -> None:
        """The source has no more frames."""
        with self._wakeup:
            self.ended = True
            self._wakeup.notify_all()

    def peek_time_ns(self) -> int | None:
        """Capture time of the oldest queued frame (caller holds the wakeup lock)."""
        return self._frames[0].time_ns if self._frames else None

    def take(self):
        """The oldest frame, or None (caller holds the wakeup lock). Wakes a waiting producer."""
        if not self._frames:
            return None
        frame = self._frames.popleft()
        self._wakeup.notify_all()
        return frame

    def __len__(self) -> int:
        return len(self._frames)
