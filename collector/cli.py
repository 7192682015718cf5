"""The ``roadcam-collector`` command.

    roadcam-collector serve --config FILE          run the collector until SIGTERM / Ctrl-C
    roadcam-collector events --config FILE [--plate P] [--device D] [--type T]
                             [--since ISO] [--until ISO] [--limit N] [--json]
    roadcam-collector evidence export SHA256 --out FILE --config FILE
    roadcam-collector devices --config FILE        online/offline, last health, acked seq
    roadcam-collector problems --config FILE       chain breaks, seq conflicts, gaps
    roadcam-collector sections --config FILE [--section S] [--since ISO] [--until ISO]
                             [--violations] [--limit N] [--json]
                                                   section speed results (speed.section)
    roadcam-collector quarantine list --config FILE  messages set aside after failing twice
    roadcam-collector command DEVICE NAME --config FILE [--args JSON | --config-update SITE.yaml]
                             [--site SITE] [--wait S]     a signed command; prints the device's result
    roadcam-collector hotlist publish FILE --config FILE  the whole hotlist, to every device
    roadcam-collector hotlist change --config FILE [--add FILE] [--remove PLATE ...]
    roadcam-collector enroll DEVICE --site SITE --key PUBLIC.pem --config FILE
                             [--admin-cert CRT --admin-key KEY]
                                                   trust a device, bound to its site (and tell
                                                   the running broker, as broker-admin)
    roadcam-collector broker-policy --config FILE --out FILE [--base FILE]
                                                   the broker's access policy, from the registry
    roadcam-collector report faults --config FILE [--now] [--since ISO | --period H] [--until ISO]
                             [--text] [--html FILE] [--mail]
                                                   current faults, the period's, availability

Every expected failure prints one clear message and exits 2, but for ``report faults --mail``
when the mail server cannot be reached or refuses the report: 3 (the report itself was made);
a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

from roadcam.common.cli import run_command
from roadcam.common.errors import ConfigError, StoreError
from roadcam.common.yaml_config import load_yaml
from roadcam.protocol.events import iso_utc, utc_ns

from .broker_admin import BrokerAdmin
from .broker_policy import base_policy, check_device_name, render_policy, write_policy
from .config import CollectorConfig, load_collector_config
from .device_keys import DeviceKeys
from .dispatch import Dispatcher, read_hotlist_entries, wait_for_result
from .fault_report import build_report, render_html, render_text, title
from .ingest import Ingest
from .mailer import MAIL_FAILED_EXIT, report_message, send
from .postgres_storage import PostgresStorage
from .section_storage import SectionTable
from .sections import SectionService
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

    sections = commands.add_parser("sections", help="list section speed results (speed.section)")
    sections.add_argument("--config", required=True, type=Path, help="collector config YAML")
    sections.add_argument("--section", help="only this section")
    sections.add_argument("--since", type=_iso_ns, help="from this UTC time (ISO 8601), inclusive")
    sections.add_argument("--until", type=_iso_ns, help="up to this UTC time (ISO 8601), exclusive")
    sections.add_argument("--violations", action="store_true", help="only violations")
    sections.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    sections.add_argument("--json", action="store_true", help="one speed.section event per line")
    sections.set_defaults(handler=_sections)

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

    quarantine = commands.add_parser("quarantine", help="messages set aside after failing twice")
    quarantine_commands = quarantine.add_subparsers(dest="quarantine_command", required=True)
    quarantine_list = quarantine_commands.add_parser("list", help="each quarantined message and why")
    quarantine_list.add_argument("--config", required=True, type=Path, help="collector config YAML")
    quarantine_list.set_defaults(handler=_quarantine_list)

    enroll = commands.add_parser("enroll", help="trust a device: its public key, bound to its site")
    enroll.add_argument("device", help="the device id, e.g. tn-0042 (its certificate's CN)")
    enroll.add_argument("--site", required=True, help="the one site it reports under")
    enroll.add_argument("--key", required=True, type=Path, help="its Ed25519 public key (PEM)")
    enroll.add_argument("--config", required=True, type=Path, help="collector config YAML")
    enroll.add_argument("--admin-cert", type=Path, help="the broker-admin client certificate (CN broker-admin, "
                        "from the CA): add the device to the running broker (the config's broker) at once")
    enroll.add_argument("--admin-key", type=Path, help="its private key")
    enroll.set_defaults(handler=_enroll)

    policy = commands.add_parser("broker-policy", help="write the broker's access policy (Mosquitto "
                                 "dynamic-security file) from the device registry")
    policy.add_argument("--config", required=True, type=Path, help="collector config YAML")
    policy.add_argument("--out", required=True, type=Path,
                        help="file to write, e.g. /etc/mosquitto/roadcam/dynamic-security.json")
    policy.add_argument("--base", type=Path, help="base policy: the collectors and their role "
                        "(default: the shipped collector/mosquitto/dynamic-security.json)")
    policy.set_defaults(handler=_broker_policy)

    command = commands.add_parser("command", help="send a signed command to one device")
    command.add_argument("device", help="the device id, e.g. tn-0042")
    command.add_argument("name", help="run_diagnostics, snapshot, config_update (or a plugin's own)")
    command.add_argument("--config", required=True, type=Path, help="collector config YAML")
    given = command.add_mutually_exclusive_group()
    given.add_argument("--args", type=_json_object, default={}, help='the command\'s arguments as JSON, '
                       'e.g. \'{"camera": "north"}\' for snapshot')
    given.add_argument("--config-update", type=Path, metavar="SITE_YAML",
                       help="for config_update: the device's whole new site config")
    command.add_argument("--site", help="the device's site (default: as the device registry knows it)")
    command.add_argument("--wait", type=float, default=30.0, metavar="S",
                         help="seconds to wait for the device's result (0: do not wait; default 30)")
    command.set_defaults(handler=_command)

    hotlist = commands.add_parser("hotlist", help="send the hotlist of stolen and wanted vehicles")
    hotlist_commands = hotlist.add_subparsers(dest="hotlist_command", required=True)
    publish = hotlist_commands.add_parser("publish", help="the whole list, to every device (retained)")
    publish.add_argument("file", type=Path, help="YAML/JSON list of {plate, reason, priority, note}")
    publish.add_argument("--config", required=True, type=Path, help="collector config YAML")
    publish.set_defaults(handler=_hotlist_publish)
    change = hotlist_commands.add_parser("change", help="add and remove entries of the last list sent")
    change.add_argument("--add", type=Path, help="YAML/JSON list of entries to add")
    change.add_argument("--remove", nargs="*", default=[], metavar="PLATE", help="plates to remove")
    change.add_argument("--config", required=True, type=Path, help="collector config YAML")
    change.set_defaults(handler=_hotlist_change)

    report = commands.add_parser("report", help="reports from what the devices sent")
    report_commands = report.add_subparsers(dest="report_command", required=True)
    faults = report_commands.add_parser(
        "faults", help="every device's current faults, the faults of the period and each device's "
                       "availability over it (see roadcam.collector.faults); prints text unless "
                       "--html or --mail says otherwise",
        epilog=f"exit status: 0 done; 2 a config, argument or storage error (nothing mailed); "
               f"{MAIL_FAILED_EXIT} --mail failed: the mail server could not be reached, refused the login or "
               f"some recipients (the message says which)")
    faults.add_argument("--config", required=True, type=Path, help="collector config YAML")
    faults.add_argument("--now", action="store_true", help="only the faults active now, at once "
                        "(no period, no availability)")
    start = faults.add_mutually_exclusive_group()
    start.add_argument("--since", type=_iso_ns, help="period start, UTC ISO 8601 (default: --period "
                       "before --until)")
    start.add_argument("--period", type=_hours, metavar="H", help="period length in hours "
                       "(default: report.period_h of the config, 12)")
    faults.add_argument("--until", type=_iso_ns, help="period end, UTC ISO 8601 (default: now)")
    faults.add_argument("--text", action="store_true", help="print the plain-text report")
    faults.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report to FILE")
    faults.add_argument("--mail", action="store_true", help="mail it as report.mail of the config says")
    faults.set_defaults(handler=_report_faults)
    return parser


def _hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        hours = 0.0
    if not 0 < hours <= 24 * 366:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours above 0 (at most a year)")
    return hours


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('the arguments must be a JSON object, e.g. {"camera": "north"}')
    return value


def _iso_ns(text: str) -> int:
    """UTC nanoseconds of an ISO 8601 time; a time without a zone is taken as UTC."""
    try:
        return utc_ns(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time such as "
                                         "2026-11-22T03:04:05Z") from None


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
        followers = []
        if config.sections:
            sections = SectionService(config.sections, SectionTable(storage), clock_check=config.clock_check)
            sections.rebuild()
            followers.append(sections.follow)
        collector = Collector(config.broker, storage, ingest, batch_max=config.batch_max, followers=followers)
        collector.start()
        logging.getLogger("roadcam.collector").info(
            "collector %s (pid %d) storing into %s", config.broker.client_id, os.getpid(),
            storage.description())
        _log_quarantine(storage)
        while not stop.wait(_STATS_INTERVAL_S):
            logging.getLogger("roadcam.collector").info("stats: %s", collector.stats())
        collector.stop()
    return 0


def _log_quarantine(storage: SqlStorage) -> None:
    """Say at start how many messages are in quarantine, so a restart after a fatal error
    points at them."""
    count = len(storage.quarantined())
    if count:
        logging.getLogger("roadcam.collector").warning(
            "%d message(s) in quarantine: see roadcam-collector quarantine list", count)


def _quarantine_list(args) -> int:
    config = load_collector_config(args.config)
    with open_storage(config) as storage:
        messages = storage.quarantined()
    for message in messages:
        print(f"{iso_utc(message.quarantined_ns)}  {message.topic}  {len(message.payload)} bytes  "
              f"failed {message.failures} times  sha256 {message.digest}\n    {message.reason}")
    print(f"{len(messages)} message(s) in quarantine")
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


def _sections(args) -> int:
    config = load_collector_config(args.config)
    with open_storage(config) as storage:
        results = SectionTable(storage).section_results(since_ns=args.since, until_ns=args.until,
                                                        section=args.section, limit=args.limit)
        for result in results:
            if args.violations and not result.violation:
                continue
            event = result.event()
            if args.json:
                print(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            else:
                speed = f"{event['speed_kmh']:8.2f} km/h [{event['speed_low_kmh']:.2f}, " \
                        f"{event['speed_high_kmh']}]" if "speed_kmh" in event else ""
                flag = "VIOLATION" if result.violation else ""
                print(f"{event['time']}  {result.section:<16} {result.kind:<15} {result.plate:<10} {speed} {flag}")
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


def _command(args) -> int:
    config = load_collector_config(args.config)
    body = args.args
    if args.config_update is not None:
        data, _ = load_yaml(args.config_update)
        body = {"config": data}
    with open_storage(config) as storage:
        sent = Dispatcher(config, storage).send_command(args.device, args.name, body, site=args.site)
        print(f"sent {sent.name} version {sent.version} to {sent.device}")
        if args.wait <= 0:
            return 0
        result = wait_for_result(storage, sent, args.wait)
    if result is None:
        print(f"no result stored within {args.wait:.0f} s (is the device online and this collector "
              f"serving? see 'roadcam-collector events --device {sent.device} --type command.result')")
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0 if result.get("ok") else 1


def _hotlist_publish(args) -> int:
    config = load_collector_config(args.config)
    entries = read_hotlist_entries(args.file)
    with open_storage(config) as storage:
        sent = Dispatcher(config, storage).publish_hotlist(entries)
    print(f"published hotlist version {sent.version}: {len(entries)} entries, to every device")
    return 0


def _hotlist_change(args) -> int:
    config = load_collector_config(args.config)
    add = read_hotlist_entries(args.add) if args.add else []
    with open_storage(config) as storage:
        sent = Dispatcher(config, storage).change_hotlist(add, args.remove)
    print(f"sent hotlist change version {sent.version}: {len(add)} added, {len(args.remove)} removed")
    return 0


def _enroll(args) -> int:
    config = load_collector_config(args.config)
    try:
        key = args.key.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the public key {args.key}: {error.strerror}") from error
    if (args.admin_cert is None) != (args.admin_key is None):
        raise ConfigError("give both --admin-cert and --admin-key (the broker-admin client's), or neither")
    base = base_policy()
    check_device_name(args.device, base)
    DeviceKeys(config.device_keys_dir).enroll(args.device, args.site, key)
    print(f"enrolled {args.device} at site {args.site} in {config.device_keys_dir}")
    if args.admin_cert is None:
        print("write the broker policy again (roadcam-collector broker-policy) and restart the broker, or "
              "enrol with --admin-cert/--admin-key to add it to the running broker")
        return 0
    broker = config.broker
    if broker.tls is None:
        raise ConfigError(f"{args.config}: broker.tls is needed to reach the broker as broker-admin")
    BrokerAdmin(broker.host, broker.port, broker.tls.ca_file, args.admin_cert,
                args.admin_key).apply_device(args.device, args.site, base)
    print(f"the broker at {broker.host}:{broker.port} lets it in now (and keeps it in its policy file)")
    return 0


def _broker_policy(args) -> int:
    config = load_collector_config(args.config)
    policy = render_policy(DeviceKeys(config.device_keys_dir), base_policy(args.base))
    try:
        write_policy(args.out, policy)
    except OSError as error:
        raise ConfigError(f"cannot write {args.out}: {error.strerror}") from error
    print(f"{args.out}: {len(policy.devices)} device(s); restart the broker to apply it (its dynamic-security "
          "plugin reads the file only at start)")
    if policy.unbound:
        print(f"warning: not bound to a site, so they may publish under any: {', '.join(policy.unbound)} "
              "(enrol them again with --site)")
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


def _report_faults(args) -> int:
    config = load_collector_config(args.config)
    mail = config.report.mail
    if args.mail and mail is None:
        raise ConfigError(f"{args.config}: --mail needs a report.mail section (host, port, starttls, "
                          "from, to) in the collector config")
    if args.now and (args.since is not None or args.period is not None or args.until is not None):
        raise ConfigError("--now lists the faults active now: leave out --since, --period and --until")
    until_ns = time.time_ns() if args.until is None else args.until
    hours = config.report.period_h if args.period is None else args.period
    since_ns = until_ns if args.now else args.since if args.since is not None else until_ns - int(hours * 3600e9)
    if since_ns >= until_ns and not args.now:
        raise ConfigError(f"--since {iso_utc(since_ns)} is not before --until {iso_utc(until_ns)}")
    enrolled = [(enrolment.device, enrolment.site) for enrolment in DeviceKeys(config.device_keys_dir).enrolments()]
    with open_storage(config) as storage:
        report = build_report(storage, enrolled, since_ns, until_ns, config.report.silent_after_s,
                              with_period=not args.now)
    text = render_text(report)
    if args.html is not None:
        try:
            args.html.write_text(render_html(report), encoding="utf-8")
        except OSError as error:
            raise StoreError(f"cannot write {args.html}: {error.strerror}") from error
    if args.text or (args.html is None and not args.mail):
        print(text, end="")
    if args.mail:  # last: a mail failure (MAIL_FAILED_EXIT) leaves the text and the file made
        message = report_message(mail, title(report), text, render_html(report))
        send(mail, message)
        print(f"mailed the fault report ({len(report.current)} active fault(s)) to {', '.join(mail.to)}")
    return 0
