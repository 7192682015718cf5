"""The retained health summary gives each active fault's severity and the worst (issue 26 item
2): a real appliance's uplink publishes it to a real Mosquitto, the real collector stores it,
and a fault the summary lists before its ``fault.raised`` arrived keeps that severity on the
collector's fault list."""

from __future__ import annotations

import json

import pytest
from conftest import DEVICE
from test_delivery import start_collector
from uplink_doubles import TOPICS, FakeCollector, uplink_appliance, wait_until

from roadcam.collector.fault_report import build_report
from roadcam.collector.ingest import DeviceHealth, DeviceStatus
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.protocol.events import iso_utc

pytestmark = pytest.mark.integration

T0 = 1_790_000_000 * 10**9


def stored_summary(storage) -> dict | None:
    """The retained health summary the collector stored for the bench device."""
    record = next((record for record in storage.devices() if record.device == DEVICE), None)
    return None if record is None or record.health_json is None else json.loads(record.health_json)


def severity_view(summary: dict | None) -> tuple | None:
    return None if summary is None else (summary["faults"], summary["severities"], summary["worst_severity"])


def test_the_retained_summary_gives_each_faults_severity_and_the_worst(tmp_path, broker, pki):
    collector, storage = start_collector(tmp_path, broker, pki)
    appliance = uplink_appliance(tmp_path, broker, health_interval_s=0.2,
                                 signing_key_file=str(pki.signing_key(DEVICE)))
    appliance.start()
    try:
        wait_until(lambda: severity_view(stored_summary(storage)) == ([], {}, None), what="a summary, no fault")
        appliance.raise_fault("disk.low", "store", "3 % of the disk left", severity="minor")
        appliance.raise_fault("camera.frozen", "north", "the same image for 10 s", severity="critical")
        appliance.raise_fault("camera.blurred", "south", "40 % of its sharpness", severity="major")
        wait_until(lambda: severity_view(stored_summary(storage)) == (
            ["camera.blurred:south", "camera.frozen:north", "disk.low:store"],
            {"camera.blurred:south": "major", "camera.frozen:north": "critical", "disk.low:store": "minor"},
            "critical"), what="three faults, the worst critical")
        appliance.clear_fault("camera.frozen", "north")
        wait_until(lambda: severity_view(stored_summary(storage)) == (
            ["camera.blurred:south", "disk.low:store"],
            {"camera.blurred:south": "major", "disk.low:store": "minor"}, "major"), what="the worst now major")
        appliance.clear_fault("camera.blurred", "south")
        wait_until(lambda: stored_summary(storage)["worst_severity"] == "minor", what="the worst now minor")
    finally:
        appliance.shutdown()
        collector.stop()
        storage.close()
    # what the broker keeps for whoever subscribes later
    late = FakeCollector(broker, client_id="late-subscriber")
    try:
        wait_until(lambda: late.latest(TOPICS.health) is not None, what="the retained summary")
        retained = json.loads(late.latest(TOPICS.health))
    finally:
        late.close()
    assert severity_view(retained) == (["disk.low:store"], {"disk.low:store": "minor"}, "minor")


def test_a_fault_listed_before_its_event_arrived_keeps_the_summarys_severity(tmp_path):
    summary = {"time": iso_utc(T0), "pending": 0, "faults": ["camera.frozen:north", "lamp.dark:h1"],
               "severities": {"camera.frozen:north": "critical", "lamp.dark:h1": "bogus", "other:x": "minor"},
               "worst_severity": "critical", "health": {"uptime_s": 99.0}}
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
        storage.store([DeviceStatus("tn-0001", "site-a", online=True)], T0)
        storage.store([DeviceHealth("tn-0001", "site-a", json.dumps(summary))], T0)
        report = build_report(storage, [], T0, T0 + 10**9, 150, with_period=False)
    # a severity the device does not use is no severity
    assert [(span.id, span.severity) for span in report.current] == [("camera.frozen:north", "critical"),
                                                                     ("lamp.dark:h1", "unknown")]
