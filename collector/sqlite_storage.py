"""The collector's default storage: SQLite (WAL, ``synchronous=FULL``) plus an evidence folder.

Events are rows keyed by their id (``INSERT OR IGNORE``: a redelivered event is a no-op).
Evidence files are content-addressed in an :class:`~appliance.evidence_files.EvidenceFolder`,
written and fsynced before the transaction that records them commits, like on the device.

Several collector processes may share one database file: every batch is one ``BEGIN
IMMEDIATE`` transaction, so the per-device contiguous seq and the chain checks are computed
under SQLite's single writer lock and stay consistent however the broker splits the messages.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from appliance.errors import StoreError
from appliance.events import Event
from appliance.evidence_files import EvidenceFolder
from appliance.store import _open_database, _transaction

from .ingest import DeviceHealth, DeviceStatus, Verified, VerifiedEvent, VerifiedEvidence
from .storage import DeviceRecord, EventQuery, Gap, Problem, StoredBatch

#: Version of the collector's database layout, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE events (
        id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        site TEXT NOT NULL,
        type TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time_ns INTEGER NOT NULL,
        plate TEXT,
        digest TEXT NOT NULL,
        prev TEXT,
        body TEXT NOT NULL,
        received_ns INTEGER NOT NULL
    )""",
    "CREATE INDEX events_by_device_seq ON events (device, seq)",
    "CREATE INDEX events_by_plate ON events (plate, time_ns)",
    "CREATE INDEX events_by_type ON events (type, time_ns)",
    "CREATE INDEX events_by_time ON events (time_ns)",
    """CREATE TABLE evidence (
        sha256 TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL,
        device TEXT NOT NULL,
        received_ns INTEGER NOT NULL
    )""",
    """CREATE TABLE devices (
        device TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        contiguous_seq INTEGER NOT NULL DEFAULT 0,
        online INTEGER,
        status_ns INTEGER,
        health_json TEXT,
        health_ns INTEGER
    )""",
    """CREATE TABLE problems (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        recorded_ns INTEGER NOT NULL
    )""",
)


class SQLiteStorage:
    """:class:`~collector.storage.CollectorStorage` on one SQLite file; thread-safe (one
    connection under a lock, as SQLite admits one writer at a time anyway)."""

    def __init__(self, database: Path, evidence_dir: Path):
        self.database = Path(database)
        self._evidence = EvidenceFolder(evidence_dir)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = _open_database(self.database)
        try:
            self._create_or_check_schema()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> SQLiteStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def store(self, items: Sequence[Verified], received_ns: int) -> StoredBatch:
        with self._lock, _sqlite_errors(self.database, "storing a batch"):
            connection = self._db()
            for item in items:
                if isinstance(item, VerifiedEvidence):
                    self._evidence.write(item.sha256, item.data)
            stored = duplicates = 0
            touched: dict[str, str] = {}
            with _transaction(connection):
                for item in items:
                    if isinstance(item, VerifiedEvent):
                        touched[item.event.device] = item.event.site
                        if _insert_event(connection, item, received_ns):
                            stored += 1
                        else:
                            duplicates += 1
                    elif isinstance(item, VerifiedEvidence):
                        connection.execute(
                            "INSERT OR IGNORE INTO evidence (sha256, bytes, device, received_ns) "
                            "VALUES (?, ?, ?, ?)",
                            (item.sha256, len(item.data), item.device, received_ns))
                    elif isinstance(item, DeviceStatus):
                        _ensure_device(connection, item.device, item.site)
                        connection.execute(
                            "UPDATE devices SET online = ?, status_ns = ? WHERE device = ?",
                            (int(item.online), received_ns, item.device))
                    elif isinstance(item, DeviceHealth):
                        _ensure_device(connection, item.device, item.site)
                        connection.execute(
                            "UPDATE devices SET health_json = ?, health_ns = ? WHERE device = ?",
                            (item.summary_json, received_ns, item.device))
                acks = {(site, device): _advance_contiguous(connection, device, site)
                        for device, site in touched.items()}
            return StoredBatch(stored=stored, duplicates=duplicates, acks=acks)

    # -- reading -----------------------------------------------------------------------------

    def events(self, query: EventQuery) -> list[Event]:
        conditions, parameters = [], []
        for column, value in (("plate", query.plate), ("device", query.device),
                              ("type", query.type)):
            if value is not None:
                conditions.append(f"{column} = ?")
                parameters.append(value)
        if query.since_ns is not None:
            conditions.append("time_ns >= ?")
            parameters.append(query.since_ns)
        if query.until_ns is not None:
            conditions.append("time_ns < ?")
            parameters.append(query.until_ns)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT body FROM events {where} ORDER BY time_ns, device, seq LIMIT ?"
        rows = self._read(sql, (*parameters, query.limit))
        return [Event.model_validate_json(row[0]) for row in rows]

    def read_evidence(self, sha256: str) -> bytes:
        return self._evidence.read(sha256)

    def evidence_path(self, sha256: str) -> Path:
        return self._evidence.path(sha256)

    def devices(self) -> list[DeviceRecord]:
        rows = self._read("SELECT device, site, online, status_ns, health_json, health_ns, "
                          "contiguous_seq FROM devices ORDER BY device", ())
        return [DeviceRecord(device=row[0], site=row[1],
                             online=None if row[2] is None else bool(row[2]), status_ns=row[3],
                             health_json=row[4], health_ns=row[5], contiguous_seq=row[6])
                for row in rows]

    def problems(self) -> list[Problem]:
        rows = self._read("SELECT device, seq, kind, detail, recorded_ns FROM problems ORDER BY id", ())
        return [Problem(*row) for row in rows]

    def gaps(self) -> list[Gap]:
        rows = self._read(
            """SELECT events.device, events.seq FROM events JOIN devices USING (device)
               WHERE events.seq > devices.contiguous_seq ORDER BY events.device, events.seq""", ())
        contiguous = {record.device: record.contiguous_seq for record in self.devices()}
        gaps = []
        last_seen: dict[str, int] = {}
        for device, seq in rows:
            previous = last_seen.get(device, contiguous[device])
            if seq > previous + 1:
                gaps.append(Gap(device=device, first=previous + 1, last=seq - 1))
            last_seen[device] = max(previous, seq)
        return gaps

    # -- internals ---------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"the collector database {self.database} is closed")
        return self._connection

    def _read(self, sql: str, parameters: tuple) -> list[tuple]:
        with self._lock, _sqlite_errors(self.database, "reading"):
            return self._db().execute(sql, parameters).fetchall()

    def _create_or_check_schema(self) -> None:
        connection = self._db()
        with _sqlite_errors(self.database, "preparing the database"), _transaction(connection):
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version != 0:
                raise StoreError(
                    f"{self.database} has collector schema version {version}, this roadcam "
                    f"knows only {SCHEMA_VERSION}. Install the matching roadcam version.")
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _insert_event(connection: sqlite3.Connection, item: VerifiedEvent, received_ns: int) -> bool:
    """Insert one event and check its links to its stored neighbours; False for a duplicate."""
    event = item.event
    cursor = connection.execute(
        """INSERT OR IGNORE INTO events
           (id, device, site, type, seq, time_ns, plate, digest, prev, body, received_ns)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (event.id, event.device, event.site, event.type, event.seq, item.time_ns, item.plate,
         item.digest, event.prev, _body_json(event), received_ns))
    if cursor.rowcount == 0:
        return False
    _ensure_device(connection, event.device, event.site)
    for problem in _link_problems(connection, item):
        connection.execute(
            "INSERT INTO problems (device, seq, kind, detail, recorded_ns) VALUES (?, ?, ?, ?, ?)",
            (event.device, event.seq, problem[0], problem[1], received_ns))
    return True


def _link_problems(connection: sqlite3.Connection, item: VerifiedEvent) -> list[tuple[str, str]]:
    """(kind, detail) of every way the new event disagrees with the stored ones around it."""
    event = item.event
    problems = []
    same_seq = connection.execute(
        "SELECT id FROM events WHERE device = ? AND seq = ? AND id != ?",
        (event.device, event.seq, event.id)).fetchall()
    for (other_id,) in same_seq:
        problems.append(("seq_conflict", f"events {other_id} and {event.id} both claim seq "
                                         f"{event.seq}"))
    if event.seq == 1 and event.prev is not None:
        problems.append(("chain_break", f"event {event.id} is seq 1 but links to a previous event"))
    before = [row[0] for row in connection.execute(
        "SELECT digest FROM events WHERE device = ? AND seq = ?", (event.device, event.seq - 1))]
    if before and event.prev not in before:
        problems.append(("chain_break", f"event {event.id} (seq {event.seq}): prev does not match "
                                        f"the stored seq {event.seq - 1}"))
    for after_id, after_prev in connection.execute(
            "SELECT id, prev FROM events WHERE device = ? AND seq = ?",
            (event.device, event.seq + 1)):
        if after_prev != item.digest:
            problems.append(("chain_break", f"event {after_id} (seq {event.seq + 1}): prev does "
                                            f"not match the digest of seq {event.seq}"))
    return problems


def _ensure_device(connection: sqlite3.Connection, device: str, site: str) -> None:
    connection.execute("INSERT OR IGNORE INTO devices (device, site) VALUES (?, ?)", (device, site))


def _advance_contiguous(connection: sqlite3.Connection, device: str, site: str) -> int:
    """Move the device's contiguous seq past every seq now stored right after it; returns it."""
    contiguous = connection.execute("SELECT contiguous_seq FROM devices WHERE device = ?",
                                    (device,)).fetchone()[0]
    start = contiguous
    while connection.execute("SELECT 1 FROM events WHERE device = ? AND seq = ? LIMIT 1",
                             (device, contiguous + 1)).fetchone() is not None:
        contiguous += 1
    if contiguous != start:
        connection.execute("UPDATE devices SET contiguous_seq = ?, site = ? WHERE device = ?",
                           (contiguous, site, device))
    return contiguous


def _body_json(event: Event) -> str:
    return json.dumps(event.model_dump(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@contextmanager
def _sqlite_errors(database: Path, doing: str) -> Iterator[None]:
    """Turn sqlite3 errors into StoreError naming the database and what was being done."""
    try:
        yield
    except sqlite3.Error as error:
        raise StoreError(f"collector database {database}: {error} while {doing}. Check that the "
                         "disk holding it is mounted, writable and not full.") from error
