"""The device's inbound MQTT side under hostile and awkward input (issue 22, items 2, 5 and 6),
against the shipped broker config (TLS, ACL) with a test PKI, the real collector and a real
appliance:

- ``b"[" * 100000`` on the device's command topic, its ack topic, or retained on the hotlist
  topic (before or after the device connects) is refused; the device still answers commands and
  its events are still acknowledged;
- an exception in a paho callback is a fault, not a dead network thread; a network thread that
  dies all the same is a fault and a new connection;
- a device that connects long after the hotlist was published applies the retained copy, and
  getting it again on every reconnect stores no security event.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from appliances import stored
from uplink_doubles import TOPICS, uplink_appliance, wait_until

from roadcam.appliance.events import EventDraft
from roadcam.collector.config import CollectorConfig
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.dispatch import Dispatcher, wait_for_result
from roadcam.collector.ingest import Ingest
from roadcam.collector.local_broker import production_broker
from roadcam.collector.service import Collector, broker_client
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.protocol.commands import sign_command
from roadcam.protocol.signing import load_private_key
from roadcam.protocol.topics import HOTLIST

pytestmark = pytest.mark.integration

#: Nesting deep enough to make json.loads raise RecursionError.
DEEP = b"[" * 100_000
STOLEN = {"plate": "ABC-1234", "reason": "stolen", "priority": 1}
DAY_NS = 86_400 * 10**9
DEVICE = TOPICS.device


@pytest.fixture
def broker(tmp_path, pki):
    """Mosquitto with the shipped config: TLS client certificates, the ACL, persistence."""
    with production_broker(tmp_path / "broker", pki.root) as broker:
        yield broker


@pytest.fixture
def office(tmp_path, broker, pki):
    """The central office: a collector (collector-1) storing and acking, and what sends commands."""
    cert, key = pki.client("collector-1")
    config = CollectorConfig.model_validate({
        "broker": {"host": broker.host, "port": broker.port, "client_id": "collector-1",
                   "tls": {"ca_file": pki.ca, "cert_file": cert, "key_file": key}, "reconnect_max_s": 1},
        "storage": {"database": tmp_path / "collector.db", "evidence_dir": tmp_path / "collector-evidence"},
        "device_keys_dir": pki.device_keys_dir, "signing_key": pki.collector_signing_key})
    with SQLiteStorage(config.storage.database, config.storage.evidence_dir) as storage:
        collector = Collector(config.broker, storage, Ingest(DeviceKeys(config.device_keys_dir), config.limits))
        collector.start()
        assert collector.wait_connected(10), "the collector did not connect"
        try:
            with SQLiteStorage(config.storage.database, config.storage.evidence_dir) as reader:
                yield Office(config, reader)
        finally:
            collector.stop()


class Office:
    """Sends as the collector does (signed, versioned commands) and, with the same identity, raw
    payloads; ``storage`` reads what the collector stored."""

    def __init__(self, config: CollectorConfig, storage: SQLiteStorage):
        self.config = config
        self.storage = storage
        self.dispatcher = Dispatcher(config, storage)

    def command(self, name: str = "run_diagnostics") -> dict:
        """Send a signed command to the bench device; its result once the collector stored it."""
        sent = self.dispatcher.send_command(DEVICE, name, {}, site=TOPICS.site)
        result = wait_for_result(self.storage, sent, timeout_s=15)
        assert result is not None, f"no answer to {sent}"
        return result

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish raw bytes at QoS 1 and wait for the broker to accept them."""
        client = broker_client(self.config.broker, "office-raw")
        accepted = threading.Event()
        client.on_publish = lambda client, userdata, mid, reason_code, properties: (
            accepted.set() if not reason_code.is_failure else None)
        client.connect(self.config.broker.host, self.config.broker.port)
        client.loop_start()
        try:
            client.publish(topic, payload, qos=1, retain=retain)
            assert accepted.wait(10), f"the broker did not accept the publish on {topic}"
        finally:
            client.disconnect()
            client.loop_stop()


def device(tmp_path, broker, pki):
    """The bench appliance on the broker with its own certificate, signing its events and
    trusting the collector's key."""
    cert, key = pki.client(DEVICE)
    return uplink_appliance(tmp_path, broker, tls={"ca_file": str(pki.ca), "cert_file": str(cert),
                                                   "key_file": str(key)},
                            signing_key_file=str(pki.signing_key(DEVICE)),
                            collector_key_file=str(pki.collector_public_key))


def connected(appliance) -> None:
    wait_until(lambda: appliance.health()["uplink"]["connected"], what="the device connected")


def delivers(appliance) -> None:
    """A new event reaches the collector and its ack empties the outbox."""
    appliance.submit([EventDraft("plate.read", {"plate": "XYZ5678"}, appliance.clock.wall_ns())])
    wait_until(lambda: appliance.store.usage().pending == 0, timeout_s=15, what="the outbox to empty")


def uplink_of(appliance):
    return appliance.plugin_manager.get_plugin("uplink.link").uplink


def signed_json(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def results(tmp_path, name: str) -> list[dict]:
    return [event.data for event in stored(tmp_path, "command.result") if event.data["command"] == name]


def test_a_deep_payload_on_every_topic_the_device_reads_is_refused_and_it_keeps_working(tmp_path, broker, pki,
                                                                                        office):
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        connected(appliance)
        office.publish(TOPICS.command("run_diagnostics"), DEEP)
        office.publish(TOPICS.ack, DEEP)
        office.publish(HOTLIST, DEEP, retain=True)
        wait_until(lambda: len(stored(tmp_path, "security.refused")) == 2, what="two security events")
        assert office.command()["ok"] is True
        delivers(appliance)
        figures = appliance.health()["uplink"]
    finally:
        appliance.shutdown()
    assert figures["callback_failures"] == 0 and figures["network_restarts"] == 0
    refused = {event.data["command"]: event.data["reason"] for event in stored(tmp_path, "security.refused")}
    assert refused.keys() == {"run_diagnostics", "hotlist"}
    assert all(reason.startswith("malformed: nested 100000 levels deep") for reason in refused.values())


def test_a_device_that_connects_after_a_deep_retained_hotlist_still_works(tmp_path, broker, pki, office):
    office.publish(HOTLIST, DEEP, retain=True)
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        wait_until(lambda: stored(tmp_path, "security.refused"), what="the refused hotlist")
        assert office.command()["ok"] is True
        delivers(appliance)
    finally:
        appliance.shutdown()


def test_an_exception_in_a_callback_is_a_fault_and_the_network_thread_goes_on(tmp_path, broker, pki, office,
                                                                              monkeypatch):
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        connected(appliance)
        gate = uplink_of(appliance)._gate
        admit = gate.admit

        def fail_once(*args):
            monkeypatch.setattr(gate, "admit", admit)
            raise RuntimeError("injected")

        monkeypatch.setattr(gate, "admit", fail_once)
        office.dispatcher.send_command(DEVICE, "run_diagnostics", {}, site=TOPICS.site)
        wait_until(lambda: any(f.code == "uplink.inbound" for f in appliance.faults.active()),
                   what="the uplink.inbound fault")
        assert office.command()["ok"] is True
        delivers(appliance)
        assert appliance.health()["uplink"]["callback_failures"] == 1
    finally:
        appliance.shutdown()
    (fault,) = [event.data for event in stored(tmp_path, "fault.raised") if event.data["code"] == "uplink.inbound"]
    assert "_on_message" in fault["message"] and "RuntimeError: injected" in fault["message"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the injected death
def test_a_dead_network_thread_is_a_fault_and_a_new_connection(tmp_path, broker, pki, office):
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        connected(appliance)
        client = uplink_of(appliance)._client

        def die_once(message):  # an exception out of paho's own code ends its network thread
            del client._handle_on_message
            raise RuntimeError("injected into paho")

        client._handle_on_message = die_once
        sent = office.dispatcher.send_command(DEVICE, "run_diagnostics", {}, site=TOPICS.site)
        # The command was never acknowledged to the broker, which sends it again on the new connection.
        assert (wait_for_result(office.storage, sent, timeout_s=15) or {}).get("ok") is True
        delivers(appliance)
        assert appliance.health()["uplink"]["network_restarts"] == 1
    finally:
        appliance.shutdown()
    assert "uplink.network" in [event.data["code"] for event in stored(tmp_path, "fault.raised")]
    assert "uplink.network" in [event.data["code"] for event in stored(tmp_path, "fault.cleared")]


def test_a_device_that_connects_long_after_the_hotlist_was_published_applies_it(tmp_path, broker, pki, office):
    key = load_private_key(pki.collector_signing_key)
    published = sign_command(key, "hotlist", {"kind": "full", "entries": [STOLEN]}, 7, device="*",
                             issued_at_ns=time.time_ns() - 30 * DAY_NS)
    office.publish(HOTLIST, signed_json(published), retain=True)
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        wait_until(lambda: results(tmp_path, "hotlist"), what="the hotlist applied")
    finally:
        appliance.shutdown()
    (applied,) = results(tmp_path, "hotlist")
    assert applied["version"] == 7 and applied["result"] == {"ok": True, "version": 7, "entries": 1}
    assert stored(tmp_path, "security.refused") == []


def test_the_retained_hotlist_again_on_every_reconnect_is_no_security_event(tmp_path, broker, pki, office, caplog):
    caplog.set_level(logging.DEBUG, logger="roadcam.uplink")
    version = office.dispatcher.publish_hotlist([STOLEN]).version
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        wait_until(lambda: results(tmp_path, "hotlist"), what="the hotlist applied")
        for reconnect in (1, 2):
            broker.stop()
            broker.start()
            wait_until(lambda reconnect=reconnect: ignored_copies(caplog) == reconnect, timeout_s=15,
                       what=f"the retained hotlist again after reconnect {reconnect}")
        assert office.command()["ok"] is True
    finally:
        appliance.shutdown()
    assert [data["version"] for data in results(tmp_path, "hotlist")] == [version]
    assert stored(tmp_path, "security.refused") == []


def test_an_older_or_forged_copy_of_the_hotlist_is_still_refused(tmp_path, broker, pki, office):
    key = load_private_key(pki.collector_signing_key)
    current = sign_command(key, "hotlist", {"kind": "full", "entries": [STOLEN]}, 7, device="*")
    office.publish(HOTLIST, signed_json(current), retain=True)
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        wait_until(lambda: results(tmp_path, "hotlist"), what="the hotlist applied")
        older = sign_command(key, "hotlist", {"kind": "full", "entries": []}, 6, device="*")
        office.publish(HOTLIST, signed_json(older))
        office.publish(HOTLIST, signed_json({**current, "body": {"kind": "full", "entries": []}}))
        wait_until(lambda: len(stored(tmp_path, "security.refused")) == 2, what="two security events")
    finally:
        appliance.shutdown()
    reasons = [event.data["reason"] for event in stored(tmp_path, "security.refused")]
    assert reasons[0].startswith("replayed or older: version 6") and reasons[1].startswith("bad signature")


def test_a_hotlist_recorded_but_not_saved_before_a_crash_comes_back_from_the_retained_copy(
        tmp_path, broker, pki, office):
    """The gate records a version before the plate plugin saves the list; a crash in between
    must not leave the device without the list until the next version."""
    version = office.dispatcher.publish_hotlist([STOLEN]).version
    (tmp_path / "command-versions.json").write_text(json.dumps({"highest_versions": {"hotlist": version}}))
    appliance = device(tmp_path, broker, pki)
    appliance.start()
    try:
        wait_until(lambda: saved_hotlist_version(tmp_path) == version, timeout_s=15,
                   what="the retained hotlist saved by the plate plugin")
    finally:
        appliance.shutdown()
    assert results(tmp_path, "hotlist") == [] and stored(tmp_path, "security.refused") == []


def saved_hotlist_version(tmp_path) -> int | None:
    path = tmp_path / "hotlist.json"
    return json.loads(path.read_text())["version"] if path.is_file() else None


def ignored_copies(caplog) -> int:
    return sum(record.getMessage().startswith("the retained hotlist version") for record in caplog.records)
