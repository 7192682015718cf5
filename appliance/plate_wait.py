"""Records held until their vehicle's plate is read: the one wait that fence violations,
spot-speed violations and section passages share.

plate_capture reads a track's plate over its life and stores one ``plate.read`` (data:
``camera``, ``track_id``, ``plate``, ``confidence``; evidence: the best plate crop and its full
frame) when the track ends. A record about that vehicle (a violation, a passage) is worth more
with the plate, so it waits: it is due once its track has ended and a read of that track has
been seen, or ``wait_s`` after the track ended without one (a plate too small, dirty or absent:
the record goes out without it). A record whose track has not ended waits for it. What still
waits when the appliance stops goes out then, with what is known.

A camera that sends no frames (``camera.no_frames``: dead, unplugged) ends no track, and may
stay so for days; its records must not wait for frames to come back. So a record also goes out,
with the read if one was seen (as at shutdown), once its camera has sent its owner no frame for
``wait_s`` + ``SILENT_S`` on the appliance's monotonic clock, counted from the camera's last
frame or from the hold, whichever is later: past that, no track of that camera is going to end
soon, and a camera that comes back sooner (a stream reopened) keeps its records waiting.

The owner, a plugin object, forwards what the wait needs: :meth:`PlateWait.track_ended` from
every ``roadcam_track_finished``, :meth:`PlateWait.seen` from every ``roadcam_analyze``,
:meth:`PlateWait.note` from ``roadcam_event`` (which runs on the thread that stored the event,
hence the lock), and asks :meth:`PlateWait.due` as its clock moves and on every ``roadcam_tick``
(which comes whether frames do or not: the silent camera's records go out there). Reads and
track ends are kept ``KEEP_S`` beyond the wait, so a record held after its track ended (a
passage whose track is named once the camera's frames cover it, a speed whose camera check
completes late) still finds its read.

The wait for a track's end and read is judged on the owner's clock (frame and edge times, the
tick's now). :meth:`PlateWait.health` says how many records wait and how long the oldest has, on
the appliance's monotonic clock, so a technician sees a queue that does not drain (a track that
never ends) in the plugin's ``health`` figures, as ``plate_waiting`` and
``plate_oldest_wait_s`` (named for the plate: the speed plugin also holds speeds for its
camera's frames).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .clock import Clock

#: How long past ``wait_s`` an ended track's read is kept for records still to come (s).
KEEP_S = 60.0

#: How long past ``wait_s`` a camera may send no frame before the records on its tracks go out
#: (s): twice the runtime's longest pause between attempts to reopen a failed camera
#: (``runtime.MAX_RETRY_S``, 30 s), so one that comes back on the next attempt keeps them.
SILENT_S = 60.0

Record = TypeVar("Record")


@dataclass(frozen=True)
class PlateRead:
    """A track's ``plate.read``, as a record that waited for it names it."""

    plate: str | None
    confidence: float | None
    event: str  # the plate.read event's id
    evidence: tuple[str, ...]  # sha256 of its evidence files: the plate crop, its full frame

    def fields(self) -> dict[str, Any]:
        """The fields a violation carries its plate in (the read, and the crop by its digest)."""
        return {"plate": self.plate, "plate_confidence": self.confidence, "plate_event": self.event,
                "plate_evidence": list(self.evidence)}


@dataclass
class _Held(Generic[Record]):
    key: tuple[str, int]
    record: Record
    since_ns: int  # when it was held, on the appliance's monotonic clock


class PlateWait(Generic[Record]):
    """Records of one plugin, each held until its track's plate read or ``wait_s`` after the
    track ended, released in the order they were held."""

    def __init__(self, wait_s: float, clock: Clock):
        """``clock``: the appliance's; its monotonic time dates each hold for :meth:`health`."""
        self.wait_ns = int(wait_s * 1e9)
        self._clock = clock
        self._held: list[_Held[Record]] = []
        self._reads: dict[tuple[str, int], PlateRead] = {}
        self._ended: dict[tuple[str, int], int] = {}  # (camera, track id) -> its last frame's time (ns)
        self._seen: dict[str, int] = {}  # camera -> when its last frame reached the owner (monotonic ns)
        self._silent_ns = self.wait_ns + int(SILENT_S * 1e9)
        self._lock = threading.Lock()

    def hold(self, camera: str, track_id: int, record: Record) -> None:
        """Hold ``record`` until the plate of ``camera``'s track ``track_id`` is known."""
        with self._lock:
            self._held.append(_Held((camera, track_id), record, self._clock.mono_ns()))

    def track_ended(self, camera: str, track_id: int, time_ns: int) -> None:
        """A track has ended (``time_ns``: its last frame); its records' wait starts."""
        with self._lock:
            self._ended[(camera, track_id)] = time_ns

    def seen(self, camera: str) -> None:
        """A frame of ``camera`` reached the owner: its tracks may still end."""
        with self._lock:
            self._seen[camera] = self._clock.mono_ns()

    def note(self, event) -> None:
        """Take a stored event: a ``plate.read`` of a track names that track's records."""
        data = event.data
        if event.type != "plate.read" or not isinstance(data.get("track_id"), int):
            return
        read = PlateRead(data.get("plate"), data.get("confidence"), event.id,
                         tuple(ref.sha256 for ref in event.evidence))
        with self._lock:
            self._reads[(data.get("camera"), data["track_id"])] = read

    def due(self, now_ns: int) -> list[tuple[Record, PlateRead | None]]:
        """The records ready at ``now_ns``, or whose camera has been silent too long, each with
        its read (None: waited in vain)."""
        with self._lock:
            ready, waiting = [], []
            mono_ns = self._clock.mono_ns()
            for held in self._held:
                ended = self._ended.get(held.key)
                read = self._reads.get(held.key)
                over = ended is not None and (read is not None or now_ns - ended >= self.wait_ns)
                silent = mono_ns - max(held.since_ns, self._seen.get(held.key[0], 0)) >= self._silent_ns
                if over or silent:
                    ready.append((held.record, read))
                else:
                    waiting.append(held)
            self._held = waiting
            self._forget(now_ns)
            return ready

    def flush(self) -> list[tuple[Record, PlateRead | None]]:
        """Every record still held, with its read where one was seen (the appliance stops)."""
        with self._lock:
            out = [(held.record, self._reads.get(held.key)) for held in self._held]
            self._held = []
            return out

    def health(self) -> dict[str, Any]:
        """``plate_waiting``: the records held; ``plate_oldest_wait_s``: how long the oldest of
        them has been held (0 when none). A record waits while its track lives, so a vehicle
        standing in view (a parked car) keeps its violation waiting; an age that keeps growing
        with no such vehicle is a queue that does not drain."""
        with self._lock:
            oldest = (self._clock.mono_ns() - self._held[0].since_ns) / 1e9 if self._held else 0.0
            return {"plate_waiting": len(self._held), "plate_oldest_wait_s": round(oldest, 3)}

    def _forget(self, now_ns: int) -> None:
        """Drop the reads and ends of tracks that ended long ago and that no record waits for."""
        horizon = now_ns - self.wait_ns - int(KEEP_S * 1e9)
        wanted = {held.key for held in self._held}
        for key in [key for key, ended in self._ended.items() if ended < horizon and key not in wanted]:
            del self._ended[key]
            self._reads.pop(key, None)
