"""The collector against a real Mosquitto: every event stored exactly once and acknowledged to
its device only after the commit, through duplicates, a collector killed before its commit, and
two collectors sharing the load while one of them is killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from roadcam.collector.config import load_collector_config
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import SignedEventSource, event_payload, mqtt5_client
from roadcam.collector.ingest import Ingest
from roadcam.collector.local_broker import Broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.service import Collector
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import EventQuery
from roadcam.protocol.event_batches import encode_event_batches
from roadcam.protocol.signing import load_private_key

pytestmark = pytest.mark.integration

DEVICE = "tn-0001"
SITE = "site-a"
COLLECTOR_COMMAND = Path(sys.executable).parent / "roadcam-collector"
#: Collector killed right before it would commit: it stores nothing and acknowledges nothing.
CRASH_BEFORE_COMMIT = """
import os, signal, sys
from roadcam.collector.cli import main
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.ingest import VerifiedEvent

original_store = SQLiteStorage.store
def store_then_never_commit(self, items, received_ns):
    if any(isinstance(item, VerifiedEvent) for item in items):
        os.kill(os.getpid(), signal.SIGKILL)
    return original_store(self, items, received_ns)
SQLiteStorage.store = store_then_never_commit
sys.exit(main(["serve", "--config", sys.argv[1]]))
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return write_test_pki(tmp_path_factory.mktemp("pki"), devices=[DEVICE], collectors=["collector-1"])


@pytest.fixture
def broker(tmp_path):
    with Broker(tmp_path / "broker", persistence=True) as running:
        yield running


def write_config(tmp_path: Path, broker: Broker, pki, client_id: str) -> Path:
    path = tmp_path / f"{client_id}.yaml"
    path.write_text(f"broker:\n  host: {broker.host}\n  port: {broker.port}\n  client_id: {client_id}\n"
                    f"storage:\n  database: collector.db\n  evidence_dir: evidence\n"
                    f"device_keys_dir: {pki.device_keys_dir}\n")
    return path


class InProcessCollector:
    """A collector in this process, with its own storage handle, started and stopped by a test."""

    def __init__(self, config_path: Path):
        config = load_collector_config(config_path)
        self.storage = SQLiteStorage(config.storage.database, config.storage.evidence_dir)
        self.collector = Collector(config.broker, self.storage,
                                   Ingest(DeviceKeys(config.device_keys_dir), config.limits))
        self.collector.start()
        assert self.collector.wait_connected(10), "the collector did not connect"

    def stop(self) -> None:
        self.collector.stop()
        self.storage.close()


def start_subprocess_collector(args: list[str]) -> subprocess.Popen:
    """Start a collector process and return once it has subscribed."""
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    for line in process.stderr:
        if "subscribed" in line:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
            return process
        assert time.monotonic() < deadline, "the collector process did not subscribe"
    raise AssertionError(f"the collector process exited with {process.wait()}")


class FakeDevice:
    """A device: signed events out, the collector's acks in."""

    def __init__(self, broker: Broker, pki):
        self.source = SignedEventSource(DEVICE, SITE, load_private_key(pki.signing_key(DEVICE)))
        self.acked_seq = 0
        self.client = mqtt5_client(DEVICE)
        self.client.on_message = self._on_ack
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(self.source.topics.ack, qos=1)

    def _on_ack(self, client, userdata, message) -> None:
        self.acked_seq = max(self.acked_seq, json.loads(message.payload)["seq"])

    def send(self, count: int, rate_per_s: float | None = None) -> list:
        events = [self.source.next_event() for _ in range(count)]
        started = time.monotonic()
        for index, event in enumerate(events):
            self.source.publish(self.client, event)
            if rate_per_s:
                time.sleep(max(0.0, started + index / rate_per_s - time.monotonic()))
        return events

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def stored_seqs(database: Path) -> list[int]:
    with SQLiteStorage(database, database.parent / "evidence") as storage:
        return [event.seq for event in storage.events(EventQuery(device=DEVICE, limit=10**6))]


def test_events_are_stored_once_and_acked_to_the_device(tmp_path, broker, pki):
    collector = InProcessCollector(write_config(tmp_path, broker, pki, "collector-1"))
    device = FakeDevice(broker, pki)
    try:
        events = device.send(200)
        assert wait_until(lambda: device.acked_seq == 200, 15), collector.collector.stats()
        for event in events[:50]:  # the device repeats what it thinks was lost: no-ops
            device.client.publish(device.source.topics.event(event.type), event_payload(event), qos=1)
        assert wait_until(lambda: collector.collector.stats().get("duplicates") == 50, 10)
        stats = collector.collector.stats()
    finally:
        device.close()
        collector.stop()
    assert (stats["stored"], stats["rejected"]) == (200, 0)
    assert stored_seqs(tmp_path / "collector.db") == list(range(1, 201))


def test_batch_messages_are_stored_and_a_tampered_event_in_one_is_refused_alone(tmp_path, broker, pki):
    collector = InProcessCollector(write_config(tmp_path, broker, pki, "collector-1"))
    device = FakeDevice(broker, pki)
    events = [device.source.next_event() for _ in range(10)]
    sent = [*events[:6], events[6].model_copy(update={"data": {"plate": "XYZ9999"}}), *events[7:]]
    try:
        for start in (0, 5):
            (payload,) = encode_event_batches(sent[start:start + 5], max_bytes=10**6)
            device.client.publish(device.source.topics.event_batch, payload, qos=1)
        assert wait_until(lambda: collector.collector.stats().get("stored") == 9, 10), collector.collector.stats()
        assert wait_until(lambda: device.acked_seq == 6, 5)  # seq 7 is missing: the ack stops before it
        device.source.publish(device.client, events[6])
        assert wait_until(lambda: device.acked_seq == 10, 10)
        stats = collector.collector.stats()
    finally:
        device.close()
        collector.stop()
    assert (stats["stored"], stats["rejected"], stats["rejected.signature"]) == (10, 1, 1)
    assert stored_seqs(tmp_path / "collector.db") == list(range(1, 11))


def test_hostile_messages_are_counted_and_the_collector_keeps_storing(tmp_path, broker, pki):
    collector = InProcessCollector(write_config(tmp_path, broker, pki, "collector-1"))
    device = FakeDevice(broker, pki)
    topic = device.source.topics.event("plate.read")
    try:
        for payload in (b"", b"\x00" * 100, b"[" * 50_000, b"{}", b"x" * 200_000):
            device.client.publish(topic, payload, qos=1)
        device.send(3)
        assert wait_until(lambda: device.acked_seq == 3, 10)
        stats = collector.collector.stats()
    finally:
        device.close()
        collector.stop()
    assert (stats["rejected"], stats["rejected.oversized"], stats["stored"]) == (5, 1, 3)


def test_a_collector_killed_before_its_commit_gets_the_event_again(tmp_path, broker, pki):
    config = write_config(tmp_path, broker, pki, "collector-1")
    crashing = start_subprocess_collector([sys.executable, "-c", CRASH_BEFORE_COMMIT, str(config)])
    device = FakeDevice(broker, pki)
    try:
        device.send(5)
        assert crashing.wait(timeout=10) == -signal.SIGKILL
        assert stored_seqs(tmp_path / "collector.db") == []
        assert device.acked_seq == 0
        collector = InProcessCollector(config)  # the same client id: the same session
        try:
            assert wait_until(lambda: device.acked_seq == 5, 15), collector.collector.stats()
        finally:
            collector.stop()
    finally:
        device.close()
    assert stored_seqs(tmp_path / "collector.db") == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_two_collectors_share_the_stream_and_one_killed_loses_nothing(tmp_path, broker, pki):
    killed_config = write_config(tmp_path, broker, pki, "collector-1")
    victim = start_subprocess_collector([str(COLLECTOR_COMMAND), "serve", "--config", str(killed_config)])
    survivor = InProcessCollector(write_config(tmp_path, broker, pki, "collector-2"))
    device = FakeDevice(broker, pki)
    total = 2000
    try:
        sender = threading.Thread(target=device.send, args=(total, 1000.0))
        sender.start()
        assert wait_until(lambda: device.acked_seq >= 300, 15)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        sender.join()
        # the killed instance comes back under its client id and gets what it had not acked
        victim = start_subprocess_collector([str(COLLECTOR_COMMAND), "serve", "--config", str(killed_config)])
        assert wait_until(lambda: device.acked_seq == total, 30), (device.acked_seq, survivor.collector.stats())
        survivor_stats = survivor.collector.stats()
    finally:
        device.close()
        survivor.stop()
        victim.send_signal(signal.SIGTERM)
        victim.wait(timeout=10)
    assert 0 < survivor_stats["stored"] < total  # the load was shared
    assert stored_seqs(tmp_path / "collector.db") == list(range(1, total + 1))
