"""Where section decisions are kept: the ``speed_sections`` table, beside the events, in the
collector's own database (SQLite or PostgreSQL), through the backend's own connection, lock and
writer transaction.

The table belongs to section matching and is created on first use (``IF NOT EXISTS``), so a
database without sections configured never has it, and the core schema's version is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from roadcam.protocol.events import Event

from .sections import SectionResult, result_from_row
from .sql_storage import SqlStorage
from .storage import EventQuery


class SectionTable:
    """:class:`~roadcam.collector.sections.SectionStorage` on a collector SQL backend."""

    def __init__(self, storage: SqlStorage):
        self.storage = storage
        text = storage.TEXT_TYPE
        with storage._lock, storage._driver_errors("preparing the section table"), storage._writer_transaction():
            storage._execute(f"""CREATE TABLE IF NOT EXISTS speed_sections (
                id {text} PRIMARY KEY,
                section {text} NOT NULL,
                kind {text} NOT NULL,
                plate {text} NOT NULL,
                time_ns BIGINT NOT NULL,
                violation INTEGER NOT NULL,
                entry_id {text},
                exit_id {text},
                data {text} NOT NULL,
                recorded_ns BIGINT NOT NULL
            )""")
            storage._execute("CREATE INDEX IF NOT EXISTS speed_sections_by_time ON speed_sections (time_ns)")

    def events(self, query: EventQuery) -> list[Event]:
        return self.storage.events(query)

    def store_sections(self, results: Sequence[SectionResult], recorded_ns: int) -> None:
        """Store decisions in one transaction; one already stored (same id) stays as it was."""
        storage = self.storage
        with storage._lock, storage._driver_errors("storing section results"), storage._writer_transaction():
            storage._execute_many(
                "INSERT INTO speed_sections (id, section, kind, plate, time_ns, violation, entry_id, exit_id, "
                "data, recorded_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                [(r.id, r.section, r.kind, r.plate, r.time_ns, int(r.violation), r.entry_id, r.exit_id,
                  json.dumps(r.data, sort_keys=True), recorded_ns) for r in results])

    def record_problem(self, device: str, seq: int, kind: str, detail: str, recorded_ns: int) -> None:
        """A problem with a device's events, in the backend's ``problems`` list (a false clock)."""
        storage = self.storage
        with storage._lock, storage._driver_errors("recording a problem"), storage._writer_transaction():
            storage._execute("INSERT INTO problems (device, seq, kind, detail, recorded_ns) VALUES (?, ?, ?, ?, ?)",
                             (device, seq, kind, detail, recorded_ns))

    def receipts(self, event_type: str, since_ns: int | None) -> dict[str, int]:
        """Event id -> when the collector received it, for the events of a type from ``since_ns``."""
        storage = self.storage
        where, parameters = ("type = ? AND time_ns >= ?", (event_type, since_ns)) if since_ns is not None \
            else ("type = ?", (event_type,))
        with storage._lock, storage._driver_errors("reading receipt times"):
            rows = storage._execute(f"SELECT id, received_ns FROM events WHERE {where}", parameters).fetchall()
        return dict(rows)

    def section_results(self, since_ns: int | None = None, until_ns: int | None = None,
                        section: str | None = None, limit: int = 1000,
                        newest_first: bool = False) -> list[SectionResult]:
        """Stored decisions by time (``until`` exclusive), oldest first unless ``newest_first``."""
        conditions: list[str] = []
        parameters: list[Any] = []
        for condition, value in (("time_ns >= ?", since_ns), ("time_ns < ?", until_ns), ("section = ?", section)):
            if value is not None:
                conditions.append(condition)
                parameters.append(value)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        order = "DESC" if newest_first else "ASC"
        storage = self.storage
        with storage._lock, storage._driver_errors("reading section results"):
            rows = storage._execute(
                "SELECT id, section, kind, plate, time_ns, violation, entry_id, exit_id, data "
                f"FROM speed_sections {where} ORDER BY time_ns {order}, id {order} LIMIT ?",
                (*parameters, limit)).fetchall()
        return [result_from_row(row) for row in rows]
