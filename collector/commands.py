"""Signed, versioned commands and hotlists from the collector to the devices.

Wire format (also in the project notes, for the device side)::

    {"name": str, "device": str, "version": int, "issued_at": "2026-11-22T03:04:05.123456Z",
     "body": {...}, "sig": base64 Ed25519}

``sig`` is the collector's signature over the canonical JSON (``sort_keys``, separators
``(",", ":")``, UTF-8) of the other keys. ``device`` names the one device a command is for
(``*`` for the hotlist), so a command captured on one box is refused by every other. ``version`` rises strictly per name, so a device
that remembers the highest version it accepted refuses a replayed or older command.
"""

from __future__ import annotations

import json
import time
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from roadcam.appliance.commands import COMMAND_FIELDS, signed_bytes
from roadcam.appliance.events import iso_utc
from roadcam.appliance.signing import sign, verify
from roadcam.appliance.topics import HOTLIST, DeviceTopics


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


def publish_command(client: mqtt.Client, topics: DeviceTopics, payload: dict[str, Any]
                    ) -> mqtt.MQTTMessageInfo:
    """Send a signed command to one device (QoS 1, not retained)."""
    return client.publish(topics.command(payload["name"]), json.dumps(payload), qos=1)


def publish_hotlist(client: mqtt.Client, payload: dict[str, Any]) -> mqtt.MQTTMessageInfo:
    """Publish a signed hotlist to every device (QoS 1, retained, so a device that connects
    later gets the current one)."""
    return client.publish(HOTLIST, json.dumps(payload), qos=1, retain=True)
