"""The collector's acknowledgement, in one place for the device and the collector.

An ack names what the collector stored by the head of a chain: ``{"seq": N, "digest": D}``
says "I hold your event N, whose digest (:meth:`~roadcam.protocol.events.Event.digest`) is D, and every
event before it on its chain, each with its evidence". Because every event's ``prev`` is the
digest of the one before it, D stands for the whole chain from seq 1 to N: a device confirms
its rows up to N only when its own event N has digest D (:meth:`EventStore.confirm
<appliance.store.EventStore.confirm>`).

A sequence number alone would not do: a device whose store was reset (new SD card, reflash)
numbers from 1 again, and an ack of the old store's high mark would confirm new events the
collector never saw. With the digest, an ack for another store's chain matches no event of this
one and is ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .bounded_json import loads_bounded

#: Largest ack payload a device reads: ``{"seq": <19 digits>, "digest": "<64 hex>"}`` with room.
MAX_ACK_BYTES = 256
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ChainAck:
    """The collector holds the device's chain up to event ``seq``, whose digest is ``digest``."""

    seq: int
    digest: str

    def encode(self) -> bytes:
        """The ack's MQTT payload."""
        return json.dumps({"seq": self.seq, "digest": self.digest}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> ChainAck:
        """The ack in ``payload``; ValueError (saying why) when it is not ``{"seq": N >= 1,
        "digest": "<64 lowercase hex>"}`` within :data:`MAX_ACK_BYTES`."""
        message = loads_bounded(payload, max_bytes=MAX_ACK_BYTES, max_depth=1)
        if not isinstance(message, dict) or set(message) != {"seq", "digest"}:
            raise ValueError('not {"seq": N, "digest": D}')
        seq, digest = message["seq"], message["digest"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"seq {seq!r} is not a whole number from 1")
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise ValueError("digest is not 64 lowercase hex digits")
        return cls(seq, digest)
