"""What the camera self-diagnostics cost: share of one core at a camera's frame rate.

    python -m roadcam.tools.bench_diagnostics [--frames 500] [--fps 25] [--scenario smoke]

Renders ``--frames`` simulator frames (1920x1080) first, then times, on one thread:

- the resize the checks need (1920x1080 BGR to the grey ``thumb_width_px`` copy), alone: the
  reference, the least any image check must pay;
- the camera checks as the plugin runs them (``CameraChecks.on_frame`` on every frame: frame
  timing each frame, the image checks on one frame in ``check_every_frames``, resize included);
- the lamp checks (``LampChecks``): one lamp edge, and one tick of three heads, charged at the
  scenario's lamp edges per second and one tick a second;
- the system checks (``SystemChecks``) on a real store of ``--events`` events (one in ten with
  a 30 KiB evidence file): one check (disk, store, outbox, memory, clock...) charged once per
  ``system_check_every_s``, one evidence sample once per ``evidence_check_every_s`` (medians
  of 20 calls: they read files).

Each is printed as milliseconds per call and as % of one core at ``--fps`` (the time spent per
second of video), with their total. The issue's target is under 5% of one core at 25 fps.
Times are CPU time (this process's threads and the commands it ran, such as ``chronyc``), not
wall time, so other work on a shared machine does not count as the checks'.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.events import EventDraft
from roadcam.appliance.store import EventStore
from roadcam.plugins.diagnostics.camera import CameraChecks, thumbnail
from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.plugins.diagnostics.lamps import LampChecks
from roadcam.plugins.diagnostics.system import SystemChecks
from roadcam.protocol.events import EvidenceBlob
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import load_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=500, help="frames timed (rendered first)")
    parser.add_argument("--fps", type=float, default=25.0, help="camera frame rate the cost is given at")
    parser.add_argument("--scenario", default="smoke", help="simulator scenario the frames come from")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the fastest is reported")
    parser.add_argument("--events", type=int, default=20000, help="events in the store the system checks read")
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)
    scenario = scenario.model_copy(update={"duration_s": args.frames / scenario.fps})
    camera = SimRoad.from_scenario(scenario).camera(scenario.camera.name)
    frames = []
    while (frame := camera.read()) is not None:
        frames.append(frame)
    config = DiagnosticsConfig()
    height, width = frames[0].image.shape[:2]

    def resize_only() -> None:
        for frame in frames:
            thumbnail(frame.image, config.thumb_width_px)

    def checks() -> None:
        camera_checks = CameraChecks(config, lambda *a: None, lambda *a: None)
        for frame in frames:
            camera_checks.on_frame(frame.camera, frame.time_ns, frame.image)

    def fastest(run) -> float:
        return min(_timed(run) for _ in range(args.repeat)) / len(frames)

    resize_s = fastest(resize_only)          # per call, every call
    checks_s = fastest(checks)               # per frame, amortised over the sampled ones
    sampled_resize_s = resize_s / config.check_every_frames
    print(f"camera checks, {len(frames)} frames of {width}x{height} from scenario {args.scenario!r}, "
          f"image checks on 1 frame in {config.check_every_frames} at {config.thumb_width_px} px wide")
    print(f"{'':36}{'CPU ms/call':>11}{'% core @' + format(args.fps, 'g') + ' fps':>16}")
    rows = [("resize alone, every frame (reference)", resize_s * 1e3, resize_s * args.fps),
            ("resize alone, sampled frames", sampled_resize_s * 1e3 * config.check_every_frames,
             sampled_resize_s * args.fps),
            ("camera checks (resize included)", checks_s * 1e3, checks_s * args.fps)]
    edges_per_s = _lamp_edges_per_s(scenario)
    edge_s, tick_s = _lamp_costs()
    rows.append((f"lamp checks ({edges_per_s:.2f} edges/s + ticks)", edge_s * 1e3, edge_s * edges_per_s + tick_s))
    check_s, evidence_s = _system_costs(config, args.events)
    rows.append((f"system check, every {config.system_check_every_s:g} s", check_s * 1e3,
                 check_s / config.system_check_every_s))
    rows.append((f"evidence sample, every {config.evidence_check_every_s:g} s", evidence_s * 1e3,
                 evidence_s / config.evidence_check_every_s))
    for name, ms, share in rows:
        print(f"{name:38}{ms:9.3f}{100 * share:15.2f}%")
    total = 100 * (checks_s * args.fps + sum(share for _, _, share in rows[3:]))
    print(f"{'all checks (camera, lamps, system)':38}{'':9}{total:15.2f}%")
    target = 5.0
    verdict = "within" if total < target else "OVER"
    print(f"target: under {target:g}% of one core -> {verdict} (CPU time; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


def _lamp_edges_per_s(scenario) -> float:
    """Lamp edges per second of the scenario's signal plan (three per change of a wired head)."""
    heads = [head for head in scenario.signals.heads if head.pins]
    return sum(3 * (3 if head.amber_s else 2) for head in heads) / scenario.signals.cycle_s


def _lamp_costs(calls: int = 20000) -> tuple[float, float]:
    """Seconds per lamp edge, and per tick of three heads."""
    checks = LampChecks(DiagnosticsConfig(), lambda *a: None, lambda *a: None)
    cycle = [("green",), ("amber", "green"), ("amber",), ("red", "amber"), ("red",), ()]
    started = cpu_s()
    for n in range(calls):
        checks.on_lamps(f"head{n % 3}", cycle[n % len(cycle)], n * 10**8)
    edge_s = (cpu_s() - started) / calls
    started = cpu_s()
    for n in range(calls):
        checks.on_tick(calls * 10**8 + n * 10**9)
    return edge_s, (cpu_s() - started) / calls


def _system_costs(config: DiagnosticsConfig, events: int) -> tuple[float, float]:
    """Seconds per system check and per evidence sample, on a real store of ``events`` events."""
    clock = ManualClock(1_800_000_000 * 10**9)
    with tempfile.TemporaryDirectory(prefix="roadcam-bench-") as directory:
        root = Path(directory)
        with EventStore(root / "events.db", root / "evidence", device="bench", site="bench",
                        budget_bytes=4 * 1024**3) as store:
            for start in range(0, events, 1000):
                store.append([EventDraft("bench.event", {"n": n}, clock.wall_ns(),
                                         evidence=(EvidenceBlob("crop", os.urandom(30 * 1024)),) if n % 10 == 0 else ())
                              for n in range(start, min(start + 1000, events))], clock.state())
            checks = SystemChecks(config, store, clock, root, lambda *a: None, lambda *a: None, outbox_watched=True)
            check_s = statistics.median(_timed(lambda: checks.check(clock.wall_ns())) for _ in range(20))
            evidence_s = statistics.median(_timed(lambda: checks.check_evidence(clock.wall_ns())) for _ in range(20))
    return check_s, evidence_s


def cpu_s() -> float:
    """CPU seconds used so far by this process (all its threads) and the child processes it
    waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _timed(run) -> float:
    started = cpu_s()
    run()
    return cpu_s() - started


if __name__ == "__main__":
    raise SystemExit(main())
