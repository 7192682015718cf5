"""Turn one MQTT message into something the collector may store, or refuse it.

Everything here treats the topic and the payload as hostile: sizes are checked before any
parsing, JSON is parsed by pydantic into the closed :class:`~appliance.events.Event` model, the
topic must agree with the envelope, the device must be enrolled and the signature must verify
with its key, and evidence bytes must hash to the name in their topic. A refusal raises
:class:`~appliance.errors.MessageRejected` whose ``reason`` the collector counts.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from appliance.errors import ConfigError, MessageRejected
from appliance.events import Event
from appliance.evidence_files import is_sha256_name
from appliance.signing import verify
from appliance.topics import parse_device_topic

from .config import LimitSettings
from .device_keys import DeviceKeys

_EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: What a device's retained ``status`` topic (and its last will) may say.
DEVICE_STATES = ("online", "offline")


@dataclass(frozen=True)
class VerifiedEvent:
    """An event whose signature verified, with what storing it needs."""

    event: Event
    digest: str
    time_ns: int
    plate: str | None


@dataclass(frozen=True)
class VerifiedEvidence:
    """Evidence bytes from an enrolled device that hash to their name."""

    device: str
    site: str
    sha256: str
    data: bytes


@dataclass(frozen=True)
class DeviceStatus:
    """A device's retained status (or its last will): online or offline."""

    device: str
    site: str
    online: bool


@dataclass(frozen=True)
class DeviceHealth:
    """A device's latest health summary (JSON object, kept as received)."""

    device: str
    site: str
    summary_json: str


Verified = VerifiedEvent | VerifiedEvidence | DeviceStatus | DeviceHealth


class Ingest:
    """Checks messages against the device keys and the size limits."""

    def __init__(self, keys: DeviceKeys, limits: LimitSettings):
        self.keys = keys
        self.limits = limits

    def check(self, topic: str, payload: bytes) -> Verified:
        """What the message is, once every check passed; MessageRejected otherwise."""
        try:
            site, device, rest = parse_device_topic(topic)
        except ValueError:
            raise MessageRejected("topic", f"{topic!r} is not a roadcam device topic") from None
        kind, _, name = rest.partition("/")
        if kind == "events" and name:
            return self._event(site, device, name, payload)
        if kind == "evidence" and name:
            return self._evidence(site, device, name, payload)
        if rest == "status":
            return self._status(site, device, payload)
        if rest == "health":
            return self._health(site, device, payload)
        raise MessageRejected("topic", f"{topic!r}: the collector does not take this topic")

    def _event(self, site: str, device: str, event_type: str, payload: bytes) -> VerifiedEvent:
        _check_size(payload, self.limits.max_event_bytes, "event")
        try:
            event = Event.model_validate_json(payload, strict=True)
        except ValidationError as error:
            raise MessageRejected("schema", f"{device}: not a valid event envelope "
                                            f"({error.error_count()} problem(s))") from None
        if (event.site, event.device, event.type) != (site, device, event_type):
            raise MessageRejected("topic_mismatch", f"{device}: the envelope names "
                                  f"{event.site}/{event.device}/{event.type}, not its topic's")
        if event.seq < 1:
            raise MessageRejected("schema", f"{device}: seq {event.seq} is below 1")
        _check_finite(event.data, device)
        time_ns = _parse_event_time(event.time, device)
        key = self._key(device)
        canonical = event.canonical_json()
        if not verify(key, canonical, event.sig):
            raise MessageRejected("signature", f"{device}: event {event.id} is unsigned or its "
                                               "signature does not verify with the enrolled key")
        plate = event.data.get("plate")
        return VerifiedEvent(event=event, digest=hashlib.sha256(canonical).hexdigest(),
                             time_ns=time_ns, plate=plate if isinstance(plate, str) else None)

    def _evidence(self, site: str, device: str, sha256: str, payload: bytes) -> VerifiedEvidence:
        _check_size(payload, self.limits.max_evidence_bytes, "evidence")
        if not is_sha256_name(sha256):
            raise MessageRejected("topic", f"{device}: evidence topic names {sha256[:80]!r}, "
                                           "not a sha256")
        self._key(device)
        actual = hashlib.sha256(payload).hexdigest()
        if actual != sha256:
            raise MessageRejected("evidence_hash", f"{device}: evidence {sha256} arrived with "
                                                   f"bytes hashing to {actual}")
        return VerifiedEvidence(device=device, site=site, sha256=sha256, data=bytes(payload))

    def _status(self, site: str, device: str, payload: bytes) -> DeviceStatus:
        self._key(device)
        state = bytes(payload[:16]).decode("ascii", errors="replace").strip()
        if state not in DEVICE_STATES:
            raise MessageRejected("status", f"{device}: status must be one of {DEVICE_STATES}")
        return DeviceStatus(device=device, site=site, online=state == "online")

    def _health(self, site: str, device: str, payload: bytes) -> DeviceHealth:
        _check_size(payload, self.limits.max_health_bytes, "health")
        self._key(device)
        try:
            summary = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise MessageRejected("json", f"{device}: health is not JSON") from None
        if not isinstance(summary, dict):
            raise MessageRejected("schema", f"{device}: health must be a JSON object")
        _check_finite(summary, device)
        return DeviceHealth(device=device, site=site,
                            summary_json=json.dumps(summary, separators=(",", ":"), allow_nan=False))

    def _key(self, device: str):
        try:
            key = self.keys.key(device)
        except ConfigError as error:
            raise MessageRejected("device_key", f"{device}: its enrolled key cannot be used: "
                                                f"{error}") from None
        if key is None:
            raise MessageRejected("unknown_device", f"{device!r} is not enrolled: put its public "
                                                    "key in the device keys folder")
        return key


def _check_size(payload: bytes, limit: int, what: str) -> None:
    if len(payload) > limit:
        raise MessageRejected("oversized", f"{what} of {len(payload)} bytes exceeds the limit "
                                           f"of {limit}")


def _check_finite(value: Any, device: str) -> None:
    """Refuse NaN and infinities anywhere in a payload: they are not JSON and cannot be stored."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise MessageRejected("schema", f"{device}: the payload holds NaN or infinity")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _parse_event_time(text: str, device: str) -> int:
    """UTC nanoseconds of an event's ``time`` (the :func:`~appliance.events.iso_utc` form)."""
    try:
        stamp = datetime.strptime(text, _EVENT_TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise MessageRejected("schema", f"{device}: time {text[:40]!r} is not "
                                        "YYYY-MM-DDTHH:MM:SS.ffffffZ") from None
    return (int(stamp.timestamp()) * 1_000_000 + stamp.microsecond) * 1000
