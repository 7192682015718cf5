"""Acknowledgements name what the collector stored (issue 22, items 3 and 4), end to end: a real
appliance's uplink, a real Mosquitto and the real collector, with the network between them made
lossy by redirecting some of the device's publishes to a topic nobody reads.

- A device whose store is reset (a new SD card: a new, empty store, the same identity) numbers
  from 1 again. The collector used to ack its old high mark, so the device confirmed events the
  collector never stored. Now every event the device confirms is in the collector's database,
  and the new store epoch is recorded as a problem.
- An event whose evidence was lost is stored but not acked; the evidence the device sends again
  (after ``ack_timeout_s``) brings the ack.
- The device confirms nothing on an ack naming an event its store does not hold (or an
  unreadable one), and logs such acks at a bounded rate.
"""

from __future__ import annotations

import time

import pytest
from conftest import DEVICE
from test_delivery import start_collector
from uplink_doubles import TOPICS, FakeCollector, uplink_appliance, wait_until

from roadcam.appliance.events import EventDraft
from roadcam.appliance.uplink import Uplink
from roadcam.collector.storage import EventQuery
from roadcam.protocol.acks import ChainAck
from roadcam.protocol.events import EvidenceBlob

pytestmark = pytest.mark.integration


class LossyLink:
    """Replaces :meth:`Uplink._publish`: once ``armed``, publishes whose topic contains ``part``
    go to a topic nobody subscribes to, except the first ``spared`` of them."""

    def __init__(self, monkeypatch, part: str, spared: int = 0):
        self.part, self.spared, self.armed, self.lost = part, spared, True, 0
        publish = Uplink._publish

        def lossy(uplink, topic, payload, retain=False):
            if self.armed and self.part in topic:
                if self.spared > 0:
                    self.spared -= 1
                else:
                    self.lost += 1
                    topic = f"nowhere/{topic}"
            publish(uplink, topic, payload, retain)

        monkeypatch.setattr(Uplink, "_publish", lossy)


def plate_reads(appliance, first: int, count: int, evidence: bytes | None = None) -> list[EventDraft]:
    blobs = (EvidenceBlob("plate_crop", evidence),) if evidence else ()
    return [EventDraft("plate.read", {"plate": f"ABC{number:04d}"}, appliance.clock.wall_ns(), evidence=blobs)
            for number in range(first, first + count)]


def stored_ids(storage) -> set[str]:
    return {event.id for event in storage.events(EventQuery(device=DEVICE, limit=10**6))}


def confirmed_ids(appliance) -> set[str]:
    pending = {event.id for event in appliance.store.pending(limit=10**6)}
    return {event.id for event in appliance.store.events(limit=10**6)} - pending


def test_a_device_whose_store_was_reset_confirms_only_what_the_collector_stored(tmp_path, broker, pki, monkeypatch):
    collector, storage = start_collector(tmp_path, broker, pki)
    signing = {"signing_key_file": str(pki.signing_key(DEVICE)), "ack_timeout_s": 1.0}
    try:
        first = uplink_appliance(tmp_path / "first-card", broker, **signing)
        first.start()
        try:
            first.submit(plate_reads(first, 1, 13))
            wait_until(lambda: first.store.usage().pending == 0, what="the first store's outbox to empty")
        finally:
            first.shutdown()
        # a new SD card: an empty store, the same device and key; after its first event message
        # the network loses every event it sends
        link = LossyLink(monkeypatch, "/events", spared=1)
        second = uplink_appliance(tmp_path / "second-card", broker, **signing)
        second.start()
        try:
            (genesis,) = second.submit(plate_reads(second, 1, 1))
            wait_until(lambda: genesis.id in stored_ids(storage), what="the new store's seq 1 at the collector")
            second.submit(plate_reads(second, 2, 12))
            time.sleep(3.0)  # acks (and, at ack_timeout_s, resends that are lost again) come and go
            lost = confirmed_ids(second) - stored_ids(storage)
            assert not lost, f"the device confirmed {len(lost)} events the collector never stored"
            assert link.lost > 0 and second.store.usage().pending >= 12
            link.armed = False  # the network heals: everything left is delivered and acked
            wait_until(lambda: second.store.usage().pending == 0, timeout_s=20,
                       what="the second store's outbox to empty")
            on_second_card = {event.id for event in second.store.events(limit=10**6)}
        finally:
            second.shutdown()
        problems = storage.problems()
        stored = stored_ids(storage)
    finally:
        collector.stop()
        storage.close()
    assert on_second_card <= stored
    assert [problem.kind for problem in problems].count("new_epoch") == 1


def test_an_event_whose_evidence_was_lost_is_acked_only_once_the_evidence_arrives(tmp_path, broker, pki, monkeypatch):
    collector, storage = start_collector(tmp_path, broker, pki)
    link = LossyLink(monkeypatch, "/evidence/")  # the first copy of each evidence file is lost
    appliance = uplink_appliance(tmp_path, broker, signing_key_file=str(pki.signing_key(DEVICE)), ack_timeout_s=3.0)
    appliance.start()
    try:
        (event,) = appliance.submit(plate_reads(appliance, 1, 1, evidence=b"\xff\xd8 crop"))
        wait_until(lambda: event.id in stored_ids(storage), what="the event at the collector")
        link.armed = False
        time.sleep(1.0)  # an ack would have come by now; the resend waits for ack_timeout_s
        assert event.id in {pending.id for pending in appliance.store.pending(limit=10**6)}
        assert storage.devices()[0].contiguous_seq < event.seq
        wait_until(lambda: appliance.store.usage().pending == 0, timeout_s=15, what="the outbox to empty")
        (sha256,) = [reference.sha256 for reference in event.evidence]
        assert storage.read_evidence(sha256) == b"\xff\xd8 crop"
    finally:
        appliance.shutdown()
        collector.stop()
        storage.close()
    assert link.lost == 1


def test_evidence_the_device_lost_is_declared_and_the_acks_go_on(tmp_path, broker, pki, monkeypatch):
    """An evidence file gone from the device (a corrupt card) would stop the chain's acks at its
    event for good; the device declares it lost in a signed event, the collector records the
    loss as a problem, and the acks go on."""
    collector, storage = start_collector(tmp_path, broker, pki)
    link = LossyLink(monkeypatch, "/e")  # no event nor evidence leaves until the file is gone
    appliance = uplink_appliance(tmp_path, broker, signing_key_file=str(pki.signing_key(DEVICE)), ack_timeout_s=2.0)
    appliance.start()
    try:
        (event,) = appliance.submit(plate_reads(appliance, 1, 1, evidence=b"\xff\xd8 lost crop"))
        (sha256,) = [reference.sha256 for reference in event.evidence]
        appliance.store.evidence_path(sha256).unlink()
        appliance.submit(plate_reads(appliance, 2, 2))
        link.armed = False
        wait_until(lambda: appliance.store.usage().pending == 0, timeout_s=20, what="the outbox to empty")
    finally:
        appliance.shutdown()
        collector.stop()
    events = storage.events(EventQuery(device=DEVICE, limit=10**6))
    problems = storage.problems()
    storage.close()
    assert [e.data["sha256"] for e in events if e.type == "evidence.lost"] == [sha256]
    assert {e.data.get("plate") for e in events} >= {"ABC0001", "ABC0002", "ABC0003"}
    assert [problem.kind for problem in problems] == ["evidence_lost"]


def test_the_device_ignores_an_ack_naming_another_chains_event(tmp_path, broker, caplog):
    office = FakeCollector(broker, ack=False)
    appliance = uplink_appliance(tmp_path, broker)
    appliance.start()
    try:
        events = appliance.submit(plate_reads(appliance, 1, 3))
        wait_until(lambda: len(office.events) >= 3, what="3 events at the collector")
        other_store = events[2].model_copy(update={"data": {"plate": "OLD0003"}})
        office.publish(TOPICS.ack, ChainAck(events[2].seq, other_store.digest()).encode())
        office.publish(TOPICS.ack, b'{"seq": 3}')
        time.sleep(1.0)
        assert appliance.store.usage().pending >= 3
        office.send_ack(events[2].seq)
        wait_until(lambda: events[2].id in confirmed_ids(appliance), what="the matching ack confirming")
    finally:
        appliance.shutdown()
        office.close()
    ignored = [record.getMessage() for record in caplog.records if "ignored" in record.getMessage()]
    assert len(ignored) == 1, ignored  # the second ignored ack is counted, not logged (bounded rate)
