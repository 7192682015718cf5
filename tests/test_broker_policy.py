"""The shipped broker policy and the collector's device registry (issue 22, items 3, 7 and 10),
against Mosquitto running the shipped config (collector/mosquitto/) with a test PKI:

- only collector identities may join the collectors' shared subscription: an enrolled device's
  certificate and a CA-signed certificate of a name nobody enrolled are refused, and every
  event and evidence file a device sends reaches the collector (item 3);
- a device bound to its site by its enrolment may publish only under that site (PUBACK 0x87
  otherwise), and the collector refuses a site other than the registry's (item 10);
- the retained hotlist survives a SIGKILL of the broker right after it was published, and a
  collector publishes it again, as it was, to a broker that lost it (item 7).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from roadcam.collector.broker_policy import base_policy, render_policy
from roadcam.collector.cli import main
from roadcam.collector.config import BrokerSettings, CollectorConfig, LimitSettings
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.dispatch import Dispatcher
from roadcam.collector.fake_device import SignedEventSource, event_payload, mqtt5_client
from roadcam.collector.ingest import Ingest
from roadcam.collector.local_broker import Broker, production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.postgres_storage import PostgresStorage
from roadcam.collector.service import SHARED_TOPICS, Collector
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import EventQuery, RetainedMessage
from roadcam.common.errors import MessageRejected
from roadcam.protocol.events import EvidenceBlob
from roadcam.protocol.signing import load_private_key
from roadcam.protocol.topics import HOTLIST, DeviceTopics

pytestmark = pytest.mark.integration

SITE, OTHER_SITE = "site-a", "site-b"
DEVICE, OTHER_DEVICE, UNBOUND_DEVICE = "tn-0001", "tn-0002", "tn-0003"
#: A certificate the CA signed for a name that is neither an enrolled device nor a collector.
INTRUDER = "intruder"
NOT_AUTHORIZED = 0x87
STOLEN = {"plate": "ABC-1234", "reason": "stolen", "priority": 1}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return write_test_pki(tmp_path_factory.mktemp("pki"), devices=[DEVICE, OTHER_DEVICE, UNBOUND_DEVICE],
                          collectors=["collector-1", INTRUDER], sites={DEVICE: SITE, OTHER_DEVICE: SITE})


@pytest.fixture
def broker(tmp_path, pki):
    with production_broker(tmp_path / "broker", pki.root) as broker:
        yield broker


def tls_client(pki, common_name: str, client_id: str | None = None) -> mqtt.Client:
    client = mqtt5_client(client_id or common_name)
    cert, key = pki.client(common_name)
    client.tls_set(ca_certs=str(pki.ca), certfile=str(cert), keyfile=str(key))
    return client


def connected(client: mqtt.Client, broker: Broker) -> mqtt.Client:
    ready = threading.Event()
    client.on_connect = lambda client, userdata, flags, reason_code, properties: ready.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert ready.wait(10), "no CONNACK"
    return client


def collector_config(tmp_path: Path, broker: Broker, pki) -> CollectorConfig:
    cert, key = pki.client("collector-1")
    return CollectorConfig.model_validate({
        "broker": {"host": broker.host, "port": broker.port, "client_id": "collector-1",
                   "tls": {"ca_file": pki.ca, "cert_file": cert, "key_file": key}, "reconnect_max_s": 1},
        "storage": {"database": tmp_path / "collector.db", "evidence_dir": tmp_path / "collector-evidence"},
        "device_keys_dir": pki.device_keys_dir, "signing_key": pki.collector_signing_key})


def wait_until(condition, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Thief:
    """A client that subscribes to the collectors' shared topics and counts what it gets."""

    def __init__(self, broker: Broker, pki, common_name: str):
        self.received: list[str] = []
        self.suback: list[str] = []
        subscribed = threading.Event()
        self.client = connected(tls_client(pki, common_name, f"{common_name}-thief"), broker)
        self.client.on_message = lambda client, userdata, message: self.received.append(message.topic)

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            self.suback = [str(code) for code in reason_codes]
            subscribed.set()

        self.client.on_subscribe = on_subscribe
        self.client.subscribe([(topic, 1) for topic in SHARED_TOPICS])
        assert subscribed.wait(10), "no SUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_only_collectors_take_messages_from_the_collectors_shared_subscription(broker, pki, tmp_path):
    thieves = [Thief(broker, pki, OTHER_DEVICE), Thief(broker, pki, INTRUDER)]
    config = collector_config(tmp_path, broker, pki)
    events = 12
    with SQLiteStorage(config.storage.database, config.storage.evidence_dir) as storage:
        collector = Collector(config.broker, storage, Ingest(DeviceKeys(config.device_keys_dir), config.limits))
        collector.start()
        device = connected(tls_client(pki, DEVICE), broker)
        try:
            assert collector.wait_connected(10)
            source = SignedEventSource(DEVICE, SITE, load_private_key(pki.signing_key(DEVICE)))
            blobs = [EvidenceBlob("frame", f"frame {index}".encode()) for index in range(events)]
            for blob in blobs:
                source.publish_evidence(device, blob).wait_for_publish(5)
                source.publish(device, source.next_event("violation.red_light", evidence=(blob,))).wait_for_publish(5)

            def stored() -> int:
                return len(storage.events(EventQuery(device=DEVICE, limit=1000)))

            assert wait_until(lambda: stored() == events and all(
                storage.evidence_path(blob.sha256).exists() for blob in blobs)), (
                f"{stored()} of {events} events, "
                f"{sum(storage.evidence_path(blob.sha256).exists() for blob in blobs)} of {events} "
                f"evidence files stored; the thieves got {[len(thief.received) for thief in thieves]}")
        finally:
            device.disconnect()
            device.loop_stop()
            collector.stop()
            for thief in thieves:
                thief.close()
    for thief in thieves:
        assert thief.received == []
        assert thief.suback == ["Not authorized"] * len(SHARED_TOPICS)


def publish_reason_code(client: mqtt.Client, topic: str, payload: bytes = b"{}") -> int:
    """The PUBACK reason code the broker answers a QoS 1 publish with."""
    codes: list[int] = []
    done = threading.Event()

    def on_publish(client, userdata, mid, reason_code, properties):
        codes.append(reason_code.value)
        done.set()

    client.on_publish = on_publish
    client.publish(topic, payload, qos=1)
    assert done.wait(5), "no PUBACK"
    return codes[0]


def test_a_device_may_publish_only_under_its_enrolled_site(broker, pki):
    device = connected(tls_client(pki, DEVICE), broker)
    try:
        own, other = DeviceTopics(SITE, DEVICE), DeviceTopics(OTHER_SITE, DEVICE)
        for topic in (own.event("plate.read"), own.event_batch, own.health, own.command_result("snapshot")):
            assert publish_reason_code(device, topic) < 0x80, topic
        for topic in (other.event("plate.read"), other.event_batch, other.evidence("0" * 64), other.status,
                      other.health, other.command_result("snapshot")):
            assert publish_reason_code(device, topic) == NOT_AUTHORIZED, topic
    finally:
        device.disconnect()
        device.loop_stop()


def test_the_collector_refuses_a_site_other_than_the_registry_s(pki, tmp_path):
    """As if a message under the wrong site reached the collector some other way (a broker
    with a looser policy): refused and counted as ``site_mismatch``; under its own site the
    same device is stored."""
    source = SignedEventSource(DEVICE, OTHER_SITE, load_private_key(pki.signing_key(DEVICE)))
    ingest = Ingest(DeviceKeys(pki.device_keys_dir), LimitSettings())
    wrong = source.next_event()
    with pytest.raises(MessageRejected) as refused:
        ingest.check(source.topics.event(wrong.type), event_payload(wrong))
    assert refused.value.reason == "site_mismatch"

    with Broker(tmp_path / "loose-broker") as loose, \
            SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
        collector = Collector(BrokerSettings(host=loose.host, port=loose.port), storage, ingest)
        collector.start()
        device = connected(mqtt5_client(DEVICE), loose)
        try:
            assert collector.wait_connected(10)
            device.publish(source.topics.event(wrong.type), event_payload(wrong), qos=1).wait_for_publish(5)
            right = SignedEventSource(DEVICE, SITE, load_private_key(pki.signing_key(DEVICE)))
            right.publish(device, right.next_event()).wait_for_publish(5)
            assert wait_until(lambda: collector.stats().get("stored") == 1), collector.stats()
        finally:
            device.disconnect()
            device.loop_stop()
            collector.stop()
        assert collector.stats()["rejected.site_mismatch"] == 1
        assert [record.site for record in storage.devices()] == [SITE]


def test_the_rendered_policy_binds_enrolled_devices_and_names_the_unbound(pki):
    policy = render_policy(DeviceKeys(pki.device_keys_dir), base_policy())
    assert policy.unbound == (UNBOUND_DEVICE,)
    roles = {role["rolename"]: role for role in policy.document["roles"]}
    sends = {acl["topic"] for acl in roles[f"roadcam-device-{DEVICE}"]["acls"] if acl["acltype"] == "publishClientSend"}
    assert f"roadcam/v1/{SITE}/{DEVICE}/events/#" in sends
    assert all(topic.startswith(f"roadcam/v1/{SITE}/{DEVICE}/") for topic in sends)
    assert INTRUDER not in {client["username"] for client in policy.document["clients"]}


def retained_hotlist(broker: Broker, pki) -> bytes | None:
    """The retained hotlist a device gets when it subscribes now (None: none within 3 s)."""
    received: list[bytes] = []
    got = threading.Event()
    device = tls_client(pki, OTHER_DEVICE)

    def on_message(client, userdata, message):
        received.append(message.payload)
        got.set()

    device.on_message = on_message
    connected(device, broker)
    try:
        device.subscribe(HOTLIST, qos=1)
        got.wait(3)
    finally:
        device.disconnect()
        device.loop_stop()
    return received[0] if received else None


def test_the_retained_hotlist_is_back_after_a_broker_killed_right_after_it(broker, pki, tmp_path):
    """Killed between two of its (time-based) saves, the broker comes back without the hotlist;
    the collector, reconnecting, publishes the one it keeps again."""
    config = collector_config(tmp_path, broker, pki)
    with SQLiteStorage(config.storage.database, config.storage.evidence_dir) as storage:
        collector = Collector(config.broker, storage, Ingest(DeviceKeys(config.device_keys_dir), config.limits))
        collector.start()
        try:
            assert collector.wait_connected(10)
            Dispatcher(config, storage).publish_hotlist([STOLEN])
            (published,) = storage.retained_messages()
            time.sleep(0.3)  # far inside the broker's autosave interval
            broker.kill()
            assert wait_until(lambda: not collector.wait_connected(0)), "the collector did not see the broker go"
            broker.start()
            assert collector.wait_connected(15), "the collector did not reconnect"
            payload = retained_hotlist(broker, pki)
        finally:
            collector.stop()
    assert payload == published.payload.encode()


def test_a_collector_publishes_the_kept_hotlist_again_to_a_broker_that_lost_it(broker, pki, tmp_path):
    config = collector_config(tmp_path, broker, pki)
    with SQLiteStorage(config.storage.database, config.storage.evidence_dir) as storage:
        sent = Dispatcher(config, storage).publish_hotlist([STOLEN])
        broker.kill()
        (broker.directory / "mosquitto.db").unlink(missing_ok=True)  # its state lost
        broker.start()
        assert retained_hotlist(broker, pki) is None
        collector = Collector(config.broker, storage, Ingest(DeviceKeys(config.device_keys_dir), config.limits))
        collector.start()
        try:
            assert collector.wait_connected(10)
            payload = retained_hotlist(broker, pki)
        finally:
            collector.stop()
    assert payload is not None, "no retained hotlist after the collector connected"
    again = json.loads(payload)
    assert again["version"] == sent.version
    assert payload == storage_payload(config)


def storage_payload(config: CollectorConfig) -> bytes:
    with SQLiteStorage(config.storage.database, config.storage.evidence_dir) as storage:
        (kept,) = storage.retained_messages()
    return kept.payload.encode()


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request, tmp_path):
    if request.param == "sqlite":
        opened = SQLiteStorage(tmp_path / "c.db", tmp_path / "evidence")
    else:
        url = request.getfixturevalue("postgres_url")
        opened = PostgresStorage(url, tmp_path / "evidence")
    with opened:
        yield opened


def test_storage_keeps_the_newest_retained_message_of_a_topic(storage):
    storage.keep_retained(RetainedMessage(HOTLIST, '{"version": 2}', 2, 20))
    storage.keep_retained(RetainedMessage(HOTLIST, '{"version": 1}', 1, 30))
    assert storage.retained_messages() == [RetainedMessage(HOTLIST, '{"version": 2}', 2, 20)]
    storage.keep_retained(RetainedMessage(HOTLIST, '{"version": 3}', 3, 40))
    assert storage.retained_messages() == [RetainedMessage(HOTLIST, '{"version": 3}', 3, 40)]


def test_enroll_and_broker_policy_commands(tmp_path, capsys):
    """``roadcam-collector enroll`` binds a device to its site in the registry;
    ``roadcam-collector broker-policy`` writes the plugin's file and names unbound devices."""
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE, UNBOUND_DEVICE], collectors=[])
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / f"{UNBOUND_DEVICE}.pem").write_bytes((pki.device_keys_dir / f"{UNBOUND_DEVICE}.pem").read_bytes())
    config = tmp_path / "collector.yaml"
    config.write_text(f"storage:\n  database: c.db\n  evidence_dir: e\ndevice_keys_dir: {keys}\n")
    assert main(["enroll", DEVICE, "--site", SITE, "--key", str(pki.device_keys_dir / f"{DEVICE}.pem"),
                 "--config", str(config)]) == 0
    assert (keys / f"{DEVICE}.site").read_text() == f"{SITE}\n"
    out = tmp_path / "dynamic-security.json"
    assert main(["broker-policy", "--config", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 device(s)" in printed and f"may publish under any: {UNBOUND_DEVICE}" in printed
    document = json.loads(out.read_text())
    assert ([client["username"] for client in document["clients"]]
            == ["collector-1", "collector-2", "broker-admin", DEVICE, UNBOUND_DEVICE])
    assert main(["enroll", "tn-0004", "--site", "site/+", "--key", str(out), "--config", str(config)]) == 2
