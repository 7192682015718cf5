"""What the collector needs from a database, and the records it reads back.

The collector talks to storage only through :class:`CollectorStorage`, so a city can run the
same collector on another database. :mod:`roadcam.collector.sqlite_storage` is the default backend.

Guarantees every backend gives:

- :meth:`CollectorStorage.store` writes a whole batch in one transaction and returns only after
  it is durable; the collector acknowledges the batch's messages only after that.
- An event is stored under its id: storing it again is a no-op (counted as a duplicate).
- Per device, the backend keeps one chain per store epoch: a device's store numbers its events
  from 1 and links each to the one before by digest (``prev``), and a device whose store was
  reset (new SD card, reflash) starts again at seq 1 with a new first event. A chain starts at
  such a first event (seq 1, no ``prev``) and its head moves on only along ``prev`` links to
  events stored with every evidence file they name. The head (seq and digest) is what the
  collector acknowledges (:class:`~roadcam.protocol.acks.ChainAck`): "stored up to seq N" alone would,
  after a reset, confirm the new store's events by the old one's high mark.
- A second first event for a device is recorded as a ``new_epoch`` problem; the new chain gets
  acks of its own. Broken hash links and two events claiming the same seq are recorded as
  problems too; no event is ever dropped for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from roadcam.common.errors import StoreError
from roadcam.protocol.acks import ChainAck
from roadcam.protocol.events import Event

from .ingest import Verified
from .quarantine import QuarantinedMessage


@dataclass(frozen=True)
class EventQuery:
    """A filter over stored events; None means "any". Times are UTC ns, ``until`` exclusive."""

    plate: str | None = None
    device: str | None = None
    type: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    limit: int = 1000


@dataclass(frozen=True)
class StoredBatch:
    """What one :meth:`CollectorStorage.store` call did.

    ``acks`` maps (site, device) to the chain heads to acknowledge to that device: every chain
    whose head the batch moved (its events, or evidence they were waiting for), and the head of
    the device's latest chain whenever the batch held events of it (so a device that sends again
    what it thinks was lost hears the answer again).
    """

    stored: int
    duplicates: int
    acks: dict[tuple[str, str], tuple[ChainAck, ...]]


@dataclass(frozen=True)
class DeviceRecord:
    """What the collector knows of one device."""

    device: str
    site: str
    online: bool | None
    status_ns: int | None
    health_json: str | None
    health_ns: int | None
    #: Head seq of the device's latest chain (store epoch): stored without a gap from its seq 1.
    contiguous_seq: int
    #: When the collector first heard of it: its first stored status or first event (collector
    #: time; None when neither is on record).
    first_heard_ns: int | None = None


@dataclass(frozen=True)
class StatusChange:
    """A device's status changed (online, or offline: its last will or a clean stop), as the
    collector received it."""

    device: str
    online: bool
    received_ns: int


@dataclass(frozen=True)
class Problem:
    """Something wrong with a device's event stream (broken chain, conflicting seq, a new
    store epoch)."""

    device: str
    seq: int
    kind: str
    detail: str
    recorded_ns: int


@dataclass(frozen=True)
class Gap:
    """Seqs ``first``..``last`` of a device not (yet) stored, above the head of its latest chain
    and below the highest seq stored (of any of its chains)."""

    device: str
    first: int
    last: int


@dataclass(frozen=True)
class RetainedMessage:
    """A retained message the collector published (the hotlist), kept so that it can publish
    it again, exactly as it was, after the broker lost it."""

    topic: str
    #: The payload as published (signed JSON text).
    payload: str
    version: int
    published_ns: int


class DataRefused(StoreError):
    """The database refused the data itself (a value it cannot hold, a broken constraint), not
    for being away: trying the same batch again cannot help, so the collector treats it as an
    unexpected error (its messages are recorded, and one failing twice is quarantined) instead
    of retrying it for good."""


class CollectorStorage(Protocol):
    """The collector's database; see the module docstring for what every backend guarantees."""

    def store(self, items: Sequence[Verified], received_ns: int) -> StoredBatch:
        """Store verified events, evidence, statuses and health summaries in one transaction."""

    def events(self, query: EventQuery) -> list[Event]:
        """Stored events matching ``query``, oldest first."""

    def read_evidence(self, sha256: str) -> bytes:
        """A stored evidence file's bytes, verified against its sha256 (StoreError if not)."""

    def evidence_path(self, sha256: str) -> Path:
        """Where an evidence file is (or would be) kept."""

    def devices(self) -> list[DeviceRecord]:
        """Every device seen, by id."""

    def status_changes(self, until_ns: int) -> list[StatusChange]:
        """Every change of a device's status received before ``until_ns``, by device, oldest
        first (a status heard again unchanged is not a change)."""

    def problems(self) -> list[Problem]:
        """Every recorded problem, oldest first."""

    def gaps(self) -> list[Gap]:
        """Missing seq ranges per device below its highest stored seq."""

    def record_failures(self, messages: Sequence[tuple[str, bytes]], error: str, now_ns: int) -> None:
        """Count one more failure, with ``error``, for each (topic, payload), in one transaction."""

    def message_failures(self, digests: Sequence[str]) -> dict[str, int]:
        """Failures on record for these :func:`~roadcam.collector.quarantine.message_digest` values
        (a message that never failed is absent)."""

    def clear_failures(self, digests: Sequence[str]) -> None:
        """Forget the failures of these messages: they have been handled since."""

    def quarantine(self, topic: str, payload: bytes, reason: str, now_ns: int) -> int:
        """Count one more failure and keep the message in quarantine (a message already there
        keeps its first reason), in one transaction; returns its failures."""

    def quarantined(self) -> list[QuarantinedMessage]:
        """Every quarantined message, oldest first."""

    def keep_retained(self, message: RetainedMessage) -> None:
        """Keep ``message`` as the one retained on its topic, unless one of a higher version is
        kept already."""

    def retained_messages(self) -> list[RetainedMessage]:
        """The retained message kept for each topic, by topic."""

    def close(self) -> None:
        """Release the database; closing twice is fine."""
