"""The collector's fault list and each device's availability, worked out from what it stored.

Nothing is asked of a device: everything comes from the collector's storage.

- **Device faults** are spans from the stored ``fault.raised`` / ``fault.cleared`` events (the
  fault's stable id ``code:component``, its severity, message and first-seen time); the cleared
  event's time ends a span.
- **Health records** (the ``health`` events and the retained health summary) list the faults the
  device holds and its uptime. A device's fault board lives in memory, so a fault whose cause
  went away while the device restarted is never cleared: an open span ends at the first health
  record timed more than :data:`HEALTH_GRACE_NS` after its raise that does not list it (at the
  restart the uptime shows, when the record's process started after the raise; at the record's
  time otherwise, until the ``fault.cleared`` still on its way gives the exact end).
- **Collector faults** come from the device's presence: ``device.offline`` (critical) from its
  ``offline`` status, which the broker publishes as the device's last will when its connection
  ends without a goodbye (at once on a closed socket, at most 1.5 keepalives after it went
  silent: 45 s with the uplink's default keepalive of 30 s) and which the uplink sends on a
  clean stop; ``device.silent`` (critical) for a device still connected whose retained health
  summary has not been refreshed for ``silent_after_s``; ``device.never_seen`` (critical) for an
  enrolled device that never reported.

**Availability** of a device over a period is the fraction of the period's *observed* part in
which the device was neither offline nor held an active fault of severity ``critical``. The
observed part starts at the period's start, or when the collector first heard of the device (its
first status or first event received) when that is later: a device installed mid-period is not
blamed for the time before. Offline spans come from the stored status changes (times as the
collector received them); a silent device counts as unavailable from its last health summary to
the period's end; fault spans use the device's own event times. Major and minor faults do not
reduce it: the site still works. An enrolled device never seen has no availability (shown as
``n/a``) and is left out of the network figure, which is the devices' available time over their
observed time, summed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from roadcam.protocol.events import Event, utc_ns

from .storage import DeviceRecord, StatusChange

#: Fault severities, most urgent first (as the device's ``roadcam.appliance.faults.SEVERITIES``),
#: then ``unknown`` for a fault a health summary lists, without its severity, before its
#: ``fault.raised`` arrived.
SEVERITY_ORDER = ("critical", "major", "minor", "unknown")
CRITICAL = "critical"
#: A health record timed this long after a fault was raised lists it if the device still holds
#: it (fault times may be a frame's time, a little behind the health record's clock).
HEALTH_GRACE_NS = 5_000_000_000


@dataclass(frozen=True)
class FaultSpan:
    """One fault of one device, from its first-seen time to its end (None: still active).
    ``origin`` is ``device`` (from its events) or ``collector`` (offline, silent, never seen);
    ``ended_by`` says how it ended: ``cleared``, ``restart`` or ``not held`` (a health record
    no longer lists it)."""

    device: str
    site: str
    id: str
    severity: str
    message: str
    start_ns: int
    end_ns: int | None = None
    ended_by: str | None = None
    origin: str = "device"


@dataclass(frozen=True)
class HealthRecord:
    """What one health record says: when (device time), which fault ids the device holds, its
    uptime (None when not given) and, from a retained summary, each fault's severity."""

    time_ns: int
    faults: frozenset[str]
    uptime_s: float | None
    severities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceState:
    """A device's presence now: ``online``, ``offline``, ``silent``, ``never seen`` or
    ``unknown`` (events but no status yet), and since when (collector time; None if never)."""

    device: str
    site: str
    state: str
    since_ns: int | None


def severity_rank(severity: str) -> int:
    """Sort key: critical first, unknown severities last."""
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def health_record_of_event(event: Event) -> HealthRecord | None:
    """The health record of a stored ``health`` event (None when its data lacks a fault list)."""
    return _health_record(event.data, utc_ns(event.time))


def health_record_of_summary(summary_json: str | None) -> HealthRecord | None:
    """The health record of a retained health summary as stored (None if absent or odd)."""
    if summary_json is None:
        return None
    try:
        summary = json.loads(summary_json)
        latest = summary.get("health")
        merged = {**(latest if isinstance(latest, dict) else {}), "faults": summary.get("faults")}
        record = _health_record(merged, utc_ns(summary["time"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    severities = summary.get("severities")
    if record is None or not isinstance(severities, dict):
        return record
    return replace(record, severities={fault_id: severity for fault_id, severity in severities.items()
                                       if fault_id in record.faults and severity in SEVERITY_ORDER})


def _health_record(data: dict, time_ns: int) -> HealthRecord | None:
    faults = data.get("faults")
    if not isinstance(faults, list) or not all(isinstance(fault, str) for fault in faults):
        return None
    uptime = data.get("uptime_s")
    return HealthRecord(time_ns, frozenset(faults),
                        float(uptime) if isinstance(uptime, int | float) and not isinstance(uptime, bool) else None)


def fault_spans(fault_events: Iterable[Event], health: Sequence[HealthRecord] = ()) -> list[FaultSpan]:
    """One device's fault spans from its ``fault.raised`` / ``fault.cleared`` events (any order)
    and its health records (see the module docstring), by start."""
    stream: list[tuple[int, int, int, Event | HealthRecord]] = []
    for event in fault_events:
        stream.append((utc_ns(event.time), 0, event.seq, event))
    for record in health:
        stream.append((record.time_ns, 1, 0, record))
    stream.sort(key=lambda item: item[:3])
    open_spans: dict[str, FaultSpan] = {}
    done: list[FaultSpan] = []
    for time_ns, _, _, item in stream:
        if isinstance(item, HealthRecord):
            for fault_id, span in list(open_spans.items()):
                if fault_id not in item.faults and time_ns > span.start_ns + HEALTH_GRACE_NS:
                    done.append(_ended_by_health(span, item))
                    del open_spans[fault_id]
            continue
        fault_id = str(item.data.get("id") or f"{item.data.get('code')}:{item.data.get('component')}")
        if item.type == "fault.raised" and fault_id not in open_spans:
            open_spans[fault_id] = FaultSpan(
                device=item.device, site=item.site, id=fault_id,
                severity=str(item.data.get("severity", "unknown")),
                message=str(item.data.get("message", "")), start_ns=time_ns)
        elif item.type == "fault.cleared":
            span = open_spans.pop(fault_id, None)
            if span is None:  # raised before anything stored: its first-seen time starts it
                span = FaultSpan(device=item.device, site=item.site, id=fault_id,
                                 severity=str(item.data.get("severity", "unknown")), message="",
                                 start_ns=_first_seen(item, time_ns))
            done.append(replace(span, end_ns=max(time_ns, span.start_ns), ended_by="cleared"))
    return sorted(done + list(open_spans.values()), key=lambda span: (span.start_ns, span.id))


def _ended_by_health(span: FaultSpan, record: HealthRecord) -> FaultSpan:
    """``span`` ended because ``record`` no longer lists it: at the restart when the record's
    process started after the raise, else at the record's time."""
    if record.uptime_s is not None:
        started_ns = record.time_ns - int(record.uptime_s * 1e9)
        if started_ns > span.start_ns:
            return replace(span, end_ns=started_ns, ended_by="restart")
    return replace(span, end_ns=record.time_ns, ended_by="not held")


def _first_seen(event: Event, default_ns: int) -> int:
    try:
        return min(utc_ns(str(event.data["first_seen"])), default_ns)
    except (KeyError, ValueError):
        return default_ns


def device_state(record: DeviceRecord, changes: Sequence[StatusChange], until_ns: int,
                 silent_after_s: float) -> DeviceState:
    """A stored device's presence at ``until_ns``: offline by its last status change up to then
    (or its stored status when no change is logged), silent when the last health summary or
    status heard (at or before ``until_ns``) is older than ``silent_after_s``."""
    past = [change for change in changes if change.received_ns <= until_ns]
    if past:
        offline = not past[-1].online
        since_ns: int | None = past[-1].received_ns
    else:
        offline = record.online is False and (record.status_ns or 0) <= until_ns
        since_ns = record.status_ns
    if offline:
        return DeviceState(record.device, record.site, "offline", since_ns)
    heard_ns = max(filter(None, (record.health_ns, record.status_ns)), default=None)
    if heard_ns is None:
        return DeviceState(record.device, record.site, "unknown", None)
    if until_ns - heard_ns > silent_after_s * 1e9:
        return DeviceState(record.device, record.site, "silent", heard_ns)
    return DeviceState(record.device, record.site, "online", since_ns)


def presence_fault(state: DeviceState, silent_after_s: float) -> FaultSpan | None:
    """The collector's own fault for a device that is offline, silent or never seen."""
    messages = {
        "offline": "offline: its connection ended (last will) or it stopped; check power, the "
                   "network link and the roadcam service on the device",
        "silent": f"connected but no health summary for over {silent_after_s:.0f} s; the device "
                  "may hang: check the roadcam service and its journal",
        "never seen": "enrolled but never reported: check that it is installed, powered and "
                      "provisioned with this collector's broker",
    }
    if state.state not in messages:
        return None
    code = state.state.replace(" ", "_")
    return FaultSpan(device=state.device, site=state.site, id=f"device.{code}:{state.device}",
                     severity=CRITICAL, message=messages[state.state],
                     start_ns=state.since_ns or 0, origin="collector")


def offline_spans(changes: Sequence[StatusChange], until_ns: int) -> list[tuple[int, int]]:
    """The (start, end) spans a device was offline by its status changes (oldest first)."""
    spans, offline_from = [], None
    for change in changes:
        if not change.online and offline_from is None:
            offline_from = change.received_ns
        elif change.online and offline_from is not None:
            spans.append((offline_from, change.received_ns))
            offline_from = None
    if offline_from is not None:
        spans.append((offline_from, until_ns))
    return spans


def covered_ns(spans: Iterable[tuple[int, int]], start_ns: int, end_ns: int) -> int:
    """Nanoseconds of [start_ns, end_ns) inside the union of ``spans``."""
    clipped = sorted((max(start, start_ns), min(end, end_ns)) for start, end in spans)
    total, reach = 0, start_ns
    for start, end in clipped:
        if end <= reach:
            continue
        start = max(start, reach)
        total += end - start
        reach = end
    return total


@dataclass(frozen=True)
class Availability:
    """A device's availability over a period: ``observed_ns`` of it were observed (see the
    module docstring), ``unavailable_ns`` of those offline or under a critical fault."""

    observed_ns: int
    unavailable_ns: int

    @property
    def fraction(self) -> float | None:
        """Available share of the observed time; None when nothing was observed."""
        if self.observed_ns <= 0:
            return None
        return (self.observed_ns - self.unavailable_ns) / self.observed_ns


def availability(spans: Sequence[FaultSpan], changes: Sequence[StatusChange], state: DeviceState,
                 since_ns: int, until_ns: int, first_heard_ns: int | None) -> Availability:
    """One device's availability over [since_ns, until_ns) (see the module docstring);
    ``first_heard_ns``: when the collector first heard of it (None: not on record)."""
    start_ns = since_ns if first_heard_ns is None else max(since_ns, first_heard_ns)
    if start_ns >= until_ns:
        return Availability(0, 0)
    down = [(span.start_ns, until_ns if span.end_ns is None else span.end_ns)
            for span in spans if span.severity == CRITICAL]
    down += offline_spans(changes, until_ns)
    if state.state == "silent" and state.since_ns is not None:
        down.append((state.since_ns, until_ns))
    return Availability(until_ns - start_ns, covered_ns(down, start_ns, until_ns))
