"""The collector's message checks: what is accepted, what is refused and why, and that no
payload, however hostile, gets past them as anything but a counted refusal."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.errors import MessageRejected
from appliance.events import EvidenceBlob
from appliance.signing import load_private_key
from collector.config import LimitSettings
from collector.device_keys import DeviceKeys
from collector.fake_device import SignedEventSource, event_payload
from collector.ingest import DeviceHealth, DeviceStatus, Ingest, VerifiedEvent, VerifiedEvidence
from collector.pki import write_test_pki

DEVICE = "tn-0001"
SITE = "site-a"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return write_test_pki(tmp_path_factory.mktemp("pki"), devices=[DEVICE, "tn-0002"],
                          collectors=["collector-1"])


@pytest.fixture(scope="module")
def ingest(pki):
    return Ingest(DeviceKeys(pki.device_keys_dir), LimitSettings())


@pytest.fixture
def source(pki):
    return SignedEventSource(DEVICE, SITE, load_private_key(pki.signing_key(DEVICE)))


def reason_for(ingest: Ingest, topic: str, payload: bytes) -> str:
    with pytest.raises(MessageRejected) as refusal:
        ingest.check(topic, payload)
    return refusal.value.reason


def test_a_signed_event_is_accepted_with_its_digest_time_and_plate(ingest, source):
    event = source.next_event(data={"plate": "ABC1234", "lane": 2},
                              time_ns=1_790_000_000_123_456_789)
    verified = ingest.check(source.topics.event(event.type), event_payload(event))
    assert isinstance(verified, VerifiedEvent)
    assert verified.event == event
    assert verified.digest == event.digest()
    assert verified.plate == "ABC1234"
    assert verified.time_ns == 1_790_000_000_123_456_000


def test_an_unsigned_event_is_refused(ingest, source):
    event = source.next_event().model_copy(update={"sig": None})
    assert reason_for(ingest, source.topics.event(event.type), event_payload(event)) == "signature"


def test_a_tampered_event_is_refused(ingest, source):
    event = source.next_event(data={"plate": "ABC1234"})
    tampered = event.model_copy(update={"data": {"plate": "XYZ9999"}})
    assert reason_for(ingest, source.topics.event(event.type), event_payload(tampered)) == "signature"


def test_an_event_signed_by_another_device_key_is_refused(ingest, pki):
    impostor = SignedEventSource(DEVICE, SITE, load_private_key(pki.signing_key("tn-0002")))
    event = impostor.next_event()
    assert reason_for(ingest, impostor.topics.event(event.type), event_payload(event)) == "signature"


def test_an_event_on_another_devices_topic_is_refused(ingest, source, pki):
    event = source.next_event()
    other_topic = f"roadcam/v1/{SITE}/tn-0002/events/{event.type}"
    assert reason_for(ingest, other_topic, event_payload(event)) == "topic_mismatch"


def test_an_unknown_device_is_refused(ingest, pki):
    stranger = SignedEventSource("tn-9999", SITE, load_private_key(pki.signing_key(DEVICE)))
    event = stranger.next_event()
    assert reason_for(ingest, stranger.topics.event(event.type), event_payload(event)) == "unknown_device"


def test_a_device_id_that_is_a_path_is_never_looked_up(ingest):
    assert reason_for(ingest, "roadcam/v1/site-a/../status", b"online") == "unknown_device"


def test_an_oversized_event_is_refused_before_parsing(ingest, source):
    event = source.next_event(data={"plate": "A" * 70_000})
    assert reason_for(ingest, source.topics.event(event.type), event_payload(event)) == "oversized"


def test_evidence_is_accepted_only_when_its_bytes_hash_to_its_name(ingest, source):
    blob = EvidenceBlob(kind="frame_before", data=b"\xff\xd8 jpeg bytes")
    verified = ingest.check(source.topics.evidence(blob.sha256), blob.data)
    assert isinstance(verified, VerifiedEvidence) and verified.sha256 == blob.sha256
    wrong = hashlib.sha256(b"other").hexdigest()
    assert reason_for(ingest, source.topics.evidence(wrong), blob.data) == "evidence_hash"
    assert reason_for(ingest, source.topics.evidence("not-a-hash"), blob.data) == "topic"


def test_status_and_health_are_read(ingest, source):
    assert ingest.check(source.topics.status, b"offline") == DeviceStatus(DEVICE, SITE, online=False)
    health = ingest.check(source.topics.health, json.dumps({"cpu_c": 51.5}).encode())
    assert isinstance(health, DeviceHealth) and json.loads(health.summary_json) == {"cpu_c": 51.5}
    assert reason_for(ingest, source.topics.status, b"maybe") == "status"
    assert reason_for(ingest, source.topics.health, b"[1, 2]") == "schema"
    assert reason_for(ingest, source.topics.health, b"{\"t\": NaN}") == "schema"


def _valid_payload(source: SignedEventSource) -> dict:
    return json.loads(event_payload(source.next_event()))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)

topics = st.sampled_from([
    f"roadcam/v1/{SITE}/{DEVICE}/events/plate.read", f"roadcam/v1/{SITE}/{DEVICE}/evidence/{'0' * 64}",
    f"roadcam/v1/{SITE}/{DEVICE}/status", f"roadcam/v1/{SITE}/{DEVICE}/health",
    f"roadcam/v1/{SITE}/{DEVICE}/cmd/x", "roadcam/v1/x", "roadcam/v1//a/events/b", "elsewhere/a/b/c/d",
]) | st.text(max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(topic=topics, payload=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_messages_are_refused_with_a_reason(ingest, topic, payload):
    try:
        accepted = ingest.check(topic, payload)
    except MessageRejected as refusal:
        assert refusal.reason
    else:  # only unsigned kinds can pass without a device key's signature
        assert isinstance(accepted, (DeviceStatus, DeviceHealth))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_signed_event_with_any_field_changed_is_refused(ingest, source, data):
    payload = _valid_payload(source)
    field = data.draw(st.sampled_from(sorted(payload)))
    replacement = data.draw(json_values)
    if payload[field] == replacement:
        return
    payload[field] = replacement
    topic = source.topics.event("plate.read")
    raw = json.dumps(payload).encode()
    with pytest.raises(MessageRejected):
        ingest.check(topic, raw)


@pytest.mark.parametrize("payload", [
    b"[" * 100_000, b"{\"a\":" * 5000, b"\x00\xff" * 100, "{\"id\": \"\u0000\"}".encode(),
    b"{\"seq\": 1e999}", b"", b"null", b"1",
])
def test_hostile_event_payloads_are_refused(ingest, source, payload):
    with pytest.raises(MessageRejected):
        ingest.check(source.topics.event("plate.read"), payload)
