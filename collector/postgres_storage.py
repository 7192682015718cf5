"""The collector's storage for a city: PostgreSQL (through psycopg 3) plus an evidence folder.

Same tables, columns and guarantees as :mod:`roadcam.collector.sqlite_storage`; everything but the
connection lives in :class:`~roadcam.collector.sql_storage.SqlStorage`. Evidence files stay
content-addressed on the collector's disk, written and fsynced before the transaction that
records them commits.

Several collector processes may share one database: every batch (and the schema set-up) is one
transaction that first takes a transaction-scoped advisory lock, the same single writer lock
SQLite has, so the contiguous seq and the chain checks stay consistent. Readers never wait for
it. The session asks for ``synchronous_commit = on`` so a commit is durable when ``store``
returns; a connection lost to a server restart is opened again on the next call, so the
collector's retry succeeds once the server is back.

psycopg is imported only here, so a collector on SQLite runs without it installed
(``pip install roadcam[postgres]`` adds it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from roadcam.common.errors import StoreError

from .sql_storage import SCHEMA_VERSION, SqlStorage, schema_statements
from .storage import DataRefused

#: Key of the advisory lock every writer transaction holds ("roadcam" in ASCII).
WRITER_LOCK_KEY = 0x726F616463616D


class PostgresStorage(SqlStorage):
    """:class:`~roadcam.collector.storage.CollectorStorage` on a PostgreSQL database named by a
    ``postgresql://`` URL."""

    #: "C" collation sorts text by bytes, as SQLite does, so both list in the same order.
    TEXT_TYPE = 'TEXT COLLATE "C"'

    def __init__(self, url: str, evidence_dir: Path):
        super().__init__(evidence_dir)
        self.url = url
        self._psycopg = _import_psycopg()
        self._connection = None
        self._closed = False
        try:
            self._create_or_check_schema()
        except BaseException:
            self.close()
            raise

    def _db(self) -> Any:
        """The open connection, (re)connecting when there is none or the last one broke."""
        if self._closed:
            raise StoreError(f"the collector database {self.description()} is closed")
        if self._connection is None or self._connection.broken:
            self._connection = self._psycopg.connect(self.url, autocommit=True)
            self._connection.execute("SET synchronous_commit = on")
        return self._connection

    def _execute(self, sql: str, parameters: tuple = ()) -> Any:
        return self._db().execute(sql.replace("?", "%s"), parameters)

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        with self._db().cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def _writer_transaction(self) -> Iterator[None]:
        with self._db().transaction():
            self._execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK_KEY,))
            yield

    @contextmanager
    def _driver_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (self._psycopg.DataError, self._psycopg.IntegrityError) as error:
            raise DataRefused(f"collector database {self.description()}: {str(error).strip()} "
                              f"while {doing}") from error
        except self._psycopg.Error as error:
            raise StoreError(
                f"collector database {self.description()}: {str(error).strip()} while {doing}. "
                "Check storage.url (host, port, database, user, password) and that the "
                "PostgreSQL server is running and accepts this collector.") from error

    def _schema_statements(self) -> tuple[str, ...]:
        return (*schema_statements(self.TEXT_TYPE, "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
                "CREATE TABLE collector_schema (version INTEGER NOT NULL)")

    def _schema_version(self) -> int:
        if self._execute("SELECT to_regclass('collector_schema')").fetchone()[0] is None:
            return 0
        row = self._execute("SELECT version FROM collector_schema").fetchone()
        return 0 if row is None else row[0]

    def _record_schema_version(self) -> None:
        self._execute("DELETE FROM collector_schema")
        self._execute("INSERT INTO collector_schema (version) VALUES (?)", (SCHEMA_VERSION,))

    def _close_connection(self) -> None:
        self._closed = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def description(self) -> str:
        """The URL without its password, safe to log."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()


def _import_psycopg() -> Any:
    """psycopg, or StoreError telling how to install it."""
    try:
        import psycopg
    except ImportError as error:
        raise StoreError("storage.url names a PostgreSQL database but psycopg is not installed: "
                         "install roadcam with its postgres extra (pip install 'roadcam[postgres]')."
                         ) from error
    return psycopg
