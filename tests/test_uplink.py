"""The uplink against a real Mosquitto: order, evidence first, rows kept until the collector's
ack, nothing lost across a broker SIGKILL, refusals read from PUBACK reason codes, presence."""

from __future__ import annotations

import json
import threading
import time

import pytest
from appliances import stored
from uplink_doubles import TOPICS, FakeCollector, uplink_appliance, wait_until, write_certificate, write_key_pair

from roadcam.appliance.events import EventDraft
from roadcam.collector.local_broker import Broker, BrokerTLS
from roadcam.protocol.event_batches import split_event_batch
from roadcam.protocol.events import EvidenceBlob
from roadcam.protocol.signing import load_public_key, verify

pytestmark = pytest.mark.integration


def plate_read(appliance, index: int, evidence: bytes | None = None) -> EventDraft:
    blobs = (EvidenceBlob("plate_crop", evidence),) if evidence else ()
    return EventDraft("plate.read", {"plate": f"ABC{index:04d}"}, appliance.clock.wall_ns(), evidence=blobs)


@pytest.fixture
def collector(broker):
    fake = FakeCollector(broker)
    yield fake
    fake.close()


def test_events_arrive_signed_in_order_with_their_evidence_first(tmp_path, broker, collector):
    _, key_file, public_file = write_key_pair(tmp_path, "device")
    appliance = uplink_appliance(tmp_path, broker, signing_key_file=str(key_file))
    appliance.start()
    try:
        for index in range(20):
            evidence = f"jpeg {index}".encode() if index % 3 == 0 else None
            appliance.submit([plate_read(appliance, index, evidence)])
        wait_until(lambda: collector.contiguous_seq() == 20, what="20 events at the collector")
        wait_until(lambda: appliance.store.usage().pending == 0, what="the outbox to empty")
    finally:
        appliance.shutdown()
    event_order = [key for kind, key in collector.arrivals if kind == "event"]
    assert event_order == sorted(event_order)
    for seq, event in collector.events.items():
        for reference in event.evidence:
            assert collector.arrivals.index(("evidence", reference.sha256)) < collector.arrivals.index(("event", seq))
            assert collector.evidence[reference.sha256] == f"jpeg {seq - 1}".encode()
    public_key = load_public_key(public_file)
    assert all(verify(public_key, event.canonical_json(), event.sig) for event in collector.events.values())
    assert ([collector.events[seq].prev for seq in range(2, 21)]
            == [collector.events[seq].digest() for seq in range(1, 20)])


def test_a_row_stays_in_the_outbox_until_the_collectors_ack_covers_it(tmp_path, broker):
    silent = FakeCollector(broker, ack=False)
    appliance = uplink_appliance(tmp_path, broker)
    appliance.start()
    try:
        appliance.submit([plate_read(appliance, index) for index in range(3)])
        wait_until(lambda: len(silent.events) == 3, what="3 events at the collector")
        time.sleep(0.3)  # the broker's PUBACKs are in by now: they must not empty the outbox
        assert [event.seq for event in appliance.store.pending()] == [1, 2, 3]
        silent.send_ack(2)
        wait_until(lambda: [event.seq for event in appliance.store.pending()] == [3], what="rows 1-2 confirmed")
        silent.send_ack(3)
        wait_until(lambda: appliance.store.usage().pending == 0, what="the outbox to empty")
    finally:
        appliance.shutdown()
        silent.close()


def test_unacknowledged_events_are_sent_again_after_the_ack_timeout(tmp_path, broker):
    silent = FakeCollector(broker, ack=False)
    appliance = uplink_appliance(tmp_path, broker, ack_timeout_s=0.5)
    appliance.start()
    try:
        appliance.submit([plate_read(appliance, 1)])
        wait_until(lambda: len(silent.messages.get(TOPICS.event("plate.read"), [])) >= 2, what="a resend")
        assert appliance.store.usage().pending == 1
    finally:
        appliance.shutdown()
        silent.close()
    copies = silent.messages[TOPICS.event("plate.read")]
    assert copies[0] == copies[1] and json.loads(copies[0])["seq"] == 1


def test_each_timeout_without_an_acknowledgement_doubles_the_wait_before_the_next_resend(tmp_path, broker):
    silent = FakeCollector(broker, ack=False)
    appliance = uplink_appliance(tmp_path, broker, ack_timeout_s=0.5, ack_timeout_max_s=2.0)
    appliance.start()
    try:
        appliance.submit([plate_read(appliance, 1)])
        time.sleep(8.0)
    finally:
        appliance.shutdown()
        silent.close()
    # waits of 0.5, 1, 2, 2 s (the sender looks every 0.5 s when idle): resends about 1.0, 2.5,
    # 5.0 and 7.5 s after the first send; a fixed wait would have resent about every second
    resends = len(silent.messages[TOPICS.event("plate.read")]) - 1
    assert 2 <= resends <= 5, resends
@pytest.mark.slow
@pytest.mark.parametrize("persistence", [True, False], ids=["broker-persistence", "no-persistence"])
def test_nothing_is_lost_when_the_broker_is_killed_while_events_are_made(tmp_path, persistence):
    broker = Broker(tmp_path / "broker", persistence=persistence)
    broker.start()
    collector = FakeCollector(broker)
    appliance = uplink_appliance(tmp_path, broker, keepalive_s=5)
    appliance.start()
    try:
        made = 0
        for round_index in range(3):
            for _ in range(40):
                made += 1
                appliance.submit([plate_read(appliance, made, b"crop %d" % made if made % 10 == 0 else None)])
                time.sleep(0.01)
            if round_index == 0:
                broker.kill()
        time.sleep(2.0)  # the broker stays down while the last events are made
        assert appliance.store.usage().pending >= 80  # everything made during the outage waits
        broker.start()
        wait_until(lambda: appliance.store.usage().pending == 0, timeout_s=20, what="the outbox to empty")
    finally:
        appliance.shutdown()
        collector.close()
        broker.stop()
    plate_reads = sorted(seq for seq, event in collector.events.items() if event.type == "plate.read")
    assert plate_reads == list(range(1, made + 1))  # the shutdown's health event may follow them
    assert all(reference.sha256 in collector.evidence
               for event in collector.events.values() for reference in event.evidence)


def test_a_publish_the_acl_refuses_raises_a_fault_and_keeps_the_row(tmp_path):
    acl = f"""
topic readwrite {TOPICS.status}
topic readwrite {TOPICS.health}
topic read {TOPICS.ack}
topic read {TOPICS.base}/cmd/#
"""
    with Broker(tmp_path / "broker", acl=acl) as broker:
        appliance = uplink_appliance(tmp_path, broker)
        appliance.start()
        try:
            appliance.submit([plate_read(appliance, 1)])
            wait_until(lambda: any(f.code == "uplink.refused" for f in appliance.faults.active()),
                       what="the uplink.refused fault")
            assert 1 in [event.seq for event in appliance.store.pending()]
        finally:
            appliance.shutdown()
    (fault,) = stored(tmp_path, "fault.raised")
    assert fault.data["code"] == "uplink.refused"
    assert "0x87" in fault.data["message"] and TOPICS.event("plate.read") in fault.data["message"]


def test_status_is_online_while_connected_and_the_will_says_offline(tmp_path, broker, collector):
    appliance = uplink_appliance(tmp_path, broker, health_interval_s=0.2)
    appliance.start()
    try:
        wait_until(lambda: collector.latest(TOPICS.status) == b"online", what="status online")
        wait_until(lambda: collector.latest(TOPICS.health) is not None, what="a retained health summary")
        health = json.loads(collector.latest(TOPICS.health))
        assert {"pending", "last_seq", "confirmed_seq", "faults"} <= set(health)
    finally:
        appliance.shutdown()
    wait_until(lambda: collector.latest(TOPICS.status) == b"offline", what="status offline")
    late = FakeCollector(broker, client_id="late-subscriber")
    try:
        wait_until(lambda: late.latest(TOPICS.status) == b"offline", what="the retained status")
    finally:
        late.close()


def test_the_health_event_reports_the_link(tmp_path, broker, collector):
    appliance = uplink_appliance(tmp_path, broker)
    appliance.start()
    try:
        wait_until(lambda: collector.latest(TOPICS.status) == b"online", what="status online")
        figures = appliance.health()["uplink"]
    finally:
        appliance.shutdown()
    assert figures["connected"] is True and figures["refused_publishes"] == 0


def test_new_events_leave_at_once_not_on_a_poll(tmp_path, broker, collector):
    appliance = uplink_appliance(tmp_path, broker)
    appliance.start()
    try:
        wait_until(lambda: collector.latest(TOPICS.status) == b"online", what="status online")
        latencies_s = []
        for index in range(10):
            started_s = time.monotonic()
            appliance.submit([plate_read(appliance, index)])
            wait_until(lambda index=index: index + 1 in collector.events, what=f"event {index + 1}")
            latencies_s.append(time.monotonic() - started_s)
    finally:
        appliance.shutdown()
    assert max(latencies_s) < 0.25, latencies_s


def test_a_backlog_leaves_in_batches_with_evidence_first_and_a_lone_event_alone(tmp_path, broker, collector):
    appliance = uplink_appliance(tmp_path, broker, batch_max_events=8, batch_max_bytes=2048)
    appliance.start()
    try:
        wait_until(lambda: collector.latest(TOPICS.status) == b"online", what="status online")
        appliance.submit([plate_read(appliance, 0)])
        wait_until(lambda: 1 in collector.events, what="the lone event")
        appliance.submit([plate_read(appliance, index, b"crop %d" % index if index % 5 == 0 else None)
                          for index in range(1, 31)])
        wait_until(lambda: collector.contiguous_seq() >= 31, what="the backlog at the collector")
        wait_until(lambda: appliance.store.usage().pending == 0, what="the outbox to empty")
    finally:
        appliance.shutdown()
    (lone,) = collector.messages[TOPICS.event("plate.read")]
    assert json.loads(lone)["seq"] == 1
    batches = [split_event_batch(payload) for payload in collector.messages[TOPICS.event_batch]]
    assert all(len(lines) <= 8 for lines in batches) and max(len(lines) for lines in batches) > 1
    assert all(len(payload) <= 2048 for payload in collector.messages[TOPICS.event_batch])
    assert sorted(json.loads(line)["seq"] for lines in batches for line in lines)[:30] == list(range(2, 32))
    for seq, event in collector.events.items():
        for reference in event.evidence:
            assert collector.arrivals.index(("evidence", reference.sha256)) < collector.arrivals.index(("event", seq))


def test_the_analysis_thread_is_never_blocked_by_a_dead_broker(tmp_path):
    broker = Broker(tmp_path / "broker")  # never started: nothing listens
    appliance = uplink_appliance(tmp_path, broker)
    appliance.start()
    try:
        started_s = time.monotonic()
        done = threading.Event()
        appliance.enqueue_command("run_diagnostics", {}, lambda result: done.set())
        assert done.wait(5)
        appliance.submit([plate_read(appliance, index) for index in range(50)])
        assert time.monotonic() - started_s < 2.0
        assert appliance.store.usage().pending >= 50
    finally:
        appliance.shutdown()


def tls_broker(tmp_path) -> Broker:
    """A TLS broker that requires a client certificate from the test CA, which also signed one
    for tn-test; a second CA ("rogue-ca") signed one for tn-rogue."""
    pki = tmp_path / "pki"
    pki.mkdir()
    ca = write_certificate(pki, "test-ca")
    write_certificate(pki, "broker", ca, ip="127.0.0.1")
    write_certificate(pki, "tn-test", ca)
    write_certificate(pki, "tn-rogue", write_certificate(pki, "rogue-ca"))
    return Broker(tmp_path / "broker", tls=BrokerTLS(pki / "test-ca.crt", pki / "broker.crt", pki / "broker.key"))


def tls_section(tmp_path, client: str) -> dict:
    pki = tmp_path / "pki"
    return {"ca_file": str(pki / "test-ca.crt"), "cert_file": str(pki / f"{client}.crt"),
            "key_file": str(pki / f"{client}.key")}


def test_the_uplink_speaks_tls_with_its_client_certificate(tmp_path):
    with tls_broker(tmp_path) as broker:
        appliance = uplink_appliance(tmp_path, broker, tls=tls_section(tmp_path, "tn-test"))
        appliance.start()
        try:
            wait_until(lambda: appliance.health()["uplink"]["connected"], what="a TLS connection")
        finally:
            appliance.shutdown()


def test_a_certificate_from_another_ca_is_refused_and_raises_the_offline_fault(tmp_path):
    with tls_broker(tmp_path) as broker:
        appliance = uplink_appliance(tmp_path, broker, tls=tls_section(tmp_path, "tn-rogue"),
                                     offline_fault_after_s=0.5)
        appliance.start()
        try:
            wait_until(lambda: any(f.code == "uplink.offline" for f in appliance.faults.active()),
                       what="the uplink.offline fault")
            assert appliance.health()["uplink"]["connected"] is False
        finally:
            appliance.shutdown()
