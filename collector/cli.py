"""The ``roadcam-collector`` command.

    roadcam-collector serve --config FILE          run the collector until SIGTERM / Ctrl-C
    roadcam-collector events --config FILE [--plate P] [--device D] [--type T]
                             [--since ISO] [--until ISO] [--limit N] [--json]
    roadcam-collector evidence export SHA256 --out FILE --config FILE
    roadcam-collector devices --config FILE        online/offline, last health, acked seq
    roadcam-collector problems --config FILE       chain breaks, seq conflicts, gaps

Every expected failure prints one clear message and exits 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from datetime import datetime, timezone
from pathlib import Path

from appliance.cli import run_command
from appliance.errors import StoreError
from appliance.events import iso_utc

from .config import CollectorConfig, load_collector_config
from .device_keys import DeviceKeys
from .ingest import Ingest
from .postgres_storage import PostgresStorage
from .service import Collector
from .sql_storage import SqlStorage
from .sqlite_storage import SQLiteStorage
from .storage import EventQuery

_STATS_INTERVAL_S = 60.0


def main(argv: list[str] | None = None) -> int:
    return run_command("roadcam-collector", _parser(), argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadcam-collector",
                                     description="The central roadcam collector and its queries.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="store what the devices send")
    serve.add_argument("--config", required=True, type=Path, help="collector config YAML")
    serve.set_defaults(handler=_serve)

    events = commands.add_parser("events", help="list stored events")
    events.add_argument("--config", required=True, type=Path, help="collector config YAML")
    events.add_argument("--plate", help="only this plate")
    events.add_argument("--device", help="only this device id")
    events.add_argument("--type", help="only this event type, e.g. plate.read")
    events.add_argument("--since", type=_iso_ns, help="from this UTC time (ISO 8601), inclusive")
    events.add_argument("--until", type=_iso_ns, help="up to this UTC time (ISO 8601), exclusive")
    events.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    events.add_argument("--json", action="store_true", help="one JSON envelope per line")
    events.set_defaults(handler=_events)

    evidence = commands.add_parser("evidence", help="evidence files")
    evidence_commands = evidence.add_subparsers(dest="evidence_command", required=True)
    export = evidence_commands.add_parser("export", help="copy a verified evidence file out")
    export.add_argument("sha256", help="the file's sha256 (as in the event's evidence list)")
    export.add_argument("--out", required=True, type=Path, help="file to write")
    export.add_argument("--config", required=True, type=Path, help="collector config YAML")
    export.set_defaults(handler=_evidence_export)

    devices = commands.add_parser("devices", help="the device registry")
    devices.add_argument("--config", required=True, type=Path, help="collector config YAML")
    devices.set_defaults(handler=_devices)

    problems = commands.add_parser("problems", help="chain breaks, seq conflicts and gaps")
    problems.add_argument("--config", required=True, type=Path, help="collector config YAML")
    problems.set_defaults(handler=_problems)
    return parser


def _iso_ns(text: str) -> int:
    """UTC nanoseconds of an ISO 8601 time; a time without a zone is taken as UTC."""
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time such as "
                                         "2026-11-22T03:04:05Z") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return (int(stamp.timestamp()) * 1_000_000 + stamp.microsecond) * 1000


def open_storage(config: CollectorConfig) -> SqlStorage:
    """The storage a config names: PostgreSQL for ``storage.url``, else the SQLite file."""
    if config.storage.url is not None:
        return PostgresStorage(config.storage.url, config.storage.evidence_dir)
    return SQLiteStorage(config.storage.database, config.storage.evidence_dir)


def _serve(args) -> int:
    config = load_collector_config(args.config)
    ingest = Ingest(DeviceKeys(config.device_keys_dir), config.limits)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with open_storage(config) as storage:
        collector = Collector(config.broker, storage, ingest, batch_max=config.batch_max)
        collector.start()
        logging.getLogger("roadcam.collector").info(
            "collector %s (pid %d) storing into %s", config.broker.client_id, os.getpid(),
            storage.description())
        while not stop.wait(_STATS_INTERVAL_S):
            logging.getLogger("roadcam.collector").info("stats: %s", collector.stats())
        collector.stop()
    return 0


def _events(args) -> int:
    config = load_collector_config(args.config)
    query = EventQuery(plate=args.plate, device=args.device, type=args.type,
                       since_ns=args.since, until_ns=args.until, limit=args.limit)
    with open_storage(config) as storage:
        for event in storage.events(query):
            if args.json:
                print(json.dumps(event.model_dump(), ensure_ascii=False, separators=(",", ":")))
            else:
                plate = event.data.get("plate", "")
                print(f"{event.time}  {event.device:<16} {event.seq:>8}  {event.type:<22} {plate}")
    return 0


def _evidence_export(args) -> int:
    config = load_collector_config(args.config)
    with open_storage(config) as storage:
        data = storage.read_evidence(args.sha256)
    try:
        args.out.write_bytes(data)
    except OSError as error:
        raise StoreError(f"cannot write {args.out}: {error.strerror}") from error
    print(f"{args.out}: {len(data)} bytes, sha256 {args.sha256} verified")
    return 0


def _devices(args) -> int:
    config = load_collector_config(args.config)
    with open_storage(config) as storage:
        for record in storage.devices():
            state = {True: "online", False: "offline", None: "unknown"}[record.online]
            seen = iso_utc(record.status_ns) if record.status_ns else "-"
            print(f"{record.device:<16} {record.site:<24} {state:<8} since {seen}  "
                  f"stored to seq {record.contiguous_seq}  health {record.health_json or '-'}")
    return 0


def _problems(args) -> int:
    config = load_collector_config(args.config)
    with open_storage(config) as storage:
        for problem in storage.problems():
            print(f"{iso_utc(problem.recorded_ns)}  {problem.device:<16} seq {problem.seq:>8}  "
                  f"{problem.kind}: {problem.detail}")
        for gap in storage.gaps():
            print(f"{'':27}  {gap.device:<16} gap: seq {gap.first} to {gap.last} not received")
    return 0
