"""Measure how many appends per second the event store sustains on this machine, beside raw
SQLite doing the same durable commits without any of the store's logic.

    .venv/bin/python -m roadcam.tools.bench_store [--count 300] [--dir /var/lib/roadcam]

Rows printed:

- ``store: event + 50 kB evidence``: ``EventStore.append`` of one event with one new ~50 kB
  blob (file fsync, rename, directory fsync, then the row's transaction);
- ``store: event only``: ``EventStore.append`` of one event without evidence;
- ``raw sqlite: INSERT + COMMIT``: the reference, a bare ``sqlite3`` INSERT and COMMIT per row of
  the same JSON size in WAL mode with ``synchronous=FULL``;
- ``raw file + sqlite``: the reference for evidence, a bare 50 kB write, fsync, rename and
  directory fsync followed by the same INSERT and COMMIT.

The difference between a store row and its reference is the store's own overhead (hashing,
building and serialising the event, chain head, budget check). Run it with ``--dir`` on the
site's real storage (SD card, SSD): fsync cost depends on the medium far more than on the CPU.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from roadcam.appliance.events import ClockState, EventDraft
from roadcam.appliance.store import EventStore
from roadcam.protocol.events import EvidenceBlob

EVIDENCE_BYTES = 50_000
CLOCK = ClockState(synced=True, error_ms=1.0)


def draft(index: int, evidence: tuple[EvidenceBlob, ...] = ()) -> EventDraft:
    """A plate read like the ones a site produces most."""
    return EventDraft(type="plate.read",
                      data={"plate": f"ABC{index % 10000:04d}", "lane": index % 3,
                            "confidence": 0.93, "camera": "north", "track": index},
                      time_ns=time.time_ns(), evidence=evidence)


def timed(count: int, one: Callable[[int], object]) -> list[float]:
    """Seconds taken by each of ``count`` calls of ``one(index)``."""
    durations = []
    for index in range(count):
        started = time.perf_counter()
        one(index)
        durations.append(time.perf_counter() - started)
    return durations


def bench_store(folder: Path, count: int) -> tuple[list[float], list[float], int]:
    """Durations of appends with and without evidence, and the stored JSON size of one event."""
    blobs = [EvidenceBlob("frame_before", os.urandom(EVIDENCE_BYTES)) for _ in range(count)]
    with EventStore(folder / "store.db", folder / "evidence", device="tn-bench", site="tn-bench",
                    budget_bytes=1 << 40) as store:
        with_evidence = timed(
            count, lambda index: store.append([draft(index, (blobs[index],))], CLOCK))
        without_evidence = timed(count, lambda index: store.append([draft(index)], CLOCK))
        json_bytes = len(store.events(limit=1)[0].model_dump_json())
    return with_evidence, without_evidence, json_bytes


def raw_connection(database: Path) -> sqlite3.Connection:
    """Plain sqlite3 with the store's durability settings and nothing else."""
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    return connection


def raw_insert(connection: sqlite3.Connection, body: str) -> None:
    connection.execute("BEGIN")
    connection.execute("INSERT INTO events (body) VALUES (?)", (body,))
    connection.execute("COMMIT")


def raw_durable_file(folder: Path, name: str, data: bytes) -> None:
    """Write, fsync, rename and fsync the directory: the floor for one durable evidence file."""
    temporary = folder / f"{name}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, folder / name)
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def bench_raw(folder: Path, count: int, json_bytes: int) -> tuple[list[float], list[float]]:
    """Durations of bare INSERT+COMMIT, and of a bare durable file plus INSERT+COMMIT."""
    body = "x" * json_bytes
    data = os.urandom(EVIDENCE_BYTES)
    files = folder / "raw-files"
    files.mkdir()
    connection = raw_connection(folder / "raw.db")
    try:
        rows_only = timed(count, lambda index: raw_insert(connection, body))

        def file_and_row(index: int) -> None:
            raw_durable_file(files, f"{index:08d}", data)
            raw_insert(connection, body)

        files_and_rows = timed(count, file_and_row)
    finally:
        connection.close()
    return rows_only, files_and_rows


def report(label: str, durations: list[float]) -> str:
    mean_s = statistics.fmean(durations)
    p99_s = sorted(durations)[int(0.99 * (len(durations) - 1))]
    return f"{label:<34} {1 / mean_s:>9.0f} {mean_s * 1e3:>10.2f} {p99_s * 1e3:>10.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="appends per measurement")
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder on the storage to measure (default: a temporary folder)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=arguments.dir, prefix="roadcam-bench-") as scratch:
        folder = Path(scratch)
        with_evidence, without_evidence, json_bytes = bench_store(folder, arguments.count)
        rows_only, files_and_rows = bench_raw(folder, arguments.count, json_bytes)
        print(f"{arguments.count} appends each, in {folder} (event JSON {json_bytes} bytes)")
        print(f"{'':<34} {'appends/s':>9} {'mean ms':>10} {'p99 ms':>10}")
        print(report("store: event + 50 kB evidence", with_evidence))
        print(report("raw file + sqlite (reference)", files_and_rows))
        print(report("store: event only", without_evidence))
        print(report("raw sqlite: INSERT + COMMIT", rows_only))


if __name__ == "__main__":
    main()
