"""The evidence package of a violation: annotated frames, the plate when one was read, and a
digest over the whole package.

Frames are JPEGs of the full picture with the fences of the rule, the vehicle's box and the
signal state drawn on (:func:`roadcam.plugins.annotate.annotated_jpeg`), stored through the
core's evidence mechanism (each file named by its sha256, referenced from the event, which is
itself hashed into the device's chain). The package digest (``package_sha256``) covers the
event's data and every evidence file's digest, so one number identifies the whole package on a
ticket.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from roadcam.appliance.events import EventDraft
from roadcam.appliance.plate_wait import PlateRead
from roadcam.protocol.events import EvidenceBlob


class FrameBuffer:
    """The last few frames of one camera (references, no copies): the evidence frame from before
    a crossing is taken from here when the crossing is seen."""

    def __init__(self, frames: int):
        self.frames: deque = deque(maxlen=frames)

    def add(self, frame) -> None:
        self.frames.append(frame)

    def at_or_before(self, frame_index: int):
        earliest = self.frames[0] if self.frames else None
        return next((f for f in reversed(self.frames) if f.index <= frame_index), earliest)

    @property
    def latest(self):
        return self.frames[-1] if self.frames else None


@dataclass
class Violation:
    """A violation, held until its vehicle's track ends and its plate is known
    (:class:`~roadcam.appliance.plate_wait.PlateWait`)."""

    rule: str
    camera: str
    track_id: int
    time_ns: int
    data: dict[str, Any]
    evidence: list[EvidenceBlob] = field(default_factory=list)

    @classmethod
    def of(cls, rule: str, camera: str, track_id: int, time_ns: int, data: dict[str, Any],
           frames: list[tuple[str, bytes]]) -> Violation:
        return cls(rule, camera, track_id, time_ns, data, [EvidenceBlob(kind, jpeg) for kind, jpeg in frames])

    def draft(self, plate: PlateRead | None) -> EventDraft:
        data = {"rule": self.rule, "camera": self.camera, "track_id": self.track_id, **self.data}
        if plate is not None:
            data.update(plate.fields())
        digests = sorted(hashlib.sha256(blob.data).hexdigest() for blob in self.evidence)
        canonical = json.dumps({"data": data, "evidence": digests}, sort_keys=True, separators=(",", ":"))
        data["package_sha256"] = hashlib.sha256(canonical.encode()).hexdigest()
        return EventDraft(f"violation.{self.rule}", data, self.time_ns, tuple(self.evidence))
