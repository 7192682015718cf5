"""Section speed end to end (issue 25): simulated sites 6 km apart, each a real appliance
(``roadcam simulate``: rendered frames, detection, tracking, plate reading, loop pins, the speed
plugin's passages) with its uplink on TLS with signed events, through Mosquitto with the shipped
production config and policy, into ``roadcam-collector serve`` with two sections configured:
site-a to site-b, and site-a to site-c, where site-c is site-b's day again on a device whose
clock drifts out of its bound. The collector's speed.section results are scored against the
runs' truth. The three runs are made once, for both tests; the two exit sites run at the same time."""

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
from roadcam.collector.storage import EventQuery
from roadcam.sim import SimRoad
from roadcam.sim.sections import PASSAGE_LOOP_M, PASSAGE_LOOPS, SectionVehicle, section_sites
from roadcam.sim.truth import GroundTruth

pytestmark = [pytest.mark.slow, pytest.mark.integration]

BIN = Path(sys.executable).parent
LENGTH_M = 6000.0
LIMIT_KMH, TOLERANCE_KMH = 50.0, 3.0
SITES = {"site-a": ("tn-a", "km0"), "site-b": ("tn-b", "km6"), "site-c": ("tn-c", "km6")}
#: site-c's device clock: 1,000 ppm fast, so its error bound (5 ms + its offset) is over the
#: 10 ms its passages may have from its first vehicle on.
DRIFT = {"drift_ppm": 1000.0, "error_ms": 5.0}
#: (plate, class, section km/h): four over limit + tolerance, four under it.
VEHICLES = [("RKX-3947", "truck", 50.0), ("MNV-5821", "car", 58.0), ("HPA-7362", "car", 51.5),
            ("WEK-4190", "truck", 55.5), ("TRF-6653", "car", 52.5), ("UCN-2478", "car", 57.0),
            ("YHM-8315", "truck", 53.8), ("KAP-9036", "car", 54.5)]


def collector_config(tmp_path: Path, broker, pki) -> Path:
    cert, key = pki.client("collector-1")
    section = {"entry_site": "site-a", "entry_point": "km0", "exit_point": "km6", "length_m": LENGTH_M,
               "length_tolerance_m": 0.5, "limit_kmh": LIMIT_KMH, "tolerance_kmh": TOLERANCE_KMH, "hold_s": 5}
    config = {
        "broker": {"host": broker.host, "port": broker.port, "client_id": "collector-1",
                   "tls": {"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)}},
        "storage": {"database": str(tmp_path / "collector.db"), "evidence_dir": str(tmp_path / "evidence")},
        "device_keys_dir": str(pki.device_keys_dir),
        "sections": [{"name": "a-to-b", "exit_site": "site-b", **section},
                     {"name": "a-to-c", "exit_site": "site-c", **section}],
        # the sites run a simulated day of March, faster than real time: their events' receipt
        # says nothing of their clocks (tests/test_sections_clock_check.py checks live devices)
        "clock_check": {"enabled": False},
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
        # a track unseen is kept up to 30 s by default (a vehicle hidden in a queue), and its
        # passage waits for its plate read at its end: 10 s lets the last ones end within the run
        "tracking": {"max_hidden_frames": 250},
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


def simulate(tmp_path: Path, site: str, scenario, broker, pki) -> subprocess.Popen:
    """Start ``roadcam simulate`` of one site's day, its output in ``tmp_path / f"{site}.log"``."""
    scenario_file = tmp_path / f"{site}.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario.model_dump(mode="json")))
    with open(tmp_path / f"{site}.log", "w") as log:  # the child holds its own descriptor
        return subprocess.Popen([str(BIN / "roadcam"), "simulate", "--scenario", str(scenario_file), "--out",
                                 str(tmp_path / site), "--drain", "60",
                                 "--site-extra", str(site_extra(tmp_path, site, scenario, broker, pki))],
                                stdout=log, stderr=subprocess.STDOUT)


def loop_times(truth: GroundTruth, start_ns: int) -> dict[str, int]:
    """Plate (compacted) -> UTC ns (true time) its front reached its lane's passage loop."""
    return {v.plate.replace("-", ""): start_ns + round(v.loop_passages[0].enter_s * 1e9)
            for v in truth.vehicles.values() if v.loop_passages}


@pytest.fixture(scope="module")
def section_runs(tmp_path_factory):
    """Broker, collector and the three sites' runs, in turn; returns the collector's section
    results by section and plate, its stored fault events, and the true section speeds."""
    tmp_path = tmp_path_factory.mktemp("sections")
    vehicles = [SectionVehicle(plate, kind, 1 + i % 2, 1.0 + 3.5 * i, 50.0, kmh)
                for i, (plate, kind, kmh) in enumerate(VEHICLES)]
    entry, exit_site = section_sites(vehicles, LENGTH_M, exit_offset_s=370.0)
    drifting = exit_site.model_copy(update={"site": "site-c", "clock": exit_site.clock.model_copy(update=DRIFT)})
    scenarios = {"site-a": entry, "site-b": exit_site, "site-c": drifting}
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
        # the entry site's day, then the two exit sites' at once (separate devices and sections)
        for sites in (["site-a"], ["site-b", "site-c"]):
            runs = {site: simulate(tmp_path, site, scenarios[site], broker, pki) for site in sites}
            exits = {site: run.wait() for site, run in runs.items()}
            for site, exit_code in exits.items():
                assert exit_code == 0, (tmp_path / f"{site}.log").read_text()[-3000:]
        with open_storage(load_collector_config(config)) as storage:
            table = SectionTable(storage)
            deadline = time.monotonic() + 30  # the exits are decided hold_s after the last passage
            while len(table.section_results(limit=100)) < 2 * len(VEHICLES) and time.monotonic() < deadline:
                time.sleep(0.5)
            results: dict[str, dict] = {"a-to-b": {}, "a-to-c": {}}
            for result in table.section_results(limit=100):
                results[result.section][result.plate] = result
            faults = storage.events(EventQuery(type="fault.raised", limit=1000))
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=20)
        broker.stop()
    at_entry = loop_times(GroundTruth.from_json(tmp_path / "site-a" / "truth.json"), entry.start_ns)
    at_exit = loop_times(GroundTruth.from_json(tmp_path / "site-b" / "truth.json"), exit_site.start_ns)
    truth = {plate: LENGTH_M / ((at_exit[plate] - at_entry[plate]) / 1e9) * 3.6 for plate in at_entry}
    return results, faults, truth


def show(name: str, results: dict, truth: dict[str, float]) -> None:
    matched = [r for r in results.values() if r.kind == "matched"]
    print(f"\nsection {name}, {len(VEHICLES)} vehicles over 6 km: {len(matched)} paired, "
          f"{len(results) - len(matched)} other decisions")
    for plate, kmh in sorted(truth.items(), key=lambda item: item[1]):
        result = results.get(plate)
        shown = (f"{result.data['speed_kmh']:.3f} [{result.data['speed_low_kmh']:.3f}, "
                 f"{result.data['speed_high_kmh']:.3f}] violation {result.violation} "
                 f"{' '.join(result.data['no_violation_because'])}") if result and result.kind == "matched" \
            else (result.kind if result else "no decision")
        print(f"  {plate} true {kmh:.3f} km/h: {shown}")


def test_two_sites_6_km_apart_give_section_speeds_and_violations_through_the_collector(section_runs):
    results, _, truth = section_runs
    show("a-to-b", results["a-to-b"], truth)
    assert sorted(results["a-to-b"]) == sorted(truth)
    for plate, result in results["a-to-b"].items():
        assert result.kind == "matched"
        assert abs(result.data["speed_kmh"] - truth[plate]) < 1.0
        assert result.violation == (truth[plate] > LIMIT_KMH + TOLERANCE_KMH), plate
        assert result.data["length_m"] == LENGTH_M and result.data["length_tolerance_m"] == 0.5
        assert result.data["entry"]["evidence"] and result.data["exit"]["evidence"]  # the plate reads' files


def test_a_site_whose_clock_drifts_out_of_its_bound_gives_no_violation_and_a_fault(section_runs):
    results, faults, truth = section_runs
    show("a-to-c (site-c's clock 1,000 ppm fast)", results["a-to-c"], truth)
    assert sorted(results["a-to-c"]) == sorted(truth)
    assert not [plate for plate, result in results["a-to-c"].items() if result.violation]
    assert all(r.kind == "matched" and r.data["no_violation_because"] == ["clock_unsynced"]
               for r in results["a-to-c"].values())
    raised = [(e.device, e.data["code"]) for e in faults]
    assert ("tn-c", "clock.unsynced") in raised and ("tn-b", "clock.unsynced") not in raised
