"""A sampled day of normal simulated traffic through the device's self-diagnostics: every fault
it raises is a false fault, and each is printed.

    python -m roadcam.tools.diagnostics_day [--seconds-per-hour 60] [--width 640] [--hours 0-23]

For each local hour of one day (the diagnostics' ``utc_offset_h``), one stretch of simulated
traffic starting on the hour runs through the real appliance (runtime, store, tick, the
diagnostics plugin's camera, lamp and system checks, the speed plugin's loop checks; vehicle
detection and plate reading are off to keep it quick): the night scenario (street light, IR-lit
plates) for hours inside the diagnostics' night window, the rain scenario at 07:00 and 16:00,
the junction scenario for the other day hours. Frames are rendered ``--width`` pixels wide (the
checks work on a 320 px copy anyway).

What a sampled day does not show: each hour starts afresh (a restart), so the slow change of
dusk and dawn within one run is not simulated; loop stuck-on/off need minutes of one run.

Prints one line per hour (scenario, frames, faults raised) and the total; exits 1 when any fault
was raised.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.appliance.store import read_events
from roadcam.hal.hardware import Hardware
from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.protocol.events import utc_ns
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import Scenario, load_scenario

#: Local hours whose stretch is the rain scenario (day hours only).
RAIN_HOURS = (7, 16)
#: The simulated day (local date).
DAY = datetime(2026, 3, 2)


def scenario_for_hour(hour: int, seconds: float, width_px: int, diagnostics: DiagnosticsConfig) -> Scenario:
    """The scenario of local ``hour``: starting on the hour, ``seconds`` long, ``width_px`` wide."""
    start = DAY.replace(tzinfo=UTC) + timedelta(hours=hour - diagnostics.utc_offset_h)
    start_ns = int(start.timestamp()) * 10**9
    name = "night" if diagnostics.is_night(start_ns) else ("rain" if hour in RAIN_HOURS else "junction")
    scenario = load_scenario(name)
    camera = scenario.camera
    height_px = camera.height_px * width_px // camera.width_px
    camera = camera.model_copy(update={"width_px": width_px, "height_px": height_px})
    return scenario.model_copy(update={"start": start, "duration_s": seconds, "camera": camera})


def run_hour(scenario: Scenario, out_dir: Path) -> tuple[int, list[tuple[float, str, str]]]:
    """Run one stretch through the appliance; returns its frames and the faults raised as
    (seconds into the stretch, fault id, message)."""
    road = SimRoad.from_scenario(scenario)
    site = road.site_config(out_dir)
    site["plugins"] = {"disabled": ["detection", "plate_capture"]}
    config, manager = site_from_data(site, source=f"sampled day, {scenario.name} at {scenario.start:%H:%M} UTC")
    hardware = Hardware(config, road.clock, pin_factory=road.pin_factory, sim_cameras=road.camera)
    Appliance(config, manager, hardware, road.clock).run(install_signal_handlers=False)
    raised = read_events(config.storage.database, limit=10**6, types=["fault.raised"])
    start_ns = scenario.start_ns
    faults = [((utc_ns(event.time) - start_ns) / 1e9, event.data["id"], event.data["message"]) for event in raised]
    return road.frames_advanced, faults


def parse_hours(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds-per-hour", type=float, default=60.0, help="simulated seconds run per hour")
    parser.add_argument("--width", type=int, default=640, help="rendered frame width in pixels")
    parser.add_argument("--hours", default="0-23", help="local hours to sample, e.g. 0-23 or 21")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where each hour's store is made (and removed); the system's temporary folder if unset")
    args = parser.parse_args(argv)
    diagnostics = DiagnosticsConfig()
    total_frames, false_faults = 0, []
    print(f"sampled day {DAY:%Y-%m-%d} (UTC{diagnostics.utc_offset_h:+g}), {args.seconds_per_hour:g} s per hour, "
          f"night {diagnostics.night_description()}, frames {args.width} px wide")
    started = time.perf_counter()
    for hour in parse_hours(args.hours):
        scenario = scenario_for_hour(hour, args.seconds_per_hour, args.width, diagnostics)
        with tempfile.TemporaryDirectory(prefix="roadcam-day-", dir=args.work_dir) as out_dir:
            frames, faults = run_hour(scenario, Path(out_dir))
        total_frames += frames
        false_faults += [(hour, *fault) for fault in faults]
        listed = ", ".join(f"{fault_id} at +{at_s:.1f} s" for at_s, fault_id, _ in faults) or "none"
        print(f"{hour:02d}:00  {scenario.name:9} {scenario.lighting:6} {frames:6d} frames  faults: {listed}")
    print(f"total: {total_frames} frames ({total_frames / 25 / 60:.1f} min at 25 fps) in "
          f"{time.perf_counter() - started:.0f} s; false faults: {len(false_faults)}")
    for hour, at_s, fault_id, message in false_faults:
        print(f"  {hour:02d}:00 +{at_s:.1f} s {fault_id}: {message}")
    return 1 if false_faults else 0


if __name__ == "__main__":
    raise SystemExit(main())
