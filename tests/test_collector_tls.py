"""The shipped broker configuration (collector/mosquitto/) with the test PKI: only clients with
a valid, unrevoked certificate from the roadcam CA get in, and a device may write only under
its own id (MQTT 5 PUBACK 0x87 otherwise), while the collector stores over TLS. The policy's
site binding and the collectors' shared subscription: tests/test_broker_policy.py."""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from roadcam.collector.config import load_collector_config
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import SignedEventSource, mqtt5_client
from roadcam.collector.ingest import Ingest
from roadcam.collector.local_broker import Broker, production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.service import Collector
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.protocol.signing import load_private_key

pytestmark = pytest.mark.integration

SITE = "site-a"
DEVICE, OTHER_DEVICE, REVOKED_DEVICE = "tn-0001", "tn-0002", "tn-0666"
NOT_AUTHORIZED = 0x87


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return write_test_pki(tmp_path_factory.mktemp("pki"), devices=[DEVICE, OTHER_DEVICE],
                          collectors=["collector-1"], revoked_devices=[REVOKED_DEVICE])


@pytest.fixture(scope="module")
def broker(tmp_path_factory, pki):
    broker = production_broker(tmp_path_factory.mktemp("broker"), pki.root)
    broker.start()
    yield broker
    broker.stop()


def tls_client(client_id: str, ca: Path, cert: Path | None, key: Path | None) -> mqtt.Client:
    client = mqtt5_client(client_id)
    client.tls_set(ca_certs=str(ca), certfile=str(cert) if cert else None,
                   keyfile=str(key) if key else None)
    return client


def connect_result(client: mqtt.Client, broker: Broker) -> str:
    """'connected', or what went wrong (the TLS handshake or the broker refusing)."""
    outcome: list[str] = []
    done = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome.append("connected" if not reason_code.is_failure else str(reason_code))
        done.set()

    def on_disconnect(client, userdata, flags, reason_code, properties):
        outcome.append(f"disconnected: {reason_code}")
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(broker.host, broker.port)
        client.loop_start()
        done.wait(5)
        client.loop_stop()
    except (ssl.SSLError, OSError) as error:
        return f"refused: {error}"
    finally:
        client.disconnect()
    return outcome[0] if outcome else "no answer"


def test_a_device_with_its_certificate_connects(broker, pki):
    assert connect_result(tls_client(DEVICE, pki.ca, *pki.client(DEVICE)), broker) == "connected"


def test_a_client_without_a_certificate_is_refused(broker, pki):
    assert connect_result(tls_client("anonymous", pki.ca, None, None), broker) != "connected"


def test_a_certificate_from_another_ca_is_refused(broker, pki):
    client = tls_client(DEVICE, pki.ca, *pki.client(DEVICE, other_ca=True))
    assert connect_result(client, broker) != "connected"


def test_a_revoked_certificate_is_refused(broker, pki):
    client = tls_client(REVOKED_DEVICE, pki.ca, *pki.client(REVOKED_DEVICE))
    assert connect_result(client, broker) != "connected"


def publish_reason_code(client: mqtt.Client, topic: str) -> int:
    """The PUBACK reason code the broker answers a QoS 1 publish with."""
    codes: list[int] = []
    done = threading.Event()

    def on_publish(client, userdata, mid, reason_code, properties):
        codes.append(reason_code.value)
        done.set()

    client.on_publish = on_publish
    client.publish(topic, b"{}", qos=1)
    assert done.wait(5), "no PUBACK"
    return codes[0]


def test_a_device_may_write_only_under_its_own_id(broker, pki):
    client = tls_client(DEVICE, pki.ca, *pki.client(DEVICE))
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for own in (f"roadcam/v1/{SITE}/{DEVICE}/events/plate.read", f"roadcam/v1/{SITE}/{DEVICE}/events"):
            assert publish_reason_code(client, own) < 0x80
        assert publish_reason_code(client, f"roadcam/v1/{SITE}/{OTHER_DEVICE}/events/plate.read") == NOT_AUTHORIZED
        assert publish_reason_code(client, f"roadcam/v1/{SITE}/{OTHER_DEVICE}/events") == NOT_AUTHORIZED
        assert publish_reason_code(client, f"roadcam/v1/{SITE}/{DEVICE}/ack") == NOT_AUTHORIZED
        assert publish_reason_code(client, "roadcam/v1/hotlist") == NOT_AUTHORIZED
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_collector_stores_over_tls_and_the_device_gets_its_ack(broker, pki, tmp_path):
    cert, key = pki.client("collector-1")
    config_path = tmp_path / "collector.yaml"
    config_path.write_text(
        f"broker:\n  host: {broker.host}\n  port: {broker.port}\n  client_id: collector-1\n"
        f"  tls:\n    ca_file: {pki.ca}\n    cert_file: {cert}\n    key_file: {key}\n"
        f"storage:\n  database: collector.db\n  evidence_dir: evidence\n"
        f"device_keys_dir: {pki.device_keys_dir}\n")
    config = load_collector_config(config_path)
    acked = threading.Event()
    with SQLiteStorage(config.storage.database, config.storage.evidence_dir) as storage:
        collector = Collector(config.broker, storage, Ingest(DeviceKeys(config.device_keys_dir), config.limits))
        collector.start()
        device = tls_client(DEVICE, pki.ca, *pki.client(DEVICE))
        try:
            assert collector.wait_connected(10)
            source = SignedEventSource(DEVICE, SITE, load_private_key(pki.signing_key(DEVICE)))
            device.on_message = lambda client, userdata, message: acked.set()
            device.on_subscribe = lambda client, userdata, mid, codes, properties: source.publish(
                device, source.next_event())
            device.connect(broker.host, broker.port)
            device.loop_start()
            device.subscribe(source.topics.ack, qos=1)
            assert acked.wait(10), collector.stats()
        finally:
            device.disconnect()
            device.loop_stop()
            collector.stop()
        assert collector.stats()["stored"] == 1
