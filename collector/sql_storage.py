"""What the collector's SQL backends share: the schema, storing a batch, the chain checks, the
per-epoch chains whose heads are acknowledged, the queries and the evidence folder.

A backend (:mod:`roadcam.collector.sqlite_storage`, :mod:`roadcam.collector.postgres_storage`) subclasses
:class:`SqlStorage` and supplies only its dialect and connection handling: how to run one
statement, how to open a writer transaction that serializes every writer (so the chain heads
and the chain checks stay consistent however many collectors share the database), how the schema
version is kept, and how its driver's errors become :class:`~roadcam.common.errors.StoreError`.

SQL here uses ``?`` placeholders and ``INSERT ... ON CONFLICT DO NOTHING``, which both SQLite
and PostgreSQL understand; an event is stored under its id, so a redelivered one is a no-op.
"""

from __future__ import annotations

import base64
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple, Self

from roadcam.common.errors import StoreError
from roadcam.common.evidence_files import EvidenceFolder
from roadcam.protocol.acks import ChainAck
from roadcam.protocol.events import Event

from .ingest import DeviceHealth, DeviceStatus, Verified, VerifiedEvent, VerifiedEvidence
from .quarantine import QuarantinedMessage, message_digest
from .storage import DeviceRecord, EventQuery, Gap, Problem, RetainedMessage, StatusChange, StoredBatch

#: Version of the collector's database layout; every backend keeps it in its own way.
SCHEMA_VERSION = 4
#: One more failure of a message: (digest, topic, error, now_ns).
_COUNT_FAILURE = ("INSERT INTO message_failures (digest, topic, failures, last_error, last_ns) "
                  "VALUES (?, ?, 1, ?, ?) ON CONFLICT (digest) DO UPDATE SET "
                  "failures = message_failures.failures + 1, last_error = excluded.last_error, "
                  "last_ns = excluded.last_ns")
#: Most values in one ``IN (...)`` list (SQLite's limit on parameters is far above it).
_IN_LIST_MAX = 500
#: Seqs read per step while moving a chain's head forward.
_CHAIN_STEP = 256


def schema_statements(text_type: str, row_id_column: str) -> tuple[str, ...]:
    """The collector's tables in a dialect: ``text_type`` declares text columns (so a backend
    can ask for byte-order sorting) and ``row_id_column`` an auto-numbered primary key. The
    first layout, then every upgrade (:func:`upgrade_statements`) to :data:`SCHEMA_VERSION`."""
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
        *(statement for version in range(1, SCHEMA_VERSION) for statement in upgrade_statements(version, text_type)),
    )


def upgrade_statements(from_version: int, text_type: str) -> tuple[str, ...]:
    """What brings a database of layout ``from_version`` to the next one."""
    return {
        1: (f"""CREATE TABLE command_versions (
                name {text_type} PRIMARY KEY,
                version BIGINT NOT NULL
            )""",),
        2: (
            # Messages whose handling raised an unexpected error, by sha256 of topic and payload.
            f"""CREATE TABLE message_failures (
                digest {text_type} PRIMARY KEY,
                topic {text_type} NOT NULL,
                failures BIGINT NOT NULL,
                last_error {text_type} NOT NULL,
                last_ns BIGINT NOT NULL
            )""",
            # Messages set aside after failing twice: acknowledged, kept, never handled again.
            f"""CREATE TABLE quarantine (
                digest {text_type} PRIMARY KEY,
                topic {text_type} NOT NULL,
                payload_b64 {text_type} NOT NULL,
                reason {text_type} NOT NULL,
                failures BIGINT NOT NULL,
                quarantined_ns BIGINT NOT NULL
            )""",
            # Each store epoch of a device: the chain from its seq 1 event (genesis), and its head:
            # the last event reached from the genesis along prev links through events stored with
            # all their evidence (head_seq 0 and no digest until the genesis itself is).
            f"""CREATE TABLE chains (
                device {text_type} NOT NULL,
                genesis_id {text_type} NOT NULL,
                head_seq BIGINT NOT NULL,
                head_digest {text_type},
                started_ns BIGINT NOT NULL,
                PRIMARY KEY (device, genesis_id)
            )""",
            # The last retained message the collector published on a topic (the hotlist), so it
            # can publish it again when it starts.
            f"""CREATE TABLE retained_messages (
                topic {text_type} PRIMARY KEY,
                payload {text_type} NOT NULL,
                version BIGINT NOT NULL,
                published_ns BIGINT NOT NULL
            )""",
        ),
        3: (
            # Each change of a device's status (online/offline, the offline often from its last
            # will) as the collector received it: the history behind availability
            # (roadcam.collector.faults). A retained status heard again is not a change.
            f"""CREATE TABLE status_changes (
                device {text_type} NOT NULL,
                online INTEGER NOT NULL,
                received_ns BIGINT NOT NULL
            )""",
            "CREATE INDEX status_changes_by_device ON status_changes (device, received_ns)",
            # the status each device had when the log began
            "INSERT INTO status_changes (device, online, received_ns) SELECT device, online, status_ns "
            "FROM devices WHERE online IS NOT NULL AND status_ns IS NOT NULL",
        ),
    }[from_version]


class SqlStorage(ABC):
    """:class:`~roadcam.collector.storage.CollectorStorage` on a SQL database plus an evidence folder;
    thread-safe (one connection used under a lock)."""

    #: How this dialect declares text columns (see :func:`schema_statements`).
    TEXT_TYPE = "TEXT"

    def __init__(self, evidence_dir: Path):
        self._evidence = EvidenceFolder(evidence_dir)
        self._lock = threading.Lock()

    # -- what a backend supplies -------------------------------------------------------------

    @abstractmethod
    def _execute(self, sql: str, parameters: tuple = ()) -> Any:
        """Run one statement (``?`` placeholders); returns a DB-API cursor."""

    @abstractmethod
    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        """Run one statement (``?`` placeholders) once per row of parameters."""

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
        """Record :data:`SCHEMA_VERSION` in place of any older one (inside the writer
        transaction, after the tables)."""

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
        """Create the tables in an empty database, upgrade an older layout, or check that an
        existing one is this roadcam's."""
        with self._lock, self._driver_errors("preparing the database"), self._writer_transaction():
            version = self._schema_version()
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.description()} has collector schema version {version}, this roadcam "
                    f"knows only up to {SCHEMA_VERSION}. Install the matching roadcam version.")
            statements = self._schema_statements() if version == 0 else tuple(
                statement for older in range(version, SCHEMA_VERSION)
                for statement in upgrade_statements(older, self.TEXT_TYPE))
            for statement in statements:
                self._execute(statement)
            self._record_schema_version()

    # -- writing -----------------------------------------------------------------------------

    def store(self, items: Sequence[Verified], received_ns: int) -> StoredBatch:
        with self._lock, self._driver_errors("storing a batch"):
            for item in items:
                if isinstance(item, VerifiedEvidence):
                    self._evidence.write(item.sha256, item.data)
            events = [item for item in items if isinstance(item, VerifiedEvent)]
            with_events = {item.event.device: item.event.site for item in events}
            # Evidence may complete events stored earlier: its device's chains may move too.
            touched = {item.device: item.site for item in items if isinstance(item, VerifiedEvidence)}
            touched.update(with_events)
            with self._writer_transaction():
                new_events = self._not_yet_stored(events)
                self._insert_events(new_events, received_ns)
                for item in items:
                    if isinstance(item, VerifiedEvidence):
                        self._execute(
                            "INSERT INTO evidence (sha256, bytes, device, received_ns) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                            (item.sha256, len(item.data), item.device, received_ns))
                    elif isinstance(item, DeviceStatus):
                        self._ensure_device(item.device, item.site)
                        self._record_status_change(item, received_ns)
                        self._execute("UPDATE devices SET online = ?, status_ns = ? WHERE device = ?",
                                      (int(item.online), received_ns, item.device))
                    elif isinstance(item, DeviceHealth):
                        self._ensure_device(item.device, item.site)
                        self._execute(
                            "UPDATE devices SET health_json = ?, health_ns = ? WHERE device = ?",
                            (item.summary_json, received_ns, item.device))
                acks = {}
                for device, site in touched.items():
                    heads = self._advance_chains(device, received_ns, device in with_events)
                    if heads:
                        acks[(site, device)] = heads
            return StoredBatch(stored=len(new_events), duplicates=len(events) - len(new_events), acks=acks)

    def _not_yet_stored(self, events: list[VerifiedEvent]) -> list[VerifiedEvent]:
        """The events whose id is neither stored nor earlier in ``events`` (the rest are duplicates)."""
        ids = dict.fromkeys(item.event.id for item in events)
        seen: set[str] = set()
        for chunk, placeholders in _in_lists(ids):
            seen.update(row[0] for row in self._execute(
                f"SELECT id FROM events WHERE id IN ({placeholders})", chunk).fetchall())
        new_events = []
        for item in events:
            if item.event.id not in seen:
                seen.add(item.event.id)
                new_events.append(item)
        return new_events

    def _insert_events(self, new_events: list[VerifiedEvent], received_ns: int) -> None:
        """Insert events not stored yet, their devices, and every broken link or seq conflict they
        make with the stored events or with each other (as if inserted one by one, in order), and
        every evidence file a device declares lost."""
        if not new_events:
            return
        links = self._stored_links(new_events)
        problems = []
        for item in new_events:
            event = item.event
            for kind, detail in _link_problems(item, links):
                problems.append((event.device, event.seq, kind, detail, received_ns))
            if event.type == "evidence.lost":
                problems.append((event.device, event.seq, "evidence_lost",
                                 f"the device lost evidence {event.data.get('sha256')} of its event "
                                 f"{event.data.get('event_seq')}: {event.data.get('reason')}", received_ns))
            links.setdefault((event.device, event.seq), []).append(_Link(event.id, item.digest, event.prev))
        self._execute_many(
            """INSERT INTO events
               (id, device, site, type, seq, time_ns, plate, digest, prev, body, received_ns)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING""",
            [(item.event.id, item.event.device, item.event.site, item.event.type, item.event.seq,
              item.time_ns, item.plate, item.digest, item.event.prev, item.event.model_dump_json(),
              received_ns) for item in new_events])
        self._execute_many("INSERT INTO devices (device, site) VALUES (?, ?) ON CONFLICT (device) DO NOTHING",
                           sorted({(item.event.device, item.event.site) for item in new_events}))
        if problems:
            self._execute_many("INSERT INTO problems (device, seq, kind, detail, recorded_ns) "
                               "VALUES (?, ?, ?, ?, ?)", problems)

    def _stored_links(self, events: list[VerifiedEvent]) -> dict[tuple[str, int], list[_Link]]:
        """The stored events at the seqs of ``events`` and right next to them, by (device, seq)."""
        wanted: dict[str, set[int]] = {}
        for item in events:
            seq = item.event.seq
            wanted.setdefault(item.event.device, set()).update((seq - 1, seq, seq + 1))
        links: dict[tuple[str, int], list[_Link]] = {}
        for device, seqs in wanted.items():
            for first, last in _runs(sorted(seqs)):
                for seq, event_id, digest, prev in self._execute(
                        "SELECT seq, id, digest, prev FROM events WHERE device = ? AND seq BETWEEN ? AND ?",
                        (device, first, last)).fetchall():
                    links.setdefault((device, seq), []).append(_Link(event_id, digest, prev))
        return links

    def _record_status_change(self, item: DeviceStatus, received_ns: int) -> None:
        """Log the status in ``status_changes`` when it differs from the device's current one
        (a retained status heard again on reconnect is not a change)."""
        (current,) = self._execute("SELECT online FROM devices WHERE device = ?", (item.device,)).fetchone()
        if current is None or bool(current) != item.online:
            self._execute("INSERT INTO status_changes (device, online, received_ns) VALUES (?, ?, ?)",
                          (item.device, int(item.online), received_ns))

    def _ensure_device(self, device: str, site: str) -> None:
        self._execute("INSERT INTO devices (device, site) VALUES (?, ?) "
                      "ON CONFLICT (device) DO NOTHING", (device, site))

    def _advance_chains(self, device: str, received_ns: int, answer_latest: bool) -> tuple[ChainAck, ...]:
        """Start a chain at each new genesis of the device and move every chain's head as far
        as its links and stored evidence go. Returns the heads to acknowledge: each chain that
        moved, and the latest chain's (the device's current store, in all but odd orders of
        arrival) when ``answer_latest``. ``devices.contiguous_seq`` follows the latest head; a
        device's site is the one it was first seen at (never moved by what it sends later)."""
        self._start_chains(device, received_ns)
        chains = self._execute("SELECT genesis_id, head_seq, head_digest FROM chains WHERE device = ? "
                               "ORDER BY started_ns, genesis_id", (device,)).fetchall()
        acks = []
        for index, (genesis_id, head_seq, head_digest) in enumerate(chains):
            seq, digest = self._walk_chain(device, genesis_id, head_seq, head_digest)
            moved = seq != head_seq
            if moved:
                self._execute("UPDATE chains SET head_seq = ?, head_digest = ? "
                              "WHERE device = ? AND genesis_id = ?", (seq, digest, device, genesis_id))
            latest = index == len(chains) - 1
            if latest:
                self._execute("UPDATE devices SET contiguous_seq = ? WHERE device = ? AND contiguous_seq <> ?",
                              (seq, device, seq))
            if seq > 0 and (moved or (latest and answer_latest)):
                acks.append(ChainAck(seq, digest))
        return tuple(acks)

    def _start_chains(self, device: str, received_ns: int) -> None:
        """A chain for each stored genesis of the device (seq 1, no ``prev``) that has none yet;
        every genesis after the device's first is a new store epoch, recorded as a problem."""
        known = {row[0] for row in self._execute(
            "SELECT genesis_id FROM chains WHERE device = ?", (device,)).fetchall()}
        for (event_id,) in self._execute(
                "SELECT id FROM events WHERE device = ? AND seq = 1 AND prev IS NULL ORDER BY id",
                (device,)).fetchall():
            if event_id in known:
                continue
            if known:
                self._execute(
                    "INSERT INTO problems (device, seq, kind, detail, recorded_ns) VALUES (?, ?, ?, ?, ?)",
                    (device, 1, "new_epoch",
                     f"event {event_id} is seq 1 again: the device's store was reset or replaced, "
                     f"and this is its store epoch {len(known) + 1}; acks name this epoch's events, "
                     "never the earlier epochs' seqs", received_ns))
            self._execute("INSERT INTO chains (device, genesis_id, head_seq, head_digest, started_ns) "
                          "VALUES (?, ?, 0, NULL, ?)", (device, event_id, received_ns))
            known.add(event_id)

    def _walk_chain(self, device: str, genesis_id: str, head_seq: int,
                    head_digest: str | None) -> tuple[int, str | None]:
        """The head a chain reaches from (``head_seq``, ``head_digest``): the next event is the
        one at the next seq linking to the head (the genesis itself after seq 0), and the head
        stops before an event with an evidence file not stored yet. Where several stored events
        link to the head (a fork: one store's seqs used twice), the first one received is taken."""
        while True:
            rows = self._execute(
                "SELECT seq, id, digest, prev FROM events WHERE device = ? AND seq > ? AND seq <= ? "
                "ORDER BY seq, received_ns, id", (device, head_seq, head_seq + _CHAIN_STEP)).fetchall()
            run = self._with_stored_evidence(device, _linked_run(rows, genesis_id, head_seq, head_digest))
            if run:
                head_seq, head_digest = head_seq + len(run), run[-1].digest
            if len(run) < _CHAIN_STEP:
                return head_seq, head_digest

    def _with_stored_evidence(self, device: str, run: list[_Link]) -> list[_Link]:
        """The leading events of ``run`` whose every evidence file is stored, or declared lost
        by the device (a stored ``evidence.lost`` event naming it: the device cannot send it, so
        waiting for it would stop the chain's acks for good)."""
        evidence: dict[str, list[str]] = {}
        for chunk, placeholders in _in_lists(link.id for link in run):
            for event_id, body in self._execute(
                    f"SELECT id, body FROM events WHERE id IN ({placeholders})", chunk).fetchall():
                evidence[event_id] = [reference["sha256"] for reference in json.loads(body)["evidence"]]
        wanted = sorted({sha256 for files in evidence.values() for sha256 in files})
        stored: set[str] = set()
        for chunk, placeholders in _in_lists(wanted):
            stored.update(row[0] for row in self._execute(
                f"SELECT sha256 FROM evidence WHERE sha256 IN ({placeholders})", chunk).fetchall())
        if not stored.issuperset(wanted):
            stored.update(self._declared_lost(device))
        for index, link in enumerate(run):
            if not stored.issuperset(evidence[link.id]):
                return run[:index]
        return run

    def _declared_lost(self, device: str) -> set[str]:
        """The evidence files the device declared lost (its ``evidence.lost`` events)."""
        return {json.loads(body)["data"].get("sha256") for (body,) in self._execute(
            "SELECT body FROM events WHERE device = ? AND type = 'evidence.lost'", (device,)).fetchall()}

    def issue_command_version(self, name: str, at_least: int) -> int:
        """A version for a new command ``name``: above every one issued before for that name and
        at least ``at_least``; recorded before it is returned, so no two commands share one."""
        with self._lock, self._driver_errors("issuing a command version"), self._writer_transaction():
            row = self._execute("SELECT version FROM command_versions WHERE name = ?", (name,)).fetchone()
            version = max(at_least, 1 if row is None else row[0] + 1)
            self._execute("INSERT INTO command_versions (name, version) VALUES (?, ?) "
                          "ON CONFLICT (name) DO UPDATE SET version = excluded.version", (name, version))
            return version

    def keep_retained(self, message: RetainedMessage) -> None:
        """Keep ``message`` as the one retained on its topic, unless one of a higher version is
        kept already (two collectors publishing at once never roll the hotlist back)."""
        with self._lock, self._driver_errors("keeping a retained message"), self._writer_transaction():
            self._execute(
                "INSERT INTO retained_messages (topic, payload, version, published_ns) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, version = excluded.version, "
                "published_ns = excluded.published_ns WHERE retained_messages.version < excluded.version",
                (message.topic, message.payload, message.version, message.published_ns))

    # -- reading -----------------------------------------------------------------------------

    def retained_messages(self) -> list[RetainedMessage]:
        """The retained message kept for each topic, by topic."""
        return [RetainedMessage(*row) for row in self._read(
            "SELECT topic, payload, version, published_ns FROM retained_messages ORDER BY topic")]

    def command_version(self, name: str) -> int:
        """The last version issued for command ``name`` (0 for none)."""
        rows = self._read("SELECT version FROM command_versions WHERE name = ?", (name,))
        return rows[0][0] if rows else 0

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
        rows = self._read(
            "SELECT device, site, online, status_ns, health_json, health_ns, contiguous_seq, "
            "(SELECT MIN(started_ns) FROM chains WHERE chains.device = devices.device), "
            "(SELECT MIN(received_ns) FROM status_changes WHERE status_changes.device = devices.device) "
            "FROM devices ORDER BY device")
        return [DeviceRecord(device=row[0], site=row[1],
                             online=None if row[2] is None else bool(row[2]), status_ns=row[3],
                             health_json=row[4], health_ns=row[5], contiguous_seq=row[6],
                             first_heard_ns=min(filter(None, row[7:9]), default=None))
                for row in rows]

    def status_changes(self, until_ns: int) -> list[StatusChange]:
        rows = self._read("SELECT device, online, received_ns FROM status_changes WHERE received_ns < ? "
                          "ORDER BY device, received_ns", (until_ns,))
        return [StatusChange(device=row[0], online=bool(row[1]), received_ns=row[2]) for row in rows]

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

    # -- messages that failed (see collector.quarantine) -------------------------------------

    def record_failures(self, messages: Sequence[tuple[str, bytes]], error: str, now_ns: int) -> None:
        """Count one more failure, with ``error``, for each (topic, payload), in one transaction
        (a message twice in ``messages`` counts once)."""
        rows = {message_digest(topic, payload): (topic, error, now_ns) for topic, payload in messages}
        with self._lock, self._driver_errors("recording failed messages"), self._writer_transaction():
            self._execute_many(_COUNT_FAILURE, [(digest, *row) for digest, row in rows.items()])

    def message_failures(self, digests: Sequence[str]) -> dict[str, int]:
        """Failures on record for these message digests (a message that never failed is absent)."""
        failures: dict[str, int] = {}
        for chunk, placeholders in _in_lists(dict.fromkeys(digests)):
            failures.update(self._read(
                f"SELECT digest, failures FROM message_failures WHERE digest IN ({placeholders})", chunk))
        return failures

    def clear_failures(self, digests: Sequence[str]) -> None:
        """Forget the failures of these messages: they have been handled since."""
        with self._lock, self._driver_errors("clearing message failures"), self._writer_transaction():
            self._execute_many("DELETE FROM message_failures WHERE digest = ?",
                               [(digest,) for digest in dict.fromkeys(digests)])

    def quarantine(self, topic: str, payload: bytes, reason: str, now_ns: int) -> int:
        """Count one more failure and keep the message in quarantine (a message already there
        keeps its first reason and time), in one transaction; returns its failures."""
        digest = message_digest(topic, payload)
        with self._lock, self._driver_errors("quarantining a message"), self._writer_transaction():
            self._execute(_COUNT_FAILURE, (digest, topic, reason, now_ns))
            failures = self._execute("SELECT failures FROM message_failures WHERE digest = ?",
                                     (digest,)).fetchone()[0]
            self._execute(
                "INSERT INTO quarantine (digest, topic, payload_b64, reason, failures, quarantined_ns) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE SET failures = excluded.failures",
                (digest, topic, base64.b64encode(payload).decode("ascii"), reason, failures, now_ns))
            return failures

    def quarantined(self) -> list[QuarantinedMessage]:
        """Every quarantined message, oldest first."""
        rows = self._read("SELECT digest, topic, payload_b64, reason, failures, quarantined_ns "
                          "FROM quarantine ORDER BY quarantined_ns, digest")
        return [QuarantinedMessage(digest=digest, topic=topic, payload=base64.b64decode(payload_b64),
                                   reason=reason, failures=failures, quarantined_ns=quarantined_ns)
                for digest, topic, payload_b64, reason, failures, quarantined_ns in rows]


class _Link(NamedTuple):
    """What the chain checks need of one stored event."""

    id: str
    digest: str
    prev: str | None


def _link_problems(item: VerifiedEvent, links: dict[tuple[str, int], list[_Link]]) -> list[tuple[str, str]]:
    """(kind, detail) of every way a new event disagrees with the ``links`` around it."""
    event = item.event
    problems = [("seq_conflict", f"events {other.id} and {event.id} both claim seq {event.seq}")
                for other in links.get((event.device, event.seq), ())]
    if event.seq == 1 and event.prev is not None:
        problems.append(("chain_break", f"event {event.id} is seq 1 but links to a previous event"))
    before = links.get((event.device, event.seq - 1), ())
    if before and all(link.digest != event.prev for link in before):
        problems.append(("chain_break", f"event {event.id} (seq {event.seq}): prev does not "
                                        f"match the stored seq {event.seq - 1}"))
    problems.extend(("chain_break", f"event {after.id} (seq {event.seq + 1}): prev does not match "
                                    f"the digest of seq {event.seq}")
                    for after in links.get((event.device, event.seq + 1), ()) if after.prev != item.digest)
    return problems


def _in_lists(values: Iterable[Any]) -> Iterator[tuple[tuple, str]]:
    """``values`` in chunks of at most :data:`_IN_LIST_MAX`, each with its ``?, ?, …``
    placeholders for an ``IN (...)`` list."""
    values = list(values)
    for start in range(0, len(values), _IN_LIST_MAX):
        chunk = tuple(values[start:start + _IN_LIST_MAX])
        yield chunk, ", ".join("?" * len(chunk))


def _runs(sorted_numbers: list[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive numbers in ``sorted_numbers``."""
    runs: list[tuple[int, int]] = []
    for number in sorted_numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _linked_run(rows: list[tuple], genesis_id: str, head_seq: int, head_digest: str | None) -> list[_Link]:
    """The events of ``rows`` (seq, id, digest, prev; by seq, first received first) that follow
    the head one by one: at each next seq the first one linking to the one before (at seq 1,
    the chain's genesis)."""
    run: list[_Link] = []
    for seq, event_id, digest, prev in rows:
        if seq > head_seq + 1:
            break
        if seq == head_seq + 1 and (event_id == genesis_id if head_seq == 0 else prev == head_digest):
            run.append(_Link(event_id, digest, prev))
            head_seq, head_digest = seq, digest
    return run
