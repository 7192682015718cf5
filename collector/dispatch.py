"""Commands and hotlists from the central office to the devices (``roadcam-collector command``
and ``roadcam-collector hotlist``).

Everything sent is signed with the collector's key (``signing_key`` in its config) in the format
of :mod:`roadcam.collector.commands`. Versions come from the collector database
(:meth:`~collector.sql_storage.SqlStorage.issue_command_version`): one above the last issued for
that command name, and never below the current time in milliseconds, so a collector whose
database was rebuilt still issues versions above those its devices already accepted. A command
is addressed to one device on its site's topic (its enrolled site, else where it last reported); a full
hotlist goes to every device, retained (and is kept in storage, so the collector publishes it
again whenever it connects to the broker); a hotlist change is a delta on the last hotlist
version issued. A publish the broker refuses (a PUBACK reason code of 0x80 or more) or cannot take is an
error, never silence.

The device answers with a ``command.result`` event (stored by the collector like any other
event, its ``data`` naming the command and version); :func:`wait_for_result` polls storage for it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from roadcam.common.errors import ConfigError, RoadcamError
from roadcam.protocol.commands import EVERY_DEVICE, HOTLIST_COMMAND, sign_command
from roadcam.protocol.hotlist import HotlistRefused, delta_body, full_body, hotlist_entry
from roadcam.protocol.signing import load_private_key
from roadcam.protocol.topics import HOTLIST, DeviceTopics

from .config import CollectorConfig
from .device_keys import DeviceKeys
from .service import broker_client
from .sql_storage import SqlStorage
from .storage import EventQuery, RetainedMessage

#: Seconds to connect to the broker and have one publish acknowledged.
PUBLISH_TIMEOUT_S = 15.0


class DispatchFailed(RoadcamError, ConnectionError):
    """A command or hotlist could not be handed to the broker; the message says why."""


@dataclass(frozen=True)
class Dispatched:
    """What was sent: the command name, the addressee (``*`` for every device), the version."""

    name: str
    device: str
    version: int


class Dispatcher:
    """Signs, versions and publishes commands and hotlists for one collector config."""

    def __init__(self, config: CollectorConfig, storage: SqlStorage):
        if config.signing_key is None:
            raise ConfigError("signing_key: set the collector's Ed25519 private key (PEM) to send "
                              "commands and hotlists")
        self._config = config
        self._storage = storage
        self._key = load_private_key(config.signing_key)

    def send_command(self, device: str, name: str, body: dict[str, Any], site: str | None = None) -> Dispatched:
        """Send command ``name`` with ``body`` to ``device`` (on ``site``, default: the site the
        registry knows it on)."""
        if name == HOTLIST_COMMAND:
            raise ConfigError("the hotlist goes to every device: use 'roadcam-collector hotlist'")
        topics = DeviceTopics(site or self._site_of(device), device)
        version = self._storage.issue_command_version(name, at_least=time.time_ns() // 1_000_000)
        payload = sign_command(self._key, name, body, version, device=device)
        self._publish(topics.command(name), json.dumps(payload), retain=False)
        return Dispatched(name, device, version)

    def publish_hotlist(self, entries: list[dict[str, Any]]) -> Dispatched:
        """Send the whole hotlist to every device, retained (a device that connects later gets it)."""
        return self._hotlist(full_body(entries), retain=True)

    def change_hotlist(self, add: list[dict[str, Any]], remove: list[str]) -> Dispatched:
        """Send a change to the last hotlist issued (not retained: a device that missed the base
        refuses the change and keeps its list until the next full one)."""
        base = self._storage.command_version(HOTLIST_COMMAND)
        if base == 0:
            raise ConfigError("no hotlist was published from this collector yet: publish a full one first")
        return self._hotlist(delta_body(base, add, remove), retain=False)

    def _hotlist(self, body: dict[str, Any], retain: bool) -> Dispatched:
        """Sign and publish a hotlist; a retained one is first kept in storage, exactly as
        published, for the collector to publish again whenever it connects (a broker that lost
        it, killed before its save or replaced, gets it back). Kept before the publish: kept
        after, a crash in between would leave an older list in storage to replace the newer one
        on the broker."""
        version = self._storage.issue_command_version(HOTLIST_COMMAND, at_least=time.time_ns() // 1_000_000)
        payload = json.dumps(sign_command(self._key, HOTLIST_COMMAND, body, version, device=EVERY_DEVICE))
        if retain:
            self._storage.keep_retained(RetainedMessage(HOTLIST, payload, version, time.time_ns()))
        self._publish(HOTLIST, payload, retain=retain)
        return Dispatched(HOTLIST_COMMAND, EVERY_DEVICE, version)

    def _site_of(self, device: str) -> str:
        """The device's site: as enrolled in the registry, else where it last reported."""
        enrolment = DeviceKeys(self._config.device_keys_dir).enrolment(device)
        if enrolment is not None and enrolment.site is not None:
            return enrolment.site
        for record in self._storage.devices():
            if record.device == device:
                return record.site
        raise ConfigError(f"device {device!r} has never reported to this collector, so its site is "
                          "unknown: check the device id or pass --site")

    def _publish(self, topic: str, payload: str, retain: bool) -> None:
        """Publish at QoS 1 on a short-lived connection and wait for the broker's PUBACK."""
        broker = self._config.broker
        client = broker_client(broker, f"{broker.client_id}-send-{os.getpid()}")
        connected, acknowledged = threading.Event(), threading.Event()
        outcome: dict[str, Any] = {}

        def on_connect(client, userdata, flags, reason_code, properties):
            outcome["connect"] = reason_code
            connected.set()

        def on_publish(client, userdata, mid, reason_code, properties):
            outcome["puback"] = reason_code
            acknowledged.set()

        client.on_connect, client.on_publish = on_connect, on_publish
        try:
            client.connect(broker.host, broker.port, keepalive=broker.keepalive_s)
        except OSError as exc:
            raise DispatchFailed(f"cannot reach the broker at {broker.host}:{broker.port} ({exc}); "
                                 "check broker.host and broker.port") from exc
        client.loop_start()
        try:
            if not connected.wait(PUBLISH_TIMEOUT_S) or outcome["connect"].is_failure:
                raise DispatchFailed(f"the broker at {broker.host}:{broker.port} did not accept the "
                                     f"connection ({outcome.get('connect', 'no answer')}); check broker.tls")
            client.publish(topic, payload, qos=1, retain=retain)
            if not acknowledged.wait(PUBLISH_TIMEOUT_S):
                raise DispatchFailed(f"the broker did not acknowledge the publish on {topic} within "
                                     f"{PUBLISH_TIMEOUT_S:.0f} s")
            if outcome["puback"].is_failure:
                raise DispatchFailed(f"the broker refused the publish on {topic}: {outcome['puback']} "
                                     "(check that the ACL lets this collector write commands and the hotlist)")
        finally:
            client.disconnect()
            client.loop_stop()


def wait_for_result(storage: SqlStorage, sent: Dispatched, timeout_s: float) -> dict[str, Any] | None:
    """The device's answer to ``sent`` (its ``command.result`` event's result), once the
    collector has stored it; None if it has not arrived within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        for event in storage.events(EventQuery(device=sent.device, type="command.result", limit=100_000)):
            if event.data.get("command") == sent.name and event.data.get("version") == sent.version:
                return event.data.get("result")
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def read_hotlist_entries(path: Path) -> list[dict[str, Any]]:
    """Hotlist entries from a YAML or JSON file: a list of ``{plate, reason, priority, note}``
    (or ``{entries: [...]}``), checked as the devices check them (so a list a device would refuse
    is never sent). ConfigError names the file and entry at fault."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the hotlist ({exc})") from exc
    entries = data.get("entries") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: a hotlist is a list of entries such as "
                          "'- {plate: ABC-1234, reason: stolen, priority: 1}'")
    checked = []
    for index, entry in enumerate(entries, 1):
        try:
            checked.append(asdict(hotlist_entry(entry)))
        except HotlistRefused as exc:
            raise ConfigError(f"{path}: entry {index}: {exc}") from exc
    return checked
