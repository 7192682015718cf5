"""What plugins return: event drafts, and the clock state the store stamps on each event.

Plugins never build a full :class:`~roadcam.protocol.events.Event`: they return
:class:`EventDraft` objects from their hooks. The runtime hands the drafts to the store, which
gives each one its id, per-device sequence number and hash-chain link in the same transaction
that writes its evidence, and only then are observers (``roadcam_event``) told. That way
nothing leaves the core that is not on disk. The envelope itself, and :class:`EvidenceBlob`,
are the wire format shared with the collector (:mod:`roadcam.protocol.events`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roadcam.protocol.events import EvidenceBlob


@dataclass(frozen=True)
class ClockState:
    """How far the wall clock can be trusted when an event was stamped."""

    synced: bool
    error_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"synced": self.synced, "error_ms": self.error_ms}


@dataclass(frozen=True)
class EventDraft:
    """What a plugin returns: the event before the store gives it an id and a sequence number.

    ``time_ns`` is UTC wall time in nanoseconds of the moment the event is about (the frame's or
    the edge's own stamp), not of the moment the plugin ran.
    """

    type: str
    data: dict[str, Any]
    time_ns: int
    evidence: tuple[EvidenceBlob, ...] = field(default=())
