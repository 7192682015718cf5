"""SQLite opened for durability, shared by the device's outbox and the collector's database.

:func:`open_durable_database` opens a database in WAL mode with ``synchronous=FULL`` and reads
both settings back, so a store that cannot guarantee that a committed row survives a power cut
refuses to start; :func:`write_transaction` is one ``BEGIN IMMEDIATE`` transaction (SQLite's
single writer lock, taken at the start, so concurrent writers queue instead of failing later).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StoreError

_SYNCHRONOUS_FULL = 2
#: How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 5000
#: Bound on the WAL file left after a checkpoint.
JOURNAL_SIZE_LIMIT_BYTES = 8 * 1024 * 1024


def open_durable_database(database: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode with ``synchronous=FULL`` and read
    both settings back: a store that cannot guarantee durability refuses to start."""
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as error:
        raise StoreError(f"cannot open the event database {database}: {error}. Check "
                         "storage.database and that its folder is on a mounted, writable disk."
                         ) from error
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        journal_mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        connection.execute("PRAGMA synchronous = FULL")
        synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
        connection.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES}")
    except sqlite3.Error as error:
        connection.close()
        raise StoreError(f"cannot set up the event database {database}: {error}. It may not be "
                         "a roadcam database, or it may be damaged; move it away to start a new "
                         "outbox.") from error
    if str(journal_mode).lower() != "wal":
        connection.close()
        raise StoreError(
            f"the filesystem holding {database} refused SQLite's WAL mode (journal mode stayed "
            f"{journal_mode!r}), so committed events could not be guaranteed to survive a power "
            "cut. Put storage.database on a local filesystem such as ext4 or f2fs; network and "
            "some FUSE filesystems cannot hold a WAL database.")
    if synchronous != _SYNCHRONOUS_FULL:
        connection.close()
        raise StoreError(f"SQLite refused synchronous=FULL for {database} (it reads back "
                         f"{synchronous}); this SQLite build cannot be used for the outbox.")
    return connection


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
