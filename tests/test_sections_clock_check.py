"""The collector's check of a falsely-synced device clock (issue 25 item 4), through Mosquitto with
the shipped production config and policy (TLS, signed events) into ``roadcam-collector serve``,
with live devices: site-a's clock says it is synced within 1 ms but runs 2 s fast, so its
passages are stamped after the collector receives them. Its vehicle, truly at 40 km/h over the
100 m to site-b, would seem 51 km/h (over the 50 km/h limit): the collector pairs it, marks the
entry ``clock_false``, issues no violation and records a clock_false problem for tn-a. site-c's
clock is right: its speeder, 60 km/h to site-d, is a violation. Then the unit rules of the check (a slow clock only
on a run of late events, a backlog not)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from test_sections import Collecting, passage, section

from roadcam.collector.clock_check import ClockCheck, ClockCheckSettings
from roadcam.collector.fake_device import SignedEventSource, mqtt5_client
from roadcam.collector.local_broker import production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.postgres_storage import PostgresStorage
from roadcam.collector.section_storage import SectionTable
from roadcam.collector.sections import SectionService
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.protocol.events import Event, iso_utc
from roadcam.protocol.signing import load_private_key

BIN = Path(sys.executable).parent
SITES = {"tn-a": "site-a", "tn-b": "site-b", "tn-c": "site-c", "tn-d": "site-d"}
LENGTH_M = 100.0


def passage_data(plate: str) -> dict:
    return {"point": "p", "loop": "l1", "lane": 1, "clock_within_bound": True, "time_uncertainty_ms": 0.1,
            "plate": plate, "vehicle_kind": "car"}


@pytest.mark.integration
def test_a_device_clock_ahead_of_receipt_is_distrusted_and_recorded(tmp_path):
    pki = write_test_pki(tmp_path / "pki", devices=list(SITES), collectors=["collector-1"], sites=SITES)
    broker = production_broker(tmp_path / "broker", pki.root)
    broker.start()
    cert, key = pki.client("collector-1")
    section = {"length_m": LENGTH_M, "length_tolerance_m": 0.1, "limit_kmh": 50.0,
               "hold_s": 2, "expire_s": 60}
    config = tmp_path / "collector.yaml"
    config.write_text(yaml.safe_dump({
        "broker": {"host": broker.host, "port": broker.port, "client_id": "collector-1",
                   "tls": {"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)}},
        "storage": {"database": str(tmp_path / "collector.db"), "evidence_dir": str(tmp_path / "evidence")},
        "device_keys_dir": str(pki.device_keys_dir),
        "sections": [{"name": "a-to-b", "entry_site": "site-a", "exit_site": "site-b", **section},
                     {"name": "c-to-d", "entry_site": "site-c", "exit_site": "site-d", **section}],
    }))
    with open(tmp_path / "collector.log", "w") as log:
        collector = subprocess.Popen([str(BIN / "roadcam-collector"), "serve", "--config", str(config)], stderr=log)
    devices, sources = {}, {}
    try:
        deadline = time.monotonic() + 20
        while "collector-1" not in broker.log():
            assert collector.poll() is None and time.monotonic() < deadline, (tmp_path / "collector.log").read_text()
            time.sleep(0.1)
        for device, site in SITES.items():
            client = mqtt5_client(device)
            cert_file, key_file = pki.client(device)
            client.tls_set(ca_certs=str(pki.ca), certfile=str(cert_file), keyfile=str(key_file))
            connected = threading.Event()
            client.on_connect = lambda *args, connected=connected: connected.set()
            client.connect(broker.host, broker.port)
            client.loop_start()
            assert connected.wait(10)
            devices[device] = client
            sources[device] = SignedEventSource(device, site, load_private_key(pki.signing_key(device)))

        def send(device: str, plate: str, stamped_ns: int) -> None:
            source = sources[device]
            made = source.next_event("speed.passage", passage_data(plate), time_ns=stamped_ns)
            source.publish(devices[device], made).wait_for_publish(5)

        start = time.time_ns()
        send("tn-a", "ABC1234", start + 2_000_000_000)  # true time: start; its clock 2 s fast
        send("tn-c", "XYZ9876", start)
        for device, plate, after_s in (("tn-d", "XYZ9876", 6.0), ("tn-b", "ABC1234", 9.0)):  # 60 and 40 km/h
            time.sleep(max(0.0, (start + after_s * 1e9 - time.time_ns()) / 1e9))
            send(device, plate, start + round(after_s * 1e9))
        with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
            table = SectionTable(storage)
            deadline = time.monotonic() + 20
            while len(table.section_results()) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            results = {(r.section, r.plate): r for r in table.section_results()}
            problems = [(p.device, p.kind, p.detail) for p in storage.problems()]
    finally:
        for client in devices.values():
            client.disconnect()
            client.loop_stop()
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=20)
        broker.stop()
    fooled, honest = results["a-to-b", "ABC1234"], results["c-to-d", "XYZ9876"]
    print(f"\na-to-b (tn-a 2 s fast, claims 1 ms): {fooled.data['speed_kmh']:.1f} km/h, violation {fooled.violation}, "
          f"{fooled.data['no_violation_because']}; c-to-d: {honest.data['speed_kmh']:.1f} km/h, "
          f"violation {honest.violation}; problems {[(d, k) for d, k, _ in problems]}")
    assert fooled.kind == "matched" and fooled.data["speed_kmh"] == pytest.approx(LENGTH_M / 7 * 3.6, abs=1.0)
    assert not fooled.violation and fooled.data["no_violation_because"] == ["clock_false"]
    assert "s after the collector received it" in fooled.data["entry"]["clock_false"]
    assert fooled.data["exit"]["clock_false"] is None
    assert honest.kind == "matched" and honest.violation and honest.data["speed_kmh"] == pytest.approx(60.0, abs=1.0)
    assert [(device, kind) for device, kind, _ in problems] == [("tn-a", "clock_false")]
    assert "speed.passage" in problems[0][2] and "beyond the 1 ms the device claims" in problems[0][2]


T0 = 1_800_000_000 * 10**9


def event(time_ns: int, seq: int, synced: bool = True, error_ms: float = 1.0) -> Event:
    return Event(id=f"e{seq}", device="tn-x", site="s", type="health", time=iso_utc(time_ns), seq=seq,
                 clock={"synced": synced, "error_ms": error_ms}, data={})


def test_a_slow_clock_is_found_only_on_a_run_of_late_events_and_a_backlog_is_not():
    settings = ClockCheckSettings(max_delay_s=30, window_s=600, min_events=5)
    check = ClockCheck(settings)
    # a backlog: an hour of events sent in 2 s, then fresh ones: never judged
    findings = [check.observe(event(T0 + i * 10**9 * 60, i), T0 + 3600 * 10**9 + i * 10**7) for i in range(60)]
    findings.append(check.observe(event(T0 + 3601 * 10**9, 61), T0 + 3601 * 10**9 + 50 * 10**6))
    assert findings == [None] * 61
    # a clock 45 s behind: every event 45 s late; judged once the run spans the window
    check = ClockCheck(settings)
    late = [check.observe(event(T0 + i * 60 * 10**9 - 45 * 10**9, i), T0 + i * 60 * 10**9) for i in range(12)]
    assert late[:10] == [None] * 10 and late[10].new and "runs behind" in late[10].reason and not late[11].new
    # an unsynced claim is no claim: never judged, even fast
    check = ClockCheck(settings)
    assert check.observe(event(T0 + 10 * 10**9, 1, synced=False), T0) is None
    # a fast one is judged at once, beyond its claim and the collector's bound only
    assert check.observe(event(T0 + 90 * 10**6, 2, error_ms=1.0), T0) is None
    assert check.observe(event(T0 + 102 * 10**6, 3, error_ms=1.0), T0).new


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_false_clock_is_recorded_once_a_spell_on_both_backends(request, tmp_path, backend):
    if backend == "sqlite":
        storage = SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence")
    else:
        url = request.getfixturevalue("postgres_url")
        storage = PostgresStorage(url, tmp_path / "evidence")
    received = [T0]
    service = Collecting(SectionService([section(hold_s=5)], SectionTable(storage), clock_ns=lambda: received[0],
                                        clock_check=ClockCheckSettings(window_s=60)), storage)
    try:
        fast = [passage("site-a", T0 + 3 * 10**9, "ABC-1234"), passage("site-a", T0 + 4 * 10**9, "KLM-2786")]
        service.follow(fast)  # 3 s and 4 s ahead of their receipt: one spell, one problem
        received[0] = T0 + 3600 * 10**9  # an hour on, its clock is right again
        expired = service.follow([passage("site-b", T0 + 3599 * 10**9, "XYZ-0001")])
        assert [(p.device, p.kind) for p in storage.problems() if p.kind == "clock_false"] == \
            [("dev-site-a", "clock_false")]
        assert sorted(r.plate for r in expired if r.kind == "entry_expired") == ["ABC1234", "KLM2786"]
        assert all("after the collector received it" in r.data["entry"]["clock_false"]
                   for r in expired if r.kind == "entry_expired")
    finally:
        storage.close()


def test_a_restart_keeps_distrusting_a_false_clocks_open_passages(tmp_path):
    received = [T0]
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
        def service():
            return Collecting(SectionService([section(hold_s=5)], SectionTable(storage),
                                             clock_ns=lambda: received[0], clock_check=ClockCheckSettings()), storage)

        service().follow([passage("site-a", T0 + 3 * 10**9, "ABC-1234")])  # 3 s ahead of its receipt
        again = service()  # the collector restarted
        again.rebuild()
        exit_ns = T0 + 3 * 10**9 + round(6000 / (80 / 3.6) * 1e9)  # 80 km/h
        received[0] = exit_ns + 10 * 10**9
        results = again.follow([passage("site-b", exit_ns, "ABC-1234"), passage("site-b", exit_ns + 9 * 10**9, "X")])
        matched = [r for r in results if r.kind == "matched"]
        assert len(matched) == 1 and not matched[0].violation
        assert matched[0].data["no_violation_because"] == ["clock_false"]
        assert len([p for p in storage.problems() if p.kind == "clock_false"]) == 1


def test_a_disabled_check_distrusts_nothing(tmp_path):
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
        service = Collecting(SectionService([section()], SectionTable(storage), clock_ns=lambda: T0,
                                            clock_check=ClockCheckSettings(enabled=False)), storage)
        service.follow([passage("site-a", T0 + 3 * 10**9, "ABC-1234")])
        assert not [p for p in storage.problems() if p.kind == "clock_false"]
