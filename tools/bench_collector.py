"""Measure one collector instance beside mosquitto_sub (and a bare paho subscriber) receiving the
same stream, on a real Mosquitto started for the run.

    .venv/bin/python -m roadcam.tools.bench_collector [--count 20000] [--devices 4] [--batch 64]
                                              [--latency-s 5] [--storage sqlite|postgres]

Throughput: ``--count`` signed, hash-chained events of ``--devices`` devices are queued in the
broker for persistent sessions while every subscriber is offline; each subscriber then connects
alone and drains the same queued stream. The rate printed is events per second from its connect
to its last message received (``mosquitto_sub``, the C client, and a bare paho subscriber: MQTT 5,
QoS 1, a PUBACK per message, nothing else) or committed (the collector: parse, authenticate,
chain checks, durable commit, PUBACK, device ack). Every subscriber may have 1,000 messages in
flight (the collector's default receive maximum). The same events travel as two streams, each on
a fresh broker:

- one event per message, as a device sends its live events;
- batches of ``--batch`` consecutive events of one device per message (JSON lines on the
  device's ``events`` topic), as a device's uplink drains a backlog.

With ``--storage postgres`` a collector on a throwaway local PostgreSQL (durable: fsync and
synchronous commit on) drains both streams too.

Latency: after the first stream one device publishes live, one event per message, at 100
events/s; for each event the time from its publish (where the device has committed it to its
outbox) to the arrival of the collector's ``ack`` covering it (the collector has committed it) is
recorded; p50 and p99 are printed.

The broker logs what the production config logs (errors to notices), not every packet as the
test broker does.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from roadcam.appliance.uplink_config import UplinkConfig
from roadcam.collector.config import BrokerSettings, LimitSettings
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import SignedEventSource, event_payload, mqtt5_client
from roadcam.collector.ingest import Ingest
from roadcam.collector.local_broker import Broker
from roadcam.collector.service import SHARED_TOPICS, Collector
from roadcam.collector.sql_storage import SqlStorage
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import EventQuery
from roadcam.protocol.event_batches import encode_event_batches
from roadcam.protocol.events import Event

SITE = "bench-site"
MOSQUITTO_SUB = "mosquitto_sub"
MOSQUITTO_SUB_CLIENT_ID = "bench-mosquitto-sub"
BARE_CLIENT_ID = "bench-bare"
COLLECTOR_CLIENT_ID = "collector-bench"
SUBSCRIBER_TOPIC = "roadcam/v1/+/+/events/#"
LATENCY_RATE_PER_S = 100
SESSION_EXPIRY_S = 3600
RECEIVE_MAXIMUM = BrokerSettings().receive_maximum
DRAIN_TIMEOUT_S = 300
#: Appended to the test broker's config: as much in flight as the subscribers allow, no queue
#: limit, and the production config's logging (the test broker logs every packet).
BROKER_SETTINGS = ("max_queued_messages 0\nmax_inflight_messages 1000\nlog_type none\n"
                   "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n")
#: PostgreSQL as durable as the collector assumes (the test server turns fsync off).
DURABLE_POSTGRES_SETTINGS = "-c listen_addresses='' -c max_connections=20 -c shared_buffers=64MB"


@dataclass(frozen=True)
class Stream:
    """Messages (topic, payload) carrying ``events`` events; ``label`` says how they are cut."""

    label: str
    messages: list[tuple[str, bytes]]
    events: int


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


def make_streams(sources: list[SignedEventSource], count: int, batch: int) -> list[Stream]:
    """The same ``count`` events (devices taking turns) one per message, and in batches."""
    per_device: dict[SignedEventSource, list[Event]] = {source: [] for source in sources}
    single = []
    for index in range(count):
        source = sources[index % len(sources)]
        event = source.next_event()
        per_device[source].append(event)
        single.append((source.topics.event(event.type), event_payload(event)))
    max_bytes = UplinkConfig().batch_max_bytes
    batches_by_device = [
        [(source.topics.event_batch, payload)
         for start in range(0, len(events), batch)
         for payload in encode_event_batches(events[start:start + batch], max_bytes)]
        for source, events in per_device.items()]
    batched = [message for turn in itertools.zip_longest(*batches_by_device) for message in turn
               if message is not None]
    return [Stream("one event per message (live)", single, count),
            Stream(f"batches of {batch} events per message (backlog drain)", batched, count)]


@contextmanager
def bench_broker(folder: Path) -> Iterator[Broker]:
    """A fresh Mosquitto for one measurement (see BROKER_SETTINGS), stopped afterwards."""
    broker = Broker(folder)
    broker.config_file.write_text(broker.config_file.read_text() + BROKER_SETTINGS)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def session_properties() -> Properties:
    """CONNECT properties of a persistent session with the collector's receive maximum."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY_S
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    return properties


def mosquitto_sub_command(broker: Broker, *options: str) -> list[str]:
    """mosquitto_sub on the bench's persistent session (MQTT 5, QoS 1), plus ``options``."""
    return [MOSQUITTO_SUB, "-h", broker.host, "-p", str(broker.port), "-V", "mqttv5",
            "-i", MOSQUITTO_SUB_CLIENT_ID, "-c", "-x", str(SESSION_EXPIRY_S), "-q", "1",
            "-D", "connect", "receive-maximum", str(RECEIVE_MAXIMUM), "-t", SUBSCRIBER_TOPIC, *options]


def create_sessions(broker: Broker, mosquitto_sub: bool, bare: bool, collector: bool) -> None:
    """Subscribe once with persistent sessions and leave, so the broker queues for each."""
    if mosquitto_sub:
        subprocess.run(mosquitto_sub_command(broker, "-E"), check=True, timeout=10)
    for wanted, client_id, topic in ((bare, BARE_CLIENT_ID, SUBSCRIBER_TOPIC),
                                     (collector, COLLECTOR_CLIENT_ID, SHARED_TOPICS[0])):
        if not wanted:
            continue
        client = mqtt5_client(client_id)
        subscribed = threading.Event()
        client.on_subscribe = lambda *args, subscribed=subscribed: subscribed.set()
        client.on_connect = lambda client, *args, topic=topic: client.subscribe(topic, qos=1)
        client.connect(broker.host, broker.port, clean_start=False, properties=session_properties())
        client.loop_start()
        subscribed.wait(10)
        client.disconnect()
        client.loop_stop()


def publish_all(broker: Broker, messages: list[tuple[str, bytes]]) -> None:
    """Publish every message at QoS 1 and wait for the broker's last PUBACK."""
    client = mqtt5_client("bench-publisher")
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    info = None
    for topic, payload in messages:
        info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def mosquitto_sub_rate(broker: Broker, stream: Stream) -> float:
    """Events/s mosquitto_sub drains the queued stream at (process start to exit)."""
    started = time.perf_counter()
    subprocess.run(mosquitto_sub_command(broker, "-C", str(len(stream.messages))), check=True,
                   stdout=subprocess.DEVNULL, timeout=DRAIN_TIMEOUT_S)
    return stream.events / (time.perf_counter() - started)


def bare_rate(broker: Broker, stream: Stream) -> float:
    """Events/s a bare paho subscriber drains the queued stream at."""
    received = 0
    done = threading.Event()

    def on_message(client, userdata, message):
        nonlocal received
        received += 1
        if received == len(stream.messages):
            done.set()

    client = mqtt5_client(BARE_CLIENT_ID)
    client.on_message = on_message
    started = time.perf_counter()
    client.connect(broker.host, broker.port, clean_start=False, properties=session_properties())
    client.loop_start()
    done.wait(DRAIN_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return stream.events * received / len(stream.messages) / elapsed


@dataclass(frozen=True)
class Drain:
    """How fast a collector drained a queued stream: wall clock and this process's CPU time
    (the collector's threads; the bench only polls meanwhile)."""

    events_per_s: float
    cpu_us_per_event: float


def drain_with_collector(broker: Broker, storage: SqlStorage, keys_dir: Path, count: int) -> tuple[Collector, Drain]:
    """Start a collector and wait until it has stored ``count`` events (counted at commit)."""
    settings = BrokerSettings(host=broker.host, port=broker.port, client_id=COLLECTOR_CLIENT_ID)
    collector = Collector(settings, storage, Ingest(DeviceKeys(keys_dir), LimitSettings()))
    started_s, cpu_started_s = time.perf_counter(), time.process_time()
    collector.start()
    while collector.stats().get("stored", 0) < count and time.perf_counter() - started_s < DRAIN_TIMEOUT_S:
        time.sleep(0.005)
    stored = collector.stats().get("stored", 0)
    elapsed_s, cpu_s = time.perf_counter() - started_s, time.process_time() - cpu_started_s
    return collector, Drain(stored / elapsed_s, cpu_s / max(stored, 1) * 1e6)


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


def stored_count(storage: SqlStorage) -> int:
    """Unique events in ``storage``."""
    return len(storage.events(EventQuery(limit=10**9)))


def measure_stream(root: Path, stream: Stream, keys_dir: Path, open_storage: Callable[[Path], SqlStorage],
                   live: Callable[[Broker], list[float]] | None) -> dict:
    """Drain ``stream`` with mosquitto_sub, bare paho and a collector on ``open_storage``; then,
    with ``live``, measure live latency through the same collector."""
    results: dict = {}
    with bench_broker(root / "broker") as broker:
        storage = open_storage(root)
        try:
            create_sessions(broker, mosquitto_sub=True, bare=True, collector=True)
            publish_all(broker, stream.messages)
            results["mosquitto_sub"] = mosquitto_sub_rate(broker, stream)
            results["bare"] = bare_rate(broker, stream)
            collector, results["collector"] = drain_with_collector(broker, storage, keys_dir, stream.events)
            results["latencies"] = live(broker) if live else []
            collector.stop()
            results["unique"] = stored_count(storage)
        finally:
            storage.close()
    return results


def measure_collector_only(root: Path, stream: Stream, keys_dir: Path,
                           open_storage: Callable[[Path], SqlStorage]) -> dict:
    """Drain ``stream`` with a collector on ``open_storage`` alone."""
    with bench_broker(root / "broker") as broker:
        storage = open_storage(root)
        try:
            create_sessions(broker, mosquitto_sub=False, bare=False, collector=True)
            publish_all(broker, stream.messages)
            collector, drain = drain_with_collector(broker, storage, keys_dir, stream.events)
            collector.stop()
            return {"collector": drain, "unique": stored_count(storage)}
        finally:
            storage.close()


@contextmanager
def postgres_opener() -> Iterator[Callable[[Path], SqlStorage]]:
    """Opens a PostgresStorage on a fresh database of a durable throwaway server."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from postgres_server import ThrowawayPostgres

    from roadcam.collector.postgres_storage import PostgresStorage

    server = ThrowawayPostgres(server_settings=DURABLE_POSTGRES_SETTINGS).start()
    databases = iter(range(1, 1000))
    try:
        yield lambda folder: PostgresStorage(server.create_database(f"bench_{next(databases)}"),
                                             folder / "evidence-postgres")
    finally:
        server.stop()


def row(label: str, rate: float) -> str:
    return f"  {label:<46} {rate:>10,.0f} events/s"


def collector_row(label: str, drain: Drain) -> str:
    return (f"{row(label, drain.events_per_s)}  (CPU {drain.cpu_us_per_event:.0f} us/event: "
            f"{1e6 / drain.cpu_us_per_event:,.0f} events per CPU-second)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="events in each queued stream")
    parser.add_argument("--devices", type=int, default=4, help="devices the stream comes from")
    parser.add_argument("--batch", type=int, default=UplinkConfig().batch_max_events,
                        help="events per message in the batched stream (the uplink's default)")
    parser.add_argument("--latency-s", type=float, default=5.0, help="seconds of live stream")
    parser.add_argument("--storage", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: also measure a collector on a local PostgreSQL")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-collector-") as folder:
        root = Path(folder)
        keys_dir = root / "device-keys"
        sources = enrol_devices(keys_dir, args.devices)
        streams = make_streams(sources, args.count, args.batch)
        print(f"{args.count} signed, chained events from {args.devices} devices, queued in Mosquitto "
              "for each subscriber; events/s from connect to the last event received or committed")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
        latencies: list[float] = []
        for index, stream in enumerate(streams):
            results = measure_stream(
                root / f"sqlite-{index}", stream, keys_dir,
                lambda folder: SQLiteStorage(folder / "collector.db", folder / "evidence"),
                (lambda broker: ack_latencies_ms(broker, sources[0], args.latency_s)) if index == 0 else None)
            latencies += results["latencies"]
            print(f"{stream.label}: {len(stream.messages)} messages")
            print(row("mosquitto_sub (C client, receive only)", results["mosquitto_sub"]))
            print(row("bare paho subscriber (receive only)", results["bare"]))
            print(collector_row("collector, SQLite (verify, store, ack)", results["collector"]))
            print(f"  unique events stored: {results['unique']} (expected "
                  f"{stream.events + len(results['latencies'])})")
        if args.storage == "postgres":
            with postgres_opener() as open_postgres:
                for index, stream in enumerate(streams):
                    results = measure_collector_only(root / f"postgres-{index}", stream, keys_dir, open_postgres)
                    print(f"{stream.label}:")
                    print(collector_row("collector, PostgreSQL (verify, store, ack)", results["collector"]))
                    print(f"  unique events stored: {results['unique']} (expected {stream.events})")
    if latencies:
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"live {LATENCY_RATE_PER_S} events/s, publish -> collector ack at the device: "
              f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms ({len(ordered)} events)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
