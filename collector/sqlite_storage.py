"""The collector's default storage: SQLite (WAL, ``synchronous=FULL``) plus an evidence folder.

Everything but the connection lives in :class:`~roadcam.collector.sql_storage.SqlStorage`. Evidence
files are written and fsynced before the transaction that records them commits, like on the
device.

Several collector processes may share one database file: every batch is one ``BEGIN
IMMEDIATE`` transaction, so the per-device contiguous seq and the chain checks are computed
under SQLite's single writer lock and stay consistent however the broker splits the messages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from roadcam.common.errors import StoreError
from roadcam.common.sqlite import open_durable_database, write_transaction

from .sql_storage import SCHEMA_VERSION, SqlStorage, schema_statements
from .storage import DataRefused


class SQLiteStorage(SqlStorage):
    """:class:`~roadcam.collector.storage.CollectorStorage` on one SQLite file."""

    def __init__(self, database: Path, evidence_dir: Path):
        super().__init__(evidence_dir)
        self.database = Path(database)
        self._connection: sqlite3.Connection | None = open_durable_database(self.database)
        try:
            self._create_or_check_schema()
        except BaseException:
            self.close()
            raise

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"the collector database {self.database} is closed")
        return self._connection

    def _execute(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        return self._db().execute(sql, parameters)

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        self._db().executemany(sql, rows)

    def _writer_transaction(self):
        return write_transaction(self._db())

    @contextmanager
    def _driver_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.DataError, sqlite3.IntegrityError) as error:
            raise DataRefused(f"collector database {self.database}: {error} while {doing}") from error
        except sqlite3.Error as error:
            raise StoreError(f"collector database {self.database}: {error} while {doing}. Check "
                             "that the disk holding it is mounted, writable and not full.") from error

    def _schema_statements(self) -> tuple[str, ...]:
        return schema_statements(self.TEXT_TYPE, "id INTEGER PRIMARY KEY AUTOINCREMENT")

    def _schema_version(self) -> int:
        return self._execute("PRAGMA user_version").fetchone()[0]

    def _record_schema_version(self) -> None:
        self._execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def description(self) -> str:
        return str(self.database)
