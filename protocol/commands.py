"""The command wire format: what the collector signs and a device checks.

A command (the hotlist too) is a JSON object with exactly ``name``, ``device``, ``version``,
``issued_at``, ``body`` and ``sig``::

    {"name": str, "device": str, "version": int, "issued_at": "2026-11-22T03:04:05.123456Z",
     "body": {...}, "sig": base64 Ed25519}

``sig`` is the collector's Ed25519 signature over the canonical JSON (sorted keys, no spaces,
UTF-8) of the other five (:func:`signed_bytes`). ``name`` equals the topic's last level
(``…/cmd/{name}``); ``device`` is the id of the one device the command is for (:data:`EVERY_DEVICE`
only for the hotlist, which goes to every device), so a command captured on one box cannot be
replayed to another; ``version`` rises strictly per name, so a device that remembers the highest
version it accepted refuses a replayed or older command; ``issued_at`` is
:func:`~roadcam.protocol.events.iso_utc` time; ``body`` is what the device's
``roadcam_command`` hook receives as ``payload``.

The device's gate that applies these rules is :class:`roadcam.appliance.commands.CommandGate`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .events import iso_utc
from .signing import sign, verify

#: The keys of a command payload; all but ``sig`` are signed.
COMMAND_FIELDS = frozenset({"name", "device", "version", "issued_at", "body", "sig"})
#: ``device`` of a command for every device; accepted only for the hotlist.
EVERY_DEVICE = "*"
HOTLIST_COMMAND = "hotlist"
#: Commands the collector publishes retained: judged by version, never by age.
RETAINED_STATE = frozenset({HOTLIST_COMMAND})
#: Largest command payload: the shipped broker's message_size_limit (a full hotlist of 100,000
#: vehicles is about 8 MB).
COMMAND_MAX_BYTES = 16 * 1024 * 1024


def signed_bytes(payload: dict[str, Any]) -> bytes:
    """What the signature covers: every field but ``sig`` as sorted, compact UTF-8 JSON."""
    unsigned = {key: value for key, value in payload.items() if key != "sig"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_command(key: Ed25519PrivateKey, name: str, body: dict[str, Any], version: int, *,
                 device: str, issued_at_ns: int | None = None) -> dict[str, Any]:
    """A signed command (or hotlist) payload, ready to publish as JSON."""
    if version < 1:
        raise ValueError(f"command version must be 1 or more, got {version}")
    payload = {"name": name, "device": device, "version": version,
               "issued_at": iso_utc(time.time_ns() if issued_at_ns is None else issued_at_ns),
               "body": body}
    payload["sig"] = sign(key, signed_bytes(payload))
    return payload


def verify_command(key: Ed25519PublicKey, payload: Any) -> bool:
    """True when ``payload`` has exactly the fields of the format, an integer version and
    a signature by ``key`` over the others."""
    if not isinstance(payload, dict) or set(payload) != COMMAND_FIELDS:
        return False
    if type(payload["version"]) is not int or not isinstance(payload["sig"], str):
        return False
    return verify(key, signed_bytes(payload), payload["sig"])
