"""End to end (issue 26, "what it must show"): camera faults injected into the simulator are
raised by the real appliance's diagnostics, travel through its uplink and a real Mosquitto to
the real collector, and the mailed fault report lists exactly them (and the device's stop, from
its last will), with the availability the stored times give."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from smtp_server import SmtpServer
from test_delivery import start_collector
from test_fault_report import HtmlTables, table
from test_fault_report_browser import PROBE, render, rendered_table, rendered_text

from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.collector.cli import main as collector_cli
from roadcam.collector.fault_report import percent
from roadcam.collector.local_broker import Broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.storage import EventQuery
from roadcam.hal.hardware import Hardware
from roadcam.protocol.events import iso_utc, utc_ns
from roadcam.sim.faults import CameraFault, FaultyCamera
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import load_scenario

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DEVICE = "sim-0001"
INJECTED = [CameraFault("freeze", 6.0, 12.0), CameraFault("black", 15.0, 20.0)]
EXPECTED = {"camera.frozen:approach", "camera.dark:approach"}


def covered(spans: list[tuple[int, int]], start: int, end: int) -> int:
    """Length of the union of ``spans`` inside [start, end) (the test's own arithmetic)."""
    total, reach = 0, start
    for first, last in sorted((max(a, start), min(b, end)) for a, b in spans):
        if last > reach:
            total += last - max(first, reach)
            reach = last
    return total


def test_the_report_lists_exactly_the_faults_injected_into_the_simulator(tmp_path, chromium):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=["collector-1"])
    broker = Broker(tmp_path / "broker")
    broker.start()
    collector, storage = start_collector(tmp_path, broker, pki)
    loaded = load_scenario("smoke").model_copy(update={"duration_s": 26.0, "start": datetime.now(UTC)})
    road = SimRoad.from_scenario(loaded)
    site = road.site_config(tmp_path / "site")
    site["plugins"] = {"disabled": ["detection", "plate_capture", "speed"]}
    site["uplink"] = {"enabled": True, "host": broker.host, "port": broker.port, "keepalive_s": 5,
                      "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "ack_timeout_s": 2.0,
                      "signing_key_file": str(pki.signing_key(DEVICE)),
                      "staged_config_file": str(tmp_path / "site.next.yaml")}
    config, manager = site_from_data(site, source="fault report sim test")
    hardware = Hardware(config, road.clock, pin_factory=road.pin_factory,
                        sim_cameras=lambda name: FaultyCamera(road.camera(name), INJECTED, loaded.start_ns, loaded.fps))
    try:
        Appliance(config, manager, hardware, road.clock, sign=config.uplink.event_signer(),
                  drain_timeout_s=30).run(install_signal_handlers=False)  # ends with its will: offline
        deadline = time.monotonic() + 10
        while next((r.online for r in storage.devices() if r.device == DEVICE), None) is not False:
            assert time.monotonic() < deadline, "the device's last will did not arrive"
            time.sleep(0.05)
        faults = storage.events(EventQuery(device=DEVICE, type="fault.raised")) + storage.events(
            EventQuery(device=DEVICE, type="fault.cleared"))
        (record,) = storage.devices()
        (offline,) = [change for change in storage.status_changes(time.time_ns()) if not change.online]
        since_ns = loaded.start_ns - 600 * 10**9
        until_ns = utc_ns(iso_utc(max(loaded.start_ns + 27 * 10**9, offline.received_ns) + 10**9))
        with SmtpServer() as smtp:
            with open(tmp_path / "collector.yaml", "a") as file:
                file.write(f"report:\n  mail:\n    host: 127.0.0.1\n    port: {smtp.port}\n    starttls: false\n"
                           "    from: roadcam@collector.example\n    to: [faults@city.example]\n")
            assert collector_cli(["report", "faults", "--mail", "--config", str(tmp_path / "collector.yaml"),
                                  "--since", iso_utc(since_ns), "--until", iso_utc(until_ns)]) == 0
        (mail,) = smtp.received
    finally:
        collector.stop()
        storage.close()
        broker.stop()
    # the device raised and cleared exactly the injected faults, each once
    assert sorted((event.type, event.data["id"]) for event in faults) == sorted(
        (kind, fault) for fault in EXPECTED for kind in ("fault.raised", "fault.cleared"))
    page = HtmlTables(mail.message.get_body(("html",)).get_content())
    assert {(row["fault"], row["severity"]) for row in table(page, "Faults during")} == {
        ("camera.frozen:approach", "critical"), ("camera.dark:approach", "critical"),
        (f"device.offline:{DEVICE}", "critical")}
    assert {row["fault"] for row in table(page, "Faults active")} == {f"device.offline:{DEVICE}"}
    times = {(event.type, event.data["id"]): utc_ns(event.time) for event in faults}
    down = [(times["fault.raised", fault], times["fault.cleared", fault]) for fault in EXPECTED]
    down.append((offline.received_ns, until_ns))
    observed = until_ns - max(since_ns, record.first_heard_ns)
    expected = percent(1 - covered(down, until_ns - observed, until_ns) / observed)
    (device_row,) = table(page, "Devices")
    assert device_row["availability"] == expected
    # the same, as headless Chromium lays the mailed page out
    probed = tmp_path / "mailed.html"
    probed.write_text(mail.message.get_body(("html",)).get_content().replace("</body>", PROBE + "\n</body>"),
                      encoding="utf-8")
    layout = rendered_text(render(chromium, probed, tmp_path / "profile", "--dump-dom"))
    assert {(row["fault"], row["severity"]) for row in rendered_table(layout, "Faults during")} == {
        ("camera.frozen:approach", "critical"), ("camera.dark:approach", "critical"),
        (f"device.offline:{DEVICE}", "critical")}
    assert [row["fault"] for row in rendered_table(layout, "Faults active")] == [f"device.offline:{DEVICE}"]
    assert [row["availability"] for row in rendered_table(layout, "Devices")] == [expected]
    assert all(row["visible"] for table_name in ("Faults during", "Faults active", "Devices")
               for row in rendered_table(layout, table_name))
    print(f"injected {sorted(EXPECTED)}: reported, availability {expected} over {observed / 1e9:.1f} s observed")
