"""Issue 22, items 1 and 11, against the shipped broker config (TLS, ACL) and a real collector.

- A signed event whose values do not fit storage (time in year 9999, seq 2**63) is a refused
  event with a reason; it used to raise OverflowError in SQLite and kill the writer thread for
  good, so nothing more was stored or acked for any device.
- An unexpected error in the collector ends its process through one fatal path (non-zero
  status, so systemd restarts it), after recording the failing messages; a message that fails
  a second time is quarantined (kept, acknowledged, counted, listed by ``roadcam-collector
  quarantine list``) and the collector keeps storing.
- 3,000 garbage messages are counted exactly but logged in a handful of lines.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from roadcam.collector.cli import main as collector_cli
from roadcam.collector.config import load_collector_config
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import SignedEventSource, event_payload, mqtt5_client
from roadcam.collector.ingest import Ingest
from roadcam.collector.local_broker import Broker, production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.quarantine import message_digest
from roadcam.collector.service import FATAL_EXIT_STATUS, Collector, RateLimitedLog
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import DataRefused
from roadcam.protocol.events import Event
from roadcam.protocol.signing import load_private_key, sign

pytestmark = pytest.mark.integration

SITE = "site-a"
DEVICE, OTHER_DEVICE = "tn-0001", "tn-0002"
#: The last microsecond of year 9999: 253402300799999999000 ns, far above a signed 64-bit BIGINT.
YEAR_9999_NS = 253_402_300_799_999_999_000
#: ``roadcam-collector serve`` with a storage that raises an unexpected error (not a StoreError)
#: for any batch holding an event whose plate is POISON: a bug one message triggers.
POISONED_SERVE = """
import sys
from roadcam.collector.cli import main
from roadcam.collector.ingest import VerifiedEvent
from roadcam.collector.sqlite_storage import SQLiteStorage

original_store = SQLiteStorage.store
def store_unless_poisoned(self, items, received_ns):
    if any(isinstance(item, VerifiedEvent) and item.plate == "POISON" for item in items):
        raise RuntimeError("a bug that this one message triggers")
    return original_store(self, items, received_ns)
SQLiteStorage.store = store_unless_poisoned
sys.exit(main(["serve", "--config", sys.argv[1]]))
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return write_test_pki(tmp_path_factory.mktemp("pki"), devices=[DEVICE, OTHER_DEVICE],
                          collectors=["collector-1"])


@pytest.fixture
def broker(tmp_path, pki):
    """The shipped Mosquitto config (TLS, CRL, ACL, persistence) with the test PKI."""
    broker = production_broker(tmp_path / "broker", pki.root)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def config_path(tmp_path, broker, pki) -> Path:
    cert, key = pki.client("collector-1")
    path = tmp_path / "collector.yaml"
    path.write_text(
        f"broker:\n  host: {broker.host}\n  port: {broker.port}\n  client_id: collector-1\n"
        f"  tls:\n    ca_file: {pki.ca}\n    cert_file: {cert}\n    key_file: {key}\n"
        f"storage:\n  database: collector.db\n  evidence_dir: evidence\n"
        f"device_keys_dir: {pki.device_keys_dir}\n")
    return path


class TlsDevice:
    """A device with its own certificate: signed events out, the collector's acks in."""

    def __init__(self, broker: Broker, pki, device: str = DEVICE):
        self.key = load_private_key(pki.signing_key(device))
        self.source = SignedEventSource(device, SITE, self.key)
        self.acked_seq = 0
        self.client = mqtt5_client(device)
        self.client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client(device)[0]),
                            keyfile=str(pki.client(device)[1]))
        self.client.on_message = self._on_ack
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(self.source.topics.ack, qos=1)
        assert subscribed.wait(10), "the device did not subscribe to its ack topic"

    def _on_ack(self, client, userdata, message) -> None:
        self.acked_seq = max(self.acked_seq, json.loads(message.payload)["seq"])

    def signed(self, event: Event, **changes) -> Event:
        """``event`` with ``changes``, signed again with this device's key (a valid signature)."""
        unsigned = event.model_copy(update={**changes, "sig": None})
        return unsigned.model_copy(update={"sig": sign(self.key, unsigned.canonical_json())})

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class DataRefusingStorage(SQLiteStorage):
    """A database that refuses the data of any batch holding an event whose plate is POISON."""

    def store(self, items, received_ns):
        if any(getattr(item, "plate", None) == "POISON" for item in items):
            raise DataRefused("a value this database cannot hold")
        return super().store(items, received_ns)


class InProcessCollector:
    """A collector in this process whose fatal errors are recorded instead of ending pytest."""

    def __init__(self, config_path: Path, collector_class: type[Collector] = Collector,
                 storage_class: type[SQLiteStorage] = SQLiteStorage):
        config = load_collector_config(config_path)
        self.fatal: list[BaseException] = []
        self.storage = storage_class(config.storage.database, config.storage.evidence_dir)
        self.collector = collector_class(config.broker, self.storage,
                                         Ingest(DeviceKeys(config.device_keys_dir), config.limits),
                                         on_fatal=self.fatal.append)
        self.collector.start()
        assert self.collector.wait_connected(10), "the collector did not connect"

    def stats(self) -> dict[str, int]:
        return self.collector.stats()

    def stop(self) -> None:
        self.collector.stop()
        self.storage.close()


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_signed_event_out_of_range_is_refused_and_the_collector_keeps_storing(config_path, broker, pki):
    collector = InProcessCollector(config_path)
    device = TlsDevice(broker, pki)
    # Signed with the device's own key, off its chain: what a device with a broken clock or
    # counter (or a stolen key) sends.
    far_future = device.signed(SignedEventSource(DEVICE, SITE, device.key).next_event(time_ns=YEAR_9999_NS))
    huge_seq = device.signed(SignedEventSource(DEVICE, SITE, device.key).next_event(), seq=2**63)
    try:
        for event in (far_future, huge_seq):
            device.publish(device.source.topics.event(event.type), event_payload(event))
        assert wait_until(lambda: collector.stats().get("rejected") == 2, 10), collector.stats()
        for _ in range(3):
            device.source.publish(device.client, device.source.next_event())
        assert wait_until(lambda: device.acked_seq == 3, 10), (device.acked_seq, collector.stats())
        stats = collector.stats()
    finally:
        device.close()
        collector.stop()
    assert collector.fatal == []
    assert (stats["rejected.out_of_range"], stats["stored"]) == (2, 3)


def test_an_error_in_a_paho_callback_ends_the_collector_through_the_fatal_path(config_path, broker, pki):
    class BrokenCallback(Collector):
        def _on_message(self, client, userdata, message) -> None:
            raise RuntimeError("a bug in the network thread")

    collector = InProcessCollector(config_path, BrokenCallback)
    device = TlsDevice(broker, pki)
    try:
        device.source.publish(device.client, device.source.next_event())
        assert wait_until(lambda: collector.fatal, 10)
    finally:
        device.close()
        collector.stop()
    assert [str(error) for error in collector.fatal] == ["a bug in the network thread"]


def test_data_the_database_refuses_is_not_retried_for_good_but_quarantined(config_path, broker, pki):
    poisoner, device = TlsDevice(broker, pki, OTHER_DEVICE), TlsDevice(broker, pki)
    poison = poisoner.source.next_event(data={"plate": "POISON"})
    digest = message_digest(poisoner.source.topics.event(poison.type), event_payload(poison))
    try:
        first = InProcessCollector(config_path, storage_class=DataRefusingStorage)
        try:
            poisoner.source.publish(poisoner.client, poison)
            assert wait_until(lambda: first.fatal, 10), first.stats()
            assert first.storage.message_failures([digest]) == {digest: 1}
        finally:
            first.stop()  # what the process's exit does: the message stays unacknowledged
        second = InProcessCollector(config_path, storage_class=DataRefusingStorage)
        try:
            assert wait_until(lambda: second.stats().get("quarantined") == 1, 10), second.stats()
            device.source.publish(device.client, device.source.next_event())
            assert wait_until(lambda: device.acked_seq == 1, 10), second.stats()
        finally:
            second.stop()
    finally:
        device.close()
        poisoner.close()
    assert [type(error) for error in first.fatal] == [DataRefused] and second.fatal == []
    assert second.stats()["stored"] == 1


class CollectorProcess:
    """``roadcam-collector serve`` (poisoned) as a process; its log lines are kept."""

    def __init__(self, config_path: Path):
        self.process = subprocess.Popen([sys.executable, "-c", POISONED_SERVE, str(config_path)],
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert wait_until(lambda: any("subscribed" in line for line in self.lines)
                          or self.process.poll() is not None, 20), "the collector did not subscribe"
        assert self.process.poll() is None, self.log()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def log(self) -> str:
        return "".join(self.lines)

    def wait(self, timeout_s: float) -> int:
        status = self.process.wait(timeout=timeout_s)
        self._reader.join(5)
        return status

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait(10)


def test_a_message_that_fails_twice_is_quarantined_and_acked_and_the_collector_keeps_going(
        config_path, broker, pki, capsys):
    database = config_path.parent / "collector.db"
    poisoner = TlsDevice(broker, pki, OTHER_DEVICE)
    device = TlsDevice(broker, pki)
    poison = poisoner.source.next_event(data={"plate": "POISON"})
    poison_topic, poison_payload = poisoner.source.topics.event(poison.type), event_payload(poison)
    try:
        first = CollectorProcess(config_path)
        poisoner.publish(poison_topic, poison_payload)
        assert first.wait(15) == FATAL_EXIT_STATUS, first.log()  # ended, so systemd restarts it
        assert "a bug that this one message triggers" in first.log()
        with SQLiteStorage(database, config_path.parent / "evidence") as storage:
            assert storage.message_failures([message_digest(poison_topic, poison_payload)]) == {
                message_digest(poison_topic, poison_payload): 1}

        second = CollectorProcess(config_path)  # the broker delivers the message again
        try:
            device.source.publish(device.client, device.source.next_event())
            assert wait_until(lambda: device.acked_seq == 1, 15), second.log()
            assert wait_until(lambda: "quarantined" in second.log(), 5), second.log()
        finally:
            assert second.terminate() == 0, second.log()
    finally:
        device.close()
        poisoner.close()

    assert collector_cli(["quarantine", "list", "--config", str(config_path)]) == 0
    listing = capsys.readouterr().out
    assert poison_topic in listing and "a bug that this one message triggers" in listing
    assert "1 message(s) in quarantine" in listing
    third = InProcessCollector(config_path)  # acknowledged: never delivered again
    try:
        time.sleep(1.0)
        assert third.stats() == {}
    finally:
        third.stop()
    with SQLiteStorage(database, config_path.parent / "evidence") as storage:
        (quarantined,) = storage.quarantined()
        assert (quarantined.topic, quarantined.payload) == (poison_topic, poison_payload)
        assert quarantined.failures == 2


def test_garbage_is_counted_exactly_and_logged_in_a_handful_of_lines(config_path, broker, pki, caplog):
    caplog.set_level(logging.WARNING, logger="roadcam.collector")
    collector = InProcessCollector(config_path)
    device = TlsDevice(broker, pki)
    topics = (device.source.topics.event("plate.read"), device.source.topics.health,
              device.source.topics.evidence("0" * 64))
    try:
        for index in range(3000):
            device.client.publish(topics[index % 3], b"garbage %d" % index, qos=1)
        assert wait_until(lambda: collector.stats().get("rejected") == 3000, 30), collector.stats()
        device.source.publish(device.client, device.source.next_event())
        assert wait_until(lambda: device.acked_seq == 1, 10)
    finally:
        device.close()
        collector.stop()
    refusal_lines = [record for record in caplog.records if record.name == "roadcam.collector"
                     and record.levelno >= logging.WARNING]
    assert 1 <= len(refusal_lines) <= 6, [record.getMessage() for record in refusal_lines]
    assert collector.stats()["rejected"] == 3000


def test_a_rate_limited_log_says_how_many_lines_it_left_out(caplog):
    caplog.set_level(logging.WARNING, logger="roadcam.test")
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("roadcam.test"), 60.0, clock=lambda: now[0])
    for second in range(130):
        now[0] = float(second)
        for reason in ("schema", "json"):
            limited.warning(reason, "refused as %s at %d s", reason, second)
    assert [record.getMessage() for record in caplog.records] == [
        "refused as schema at 0 s", "refused as json at 0 s",
        "refused as schema at 60 s (and 59 more like it in the last 60 s)",
        "refused as json at 60 s (and 59 more like it in the last 60 s)",
        "refused as schema at 120 s (and 59 more like it in the last 60 s)",
        "refused as json at 120 s (and 59 more like it in the last 60 s)"]
