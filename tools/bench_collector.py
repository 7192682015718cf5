"""Measure one collector (SQLite) beside a bare paho subscriber on the same stream, on a real
Mosquitto started for the run.

    .venv/bin/python tools/bench_collector.py [--count 20000] [--devices 4] [--latency-s 5]

Throughput: signed, chained events of ``--devices`` devices are queued in the broker for two
persistent sessions while both are offline: a bare paho subscriber (MQTT 5, QoS 1, automatic
PUBACK, no processing) and the collector. Each then connects alone and drains the same queued
stream; the rates printed are events per second from its CONNECT to its last message received
(bare) or committed (collector: parse, signature check, chain check, durable commit, PUBACK,
device ack).

Latency: one device then publishes live at 100 events/s; for each event the time from its
publish (where the device has committed it to its outbox) to the arrival of the collector's
``ack`` covering it (the collector has committed it) is recorded; p50 and p99 are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.config import BrokerSettings, LimitSettings
from collector.local_broker import Broker
from collector.device_keys import DeviceKeys
from collector.fake_device import SignedEventSource, event_payload, mqtt5_client
from collector.ingest import Ingest
from collector.service import Collector, SHARED_TOPICS
from collector.sqlite_storage import SQLiteStorage
from collector.storage import EventQuery

SITE = "bench-site"
BARE_CLIENT_ID = "bench-bare"
COLLECTOR_CLIENT_ID = "collector-bench"
BARE_TOPIC = "roadcam/v1/+/+/events/#"
LATENCY_RATE_PER_S = 100


def enrol_devices(keys_dir: Path, count: int) -> list[SignedEventSource]:
    """``count`` fake devices with fresh keys, their public keys written to ``keys_dir``."""
    keys_dir.mkdir(parents=True)
    sources = []
    for index in range(count):
        device = f"bench-{index:04d}"
        key = Ed25519PrivateKey.generate()
        (keys_dir / f"{device}.pem").write_bytes(
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        sources.append(SignedEventSource(device, SITE, key))
    return sources


def create_session(broker: Broker, client_id: str, topic: str) -> None:
    """Subscribe once with a persistent session and leave, so the broker queues for it."""
    client = mqtt5_client(client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_connect = lambda client, *args: client.subscribe(topic, qos=1)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect(broker.host, broker.port, clean_start=False, properties=properties)
    client.loop_start()
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()


def publish_all(broker: Broker, payloads: list[tuple[str, bytes]]) -> None:
    client = mqtt5_client("bench-publisher")
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    info = None
    for topic, payload in payloads:
        info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def bare_rate(broker: Broker, count: int) -> float:
    """Events/s a bare subscriber drains the queued stream at."""
    received = 0
    done = threading.Event()

    def on_message(client, userdata, message):
        nonlocal received
        received += 1
        if received == count:
            done.set()

    client = mqtt5_client(BARE_CLIENT_ID)
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = 1000
    started = time.perf_counter()
    client.connect(broker.host, broker.port, clean_start=False, properties=properties)
    client.loop_start()
    done.wait(300)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return received / elapsed


def collector_rate(collector: Collector, count: int) -> float:
    """Events/s the collector drains the queued stream at, counted at commit."""
    started = time.perf_counter()
    collector.start()
    while collector.stats().get("stored", 0) < count and time.perf_counter() - started < 300:
        time.sleep(0.01)
    return collector.stats().get("stored", 0) / (time.perf_counter() - started)


def ack_latencies_ms(broker: Broker, source: SignedEventSource, seconds: float) -> list[float]:
    """Publish live at LATENCY_RATE_PER_S; per event, ms from publish to the covering ack."""
    published: dict[int, float] = {}
    latencies: list[float] = []
    acked_up_to = 0
    lock = threading.Lock()

    def on_ack(client, userdata, message):
        nonlocal acked_up_to
        now = time.perf_counter()
        seq = json.loads(message.payload)["seq"]
        with lock:
            for covered in range(acked_up_to + 1, seq + 1):
                if covered in published:
                    latencies.append((now - published.pop(covered)) * 1000)
            acked_up_to = max(acked_up_to, seq)

    client = mqtt5_client(source.topics.device + "-live")
    client.on_message = on_ack
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.subscribe(source.topics.ack, qos=1)
    time.sleep(0.5)
    total = int(seconds * LATENCY_RATE_PER_S)
    started = time.perf_counter()
    for index in range(total):
        time.sleep(max(0.0, started + index / LATENCY_RATE_PER_S - time.perf_counter()))
        event = source.next_event()
        with lock:
            published[event.seq] = time.perf_counter()
        source.publish(client, event)
    deadline = time.perf_counter() + 10
    while len(latencies) < total and time.perf_counter() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="events in the queued stream")
    parser.add_argument("--devices", type=int, default=4, help="devices the stream comes from")
    parser.add_argument("--latency-s", type=float, default=5.0, help="seconds of live stream")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-collector-") as folder:
        root = Path(folder)
        sources = enrol_devices(root / "device-keys", args.devices)
        payloads = []
        for index in range(args.count):
            source = sources[index % len(sources)]
            event = source.next_event()
            payloads.append((source.topics.event(event.type), event_payload(event)))
        broker = Broker(root / "broker")
        broker.config_file.write_text(broker.config_file.read_text() +
                                      "max_queued_messages 0\nmax_inflight_messages 1000\n")
        broker.start()
        storage = SQLiteStorage(root / "collector.db", root / "evidence")
        try:
            settings = BrokerSettings(host=broker.host, port=broker.port, client_id=COLLECTOR_CLIENT_ID)
            collector = Collector(settings, storage, Ingest(DeviceKeys(root / "device-keys"), LimitSettings()))
            create_session(broker, BARE_CLIENT_ID, BARE_TOPIC)
            create_session(broker, COLLECTOR_CLIENT_ID, SHARED_TOPICS[0])
            publish_all(broker, payloads)
            bare = bare_rate(broker, args.count)
            stored = collector_rate(collector, args.count)
            latencies = ack_latencies_ms(broker, sources[0], args.latency_s)
            collector.stop()
            unique = len(storage.events(EventQuery(limit=10**9)))
        finally:
            storage.close()
            broker.stop()
    print(f"stream: {args.count} signed events from {args.devices} devices, queued in Mosquitto")
    print(f"{'bare paho subscriber (receive only)':<44} {bare:>10,.0f} events/s")
    print(f"{'collector, SQLite (verify, store, ack)':<44} {stored:>10,.0f} events/s")
    print(f"unique events stored: {unique} (expected {args.count + len(latencies)})")
    if latencies:
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"live {LATENCY_RATE_PER_S} events/s, publish -> collector ack at the device: "
              f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms ({len(ordered)} events)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
