"""The collector's message checks: what is accepted, what is refused and why, and that no
payload, however hostile, gets past them as anything but a counted refusal."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roadcam.collector.config import LimitSettings
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import SignedEventSource, event_payload
from roadcam.collector.ingest import DeviceHealth, DeviceStatus, Ingest, VerifiedEvent, VerifiedEvidence
from roadcam.collector.pki import write_test_pki
from roadcam.common.errors import MessageRejected
from roadcam.protocol.event_batches import encode_event_batches
from roadcam.protocol.events import Event, EvidenceBlob
from roadcam.protocol.signing import load_private_key, sign

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


def test_an_infinite_number_anywhere_in_an_event_is_refused(ingest, source):
    event = source.next_event(data={"plate": "NaN Infinity"})  # the words alone are fine
    assert ingest.check(source.topics.event(event.type), event_payload(event)).plate == "NaN Infinity"
    for field in (b'"error_ms":1.0', b'"plate":"TST'):
        event = source.next_event()
        payload = event_payload(event).replace(field, field.split(b":")[0] + b":1e999" +
                                               (b',"x":"TST' if b"plate" in field else b""))
        assert reason_for(ingest, source.topics.event(event.type), payload) == "schema"


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
    assert reason_for(ingest, source.topics.health, b"{\"t\": NaN}") == "json"  # NaN is not JSON
    assert reason_for(ingest, source.topics.health, b'{"a":' * 40 + b"1" + b"}" * 40) == "json"
    assert reason_for(ingest, source.topics.health, b'{"uptime_ns": 9223372036854775808}') == "out_of_range"


def nested_lists(levels: int) -> list:
    """``[[...[1]...]]``: ``levels`` lists, one inside the other."""
    value: list = [1]
    for _ in range(levels - 1):
        value = [value]
    return value


def resigned(pki, event: Event, **changes) -> Event:
    """``event`` with ``changes``, signed again with its device's key: a valid signature."""
    unsigned = event.model_copy(update={**changes, "sig": None})
    return unsigned.model_copy(update={"sig": sign(load_private_key(pki.signing_key(event.device)),
                                                   unsigned.canonical_json())})


@pytest.mark.parametrize(("changes", "reason"), [
    ({"time": "9999-12-31T23:59:59.999999Z"}, "out_of_range"),
    ({"time": "1969-12-31T23:59:59.999999Z"}, "out_of_range"),
    ({"seq": 2**63}, "out_of_range"),
    ({"seq": 2**53}, "out_of_range"),
    ({"data": {"plate": "ABC", "count": -2**53}}, "out_of_range"),
    ({"data": {"nested": [[{"deep": [2**64]}]]}}, "out_of_range"),
    ({"clock": {"synced": True, "error_ms": 10**30}}, "out_of_range"),
    ({"data": {"plate": "A" * 5000}}, "oversized"),
    ({"data": {"k" * 5000: 1}}, "oversized"),
    ({"data": {"list": list(range(1001))}}, "oversized"),
    ({"data": {"a": nested_lists(16)}}, "oversized"),  # 17 levels with data itself
    ({"type": "t" * 200}, "oversized"),
    ({"prev": "not a digest"}, "schema"),
    ({"data": {"plate": "A\x00B"}}, "schema"),  # PostgreSQL text cannot hold NUL
    ({"data": {"a\x00": 1}}, "schema"),
])
def test_a_signed_event_with_a_value_storage_cannot_take_is_refused_with_a_reason(ingest, source, pki,
                                                                                  changes, reason):
    event = resigned(pki, source.next_event(), **changes)
    assert reason_for(ingest, source.topics.event_batch, event_payload(event)) == reason


def test_values_at_the_bounds_are_accepted(ingest, source, pki):
    event = resigned(pki, source.next_event(), seq=2**53 - 1, time="2199-12-31T23:59:59.999999Z",
                     data={"plate": "A" * 4096, "n": [-(2**53 - 1), 2**53 - 1], "deep": nested_lists(15)})
    verified = ingest.check(source.topics.event_batch, event_payload(event))
    assert (verified.event.seq, verified.time_ns) == (2**53 - 1, 7_258_118_399_999_999_000)
    early = resigned(pki, source.next_event(), time="1970-01-01T00:00:00.000000Z")
    assert ingest.check(source.topics.event_batch, event_payload(early)).time_ns == 0


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


# -- several events at once: batch messages and authentication along the hash chain -----------

#: A well-formed signature (64 bytes, base64) that is not the device's.
FOREIGN_SIGNATURE = base64.b64encode(bytes(64)).decode()


def batch_message(source: SignedEventSource, events: list[Event]) -> tuple[str, bytes]:
    (payload,) = encode_event_batches(events, max_bytes=10**9)
    return source.topics.event_batch, payload


def tampered(event: Event) -> Event:
    """The event with its data changed and its signature kept."""
    return event.model_copy(update={"data": {"plate": "XYZ9999"}})


def outcome(ingest: Ingest, messages: list[tuple[str, bytes]]) -> tuple[list[int], list[str]]:
    """(seqs accepted, refusal reasons) over all messages, in order."""
    checked = ingest.check_messages(messages)
    return ([item.event.seq for message in checked for item in message.items],
            [refusal.reason for message in checked for refusal in message.refusals])


def test_a_batch_message_gives_one_item_per_event(ingest, source):
    events = [source.next_event() for _ in range(5)]
    (checked,) = ingest.check_messages([batch_message(source, events)])
    assert checked.refusals == ()
    assert [item.event for item in checked.items] == events
    assert [item.digest for item in checked.items] == [event.digest() for event in events]


def test_one_good_signature_authenticates_the_chain_below_it(ingest, source):
    events = [source.next_event() for _ in range(6)]
    unsigned_below = [event.model_copy(update={"sig": FOREIGN_SIGNATURE}) for event in events[:-1]]
    assert outcome(ingest, [batch_message(source, unsigned_below + events[-1:])]) == ([1, 2, 3, 4, 5, 6], [])
    # without the newest event nothing vouches for them: each is checked on its own and fails
    assert outcome(ingest, [batch_message(source, unsigned_below)]) == ([], ["signature"] * 5)


def test_the_chain_spans_messages_of_one_check(ingest, source):
    events = [source.next_event() for _ in range(3)]
    messages = [(source.topics.event(event.type), event_payload(event))
                for event in [events[0].model_copy(update={"sig": FOREIGN_SIGNATURE}), *events[1:]]]
    assert outcome(ingest, messages) == ([1, 2, 3], [])


def test_a_tampered_event_in_the_middle_of_a_batch_is_refused_and_the_rest_accepted(ingest, source):
    events = [source.next_event() for _ in range(7)]
    events[3] = tampered(events[3])
    assert outcome(ingest, [batch_message(source, events)]) == ([1, 2, 3, 5, 6, 7], ["signature"])


def test_a_batch_whose_newest_signature_is_bad_keeps_the_older_events(ingest, source):
    events = [source.next_event() for _ in range(4)]
    events[-1] = events[-1].model_copy(update={"sig": FOREIGN_SIGNATURE})
    assert outcome(ingest, [batch_message(source, events)]) == ([1, 2, 3], ["signature"])


def test_a_gap_inside_a_batch_splits_the_chain_and_both_parts_are_accepted(ingest, source):
    events = [source.next_event() for _ in range(6)]
    del events[2]
    assert outcome(ingest, [batch_message(source, events)]) == ([1, 2, 4, 5, 6], [])


def test_an_unsigned_event_is_refused_even_where_the_chain_vouches_for_it(ingest, source):
    events = [source.next_event() for _ in range(3)]
    events[1] = events[1].model_copy(update={"sig": None})
    assert outcome(ingest, [batch_message(source, events)]) == ([1, 3], ["signature"])


def test_another_devices_event_never_vouches_for_this_devices_events(ingest, pki, source):
    forged = source.next_event(data={"plate": "FORGED1"}).model_copy(update={"sig": FOREIGN_SIGNATURE})
    other = SignedEventSource("tn-0002", SITE, load_private_key(pki.signing_key("tn-0002")))
    linked = other.next_event()
    unsigned = linked.model_copy(update={"prev": forged.digest(), "sig": None})
    linked = unsigned.model_copy(update={"sig": sign(load_private_key(pki.signing_key("tn-0002")),
                                                     unsigned.canonical_json())})
    messages = [(source.topics.event(forged.type), event_payload(forged)),
                (other.topics.event(linked.type), event_payload(linked))]
    assert outcome(ingest, messages) == ([1], ["signature"])
    assert ingest.check_messages(messages)[1].items[0].event.device == "tn-0002"


def test_bad_lines_of_a_batch_are_refused_one_by_one(ingest, source, pki):
    good = [source.next_event() for _ in range(2)]
    stranger = SignedEventSource("tn-0002", SITE, load_private_key(pki.signing_key("tn-0002"))).next_event()
    topic, payload = batch_message(source, good)
    lines = [b"not json", payload.split(b"\n")[0], event_payload(stranger), payload.split(b"\n")[1]]
    assert outcome(ingest, [(topic, b"\n".join(lines))]) == ([1, 2], ["schema", "topic_mismatch"])


def test_a_batch_over_the_limits_is_refused_whole(pki, source):
    strict = Ingest(DeviceKeys(pki.device_keys_dir), LimitSettings(max_batch_events=3, max_batch_bytes=1024))
    events = [source.next_event() for _ in range(4)]
    assert outcome(strict, [batch_message(source, events)]) == ([], ["oversized"])
    assert outcome(strict, [batch_message(source, events[:3])])[1] == ["oversized"]  # > 1024 bytes
    assert outcome(strict, [batch_message(source, events[:2])]) == ([1, 2], [])


def test_check_wants_a_message_of_one_item(ingest, source):
    with pytest.raises(ValueError):
        ingest.check(*batch_message(source, [source.next_event() for _ in range(2)]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(marks=st.lists(st.sampled_from(["good", "tampered", "foreign_signature"]), min_size=1, max_size=10))
def test_exactly_the_events_whose_content_is_the_devices_are_accepted(ingest, source, marks):
    """Expected by the rule: an event is accepted when its content is untouched and either its own
    signature is good or the next event is accepted (its prev then vouches for this one)."""
    events = [source.next_event() for _ in marks]
    sent = [tampered(event) if mark == "tampered" else
            event.model_copy(update={"sig": FOREIGN_SIGNATURE}) if mark == "foreign_signature" else event
            for event, mark in zip(events, marks)]
    expected, next_accepted = [], False
    for event, mark in reversed(list(zip(events, marks))):
        next_accepted = mark != "tampered" and (mark == "good" or next_accepted)
        if next_accepted:
            expected.append(event.seq)
    accepted, refusals = outcome(ingest, [batch_message(source, sent)])
    assert sorted(accepted) == sorted(expected)
    assert refusals == ["signature"] * (len(events) - len(expected))
