"""The demo bench: the simulated road, end to end, through a real broker and collector.

1. makes a test PKI (CA, broker, device and collector certificates, Ed25519 signing keys);
2. starts Mosquitto with the shipped production config (TLS, client certificates, per-device
   ACL, persistence) on a free loopback port;
3. starts ``roadcam-collector serve``;
4. runs ``roadcam simulate`` with the uplink on (TLS, signed events) and the scenario's fences
   drawn with every rule enabled (:mod:`roadcam.tools.fences_for_scenario`, as a technician would
   draw them), and waits until the collector has confirmed every event, printing the scorer's
   table (violations included);
5. prints what arrived: events on the device and at the collector, ack state, chain problems.

    python -m roadcam.tools.demo [--scenario junction] [--detector tflite|background] [--out out/demo]

The learned detector is the demo's default: on every shipped scenario it tracks more vehicles
under one identity than background subtraction (plugins/detection/models/vehicle_detector.md).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from roadcam.appliance.store import read_events
from roadcam.collector.cli import open_storage
from roadcam.collector.config import load_collector_config
from roadcam.collector.local_broker import Broker, production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.collector.storage import EventQuery
from roadcam.sim.commands import scenario_path
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import load_scenario

from .fences_for_scenario import fences_section

DEVICE = "sim-0001"
COLLECTOR = "collector-1"
BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="junction", help="shipped scenario name or file")
    parser.add_argument("--detector", choices=("tflite", "background"), default="tflite",
                        help="vehicle detector the simulated site runs (default: the learned one)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for everything (emptied)")
    args = parser.parse_args()
    args.out = args.out.resolve()  # the configs written below are read from other folders
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)

    pki = write_test_pki(args.out / "pki", devices=[DEVICE], collectors=[COLLECTOR])
    broker = production_broker(args.out / "broker", pki.root)
    broker.start()
    collector_config = write_collector_config(args.out, broker, pki)
    with open(args.out / "collector.log", "w") as collector_log:    # the child holds its own descriptor
        collector = subprocess.Popen([str(BIN / "roadcam-collector"), "serve", "--config", str(collector_config)],
                                     stderr=collector_log)
    try:
        wait_for(lambda: COLLECTOR in broker.log(), "the collector to connect",
                 failed=lambda: collector.poll() is not None, log=args.out / "collector.log")
        site_extra = write_site_extra(args.out, args.scenario, broker, pki)
        with open(args.out / "device.log", "w") as device_log:
            simulate = subprocess.run(
                [str(BIN / "roadcam"), "simulate", "--scenario", args.scenario, "--detector", args.detector,
                 "--out", str(args.out / "device"), "--site-extra", str(site_extra), "--drain", "120"],
                stderr=device_log)
        if simulate.returncode != 0:
            print(f"demo: roadcam simulate failed (exit {simulate.returncode}); see {args.out / 'device.log'}")
            return simulate.returncode
        time.sleep(0.5)
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=20)
        broker.stop()
    return report(args.out, collector_config)


def write_collector_config(out: Path, broker: Broker, pki) -> Path:
    """The collector's config: TLS as collector-1, SQLite under ``out``, the devices' keys."""
    cert, key = pki.client(COLLECTOR)
    config = {
        "broker": {"host": broker.host, "port": broker.port, "client_id": COLLECTOR,
                   "tls": {"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)}},
        "storage": {"database": str(out / "collector" / "collector.db"),
                    "evidence_dir": str(out / "collector" / "evidence")},
        "device_keys_dir": str(pki.device_keys_dir),
        "signing_key": str(pki.collector_signing_key),
    }
    path = out / "collector.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_site_extra(out: Path, scenario: str, broker: Broker, pki) -> Path:
    """The sections the demo adds to the simulated site: the uplink (TLS, signing keys), a short
    health interval, the scenario's fences with every rule enabled, and its loop pairs timing
    speeds against the road's limit."""
    cert, key = pki.client(DEVICE)
    road = SimRoad(load_scenario(scenario_path(scenario)))
    section = {**fences_section(road), "speed": road.speed_section(), "health": {"interval_s": 5}, "uplink": {
        "enabled": True, "host": broker.host, "port": broker.port,
        "tls": {"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)},
        "signing_key_file": str(pki.signing_key(DEVICE)), "collector_key_file": str(pki.collector_public_key),
        "drain_rate_per_s": 1000, "ack_timeout_s": 5,
        "command_state_file": str(out / "device" / "command-versions.json"),
        "staged_config_file": str(out / "device" / "site.next.yaml"),
    }}
    path = out / "site-extra.yaml"
    path.write_text(yaml.safe_dump(section))
    return path


def report(out: Path, collector_config: Path) -> int:
    """Print what the device stored beside what the collector stored; 0 when they agree."""
    on_device = read_events(out / "device" / "events.db", limit=10**9)
    with open_storage(load_collector_config(collector_config)) as storage:
        at_collector = storage.events(EventQuery(device=DEVICE, limit=10**9))
        problems = storage.problems()
        devices = {record.device: record for record in storage.devices()}
    stored_seqs = sorted(event.seq for event in at_collector)
    all_there = stored_seqs == [event.seq for event in on_device]
    print()
    print("delivery through Mosquitto (TLS, ACL) to the collector")
    print("-" * 73)
    print(f"{'events stored on the device':<40}{len(on_device):>6}")
    print(f"{'events stored at the collector':<40}{len(at_collector):>6}  "
          f"{'all, once each, same seqs' if all_there else 'MISSING OR EXTRA EVENTS'}")
    record = devices.get(DEVICE)
    print(f"{'collector acknowledged up to seq':<40}{record.contiguous_seq if record else 0:>6}")
    print(f"{'chain or sequence problems':<40}{len(problems):>6}")
    for event_type, count in sorted(Counter(e.type for e in at_collector).items()):
        print(f"  {event_type:<38}{count:>6}")
    return 0 if all_there and not problems else 1


def wait_for(condition, what: str, *, failed, log: Path, timeout_s: float = 20.0) -> None:
    """Poll ``condition``; exit with a message pointing at ``log`` when ``failed()`` or on timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if failed() or time.monotonic() > deadline:
            raise SystemExit(f"demo: gave up waiting for {what}; see {log}")
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
