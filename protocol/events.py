"""The event envelope both sides speak, and the helpers that make its ids and times.

An :class:`Event` is what a device stores in its outbox and publishes, and what the collector
verifies and stores: its :meth:`Event.canonical_json` is what is hashed into the chain and
signed. Evidence files travel beside it, each named by the sha256 of its bytes
(:class:`EvidenceBlob`, referenced by :class:`EvidenceRef`).

Plugins never build a full :class:`Event`: they return
:class:`~roadcam.appliance.events.EventDraft` objects, and the device's store turns them into
events (see :mod:`roadcam.appliance.events`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class EvidenceBlob:
    """Bytes a plugin attaches to an event (a JPEG frame, a plate crop). Stored by sha256."""

    kind: str
    data: bytes
    media_type: str = "image/jpeg"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class EvidenceRef(BaseModel):
    """An event's reference to one evidence file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(title="SHA-256", description="Hex digest of the file's bytes; also its name.")
    kind: str = Field(title="Kind", description="What it shows, e.g. frame_before, plate_crop.")
    bytes: int = Field(title="Size", description="File size in bytes.")
    media_type: str = Field("image/jpeg", title="Media type", description="MIME type of the file.")


class Event(BaseModel):
    """The envelope every event travels in, on disk and over MQTT."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(title="Event id", description="UUIDv7: unique, and sorts by creation time.")
    device: str = Field(title="Device", description="Id of the device that produced the event.")
    site: str = Field(title="Site", description="Id of the site the device belongs to.")
    type: str = Field(title="Type", description="Event type, e.g. plate.read or violation.red_light.")
    time: str = Field(title="Time", description="UTC time, ISO 8601 with microseconds and Z.")
    seq: int = Field(title="Sequence", description="Per-device sequence number, gap-free from 1.")
    clock: dict[str, Any] = Field(title="Clock", description="Clock sync state: synced, error_ms.")
    data: dict[str, Any] = Field(title="Data", description="Payload; its shape depends on the type.")
    evidence: list[EvidenceRef] = Field(default_factory=list, title="Evidence", description="Files.")
    prev: str | None = Field(None, title="Previous", description="sha256 of the previous event.")
    sig: str | None = Field(None, title="Signature", description="Device signature (uplink).")

    def canonical_json(self) -> bytes:
        """Stable bytes of the event without its signature: what is hashed and signed."""
        body = self.model_dump(exclude={"sig"})
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def digest(self) -> str:
        """sha256 of :meth:`canonical_json`; the next event's ``prev``."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


def iso_utc(time_ns: int) -> str:
    """Format UTC nanoseconds as ``2026-11-22T03:04:05.123456Z``."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_ns(text: str) -> int:
    """UTC nanoseconds of an ISO 8601 time (the inverse of :func:`iso_utc`; a time without a
    zone is taken as UTC); ValueError when ``text`` is not one."""
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    since_epoch = stamp - datetime(1970, 1, 1, tzinfo=UTC)
    return ((since_epoch.days * 86_400 + since_epoch.seconds) * 1_000_000 + since_epoch.microseconds) * 1000


def uuid7(unix_ms: int | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version, 74 random bits."""
    if unix_ms is None:
        unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
