"""Average speed over a road section: the collector pairs the ``speed.passage`` events of one
plate at a section's entry and exit sites and records a ``speed.section`` result.

A section is configured in the collector (``sections:``): its two sites, the measured length
between them with its tolerance, the limit, the enforcement tolerance and the vehicle classes
the limit is for. The average speed is length over transit time; its bounds take the worst of
both: the length's tolerance, and each passage's time error bound (the device clock's error
bound, from its NTP discipline, plus the passage's own timing uncertainty). A violation is
issued only when the lower bound exceeds limit plus tolerance, both passages come from clocks
synced within ``max_clock_error_ms`` (and their devices did not mark them otherwise, nor the
collector's check of their clocks against its receive time, :mod:`roadcam.collector.clock_check`,
find them false), and the vehicle is of a class the limit is for.

Pairing, per section and plate (reads that differ only by reader confusions share a key,
:func:`roadcam.protocol.plates.confusion_key`, and must be within ``max_plate_distance``; the
distance is the hotlist's, :func:`roadcam.protocol.plates.plate_distance`):

- an exit is decided ``hold_s`` after its time (passages may arrive out of order and late by up
  to that much): it pairs with the latest unpaired entry before it that is not implausibly fast;
  a vehicle that passes twice pairs entry 1 with exit 1 and entry 2 with exit 2;
- an exit with no such entry is recorded as ``exit_unmatched``;
- an entry never paired is recorded as ``entry_expired`` after ``expire_s`` (never a violation);
- a passage stored twice (same event id) is handled once;
- **one character dropped or extra** (a reader often loses one, ``pair_dropped_character``): an
  exit with no entry of its own key pairs with an entry whose key is its key with one character
  removed or added (and within ``max_plate_distance`` + 1 of it), but only when nothing says the
  two reads are two real plates. The rule: no entry of the exit's own key is held (the exit's
  plate was seen at the entry: it is a plate of its own); the entry's key has no exit waiting to
  be decided (the entry's plate was seen at the exit too); and exactly one key is that near (two
  candidates: which one is unknown). "Held" is the section's window: entries up to ``expire_s``
  old, exits up to ``hold_s``. Such a pair is marked ``plate_match: one_character`` in its result,
  beside ``same`` and ``confusions``; it may be a violation, with both reads' evidence to check.

Time advances with the passages themselves (a watermark: the latest passage time of any
section's site from a clock synced within its bound, moved on by the collector's own clock while
none arrive), so a device's backlog sent hours late is matched as if it had arrived on time, a
site whose clock is out of its bound is decided by the others' time, and one device's fast
clock cannot decide another's exits early unless it claims to be synced.

Decisions are final and stored (:meth:`SectionStorage.store_sections`) with the ids of the
passages they used; a collector restart rebuilds the open state from the stored passages and
results (:meth:`SectionService.rebuild`).
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roadcam.protocol.events import Event, iso_utc, utc_ns
from roadcam.protocol.hotlist import compact
from roadcam.protocol.plates import confusion_key, plate_distance

from .clock_check import ClockCheck, ClockCheckSettings

PASSAGE = "speed.passage"
SECTION = "speed.section"
#: Result kinds.
MATCHED, EXIT_UNMATCHED, ENTRY_EXPIRED = "matched", "exit_unmatched", "entry_expired"


class SectionSettings(BaseModel):
    """One enforced section between two sites."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", title="Name", description="Unique section name.")
    entry_site: str = Field(min_length=1, title="Entry site", description="Site id of the entry passages.")
    exit_site: str = Field(min_length=1, title="Exit site", description="Site id of the exit passages.")
    entry_point: str | None = Field(None, title="Entry point",
                                    description="The entry site's passage point (its speed.passage `point`); "
                                                "left out, any.")
    exit_point: str | None = Field(None, title="Exit point",
                                   description="The exit site's passage point; left out, any.")
    length_m: float = Field(gt=0, title="Length (m)",
                            description="Measured distance between the two sites' passage points along the road.")
    length_tolerance_m: float = Field(ge=0, title="Length tolerance (m)",
                                      description="Bound of the length measurement's error (±).")
    limit_kmh: float = Field(gt=0, title="Limit (km/h)", description="Speed limit over the section.")
    tolerance_kmh: float = Field(0.0, ge=0, title="Tolerance (km/h)",
                                 description="A violation only when the lower speed bound exceeds limit + this.")
    classes: list[str] = Field(default_factory=list, title="Vehicle classes",
                               description="Classes the limit is for (car, scooter, truck, bus); empty, all. "
                                           "Other classes are paired and their speed recorded, never a violation.")
    max_plate_distance: float = Field(0.5, ge=0, le=1, title="Plate distance",
                                      description="Entry and exit reads pair within this distance, reader "
                                                  "confusions only (0.25 each: 0.5 is two confusions).")
    pair_dropped_character: bool = Field(True, title="Pair a dropped character",
                                         description="An exit and an entry whose reads differ by one character "
                                                     "dropped or extra (plus confusions) pair when no other "
                                                     "read in the window makes them two plates.")
    hold_s: float = Field(120.0, gt=0, title="Hold (s)",
                          description="An exit is decided this long after its time: how late and out of "
                                      "order passages may arrive and still be paired.")
    expire_s: float = Field(3600.0, gt=0, title="Expiry (s)",
                            description="An entry with no exit after this is recorded as expired.")
    max_clock_error_ms: float = Field(10.0, gt=0, title="Clock error bound (ms)",
                                      description="A passage whose clock error bound is above this (or unsynced) "
                                                  "is paired, never made a violation.")
    max_speed_kmh: float = Field(300.0, gt=0, title="Fastest plausible (km/h)",
                                 description="An entry that would give more than this is not the exit's "
                                             "vehicle (another vehicle with a look-alike plate).")

    @model_validator(mode="after")
    def _two_points(self) -> SectionSettings:
        if (self.entry_site, self.entry_point) == (self.exit_site, self.exit_point):
            raise ValueError(f"section {self.name}: entry and exit are the same site and point")
        if self.length_tolerance_m >= self.length_m:
            raise ValueError(f"section {self.name}: length_tolerance_m must be below length_m")
        return self


@dataclass(frozen=True)
class Passage:
    """One vehicle past one site's passage point, as the collector reads its event."""

    id: str
    device: str
    site: str
    point: str | None
    time_ns: int
    plate: str  # compacted (letters and digits, upper case)
    lane: int | None
    kind: str | None
    synced: bool  # the clock was synced, and the device did not mark it out of its bound
    clock_error_ns: int | None  # the clock's error bound (None: unsynced)
    error_ns: int  # bound of the passage time's error: clock error bound + timing uncertainty
    evidence: tuple[str, ...]
    clock_false: str | None = None  # why the collector found the device's clock claim false


def passage_from_event(event: Event) -> Passage | None:
    """The passage an event reports, or None when it is not a passage with a plate (a passage
    without a plate is kept as an event, never paired)."""
    if event.type != PASSAGE:
        return None
    data = event.data
    plate = data.get("plate")
    if not isinstance(plate, str) or not compact(plate):
        return None
    error_ms = event.clock.get("error_ms")
    synced = event.clock.get("synced") is True and isinstance(error_ms, int | float) and math.isfinite(error_ms)
    clock_error_ns = round(float(error_ms) * 1e6) if synced else None
    synced = synced and data.get("clock_within_bound") is not False
    timing_ms = data.get("time_uncertainty_ms", 0.0)
    if not isinstance(timing_ms, int | float) or not math.isfinite(timing_ms) or timing_ms < 0:
        return None
    lane, kind, point = data.get("lane"), data.get("vehicle_kind"), data.get("point")
    return Passage(
        id=event.id, device=event.device, site=event.site, point=point if isinstance(point, str) else None,
        time_ns=utc_ns(event.time), plate=compact(plate), lane=lane if isinstance(lane, int) else None,
        kind=kind if isinstance(kind, str) else None, synced=synced, clock_error_ns=clock_error_ns,
        error_ns=(clock_error_ns or 0) + round(float(timing_ms) * 1e6),
        evidence=tuple(ref.sha256 for ref in event.evidence) + _plate_evidence(data))


def _plate_evidence(data: dict[str, Any]) -> tuple[str, ...]:
    """The evidence files of the plate read a passage names (the device's plate.read event)."""
    files = data.get("plate_evidence")
    return tuple(f for f in files if isinstance(f, str)) if isinstance(files, list) else ()


@dataclass(frozen=True)
class SectionResult:
    """A decision: a pair (``matched``), an exit with no entry, or an entry that expired."""

    id: str  # "section/event id": the exit's (matched, exit_unmatched) or the entry's (entry_expired);
    # a site may end (or start) two sections, so one passage may be decided in each
    section: str
    kind: str
    plate: str
    time_ns: int
    violation: bool
    entry_id: str | None
    exit_id: str | None
    data: dict[str, Any]

    def event(self) -> dict[str, Any]:
        """The ``speed.section`` event as listed and exported."""
        return {"type": SECTION, "id": self.id, "section": self.section, "result": self.kind, "plate": self.plate,
                "time": iso_utc(self.time_ns), "violation": self.violation, **self.data}


class _Open:
    """What one section holds undecided."""

    def __init__(self, shortened: bool) -> None:
        self.entries: dict[str, list[tuple[int, str, Passage]]] = {}  # confusion key -> by time
        self.exits: list[tuple[int, str, Passage]] = []  # heap by time
        self.expiries: list[tuple[int, str, str]] = []  # heap of (entry time, id, key)
        self.exit_keys: dict[str, int] = {}  # confusion key -> exits waiting
        # with ``shortened``: each entry key with one character removed -> the entry keys it comes from
        self.shortened: dict[str, set[str]] | None = {} if shortened else None

    def add_entry(self, key: str, entry: tuple[int, str, Passage]) -> None:
        held = self.entries.get(key)
        if held is None:
            held = self.entries[key] = []
            if self.shortened is not None:
                for short in _one_removed(key):
                    self.shortened.setdefault(short, set()).add(key)
        bisect.insort(held, entry, key=lambda e: (e[0], e[1]))

    def remove_entry(self, key: str, index: int) -> Passage:
        entries = self.entries[key]
        _, _, entry = entries.pop(index)
        if not entries:
            del self.entries[key]
            if self.shortened is not None:
                for short in _one_removed(key):
                    keys = self.shortened[short]
                    keys.discard(key)
                    if not keys:
                        del self.shortened[short]
        return entry

    def near_keys(self, key: str) -> set[str]:
        """Entry keys one character shorter or longer than ``key`` (none unless ``shortened``)."""
        if self.shortened is None:
            return set()
        return {short for short in _one_removed(key) if short in self.entries} | self.shortened.get(key, set())


def _one_removed(key: str) -> set[str]:
    return {key[:i] + key[i + 1:] for i in range(len(key))}


@dataclass
class SectionMatcher:
    """Pairing for every configured section, in memory; feed it with :meth:`add` and collect
    decisions with :meth:`settle`."""

    sections: Sequence[SectionSettings]
    seen: dict[str, int] = field(default_factory=dict)  # passage id -> time, for duplicates
    _seen_order: list[tuple[int, str]] = field(default_factory=list)  # heap, to forget old ids
    counts: dict[str, int] = field(default_factory=lambda: {"passages": 0, "duplicates": 0, "outside": 0,
                                                            "late": 0, MATCHED: 0, EXIT_UNMATCHED: 0,
                                                            ENTRY_EXPIRED: 0, "violations": 0})

    def __post_init__(self) -> None:
        self._open = {section.name: _Open(section.pair_dropped_character) for section in self.sections}
        self.watermark_ns: int | None = None
        self.watermark_set_at_ns = 0  # the collector's clock when the watermark last moved
        self._forget_after_ns = int(max((s.expire_s + 2 * s.hold_s for s in self.sections), default=0) * 1e9)

    def add(self, passage: Passage, wall_ns: int) -> None:
        """Take one passage (any order, duplicates allowed); ``wall_ns`` is the collector's clock."""
        if passage.id in self.seen:
            self.counts["duplicates"] += 1
            return
        self.seen[passage.id] = passage.time_ns
        heapq.heappush(self._seen_order, (passage.time_ns, passage.id))
        self.counts["passages"] += 1
        roles = [(section, role) for section in self.sections if (role := _role(section, passage))]
        if not roles:
            self.counts["outside"] += 1
            return
        trusted = passage.synced and passage.clock_error_ns is not None and \
            passage.clock_error_ns <= min(section.max_clock_error_ms for section, _ in roles) * 1e6
        if trusted and (self.watermark_ns is None or passage.time_ns > self.watermark_ns):
            self.watermark_ns, self.watermark_set_at_ns = passage.time_ns, wall_ns
        now = self.now(wall_ns)
        for section, role in roles:
            held = self._open[section.name]
            if now is not None and passage.time_ns + section.hold_s * 1e9 < now:
                self.counts["late"] += 1  # later than the hold: still paired, at the next settle
            entry = (passage.time_ns, passage.id, passage)
            key = confusion_key(passage.plate)
            if role == "entry":
                held.add_entry(key, entry)
                heapq.heappush(held.expiries, (passage.time_ns, passage.id, key))
            else:
                heapq.heappush(held.exits, entry)
                held.exit_keys[key] = held.exit_keys.get(key, 0) + 1

    def now(self, wall_ns: int) -> int | None:
        """Event time now: the latest trusted passage, plus the collector's time since it came."""
        if self.watermark_ns is None:
            return None
        return self.watermark_ns + max(0, wall_ns - self.watermark_set_at_ns)

    def settle(self, wall_ns: int) -> list[SectionResult]:
        """Every decision due by now: exits ``hold_s`` past, entries ``expire_s`` + ``hold_s``
        past with no exit."""
        results = []
        now = self.now(wall_ns)
        for section in self.sections:
            if now is None:
                break
            held = self._open[section.name]
            hold_ns = int(section.hold_s * 1e9)
            while held.exits and held.exits[0][0] + hold_ns <= now:
                _, _, exit_passage = heapq.heappop(held.exits)
                key = confusion_key(exit_passage.plate)
                held.exit_keys[key] -= 1
                if not held.exit_keys[key]:
                    del held.exit_keys[key]
                results.append(self._decide_exit(section, held, exit_passage))
            expire_ns = int(section.expire_s * 1e9) + hold_ns
            while held.expiries and held.expiries[0][0] + expire_ns <= now:
                entry_ns, entry_id, key = heapq.heappop(held.expiries)
                entries = held.entries.get(key, [])
                index = bisect.bisect_left(entries, (entry_ns, entry_id), key=lambda e: (e[0], e[1]))
                if index < len(entries) and entries[index][1] == entry_id:
                    results.append(_expired(section, held.remove_entry(key, index)))
        self._forget(wall_ns)
        for result in results:
            self.counts[result.kind] += 1
            self.counts["violations"] += result.violation
        return results

    def open_counts(self) -> dict[str, int]:
        """Undecided entries and exits, over all sections."""
        return {"entries": sum(len(v) for held in self._open.values() for v in held.entries.values()),
                "exits": sum(len(held.exits) for held in self._open.values())}

    def _decide_exit(self, section: SectionSettings, held: _Open, exit_passage: Passage) -> SectionResult:
        key = confusion_key(exit_passage.plate)
        found = _latest_entry(section, held, key, exit_passage, section.max_plate_distance)
        if found is not None:
            return _matched(section, held.remove_entry(key, found), exit_passage)
        if section.pair_dropped_character and key not in held.entries:
            near = [(near_key, at) for near_key in held.near_keys(key) if near_key not in held.exit_keys
                    if (at := _latest_entry(section, held, near_key, exit_passage,
                                            section.max_plate_distance + 1)) is not None]
            if len(near) == 1:
                return _matched(section, held.remove_entry(*near[0]), exit_passage)
        return _unmatched_exit(section, exit_passage)

    def _forget(self, wall_ns: int) -> None:
        """Drop the duplicate check for passages far older than any open decision."""
        if not self._seen_order:
            return
        newest = self.now(wall_ns) or 0
        while self._seen_order and self._seen_order[0][0] < newest - self._forget_after_ns:
            _, passage_id = heapq.heappop(self._seen_order)
            self.seen.pop(passage_id, None)


def _latest_entry(section: SectionSettings, held: _Open, key: str, exit_passage: Passage,
                  max_distance: float) -> int | None:
    """Index in ``held.entries[key]`` of the latest entry before the exit that is not implausibly
    fast and within ``max_distance`` of its read."""
    entries = held.entries.get(key, [])
    fastest_ns = section.length_m / (section.max_speed_kmh / 3.6) * 1e9
    index = bisect.bisect_left(entries, (exit_passage.time_ns, ""), key=lambda e: (e[0], e[1]))
    for at in range(index - 1, -1, -1):
        entry = entries[at][2]
        if (exit_passage.time_ns - entry.time_ns >= fastest_ns
                and plate_distance(entry.plate, exit_passage.plate) <= max_distance):
            return at
    return None


def _role(section: SectionSettings, passage: Passage) -> str | None:
    if passage.site == section.entry_site and section.entry_point in (None, passage.point):
        return "entry"
    if passage.site == section.exit_site and section.exit_point in (None, passage.point):
        return "exit"
    return None


def _passage_record(passage: Passage) -> dict[str, Any]:
    return {"id": passage.id, "device": passage.device, "site": passage.site, "point": passage.point,
            "time": iso_utc(passage.time_ns), "plate": passage.plate, "lane": passage.lane,
            "vehicle_kind": passage.kind, "clock_synced": passage.synced, "clock_false": passage.clock_false,
            "time_error_ms": round(passage.error_ns / 1e6, 3), "evidence": list(passage.evidence)}


def _length(section: SectionSettings) -> dict[str, Any]:
    return {"length_m": section.length_m, "length_tolerance_m": section.length_tolerance_m,
            "limit_kmh": section.limit_kmh, "tolerance_kmh": section.tolerance_kmh}


def _matched(section: SectionSettings, entry: Passage, exit_passage: Passage) -> SectionResult:
    transit_s = (exit_passage.time_ns - entry.time_ns) / 1e9
    error_s = (entry.error_ns + exit_passage.error_ns) / 1e9
    speed = section.length_m / transit_s * 3.6
    low = (section.length_m - section.length_tolerance_m) / (transit_s + error_s) * 3.6
    high = (section.length_m + section.length_tolerance_m) / (transit_s - error_s) * 3.6 \
        if transit_s > error_s else math.inf
    synced = entry.synced and exit_passage.synced
    max_ns = section.max_clock_error_ms * 1e6
    within = synced and all(p.clock_error_ns is not None and p.clock_error_ns <= max_ns for p in (entry, exit_passage))
    kind = exit_passage.kind or entry.kind
    limited = not section.classes or kind in section.classes
    violation = within and limited and low > section.limit_kmh + section.tolerance_kmh
    reasons = [] if within else ["clock_false" if entry.clock_false or exit_passage.clock_false
                                 else "clock_unsynced" if not synced else "clock_error_over_max"]
    if not limited:
        reasons.append("class_not_limited")
    return SectionResult(
        id=f"{section.name}/{exit_passage.id}", section=section.name, kind=MATCHED, plate=exit_passage.plate,
        time_ns=exit_passage.time_ns, violation=violation, entry_id=entry.id, exit_id=exit_passage.id,
        data={**_length(section), "speed_kmh": round(speed, 3), "speed_low_kmh": round(low, 3),
              "speed_high_kmh": round(high, 3) if math.isfinite(high) else None,
              "transit_s": round(transit_s, 6), "time_error_s": round(error_s, 6), "clock_synced": synced,
              "plate_match": _plate_match(entry.plate, exit_passage.plate),
              "vehicle_kind": kind, "no_violation_because": reasons,
              "entry": _passage_record(entry), "exit": _passage_record(exit_passage)})


def _plate_match(entry: str, exit_plate: str) -> str:
    """How the pair's reads compare: ``same``, ``confusions`` (same key) or ``one_character``."""
    if entry == exit_plate:
        return "same"
    return "confusions" if confusion_key(entry) == confusion_key(exit_plate) else "one_character"


def _unmatched_exit(section: SectionSettings, exit_passage: Passage) -> SectionResult:
    return SectionResult(id=f"{section.name}/{exit_passage.id}", section=section.name, kind=EXIT_UNMATCHED,
                         plate=exit_passage.plate, time_ns=exit_passage.time_ns, violation=False, entry_id=None,
                         exit_id=exit_passage.id,
                         data={**_length(section), "exit": _passage_record(exit_passage)})


def _expired(section: SectionSettings, entry: Passage) -> SectionResult:
    return SectionResult(id=f"{section.name}/{entry.id}", section=section.name, kind=ENTRY_EXPIRED, plate=entry.plate,
                         time_ns=entry.time_ns, violation=False, entry_id=entry.id, exit_id=None,
                         data={**_length(section), "expire_s": section.expire_s, "entry": _passage_record(entry)})


class SectionStorage(Protocol):
    """What section matching needs of the collector's database."""

    def events(self, query: Any) -> list[Event]: ...

    def store_sections(self, results: Sequence[SectionResult], recorded_ns: int) -> None: ...

    def section_results(self, since_ns: int | None = None, until_ns: int | None = None,
                        section: str | None = None, limit: int = 1000,
                        newest_first: bool = False) -> list[SectionResult]: ...

    def record_problem(self, device: str, seq: int, kind: str, detail: str, recorded_ns: int) -> None: ...

    def receipts(self, event_type: str, since_ns: int | None) -> dict[str, int]: ...


class SectionService:
    """Section matching inside the collector: follows the stored events (:meth:`follow`, called
    by the writer after each committed batch and when idle) and stores each decision.

    With ``clock_check``, every followed event's time is checked against ``clock_ns`` (its
    receipt): a device found with a false clock claim has its passages marked (paired, never a
    violation) and a ``clock_false`` problem recorded at the start of each spell. :meth:`rebuild`
    checks the passages it reads back again, at their stored receipt times, so a restart does
    not trust a false clock's open passages (their problem is not recorded twice)."""

    def __init__(self, sections: Sequence[SectionSettings], storage: SectionStorage,
                 clock_ns=time.time_ns, clock_check: ClockCheckSettings | None = None):
        self.sections = list(sections)
        self.storage = storage
        self.clock_ns = clock_ns
        self.matcher = SectionMatcher(self.sections)
        self.clock_check = ClockCheck(clock_check) if clock_check is not None and clock_check.enabled else None

    def rebuild(self, now_ns: int | None = None) -> None:
        """The open state after a restart: the stored passages not used by a stored decision,
        from one expiry + hold before the newest decision (nothing older can still be open)."""
        from .storage import EventQuery

        if not self.sections:
            return
        horizon = int(max(s.expire_s + 2 * s.hold_s for s in self.sections) * 1e9)
        newest = self.storage.section_results(limit=1, newest_first=True)
        since = newest[0].time_ns - horizon if newest else None
        used: set[str] = set()
        for result in self.storage.section_results(since_ns=None if since is None else since - horizon,
                                                   limit=10**9):
            used.update(filter(None, (result.entry_id, result.exit_id)))
        wall = self.clock_ns() if now_ns is None else now_ns
        events = self.storage.events(EventQuery(type=PASSAGE, since_ns=since, limit=10**9))
        receipts = self.storage.receipts(PASSAGE, since) if self.clock_check is not None else {}
        for event in sorted(events, key=lambda e: receipts.get(e.id, 0)):
            passage = self._passage(event, receipts.get(event.id), record=False)
            if passage is not None and passage.id not in used:
                self.matcher.add(passage, wall)

    def follow(self, events: Iterable[Event]) -> list[SectionResult]:
        """Take newly stored events, decide what is due and store the decisions."""
        wall = self.clock_ns()
        for event in events:
            passage = self._passage(event, wall, record=True)
            if passage is not None:
                self.matcher.add(passage, wall)
        results = self.matcher.settle(wall)
        if results:
            self.storage.store_sections(results, wall)
        return results

    def _passage(self, event: Event, received_ns: int | None, record: bool) -> Passage | None:
        """The passage of an event, marked when the clock check finds its device's clock false
        (with ``record``, the problem recorded at the start of a spell)."""
        finding = None
        if self.clock_check is not None and received_ns is not None:
            finding = self.clock_check.observe(event, received_ns)
            if finding is not None and finding.new and record:
                self.storage.record_problem(event.device, event.seq, "clock_false",
                                            f"{event.type} {event.id}: {finding.reason}", received_ns)
        passage = passage_from_event(event)
        if passage is not None and finding is not None:
            passage = replace(passage, synced=False, clock_false=finding.reason)
        return passage


def result_from_row(row: Sequence[Any]) -> SectionResult:
    """A stored decision: (id, section, kind, plate, time_ns, violation, entry_id, exit_id, data)."""
    return SectionResult(id=row[0], section=row[1], kind=row[2], plate=row[3], time_ns=row[4],
                         violation=bool(row[5]), entry_id=row[6], exit_id=row[7], data=json.loads(row[8]))
