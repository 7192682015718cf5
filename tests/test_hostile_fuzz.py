"""Fuzzing every topic the device and the collector read with random and hostile payloads
(hypothesis): deep nesting, huge numbers, NaN, wrong types, huge sizes, envelopes with fields of
the wrong type. Afterwards both still do their job end to end: the device still delivers a
normal event that the collector stores and acknowledges, still answers a signed command, and a
device that connects after the garbage (retained copies included) works too.

The broker here lets anyone write anywhere, as if an attacker had got past the ACL: the parsers
are the last line of defence and must hold on their own.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import DEVICE
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_delivery import start_collector
from uplink_doubles import TOPICS, uplink_appliance, wait_until

from roadcam.appliance.events import EventDraft
from roadcam.collector.fake_device import mqtt5_client
from roadcam.collector.local_broker import Broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import EventQuery
from roadcam.protocol.commands import sign_command
from roadcam.protocol.signing import load_private_key
from roadcam.protocol.topics import HOTLIST

pytestmark = [pytest.mark.slow, pytest.mark.integration]

#: Every topic the device reads and every topic the collector reads, for the bench device.
DEVICE_READS = (TOPICS.ack, TOPICS.command("run_diagnostics"), TOPICS.command("hotlist"), HOTLIST)
COLLECTOR_READS = (TOPICS.event("plate.read"), TOPICS.event_batch, TOPICS.evidence("0" * 64),
                   TOPICS.evidence("a" * 64), TOPICS.status, TOPICS.health)

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**60), max_value=10**60),
                          st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40))
_json_values = st.recursive(_json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)), max_leaves=30)
_envelope_keys = ("name", "device", "version", "issued_at", "body", "sig", "id", "site", "type", "time",
                  "seq", "clock", "data", "evidence", "prev")


def _dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


#: One hostile payload: raw bytes, deep nesting, huge or non-finite numbers, JSON of any shape,
#: or an envelope (command, event, ack) whose fields hold values of the wrong type.
hostile_payloads = st.one_of(
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth),
    st.integers(min_value=1, max_value=50_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.integers(min_value=300, max_value=20_000).map(lambda digits: b"9" * digits),
    st.sampled_from([b"NaN", b"-Infinity", b"1e999999", b'{"seq": 1e400}', b'{"seq": NaN}',
                     b'{"seq": 9223372036854775808}', b'{"seq": -1}', b'{"seq": true}', b"",
                     b"x" * (4 * 1024 * 1024)]),
    _json_values.map(_dumps),
    st.dictionaries(st.sampled_from(_envelope_keys), _json_values, max_size=len(_envelope_keys)).map(_dumps),
)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A broker open to anyone, a real collector on SQLite, a real appliance with signed events
    that admits the collector's signed commands, and an attacker's client."""
    root = tmp_path_factory.mktemp("fuzz")
    pki = write_test_pki(root / "pki", devices=[DEVICE], collectors=["collector-1"])
    broker = Broker(root / "broker")
    broker.start()
    collector, storage = start_collector(root, broker, pki)
    device_dir = root / "device"
    device_dir.mkdir()
    appliance = uplink_appliance(device_dir, broker, signing_key_file=str(pki.signing_key(DEVICE)),
                                 collector_key_file=str(pki.collector_public_key))
    appliance.start()
    attacker = mqtt5_client("attacker")
    attacker.connect(broker.host, broker.port)
    attacker.loop_start()
    yield {"broker": broker, "storage": storage, "collector": collector, "appliance": appliance,
           "attacker": attacker, "pki": pki, "root": root}
    attacker.disconnect()
    attacker.loop_stop()
    appliance.shutdown()
    collector.stop()
    storage.close()
    broker.stop()


def stored_markers(storage: SQLiteStorage) -> set[str]:
    return {event.data.get("marker") for event in storage.events(EventQuery(device=DEVICE, limit=10**6))}


def assert_delivers(appliance, storage: SQLiteStorage, marker: str) -> None:
    """A normal event made now reaches the collector's database and the device's outbox empties
    (the collector acknowledged it and the device understood the ack)."""
    appliance.submit([EventDraft("plate.read", {"plate": "ABC-1234", "marker": marker}, time.time_ns())])
    wait_until(lambda: marker in stored_markers(storage), timeout_s=30, what=f"event {marker} to be stored")
    wait_until(lambda: appliance.store.usage().pending == 0, timeout_s=30, what="the outbox to empty")


def assert_answers_a_command(bench, version: int) -> None:
    """A signed command reaches the device and its answer reaches the collector."""
    key = load_private_key(bench["pki"].collector_signing_key)
    payload = sign_command(key, "run_diagnostics", {}, version, device=DEVICE)
    bench["attacker"].publish(TOPICS.command("run_diagnostics"), json.dumps(payload), qos=1).wait_for_publish(10)

    def answered() -> bool:
        results = bench["storage"].events(EventQuery(device=DEVICE, type="command.result", limit=10**5))
        return any(event.data.get("version") == version for event in results)

    wait_until(answered, timeout_s=30, what=f"the answer to command version {version}")


@settings(max_examples=30, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(payloads=st.lists(hostile_payloads, min_size=5, max_size=15), retain=st.booleans())
def test_hostile_payloads_on_every_topic_leave_device_and_collector_working(bench, payloads, retain):
    """(No shrinking: the bench is shared by the examples, so a failure is reported as found.)"""
    attacker = bench["attacker"]
    for payload in payloads:
        for topic in DEVICE_READS + COLLECTOR_READS:
            attacker.publish(topic, payload, qos=1, retain=retain and topic == HOTLIST)
    attacker.publish(TOPICS.ack, b"", qos=1).wait_for_publish(10)  # every payload is in the broker
    marker = f"after-{time.monotonic_ns()}"
    assert_delivers(bench["appliance"], bench["storage"], marker)
    assert_answers_a_command(bench, time.time_ns() // 1_000_000)


def test_a_device_connecting_after_retained_garbage_works(bench):
    bench["attacker"].publish(HOTLIST, b"[" * 100_000, qos=1, retain=True).wait_for_publish(10)
    bench["attacker"].publish(TOPICS.ack, b'{"seq": 1e999}', qos=1, retain=True).wait_for_publish(10)
    bench["appliance"].shutdown()
    late = uplink_appliance(bench["root"] / "device", bench["broker"],
                            signing_key_file=str(bench["pki"].signing_key(DEVICE)),
                            collector_key_file=str(bench["pki"].collector_public_key))
    late.start()
    bench["appliance"] = late
    assert_delivers(late, bench["storage"], "late-device")
    assert_answers_a_command(bench, time.time_ns() // 1_000_000)
