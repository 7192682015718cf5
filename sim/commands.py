"""``roadcam simulate``: the simulator's command, added to the ``roadcam`` command line through
the ``roadcam_register_commands`` hook (a command-line-only plugin, listed in
``roadcam.appliance.plugins.COMMAND_PLUGINS``; never loaded into a running appliance).

    roadcam simulate --scenario NAME|FILE     run the appliance against the simulated road and score it

Importing this module imports nothing of the simulator: the handler does, when it runs.
"""

from __future__ import annotations

import json
import logging
import time
from importlib import resources
from pathlib import Path

from roadcam.appliance.hookspecs import hookimpl

log = logging.getLogger("roadcam.sim")


class SimCommands:
    """The plugin: adds ``simulate``."""

    @hookimpl
    def roadcam_register_commands(self, commands) -> None:
        simulate = commands.add_parser("simulate", help="run against the simulated road and print the score")
        simulate.add_argument("--scenario", required=True, help="scenario file, or the name of a shipped one")
        simulate.add_argument("--speed", type=float, default=0.0,
                              help="replay speed: 1 = real time, 0 = as fast as possible (default)")
        simulate.add_argument("--out", type=Path, default=Path("out/sim"), help="folder for store, truth and score")
        simulate.add_argument("--json", action="store_true", help="print the score as JSON")
        simulate.add_argument("--site-extra", type=Path, metavar="FILE",
                              help="YAML of more site-config sections (e.g. uplink:) merged into the simulated site")
        simulate.add_argument("--drain", type=float, default=0.0, metavar="S",
                              help="at the end, wait up to S seconds for the collector to confirm every event")
        simulate.add_argument("--detector", choices=("background", "tflite"),
                              help="vehicle detector (detection.type); default: the site's, background subtraction")
        simulate.set_defaults(handler=simulate_command)


plugin = SimCommands()


def simulate_command(args) -> int:
    """Run the appliance (real runtime, plugins and store; simulated camera, pins and clock)
    against the scenario ``args.scenario``, then score what it reported against the truth."""
    from roadcam.appliance.runtime import Appliance
    from roadcam.appliance.site import site_from_data
    from roadcam.appliance.store import read_events
    from roadcam.common.yaml_config import load_yaml
    from roadcam.hal.hardware import Hardware
    from roadcam.hal.pacing import PacedCamera

    from .road import SimRoad
    from .scoring import TrackRecorder, score_run

    road = SimRoad.from_scenario(scenario_path(args.scenario))
    args.out.mkdir(parents=True, exist_ok=True)
    site = road.site_config(args.out)
    if args.site_extra:
        extra, _ = load_yaml(args.site_extra)
        site.update(extra or {})
    if args.detector:
        site["detection"] = {**site.get("detection", {}), "type": args.detector}
    # every track point kept: the scorer compares each frame with the ground truth
    site["tracking"] = {**(site.get("tracking") or {}), "history_older_points": None}
    config, manager = site_from_data(site, source=f"site config of {args.scenario}")
    recorder = TrackRecorder()
    manager.register(recorder, name="sim.track-recorder")
    hardware = Hardware(config, road.clock, pin_factory=road.pin_factory,
                        sim_cameras=lambda name: PacedCamera(road.camera(name), args.speed))
    started_s = time.monotonic()
    appliance = Appliance(config, manager, hardware, road.clock, sign=config.uplink.event_signer(),
                          drain_timeout_s=args.drain)
    hotlist = road.hotlist_body()
    if hotlist:  # handed over as the collector's signed hotlist would be, before the first frame
        appliance.enqueue_command("hotlist", hotlist, lambda result: log.info("scenario hotlist: %s", result),
                                  version=1)
    appliance.run()
    elapsed_s = time.monotonic() - started_s
    events = read_events(config.storage.database, limit=10**9)
    road.truth.to_json(args.out / "truth.json")
    score = score_run(road.truth, recorder.tracks, events, wall_s=elapsed_s)
    (args.out / "score.json").write_text(json.dumps(score.as_dict(), indent=2))
    print(json.dumps(score.as_dict(), indent=2) if args.json else score.table())
    return 0


def scenario_path(name_or_path: str) -> Path:
    """A scenario file path, or the shipped scenario of that name (sim/scenarios/NAME.yaml)."""
    from roadcam.common.errors import ConfigError

    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = resources.files("roadcam.sim") / "scenarios"
    candidate = shipped / f"{name_or_path}.yaml"
    if candidate.is_file():
        return Path(str(candidate))
    names = sorted(p.name.removesuffix(".yaml") for p in shipped.iterdir() if p.name.endswith(".yaml"))
    raise ConfigError(f"--scenario {name_or_path}: no such file and no shipped scenario of that name; "
                      f"shipped: {', '.join(names)}")
