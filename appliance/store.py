"""The on-device event store: a SQLite outbox plus content-addressed evidence files.

Every event leaves the core through here. :meth:`EventStore.append` turns the drafts plugins
returned into events (id, per-device sequence number, hash-chain link, optional signature) and
makes them durable before anyone else hears of them:

1. each new evidence blob is written to a temporary file, fsynced, renamed to its sha256 and
   its directory fsynced (:mod:`roadcam.common.evidence_files`);
2. only then are all the call's rows inserted, in one transaction, into a database in WAL mode
   with ``synchronous=FULL`` (both checked when the store opens), so ``COMMIT`` returning means
   the rows are on disk.

``kill -9`` at any moment therefore loses nothing that was committed, and never leaves a row
pointing at a missing or half-written file. A crash between steps 1 and 2 leaves files no row
references; they are swept at the next start, with any temporary files.

Rows stay until the collector acknowledges them (:meth:`EventStore.confirm`, by the seq and the
digest of the last event it holds, so an ack meant for an earlier store is never taken for one of
this store's events). To stay within the disk budget the store evicts only confirmed events:
their evidence first, then their rows, oldest first. A file shared by several events is deleted
only when no retained event references it. When nothing is left to evict,
:class:`~roadcam.common.errors.StorageFull` is raised and nothing already stored is touched. A store
may keep a reserve at the top of its budget that only appends marked ``use_reserve`` may fill,
so the fault saying the store is full can still be stored.

The chain: each event's ``prev`` is the :meth:`~roadcam.protocol.events.Event.digest` of the event
before it. The store keeps the chain's head (last seq and digest, so numbering continues after
every row was evicted) and its tail (the last evicted seq and digest, so the first retained
event's ``prev`` can still be checked): :meth:`EventStore.check` then detects an altered,
missing or reordered row anywhere.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from roadcam.common.errors import StorageFull, StoreError
from roadcam.common.evidence_files import EvidenceFolder
from roadcam.common.sqlite import open_durable_database, write_transaction
from roadcam.protocol.events import Event, EvidenceBlob, EvidenceRef, iso_utc, uuid7

from .events import ClockState, EventDraft

log = logging.getLogger("roadcam.store")

#: Version of the database layout, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        time_ns INTEGER NOT NULL,
        body TEXT NOT NULL,
        confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
        holds_evidence INTEGER NOT NULL CHECK (holds_evidence IN (0, 1))
    )""",
    "CREATE INDEX events_by_type ON events (type, seq)",
    "CREATE INDEX events_unconfirmed ON events (seq) WHERE confirmed = 0",
    "CREATE INDEX events_holding_evidence ON events (seq) WHERE holds_evidence = 1",
    """CREATE TABLE evidence_files (
        sha256 TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE evidence_refs (
        seq INTEGER NOT NULL REFERENCES events (seq),
        sha256 TEXT NOT NULL REFERENCES evidence_files (sha256),
        PRIMARY KEY (seq, sha256)
    ) WITHOUT ROWID""",
    "CREATE INDEX evidence_refs_by_sha256 ON evidence_refs (sha256)",
    # The budget is checked on every append: keep the evidence total in one row, maintained
    # by triggers in the same transactions, instead of summing every file each time.
    """CREATE TABLE evidence_total (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
        bytes INTEGER NOT NULL
    )""",
    "INSERT INTO evidence_total (only_row, bytes) VALUES (1, 0)",
    """CREATE TRIGGER evidence_file_added AFTER INSERT ON evidence_files
       BEGIN UPDATE evidence_total SET bytes = bytes + NEW.bytes; END""",
    """CREATE TRIGGER evidence_file_removed AFTER DELETE ON evidence_files
       BEGIN UPDATE evidence_total SET bytes = bytes - OLD.bytes; END""",
    """CREATE TABLE chain (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
        head_seq INTEGER NOT NULL,
        head_digest TEXT,
        tail_seq INTEGER NOT NULL,
        tail_digest TEXT
    )""",
    """INSERT INTO chain (only_row, head_seq, head_digest, tail_seq, tail_digest)
       VALUES (1, 0, NULL, 0, NULL)""",
)

#: Held (flock) in the evidence folder for as long as a store is open; see :func:`_own_store`.
_LOCK_FILE_NAME = ".lock"
#: Confirmed rows deleted per step when evicting rows; the budget is re-measured between steps.
_ROW_EVICTION_BATCH = 64


@dataclass(frozen=True)
class StoreUsage:
    """How much of its disk budget the store uses.

    ``database_bytes`` counts the database pages that hold live data (pages freed by evicted rows
    are reused by later appends, so they do not count; the WAL is bounded separately).
    ``confirmed_evictable_bytes`` is what evicting the evidence of every confirmed event would
    free: files no unconfirmed event references.
    """

    database_bytes: int
    evidence_bytes: int
    events: int
    pending: int
    confirmed_evictable_bytes: int
    budget_bytes: int

    @property
    def used_bytes(self) -> int:
        """What counts against the budget: database plus evidence."""
        return self.database_bytes + self.evidence_bytes


def _stored_json(event: Event) -> str:
    """The event as stored: plain JSON; NaN, infinities and non-JSON values are refused."""
    return json.dumps(event.model_dump(), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


class EventStore:
    """The outbox of one device; see the module docstring for what it guarantees.

    Threads: the store owns one SQLite connection (``check_same_thread=False``) and every call
    holds one lock. SQLite lets only one writer in at a time anyway, so more connections would
    only add ``SQLITE_BUSY`` retries between threads of the same process; one connection under a
    lock gives every append one consistent view of the chain head with no retry logic, and the
    reads (``pending``, ``events``) are short indexed queries. The cost, a reader waiting for a
    writer's fsync, is a few milliseconds. :meth:`check` hashes every retained evidence file
    while holding the lock: run it at start, in the self-test or in maintenance, not per frame.

    ``sign``, when given, is called with each finished event (its ``sig`` still None) and returns
    the signature stored in ``sig``; the chain digest excludes ``sig``.

    ``reserve_bytes`` of the budget are kept for appends with ``use_reserve``: ordinary appends
    must leave them free. An append is admitted on the bytes used before it plus its new
    evidence, so the last ordinary append before the store is full may run into the reserve by
    its rows; the reserve must hold that and the few events meant for it.
    """

    def __init__(self, database: Path, evidence_dir: Path, *, device: str, site: str,
                 budget_bytes: int, reserve_bytes: int = 0,
                 sign: Callable[[Event], str] | None = None):
        self.database = Path(database)
        self.device = device
        self.site = site
        self.budget_bytes = budget_bytes
        self.reserve_bytes = reserve_bytes
        self._sign = sign
        self._lock = threading.Lock()
        self._evidence = EvidenceFolder(evidence_dir)
        self._lock_descriptor: int | None = _own_store(self._evidence.root / _LOCK_FILE_NAME)
        self._connection: sqlite3.Connection | None = None
        try:
            self._connection = open_durable_database(self.database)
            with self._sqlite_errors("preparing the database"):
                self._create_or_check_schema()
                self._sweep_evidence_folder()
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database and give up ownership; further calls raise :class:`StoreError`.
        Closing twice is fine."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if self._lock_descriptor is not None:
                os.close(self._lock_descriptor)
                self._lock_descriptor = None

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def append(self, drafts: Sequence[EventDraft], clock: ClockState, *,
               use_reserve: bool = False) -> list[Event]:
        """Store the drafts as events, with their evidence, atomically; returns the events.

        All or nothing: if anything fails (evidence write, disk full, signer, database) no row
        of this call is stored and the files it wrote are removed. Raises
        :class:`StorageFull` when the budget is spent and nothing confirmed is left to evict.
        ``use_reserve`` lets the drafts fill the reserve too (for the store's own fault events).
        """
        if not drafts:
            return []
        hashed = [[(blob, blob.sha256) for blob in draft.evidence] for draft in drafts]
        with self._lock, self._sqlite_errors("appending events"):
            connection = self._db()
            new_files = self._missing_files(hashed)
            self._make_room(sum(len(blob.data) for blob in new_files.values()), use_reserve)
            written: list[str] = []
            try:
                for sha256, blob in new_files.items():
                    self._evidence.write(sha256, blob.data)
                    written.append(sha256)
                with write_transaction(connection):
                    return self._insert(connection, drafts, hashed, clock)
            except BaseException:
                self._remove_unreferenced(connection, written)
                raise

    def confirm(self, upto_seq: int, digest: str) -> int | None:
        """The collector stored this store's chain up to event ``upto_seq``, whose digest it
        names (:class:`~roadcam.protocol.acks.ChainAck`): mark every event up to it confirmed, so they
        may be evicted. Returns how many were newly confirmed (0 for a repeated ack, or one
        naming an event already confirmed and evicted), or None, confirming nothing, when this
        store's event ``upto_seq`` does not exist or has another digest: the ack is for another
        store's chain (the device's store before a reset) and proves nothing about this one."""
        with self._lock, self._sqlite_errors("confirming events"):
            connection = self._db()
            head_seq, _, tail_seq, _ = _chain(connection)
            if upto_seq <= tail_seq:
                return 0
            if upto_seq > head_seq:
                return None
            row = connection.execute("SELECT body FROM events WHERE seq = ?", (upto_seq,)).fetchone()
            if row is None or Event.model_validate_json(row[0]).digest() != digest:
                return None
            with write_transaction(connection):
                cursor = connection.execute(
                    "UPDATE events SET confirmed = 1 WHERE seq <= ? AND confirmed = 0", (upto_seq,))
            return cursor.rowcount

    def enforce_budget(self) -> int:
        """Evict confirmed evidence, then confirmed rows, oldest first, until the store is within
        its budget or nothing confirmed is left. Returns the bytes freed. Never touches an
        unconfirmed event or a file one references."""
        with self._lock, self._sqlite_errors("evicting confirmed events"):
            return self._evict_down_to(self._db(), self.budget_bytes)

    # -- reading -----------------------------------------------------------------------------

    def pending(self, limit: int = 100, after_seq: int = 0) -> list[Event]:
        """Events not yet confirmed by the collector, in seq order, after ``after_seq``."""
        return self._select(
            "SELECT body FROM events WHERE confirmed = 0 AND seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit))

    def events(self, after_seq: int = 0, limit: int = 1000,
               types: Sequence[str] | None = None) -> list[Event]:
        """Retained events after ``after_seq`` in seq order, optionally only of some types."""
        return self._select(*_events_query(after_seq, limit, types))

    def last_seq(self) -> int:
        """Seq of the newest event ever stored (0 before the first); survives eviction."""
        with self._lock, self._sqlite_errors("reading the chain head"):
            return _chain(self._db())[0]

    def evidence_path(self, sha256: str) -> Path:
        """Where the evidence file with this sha256 is (or would be) stored."""
        return self._evidence.path(sha256)

    def read_evidence(self, sha256: str) -> bytes:
        """An evidence file's bytes, verified against its sha256; :class:`StoreError` if it is
        missing (never stored, or evicted) or corrupt."""
        return self._evidence.read(sha256)

    def usage(self) -> StoreUsage:
        """Current use of the disk budget."""
        with self._lock, self._sqlite_errors("measuring usage"):
            connection = self._db()
            events, pending = connection.execute(
                "SELECT COUNT(*), COALESCE(SUM(confirmed = 0), 0) FROM events").fetchone()
            evictable = connection.execute(
                """SELECT COALESCE(SUM(bytes), 0) FROM evidence_files AS file WHERE NOT EXISTS (
                       SELECT 1 FROM evidence_refs AS ref JOIN events ON events.seq = ref.seq
                       WHERE ref.sha256 = file.sha256 AND events.confirmed = 0)""").fetchone()[0]
            return StoreUsage(database_bytes=_database_bytes(connection),
                              evidence_bytes=_evidence_bytes(connection), events=events,
                              pending=pending, confirmed_evictable_bytes=evictable,
                              budget_bytes=self.budget_bytes)

    def check(self) -> list[str]:
        """Verify the store: SQLite's integrity check, the hash chain from the last evicted event
        to the head, each row's columns against its JSON, and every evidence file a retained
        event holds. Returns one line per problem; empty means all is well."""
        with self._lock, self._sqlite_errors("checking the store"):
            connection = self._db()
            integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            problems = [] if integrity == ["ok"] else [f"database: {line}" for line in integrity]
            problems += self._chain_problems(connection)
            problems += _evidence_total_problems(connection)
            problems += self._evidence_problems(connection)
            return problems

    # -- internals: opening ------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"the event store {self.database} is closed")
        return self._connection

    def _create_or_check_schema(self) -> None:
        connection = self._db()
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version != 0:
            raise StoreError(
                f"{self.database} has schema version {version}, this roadcam knows only "
                f"{SCHEMA_VERSION}: it was written by another roadcam version. Install the "
                "matching version, or move the file away to start a new outbox.")
        with write_transaction(connection):
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _sweep_evidence_folder(self) -> None:
        """Remove what a crash left: temporary files, and files no row references (written just
        before a crash that came ahead of their row's commit, or evicted just before the file
        was deleted)."""
        connection = self._db()
        temporary = self._evidence.remove_temporary_files()
        known = {row[0] for row in connection.execute("SELECT sha256 FROM evidence_files")}
        orphans = [sha256 for sha256 in self._evidence.stored() if sha256 not in known]
        for sha256 in orphans:
            self._evidence.remove(sha256)
        if temporary or orphans:
            log.info("evidence folder %s: removed %d temporary and %d unreferenced files left "
                     "by an interrupted run", self._evidence.root, temporary, len(orphans))

    # -- internals: writing ------------------------------------------------------------------

    @contextmanager
    def _sqlite_errors(self, action: str) -> Iterator[None]:
        """Turn SQLite's errors into the store's: a full disk is :class:`StorageFull`."""
        try:
            yield
        except sqlite3.Error as error:
            if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise StorageFull(
                    f"the disk holding {self.database} is full ({action}). Free space on that "
                    "disk, or lower storage.budget_mb below the free space so confirmed events "
                    "are evicted first.") from error
            raise StoreError(
                f"the event database {self.database} failed while {action}: {error}. If this "
                "repeats, run the store check (self-test); the storage medium may be failing."
            ) from error

    def _missing_files(self, hashed: list[list[tuple[EvidenceBlob, str]]]
                       ) -> dict[str, EvidenceBlob]:
        """The blobs of this call that are not stored yet, by sha256 (each once)."""
        connection = self._db()
        missing: dict[str, EvidenceBlob] = {}
        for blob, sha256 in (pair for pairs in hashed for pair in pairs):
            if sha256 in missing:
                continue
            recorded = connection.execute(
                "SELECT 1 FROM evidence_files WHERE sha256 = ?", (sha256,)).fetchone()
            if recorded is None or not self._evidence.path(sha256).exists():
                missing[sha256] = blob
        return missing

    def _make_room(self, incoming_bytes: int, use_reserve: bool) -> None:
        """Evict confirmed data so ``incoming_bytes`` more fit in the budget (less the reserve,
        unless ``use_reserve``), or raise :class:`StorageFull` having evicted nothing that was
        not confirmed."""
        connection = self._db()
        usable_bytes = self.budget_bytes - (0 if use_reserve else self.reserve_bytes)
        target_bytes = usable_bytes - incoming_bytes
        if _used_bytes(connection) <= target_bytes:
            return
        self._evict_down_to(connection, target_bytes)
        used = _used_bytes(connection)
        if used <= target_bytes:
            return
        pending = connection.execute(
            "SELECT COUNT(*) FROM events WHERE confirmed = 0").fetchone()[0]
        kept_back = "" if use_reserve or not self.reserve_bytes else (
            f", {self.reserve_bytes} of them kept for fault events")
        raise StorageFull(
            f"event store full: {used} bytes used of a {self.budget_bytes}-byte budget "
            f"(storage.budget_mb{kept_back}) and {incoming_bytes} more needed, but the {pending} events "
            "the collector has not yet confirmed cannot be evicted. Check the uplink to the "
            "collector (events are evicted only once it acknowledges them), or raise "
            "storage.budget_mb if the disk has room.")

    def _insert(self, connection: sqlite3.Connection, drafts: Sequence[EventDraft],
                hashed: list[list[tuple[EvidenceBlob, str]]], clock: ClockState) -> list[Event]:
        """Insert the rows of one append; the caller holds the transaction."""
        seq, prev = _chain(connection)[:2]
        events = []
        for draft, blobs in zip(drafts, hashed):
            seq += 1
            event, body = self._seal(draft, blobs, clock, seq, prev)
            connection.execute(
                "INSERT INTO events (seq, id, type, time_ns, body, holds_evidence) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (seq, event.id, event.type, draft.time_ns, body, int(bool(blobs))))
            for blob, sha256 in blobs:
                connection.execute(
                    "INSERT OR IGNORE INTO evidence_files (sha256, bytes) VALUES (?, ?)",
                    (sha256, len(blob.data)))
                connection.execute(
                    "INSERT OR IGNORE INTO evidence_refs (seq, sha256) VALUES (?, ?)", (seq, sha256))
            prev = event.digest()
            events.append(event)
        connection.execute("UPDATE chain SET head_seq = ?, head_digest = ?", (seq, prev))
        return events

    def _seal(self, draft: EventDraft, blobs: list[tuple[EvidenceBlob, str]], clock: ClockState,
              seq: int, prev: str | None) -> tuple[Event, str]:
        """Make the event for a draft; returns it and its stored JSON.

        The event is passed through its JSON once, so what is returned, hashed and signed is
        exactly what a later read gives back (tuples become lists, keys become strings).
        """
        built = Event(
            id=uuid7(draft.time_ns // 1_000_000), device=self.device, site=self.site,
            type=draft.type, time=iso_utc(draft.time_ns), seq=seq, clock=clock.as_dict(),
            data=draft.data, prev=prev,
            evidence=[EvidenceRef(sha256=sha256, kind=blob.kind, bytes=len(blob.data),
                                  media_type=blob.media_type) for blob, sha256 in blobs])
        event = Event.model_validate_json(_stored_json(built))
        if self._sign is not None:
            event = Event.model_validate({**event.model_dump(), "sig": self._sign(event)})
        return event, _stored_json(event)

    def _remove_unreferenced(self, connection: sqlite3.Connection,
                             candidates: Sequence[str]) -> None:
        """Delete the files among ``candidates`` that no stored row references."""
        for sha256 in candidates:
            recorded = connection.execute(
                "SELECT 1 FROM evidence_files WHERE sha256 = ?", (sha256,)).fetchone()
            if recorded is None:
                self._evidence.remove(sha256)

    # -- internals: eviction -----------------------------------------------------------------

    def _evict_down_to(self, connection: sqlite3.Connection, target_bytes: int) -> int:
        """Evict confirmed evidence, then confirmed rows, until at most ``target_bytes`` are used.

        Files are deleted only after the transaction that dropped their last reference has
        committed: a crash in between leaves an unreferenced file (swept at start), never a
        reference to a missing file. Returns the bytes freed.
        """
        used_before = _used_bytes(connection)
        if used_before <= target_bytes:
            return 0
        with write_transaction(connection):
            released = self._evict_confirmed_evidence(connection, used_before - target_bytes)
            if _used_bytes(connection) > target_bytes:
                self._evict_confirmed_rows(connection, target_bytes)
        self._remove_unreferenced(connection, released)
        return used_before - _used_bytes(connection)

    def _evict_confirmed_evidence(self, connection: sqlite3.Connection,
                                  excess_bytes: int) -> list[str]:
        """Drop the evidence references of confirmed events, oldest first, until files of
        ``excess_bytes`` are unreferenced; returns the sha256 of those files."""
        released: list[str] = []
        released_bytes = 0
        after_seq = 0
        while released_bytes < excess_bytes:
            row = connection.execute(
                "SELECT seq FROM events WHERE holds_evidence = 1 AND confirmed = 1 AND seq > ? "
                "ORDER BY seq LIMIT 1", (after_seq,)).fetchone()
            if row is None:
                break
            after_seq = row[0]
            referenced = [ref[0] for ref in connection.execute(
                "SELECT sha256 FROM evidence_refs WHERE seq = ?", (after_seq,))]
            connection.execute("DELETE FROM evidence_refs WHERE seq = ?", (after_seq,))
            connection.execute("UPDATE events SET holds_evidence = 0 WHERE seq = ?", (after_seq,))
            for sha256 in referenced:
                if connection.execute("SELECT 1 FROM evidence_refs WHERE sha256 = ?",
                                      (sha256,)).fetchone() is None:
                    released_bytes += connection.execute(
                        "SELECT bytes FROM evidence_files WHERE sha256 = ?",
                        (sha256,)).fetchone()[0]
                    connection.execute("DELETE FROM evidence_files WHERE sha256 = ?", (sha256,))
                    released.append(sha256)
        return released

    def _evict_confirmed_rows(self, connection: sqlite3.Connection, target_bytes: int) -> None:
        """Delete the oldest rows while they are confirmed and hold no evidence, until at most
        ``target_bytes`` are used; the chain's tail moves to the last deleted row."""
        while _used_bytes(connection) > target_bytes:
            oldest = connection.execute(
                "SELECT seq, body, confirmed, holds_evidence FROM events ORDER BY seq LIMIT ?",
                (_ROW_EVICTION_BATCH,)).fetchall()
            evictable = []
            for row in oldest:
                if not row[2] or row[3]:
                    break
                evictable.append(row)
            if not evictable:
                return
            last_seq, last_body = evictable[-1][:2]
            connection.execute("DELETE FROM events WHERE seq <= ?", (last_seq,))
            connection.execute("UPDATE chain SET tail_seq = ?, tail_digest = ?",
                               (last_seq, Event.model_validate_json(last_body).digest()))

    # -- internals: reading and checking -----------------------------------------------------

    def _select(self, query: str, parameters: tuple) -> list[Event]:
        with self._lock, self._sqlite_errors("reading events"):
            rows = self._db().execute(query, parameters).fetchall()
        return [Event.model_validate_json(row[0]) for row in rows]

    def _chain_problems(self, connection: sqlite3.Connection) -> list[str]:
        """Walk the rows from the chain's tail to its head and report every break."""
        head_seq, head_digest, tail_seq, tail_digest = _chain(connection)
        problems = []
        expected_seq, expected_prev = tail_seq + 1, tail_digest
        for seq, event_id, event_type, body in connection.execute(
                "SELECT seq, id, type, body FROM events ORDER BY seq"):
            try:
                event = Event.model_validate_json(body)
            except ValueError as error:
                problems.append(f"event {seq}: its stored JSON cannot be read ({error})")
                expected_seq, expected_prev = seq + 1, None
                continue
            if (event.seq, event.id, event.type) != (seq, event_id, event_type):
                problems.append(f"event {seq}: its indexed columns do not match its JSON "
                                f"(seq {event.seq}, id {event.id}, type {event.type})")
            if seq != expected_seq:
                problems.append(f"events {expected_seq} to {seq - 1} are missing (chain broken)")
            elif event.prev != expected_prev:
                problems.append(f"event {seq}: prev does not match the digest of the event "
                                "before it (a row was altered, replaced or reordered)")
            expected_seq, expected_prev = seq + 1, event.digest()
        if expected_seq - 1 != head_seq:
            problems.append(f"the chain head is event {head_seq} but the last retained event is "
                            f"{expected_seq - 1} (newest events missing)")
        elif expected_prev != head_digest:
            problems.append(f"event {head_seq} does not match the digest recorded for the chain "
                            "head (the newest row was altered)")
        return problems

    def _evidence_problems(self, connection: sqlite3.Connection) -> list[str]:
        """Every evidence file a retained event holds must exist and match its sha256."""
        problems = []
        checked: set[str] = set()
        for seq, body in connection.execute(
                "SELECT seq, body FROM events WHERE holds_evidence = 1 ORDER BY seq"):
            try:
                references = Event.model_validate_json(body).evidence
            except ValueError:
                continue  # already reported by the chain walk
            for reference in references:
                if reference.sha256 in checked:
                    continue
                checked.add(reference.sha256)
                problem = self._evidence.problem(reference.sha256)
                if problem is not None:
                    problems.append(f"event {seq}: {problem}")
        return problems


def read_events(database: Path, *, after_seq: int = 0, limit: int = 1000,
                types: Sequence[str] | None = None) -> list[Event]:
    """Read events from a store's database without owning the store.

    Opens the file read-only (no lock, no sweep, no schema changes), so ``roadcam events
    --follow`` can watch the store of a running appliance; WAL lets it read while the appliance
    writes.
    """
    try:
        connection = sqlite3.connect(f"file:{Path(database).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the event store {database} for reading: {error}") from error
    try:
        rows = connection.execute(*_events_query(after_seq, limit, types)).fetchall()
    except sqlite3.Error as error:
        raise StoreError(f"cannot read events from {database}: {error}") from error
    finally:
        connection.close()
    return [Event.model_validate_json(row[0]) for row in rows]


def _events_query(after_seq: int, limit: int, types: Sequence[str] | None) -> tuple[str, tuple]:
    """The query for retained events after ``after_seq`` in seq order, optionally by type."""
    if types is None:
        return "SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
    placeholders = ", ".join("?" for _ in types)
    return (f"SELECT body FROM events WHERE seq > ? AND type IN ({placeholders}) ORDER BY seq LIMIT ?",
            (after_seq, *types, limit))


def _chain(connection: sqlite3.Connection) -> tuple[int, str | None, int, str | None]:
    """(head seq, head digest, tail seq, tail digest) of the hash chain."""
    return connection.execute(
        "SELECT head_seq, head_digest, tail_seq, tail_digest FROM chain").fetchone()


def _own_store(lock_path: Path) -> int:
    """Take the exclusive lock that makes this process the store's only owner; returns its
    descriptor, which holds the lock until closed.

    One owner is what makes the start-up sweep safe: it deletes temporary and unreferenced
    files, which in a second live process could be files still on their way to a commit. The
    kernel drops the lock when its process dies, even by ``kill -9``.
    """
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise StoreError(f"cannot create the store's lock file {lock_path}: {error.strerror}. "
                         "Check that the evidence folder is writable.") from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        os.close(descriptor)
        raise StoreError(f"the event store in {lock_path.parent} is already open in another "
                         "process (a running roadcam?). Only one process may own a store: stop "
                         "the other one first.") from error
    return descriptor


def _evidence_total_problems(connection: sqlite3.Connection) -> list[str]:
    """The kept evidence total must equal the sum over the files it stands for."""
    counted = connection.execute("SELECT COALESCE(SUM(bytes), 0) FROM evidence_files").fetchone()[0]
    kept = _evidence_bytes(connection)
    if counted == kept:
        return []
    return [f"the evidence total says {kept} bytes but the files listed add up to {counted}"]


def _database_bytes(connection: sqlite3.Connection) -> int:
    """Bytes of the database pages holding live data (free pages are reused, not counted)."""
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    page_count = connection.execute("PRAGMA page_count").fetchone()[0]
    free_pages = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return (page_count - free_pages) * page_size


def _evidence_bytes(connection: sqlite3.Connection) -> int:
    """Bytes of the evidence files rows reference (the trigger-kept total)."""
    return connection.execute("SELECT bytes FROM evidence_total").fetchone()[0]


def _used_bytes(connection: sqlite3.Connection) -> int:
    """What counts against the budget (see :class:`StoreUsage`)."""
    return _database_bytes(connection) + _evidence_bytes(connection)
