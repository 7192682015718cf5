"""End to end at the issue's scale: a real appliance's uplink, a real Mosquitto, the real
collector, and outages of the broker, measured against what the device committed.

- the broker SIGKILLed for 60 s while 1,000 events are made: the collector ends with exactly
  the 1,000 events, gap-free, no duplicates, and the outbox empties within 60 s of the return;
- the broker acknowledges, then is SIGKILLed with its default autosave (nothing on disk yet):
  still every event arrives, because the device keeps each row until the collector's ack.
"""

from __future__ import annotations

import time

import pytest
from conftest import DEVICE
from uplink_doubles import uplink_appliance, wait_until

from roadcam.appliance.events import EventDraft
from roadcam.collector.config import load_collector_config
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.ingest import Ingest
from roadcam.collector.local_broker import Broker
from roadcam.collector.service import Collector
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import EventQuery

pytestmark = [pytest.mark.slow, pytest.mark.integration]

EVENTS = 1000


def start_collector(tmp_path, broker: Broker, pki) -> tuple[Collector, SQLiteStorage]:
    """A serving collector on SQLite, its config written as ``tmp_path / "collector.yaml"``."""
    path = tmp_path / "collector.yaml"
    path.write_text(f"broker:\n  host: {broker.host}\n  port: {broker.port}\n  client_id: collector-1\n"
                    f"  keepalive_s: 5\n"
                    f"storage:\n  database: {tmp_path / 'collector.db'}\n  evidence_dir: {tmp_path / 'evidence'}\n"
                    f"device_keys_dir: {pki.device_keys_dir}\nsigning_key: {pki.collector_signing_key}\n")
    config = load_collector_config(path)
    storage = SQLiteStorage(config.storage.database, config.storage.evidence_dir)
    collector = Collector(config.broker, storage, Ingest(DeviceKeys(config.device_keys_dir), config.limits))
    collector.start()
    assert collector.wait_connected(10)
    return collector, storage


def make_events(appliance, first: int, count: int, pause_s: float) -> None:
    for number in range(first, first + count):
        appliance.submit([EventDraft("plate.read", {"plate": f"ABC-{number:04d}", "n": number}, time.time_ns())])
        time.sleep(pause_s)


def stored_plate_reads(storage: SQLiteStorage) -> list[int]:
    events = storage.events(EventQuery(device=DEVICE, type="plate.read", limit=10**6))
    return sorted(event.data["n"] for event in events)


@pytest.mark.parametrize("outage_s", [60])
def test_broker_down_for_60_s_while_1000_events_are_made(tmp_path, pki, outage_s):
    broker = Broker(tmp_path / "broker", persistence=True)
    broker.start()
    collector, storage = start_collector(tmp_path, broker, pki)
    appliance = uplink_appliance(tmp_path, broker, keepalive_s=5, reconnect_max_s=2.0,
                                 signing_key_file=str(pki.signing_key(DEVICE)))
    appliance.start()
    try:
        make_events(appliance, 1, 200, 0.005)
        broker.kill()
        down_at = time.monotonic()
        make_events(appliance, 201, EVENTS - 200, (outage_s - 5) / (EVENTS - 200))  # spread over the outage
        assert appliance.store.usage().pending > 0
        time.sleep(max(0.0, outage_s - (time.monotonic() - down_at)))
        broker.start()
        back_at = time.monotonic()
        wait_until(lambda: appliance.store.usage().pending == 0, timeout_s=60, what="the outbox to empty")
        drained_s = time.monotonic() - back_at
    finally:
        appliance.shutdown()
        collector.stop()
        broker.stop()
    reads = stored_plate_reads(storage)
    seqs = sorted(event.seq for event in storage.events(EventQuery(device=DEVICE, limit=10**6)))
    problems = storage.problems()
    storage.close()
    assert reads == list(range(1, EVENTS + 1))  # exactly the 1,000, no duplicates
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free per device
    assert problems == []
    print(f"outbox empty {drained_s:.1f} s after the broker came back")


def test_events_the_broker_acknowledged_survive_its_kill_before_autosave(tmp_path, pki):
    broker = Broker(tmp_path / "broker", persistence=True)  # Mosquitto's default autosave (1800 s)
    broker.start()
    collector, storage = start_collector(tmp_path, broker, pki)
    collector.stop()  # nobody takes the events: they sit in the broker, acknowledged by it
    storage.close()
    appliance = uplink_appliance(tmp_path, broker, keepalive_s=5, reconnect_max_s=1.0, ack_timeout_s=3.0,
                                 signing_key_file=str(pki.signing_key(DEVICE)))
    appliance.start()
    try:
        make_events(appliance, 1, EVENTS, 0.0)
        time.sleep(7)  # at 200 events/s every event is out and PUBACKed; the broker saved nothing yet
        broker.kill()
        broker.start()  # comes back without the queued messages
        collector, storage = start_collector(tmp_path, broker, pki)
        wait_until(lambda: appliance.store.usage().pending == 0, timeout_s=90, what="the outbox to empty")
    finally:
        appliance.shutdown()
        collector.stop()
        broker.stop()
    reads = stored_plate_reads(storage)
    storage.close()
    assert reads == list(range(1, EVENTS + 1))
