"""Section speed end to end (issue 25): two simulated sites 6 km apart, each a real appliance
(``roadcam simulate``: rendered frames, detection, tracking, plate reading, loop pins, the speed
plugin's passages) with its uplink on TLS with signed events, through Mosquitto with the shipped
production config and policy, into ``roadcam-collector serve`` with the section configured.
The collector's speed.section results are scored against the two runs' truth."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from roadcam.collector.cli import open_storage
from roadcam.collector.config import load_collector_config
from roadcam.collector.local_broker import production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.section_storage import SectionTable
from roadcam.sim import SimRoad
from roadcam.sim.sections import PASSAGE_LOOP_M, PASSAGE_LOOPS, SectionVehicle, section_sites
from roadcam.sim.truth import GroundTruth

pytestmark = [pytest.mark.slow, pytest.mark.integration]

BIN = Path(sys.executable).parent
LENGTH_M = 6000.0
LIMIT_KMH, TOLERANCE_KMH = 50.0, 3.0
SITES = {"site-a": ("tn-a", "km0"), "site-b": ("tn-b", "km6")}
#: (plate, class, section km/h): four over limit + tolerance, four under it.
VEHICLES = [("RKX-3947", "truck", 50.0), ("MNV-5821", "car", 58.0), ("HPA-7362", "car", 51.5),
            ("WEK-4190", "truck", 55.5), ("TRF-6653", "car", 52.5), ("UCN-2478", "car", 57.0),
            ("YHM-8315", "truck", 53.8), ("KAP-9036", "car", 54.5)]


def collector_config(tmp_path: Path, broker, pki) -> Path:
    cert, key = pki.client("collector-1")
    config = {
        "broker": {"host": broker.host, "port": broker.port, "client_id": "collector-1",
                   "tls": {"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)}},
        "storage": {"database": str(tmp_path / "collector.db"), "evidence_dir": str(tmp_path / "evidence")},
        "device_keys_dir": str(pki.device_keys_dir),
        "sections": [{"name": "tn-suburban", "entry_site": "site-a", "entry_point": "km0", "exit_site": "site-b",
                      "exit_point": "km6", "length_m": LENGTH_M, "length_tolerance_m": 0.5,
                      "limit_kmh": LIMIT_KMH, "tolerance_kmh": TOLERANCE_KMH, "hold_s": 5}],
    }
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def site_extra(tmp_path: Path, site: str, scenario, broker, pki) -> Path:
    """The device's id and site, its uplink (TLS, signing), and its passage point: a loop per
    lane, each with its road-plane zone in the camera's calibration frame."""
    device, point = SITES[site]
    layout = SimRoad.from_scenario(scenario).world.layout
    loops = []
    for lane, (name, _) in PASSAGE_LOOPS.items():
        rect = layout.loop_rect(lane, PASSAGE_LOOP_M, 2.0)
        loops.append({"loop": name, "zone": [rect.x_min - 1.0, rect.x_max + 1.0, rect.y_min - 1.5, rect.y_max + 1.5]})
    cert, key = pki.client(device)
    out = tmp_path / site
    extra = {
        "device": {"id": device, "site": site},
        "speed": {"passage": {"point": point, "loops": loops, "camera": "approach"}},
        "uplink": {"enabled": True, "host": broker.host, "port": broker.port,
                   "tls": {"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)},
                   "signing_key_file": str(pki.signing_key(device)),
                   "collector_key_file": str(pki.collector_public_key), "drain_rate_per_s": 1000,
                   "ack_timeout_s": 5, "command_state_file": str(out / "command-versions.json"),
                   "staged_config_file": str(out / "site.next.yaml")},
    }
    path = tmp_path / f"{site}-extra.yaml"
    path.write_text(yaml.safe_dump(extra))
    return path


def loop_times(truth: GroundTruth, start_ns: int) -> dict[str, int]:
    """Plate (compacted) -> UTC ns its front reached its lane's passage loop."""
    return {v.plate.replace("-", ""): start_ns + round(v.loop_passages[0].enter_s * 1e9)
            for v in truth.vehicles.values() if v.loop_passages}


def test_two_sites_6_km_apart_give_section_speeds_and_violations_through_the_collector(tmp_path):
    vehicles = [SectionVehicle(plate, kind, 1 + i % 2, 1.0 + 3.5 * i, 50.0, kmh)
                for i, (plate, kind, kmh) in enumerate(VEHICLES)]
    scenarios = dict(zip(SITES, section_sites(vehicles, LENGTH_M, exit_offset_s=370.0)))
    pki = write_test_pki(tmp_path / "pki", devices=[device for device, _ in SITES.values()],
                         collectors=["collector-1"], sites={device: site for site, (device, _) in SITES.items()})
    broker = production_broker(tmp_path / "broker", pki.root)
    broker.start()
    config = collector_config(tmp_path, broker, pki)
    with open(tmp_path / "collector.log", "w") as log:
        collector = subprocess.Popen([str(BIN / "roadcam-collector"), "serve", "--config", str(config)], stderr=log)
    try:
        deadline = time.monotonic() + 20
        while "collector-1" not in broker.log():
            assert collector.poll() is None and time.monotonic() < deadline, (tmp_path / "collector.log").read_text()
            time.sleep(0.1)
        for site, scenario in scenarios.items():  # the entry site's day, then the exit site's
            scenario_file = tmp_path / f"{site}.yaml"
            scenario_file.write_text(yaml.safe_dump(scenario.model_dump(mode="json")))
            run = subprocess.run([str(BIN / "roadcam"), "simulate", "--scenario", str(scenario_file), "--out",
                                  str(tmp_path / site), "--drain", "60",
                                  "--site-extra", str(site_extra(tmp_path, site, scenario, broker, pki))],
                                 capture_output=True, text=True)
            assert run.returncode == 0, run.stderr[-3000:]
        with open_storage(load_collector_config(config)) as storage:
            table = SectionTable(storage)
            deadline = time.monotonic() + 30  # the exits are decided hold_s after the last passage
            while len(table.section_results(limit=100)) < len(VEHICLES) and time.monotonic() < deadline:
                time.sleep(0.5)
            results = table.section_results(limit=100)
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=20)
        broker.stop()

    at_entry = loop_times(GroundTruth.from_json(tmp_path / "site-a" / "truth.json"), scenarios["site-a"].start_ns)
    at_exit = loop_times(GroundTruth.from_json(tmp_path / "site-b" / "truth.json"), scenarios["site-b"].start_ns)
    truth = {plate: LENGTH_M / ((at_exit[plate] - at_entry[plate]) / 1e9) * 3.6 for plate in at_entry}
    matched = {r.plate: r for r in results if r.kind == "matched"}
    print(f"\nsection speed, {len(VEHICLES)} vehicles over 6 km: {len(matched)} paired, "
          f"{len(results) - len(matched)} unpaired decisions")
    for plate, kmh in sorted(truth.items(), key=lambda item: item[1]):
        result = matched.get(plate)
        shown = (f"{result.data['speed_kmh']:.3f} [{result.data['speed_low_kmh']:.3f}, "
                 f"{result.data['speed_high_kmh']:.3f}] violation {result.violation}") if result else "not paired"
        print(f"  {plate} true {kmh:.3f} km/h: {shown}")
    assert len(matched) == len(VEHICLES), [(r.kind, r.plate) for r in results]
    for plate, result in matched.items():
        assert abs(result.data["speed_kmh"] - truth[plate]) < 1.0
        assert result.violation == (truth[plate] > LIMIT_KMH + TOLERANCE_KMH), plate
        assert result.data["length_m"] == LENGTH_M and result.data["length_tolerance_m"] == 0.5
        assert result.data["entry"]["evidence"] and result.data["exit"]["evidence"]  # the plate reads' files
