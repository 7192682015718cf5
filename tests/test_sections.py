"""Section speed matching in the collector (issue 25 item 3): pairing entry and exit passages by
plate, with reader confusions, out-of-order and duplicate arrivals, exits without entries,
entries that expire, vehicles passing twice, unsynced clocks, and the speed bounds; decisions
kept in the collector's database (SQLite and PostgreSQL) and rebuilt after a restart."""

from __future__ import annotations

import itertools
import random

import pytest

from roadcam.collector.ingest import VerifiedEvent
from roadcam.collector.postgres_storage import PostgresStorage
from roadcam.collector.section_storage import SectionTable
from roadcam.collector.sections import SectionService, SectionSettings
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.common.errors import ConfigError
from roadcam.protocol.events import Event, iso_utc, utc_ns

T0 = 1_790_000_000 * 10**9
S = 10**9
LENGTH_M = 6000.0
_ids = itertools.count(1)


def section(**overrides) -> SectionSettings:
    return SectionSettings.model_validate({
        "name": "tn-suburban", "entry_site": "site-a", "exit_site": "site-b", "length_m": LENGTH_M,
        "length_tolerance_m": 1.0, "limit_kmh": 50, "tolerance_kmh": 3, "hold_s": 60, "expire_s": 1800,
        **overrides})


def passage(site: str, at_ns: int, plate: str | None, *, kind="car", synced=True, error_ms=1.0,
            timing_ms=0.5, event_id=None) -> Event:
    n = next(_ids)
    return Event(id=event_id or f"0190-{n:08d}", device=f"dev-{site}", site=site, type="speed.passage",
                 time=iso_utc(at_ns), seq=n, clock={"synced": synced, "error_ms": error_ms if synced else None},
                 data={"point": "p1", "plate": plate, "lane": 1, "vehicle_kind": kind,
                       "time_uncertainty_ms": timing_ms})


class Collecting:
    """A section service as the collector drives it: each batch of events is stored first (as
    the collector's writer does), then followed."""

    def __init__(self, service: SectionService, storage: SQLiteStorage):
        self.service, self.events = service, storage
        self.storage, self.matcher = service.storage, service.matcher

    def follow(self, events):
        self.events.store([VerifiedEvent(e, e.digest(), utc_ns(e.time), None) for e in events], T0)
        return self.service.follow(events)

    def rebuild(self):
        self.service.rebuild()


class Clock:
    """The collector's clock in a test: moves only when told."""

    def __init__(self):
        self.now = 10**18

    def __call__(self):
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def service(request, tmp_path):
    """A section service on the collector's SQLite or PostgreSQL storage, as serve builds it."""
    if request.param == "sqlite":
        storage = SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence")
    else:
        url = request.getfixturevalue("postgres_url")
        storage = PostgresStorage(url, tmp_path / "evidence")
    clock = Clock()

    def make(*sections):
        return Collecting(SectionService(sections or [section()], SectionTable(storage), clock_ns=clock), storage)

    yield make
    storage.close()


def at_kmh(kmh: float) -> int:
    """Transit time of the section at ``kmh``, in ns."""
    return round(LENGTH_M / (kmh / 3.6) * S)


def test_a_pair_gives_the_average_speed_with_bounds_and_a_violation_only_above_limit_plus_tolerance(service):
    matcher = service()
    events = [passage("site-a", T0, "ABC-1234"), passage("site-b", T0 + at_kmh(60), "ABC-1234"),
              passage("site-a", T0 + 5 * S, "KLM-2786"), passage("site-b", T0 + 5 * S + at_kmh(53.005), "KLM-2786"),
              passage("site-a", T0 + 9 * S, "XYZ-0001"), passage("site-b", T0 + 9 * S + at_kmh(40), "XYZ-0001")]
    # an exit is decided once passages 60 s (the hold) later have come: the last exit decides
    # the first two, the next passage the last one
    early = matcher.follow(events)
    assert {r.plate for r in early} == {"ABC1234", "KLM2786"}
    results = early + matcher.follow([passage("site-a", T0 + at_kmh(40) + 100 * S, "OTHER-1")])
    by_plate = {r.plate: r for r in results}
    assert set(by_plate) == {"ABC1234", "KLM2786", "XYZ0001"}
    fast = by_plate["ABC1234"].event()
    assert fast["speed_kmh"] == pytest.approx(60, abs=1e-3) and fast["violation"] is True
    assert fast["length_m"] == LENGTH_M and fast["length_tolerance_m"] == 1.0
    assert fast["speed_low_kmh"] < 60 < fast["speed_high_kmh"]
    assert fast["entry"]["plate"] == "ABC1234" and fast["exit"]["site"] == "site-b"
    # 53.005 km/h: above 50 + 3, but its lower bound (length - 1 m, time + 3 ms) is not
    near = by_plate["KLM2786"]
    assert near.data["speed_kmh"] > 53 and near.data["speed_low_kmh"] < 53 and near.violation is False
    assert by_plate["XYZ0001"].violation is False
    stored = matcher.storage.section_results()
    assert [r.id for r in stored] == [r.id for r in sorted(results, key=lambda r: (r.time_ns, r.id))]


def test_reader_confusions_pair_but_other_misreads_do_not(service):
    matcher = service()
    matcher.follow([passage("site-a", T0, "ABC-1234"), passage("site-b", T0 + at_kmh(70), "A8C-I234"),
                    passage("site-a", T0 + S, "KLM-2786"), passage("site-b", T0 + S + at_kmh(70), "KLN-2786")])
    results = matcher.follow([passage("site-a", T0 + 3600 * S, "LATER-1")])
    kinds = {(r.plate, r.kind) for r in results}
    assert ("A8CI234", "matched") in kinds  # B/8 and 1/I: two confusions
    assert ("KLN2786", "exit_unmatched") in kinds and ("KLM2786", "entry_expired") in kinds
    assert [r for r in results if r.kind == "matched"][0].data["entry"]["plate"] == "ABC1234"


def test_out_of_order_duplicates_and_a_vehicle_passing_twice(service):
    matcher = service()
    plate = "ABC-1234"
    # back at the entry 20 s after the first exit: its second entry is stored before its first
    # exit, and that before its first entry; duplicates of both
    first_in, first_out = passage("site-a", T0, plate), passage("site-b", T0 + at_kmh(60), plate)
    second_in = passage("site-a", T0 + 380 * S, plate)
    second_out = passage("site-b", T0 + 380 * S + at_kmh(45), plate)
    for event in (second_in, first_out, first_in, second_out, first_out, second_in):
        matcher.follow([event])
    matcher.follow([passage("site-a", T0 + 3000 * S, "LATER-1")])
    results = matcher.storage.section_results()
    pairs = sorted((r.data["entry"]["id"], r.data["exit"]["id"], round(r.data["speed_kmh"]))
                   for r in results if r.kind == "matched")
    assert pairs == sorted([(first_in.id, first_out.id, 60), (second_in.id, second_out.id, 45)])
    assert matcher.matcher.counts["duplicates"] == 2
    assert not [r for r in results if r.kind != "matched" and r.plate == "ABC1234"]


def test_an_exit_without_entry_and_an_entry_that_never_exits_are_never_violations(service):
    matcher = service()
    matcher.follow([passage("site-b", T0 + 60 * S, "EXIT-001"), passage("site-a", T0, "ENTRY-01")])
    assert [(r.kind, r.plate) for r in matcher.follow([passage("site-a", T0 + 200 * S, "X-1")])] == \
        [("exit_unmatched", "EXIT001")]
    # the entry expires after expire_s + hold_s of event time
    results = matcher.follow([passage("site-a", T0 + 1861 * S, "X-2")])
    assert [(r.kind, r.plate, r.violation) for r in results] == [("entry_expired", "ENTRY01", False)]


def test_passages_from_an_unsynced_clock_are_paired_but_never_a_violation(service):
    matcher = service()
    matcher.follow([passage("site-a", T0, "ABC-1234", synced=False),
                    passage("site-b", T0 + at_kmh(90), "ABC-1234"),
                    passage("site-a", T0 + S, "TRUCK-01", kind="truck"),
                    passage("site-b", T0 + S + at_kmh(90), "TRUCK-01", kind="truck")])
    results = {r.plate: r for r in matcher.follow([passage("site-a", T0 + 600 * S, "X-1")])}
    unsynced = results["ABC1234"]
    assert unsynced.kind == "matched" and unsynced.violation is False
    assert unsynced.data["no_violation_because"] == ["clock_unsynced"]
    assert results["TRUCK01"].violation is True  # every class by default


def test_only_the_configured_classes_can_violate(service):
    matcher = service(section(classes=["truck", "bus"]))
    matcher.follow([passage("site-a", T0, "CAR-0001"), passage("site-b", T0 + at_kmh(90), "CAR-0001")])
    result = matcher.follow([passage("site-a", T0 + 600 * S, "X-1")])[0]
    assert result.violation is False and result.data["no_violation_because"] == ["class_not_limited"]


def test_a_restart_rebuilds_the_open_passages_and_decides_nothing_twice(service):
    first = service()
    first.follow([passage("site-a", T0, "ABC-1234"), passage("site-b", T0 + at_kmh(60), "ABC-1234"),
                  passage("site-a", T0 + 300 * S, "KLM-2786")])
    first.follow([passage("site-a", T0 + at_kmh(60) + 61 * S, "X-1")])
    assert [r.plate for r in first.storage.section_results()] == ["ABC1234"]
    again = service()  # a restarted collector on the same database
    again.rebuild()
    assert again.matcher.open_counts() == {"entries": 2, "exits": 0}  # KLM-2786 and X-1
    again.follow([passage("site-b", T0 + 300 * S + at_kmh(50), "KLM-2786")])
    results = again.follow([passage("site-a", T0 + 1200 * S, "X-2")])
    assert [(r.plate, r.kind) for r in results] == [("KLM2786", "matched")]
    assert [r.plate for r in again.storage.section_results()] == ["ABC1234", "KLM2786"]


def test_a_site_ending_two_sections_gets_a_decision_in_each(service):
    matcher = service(section(name="north"), section(name="south", entry_site="site-c"))
    exit_passage = passage("site-b", T0 + at_kmh(60), "ABC-1234")
    matcher.follow([passage("site-a", T0, "ABC-1234"), exit_passage,
                    passage("site-b", T0 + at_kmh(60) + 61 * S, "XYZ-0001")])
    decided = {(r.section, r.kind, r.id) for r in matcher.storage.section_results()}
    assert decided == {("north", "matched", f"north/{exit_passage.id}"),
                       ("south", "exit_unmatched", f"south/{exit_passage.id}")}


def decided(matcher, events, end_ns):
    """The decisions for ``events``, settled by a passage of another plate at ``end_ns``:
    {exit plate or expired entry plate: (kind, plate_match, entry plate)}."""
    matcher.follow([*events, passage("site-a", end_ns, "ZZZ-9999")])
    return {r.plate: (r.kind, r.data.get("plate_match"), r.data.get("entry", {}).get("plate"))
            for r in matcher.storage.section_results() if r.plate != "ZZZ9999"}


def test_a_read_with_one_character_dropped_or_extra_pairs(service):
    matcher = service()
    events = [passage("site-a", T0, "ABC-1234"), passage("site-b", T0 + at_kmh(60), "ABC-124"),
              passage("site-a", T0 + 5 * S, "KL-2786"), passage("site-b", T0 + 5 * S + at_kmh(60), "KLM-2786"),
              passage("site-a", T0 + 9 * S, "HPA-7362"), passage("site-b", T0 + 9 * S + at_kmh(60), "HPA-73G2")]
    assert decided(matcher, events, T0 + 1000 * S) == {
        "ABC124": ("matched", "one_character", "ABC1234"), "KLM2786": ("matched", "one_character", "KL2786"),
        "HPA73G2": ("matched", "confusions", "HPA7362")}
    matched = matcher.storage.section_results()[0]
    assert matched.violation and matched.data["speed_kmh"] == pytest.approx(60, abs=0.01)


def test_two_real_plates_one_character_apart_are_never_paired_with_each_other(service):
    matcher = service()
    events = [
        # both plates at the entry: each exit pairs with its own
        passage("site-a", T0, "ABC-1234"), passage("site-a", T0 + S, "ABC-124"),
        passage("site-b", T0 + at_kmh(60), "ABC-124"), passage("site-b", T0 + S + at_kmh(60), "ABC-1234"),
        # only the longer at the entry, both at the exit: the shorter is a plate of its own
        passage("site-a", T0 + 100 * S, "KLM-2786"),
        passage("site-b", T0 + 100 * S + at_kmh(55), "KLM-286"),
        passage("site-b", T0 + 100 * S + at_kmh(50), "KLM-2786"),
        # the exit's own plate enters later (a vehicle of its own): not paired with the near one
        passage("site-a", T0 + 200 * S, "HPA-7362"), passage("site-b", T0 + 200 * S + at_kmh(50), "HPA-736"),
        passage("site-a", T0 + 201 * S + at_kmh(50), "HPA-736"),
        # two plates one character from the exit's: which one is unknown
        passage("site-a", T0 + 300 * S, "RKX-3947"), passage("site-a", T0 + 301 * S, "RKX-3946"),
        passage("site-b", T0 + 301 * S + at_kmh(50), "RKX-394")]
    results = decided(matcher, events, T0 + 1000 * S)
    assert results["ABC124"] == ("matched", "same", "ABC124") and results["ABC1234"] == ("matched", "same", "ABC1234")
    assert results["KLM286"] == ("exit_unmatched", None, None)
    assert results["KLM2786"] == ("matched", "same", "KLM2786")
    assert results["HPA736"][0] == "exit_unmatched"
    assert results["RKX394"][0] == "exit_unmatched"


def test_pairing_a_dropped_character_can_be_turned_off(service):
    matcher = service(section(pair_dropped_character=False))
    events = [passage("site-a", T0, "ABC-1234"), passage("site-b", T0 + at_kmh(60), "ABC-124")]
    assert decided(matcher, events, T0 + 1000 * S)["ABC124"] == ("exit_unmatched", None, None)


def test_a_section_config_is_checked():
    with pytest.raises(ValueError, match="same site and point"):
        section(exit_site="site-a")
    with pytest.raises(ValueError, match="length_tolerance_m must be below"):
        section(length_tolerance_m=7000)


def test_sections_in_the_collector_config_name_their_field(tmp_path):
    from roadcam.collector.config import load_collector_config

    path = tmp_path / "collector.yaml"
    path.write_text("storage: {database: c.db, evidence_dir: ev}\ndevice_keys_dir: keys\n"
                    "sections:\n  - {name: s1, entry_site: a, exit_site: b, length_m: 6000,\n"
                    "     length_tolerance_m: 1, limit_kmh: fifty}\n")
    with pytest.raises(ConfigError) as error:
        load_collector_config(path)
    problems = "\n".join(error.value.problems)
    assert "collector.yaml:5: sections[0].limit_kmh" in problems, problems


def test_random_order_gives_the_same_decisions(service):
    rng = random.Random(25)
    events, truth = [], {}
    for index in range(200):
        plate = f"P{index:05d}"
        kmh = rng.uniform(30, 90)
        t = T0 + index * 2 * S
        truth[plate.replace("-", "")] = kmh
        events += [passage("site-a", t, plate), passage("site-b", t + at_kmh(kmh), plate)]
    # arrival order: each passage late by up to 50 s (the hold is 60 s), so out of order
    events.sort(key=lambda event: utc_ns(event.time) + rng.uniform(0, 50) * S)
    matcher = service()
    for start in range(0, len(events), 37):
        matcher.follow(events[start:start + 37])
    matcher.follow([passage("site-a", T0 + 4000 * S, "LAST-1")])
    results = [r for r in matcher.storage.section_results(limit=10**6) if r.kind == "matched"]
    assert len(results) == 200
    assert all(abs(r.data["speed_kmh"] - truth[r.plate]) < 0.01 for r in results)


def test_a_clock_out_of_its_bound_is_paired_but_never_a_violation(service):
    matcher = service()
    over = passage("site-b", T0 + at_kmh(90), "ABC-1234", error_ms=50.0)  # synced, but 50 ms > 10 ms
    marked = passage("site-b", T0 + S + at_kmh(90), "KLM-2786")
    marked = marked.model_copy(update={"data": {**marked.data, "clock_within_bound": False}})
    matcher.follow([passage("site-a", T0, "ABC-1234"), over, passage("site-a", T0 + S, "KLM-2786"), marked])
    results = {r.plate: r for r in matcher.follow([passage("site-a", T0 + 600 * S, "X-1")])}
    assert results["ABC1234"].kind == "matched" and results["ABC1234"].violation is False
    assert results["ABC1234"].data["no_violation_because"] == ["clock_error_over_max"]
    assert results["ABC1234"].data["time_error_s"] == pytest.approx(0.052)  # 1 + 0.5 + 50 + 0.5 ms
    assert results["KLM2786"].violation is False
    assert results["KLM2786"].data["no_violation_because"] == ["clock_unsynced"]
