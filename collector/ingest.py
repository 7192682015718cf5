"""Turn MQTT messages into what the collector may store, or refuse them.

Everything here treats the topic and the payload as hostile: sizes are checked before any
parsing, JSON is parsed by pydantic into the closed :class:`~roadcam.protocol.events.Event` model, the
topic must agree with the envelope, the device must be enrolled (at the topic's site, when its
enrolment names one: reason ``site_mismatch``) and every event must be
authenticated by its device's key, and evidence bytes must hash to the name in their topic. A
refusal is a :class:`~roadcam.common.errors.MessageRejected` whose ``reason`` the collector counts.

Every value is bounded at ingest, so nothing that passes can fail in storage or in a JSON
reader downstream: ``seq`` and every integer anywhere in an event or a health summary lie within
+-(2**53 - 1), ``time`` within the years 1970 to 2199, and strings, lists, objects and their nesting
within :class:`~roadcam.collector.config.LimitSettings` (reason ``out_of_range`` for numbers,
``oversized`` for sizes). An event whose time or seq did not fit a 64-bit BIGINT once killed the
collector's writer thread.

Messages are checked a batch at a time (:meth:`Ingest.check_messages`, what the collector's
writer takes in one transaction) so events can be authenticated along their hash chain: the
signature of the newest event of each chain segment in the batch is verified and the older ones
are taken on their digests (:mod:`roadcam.collector.chain_signatures`). An event must still carry a
well-formed signature, which is stored with it, so each event can be verified on its own later.
A batch message (``.../events``, JSON lines) gives one item or one refusal per line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from roadcam.common.errors import ConfigError, MessageRejected
from roadcam.common.evidence_files import is_sha256_name
from roadcam.protocol.bounded_json import HostileJSON, loads_bounded
from roadcam.protocol.event_batches import split_event_batch
from roadcam.protocol.events import Event
from roadcam.protocol.signing import verify
from roadcam.protocol.topics import parse_device_topic

from .chain_signatures import authentic_events
from .config import LimitSettings
from .device_keys import DeviceKeys

#: An event's ``time``, as :func:`~roadcam.protocol.events.iso_utc` writes it (ASCII digits only).
_EVENT_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Bytes of an Ed25519 signature.
_SIGNATURE_BYTES = 64
#: Largest magnitude of ``seq`` and of any integer in an event or a health summary: the largest
#: integer a JSON reader working in doubles (JavaScript, most dashboards) holds exactly, far
#: inside a signed 64-bit BIGINT even after the storage's seq + 1 arithmetic. A device writing
#: 10,000 events a second needs 28,000 years to reach it.
INTEGER_MAX = 2**53 - 1
#: Years an event's ``time`` may fall in. From the Unix epoch, because a device without a
#: real-time clock that has not synced yet stamps 1970 (refusing it would leave a gap in its
#: chain for good); up to 2199, far inside the 64-bit nanoseconds that end in April 2262.
EVENT_YEARS = (1970, 2199)
#: Longest event id and event type (both are stored in indexed columns).
_IDENTIFIER_MAX_CHARS = 128
#: What a device's retained ``status`` topic (and its last will) may say.
DEVICE_STATES = ("online", "offline")


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """An authenticated event (its own signature verified, or a later authenticated event of
    its device links to its digest), with what storing it needs."""

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


@dataclass(frozen=True)
class CheckedMessage:
    """What one message gave: items to store and refusals to count (a batch can give both)."""

    items: tuple[Verified, ...]
    refusals: tuple[MessageRejected, ...]


@dataclass(eq=False, slots=True)
class _ParsedEvent:
    """An event that passed every check but authentication (compared by identity)."""

    event: Event
    canonical: bytes
    digest: str
    time_ns: int
    plate: str | None

    @property
    def seq(self) -> int:
        return self.event.seq

    @property
    def prev(self) -> str | None:
        return self.event.prev

    def verified(self) -> VerifiedEvent:
        return VerifiedEvent(event=self.event, digest=self.digest, time_ns=self.time_ns, plate=self.plate)


class Ingest:
    """Checks messages against the device keys and the size limits."""

    def __init__(self, keys: DeviceKeys, limits: LimitSettings):
        self.keys = keys
        self.limits = limits

    def check(self, topic: str, payload: bytes) -> Verified:
        """What a message carrying one item is, once every check passed; MessageRejected
        otherwise. A batch of several events gives several items: use :meth:`check_messages`."""
        (checked,) = self.check_messages([(topic, payload)])
        if checked.refusals:
            raise checked.refusals[0]
        if len(checked.items) != 1:
            raise ValueError(f"{topic!r} carried {len(checked.items)} items; check takes a message "
                             "of one item, check_messages any")
        return checked.items[0]

    def check_messages(self, messages: Sequence[tuple[str, bytes]]) -> list[CheckedMessage]:
        """Each (topic, payload)'s items and refusals, in order; events are authenticated
        together, each on its own signature or on the chain from a later one of the batch."""
        parsed = [self._parse(topic, payload) for topic, payload in messages]
        authentic = self._authenticate([item for results in parsed for item in results
                                        if isinstance(item, _ParsedEvent)])
        return [_checked(results, authentic) for results in parsed]

    def _authenticate(self, events: list[_ParsedEvent]) -> set[_ParsedEvent]:
        """The events authenticated by their device's key (see :mod:`roadcam.collector.chain_signatures`)."""
        by_device: dict[str, list[_ParsedEvent]] = {}
        for parsed in events:
            by_device.setdefault(parsed.event.device, []).append(parsed)
        authentic: set[_ParsedEvent] = set()
        for device, device_events in by_device.items():
            authentic.update(authentic_events(device_events, _signature_check(self._key(device))))
        return authentic

    def _parse(self, topic: str, payload: bytes) -> list[Verified | _ParsedEvent | MessageRejected]:
        """Everything but event authentication, for one message: what it holds, or why not."""
        try:
            site, device, rest = parse_device_topic(topic)
        except ValueError:
            return [MessageRejected("topic", f"{topic[:200]!r} is not a roadcam device topic")]
        kind, _, name = rest.partition("/")
        try:
            self._key(device)
            self._check_site(site, device)
            if rest == "events":
                return self._event_batch(site, device, payload)
            if kind == "events" and name:
                return [self._event(site, device, name, payload)]
            if kind == "evidence" and name:
                return [self._evidence(site, device, name, payload)]
            if rest == "status":
                return [self._status(site, device, payload)]
            if rest == "health":
                return [self._health(site, device, payload)]
            raise MessageRejected("topic", f"{topic[:200]!r}: the collector does not take this topic")
        except MessageRejected as refusal:
            return [refusal]

    def _event_batch(self, site: str, device: str,
                     payload: bytes) -> list[_ParsedEvent | MessageRejected]:
        """One parsed event or one refusal per line of a batch message."""
        _check_size(payload, self.limits.max_batch_bytes, "event batch")
        lines = split_event_batch(payload)
        if len(lines) > self.limits.max_batch_events:
            raise MessageRejected("oversized", f"{device}: a batch of {len(lines)} events exceeds "
                                               f"the limit of {self.limits.max_batch_events}")
        results: list[_ParsedEvent | MessageRejected] = []
        for line in lines:
            try:
                results.append(self._event(site, device, None, line))
            except MessageRejected as refusal:
                results.append(refusal)
        return results

    def _event(self, site: str, device: str, event_type: str | None, payload: bytes) -> _ParsedEvent:
        """A parsed event; ``event_type`` is the one its topic names (None: a batch line)."""
        _check_size(payload, self.limits.max_event_bytes, "event")
        try:
            event = Event.model_validate_json(payload, strict=True)
        except ValidationError as error:
            raise MessageRejected("schema", f"{device}: not a valid event envelope "
                                            f"({error.error_count()} problem(s))") from None
        if (event.site, event.device) != (site, device) or event_type not in (None, event.type):
            raise MessageRejected("topic_mismatch", f"{device}: the envelope names "
                                  f"{event.site}/{event.device}/{event.type}, not its topic's")
        if not 1 <= event.seq <= INTEGER_MAX:
            raise MessageRejected("out_of_range", f"{device}: seq {event.seq} is outside 1..{INTEGER_MAX}")
        time_ns = _parse_event_time(event.time, device)
        if not _well_formed_signature(event.sig):
            raise _bad_signature(event)
        self._check_envelope(event)
        canonical = event.canonical_json()
        plate = event.data.get("plate")
        return _ParsedEvent(event=event, canonical=canonical, digest=hashlib.sha256(canonical).hexdigest(),
                            time_ns=time_ns, plate=plate if isinstance(plate, str) else None)

    def _check_envelope(self, event: Event) -> None:
        """Refuse an event whose id, type, prev, clock, data or evidence list storage or a JSON
        reader could not take (the size of the whole event is already bounded)."""
        device = event.device
        for name, text in (("id", event.id), ("type", event.type)):
            if len(text) > _IDENTIFIER_MAX_CHARS:
                raise MessageRejected("oversized", f"{device}: an event {name} of {len(text)} "
                                                   f"characters exceeds {_IDENTIFIER_MAX_CHARS}")
            _check_no_nul(text, device)
        if event.prev is not None and not is_sha256_name(event.prev):
            raise MessageRejected("schema", f"{device}: event {event.id[:40]}: prev is not a sha256")
        _check_bounds(event.clock, self.limits, device)
        _check_bounds(event.data, self.limits, device)
        if len(event.evidence) > self.limits.max_items:
            raise MessageRejected("oversized", f"{device}: {len(event.evidence)} evidence files "
                                               f"exceed the limit of {self.limits.max_items}")
        for ref in event.evidence:
            if not is_sha256_name(ref.sha256):
                raise MessageRejected("schema", f"{device}: evidence {ref.sha256[:80]!r} is not a sha256")
            if not 0 <= ref.bytes <= self.limits.max_evidence_bytes:
                raise MessageRejected("out_of_range", f"{device}: evidence of {ref.bytes} bytes is "
                                                      f"outside 0..{self.limits.max_evidence_bytes}")
            _check_bounds([ref.kind, ref.media_type], self.limits, device)

    def _evidence(self, site: str, device: str, sha256: str, payload: bytes) -> VerifiedEvidence:
        _check_size(payload, self.limits.max_evidence_bytes, "evidence")
        if not is_sha256_name(sha256):
            raise MessageRejected("topic", f"{device}: evidence topic names {sha256[:80]!r}, "
                                           "not a sha256")
        actual = hashlib.sha256(payload).hexdigest()
        if actual != sha256:
            raise MessageRejected("evidence_hash", f"{device}: evidence {sha256} arrived with "
                                                   f"bytes hashing to {actual}")
        return VerifiedEvidence(device=device, site=site, sha256=sha256, data=bytes(payload))

    def _status(self, site: str, device: str, payload: bytes) -> DeviceStatus:
        state = bytes(payload[:16]).decode("ascii", errors="replace").strip()
        if state not in DEVICE_STATES:
            raise MessageRejected("status", f"{device}: status must be one of {DEVICE_STATES}")
        return DeviceStatus(device=device, site=site, online=state == "online")

    def _health(self, site: str, device: str, payload: bytes) -> DeviceHealth:
        _check_size(payload, self.limits.max_health_bytes, "health")
        try:
            summary = loads_bounded(payload, max_depth=self.limits.max_depth)
        except HostileJSON as error:
            raise MessageRejected("json", f"{device}: health is not bounded JSON: {error}") from None
        if not isinstance(summary, dict):
            raise MessageRejected("schema", f"{device}: health must be a JSON object")
        _check_bounds(summary, self.limits, device)
        return DeviceHealth(device=device, site=site,
                            summary_json=json.dumps(summary, separators=(",", ":"), allow_nan=False))

    def _check_site(self, site: str, device: str) -> None:
        """Refuse a message of a device under a site other than the one it is enrolled at
        (:mod:`roadcam.collector.device_keys`): a device never moves between sites by what it sends."""
        enrolled = self.keys.enrolment(device).site
        if enrolled is not None and site != enrolled:
            raise MessageRejected("site_mismatch", f"{device}: sent under site {site[:80]!r}, but "
                                                   f"it is enrolled at {enrolled!r}")

    def _key(self, device: str) -> Ed25519PublicKey:
        try:
            key = self.keys.key(device)
        except ConfigError as error:
            raise MessageRejected("device_key", f"{device}: its enrolled key cannot be used: "
                                                f"{error}") from None
        if key is None:
            raise MessageRejected("unknown_device", f"{device!r} is not enrolled: put its public "
                                                    "key in the device keys folder")
        return key


def _checked(results: list[Verified | _ParsedEvent | MessageRejected],
             authentic: set[_ParsedEvent]) -> CheckedMessage:
    """One message's items (authentic events as :class:`VerifiedEvent`) and refusals."""
    items: list[Verified] = []
    refusals: list[MessageRejected] = []
    for result in results:
        if isinstance(result, MessageRejected):
            refusals.append(result)
        elif not isinstance(result, _ParsedEvent):
            items.append(result)
        elif result in authentic:
            items.append(result.verified())
        else:
            refusals.append(_bad_signature(result.event))
    return CheckedMessage(items=tuple(items), refusals=tuple(refusals))


def _signature_check(key: Ed25519PublicKey) -> Callable[[_ParsedEvent], bool]:
    """Whether a parsed event's own signature verifies with ``key``."""
    return lambda parsed: verify(key, parsed.canonical, parsed.event.sig)


def _bad_signature(event: Event) -> MessageRejected:
    return MessageRejected("signature", f"{event.device}: event {event.id} is unsigned or its "
                                        "signature does not verify with the enrolled key")


def _well_formed_signature(signature: str | None) -> bool:
    """Whether ``signature`` is base64 of an Ed25519 signature's 64 bytes (not whether it verifies)."""
    if not signature:
        return False
    try:
        return len(base64.b64decode(signature, validate=True)) == _SIGNATURE_BYTES
    except (binascii.Error, ValueError):
        return False


def _check_size(payload: bytes, limit: int, what: str) -> None:
    if len(payload) > limit:
        raise MessageRejected("oversized", f"{what} of {len(payload)} bytes exceeds the limit "
                                           f"of {limit}")


def _check_bounds(value: Any, limits: LimitSettings, device: str) -> None:
    """Refuse what storage or a JSON reader cannot take anywhere in a parsed JSON ``value``
    (itself nesting level 1): NaN and infinities (not JSON), integers beyond
    :data:`INTEGER_MAX`, strings and keys holding NUL or longer than ``max_string_chars``,
    lists and objects of more than ``max_items`` or nested deeper than ``max_depth``.
    Iterative, so any depth the parser let through is walked without recursion; dispatches on
    exact types, which is what JSON parsing gives (a bool is not an int here)."""
    max_chars, max_items, max_depth = limits.max_string_chars, limits.max_items, limits.max_depth
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if len(item) > max_chars:
                raise MessageRejected("oversized", f"{device}: a string of {len(item)} characters "
                                                   f"exceeds the limit of {max_chars}")
            _check_no_nul(item, device)
        elif kind is int:
            if not -INTEGER_MAX <= item <= INTEGER_MAX:
                raise MessageRejected("out_of_range", f"{device}: the integer {str(item)[:30]} is "
                                                      f"outside +-{INTEGER_MAX}")
        elif kind is float:
            if not math.isfinite(item):
                raise MessageRejected("schema", f"{device}: the payload holds NaN or infinity")
        elif kind is dict or kind is list:
            if depth > max_depth or len(item) > max_items:
                raise MessageRejected("oversized", f"{device}: a list or object of {len(item)} items "
                                                   f"at nesting level {depth} exceeds the limits of "
                                                   f"{max_items} items, {max_depth} levels")
            if kind is dict:
                stack.extend((key, depth) for key in item)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)


def _check_no_nul(text: str, device: str) -> None:
    """Refuse a string holding NUL: PostgreSQL text cannot store it (the plate column would
    make every retry of the batch fail), and C-string readers cut it short."""
    if "\x00" in text:
        raise MessageRejected("schema", f"{device}: a string holds a NUL character")


def _parse_event_time(text: str, device: str) -> int:
    """UTC nanoseconds of an event's ``time`` (the :func:`~roadcam.protocol.events.iso_utc` form),
    refused outside :data:`EVENT_YEARS`."""
    try:
        if _EVENT_TIME.fullmatch(text) is None:
            raise ValueError(text)
        since_epoch = datetime.fromisoformat(text) - _UNIX_EPOCH
    except ValueError:
        raise MessageRejected("schema", f"{device}: time {text[:40]!r} is not "
                                        "YYYY-MM-DDTHH:MM:SS.ffffffZ") from None
    first, last = EVENT_YEARS
    if not first <= int(text[:4]) <= last:
        raise MessageRejected("out_of_range", f"{device}: time {text} is outside the years "
                                              f"{first} to {last}")
    return ((since_epoch.days * 86_400 + since_epoch.seconds) * 1_000_000
            + since_epoch.microseconds) * 1000
