"""The fault report: every device's current faults, the faults of a period and each device's
availability over it (:mod:`roadcam.collector.faults` says how each is worked out), gathered
from the collector's storage and rendered as plain text and as HTML (one self-contained page:
inline style, no script, no external resource, so a mail client shows it as it is).

``roadcam-collector report faults`` prints or mails it; the ``roadcam-fault-report`` timer runs
that at 07:00 and 19:00 with ``--mail``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from roadcam.protocol.events import Event, iso_utc

from .faults import (
    HEALTH_GRACE_NS,
    Availability,
    DeviceState,
    FaultSpan,
    HealthRecord,
    availability,
    device_state,
    fault_spans,
    health_record_of_event,
    health_record_of_summary,
    offline_spans,
    presence_fault,
    severity_rank,
)
from .storage import CollectorStorage, EventQuery

#: Most events one query reads (a query per event type; fault events are few).
_QUERY_LIMIT = 10**9
#: What the report calls availability, printed under its figures.
AVAILABILITY_DEFINITION = ("Availability: the share of the period (from when the device was first "
                           "heard of, if later) in which the device was neither offline nor held a critical "
                           "fault. Major and minor faults do not reduce it.")


@dataclass(frozen=True)
class DeviceLine:
    """One device in the report: its presence at the period's end and its availability."""

    state: DeviceState
    availability: Availability | None


@dataclass(frozen=True)
class FaultReport:
    """What the report says; times are UTC ns, the period is [since_ns, until_ns)."""

    since_ns: int
    until_ns: int
    devices: tuple[DeviceLine, ...]
    #: Faults active at ``until_ns`` (the device's and the collector's), most severe first.
    current: tuple[FaultSpan, ...]
    #: Every fault span that overlaps the period (offline spans included), by start.
    period: tuple[FaultSpan, ...]
    #: False for ``--now``: the current faults only, no period and no availability.
    with_period: bool = True

    @property
    def network_availability(self) -> float | None:
        """Available over observed time, summed over the devices with an availability."""
        figures = [line.availability for line in self.devices if line.availability is not None]
        observed = sum(figure.observed_ns for figure in figures)
        if observed <= 0:
            return None
        return 1 - sum(figure.unavailable_ns for figure in figures) / observed


def build_report(storage: CollectorStorage, enrolled: Sequence[tuple[str, str | None]],
                 since_ns: int, until_ns: int, silent_after_s: float,
                 *, with_period: bool = True) -> FaultReport:
    """The report over [since_ns, until_ns) from ``storage``; ``enrolled`` lists the registry's
    (device, site) pairs so a device never heard of is reported too. Without ``with_period``
    (``--now``) only the current faults are worked out, from the fault events and the retained
    health summaries, reading no health events; with it, a device's health events are read only
    when its summary shows it lost a fault it never cleared (to find when), or when the period
    ends before its summary and a fault is open then."""
    records = {record.device: record for record in storage.devices()}
    fault_events: dict[str, list[Event]] = {}
    for event_type in ("fault.raised", "fault.cleared"):
        for event in storage.events(EventQuery(type=event_type, until_ns=until_ns, limit=_QUERY_LIMIT)):
            fault_events.setdefault(event.device, []).append(event)
    changes: dict[str, list] = {}
    for change in storage.status_changes(until_ns):
        changes.setdefault(change.device, []).append(change)
    lines, current, period = [], [], []
    for device, record in sorted(records.items()):
        summary = health_record_of_summary(record.health_json)
        latest = [summary] if summary is not None and summary.time_ns < until_ns else []
        events = fault_events.get(device, [])
        spans = fault_spans(events, latest)
        # faults the device no longer held, never cleared, or (no summary by the period's end to
        # say) still open: its health events since tell when it let them go
        unsure = [span.start_ns for span in spans if span.ended_by in ("restart", "not held")
                  or (span.end_ns is None and not latest)]
        if with_period and unsure:
            spans = fault_spans(events, _health_events(storage, device, min(unsure), until_ns) + latest)
        state = device_state(record, changes.get(device, ()), until_ns, silent_after_s)
        open_spans = [span for span in spans if span.end_ns is None]
        current += open_spans + _unreported_faults(latest, spans, record.device, record.site)
        presence = presence_fault(state, silent_after_s)
        if presence is not None:
            current.append(presence)
        if with_period:
            period += [span for span in spans if span.start_ns < until_ns
                       and (span.end_ns is None or span.end_ns > since_ns)]
            period += _offline_faults(state, offline_spans(changes.get(device, ()), until_ns), since_ns)
        lines.append(DeviceLine(state, availability(spans, changes.get(device, ()), state, since_ns, until_ns,
                                                    record.first_heard_ns)
                                if with_period else None))
    for device, site in sorted(enrolled):
        if device not in records:
            state = DeviceState(device, site or "-", "never seen", None)
            lines.append(DeviceLine(state, None))
            current.append(presence_fault(state, silent_after_s))
    current.sort(key=lambda span: (severity_rank(span.severity), span.device, span.id))
    period.sort(key=lambda span: (span.start_ns, span.device, span.id))
    return FaultReport(since_ns, until_ns, tuple(lines), tuple(current), tuple(period), with_period)


def _health_events(storage: CollectorStorage, device: str, since_ns: int, until_ns: int) -> list[HealthRecord]:
    events = storage.events(EventQuery(device=device, type="health", since_ns=since_ns,
                                       until_ns=until_ns, limit=_QUERY_LIMIT))
    return [record for record in map(health_record_of_event, events) if record is not None]


def _unreported_faults(latest: list[HealthRecord], spans: list[FaultSpan], device: str,
                       site: str) -> list[FaultSpan]:
    """Faults the latest health summary lists whose ``fault.raised`` has not arrived yet (no
    span of theirs started by the summary's time), with the severity the summary gives them
    (``unknown`` from a device whose summary gives none)."""
    if not latest:
        return []
    known = {span.id for span in spans if span.start_ns <= latest[0].time_ns + HEALTH_GRACE_NS}
    return [FaultSpan(device=device, site=site, id=fault_id, severity=latest[0].severities.get(fault_id, "unknown"),
                      message="listed active in the device's health summary; its fault.raised "
                              "event has not reached the collector yet",
                      start_ns=latest[0].time_ns)
            for fault_id in sorted(latest[0].faults - known)]


def _offline_faults(state: DeviceState, spans: list[tuple[int, int]], since_ns: int) -> list[FaultSpan]:
    """The device's offline spans that overlap the period, as faults (the last one still open
    when the device is offline now)."""
    faults = []
    for start_ns, end_ns in spans:
        still = state.state == "offline" and start_ns == state.since_ns
        if end_ns > since_ns or still:
            faults.append(FaultSpan(device=state.device, site=state.site, id=f"device.offline:{state.device}",
                                    severity="critical", message="offline", start_ns=start_ns,
                                    end_ns=None if still else end_ns, ended_by=None if still else "online",
                                    origin="collector"))
    return faults


# -- rendering ---------------------------------------------------------------------------------


def percent(fraction: float | None) -> str:
    """An availability as the report prints it: ``97.54 %``, or ``n/a``."""
    return "n/a" if fraction is None else f"{fraction * 100:.2f} %"


def duration(ns: int) -> str:
    """``3 d 04:05:06`` / ``04:05:06``: a span's length, to the second."""
    seconds = max(0, ns) // 1_000_000_000
    days, seconds = divmod(seconds, 86_400)
    clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{days} d {clock}" if days else clock


def when(time_ns: int | None) -> str:
    """A time as the report prints it: UTC to the second, ``-`` when unknown."""
    return "-" if not time_ns else iso_utc(time_ns)[:19].replace("T", " ") + " UTC"


def title(report: FaultReport) -> str:
    """The report's title, also the mail's subject (short enough not to be folded)."""
    critical = sum(span.severity == "critical" for span in report.current)
    return f"roadcam faults {when(report.until_ns)[:16]} UTC: {len(report.current)} active, {critical} critical"


def _fault_row(span: FaultSpan, until_ns: int) -> list[str]:
    end_ns = until_ns if span.end_ns is None else span.end_ns
    return [span.severity, span.device, span.site, span.id, when(span.start_ns),
            "active" if span.end_ns is None else f"{when(span.end_ns)} ({span.ended_by})",
            duration(end_ns - span.start_ns) if span.start_ns else "-", span.message]


def _device_row(line: DeviceLine) -> list[str]:
    figure = line.availability
    return [line.state.device, line.state.site, line.state.state, when(line.state.since_ns),
            percent(None if figure is None else figure.fraction),
            "-" if figure is None else duration(figure.unavailable_ns),
            "-" if figure is None else duration(figure.observed_ns)]


FAULT_COLUMNS = ("severity", "device", "site", "fault", "first seen", "ended", "duration", "message")
DEVICE_COLUMNS = ("device", "site", "state", "since", "availability", "unavailable", "observed")


def _sections(report: FaultReport) -> list[tuple[str, tuple[str, ...], list[list[str]]]]:
    sections = [(f"Faults active at {when(report.until_ns)} ({len(report.current)})", FAULT_COLUMNS,
                 [_fault_row(span, report.until_ns) for span in report.current])]
    if report.with_period:
        sections.append((f"Faults during the period ({len(report.period)})", FAULT_COLUMNS,
                         [_fault_row(span, report.until_ns) for span in report.period]))
    shown = len(DEVICE_COLUMNS) if report.with_period else DEVICE_COLUMNS.index("availability")
    sections.append((f"Devices ({len(report.devices)})", DEVICE_COLUMNS[:shown],
                     [_device_row(line)[:shown] for line in report.devices]))
    return sections


def _summary(report: FaultReport) -> list[str]:
    states: dict[str, int] = {}
    for line in report.devices:
        states[line.state.state] = states.get(line.state.state, 0) + 1
    counts = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    lines = [f"Devices: {len(report.devices)} ({counts or 'none'})"]
    if report.with_period:
        lines.insert(0, f"Period: {when(report.since_ns)} to {when(report.until_ns)} "
                        f"({duration(report.until_ns - report.since_ns)})")
        lines.append(f"Network availability: {percent(report.network_availability)}")
    return lines


def render_text(report: FaultReport) -> str:
    """The report as plain text: a tab-free table per section, each fault's message indented
    under it."""
    out = [title(report), "", *_summary(report)]
    for heading, columns, rows in _sections(report):
        out += ["", heading]
        if not rows:
            out.append("  none")
            continue
        messages = [row.pop() for row in rows] if columns is FAULT_COLUMNS else [None] * len(rows)
        shown = columns[:-1] if columns is FAULT_COLUMNS else columns
        widths = [max(len(str(cell)) for cell in column) for column in zip(shown, *rows)]
        out.append("  " + "  ".join(name.ljust(width) for name, width in zip(shown, widths)).rstrip())
        for row, message in zip(rows, messages):
            out.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
            if message:
                out.append(f"      {message}")
    if report.with_period:
        out += ["", AVAILABILITY_DEFINITION]
    return "\n".join(out) + "\n"


#: The page's style; ids, times and figures are never broken over lines (a device id broken at
#: its hyphen reads as two), only the last column (a fault's message) wraps.
_STYLE = ("body{font-family:sans-serif;font-size:14px;color:#222}"
          "table{border-collapse:collapse;margin:0 0 1.5em}"
          "th,td{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top;white-space:nowrap}"
          "td:last-child{white-space:normal}"
          "th{background:#eee}tr.critical td{background:#fde0e0}tr.major td{background:#fff3d6}")


def render_html(report: FaultReport) -> str:
    """The report as one self-contained HTML page (a table per section)."""
    escape = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{escape(title(report))}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             f"<h1>{escape(title(report))}</h1>"]
    parts += [f"<p>{escape(line)}</p>" for line in _summary(report)]
    for heading, columns, rows in _sections(report):
        parts.append(f"<h2>{escape(heading)}</h2>")
        if not rows:
            parts.append("<p>none</p>")
            continue
        parts.append("<table>")
        parts.append("<tr>" + "".join(f"<th>{escape(name)}</th>" for name in columns) + "</tr>")
        for row in rows:
            css = f' class="{escape(row[0])}"' if columns is FAULT_COLUMNS else ""
            parts.append(f"<tr{css}>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</table>")
    if report.with_period:
        parts.append(f"<p>{escape(AVAILABILITY_DEFINITION)}</p>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
