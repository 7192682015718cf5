"""The event store: durability settings, numbering, hash chain, evidence files, atomicity,
budget eviction, integrity check and thread safety, all through its public interface on real
SQLite files."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from roadcam.appliance.events import ClockState, EventDraft
from roadcam.appliance.store import SCHEMA_VERSION, EventStore
from roadcam.common.errors import StorageFull, StoreError
from roadcam.protocol.events import Event, EvidenceBlob

START_NS = 1_790_000_000_000_000_000
CLOCK = ClockState(synced=True, error_ms=2.5)
LARGE_BUDGET_BYTES = 1 << 30


def open_store(tmp_path: Path, budget_bytes: int = LARGE_BUDGET_BYTES, **kwargs) -> EventStore:
    return EventStore(tmp_path / "events.db", tmp_path / "evidence", device="tn-0042",
                      site="tn-yongkang-01", budget_bytes=budget_bytes, **kwargs)


def draft(index: int, *blobs: EvidenceBlob, event_type: str = "plate.read") -> EventDraft:
    return EventDraft(type=event_type, data={"plate": f"ABC{index:04d}", "lane": index % 3},
                      time_ns=START_NS + index * 1_000_000, evidence=blobs)


def blob(label: str, size: int = 20_000, kind: str = "frame_before") -> EvidenceBlob:
    return EvidenceBlob(kind=kind, data=(label.encode() * size)[:size])


def files_under(folder: Path) -> list[Path]:
    """Every file in the evidence folder's shards, finished or temporary."""
    return sorted(path for path in folder.glob("*/*") if path.is_file())


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path) as opened:
        yield opened


# -- opening ---------------------------------------------------------------------------------

def test_database_is_in_wal_mode_with_the_schema_version(store, tmp_path):
    with sqlite3.connect(tmp_path / "events.db") as outside:
        assert outside.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert outside.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_database_that_cannot_use_wal_is_refused(tmp_path):
    # SQLite keeps an in-memory database in "memory" journal mode whatever is asked: the
    # read-back must notice that WAL was refused.
    with pytest.raises(StoreError, match="refused SQLite's WAL mode"):
        EventStore(Path(":memory:"), tmp_path / "evidence", device="d", site="s", budget_bytes=1)


def test_a_newer_schema_is_refused(tmp_path):
    open_store(tmp_path).close()
    with sqlite3.connect(tmp_path / "events.db") as outside:
        outside.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="schema version"):
        open_store(tmp_path)


def test_a_closed_store_refuses_calls(tmp_path):
    store = open_store(tmp_path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.append([draft(1)], CLOCK)


def test_only_one_store_may_own_the_files_at_a_time(store, tmp_path):
    with pytest.raises(StoreError, match="already open"):
        open_store(tmp_path)
    store.close()
    open_store(tmp_path).close()


def test_leftover_temporary_and_unreferenced_files_are_swept_at_open(tmp_path):
    with open_store(tmp_path) as store:
        kept = store.append([draft(1, blob("kept"))], CLOCK)[0].evidence[0].sha256
    orphan_sha = hashlib.sha256(b"orphan").hexdigest()
    orphan = tmp_path / "evidence" / orphan_sha[:2] / orphan_sha
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"orphan")
    temporary = tmp_path / "evidence" / kept[:2] / f".{kept}.0badc0de.tmp"
    temporary.write_bytes(b"half written")
    with open_store(tmp_path) as store:
        assert files_under(tmp_path / "evidence") == [store.evidence_path(kept)]
        assert store.read_evidence(kept) == blob("kept").data


# -- numbering and chain -----------------------------------------------------------------------

def test_events_get_ids_times_clock_and_gap_free_seq_across_reopen(tmp_path):
    with open_store(tmp_path) as store:
        first = store.append([draft(1), draft(2)], CLOCK)
        second = store.append([draft(3)], ClockState(synced=False))
    with open_store(tmp_path) as store:
        assert store.last_seq() == 3
        third = store.append([draft(4)], CLOCK)
        stored = store.events()
    events = first + second + third
    assert [event.seq for event in events] == [1, 2, 3, 4]
    assert stored == events
    assert len({event.id for event in events}) == 4
    assert events[0].time == "2026-09-21T14:13:20.001000Z"
    assert events[0].clock == {"synced": True, "error_ms": 2.5}
    assert events[2].clock == {"synced": False, "error_ms": None}
    assert (events[0].device, events[0].site) == ("tn-0042", "tn-yongkang-01")
    assert events[0].id[14] == "7"  # UUIDv7, stamped with the event's own time in ms
    assert int(events[0].id.replace("-", "")[:12], 16) == (START_NS + 1_000_000) // 1_000_000


def test_each_event_links_to_the_digest_of_the_one_before(store):
    events = store.append([draft(index) for index in range(1, 6)], CLOCK)
    assert events[0].prev is None
    for earlier, later in zip(events, events[1:]):
        assert later.prev == earlier.digest()
    assert store.check() == []


def test_an_altered_row_breaks_the_chain_and_check_reports_it(store, tmp_path):
    store.append([draft(index) for index in range(1, 5)], CLOCK)
    with sqlite3.connect(tmp_path / "events.db") as outside:
        body = json.loads(outside.execute("SELECT body FROM events WHERE seq = 2").fetchone()[0])
        body["data"]["plate"] = "FORGED1"
        outside.execute("UPDATE events SET body = ? WHERE seq = 2", (json.dumps(body),))
    assert store.check() == ["event 3: prev does not match the digest of the event before it "
                             "(a row was altered, replaced or reordered)"]


def test_an_altered_newest_row_and_a_deleted_row_are_reported(store, tmp_path):
    store.append([draft(index) for index in range(1, 5)], CLOCK)
    with sqlite3.connect(tmp_path / "events.db") as outside:
        body = json.loads(outside.execute("SELECT body FROM events WHERE seq = 4").fetchone()[0])
        body["data"]["lane"] = 9
        outside.execute("UPDATE events SET body = ? WHERE seq = 4", (json.dumps(body),))
        outside.execute("DELETE FROM events WHERE seq = 2")
    problems = store.check()
    assert any("events 2 to 2 are missing" in problem for problem in problems)
    assert any("newest row was altered" in problem for problem in problems)


def test_reading_filters_by_type_and_position(store):
    store.append([draft(1), draft(2, event_type="health"), draft(3), draft(4, event_type="health")],
                 CLOCK)
    assert [event.seq for event in store.events(types=["health"])] == [2, 4]
    assert [event.seq for event in store.events(after_seq=1, limit=2)] == [2, 3]
    assert [event.seq for event in store.pending(limit=2, after_seq=2)] == [3, 4]


# -- signing -------------------------------------------------------------------------------------

def test_a_signer_signs_each_event_and_the_chain_ignores_the_signature(tmp_path):
    def sign(event: Event) -> str:
        assert event.sig is None
        return "fake:" + hashlib.sha256(event.canonical_json()).hexdigest()

    with open_store(tmp_path, sign=sign) as store:
        events = store.append([draft(1), draft(2)], CLOCK)
        assert store.events() == events
        assert store.check() == []
    for event in events:
        assert event.sig == "fake:" + event.digest()
    assert events[1].prev == events[0].digest()


def test_a_failing_signer_stores_nothing(tmp_path):
    def sign(event: Event) -> str:
        raise RuntimeError("key unavailable")

    with open_store(tmp_path, sign=sign) as store:
        with pytest.raises(RuntimeError, match="key unavailable"):
            store.append([draft(1, blob("lost"))], CLOCK)
        assert store.last_seq() == 0
        assert store.events() == []
    assert files_under(tmp_path / "evidence") == []


# -- evidence ------------------------------------------------------------------------------------

def test_evidence_is_named_by_its_sha256_and_stored_once(store, tmp_path):
    shared = blob("shared")
    first = store.append([draft(1, shared, blob("own"))], CLOCK)[0]
    path = store.evidence_path(shared.sha256)
    written = path.stat()
    second = store.append([draft(2, shared), draft(3, EvidenceBlob("plate_crop", shared.data))],
                          CLOCK)
    assert first.evidence[0].model_dump() == {"sha256": shared.sha256, "kind": "frame_before",
                                              "bytes": 20_000, "media_type": "image/jpeg"}
    assert [event.evidence[0].sha256 for event in second] == [shared.sha256] * 2
    assert path == tmp_path / "evidence" / shared.sha256[:2] / shared.sha256
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert len(files_under(tmp_path / "evidence")) == 2
    assert store.usage().evidence_bytes == 40_000
    assert store.read_evidence(shared.sha256) == shared.data


def test_corrupt_and_missing_evidence_are_detected(store):
    events = store.append([draft(1, blob("corrupt")), draft(2, blob("missing"))], CLOCK)
    corrupt, missing = (event.evidence[0].sha256 for event in events)
    store.evidence_path(corrupt).write_bytes(b"bit rot")
    store.evidence_path(missing).unlink()
    with pytest.raises(StoreError, match="corrupt"):
        store.read_evidence(corrupt)
    with pytest.raises(StoreError, match="missing"):
        store.read_evidence(missing)
    problems = store.check()
    assert len(problems) == 2
    assert problems[0].startswith("event 1: ") and "corrupt" in problems[0]
    assert problems[1].startswith("event 2: ") and "missing" in problems[1]


def test_a_name_that_is_not_a_sha256_is_refused(store):
    with pytest.raises(StoreError, match="not a sha256"):
        store.evidence_path("../../etc/passwd")


# -- atomicity -----------------------------------------------------------------------------------

def test_a_failed_evidence_rename_leaves_no_row_and_no_file(store, tmp_path, monkeypatch):
    store.append([draft(1, blob("before"))], CLOCK)
    before = files_under(tmp_path / "evidence")
    real_replace = os.replace
    calls = []

    def replace_then_fail(source, destination):
        calls.append(destination)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace_then_fail)
    with pytest.raises(StoreError, match="cannot write evidence file"):
        store.append([draft(2, blob("first")), draft(3, blob("second"))], CLOCK)
    monkeypatch.undo()
    assert len(calls) == 2  # the first file had reached its final name before the failure
    assert files_under(tmp_path / "evidence") == before
    assert store.last_seq() == 1
    assert [event.seq for event in store.append([draft(4)], CLOCK)] == [2]
    assert store.check() == []


def test_a_full_disk_during_an_evidence_write_raises_storage_full_and_cleans_up(store, tmp_path,
                                                                               monkeypatch):
    def disk_full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StorageFull, match="disk holding .* is full"):
        store.append([draft(1, blob("big"))], CLOCK)
    monkeypatch.undo()
    assert files_under(tmp_path / "evidence") == []
    assert store.events() == []


# -- confirmation and budget ---------------------------------------------------------------------

def confirm(store: EventStore, upto_seq: int) -> int | None:
    """Confirm up to ``upto_seq`` as the collector's ack would: naming that event's digest."""
    (event,) = store.events(after_seq=upto_seq - 1, limit=1)
    return store.confirm(upto_seq, event.digest())


def test_confirm_counts_newly_confirmed_events(store):
    store.append([draft(index) for index in range(1, 6)], CLOCK)
    assert confirm(store, 3) == 3
    assert confirm(store, 3) == 0
    assert confirm(store, 4) == 1
    assert [event.seq for event in store.pending()] == [5]
    assert store.usage().pending == 1


def test_an_ack_naming_another_chains_event_confirms_nothing(store):
    """An ack for the store this one replaced (same seqs, other events) is not taken for ours."""
    events = store.append([draft(index) for index in range(1, 4)], CLOCK)
    assert store.confirm(2, events[0].digest()) is None
    assert store.confirm(9, events[2].digest()) is None  # beyond this store's head
    assert store.usage().pending == 3
    assert store.confirm(3, events[2].digest()) == 3


def fill(tmp_path: Path, count: int, shared: EvidenceBlob | None = None) -> list[Event]:
    """``count`` events, each with its own 20 kB blob (plus ``shared`` on each, if given)."""
    with open_store(tmp_path) as store:
        return [store.append([draft(index, blob(f"own{index}"), *([shared] if shared else []))],
                             CLOCK)[0] for index in range(1, count + 1)]


def test_eviction_removes_only_confirmed_evidence_oldest_first(tmp_path):
    events = fill(tmp_path, 6)
    with open_store(tmp_path) as store:
        confirm(store, 4)
        usage = store.usage()
        assert usage.confirmed_evictable_bytes == 80_000
    budget = usage.used_bytes - 30_000  # two files must go
    with open_store(tmp_path, budget_bytes=budget) as store:
        freed = store.enforce_budget()
        assert freed == 40_000
        assert store.usage().used_bytes <= budget
        for event in events[:2]:
            with pytest.raises(StoreError, match="missing"):
                store.read_evidence(event.evidence[0].sha256)
        for event in events[2:]:
            assert store.read_evidence(event.evidence[0].sha256) == blob(f"own{event.seq}").data
        assert store.events() == events
        assert store.check() == []


def test_a_file_shared_with_an_unconfirmed_event_is_kept(tmp_path):
    shared = blob("shared", size=50_000)
    events = fill(tmp_path, 3, shared=shared)
    with open_store(tmp_path) as store:
        confirm(store, 2)
        used = store.usage().used_bytes
    with open_store(tmp_path, budget_bytes=used - 100_000) as store:
        assert store.enforce_budget() == 40_000  # the two own files; the shared one stays
        assert store.read_evidence(shared.sha256) == shared.data
        assert store.read_evidence(events[2].evidence[0].sha256) == blob("own3").data
        assert store.check() == []


def test_confirmed_rows_go_after_their_evidence_and_the_chain_stays_verifiable(tmp_path):
    fill(tmp_path, 3)
    with open_store(tmp_path) as store:
        store.append([draft(index) for index in range(4, 400)], CLOCK)
        confirm(store, 300)
        unconfirmed = store.pending(limit=1000)
        evidence_free_bytes = store.usage().used_bytes - store.usage().evidence_bytes
    with open_store(tmp_path, budget_bytes=evidence_free_bytes - 8192) as store:
        assert store.enforce_budget() > 60_000
        retained = store.events(limit=1000)
        assert 1 < retained[0].seq <= 301
        assert [event.seq for event in retained] == list(range(retained[0].seq, 400))
        assert store.pending(limit=1000) == unconfirmed
        assert store.check() == []
    with open_store(tmp_path) as store:
        latest = store.append([draft(400)], CLOCK)[0]
        assert latest.seq == 400 and latest.prev == unconfirmed[-1].digest()
        assert store.check() == []


def test_storage_full_when_nothing_is_evictable_and_nothing_is_lost(tmp_path):
    events = fill(tmp_path, 3)
    with open_store(tmp_path) as store:
        budget = store.usage().used_bytes + 10_000
    with open_store(tmp_path, budget_bytes=budget) as store:
        with pytest.raises(StorageFull, match="3 events the collector has not yet confirmed"):
            store.append([draft(4, blob("too much"))], CLOCK)
        assert store.events() == events
        assert store.last_seq() == 3
        assert store.check() == []
        for event in events:
            assert store.read_evidence(event.evidence[0].sha256) == blob(f"own{event.seq}").data
        assert files_under(tmp_path / "evidence") == sorted(
            store.evidence_path(event.evidence[0].sha256) for event in events)
        confirm(store, 1)
        assert store.append([draft(4, blob("fits now"))], CLOCK)[0].seq == 4
        assert store.usage().used_bytes <= budget


# -- threads -------------------------------------------------------------------------------------

def test_concurrent_appends_get_gap_free_seq(store):
    errors = []

    def writer(thread_index: int) -> None:
        try:
            for index in range(20):
                label = f"t{thread_index}-{index}"
                store.append([draft(index, blob(label, size=2_000)), draft(index)], CLOCK)
        except Exception as error:  # reported below; a thread cannot fail the test by itself
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [event.seq for event in store.events()] == list(range(1, 161))
    assert store.check() == []
