"""The wire form of a batch: several events of one device in one MQTT message, as JSON lines.

A device draining a backlog (after an outage, or whenever more than one event waits) sends its
events a batch per message on its ``events`` topic (:attr:`DeviceTopics.event_batch`) instead of
one message per event: per-message costs (a PUBLISH, a PUBACK, a callback in each client) then
count once per batch instead of once per event, which is what lets one collector keep up with a
fleet catching up. Each line is one event envelope exactly as the single-event topic carries it,
so the collector checks each line as it would check a single-event message, and one bad line
refuses only that event.
"""

from __future__ import annotations

from collections.abc import Sequence

from .events import Event

LINE_SEPARATOR = b"\n"


def encode_event_batches(events: Sequence[Event], max_bytes: int) -> list[bytes]:
    """Batch payloads holding ``events`` in order, one JSON envelope per line (JSON escapes
    newlines inside strings), each at most ``max_bytes`` long unless one event alone is longer."""
    payloads: list[bytes] = []
    lines: list[bytes] = []
    size = 0
    for event in events:
        line = event.model_dump_json().encode()
        if lines and size + len(LINE_SEPARATOR) + len(line) > max_bytes:
            payloads.append(LINE_SEPARATOR.join(lines))
            lines, size = [], 0
        size += len(line) + (len(LINE_SEPARATOR) if lines else 0)
        lines.append(line)
    if lines:
        payloads.append(LINE_SEPARATOR.join(lines))
    return payloads


def split_event_batch(payload: bytes) -> list[bytes]:
    """The envelopes of a batch payload, one per line, not yet parsed."""
    return payload.split(LINE_SEPARATOR)
