"""The collector's storage backends (SQLite and PostgreSQL, every test against both) and its
query CLI: stored once under the event id, chain heads (seq and digest, per store epoch, only
through events whose evidence is stored) acknowledged to devices, chain problems and new epochs
recorded without dropping anything."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from roadcam.collector.cli import main as collector_cli
from roadcam.collector.config import LimitSettings
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import SignedEventSource, event_payload
from roadcam.collector.ingest import DeviceHealth, DeviceStatus, Ingest
from roadcam.collector.pki import write_test_pki
from roadcam.collector.postgres_storage import PostgresStorage
from roadcam.collector.sql_storage import SCHEMA_VERSION, SqlStorage
from roadcam.collector.sqlite_storage import SQLiteStorage
from roadcam.collector.storage import EventQuery
from roadcam.common.errors import StoreError
from roadcam.protocol.acks import ChainAck
from roadcam.protocol.event_batches import encode_event_batches
from roadcam.protocol.events import EvidenceBlob
from roadcam.protocol.signing import load_private_key

SITE = "site-a"
START_NS = 1_790_000_000_000_000_000
SECOND_NS = 1_000_000_000


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return write_test_pki(tmp_path_factory.mktemp("pki"), devices=["tn-0001", "tn-0002"],
                          collectors=["collector-1"])


@pytest.fixture(scope="module")
def ingest(pki):
    return Ingest(DeviceKeys(pki.device_keys_dir), LimitSettings())


@dataclass(frozen=True)
class Backend:
    """One storage backend under test: how a config names it and how to open it."""

    storage_yaml: str
    open: Callable[[], SqlStorage]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> Backend:
    evidence_dir = tmp_path / "evidence"
    if request.param == "sqlite":
        return Backend("  database: collector.db\n",
                       lambda: SQLiteStorage(tmp_path / "collector.db", evidence_dir))
    url = request.getfixturevalue("postgres_url")
    return Backend(f"  url: {url}\n", lambda: PostgresStorage(url, evidence_dir))


@pytest.fixture
def storage(backend):
    with backend.open() as opened:
        yield opened


def source_for(pki, device: str) -> SignedEventSource:
    return SignedEventSource(device, SITE, load_private_key(pki.signing_key(device)))


def verified_events(ingest, source, count, **kwargs):
    out = []
    for index in range(count):
        event = source.next_event(time_ns=START_NS + index * SECOND_NS, **kwargs)
        out.append(ingest.check(source.topics.event(event.type), event_payload(event)))
    return out


def acked(batch) -> dict[tuple[str, str], list[int]]:
    """The seqs a stored batch acknowledges, by (site, device)."""
    return {key: [head.seq for head in heads] for key, heads in batch.acks.items()}


def test_events_are_stored_once_and_a_duplicate_is_a_no_op(storage, ingest, pki):
    events = verified_events(ingest, source_for(pki, "tn-0001"), 5)
    first = storage.store(events, START_NS)
    again = storage.store(events[:3], START_NS)
    assert (first.stored, first.duplicates) == (5, 0)
    assert (again.stored, again.duplicates) == (0, 3)
    assert acked(again) == {(SITE, "tn-0001"): [5]}
    assert [event.seq for event in storage.events(EventQuery())] == [1, 2, 3, 4, 5]
    assert storage.problems() == []


def test_the_acked_seq_stops_at_the_first_gap_and_moves_when_it_fills(storage, ingest, pki):
    events = verified_events(ingest, source_for(pki, "tn-0001"), 6)
    assert acked(storage.store([events[0], events[1], events[3], events[5]], START_NS)) == {(SITE, "tn-0001"): [2]}
    assert [(gap.first, gap.last) for gap in storage.gaps()] == [(3, 3), (5, 5)]
    assert acked(storage.store([events[4], events[2]], START_NS)) == {(SITE, "tn-0001"): [6]}
    assert storage.gaps() == []
    assert storage.problems() == []


def test_devices_are_acked_separately(storage, ingest, pki):
    first = verified_events(ingest, source_for(pki, "tn-0001"), 3)
    second = verified_events(ingest, source_for(pki, "tn-0002"), 2)
    assert acked(storage.store(first + second, START_NS)) == {(SITE, "tn-0001"): [3], (SITE, "tn-0002"): [2]}


def test_a_broken_chain_and_a_seq_conflict_are_recorded_and_nothing_is_dropped(storage, ingest, pki):
    events = verified_events(ingest, source_for(pki, "tn-0001"), 3)
    # a device that lost its store starts again at seq 1: the same seqs with other events
    restarted = verified_events(ingest, source_for(pki, "tn-0001"), 3)
    storage.store(events, START_NS)
    storage.store([restarted[1]], START_NS)
    kinds = sorted(problem.kind for problem in storage.problems())
    assert kinds == ["chain_break", "chain_break", "seq_conflict"]
    assert len(storage.events(EventQuery())) == 4


def test_problems_inside_one_batch_are_recorded_as_if_stored_one_by_one(storage, ingest, pki):
    events = verified_events(ingest, source_for(pki, "tn-0001"), 3)
    restarted = verified_events(ingest, source_for(pki, "tn-0001"), 3)
    result = storage.store([*events, restarted[1], events[0]], START_NS)
    assert (result.stored, result.duplicates) == (4, 1)
    assert [(problem.seq, problem.kind) for problem in storage.problems()] == [
        (2, "seq_conflict"), (2, "chain_break"), (2, "chain_break")]


def test_a_long_batch_is_acked_to_its_end_or_to_its_first_gap(storage, ingest, pki):
    source = source_for(pki, "tn-0001")
    (payload,) = encode_event_batches([source.next_event() for _ in range(700)], max_bytes=10**9)
    (checked,) = ingest.check_messages([(source.topics.event_batch, payload)])
    events = list(checked.items)
    assert acked(storage.store([*events[:299], *events[300:]], START_NS)) == {(SITE, "tn-0001"): [299]}
    assert acked(storage.store([events[299]], START_NS)) == {(SITE, "tn-0001"): [700]}
    assert storage.gaps() == [] and storage.problems() == []


def test_an_ack_names_the_chain_head_by_seq_and_digest(storage, ingest, pki):
    events = verified_events(ingest, source_for(pki, "tn-0001"), 3)
    assert storage.store(events, START_NS).acks == {(SITE, "tn-0001"): (ChainAck(3, events[2].digest),)}


def test_a_reset_store_is_a_new_epoch_acked_by_its_own_chain(storage, ingest, pki):
    """Issue 22 item 4: a device whose store was reset numbers from 1 again. Its new events are
    never acknowledged by the old store's high mark, only by the new chain's own head."""
    old = verified_events(ingest, source_for(pki, "tn-0001"), 5)
    new = verified_events(ingest, source_for(pki, "tn-0001"), 3)
    storage.store(old, START_NS)
    # seqs 2-3 of the new store, before its seq 1: only the old chain's head is named
    assert storage.store(new[1:], START_NS + SECOND_NS).acks == {(SITE, "tn-0001"): (ChainAck(5, old[4].digest),)}
    assert storage.store(new[:1], START_NS + 2 * SECOND_NS).acks == {(SITE, "tn-0001"): (ChainAck(3, new[2].digest),)}
    assert [problem.kind for problem in storage.problems()].count("new_epoch") == 1
    assert storage.devices()[0].contiguous_seq == 3
    assert len(storage.events(EventQuery())) == 8
    # the old store's events sent again are still stored once; the ack names the new store's head
    assert storage.store(old, START_NS + 3 * SECOND_NS).acks == {(SITE, "tn-0001"): (ChainAck(3, new[2].digest),)}


def test_an_event_is_acked_only_once_its_evidence_is_stored(storage, ingest, pki):
    """Issue 22 item 3: the head stops before an event whose evidence is missing; the evidence
    arriving later (alone, in another batch) moves it on."""
    source = source_for(pki, "tn-0001")
    crop = EvidenceBlob(kind="plate_crop", data=b"crop" * 100)
    events = verified_events(ingest, source, 1)
    events += verified_events(ingest, source, 1, evidence=(crop,))
    events += verified_events(ingest, source, 1)
    assert acked(storage.store(events, START_NS)) == {(SITE, "tn-0001"): [1]}
    assert storage.devices()[0].contiguous_seq == 1
    evidence = ingest.check(source.topics.evidence(crop.sha256), crop.data)
    assert acked(storage.store([evidence], START_NS)) == {(SITE, "tn-0001"): [3]}
    frame = EvidenceBlob(kind="frame_before", data=b"frame" * 100)
    with_evidence_first = [ingest.check(source.topics.evidence(frame.sha256), frame.data),
                           *verified_events(ingest, source, 1, evidence=(frame,))]
    assert acked(storage.store(with_evidence_first, START_NS)) == {(SITE, "tn-0001"): [4]}


def test_queries_filter_by_plate_device_type_and_time(storage, ingest, pki):
    one = source_for(pki, "tn-0001")
    two = source_for(pki, "tn-0002")
    items = verified_events(ingest, one, 4)
    event = two.next_event("hotlist.hit", data={"plate": "TST00002"}, time_ns=START_NS + 10 * SECOND_NS)
    items.append(ingest.check(two.topics.event(event.type), event_payload(event)))
    storage.store(items, START_NS)
    assert [(e.device, e.seq) for e in storage.events(EventQuery(plate="TST00002"))] == [
        ("tn-0001", 2), ("tn-0002", 1)]
    assert [e.type for e in storage.events(EventQuery(type="hotlist.hit"))] == ["hotlist.hit"]
    assert len(storage.events(EventQuery(device="tn-0001"))) == 4
    window = EventQuery(since_ns=START_NS + SECOND_NS, until_ns=START_NS + 3 * SECOND_NS)
    assert [e.seq for e in storage.events(window)] == [2, 3]


def test_status_and_health_make_the_device_registry(storage):
    storage.store([DeviceStatus("tn-0001", SITE, online=True),
                   DeviceHealth("tn-0001", SITE, '{"cpu_c":50}')], START_NS)
    storage.store([DeviceStatus("tn-0001", SITE, online=False)], START_NS + SECOND_NS)
    (record,) = storage.devices()
    assert (record.online, record.status_ns, record.health_json) == (False, START_NS + SECOND_NS, '{"cpu_c":50}')


def test_evidence_is_stored_by_content_and_verified_when_read(storage, ingest, pki):
    source = source_for(pki, "tn-0001")
    blob = EvidenceBlob(kind="frame_before", data=b"\xff\xd8" + b"x" * 5000)
    storage.store([ingest.check(source.topics.evidence(blob.sha256), blob.data)], START_NS)
    assert storage.read_evidence(blob.sha256) == blob.data
    storage.evidence_path(blob.sha256).write_bytes(b"rotten")
    with pytest.raises(StoreError, match="corrupt"):
        storage.read_evidence(blob.sha256)


def test_command_versions_rise_per_name_and_never_fall_below_the_floor(backend):
    with backend.open() as storage:
        assert storage.command_version("snapshot") == 0
        assert storage.issue_command_version("snapshot", at_least=1) == 1
        assert storage.issue_command_version("snapshot", at_least=1) == 2
        assert storage.issue_command_version("hotlist", at_least=500) == 500
        assert storage.issue_command_version("snapshot", at_least=100) == 100
    with backend.open() as reopened:
        assert (reopened.command_version("snapshot"), reopened.command_version("hotlist")) == (100, 500)
        assert reopened.issue_command_version("hotlist", at_least=1) == 501


def test_a_version_1_database_is_upgraded_and_keeps_its_events(tmp_path, ingest, pki):
    events = verified_events(ingest, source_for(pki, "tn-0001"), 4)
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as storage:
        storage.store(events[:3], START_NS)
    with sqlite3.connect(tmp_path / "collector.db") as outside:   # as the first layout left it
        for later_table in ("command_versions", "message_failures", "quarantine", "chains",
                            "retained_messages", "status_changes"):
            outside.execute(f"DROP TABLE {later_table}")
        outside.execute("PRAGMA user_version = 1")
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence") as upgraded:
        assert len(upgraded.events(EventQuery(device="tn-0001"))) == 3
        assert upgraded.issue_command_version("snapshot", at_least=1) == 1
        # the chains start from the events stored before the upgrade
        assert acked(upgraded.store(events[3:], START_NS)) == {(SITE, "tn-0001"): [4]}
    with sqlite3.connect(tmp_path / "collector.db") as outside:
        assert outside.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_the_sqlite_database_is_durable_wal(tmp_path):
    with SQLiteStorage(tmp_path / "collector.db", tmp_path / "evidence"):
        with sqlite3.connect(tmp_path / "collector.db") as outside:
            assert outside.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_postgres_reconnects_after_losing_the_server_connection(postgres_server, ingest, pki, tmp_path):
    database = f"t_{uuid.uuid4().hex}"
    url = postgres_server.create_database(database)
    events = verified_events(ingest, source_for(pki, "tn-0001"), 2)
    with PostgresStorage(url, tmp_path / "evidence") as storage:
        storage.store(events[:1], START_NS)
        postgres_server.disconnect_clients(database)
        with pytest.raises(StoreError, match="PostgreSQL server"):
            storage.store(events[1:], START_NS)
        assert acked(storage.store(events[1:], START_NS)) == {(SITE, "tn-0001"): [2]}


def test_a_postgres_url_without_psycopg_installed_tells_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"roadcam\[postgres\]"):
        PostgresStorage("postgresql://roadcam@/none", tmp_path / "evidence")


def test_a_postgres_url_without_its_server_is_a_clear_error_that_hides_the_password(tmp_path):
    with pytest.raises(StoreError, match="storage.url") as raised:
        PostgresStorage(f"postgresql://roadcam:secret@/none?host={tmp_path}", tmp_path / "evidence")
    assert "secret" not in str(raised.value) and "roadcam:***@" in str(raised.value)


# -- the query CLI -----------------------------------------------------------------------------

@pytest.fixture
def config_file(tmp_path, pki, backend):
    path = tmp_path / "collector.yaml"
    path.write_text(f"storage:\n{backend.storage_yaml}  evidence_dir: evidence\n"
                    f"device_keys_dir: {pki.device_keys_dir}\n")
    return path


def test_cli_lists_events_by_plate_as_json(config_file, backend, ingest, pki, capsys):
    with backend.open() as storage:
        storage.store(verified_events(ingest, source_for(pki, "tn-0001"), 3), START_NS)
    assert collector_cli(["events", "--config", str(config_file), "--plate", "TST00003", "--json",
                          "--since", "2026-09-21T00:00:00Z"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [3]


def test_cli_exports_verified_evidence_and_refuses_a_corrupt_file(config_file, backend, tmp_path, ingest, pki, capsys):
    source = source_for(pki, "tn-0001")
    blob = EvidenceBlob(kind="plate_crop", data=b"crop bytes" * 100)
    with backend.open() as storage:
        storage.store([ingest.check(source.topics.evidence(blob.sha256), blob.data)], START_NS)
        stored_path = storage.evidence_path(blob.sha256)
    out = tmp_path / "export.jpg"
    assert collector_cli(["evidence", "export", blob.sha256, "--out", str(out), "--config", str(config_file)]) == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == blob.sha256
    stored_path.write_bytes(b"altered")
    assert collector_cli(["evidence", "export", blob.sha256, "--out", str(tmp_path / "x"),
                          "--config", str(config_file)]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_cli_reports_config_errors_with_the_field(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("storage:\n  database: c.db\n  evidence_dir: e\ndevice_keys_dir: k\nbroker:\n  port: 0\n")
    assert collector_cli(["events", "--config", str(path)]) == 2
    assert "broker.port" in capsys.readouterr().err


@pytest.mark.parametrize("storage_yaml", ["", "  database: c.db\n  url: postgresql://x@/db\n"],
                         ids=["neither", "both"])
def test_cli_wants_exactly_one_of_database_and_url(tmp_path, capsys, storage_yaml):
    path = tmp_path / "bad.yaml"
    path.write_text(f"storage:\n{storage_yaml}  evidence_dir: e\ndevice_keys_dir: k\n")
    assert collector_cli(["events", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "storage.database" in err and "storage.url" in err


def test_a_device_is_never_moved_to_the_site_its_later_events_name(storage, ingest, pki):
    """The registry binds a device to its site (ingest refuses another); for a device enrolled
    without one, storage still keeps the site it was first seen at."""
    storage.store(verified_events(ingest, source_for(pki, "tn-0001"), 2), START_NS)
    elsewhere = SignedEventSource("tn-0001", "site-b", load_private_key(pki.signing_key("tn-0001")))
    storage.store(verified_events(ingest, elsewhere, 1), START_NS)
    assert [(record.device, record.site) for record in storage.devices()] == [("tn-0001", SITE)]
