"""Messages whose handling failed: how one is named across deliveries, and what is kept of one
set aside.

An unexpected error while the collector handles a batch ends its process (so systemd restarts
it) after counting one failure for every message of the batch. The broker delivers them again;
a message with a failure on record is then handled alone, and if it fails once more it is
quarantined: kept whole with the reason, acknowledged (so the broker never delivers it again),
counted and listed by ``roadcam-collector quarantine list``. One bad message thus costs one
restart, never an endless loop of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

#: Failures after which a message is set aside instead of handled again.
QUARANTINE_AFTER_FAILURES = 2


@dataclass(frozen=True)
class QuarantinedMessage:
    """A message set aside after it failed twice: acknowledged, kept, never handled again."""

    digest: str
    topic: str
    payload: bytes
    reason: str
    failures: int
    quarantined_ns: int


def message_digest(topic: str, payload: bytes) -> str:
    """What names one MQTT message across deliveries: sha256 of topic, NUL, payload."""
    return hashlib.sha256(topic.encode("utf-8", errors="surrogateescape") + b"\0" + payload).hexdigest()
