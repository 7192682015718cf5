"""The collector's fault list and report (issue 26 item 3): fault spans from stored fault events
and health records, availability over a period (offline from status changes, critical faults),
the plain-text and HTML rendering (the HTML checked with a strict parser here; rendered in
headless Chromium by tests/test_fault_report_browser.py), and the report mailed through a local
SMTP server with STARTTLS after real devices reported through a real Mosquitto to the real collector."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser

import pytest
from smtp_server import SmtpServer
from test_collector_storage import backend  # noqa: F401 (the fixture: each storage backend)
from test_delivery import start_collector
from uplink_doubles import wait_until

from roadcam.collector.cli import main as collector_cli
from roadcam.collector.config import LimitSettings, load_collector_config
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import SignedEventSource, event_payload, mqtt5_client
from roadcam.collector.fault_report import FaultReport, build_report, percent, render_html, render_text
from roadcam.collector.faults import FaultSpan, HealthRecord, fault_spans
from roadcam.collector.ingest import DeviceHealth, DeviceStatus, Ingest
from roadcam.collector.local_broker import Broker
from roadcam.collector.mailer import MAIL_FAILED_EXIT
from roadcam.collector.pki import write_test_pki
from roadcam.collector.sql_storage import SqlStorage
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import EventQuery, StatusChange
from roadcam.common.errors import ConfigError
from roadcam.protocol.events import iso_utc, utc_ns
from roadcam.protocol.signing import load_private_key

SITE = "site-a"
HOUR_NS = 3600 * 10**9
T0 = 1_790_000_000 * 10**9  # a period start, 2026-09-20


@pytest.fixture
def pki(tmp_path):
    return write_test_pki(tmp_path / "pki", devices=["tn-0001", "tn-0002", "tn-0003"],
                          collectors=["collector-1"])


def source(pki, device: str) -> SignedEventSource:
    return SignedEventSource(device, SITE, load_private_key(pki.signing_key(device)))


def fault_event(device: SignedEventSource, kind: str, fault_id: str, severity: str, at_ns: int,
                first_seen_ns: int | None = None):
    """A signed fault.raised / fault.cleared event as the device's fault board writes it."""
    code, component = fault_id.split(":")
    data = {"code": code, "component": component, "id": fault_id, "severity": severity,
            "first_seen": iso_utc(first_seen_ns or at_ns)}
    if kind == "fault.raised":
        data["message"] = f"{code} on {component}"
    else:
        data["last_seen"] = iso_utc(at_ns)
    return device.next_event(kind, data, time_ns=at_ns)


def health_event(device: SignedEventSource, at_ns: int, faults: list[str], uptime_s: float):
    return device.next_event("health", {"uptime_s": uptime_s, "faults": faults}, time_ns=at_ns)


def health_summary(at_ns: int, faults: list[str], uptime_s: float) -> str:
    """A retained health summary as the uplink publishes it."""
    return json.dumps({"time": iso_utc(at_ns), "pending": 0, "faults": faults, "health": {"uptime_s": uptime_s}})


# -- fault spans --------------------------------------------------------------------------------


def test_spans_end_when_cleared_at_a_restart_or_when_no_longer_held(pki):
    device = source(pki, "tn-0001")
    events = [fault_event(device, "fault.raised", "camera.dark:north", "critical", T0 + HOUR_NS),
              fault_event(device, "fault.cleared", "camera.dark:north", "critical", T0 + 2 * HOUR_NS, T0 + HOUR_NS),
              fault_event(device, "fault.raised", "loop.stuck_on:L1", "major", T0 + 3 * HOUR_NS),
              fault_event(device, "fault.raised", "disk.low:store", "minor", T0 + 6 * HOUR_NS),
              fault_event(device, "fault.cleared", "clock.unsynced:chrony", "major", T0 + 9 * HOUR_NS, T0 - HOUR_NS)]
    health = [
        # the device restarted at T0 + 4 h (uptime 1 h at 5 h) and no longer holds the loop fault
        HealthRecord(T0 + 5 * HOUR_NS, frozenset(), 3600.0),
        # 2 s after the raise: the health record may predate it, so it proves nothing
        HealthRecord(T0 + 6 * HOUR_NS + 2 * 10**9, frozenset(), 7200.0),
        HealthRecord(T0 + 7 * HOUR_NS, frozenset({"disk.low:store"}), 10800.0),
        # the same process, no longer holding it: its fault.cleared is still on the way
        HealthRecord(T0 + 8 * HOUR_NS, frozenset(), 14400.0),
    ]
    spans = {span.id: span for span in fault_spans(reversed(events), health)}
    assert [(span.id, span.start_ns, span.end_ns, span.ended_by) for span in spans.values()] == [
        ("clock.unsynced:chrony", T0 - HOUR_NS, T0 + 9 * HOUR_NS, "cleared"),  # raised before anything stored
        ("camera.dark:north", T0 + HOUR_NS, T0 + 2 * HOUR_NS, "cleared"),
        ("loop.stuck_on:L1", T0 + 3 * HOUR_NS, T0 + 4 * HOUR_NS, "restart"),
        ("disk.low:store", T0 + 6 * HOUR_NS, T0 + 8 * HOUR_NS, "not held"),
    ]
    assert spans["camera.dark:north"].severity == "critical"
    assert spans["loop.stuck_on:L1"].message == "loop.stuck_on on L1"
    # without health records a fault stays open until cleared
    assert fault_spans(events[2:3])[0].end_ns is None


# -- availability -------------------------------------------------------------------------------


def stored_history(tmp_path, pki, storage: SqlStorage | None = None) -> SqlStorage:
    """Two devices' stored history over [T0, T0 + 12 h): tn-0001 heard from before T0, with a
    critical fault 1 h, an offline hour and a critical fault overlapping it by half, a major fault
    (does not count), a status heard again, and a critical fault raised at 9 h that a restart at
    10 h lost (a second restart at 11 h; the health summary tells only of that one);
    tn-0002 first heard at T0 + 6 h. Into ``storage``, or a new SQLite database."""
    ingest = Ingest(DeviceKeys(pki.device_keys_dir), LimitSettings())
    if storage is None:
        storage = SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence")
    one = source(pki, "tn-0001")

    def store(device, event):
        storage.store([ingest.check(device.topics.event(event.type), event_payload(event))], utc_ns(event.time))

    def status(device: str, online: bool, at_ns: int):
        storage.store([DeviceStatus(device, SITE, online=online)], at_ns)

    status("tn-0001", True, T0 - 2 * HOUR_NS)
    store(one, health_event(one, T0 - HOUR_NS, [], 10.0))
    store(one, fault_event(one, "fault.raised", "camera.dark:north", "critical", T0 + HOUR_NS))
    store(one, fault_event(one, "fault.cleared", "camera.dark:north", "critical", T0 + 2 * HOUR_NS, T0 + HOUR_NS))
    store(one, fault_event(one, "fault.raised", "camera.blurred:north", "major", T0 + 3 * HOUR_NS))
    status("tn-0001", False, T0 + 6 * HOUR_NS)
    store(one, fault_event(one, "fault.raised", "loop.stuck_on:L1", "critical", T0 + 6 * HOUR_NS + HOUR_NS // 2))
    status("tn-0001", True, T0 + 7 * HOUR_NS)
    status("tn-0001", True, T0 + 7 * HOUR_NS + 1)  # the retained status again, on a reconnect
    store(one, fault_event(one, "fault.cleared", "loop.stuck_on:L1", "critical", T0 + 7 * HOUR_NS + HOUR_NS // 2,
                           T0 + 6 * HOUR_NS + HOUR_NS // 2))
    store(one, fault_event(one, "fault.raised", "camera.unavailable:south", "critical", T0 + 9 * HOUR_NS))
    store(one, health_event(one, T0 + 10 * HOUR_NS + 60 * 10**9, ["camera.blurred:north"], 60.0))
    store(one, health_event(one, T0 + 11 * HOUR_NS + 60 * 10**9, ["camera.blurred:north"], 60.0))
    last_ns = T0 + 12 * HOUR_NS - 10**9
    storage.store([DeviceHealth("tn-0001", SITE, health_summary(last_ns, ["camera.blurred:north"], 3599))], last_ns)
    status("tn-0002", True, T0 + 6 * HOUR_NS)
    storage.store([DeviceHealth("tn-0002", SITE, health_summary(last_ns, [], 99999))], last_ns)
    return storage


def test_availability_counts_offline_time_and_critical_faults_once(tmp_path, pki, backend):  # noqa: F811
    with stored_history(tmp_path, pki, backend.open()) as storage:  # on SQLite and on PostgreSQL
        assert [(c.device, c.online) for c in storage.status_changes(T0 + 12 * HOUR_NS)] == [
            ("tn-0001", True), ("tn-0001", False), ("tn-0001", True), ("tn-0002", True)]
        report = build_report(storage, [("tn-0003", SITE)], T0, T0 + 12 * HOUR_NS, silent_after_s=150)
    lines = {line.state.device: line for line in report.devices}
    one, two = lines["tn-0001"].availability, lines["tn-0002"].availability
    # 1 h critical + (offline 6..7 h united with the critical fault 6.5..7.5 h) + 9..10 h = 3.5 h of 12 h
    assert (one.observed_ns, one.unavailable_ns) == (12 * HOUR_NS, 7 * HOUR_NS // 2)
    assert percent(one.fraction) == "70.83 %"
    assert (two.observed_ns, two.unavailable_ns) == (6 * HOUR_NS, 0)  # first heard at 6 h
    assert lines["tn-0003"].availability is None and lines["tn-0003"].state.state == "never seen"
    assert percent(report.network_availability) == f"{(18 - 3.5) / 18 * 100:.2f} %"
    assert [(span.device, span.id, span.severity) for span in report.current] == [
        ("tn-0003", "device.never_seen:tn-0003", "critical"), ("tn-0001", "camera.blurred:north", "major")]
    assert [(span.id, span.end_ns is None) for span in report.period] == [
        ("camera.dark:north", False), ("camera.blurred:north", True), ("device.offline:tn-0001", False),
        ("loop.stuck_on:L1", False), ("camera.unavailable:south", False)]
    lost = report.period[-1]
    assert (lost.end_ns, lost.ended_by) == (T0 + 10 * HOUR_NS, "restart")  # from the health events


def test_the_status_log_starts_from_each_devices_status_when_the_database_is_upgraded(tmp_path):
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
        storage.store([DeviceStatus("tn-0001", SITE, online=False), DeviceStatus("tn-0002", SITE, online=True)], T0)
    with sqlite3.connect(tmp_path / "collector.db") as outside:  # as layout 3 left it
        outside.execute("DROP TABLE status_changes")
        outside.execute("PRAGMA user_version = 3")
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as upgraded:
        assert upgraded.status_changes(T0 + 1) == [StatusChange("tn-0001", False, T0),
                                                   StatusChange("tn-0002", True, T0)]
        assert [record.first_heard_ns for record in upgraded.devices()] == [T0, T0]


def test_a_fault_the_health_summary_lists_before_its_event_arrived_is_listed_as_unknown(tmp_path, pki):
    ingest = Ingest(DeviceKeys(pki.device_keys_dir), LimitSettings())
    one = source(pki, "tn-0001")
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
        storage.store([DeviceStatus("tn-0001", SITE, online=True)], T0)
        for event in (fault_event(one, "fault.raised", "disk.low:store", "minor", T0 + HOUR_NS),
                      fault_event(one, "fault.cleared", "disk.low:store", "minor", T0 + 2 * HOUR_NS + 10**10)):
            storage.store([ingest.check(one.topics.event(event.type), event_payload(event))], utc_ns(event.time))
        summary = health_summary(T0 + 2 * HOUR_NS, ["camera.frozen:north", "disk.low:store"], 9000)
        storage.store([DeviceHealth("tn-0001", SITE, summary)], T0 + 2 * HOUR_NS)
        report = build_report(storage, [], T0 + 2 * HOUR_NS, T0 + 2 * HOUR_NS + 20 * 10**9, 150, with_period=False)
    assert [(span.id, span.severity) for span in report.current] == [("camera.frozen:north", "unknown")]
    assert "has not reached the collector yet" in report.current[0].message


def test_now_takes_no_period(tmp_path, pki, capsys):
    config = tmp_path / "collector.yaml"
    config.write_text(f"storage:\n  database: {tmp_path / 'c.db'}\n  evidence_dir: {tmp_path / 'ev'}\n"
                      f"device_keys_dir: {pki.device_keys_dir}\n")
    assert collector_cli(["report", "faults", "--now", "--period", "3", "--config", str(config)]) == 2
    assert "--now lists the faults active now" in capsys.readouterr().err
    assert collector_cli(["report", "faults", "--now", "--config", str(config)]) == 0
    assert "device.never_seen:tn-0001" in capsys.readouterr().out


def test_a_report_ending_in_the_past_finds_the_restart_that_lost_a_fault(tmp_path, pki):
    with stored_history(tmp_path, pki) as storage:
        before = build_report(storage, [], T0, T0 + 9 * HOUR_NS + HOUR_NS // 2, silent_after_s=3 * 3600)
        after = build_report(storage, [], T0, T0 + 10 * HOUR_NS + HOUR_NS // 2, silent_after_s=3 * 3600)
    assert "camera.unavailable:south" in {span.id for span in before.current}
    assert {span.id for span in after.current} == {"camera.blurred:north"}  # the restart at 10 h ended it
    one = next(line for line in after.devices if line.state.device == "tn-0001")
    assert one.availability.unavailable_ns == 7 * HOUR_NS // 2


def test_a_device_silent_past_the_limit_is_listed_and_counts_as_unavailable(tmp_path, pki):
    with stored_history(tmp_path, pki) as storage:
        report = build_report(storage, [], T0 + 12 * HOUR_NS, T0 + 14 * HOUR_NS, silent_after_s=1800)
    silent = {span.device: span for span in report.current if span.id.startswith("device.silent")}
    assert set(silent) == {"tn-0001", "tn-0002"}
    assert silent["tn-0001"].start_ns == T0 + 12 * HOUR_NS - 10**9
    one = next(line for line in report.devices if line.state.device == "tn-0001")
    assert one.state.state == "silent"
    assert (one.availability.observed_ns, one.availability.unavailable_ns) == (2 * HOUR_NS, 2 * HOUR_NS)


# -- rendering ----------------------------------------------------------------------------------


class HtmlTables(HTMLParser):
    """Parses a page strictly: every element closed in order (void elements aside), and the text
    of each table under its h2 heading, row by row."""

    VOID = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.paragraphs: list[str] = []
        self._heading = ""
        self._text = ""
        self.doctype = None
        self.feed(page)
        self.close()
        assert self.open == [], f"elements left open: {self.open}"

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)
        if tag == "table":
            self.tables[self._heading] = []
        elif tag == "tr":
            self.tables[self._heading].append([])
        self._text = ""

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()
        if tag == "h2":
            self._heading = self._text
        elif tag in ("td", "th"):
            self.tables[self._heading][-1].append(self._text)
        elif tag == "p":
            self.paragraphs.append(self._text)

    def handle_data(self, data):
        self._text += data


def table(page: HtmlTables, prefix: str) -> list[dict[str, str]]:
    """The rows of the table whose heading starts with ``prefix``, as column -> cell."""
    (heading,) = [heading for heading in page.tables if heading.startswith(prefix)]
    columns, *rows = page.tables[heading]
    return [dict(zip(columns, row)) for row in rows]


def test_the_html_report_is_well_formed_and_says_what_the_text_says(tmp_path, pki):
    with stored_history(tmp_path, pki) as storage:
        report = build_report(storage, [("tn-0003", SITE)], T0, T0 + 12 * HOUR_NS, silent_after_s=150)
    report = FaultReport(report.since_ns, report.until_ns, report.devices,
                         report.current + (FaultSpan(device="tn-0001", site=SITE, id="x.<script>:a&b",
                                                     severity="minor", message="<b>not markup</b>",
                                                     start_ns=T0),), report.period)
    page = HtmlTables(render_html(report))
    text = render_text(report)
    assert page.doctype == "DOCTYPE html"
    current = table(page, "Faults active")
    assert [(row["device"], row["fault"], row["severity"]) for row in current] == [
        ("tn-0003", "device.never_seen:tn-0003", "critical"), ("tn-0001", "camera.blurred:north", "major"),
        ("tn-0001", "x.<script>:a&b", "minor")]
    assert current[2]["message"] == "<b>not markup</b>"  # escaped: text, not elements
    devices = {row["device"]: row for row in table(page, "Devices")}
    assert (devices["tn-0001"]["availability"], devices["tn-0002"]["availability"],
            devices["tn-0003"]["availability"]) == ("70.83 %", "100.00 %", "n/a")
    assert "Network availability: 80.56 %" in page.paragraphs
    for row in current + table(page, "Faults during"):
        assert row["fault"] in text and row["message"] in text
    for row in devices.values():
        assert f"{row['device']}  " in text and row["availability"] in text
    assert "Availability: the share of the period" in text


# -- through Mosquitto, mailed ------------------------------------------------------------------

#: A device that connects like the uplink (retained online, last will offline), then waits to be killed.
_DEVICE_SCRIPT = textwrap.dedent("""
    import sys, time
    from roadcam.collector.fake_device import mqtt5_client
    host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = mqtt5_client(sys.argv[4])
    client.will_set(topic, "offline", qos=1, retain=True)
    client.connect(host, port, keepalive=int(sys.argv[5]))
    client.loop_start()
    client.publish(topic, "online", qos=1, retain=True).wait_for_publish(10)
    print("online", flush=True)
    time.sleep(600)
""")


def device_process(broker: Broker, device: str, keepalive_s: int = 30) -> subprocess.Popen:
    """A device in its own process, connected with its last will, once it said it is online."""
    topic = f"roadcam/v1/{SITE}/{device}/status"
    process = subprocess.Popen([sys.executable, "-c", _DEVICE_SCRIPT, broker.host, str(broker.port), topic,
                                device, str(keepalive_s)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "online"
    return process


def state_of(storage, device: str):
    return next((record.online for record in storage.devices() if record.device == device), None)


def add_report_section(config_file, smtp: SmtpServer, pki, password_file) -> None:
    with open(config_file, "a") as config:
        config.write(f"report:\n  silent_after_s: 150\n  mail:\n    host: 127.0.0.1\n    port: {smtp.port}\n"
                     f"    starttls: true\n    ca_file: {pki.ca}\n    username: reports\n"
                     f"    password_file: {password_file}\n    from: roadcam@collector.example\n"
                     f"    to: [faults@city.example, depot@city.example]\n")


@pytest.mark.integration
def test_the_mailed_report_lists_exactly_the_injected_faults_with_their_availability(tmp_path, pki, capsys):
    broker = Broker(tmp_path / "broker")
    broker.start()
    collector, storage = start_collector(tmp_path, broker, pki)
    now_ns = time.time_ns()
    since_ns = now_ns - 12 * HOUR_NS
    # the collector has known tn-0001 for longer than the period
    storage.store([DeviceStatus("tn-0001", SITE, online=True)], since_ns - HOUR_NS)
    client = mqtt5_client("tn-0001")
    client.connect(broker.host, broker.port)
    client.loop_start()
    password_file = tmp_path / "smtp.password"
    password_file.write_text("s3cret\n")
    try:
        # tn-0001 reports its faults of the last 12 h from its outbox, and holds one still
        one = source(pki, "tn-0001")
        for event in (fault_event(one, "fault.raised", "camera.dark:north", "critical", since_ns + HOUR_NS),
                      fault_event(one, "fault.cleared", "camera.dark:north", "critical", since_ns + 2 * HOUR_NS,
                                  since_ns + HOUR_NS),
                      fault_event(one, "fault.raised", "camera.frozen:north", "major", since_ns + 10 * HOUR_NS)):
            one.publish(client, event).wait_for_publish(10)
        client.publish(one.topics.status, "online", qos=1, retain=True).wait_for_publish(10)
        client.publish(one.topics.health, health_summary(now_ns, ["camera.frozen:north"], 50000),
                       qos=1, retain=True).wait_for_publish(10)
        # tn-0002 comes online, then its process dies: the broker publishes its last will
        two = device_process(broker, "tn-0002")
        wait_until(lambda: state_of(storage, "tn-0002") is True, what="tn-0002 online")
        two.send_signal(signal.SIGKILL)
        two.wait()
        wait_until(lambda: state_of(storage, "tn-0002") is False, what="tn-0002's last will")
        wait_until(lambda: len(storage.events(EventQuery(device="tn-0001"))) == 3, what="tn-0001's events")
        until_ns = utc_ns(iso_utc(time.time_ns() + 10**9))
        with SmtpServer(cert=pki.server_cert, key=pki.server_key, require_tls=True,
                        login=("reports", "s3cret")) as smtp:
            add_report_section(tmp_path / "collector.yaml", smtp, pki, password_file)
            html_file = tmp_path / "report.html"
            assert collector_cli(["report", "faults", "--config", str(tmp_path / "collector.yaml"), "--mail",
                                  "--since", iso_utc(since_ns), "--until", iso_utc(until_ns),
                                  "--html", str(html_file)]) == 0
        (mail,) = smtp.received
        changes = {change.online: change.received_ns for change in storage.status_changes(until_ns)
                   if change.device == "tn-0002"}
    finally:
        client.disconnect()
        client.loop_stop()
        collector.stop()
        storage.close()
        broker.stop()
    assert "mailed the fault report" in capsys.readouterr().out
    assert mail.over_tls and mail.user == "reports"
    assert mail.rcpt_to == ("faults@city.example", "depot@city.example")
    assert mail.message["Subject"] == f"roadcam faults {iso_utc(until_ns)[:16].replace('T', ' ')} UTC: 3 active, " \
                                      "2 critical"
    text = mail.message.get_body(("plain",)).get_content()
    page_html = mail.message.get_body(("html",)).get_content()
    assert page_html.replace("\r\n", "\n") == html_file.read_text()  # SMTP lines end in CRLF
    page = HtmlTables(page_html)
    assert {(row["device"], row["fault"], row["severity"], row["ended"]) for row in table(page, "Faults active")} == {
        ("tn-0001", "camera.frozen:north", "major", "active"),
        ("tn-0002", "device.offline:tn-0002", "critical", "active"),
        ("tn-0003", "device.never_seen:tn-0003", "critical", "active")}
    assert {(row["device"], row["fault"], row["severity"]) for row in table(page, "Faults during")} == {
        ("tn-0001", "camera.dark:north", "critical"), ("tn-0001", "camera.frozen:north", "major"),
        ("tn-0002", "device.offline:tn-0002", "critical")}
    period_ns = until_ns - since_ns
    one_available = 1 - HOUR_NS / period_ns  # one critical hour; the major fault does not count
    two_observed, two_down = until_ns - changes[True], until_ns - changes[False]
    expected = {"tn-0001": percent(one_available), "tn-0002": percent(1 - two_down / two_observed), "tn-0003": "n/a"}
    devices = {row["device"]: row["availability"] for row in table(page, "Devices")}
    assert devices == expected
    network = (one_available * period_ns + two_observed - two_down) / (period_ns + two_observed)
    assert f"Network availability: {percent(network)}" in text
    for device, figure in expected.items():
        assert any(line.startswith(f"  {device}") and figure in line for line in text.splitlines())
    for fault in ("camera.dark:north", "camera.frozen:north", "device.offline:tn-0002", "device.never_seen:tn-0003"):
        assert fault in text
    print(f"availability tn-0001 {expected['tn-0001']}, tn-0002 {expected['tn-0002']}, network {percent(network)}")


def test_a_config_error_exits_2_and_a_mail_failure_exits_3(tmp_path, pki, capsys):
    """A config error (no mail section, a password file that cannot be read) exits 2; the mail
    server refusing the session, not answering, or refusing a recipient exits MAIL_FAILED_EXIT."""
    config = tmp_path / "collector.yaml"
    base = (f"storage:\n  database: {tmp_path / 'c.db'}\n  evidence_dir: {tmp_path / 'ev'}\n"
            f"device_keys_dir: {pki.device_keys_dir}\n")
    report = ["report", "faults", "--config", str(config), "--mail"]

    def mail_section(port: int, extra: str = "") -> None:
        config.write_text(base + f"report:\n  mail:\n    host: 127.0.0.1\n    port: {port}\n    starttls: false\n"
                                 "    from: roadcam@collector.example\n"
                                 "    to: [faults@city.example, gone@city.example]\n" + extra)

    config.write_text(base)
    assert collector_cli(report) == 2
    assert "--mail needs a report.mail section" in capsys.readouterr().err
    assert MAIL_FAILED_EXIT not in (0, 1, 2, 130)
    with SmtpServer(cert=pki.server_cert, key=pki.server_key, require_tls=True) as smtp:
        mail_section(smtp.port, f"    username: reports\n    password_file: {tmp_path / 'missing'}\n")
        assert collector_cli(report) == 2
        assert "report.mail.password_file: cannot read" in capsys.readouterr().err
        mail_section(smtp.port)  # plain SMTP to a server that wants STARTTLS first
        assert collector_cli([*report, "--text", "--html", str(tmp_path / "faults.html")]) == MAIL_FAILED_EXIT
    out, error = capsys.readouterr()
    assert "cannot mail the fault report through 127.0.0.1" in error and "report.mail" in error
    assert smtp.received == []
    # the report was made all the same
    assert "device.never_seen:tn-0001" in out and "device.never_seen:tn-0001" in (tmp_path / "faults.html").read_text()
    mail_section(smtp.port)  # the server is gone: nothing listens on its port
    assert collector_cli(report) == MAIL_FAILED_EXIT
    assert "ConnectionRefusedError" in capsys.readouterr().err
    with SmtpServer(refuse=("gone@city.example",)) as smtp:
        mail_section(smtp.port)
        assert collector_cli(report) == MAIL_FAILED_EXIT
    assert "refused gone@city.example" in capsys.readouterr().err
    assert [mail.rcpt_to for mail in smtp.received] == [("faults@city.example",)]  # the others got it


def test_the_help_names_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as done:
        collector_cli(["report", "faults", "--help"])
    assert done.value.code == 0
    assert f"2 a config, argument or storage error (nothing mailed); {MAIL_FAILED_EXIT} --mail failed" in \
        " ".join(capsys.readouterr().out.split())


def test_a_bad_mail_section_is_named_by_its_field_path_and_line(tmp_path, pki):
    config = tmp_path / "collector.yaml"
    config.write_text(f"storage:\n  database: {tmp_path / 'c.db'}\n  evidence_dir: {tmp_path / 'ev'}\n"
                      f"device_keys_dir: {pki.device_keys_dir}\nreport:\n  mail:\n    host: mail.city.example\n"
                      "    port: 0\n    from: roadcam@collector.example\n    to: []\n    startls: true\n")
    with pytest.raises(ConfigError) as raised:
        load_collector_config(config)
    problems = "\n".join(raised.value.problems)
    assert f"{config}:8: report.mail.port" in problems
    assert f"{config}:10: report.mail.to" in problems
    assert "report.mail.startls: unknown key" in problems
