"""Storage of failed and quarantined messages (collector.quarantine) on both backends, SQLite
and PostgreSQL, and ``roadcam-collector quarantine list``."""

from __future__ import annotations

import pytest
from test_collector_storage import backend  # noqa: F401  (the fixture)

from roadcam.collector.cli import main as collector_cli
from roadcam.collector.quarantine import message_digest
from roadcam.collector.storage import DataRefused

START_NS = 1_790_000_000_000_000_000
TOPIC = "roadcam/v1/site-a/tn-0001/events/plate.read"
PAYLOADS = (b'{"poison": 1}', b'{"innocent": 2}', b"\x00\xff binary \n")


@pytest.fixture
def storage(backend):  # noqa: F811  (the imported fixture)
    with backend.open() as opened:
        yield opened


def test_failures_are_counted_per_message_and_forgotten_once_handled(storage):
    digests = [message_digest(TOPIC, payload) for payload in PAYLOADS]
    assert storage.message_failures(digests) == {}
    storage.record_failures([(TOPIC, payload) for payload in PAYLOADS[:2]] * 2, "RuntimeError: x", START_NS)
    storage.record_failures([(TOPIC, PAYLOADS[0])], "RuntimeError: y", START_NS + 1)
    assert storage.message_failures(digests) == {digests[0]: 2, digests[1]: 1}
    storage.clear_failures([digests[1]])
    assert storage.message_failures(digests) == {digests[0]: 2}
    assert message_digest(TOPIC, PAYLOADS[0]) != message_digest(TOPIC + "x", PAYLOADS[0])


def test_a_quarantined_message_is_kept_whole_with_its_first_reason(storage):
    storage.record_failures([(TOPIC, PAYLOADS[2])], "RuntimeError: first", START_NS)
    assert storage.quarantine(TOPIC, PAYLOADS[2], "RuntimeError: second", START_NS + 1) == 2
    assert storage.quarantine(TOPIC, PAYLOADS[2], "delivered again after 2 failures", START_NS + 2) == 3
    (kept,) = storage.quarantined()
    assert (kept.digest, kept.topic, kept.payload) == (message_digest(TOPIC, PAYLOADS[2]), TOPIC, PAYLOADS[2])
    assert (kept.reason, kept.failures, kept.quarantined_ns) == ("RuntimeError: second", 3, START_NS + 1)


def test_data_the_database_refuses_is_data_refused_not_a_database_away(storage):
    """DataRefused is not retried by the collector: the same data would fail again."""
    with pytest.raises(DataRefused), storage._lock, storage._driver_errors("testing"):
        storage._execute("INSERT INTO quarantine (digest) VALUES (?)", ("no topic",))  # NOT NULL


def test_cli_lists_the_quarantine_with_its_count(tmp_path, backend, storage, capsys):  # noqa: F811
    config = tmp_path / "collector.yaml"
    config.write_text(f"storage:\n{backend.storage_yaml}  evidence_dir: evidence\ndevice_keys_dir: keys\n")
    assert collector_cli(["quarantine", "list", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "0 message(s) in quarantine\n"
    for payload in PAYLOADS[:2]:
        storage.quarantine(TOPIC, payload, "RuntimeError: a bug", START_NS)
    assert collector_cli(["quarantine", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count(f"{TOPIC}  13 bytes  failed 1 times") == 1
    assert out.count("RuntimeError: a bug") == 2 and out.endswith("2 message(s) in quarantine\n")
