"""What the collector's SQL backends share: the schema, storing a batch, the chain checks, the
acked seq, the queries and the evidence folder.

A backend (:mod:`collector.sqlite_storage`, :mod:`collector.postgres_storage`) subclasses
:class:`SqlStorage` and supplies only its dialect and connection handling: how to run one
statement, how to open a writer transaction that serializes every writer (so the contiguous seq
and the chain checks stay consistent however many collectors share the database), how the schema
version is kept, and how its driver's errors become :class:`~appliance.errors.StoreError`.

SQL here uses ``?`` placeholders and ``INSERT ... ON CONFLICT DO NOTHING``, which both SQLite
and PostgreSQL understand; an event is stored under its id, so a redelivered one is a no-op.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Self

from appliance.errors import StoreError
from appliance.events import Event
from appliance.evidence_files import EvidenceFolder

from .ingest import DeviceHealth, DeviceStatus, Verified, VerifiedEvent, VerifiedEvidence
from .storage import DeviceRecord, EventQuery, Gap, Problem, StoredBatch

#: Version of the collector's database layout; every backend keeps it in its own way.
SCHEMA_VERSION = 1


def schema_statements(text_type: str, row_id_column: str) -> tuple[str, ...]:
    """The collector's tables in a dialect: ``text_type`` declares text columns (so a backend
    can ask for byte-order sorting) and ``row_id_column`` an auto-numbered primary key."""
    return (
        f"""CREATE TABLE events (
            id {text_type} PRIMARY KEY,
            device {text_type} NOT NULL,
            site {text_type} NOT NULL,
            type {text_type} NOT NULL,
            seq BIGINT NOT NULL,
            time_ns BIGINT NOT NULL,
            plate {text_type},
            digest {text_type} NOT NULL,
            prev {text_type},
            body {text_type} NOT NULL,
            received_ns BIGINT NOT NULL
        )""",
        "CREATE INDEX events_by_device_seq ON events (device, seq)",
        "CREATE INDEX events_by_plate ON events (plate, time_ns)",
        "CREATE INDEX events_by_type ON events (type, time_ns)",
        "CREATE INDEX events_by_time ON events (time_ns)",
        f"""CREATE TABLE evidence (
            sha256 {text_type} PRIMARY KEY,
            bytes BIGINT NOT NULL,
            device {text_type} NOT NULL,
            received_ns BIGINT NOT NULL
        )""",
        f"""CREATE TABLE devices (
            device {text_type} PRIMARY KEY,
            site {text_type} NOT NULL,
            contiguous_seq BIGINT NOT NULL DEFAULT 0,
            online INTEGER,
            status_ns BIGINT,
            health_json {text_type},
            health_ns BIGINT
        )""",
        f"""CREATE TABLE problems (
            {row_id_column},
            device {text_type} NOT NULL,
            seq BIGINT NOT NULL,
            kind {text_type} NOT NULL,
            detail {text_type} NOT NULL,
            recorded_ns BIGINT NOT NULL
        )""",
    )


class SqlStorage(ABC):
    """:class:`~collector.storage.CollectorStorage` on a SQL database plus an evidence folder;
    thread-safe (one connection used under a lock)."""

    def __init__(self, evidence_dir: Path):
        self._evidence = EvidenceFolder(evidence_dir)
        self._lock = threading.Lock()

    # -- what a backend supplies -------------------------------------------------------------

    @abstractmethod
    def _execute(self, sql: str, parameters: tuple = ()) -> Any:
        """Run one statement (``?`` placeholders); returns a DB-API cursor."""

    @abstractmethod
    def _writer_transaction(self) -> AbstractContextManager[None]:
        """A transaction holding the database's single writer lock; commits when the block ends."""

    @abstractmethod
    def _driver_errors(self, doing: str) -> AbstractContextManager[None]:
        """Turn the driver's errors into StoreError naming the database and ``doing``."""

    @abstractmethod
    def _schema_statements(self) -> tuple[str, ...]:
        """The schema in this backend's dialect (see :func:`schema_statements`)."""

    @abstractmethod
    def _schema_version(self) -> int:
        """The stored schema version, 0 for an empty database (inside the writer transaction)."""

    @abstractmethod
    def _record_schema_version(self) -> None:
        """Record :data:`SCHEMA_VERSION` (inside the writer transaction, after the tables)."""

    @abstractmethod
    def _close_connection(self) -> None:
        """Close the connection if it is open; closing twice is fine."""

    @abstractmethod
    def description(self) -> str:
        """The database as a technician would name it in a message."""

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._close_connection()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _create_or_check_schema(self) -> None:
        """Create the tables in an empty database, or check an existing one's version."""
        with self._lock, self._driver_errors("preparing the database"), self._writer_transaction():
            version = self._schema_version()
            if version == SCHEMA_VERSION:
                return
            if version != 0:
                raise StoreError(
                    f"{self.description()} has collector schema version {version}, this roadcam "
                    f"knows only {SCHEMA_VERSION}. Install the matching roadcam version.")
            for statement in self._schema_statements():
                self._execute(statement)
            self._record_schema_version()

    # -- writing -----------------------------------------------------------------------------

    def store(self, items: Sequence[Verified], received_ns: int) -> StoredBatch:
        with self._lock, self._driver_errors("storing a batch"):
            for item in items:
                if isinstance(item, VerifiedEvidence):
                    self._evidence.write(item.sha256, item.data)
            stored = duplicates = 0
            touched: dict[str, str] = {}
            with self._writer_transaction():
                for item in items:
                    if isinstance(item, VerifiedEvent):
                        touched[item.event.device] = item.event.site
                        if self._insert_event(item, received_ns):
                            stored += 1
                        else:
                            duplicates += 1
                    elif isinstance(item, VerifiedEvidence):
                        self._execute(
                            "INSERT INTO evidence (sha256, bytes, device, received_ns) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                            (item.sha256, len(item.data), item.device, received_ns))
                    elif isinstance(item, DeviceStatus):
                        self._ensure_device(item.device, item.site)
                        self._execute("UPDATE devices SET online = ?, status_ns = ? WHERE device = ?",
                                      (int(item.online), received_ns, item.device))
                    elif isinstance(item, DeviceHealth):
                        self._ensure_device(item.device, item.site)
                        self._execute(
                            "UPDATE devices SET health_json = ?, health_ns = ? WHERE device = ?",
                            (item.summary_json, received_ns, item.device))
                acks = {(site, device): self._advance_contiguous(device, site)
                        for device, site in touched.items()}
            return StoredBatch(stored=stored, duplicates=duplicates, acks=acks)

    def _insert_event(self, item: VerifiedEvent, received_ns: int) -> bool:
        """Insert one event and check its links to its stored neighbours; False for a duplicate."""
        event = item.event
        cursor = self._execute(
            """INSERT INTO events
               (id, device, site, type, seq, time_ns, plate, digest, prev, body, received_ns)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING""",
            (event.id, event.device, event.site, event.type, event.seq, item.time_ns, item.plate,
             item.digest, event.prev, _body_json(event), received_ns))
        if cursor.rowcount == 0:
            return False
        self._ensure_device(event.device, event.site)
        for kind, detail in self._link_problems(item):
            self._execute(
                "INSERT INTO problems (device, seq, kind, detail, recorded_ns) VALUES (?, ?, ?, ?, ?)",
                (event.device, event.seq, kind, detail, received_ns))
        return True

    def _link_problems(self, item: VerifiedEvent) -> list[tuple[str, str]]:
        """(kind, detail) of every way the new event disagrees with the stored ones around it."""
        event = item.event
        problems = []
        same_seq = self._execute("SELECT id FROM events WHERE device = ? AND seq = ? AND id != ?",
                                 (event.device, event.seq, event.id)).fetchall()
        for (other_id,) in same_seq:
            problems.append(("seq_conflict", f"events {other_id} and {event.id} both claim seq "
                                             f"{event.seq}"))
        if event.seq == 1 and event.prev is not None:
            problems.append(("chain_break", f"event {event.id} is seq 1 but links to a previous event"))
        before = [row[0] for row in self._execute(
            "SELECT digest FROM events WHERE device = ? AND seq = ?",
            (event.device, event.seq - 1)).fetchall()]
        if before and event.prev not in before:
            problems.append(("chain_break", f"event {event.id} (seq {event.seq}): prev does not "
                                            f"match the stored seq {event.seq - 1}"))
        after = self._execute("SELECT id, prev FROM events WHERE device = ? AND seq = ?",
                              (event.device, event.seq + 1)).fetchall()
        for after_id, after_prev in after:
            if after_prev != item.digest:
                problems.append(("chain_break", f"event {after_id} (seq {event.seq + 1}): prev "
                                                f"does not match the digest of seq {event.seq}"))
        return problems

    def _ensure_device(self, device: str, site: str) -> None:
        self._execute("INSERT INTO devices (device, site) VALUES (?, ?) "
                      "ON CONFLICT (device) DO NOTHING", (device, site))

    def _advance_contiguous(self, device: str, site: str) -> int:
        """Move the device's contiguous seq past every seq now stored right after it; returns it."""
        contiguous = self._execute("SELECT contiguous_seq FROM devices WHERE device = ?",
                                   (device,)).fetchone()[0]
        start = contiguous
        while self._execute("SELECT 1 FROM events WHERE device = ? AND seq = ? LIMIT 1",
                            (device, contiguous + 1)).fetchone() is not None:
            contiguous += 1
        if contiguous != start:
            self._execute("UPDATE devices SET contiguous_seq = ?, site = ? WHERE device = ?",
                          (contiguous, site, device))
        return contiguous

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
                          "contiguous_seq FROM devices ORDER BY device")
        return [DeviceRecord(device=row[0], site=row[1],
                             online=None if row[2] is None else bool(row[2]), status_ns=row[3],
                             health_json=row[4], health_ns=row[5], contiguous_seq=row[6])
                for row in rows]

    def problems(self) -> list[Problem]:
        rows = self._read("SELECT device, seq, kind, detail, recorded_ns FROM problems ORDER BY id")
        return [Problem(*row) for row in rows]

    def gaps(self) -> list[Gap]:
        rows = self._read(
            """SELECT events.device, events.seq, devices.contiguous_seq
               FROM events JOIN devices USING (device)
               WHERE events.seq > devices.contiguous_seq ORDER BY events.device, events.seq""")
        gaps = []
        last_seen: dict[str, int] = {}
        for device, seq, contiguous in rows:
            previous = last_seen.get(device, contiguous)
            if seq > previous + 1:
                gaps.append(Gap(device=device, first=previous + 1, last=seq - 1))
            last_seen[device] = max(previous, seq)
        return gaps

    def _read(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        with self._lock, self._driver_errors("reading"):
            return self._execute(sql, parameters).fetchall()


def _body_json(event: Event) -> str:
    return json.dumps(event.model_dump(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
