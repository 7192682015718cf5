"""The evidence folder: files named by the sha256 of their bytes, written so a crash cannot
leave a half-written file under a final name.

Layout: ``<folder>/<first two hex digits>/<sha256>``; the two-digit shard keeps any one
directory small on an SD card's filesystem. A file is written to a temporary name in its shard,
fsynced, renamed to its sha256 and then the shard directory is fsynced, so after a power cut or
``kill -9`` a final name always holds the complete bytes. Temporary names end in
:data:`TEMP_SUFFIX` and are swept on the next start.

This module knows nothing about events: which files are still needed is the store's business
(:mod:`roadcam.appliance.store`), which writes a file before the database row that references it and
deletes it only after the last reference is gone.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from .errors import StorageFull, StoreError

#: Ending of a file that is still being written; never a final name.
TEMP_SUFFIX = ".tmp"

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_sha256_name(name: str) -> bool:
    """Whether ``name`` is a lowercase hex sha256, i.e. the final name of an evidence file."""
    return _SHA256_HEX.match(name) is not None


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks so large files do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Make a directory's entries (a new name, a rename) durable."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    """``os.write`` may write less than asked; loop until every byte is out."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


class EvidenceFolder:
    """Content-addressed files under one folder; see the module docstring for the layout.

    Not thread-safe by itself: the store calls it under its writer lock.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot create the evidence folder {self.root}: {error.strerror}. Check "
                "storage.evidence_dir and that the disk is mounted and writable.") from error

    def path(self, sha256: str) -> Path:
        """Where the file with this sha256 lives (whether or not it exists)."""
        if not is_sha256_name(sha256):
            raise StoreError(f"{sha256!r} is not a sha256 (64 lowercase hex digits); evidence "
                             "files are named by the sha256 of their bytes")
        return self.root / sha256[:2] / sha256

    def write(self, sha256: str, data: bytes) -> int:
        """Store ``data`` durably under its ``sha256``; returns its size in bytes.

        Raises :class:`StorageFull` when the disk is full and :class:`StoreError` on any other
        write failure; in both cases the temporary file is removed and no final name is made.
        """
        final = self.path(sha256)
        shard = final.parent
        temporary = shard / f".{sha256}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            self._make_shard(shard)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                 0o644)
            try:
                _write_all(descriptor, data)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, final)
            _fsync_directory(shard)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            if error.errno in _DISK_FULL_ERRNOS:
                raise StorageFull(
                    f"the disk holding {self.root} is full: an evidence file of {len(data)} "
                    "bytes could not be written. Free space on that disk or lower "
                    "storage.budget_mb below the free space so older confirmed evidence is "
                    "evicted first.") from error
            raise StoreError(
                f"cannot write evidence file {final}: {error.strerror or error}. Check that "
                f"{self.root} is on a mounted, writable disk.") from error
        return len(data)

    def _make_shard(self, shard: Path) -> None:
        """Create a shard directory and make its name durable in the evidence folder."""
        if shard.is_dir():
            return
        try:
            shard.mkdir()
        except FileExistsError:
            return
        _fsync_directory(self.root)

    def read(self, sha256: str) -> bytes:
        """The file's bytes, after checking they still hash to its name."""
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as error:
            raise StoreError(f"evidence file {path} is missing; run the store check "
                             "(self-test) to list every missing file") from error
        except OSError as error:
            raise StoreError(f"cannot read evidence file {path}: {error.strerror}") from error
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise StoreError(f"evidence file {path} is corrupt: its bytes hash to {actual}. "
                             "The storage medium may be failing; check or replace it.")
        return data

    def problem(self, sha256: str) -> str | None:
        """What is wrong with the stored file (missing, unreadable, corrupt); None if nothing."""
        path = self.path(sha256)
        try:
            actual = sha256_of_file(path)
        except FileNotFoundError:
            return f"evidence file {path} is missing"
        except OSError as error:
            return f"evidence file {path} cannot be read: {error.strerror}"
        if actual != sha256:
            return f"evidence file {path} is corrupt (its bytes hash to {actual})"
        return None

    def remove(self, sha256: str) -> None:
        """Delete a stored file; a file that is already gone is fine."""
        path = self.path(sha256)
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise StoreError(f"cannot delete evidence file {path}: {error.strerror}. Check that "
                             f"{self.root} is writable.") from error

    def stored(self) -> Iterator[str]:
        """The sha256 of every file under a final name."""
        for shard in self._shards():
            for entry in shard.iterdir():
                if is_sha256_name(entry.name) and entry.name.startswith(shard.name):
                    yield entry.name

    def remove_temporary_files(self) -> int:
        """Delete files a crash left half-written; returns how many. Call only while nothing
        is being written (at start)."""
        removed = 0
        for shard in self._shards():
            for entry in shard.glob(f"*{TEMP_SUFFIX}"):
                entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def _shards(self) -> Iterator[Path]:
        for entry in self.root.iterdir():
            if entry.is_dir() and len(entry.name) == 2:
                yield entry
