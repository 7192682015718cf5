"""How fast the collector's fault list answers, on a database of a city's size.

    .venv/bin/python -m roadcam.tools.bench_fault_report [--devices 1000] [--health-min 5]
                                                 [--reads 200] [--repeat 3]

Fills a SQLite collector database (in a temporary folder) with ``--devices`` devices' last 12 hours:
a health event every ``--health-min`` minutes, ``--reads`` plate reads, a critical fault raised and
cleared, a major fault still active; one device in 20 went offline by its last will, one in 50 lost a
critical fault in a restart (so the full report reads its health events). Then prints, beside the
reference:

- ``report faults --now`` built from storage (the median of ``--repeat`` runs), against the
  issue's "answers at once", taken here as under 1 s; and the whole command
  (``roadcam-collector report faults --now``) beside Python starting and importing the
  collector's command line and nothing else;
- the full 12-hour report with availability, against the timer's budget (its service allows 15 min).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from roadcam.collector.fake_device import SignedEventSource
from roadcam.collector.fault_report import build_report
from roadcam.collector.ingest import DeviceHealth, DeviceStatus, VerifiedEvent
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.protocol.events import iso_utc

SITE = "bench-site"
HOUR_NS = 3600 * 10**9
NOW_REFERENCE_S = 1.0
FULL_REFERENCE_S = 15 * 60.0


def fill(storage: SQLiteStorage, devices: int, health_min: float, reads: int, now_ns: int) -> int:
    """Store the devices' history; returns the number of events stored."""
    since_ns = now_ns - 12 * HOUR_NS
    key = Ed25519PrivateKey.generate()
    total = 0
    for number in range(devices):
        device = f"tn-{number:05d}"
        source = SignedEventSource(device, SITE, key)
        lost = number % 50 == 7
        items: list = []

        def event(kind: str, data: dict, at_ns: int, source=source, items=items) -> None:
            made = source.next_event(kind, data, time_ns=at_ns)
            items.append(VerifiedEvent(made, made.digest(), at_ns, data.get("plate")))

        def fault(kind: str, fault_id: str, severity: str, at_ns: int) -> None:
            code, component = fault_id.split(":")
            event(kind, {"code": code, "component": component, "id": fault_id, "severity": severity,
                         "message": f"{code} on {component}", "first_seen": iso_utc(at_ns)}, at_ns)

        storage.store([DeviceStatus(device, SITE, online=True)], since_ns - HOUR_NS)
        step_ns = int(health_min * 60e9)
        for index, at_ns in enumerate(range(since_ns, now_ns, step_ns)):
            restarted = lost and at_ns >= since_ns + 8 * HOUR_NS
            uptime_s = (at_ns - since_ns - 8 * HOUR_NS) / 1e9 if restarted else index * health_min * 60 + 3600
            held = ["camera.blurred:north"] if at_ns >= since_ns + 6 * HOUR_NS else []
            if lost and not restarted and at_ns >= since_ns + 7 * HOUR_NS:
                held.append("camera.unavailable:south")
            event("health", {"uptime_s": uptime_s, "faults": held}, at_ns)
        for index in range(reads):
            event("plate.read", {"plate": f"B{number:05d}{index:03d}"}, since_ns + index * (12 * HOUR_NS // reads))
        fault("fault.raised", "camera.dark:north", "critical", since_ns + HOUR_NS)
        fault("fault.cleared", "camera.dark:north", "critical", since_ns + 2 * HOUR_NS)
        fault("fault.raised", "camera.blurred:north", "major", since_ns + 6 * HOUR_NS)
        if lost:
            fault("fault.raised", "camera.unavailable:south", "critical", since_ns + 7 * HOUR_NS)
        items.sort(key=lambda item: item.event.seq)
        storage.store(items, now_ns - 60 * 10**9)
        summary = {"time": iso_utc(now_ns - 10**9), "faults": ["camera.blurred:north"],
                   "health": {"uptime_s": (4 if lost else 13) * 3600}}
        storage.store([DeviceHealth(device, SITE, json.dumps(summary))], now_ns - 10**9)
        if number % 20 == 3:
            storage.store([DeviceStatus(device, SITE, online=False)], now_ns - HOUR_NS)
        total += len(items)
    return total


def timed(action, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--health-min", type=float, default=5.0, help="minutes between health events")
    parser.add_argument("--reads", type=int, default=200, help="plate reads per device")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        now_ns = time.time_ns()
        storage = SQLiteStorage(root / "collector.db", root / "evidence")
        started = time.perf_counter()
        events = fill(storage, args.devices, args.health_min, args.reads, now_ns)
        print(f"filled {args.devices} devices, {events} events in {time.perf_counter() - started:.1f} s "
              f"({(root / 'collector.db').stat().st_size / 1e6:.0f} MB)")
        now_s, now_report = timed(lambda: build_report(storage, [], now_ns, now_ns, 150, with_period=False),
                                  args.repeat)
        full_s, full_report = timed(lambda: build_report(storage, [], now_ns - 12 * HOUR_NS, now_ns, 150),
                                    args.repeat)
        storage.close()
        keys = root / "keys"
        keys.mkdir()
        config = root / "collector.yaml"
        config.write_text(f"storage:\n  database: {root / 'collector.db'}\n  evidence_dir: {root / 'evidence'}\n"
                          f"device_keys_dir: {keys}\n")
        command = [str(Path(sys.executable).parent / "roadcam-collector"), "report", "faults", "--now",
                   "--config", str(config)]
        command_s, _ = timed(lambda: subprocess.run(command, check=True, capture_output=True), args.repeat)
        imports = [sys.executable, "-c", "import roadcam.collector.cli"]
        imports_s, _ = timed(lambda: subprocess.run(imports, check=True, capture_output=True), args.repeat)
    print(f"report faults --now, from storage: {now_s * 1000:.0f} ms, {len(now_report.current)} current faults "
          f"(reference: at once, under {NOW_REFERENCE_S:.0f} s)")
    print(f"roadcam-collector report faults --now, the whole command: {command_s * 1000:.0f} ms "
          f"(reference: Python starting and importing the collector's command line alone, "
          f"{imports_s * 1000:.0f} ms)")
    print(f"report faults over 12 h with availability: {full_s:.2f} s, {len(full_report.period)} faults in the "
          f"period, network availability {full_report.network_availability * 100:.2f} % "
          f"(reference: the timer's service allows {FULL_REFERENCE_S / 60:.0f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
