"""``kill -9`` at random moments loses nothing committed (DESIGN.md, "Storage on the device").

A child process (tests/store_writer.py) appends events with evidence in a loop and reports each
committed append on stdout; the parent SIGKILLs it at seeded random moments, restarts it on the
same files, and after every kill checks the database, the evidence folder and every event the
child reported as committed.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roadcam.appliance.store import EventStore
from roadcam.common.evidence_files import TEMP_SUFFIX, is_sha256_name
from roadcam.protocol.events import Event

WRITER = Path(__file__).with_name("store_writer.py")
KILLS = 24
SEED = 20261122
#: Share of kills aimed anywhere from process start, so some land in start-up and the sweep.
EARLY_KILL_SHARE = 0.25
CHILD_START_TIMEOUT_S = 20.0


def complete_lines(output: Path) -> list[str]:
    """Lines the child finished writing; a line cut by the kill has no newline and is dropped."""
    text = output.read_text()
    return text.split("\n")[:-1]


def wait_for_first_append(child: subprocess.Popen, output: Path, errors: Path) -> None:
    deadline = time.monotonic() + CHILD_START_TIMEOUT_S
    while not complete_lines(output):
        assert child.poll() is None, f"the writer died: {errors.read_text()}"
        assert time.monotonic() < deadline, "the writer made no append in time"
        time.sleep(0.005)


def final_names_hold_their_bytes(evidence_dir: Path) -> list[str]:
    """Files under a sha256 name whose bytes hash to something else (should be none)."""
    return [str(path) for path in evidence_dir.rglob("*")
            if path.is_file() and is_sha256_name(path.name)
            and hashlib.sha256(path.read_bytes()).hexdigest() != path.name]


def integrity(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("PRAGMA integrity_check")]


def run_and_kill(rng: random.Random, tmp_path: Path, round_index: int) -> list[Event]:
    """Start the writer, SIGKILL it at a random moment; returns the events it reported."""
    output = tmp_path / f"round{round_index}.out"
    errors = tmp_path / f"round{round_index}.err"
    with open(output, "wb") as stdout, open(errors, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, str(WRITER), str(tmp_path / "events.db"), str(tmp_path / "evidence"),
             str(rng.randrange(1 << 32))], stdout=stdout, stderr=stderr)
        try:
            if rng.random() < EARLY_KILL_SHARE:
                time.sleep(rng.uniform(0.0, 0.8))
            else:
                wait_for_first_append(child, output, errors)
                time.sleep(rng.uniform(0.0, 0.3))
            assert child.poll() is None, f"the writer died: {errors.read_text()}"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    return [Event.model_validate(event) for line in complete_lines(output)
            for event in json.loads(line)]


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_committed(tmp_path):
    rng = random.Random(SEED)
    database, evidence_dir = tmp_path / "events.db", tmp_path / "evidence"
    reported: dict[int, Event] = {}
    rounds_with_appends = 0
    for round_index in range(KILLS):
        newly_reported = run_and_kill(rng, tmp_path, round_index)
        rounds_with_appends += bool(newly_reported)
        reported.update((event.seq, event) for event in newly_reported)

        assert final_names_hold_their_bytes(evidence_dir) == []
        if not database.exists():
            assert reported == {}  # killed before the store was ever created
            continue
        assert integrity(database) == ["ok"]
        with EventStore(database, evidence_dir, device="tn-kill", site="tn-test",
                        budget_bytes=1 << 40) as store:
            assert list(evidence_dir.rglob(f"*{TEMP_SUFFIX}")) == []
            assert store.check() == []
            stored = {event.seq: event for event in store.events(limit=1_000_000)}
            assert sorted(stored) == list(range(1, store.last_seq() + 1))
            for seq, event in reported.items():
                assert stored[seq] == event
                for reference in event.evidence:
                    assert store.evidence_path(reference.sha256).is_file()
                    assert hashlib.sha256(store.read_evidence(reference.sha256)).hexdigest() \
                        == reference.sha256
    assert rounds_with_appends >= KILLS // 2
    assert len(reported) > 100
