"""Does the whole pipeline with the fences rules keep up with a 1920x1080 camera at 25 fps on
one core? The pipeline benchmark (:mod:`roadcam.tools.bench_pipeline`: detection, tracking,
plate reading on frames of the junction scenario) is run twice, pinned to one core, without
and with the junction's fences (every rule enabled, :mod:`roadcam.tools.fences_for_scenario`),
and the time per frame (wall and the pipeline's own CPU time, which other work on a shared core
does not inflate) is printed beside the 40 ms a 25 fps camera allows.

    .venv/bin/python -m roadcam.tools.bench_fences [--frames 300] [--skip-s 20] [--core 1]

The bench's lamp pins are not driven (its heads read dark), so the rules run their placement,
lane, zone and crossing work on every vehicle but no red-light evidence is encoded; a violation
costs two JPEG encodes of the full frame once (its time is printed too). The machine is
shared: the load average at the start is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

BUDGET_MS = 40.0
FPS_LINE = re.compile(r"^pipeline \(.*?([\d.]+) frames/s")
CPU_LINE = re.compile(r"^pipeline CPU time.*?\(([\d.]+) ms/frame")


def _pipeline_ms(args, core: int, site_extra: Path | None) -> tuple[float, float]:
    """One bench_pipeline run pinned to ``core``: wall and CPU milliseconds per frame."""
    command = [sys.executable, "-m", "roadcam.tools.bench_pipeline", "--frames", str(args.frames),
               "--skip-s", str(args.skip_s)] + (["--site-extra", str(site_extra)] if site_extra else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    lines = done.stdout.splitlines()
    fps = next(m for m in map(FPS_LINE.match, lines) if m)
    cpu = next(m for m in map(CPU_LINE.match, lines) if m)
    return 1000 / float(fps.group(1)), float(cpu.group(1))


def _evidence_ms() -> float:
    """Time of one violation's two annotated full-frame JPEGs."""
    from roadcam.hal.base import Frame
    from roadcam.plugins.annotate import annotated_jpeg

    image = np.random.default_rng(1).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
    image[:] = image[:1].mean(axis=0, keepdims=True).astype(np.uint8)  # smooth-ish, like a road scene
    frame = Frame("bench", 0, 0, 0, image)
    started = time.perf_counter()
    for _ in range(5):
        annotated_jpeg(frame, 85, box=(900, 500, 1000, 600), lines=[((100, 400), (1800, 400))], caption="main: RED")
        annotated_jpeg(frame, 85, box=(900, 300, 1000, 400), caption="after the stop line")
    return (time.perf_counter() - started) / 5 * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--skip-s", type=float, default=20.0)
    parser.add_argument("--core", type=int, default=1, help="the one CPU core both runs are pinned to")
    args = parser.parse_args(argv)
    from roadcam.sim.road import SimRoad

    from .fences_for_scenario import fences_section

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-fences-") as scratch:
        extra = Path(scratch) / "fences.yaml"
        extra.write_text(yaml.safe_dump(fences_section(SimRoad.from_scenario("junction"))), encoding="utf-8")
        without, without_cpu = _pipeline_ms(args, args.core, None)
        with_fences, with_fences_cpu = _pipeline_ms(args, args.core, extra)
    os.sched_setaffinity(0, {args.core})
    evidence = _evidence_ms()
    print(f"{args.frames} frames of the junction scenario at 1920x1080, pinned to core {args.core} "
          f"(load average {load:.1f} on {os.cpu_count()} cores at the start)")
    print("                           wall ms/frame   CPU ms/frame (the pipeline's own threads)")
    print(f"pipeline without fences:   {without:13.1f}   {without_cpu:12.1f}")
    print(f"pipeline with fences:      {with_fences:13.1f}   {with_fences_cpu:12.1f}")
    print(f"fences' share:             {with_fences - without:13.1f}   {with_fences_cpu - without_cpu:12.1f}")
    print(f"budget at 25 fps:          {BUDGET_MS:13.1f}   -> by CPU time the pipeline "
          f"{'keeps up' if with_fences_cpu <= BUDGET_MS else 'does NOT keep up'}"
          f"{'' if with_fences <= BUDGET_MS else ' (wall time over budget: the core was shared)'}")
    print(f"one violation's evidence:  {evidence:6.1f} ms once (two annotated 1920x1080 JPEGs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
