"""The ``roadcam`` command: the core's own commands, and those the plugins add.

    roadcam run --config FILE                 run the appliance on real (or mock) hardware
    roadcam config check FILE                 validate a site config, every error with its line
    roadcam config example                    print the example site config
    roadcam events [--config FILE | --database FILE] [--follow]   what is in the store

Plugins add their own commands through the ``roadcam_register_commands`` hook; those shipped:

    roadcam simulate --scenario NAME|FILE     run it against the simulated road and score it (roadcam.sim)
    roadcam plate read IMAGE... [--json]      read the plates in still images (plate_capture)

This module imports no plugin, simulator or hardware backend itself (tests/test_core_promise.py):
the plugin manager brings the plugins, and each command's handler imports what it runs.

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
    try:
        parser = _parser()
    except ConfigError as exc:  # a plugin module that cannot be loaded (ROADCAM_PLUGINS, an entry point)
        print(f"roadcam: {exc}", file=sys.stderr)
        return 2
    return run_command("roadcam", parser, argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadcam", description="Firmware for a roadside camera site.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the appliance")
    run.add_argument("--config", required=True, type=Path, help="site config YAML")
    run.set_defaults(handler=_run)

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

    _add_plugin_commands(commands)
    return parser


def _add_plugin_commands(commands) -> None:
    """Let every plugin (built-in, command-line-only, entry point, ROADCAM_PLUGINS) add its
    commands. Each plugin is called on its own: one that fails, or takes a name already taken,
    loses its own commands (with a warning) and the others', and the core's, remain."""
    from .plugins import build_plugin_manager, call_each_plugin

    manager = build_plugin_manager(commands=True)
    for outcome in call_each_plugin(manager, "roadcam_register_commands", {"commands": commands}):
        if outcome.error is not None:
            print(f"roadcam: warning: plugin {outcome.plugin} could not add its commands: "
                  f"{type(outcome.error).__name__}: {outcome.error}", file=sys.stderr)


def _run(args) -> int:
    """Run the site of ``--config``, rolling a config update out first (roll back an unfinished
    trial, promote a staged update; :mod:`roadcam.appliance.config_rollout`). Exits with
    RESTART_EXIT_STATUS when it stopped with an update staged, so the service restarts with it."""
    from roadcam.hal.hardware import Hardware, clock_status_source

    from .clock import Clock
    from .config_rollout import RESTART_EXIT_STATUS, prepare_site
    from .runtime import Appliance

    site = prepare_site(args.config)
    clock = Clock(clock_status_source(site.config))
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
