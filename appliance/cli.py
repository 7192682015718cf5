"""The ``roadcam`` command.

    roadcam run --config FILE                 run the appliance on real (or mock) hardware
    roadcam simulate --scenario NAME|FILE     run it against the simulated road and score it
    roadcam config check FILE                 validate a site config, every error with its line
    roadcam config example                    print the example site config
    roadcam events [--config FILE | --database FILE] [--follow]   what is in the store
    roadcam plate read IMAGE... [--json]      read the plates in still images (scenes or crops)

Every expected failure prints one clear message and exits non-zero (2 for bad input, 1 for
a run that failed); a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from importlib import resources
from pathlib import Path

from roadcam.common.cli import run_command
from roadcam.common.errors import ConfigError

log = logging.getLogger("roadcam")


def main(argv: list[str] | None = None) -> int:
    return run_command("roadcam", _parser(), argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadcam", description="Firmware for a roadside camera site.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the appliance")
    run.add_argument("--config", required=True, type=Path, help="site config YAML")
    run.set_defaults(handler=_run)

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
    simulate.set_defaults(handler=_simulate)

    config = commands.add_parser("config", help="check or show a site config")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a site config file")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_config_check)
    example = config_commands.add_parser("example", help="print the example site config")
    example.set_defaults(handler=_config_example)

    events = commands.add_parser("events", help="list the events in the store")
    where = events.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="site config (its storage section is used)")
    where.add_argument("--database", type=Path, help="events database file")
    events.add_argument("--type", action="append", dest="types", help="only this type (repeatable)")
    events.add_argument("--after", type=int, default=0, help="only events after this sequence number")
    events.add_argument("--follow", action="store_true", help="keep printing new events")
    events.add_argument("--json", action="store_true", help="one JSON envelope per line")
    events.set_defaults(handler=_events)

    from roadcam.plugins.plate_capture.cli import add_parser as add_plate_parser
    add_plate_parser(commands)
    return parser


def _run(args) -> int:
    """Run the site of ``--config``, rolling a config update out first (roll back an unfinished
    trial, promote a staged update; :mod:`roadcam.appliance.config_rollout`). Exits with
    RESTART_EXIT_STATUS when it stopped with an update staged, so the service restarts with it."""
    from roadcam.hal.hardware import Hardware

    from .clock import Clock
    from .config_rollout import RESTART_EXIT_STATUS, prepare_site
    from .runtime import Appliance

    site = prepare_site(args.config)
    clock = Clock()
    try:
        appliance = Appliance(site.config, site.manager, Hardware(site.config, clock), clock,
                              sign=site.config.uplink.event_signer())
        appliance.run()
    except BaseException as exc:
        site.trial.fail(f"the appliance failed: {type(exc).__name__}: {exc}")
        raise
    if site.update_waiting():
        log.warning("a config update is staged: exiting with status %d so that the service restarts with it",
                    RESTART_EXIT_STATUS)
        return RESTART_EXIT_STATUS
    return 0


def _simulate(args) -> int:
    from roadcam.common.yaml_config import load_yaml
    from roadcam.hal.hardware import Hardware
    from roadcam.hal.pacing import PacedCamera
    from roadcam.sim import SimRoad, TrackRecorder, score_run

    from .runtime import Appliance
    from .site import site_from_data
    from .store import read_events

    road = SimRoad.from_scenario(_scenario_path(args.scenario))
    args.out.mkdir(parents=True, exist_ok=True)
    site = road.site_config(args.out)
    if args.site_extra:
        extra, _ = load_yaml(args.site_extra)
        site.update(extra or {})
    if args.detector:
        site["detection"] = {**site.get("detection", {}), "type": args.detector}
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


def _scenario_path(name_or_path: str) -> Path:
    """A scenario file path, or the shipped scenario of that name (sim/scenarios/NAME.yaml)."""
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


def _config_check(args) -> int:
    from .site import load_site

    config, manager = load_site(args.file)
    enabled = sorted(name for name, plugin in manager.list_name_plugin() if plugin is not None)
    print(f"{args.file}: ok — device {config.device.id} at {config.device.site}, "
          f"{len(config.cameras)} camera(s), {len(config.signals)} signal head(s), {len(config.loops)} loop(s); "
          f"plugins: {', '.join(enabled)}")
    return 0


def _config_example(args) -> int:
    print((resources.files("roadcam.provisioning") / "examples" / "site.yaml").read_text(encoding="utf-8"), end="")
    return 0


def _events(args) -> int:
    from .store import read_events

    if args.config:
        from .site import load_site

        database = load_site(args.config)[0].storage.database
    else:
        database = args.database
    if not database.exists():
        raise ConfigError(f"{database}: no event store there (has the appliance run with this config?)")
    after = args.after
    while True:
        for event in read_events(database, after_seq=after, limit=1000, types=args.types):
            print(event.model_dump_json() if args.json else _event_line(event), flush=True)
            after = event.seq
        if not args.follow:
            return 0
        time.sleep(0.5)


def _event_line(event) -> str:
    data = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False)
    if len(data) > 120:
        data = data[:117] + "..."
    return f"{event.seq:>7} {event.time} {event.type:<16} {data}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
