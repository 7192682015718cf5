"""The gate that checks the collector's signed, versioned commands on the device.

The wire format (fields, what the signature covers) is :mod:`roadcam.protocol.commands`.

:class:`CommandGate` refuses anything unsigned, altered, malformed, named differently from its
topic, addressed to another device, replayed (a version not above the highest accepted for that name) or too old, with
:class:`~roadcam.common.errors.CommandRefused`. The highest versions are written to a small file
before the command runs, so neither a restart nor a crash reopens a replay.

The payload is parsed with :func:`~roadcam.protocol.bounded_json.loads_bounded` before anything else:
anyone who may publish on a command topic could otherwise send ``b"[" * 100000`` and make
``json.loads`` raise RecursionError on the network thread.

Retained state (the hotlist, :data:`~roadcam.protocol.commands.RETAINED_STATE`) is judged by its
version alone: the broker hands the retained copy to a device whenever it connects, however long
ago it was issued, so its age says nothing about a replay. The copy of the version the device
already accepted arrives again on every reconnect: it is not an attack, and the gate admits it
as a ``repeat``. The
uplink hands a repeat on quietly (no result, no event), and the plugin that holds the state
skips a version it already has, so a device that crashed after the gate recorded a version but
before the plugin saved the state still gets it from the next retained copy.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from roadcam.common.errors import CommandRefused, StoreError
from roadcam.protocol.bounded_json import HostileJSON, loads_bounded
from roadcam.protocol.commands import (
    COMMAND_FIELDS,
    COMMAND_MAX_BYTES,
    EVERY_DEVICE,
    HOTLIST_COMMAND,
    RETAINED_STATE,
    signed_bytes,
)
from roadcam.protocol.signing import verify

from .atomic_write import write_atomically


@dataclass(frozen=True)
class Command:
    """A command that passed the gate."""

    name: str
    version: int
    args: dict[str, Any]
    #: The retained copy of the version already accepted, as the broker sends it on every reconnect.
    repeat: bool = False


class VersionFile:
    """The highest version accepted per command name, kept in a small JSON file written
    atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._highest = self._read()

    def _read(self) -> dict[str, int]:
        try:
            highest = json.loads(self.path.read_text())["highest_versions"]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self.path}: cannot read the command version file ({exc}). It guards "
                             "against replayed commands: restore it, or delete it only if the "
                             "collector's next command versions are known to be higher than any "
                             "used before.") from None
        if not isinstance(highest, dict) or not all(isinstance(v, int) for v in highest.values()):
            raise StoreError(f"{self.path}: highest_versions must map command names to integers")
        return highest

    def highest(self, name: str) -> int:
        """The highest version of command ``name`` accepted so far (0 for none)."""
        return self._highest.get(name, 0)

    def advance(self, name: str, version: int) -> None:
        """Record ``version`` as the highest accepted for ``name``; durable when this returns."""
        highest = {**self._highest, name: version}
        write_atomically(self.path, json.dumps({"highest_versions": highest}).encode())
        self._highest = highest


class CommandGate:
    """Checks the commands of one device; see the module docstring. Thread-safe."""

    def __init__(self, collector_key: Ed25519PublicKey | None, versions: VersionFile, *, device: str,
                 max_age_ns: int):
        self._collector_key = collector_key
        self._device = device
        self._versions = versions
        self._max_age_ns = max_age_ns
        self._lock = threading.Lock()

    def admit(self, name: str, payload: bytes, now_ns: int) -> Command:
        """The command in ``payload`` received on the topic of command ``name``, if it passes
        every check; raises :class:`CommandRefused` with the reason otherwise."""
        message = _message(payload)
        version = message["version"]
        if self._collector_key is None:
            raise CommandRefused("no collector key is configured (uplink.collector_key_file)", version)
        if not verify(self._collector_key, signed_bytes(message), message["sig"]):
            raise CommandRefused("bad signature: altered, or not signed by the collector", version)
        if message["name"] != name:
            raise CommandRefused(f"signed for the command {message['name']!r}, received as {name!r}", version)
        addressed_to_all = message["device"] == EVERY_DEVICE and name == HOTLIST_COMMAND
        if message["device"] != self._device and not addressed_to_all:
            raise CommandRefused(f"addressed to device {message['device']!r}, not to this one", version)
        issued_ns = _utc_ns(message["issued_at"], version)
        if name not in RETAINED_STATE:
            self._check_age(now_ns - issued_ns, version)
        with self._lock:
            highest = self._versions.highest(name)
            if version == highest and name in RETAINED_STATE:
                return Command(name, version, message["body"], repeat=True)
            if version <= highest:
                raise CommandRefused(f"replayed or older: version {version}, already accepted {highest}", version)
            self._versions.advance(name, version)
        return Command(name, version, message["body"])

    def _check_age(self, age_ns: int, version: int) -> None:
        """Refuse a command issued longer ago (or further ahead) than the maximum age: a captured
        command is useless to replay once its moment has passed."""
        if abs(age_ns) > self._max_age_ns:
            raise CommandRefused(f"too old or from the future: issued {age_ns / 1e9:.0f} s ago "
                                 "(check both clocks)", version)


def _message(payload: bytes) -> dict[str, Any]:
    """The command object in a payload (parsed within size and depth limits); CommandRefused
    when it is not one."""
    try:
        message = loads_bounded(payload, max_bytes=COMMAND_MAX_BYTES)
    except HostileJSON as exc:
        raise CommandRefused(f"malformed: {exc}") from None
    if not isinstance(message, dict):
        raise CommandRefused("malformed: not a JSON object")
    version = message.get("version")
    version = version if type(version) is int else None
    if not message.get("sig"):
        raise CommandRefused("unsigned", version)
    if set(message) != COMMAND_FIELDS:
        raise CommandRefused(f"malformed: the keys must be exactly {', '.join(sorted(COMMAND_FIELDS))}", version)
    if version is None or version < 1 or not isinstance(message["sig"], str) \
            or not isinstance(message["body"], dict) or not isinstance(message["issued_at"], str):
        raise CommandRefused("malformed: version must be an integer >= 1, body an object, "
                             "issued_at and sig strings", version)
    return message


def _utc_ns(stamp: str, version: int) -> int:
    """UTC nanoseconds of an ``iso_utc`` stamp; CommandRefused when it is not one."""
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise CommandRefused(f"malformed: issued_at {stamp[:40]!r} is not UTC ISO 8601 with Z", version) from None
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000
