"""How fast the collector pairs section passages: passages per second against the issue's
1,000,000 passages an hour (278 per second), on one core, with out-of-order arrival.

    python -m roadcam.tools.bench_sections [--passages 1000000] [--sections 10] [--late-s 30]
                                           [--dropped 0.03] [--database FILE]

Generates an hour of traffic (``--passages`` in all) over ``--sections`` sections of 6 km at
50 km/h: each vehicle passes the entry site and, 4-14 minutes later, the exit site; 2% are seen
at the entry only, 2% at the exit only, 5% of exit reads carry a reader confusion (B/8, O/0),
``--dropped`` (3%) of exit reads lose one character, 1% of passages arrive twice, and every
passage arrives late by 0 to ``--late-s`` seconds, so the stream is out of order. The passages
are built as the collector holds them (signed-event envelopes, parsed by
:func:`~roadcam.collector.sections.passage_from_event`), then fed, in arrival order and in
batches of 500 (the collector's ``batch_max``), to:

1. the matcher alone (in memory);
2. the collector's :class:`~roadcam.collector.sections.SectionService` storing every decision
   in a real SQLite database (``speed_sections``), as ``roadcam-collector serve`` does after
   each committed batch.

Storing the passages themselves as events is the collector's ingest (tools/bench_collector.py),
not timed here. Printed for each: passages per second beside the reference, the share of one
core the reference rate takes, the decisions and how many pairs are right against the
generated truth; and the process's peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from roadcam.collector.section_storage import SectionTable
from roadcam.collector.sections import MATCHED, SectionMatcher, SectionService, SectionSettings, passage_from_event
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.protocol.events import Event, iso_utc

REFERENCE_PER_HOUR = 1_000_000
T0 = 1_790_000_000 * 10**9
BATCH = 500
LENGTH_M = 6000.0


def traffic(passages: int, sections: int, late_s: float, dropped: float = 0.03, seed: int = 25):
    """(arrival-ordered events, {exit event id: entry event id} of the true pairs)."""
    rng = random.Random(seed)
    events: list[tuple[float, Event]] = []
    truth: dict[str, str] = {}
    seq = 0

    def passage(site: str, at_ns: int, plate: str) -> Event:
        nonlocal seq
        seq += 1
        return Event(id=f"{seq:012d}", device=f"dev-{site}", site=site, type="speed.passage", time=iso_utc(at_ns),
                     seq=seq, clock={"synced": True, "error_ms": 1.0},
                     data={"point": "p", "plate": plate, "lane": 1 + seq % 2, "vehicle_kind": "car",
                           "time_uncertainty_ms": 0.5})

    vehicles = passages // 2
    for index in range(vehicles):
        section = index % sections
        plate = f"{'ABCDEFGHJK'[index % 10]}{'KLMNPRSTUV'[index // 10 % 10]}{'XYZW'[index // 100 % 4]}-{index:07d}"
        entry_ns = T0 + round(index / vehicles * 3600e9)
        exit_ns = entry_ns + round(LENGTH_M / (rng.uniform(25, 90) / 3.6) * 1e9)
        draw = rng.random()
        entry = passage(f"s{section}-in", entry_ns, plate) if draw >= 0.02 else None
        read = plate.replace("B", "8").replace("O", "0") if rng.random() < 0.05 else plate
        if rng.random() < dropped:
            lost = rng.choice([at for at, char in enumerate(read) if char != "-"])
            read = read[:lost] + read[lost + 1:]
        leave = passage(f"s{section}-out", exit_ns, read) if not 0.02 <= draw < 0.04 else None
        if entry is not None and leave is not None:
            truth[leave.id] = entry.id
        for event in (entry, leave):
            if event is None:
                continue
            at = _ns(event) / 1e9
            events.append((at + rng.uniform(0, late_s), event))
            if rng.random() < 0.01:
                events.append((at + rng.uniform(0, late_s), event))
    events.sort(key=lambda pair: pair[0])
    return [event for _, event in events], truth


def _ns(event: Event) -> int:
    from roadcam.protocol.events import utc_ns

    return utc_ns(event.time)


def settings(sections: int) -> list[SectionSettings]:
    return [SectionSettings(name=f"s{i}", entry_site=f"s{i}-in", exit_site=f"s{i}-out", length_m=LENGTH_M,
                            length_tolerance_m=1.0, limit_kmh=50, tolerance_kmh=3, hold_s=120, expire_s=1800)
            for i in range(sections)]


def outline(results) -> list[tuple[str, str | None, str | None]]:
    """(kind, exit id, entry id) of each decision: what the bench keeps to score them."""
    return [(r.kind, r.exit_id, r.entry_id) for r in results]


def report(name: str, count: int, seconds: float, decisions: list, truth: dict[str, str]) -> None:
    rate = count / seconds
    reference = REFERENCE_PER_HOUR / 3600
    pairs = {exit_id: entry_id for kind, exit_id, entry_id in decisions if kind == MATCHED}
    right = sum(1 for exit_id, entry_id in pairs.items() if truth.get(exit_id) == entry_id)
    print(f"{name:<44} {rate:>10,.0f} passages/s   reference {reference:,.0f}/s (1,000,000/h): "
          f"{rate / reference:,.1f}x, {reference / rate:.1%} of one core")
    print(f"{'':<44} {len(decisions):,} decisions, {len(pairs):,} pairs, {right:,} right "
          f"of {len(truth):,} true pairs, {len(pairs) - right} wrong")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=REFERENCE_PER_HOUR, help="passages in the hour")
    parser.add_argument("--sections", type=int, default=10, help="sections the traffic is spread over")
    parser.add_argument("--late-s", type=float, default=30.0, help="most a passage arrives late (s)")
    parser.add_argument("--dropped", type=float, default=0.03, help="share of exit reads missing a character")
    parser.add_argument("--database", type=Path, help="SQLite file for the decisions (default: a temporary one)")
    args = parser.parse_args(argv)

    print(f"generating {args.passages:,} passages over {args.sections} sections ...")
    events, truth = traffic(args.passages, args.sections, args.late_s, args.dropped)
    print(f"{len(events):,} arrivals (duplicates included), {len(truth):,} true pairs")
    end_ns = _ns(max(events, key=_ns)) + 3 * 3600 * 10**9
    # a passage at each section's entry hours later: time moves on, every open decision is made
    closing = [Event(id=f"closing-{i}", device=f"dev-s{i}-in", site=f"s{i}-in", type="speed.passage",
                     time=iso_utc(end_ns), seq=0, clock={"synced": True, "error_ms": 1.0}, data={"plate": "END-0000"})
               for i in range(args.sections)]

    sections = settings(args.sections)
    generated_mb = _peak_mb()
    matcher = SectionMatcher(sections)
    started = time.process_time()
    decisions = []
    for start in range(0, len(events), BATCH):
        for event in events[start:start + BATCH]:
            passage = passage_from_event(event)
            if passage is not None:
                matcher.add(passage, 0)
        decisions += outline(matcher.settle(0))
    seconds = time.process_time() - started
    for event in closing:
        matcher.add(passage_from_event(event), 0)
    decisions += outline(matcher.settle(0))
    report("matcher alone (parse + pair, in memory)", len(events), seconds, decisions, truth)
    print(f"{'':<44} memory: peak {_peak_mb() - generated_mb:,.0f} MB above the generated events "
          f"({generated_mb:,.0f} MB): the matcher's state (and the bench's {len(decisions):,} decision ids)")
    del decisions, matcher

    with tempfile.TemporaryDirectory() as scratch:
        database = args.database or Path(scratch) / "bench.db"
        storage = SQLiteStorage(database, Path(scratch) / "evidence")
        service = SectionService(sections, SectionTable(storage), clock_ns=lambda: 0)
        started_wall, started = time.perf_counter(), time.process_time()
        decisions = []
        for start in range(0, len(events), BATCH):
            decisions += outline(service.follow(events[start:start + BATCH]))
        seconds = time.process_time() - started
        wall = time.perf_counter() - started_wall
        decisions += outline(service.follow(closing))
        report("collector service (+ decisions into SQLite)", len(events), seconds, decisions, truth)
        print(f"{'':<44} wall {wall:.1f} s for {len(events):,} arrivals (CPU {seconds:.1f} s)")
        storage.close()
    print(f"peak memory of the process: {_peak_mb():,.0f} MB (the generated events included)")
    return 0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    raise SystemExit(main())
