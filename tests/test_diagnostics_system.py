"""The box's own checks (issue 26): a disk filling up (a real file), a store the collector does
not confirm, an outbox backlog, a drifting clock, corrupt or missing evidence files, throttling
read from the firmware's tool, and a broker that goes down (a real Mosquitto killed). Each is
raised within its detection time (two check periods: 20 s) and cleared after it ends; what the
machine does not expose is not a fault."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from appliances import build_appliance, run_for, stored
from uplink_doubles import uplink_appliance, wait_until

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.events import EventDraft
from roadcam.appliance.store import EventStore
from roadcam.collector.local_broker import Broker
from roadcam.hal.clock_status import ClockStatusSource
from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.plugins.diagnostics.system import SystemChecks, system_figures, throttled_flags
from roadcam.protocol.events import EvidenceBlob
from roadcam.sim.clocks import DriftingClock
from roadcam.sim.faults import fill_disk

START_NS = 1_800_000_000 * 10**9
CHECK_S = DiagnosticsConfig().system_check_every_s
DETECT_WITHIN_S = 2 * CHECK_S


class Recorder:
    """The checks' raise and clear, as (action, fault id, seconds since start)."""

    def __init__(self, clock):
        self.clock, self.changes, self.active = clock, [], set()

    def raise_fault(self, code, component, message, severity):
        if f"{code}:{component}" not in self.active:
            self.active.add(f"{code}:{component}")
            self.changes.append(("raised", f"{code}:{component}", self.seconds(), message, severity))

    def clear_fault(self, code, component):
        if f"{code}:{component}" in self.active:
            self.active.discard(f"{code}:{component}")
            self.changes.append(("cleared", f"{code}:{component}", self.seconds()))

    def seconds(self) -> float:
        return self.clock.mono_ns() / 1e9

    def ids(self):
        return [(change[0], change[1]) for change in self.changes]


@pytest.fixture
def store(tmp_path):
    with EventStore(tmp_path / "events.db", tmp_path / "evidence", device="tn-test", site="tn-bench",
                    budget_bytes=2 * 1024 * 1024) as opened:
        yield opened


def make_checks(tmp_path, store, clock, outbox_watched=False, **config):
    recorder = Recorder(clock)
    checks = SystemChecks(DiagnosticsConfig(**config), store, clock, tmp_path, recorder.raise_fault,
                          recorder.clear_fault, outbox_watched=outbox_watched)
    return checks, recorder


def run_until(checks, clock, until_s: float, step_s: float = 1.0) -> None:
    """Tick the checks every ``step_s`` of the manual clock up to ``until_s``."""
    while clock.mono_ns() / 1e9 < until_s:
        clock.advance(step_s)
        checks.on_tick(clock.wall_ns())


def add_events(store, clock, count: int, evidence_kib: int = 0):
    drafts = [EventDraft("test.event", {"n": n}, clock.wall_ns(),
                         evidence=(EvidenceBlob("crop", os.urandom(evidence_kib * 1024)),) if evidence_kib else ())
              for n in range(count)]
    return store.append(drafts, clock.state())


def test_a_disk_filling_up_raises_disk_low_and_clears_when_space_is_freed(tmp_path, store):
    clock = ManualClock(START_NS)
    free_mb = shutil.disk_usage(tmp_path).free // (1024 * 1024)
    checks, recorder = make_checks(tmp_path, store, clock, disk_free_min_mb=free_mb - 100)
    run_until(checks, clock, 30)
    filler = fill_disk(tmp_path, 300)  # a real file: free space falls 300 MiB, 200 under the limit
    run_until(checks, clock, 60)
    filler.unlink()
    run_until(checks, clock, 90)
    assert recorder.ids() == [("raised", "disk.low:storage"), ("cleared", "disk.low:storage")]
    assert 30 < recorder.changes[0][2] <= 30 + DETECT_WITHIN_S and 60 < recorder.changes[1][2] <= 60 + DETECT_WITHIN_S
    assert "free disk" in recorder.changes[0][3]


def test_a_store_the_collector_does_not_confirm_raises_store_filling_then_outbox_backlog(tmp_path, store):
    clock = ManualClock(START_NS)
    checks, recorder = make_checks(tmp_path, store, clock, outbox_watched=True, outbox_max_events=50,
                                   outbox_max_age_s=600)
    run_until(checks, clock, 20)
    events = add_events(store, clock, 40, evidence_kib=48)  # ~1.9 MiB of a 2 MiB budget, unconfirmed
    run_until(checks, clock, 40)
    assert recorder.ids() == [("raised", "store.filling:store")]
    run_until(checks, clock, 700)  # nothing confirmed: the oldest waits past outbox_max_age_s
    assert recorder.ids()[-1] == ("raised", "outbox.backlog:uplink")
    assert 620 < recorder.changes[-1][2] <= 620 + DETECT_WITHIN_S
    store.confirm(events[-1].seq, events[-1].digest())  # the collector is back and confirms all
    store.enforce_budget()
    run_until(checks, clock, 730)
    assert recorder.ids()[2:] == [("cleared", "store.filling:store"), ("cleared", "outbox.backlog:uplink")]


def test_without_an_uplink_waiting_events_are_no_backlog(tmp_path, store):
    clock = ManualClock(START_NS)
    checks, recorder = make_checks(tmp_path, store, clock, outbox_max_events=5, outbox_max_age_s=60)
    add_events(store, clock, 10)
    run_until(checks, clock, 200)
    assert recorder.changes == []


def test_a_drifting_clock_raises_clock_error_and_clears_once_stepped_back(tmp_path, store):
    # 500 ppm fast: the error bound (base + measured offset) passes 100 ms at 198 s; at 300 s
    # the discipline steps it back by the 150 ms it gained
    clock = DriftingClock(START_NS, drift_ppm=500, steps=[(300.0, -150.0)], error_ms=1.0)
    checks, recorder = make_checks(tmp_path, store, clock, clock_error_max_ms=100)
    run_until(checks, clock, 360)
    assert recorder.ids() == [("raised", "clock.error:clock"), ("cleared", "clock.error:clock")]
    (_, _, raised_s, message, _), (_, _, cleared_s) = recorder.changes
    assert 198 < raised_s <= 198 + DETECT_WITHIN_S and 300 < cleared_s <= 300 + DETECT_WITHIN_S
    assert "error bound" in message


def test_a_clock_that_loses_its_time_source_raises_unsynced_and_clears_once_synchronised(tmp_path, store):
    clock = DriftingClock(START_NS)
    checks, recorder = make_checks(tmp_path, store, clock, clock_unsynced_after_s=60)
    run_until(checks, clock, 100)
    clock.synced = False  # the time source is lost at 100 s
    run_until(checks, clock, 400)
    clock.synced = True
    run_until(checks, clock, 450)
    assert recorder.ids() == [("raised", "clock.unsynced:clock"), ("cleared", "clock.unsynced:clock")]
    (_, _, raised_s, _, severity), (_, _, cleared_s) = recorder.changes
    assert 160 <= raised_s <= 160 + DETECT_WITHIN_S and 400 < cleared_s <= 400 + DETECT_WITHIN_S
    assert severity == "major"


def test_corrupt_and_missing_evidence_files_are_found_by_the_sample_and_cleared_when_restored(tmp_path, store):
    clock = ManualClock(START_NS)
    checks, recorder = make_checks(tmp_path, store, clock, evidence_check_every_s=30, evidence_sample_files=4)
    corrupt_event, missing_event = add_events(store, clock, 2, evidence_kib=4)
    corrupt_path = store.evidence_path(corrupt_event.evidence[0].sha256)
    missing_path = store.evidence_path(missing_event.evidence[0].sha256)
    good_corrupt, good_missing = corrupt_path.read_bytes(), missing_path.read_bytes()
    run_until(checks, clock, 40)
    assert recorder.changes == []
    corrupt_path.chmod(0o644)
    corrupt_path.write_bytes(b"flipped" + good_corrupt[7:])
    missing_path.unlink()
    run_until(checks, clock, 100)
    assert recorder.ids() == [("raised", "evidence.corrupt:store"), ("raised", "evidence.missing:store")]
    assert all(40 < change[2] <= 40 + 30 for change in recorder.changes)
    assert recorder.changes[0][4] == "critical" and str(corrupt_path) in recorder.changes[0][3]
    corrupt_path.write_bytes(good_corrupt)
    missing_path.write_bytes(good_missing)
    run_until(checks, clock, 160)
    assert recorder.ids()[2:] == [("cleared", "evidence.corrupt:store"), ("cleared", "evidence.missing:store")]


def test_the_evidence_of_confirmed_events_may_be_evicted(tmp_path, store):
    clock = ManualClock(START_NS)
    checks, recorder = make_checks(tmp_path, store, clock, evidence_check_every_s=30)
    (event,) = add_events(store, clock, 1, evidence_kib=4)
    store.confirm(event.seq, event.digest())
    store.evidence_path(event.evidence[0].sha256).unlink()
    run_until(checks, clock, 100)
    assert recorder.changes == []


def test_throttling_is_read_from_vcgencmd_and_its_absence_is_no_fault(tmp_path, store, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert throttled_flags() is None and system_figures(tmp_path)["throttled"] is None
    clock = ManualClock(START_NS)
    checks, recorder = make_checks(tmp_path, store, clock)
    run_until(checks, clock, 30)
    assert recorder.changes == []

    tools = tmp_path / "bin"
    tools.mkdir()
    vcgencmd = tools / "vcgencmd"
    vcgencmd.write_text("#!/bin/sh\necho throttled=0x50005\n")  # under-voltage and throttled now
    vcgencmd.chmod(0o755)
    monkeypatch.setenv("PATH", str(tools))
    assert throttled_flags() == 0x50005
    run_until(checks, clock, 60)
    assert recorder.ids() == [("raised", "cpu.throttled:system")]
    assert "under-voltage, throttled" in recorder.changes[0][3]
    vcgencmd.write_text("#!/bin/sh\necho throttled=0x50000\n")  # only 'since boot' bits left
    run_until(checks, clock, 90)
    assert recorder.ids()[-1] == ("cleared", "cpu.throttled:system")


def test_a_clock_offset_is_read_from_chronyc_and_its_absence_is_no_fault(tmp_path, store, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    monkeypatch.setenv("PATH", str(tools))
    chronyc = tools / "chronyc"
    fields = "C0A80101,gps,1,1790000000.0,{},0.0,0.0,0.0,0.0,0.0,0.000100000,0.000100000,16.0,Normal"
    chronyc.write_text(f"#!/bin/sh\necho '{fields.format('0.250000000')}'\n")  # 250 ms slow
    chronyc.chmod(0o755)
    clock = ManualClock(START_NS, status_source=ClockStatusSource("chrony", max_age_s=0.0))
    checks, recorder = make_checks(tmp_path, store, clock)
    run_until(checks, clock, 30)
    assert ("raised", "clock.offset:clock") in recorder.ids()
    assert any("-250.0 ms off" in change[3] for change in recorder.changes)
    chronyc.write_text(f"#!/bin/sh\necho '{fields.format('-0.000020000')}'\n")  # 20 µs fast
    run_until(checks, clock, 60)
    assert checks.latest["clock_offset_ms"] == 0.02 and checks.latest["clock_source"] == "chrony"
    assert ("cleared", "clock.offset:clock") in recorder.ids()
    chronyc.unlink()  # chrony gone: the kernel's state, whose offset is no fault here
    clock = ManualClock(START_NS, status_source=ClockStatusSource("auto", max_age_s=0.0))
    checks, recorder = make_checks(tmp_path, store, clock)
    run_until(checks, clock, 30)
    assert checks.latest["clock_source"] == "adjtimex"
    assert "clock.offset:clock" not in {fault for _, fault in recorder.ids()}


def test_the_appliance_reports_the_box_in_health_and_raises_no_system_fault_on_a_healthy_box(tmp_path):
    run_for(build_appliance(tmp_path), 1.5)
    health = stored(tmp_path, "health")[-1].data
    assert {"disk_free_mb", "memory_available_mb", "store_fill", "clock_synced"} <= set(health["system"])
    assert health["system"]["faults"] == []
    raised = [e.data["id"] for e in stored(tmp_path, "fault.raised")]
    assert not [fault for fault in raised if fault.split(".")[0] in ("disk", "store", "outbox", "memory", "evidence")]


def test_a_broker_that_goes_down_raises_uplink_offline_and_it_clears_when_it_is_back(tmp_path):
    """The broker link's fault is the uplink's own (from its connection state), not a second
    check here: this shows it end to end with a real Mosquitto killed and started again."""
    broker = Broker(Path(tmp_path) / "broker")
    broker.start()
    appliance = uplink_appliance(tmp_path, broker, offline_fault_after_s=1.0)
    appliance.start()
    try:
        wait_until(lambda: appliance.health()["uplink"]["connected"], what="the first connection")
        broker.kill()
        wait_until(lambda: any(f.id == "uplink.offline:broker" for f in appliance.faults.active()),
                   what="uplink.offline")
        broker.start()
        wait_until(lambda: not any(f.id == "uplink.offline:broker" for f in appliance.faults.active()),
                   timeout_s=15, what="uplink.offline to clear")
    finally:
        appliance.shutdown()
        broker.stop()
    changes = [(e.type, e.data["id"]) for e in stored(tmp_path, "fault.raised", "fault.cleared")
               if e.data["code"] == "uplink.offline"]
    assert changes == [("fault.raised", "uplink.offline:broker"), ("fault.cleared", "uplink.offline:broker")]
