"""Per-rule precision and recall of the fences plugin on simulator scenarios, over several seeds.

    python -m roadcam.tools.eval_fences --scenarios fence_red_light fence_rush --seeds 9101 9102
        [--detector tflite] [--duration-s 60] [--out out/eval_fences]

For each scenario and seed: the scenario with its seed (and with ``--duration-s``, its length:
the first part of its run) replaced, its fences drawn by
:mod:`roadcam.tools.fences_for_scenario`, one ``roadcam simulate`` run (the real appliance and
plugins; the scorer's table is kept beside the run). Then, per rule, the events and truths
matched are added up over the runs and printed with precision and recall beside the targets
(precision >= 0.98, recall >= 0.95), and the identity figures the same way: where the rules look
(vehicles from the approach to the junction exit >= 0.98, pedestrians on the crosswalk >= 0.95)
and in the whole view (for information). Give seeds that no
fence or tracker setting was tuned on: each shipped ``fence_*`` scenario's own seed is its
tuning seed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from roadcam.sim.commands import scenario_path
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import load_scenario
from roadcam.sim.scoring import AREA_IDENTITY

from .fences_for_scenario import fences_section

TARGETS = {"precision": 0.98, "recall": 0.95}
ROW = re.compile(r"^(?P<name>violation\.\S+ (?:precision|recall)|(?:vehicles|pedestrians) tracked under one identity|"
                 + "|".join(re.escape(area.row) for area in AREA_IDENTITY.values())
                 + r")\s+\S+\s+(?P<part>\d+)/(?P<whole>\d+)")
#: Bars of the identity rows where the rules look (the whole-view rows are for information).
IDENTITY_TARGETS = {area.row: area.bar for area in AREA_IDENTITY.values()}


def reseeded(source: str, seed: int, duration_s: float | None = None) -> str:
    """A scenario file's text with its seed (and its length, when given) replaced."""
    text = re.sub(r"(?m)^seed: .*$", f"seed: {seed}", source)
    if duration_s is not None:
        text = re.sub(r"(?m)^duration_s: .*$", f"duration_s: {duration_s:g}", text)
    return text


def run_one(scenario: str, seed: int, detector: str, out: Path,
            duration_s: float | None = None) -> dict[str, tuple[int, int]]:
    """One simulated run; its scorer rows as {name: (part, whole)}."""
    folder = out / f"{Path(scenario).stem}-{seed}"
    shutil.rmtree(folder, ignore_errors=True)  # a store left by an earlier run would be scored again
    folder.mkdir(parents=True)
    source = scenario_path(scenario).read_text(encoding="utf-8")
    (folder / "scenario.yaml").write_text(reseeded(source, seed, duration_s), encoding="utf-8")
    road = SimRoad(load_scenario(folder / "scenario.yaml"))
    (folder / "fences.yaml").write_text(yaml.safe_dump(fences_section(road), sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "roadcam.appliance.cli", "simulate", "--scenario", str(folder / "scenario.yaml"),
               "--site-extra", str(folder / "fences.yaml"), "--detector", detector, "--out", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    (folder / "score.txt").write_text(done.stdout, encoding="utf-8")
    rows = {}
    for line in done.stdout.splitlines():
        match = ROW.match(line)
        if match:
            rows[match["name"]] = (int(match["part"]), int(match["whole"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", required=True, help="scenario names or files")
    parser.add_argument("--seeds", nargs="+", type=int, required=True, help="seeds to run each scenario with")
    parser.add_argument("--detector", default="tflite", choices=("tflite", "background"))
    parser.add_argument("--duration-s", type=float, help="run only this many simulated seconds of each scenario "
                                                       "(its first part; default: the whole scenario)")
    parser.add_argument("--out", type=Path, default=Path("out/eval_fences"))
    args = parser.parse_args(argv)
    for scenario in args.scenarios:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for seed in args.seeds:
            for name, (part, whole) in run_one(scenario, seed, args.detector, args.out, args.duration_s).items():
                totals[name][0] += part
                totals[name][1] += whole
        length = f"  first {args.duration_s:g} s" if args.duration_s is not None else ""
        print(f"{scenario}  seeds {' '.join(map(str, args.seeds))}  detector {args.detector}{length}")
        for name in sorted(totals):
            part, whole = totals[name]
            figure = f"{part / whole:.3f}" if whole else "n/a"
            kind = name.rsplit(" ", 1)[-1]
            bar = TARGETS.get(kind, IDENTITY_TARGETS.get(name))
            target = f"target >= {bar:.2f}" if bar else "(for information)"
            print(f"  {name:<56} {figure:>6}  {part}/{whole}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
