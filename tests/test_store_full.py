"""A full store still reports itself (issue 22, item 8).

The events it cannot take are counted and logged at a bounded rate, a ``fault.raised``
(``store.full``) is stored all the same, in the reserve the store keeps for it, and a
``fault.cleared`` follows once the collector's confirmations make room again. Real Appliance,
real store, an OpenCV file camera, mock pins.
"""

from __future__ import annotations

import logging
import random

import pytest
from appliances import build_appliance, run_for, stored
from videos import moving_box, write_video

from roadcam.appliance.events import ClockState, EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.store import EventStore
from roadcam.common.errors import StorageFull
from roadcam.protocol.events import EvidenceBlob

FRAMES = 36
#: The bench collector confirms everything stored so far when this frame is analysed.
CONFIRM_AT_FRAME = 30


class BigEvidence:
    """One event with 100 kB of its own evidence per frame; at CONFIRM_AT_FRAME it confirms
    the store as the collector's ack would."""

    def __init__(self):
        self.appliance = None

    @hookimpl
    def roadcam_configure(self, appliance):
        self.appliance = appliance

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        if frame.index == CONFIRM_AT_FRAME:
            store = self.appliance.store
            last = store.events(after_seq=store.last_seq() - 1)[0]
            store.confirm(last.seq, last.digest())
        data = random.Random(frame.index).randbytes(100_000)
        return [EventDraft("test.big", {"frame": frame.index}, frame.time_ns,
                           evidence=[EvidenceBlob("frame", data)])]


def test_a_full_store_stores_its_fault_logs_at_a_bounded_rate_and_clears_it_when_room_returns(tmp_path, caplog):
    path = write_video(tmp_path / "north.avi", moving_box(FRAMES), fps=25.0)
    appliance = build_appliance(
        tmp_path, plugins=[BigEvidence()],
        cameras=[{"name": "north", "source": {"type": "opencv", "url": str(path)}}],
        storage={"database": str(tmp_path / "events.db"), "evidence_dir": str(tmp_path / "evidence"),
                 "budget_mb": 1})
    with caplog.at_level(logging.INFO):
        run_for(appliance)

    frames = [event.data["frame"] for event in stored(tmp_path, "test.big")]
    first_lost = next(index for index in range(FRAMES) if index not in frames)
    assert 5 < first_lost < CONFIRM_AT_FRAME  # the store filled up well before the confirmation
    lost = list(range(first_lost, CONFIRM_AT_FRAME))
    assert frames == [index for index in range(FRAMES) if index not in lost]

    (raised,) = stored(tmp_path, "fault.raised")
    assert (raised.data["code"], raised.data["component"]) == ("store.full", "store")
    assert "event store full" in raised.data["message"]
    (cleared,) = stored(tmp_path, "fault.cleared")
    assert cleared.data["code"] == "store.full"
    by_seq = {event.seq: event for event in stored(tmp_path)}
    assert by_seq[raised.seq - 1].data["frame"] == first_lost - 1  # raised with the first loss
    assert by_seq[cleared.seq - 1].data["frame"] == CONFIRM_AT_FRAME  # cleared with the first write

    (health,) = stored(tmp_path, "health")
    assert health.data["store"]["lost_events"] == len(lost)
    assert health.data["store"]["database_bytes"] + health.data["store"]["evidence_bytes"] <= 1024 * 1024

    refused = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
    assert len(refused) == 2, refused  # the first loss at once; the rest counted on recovery
    assert refused[0].startswith("1 event(s) not stored: event store full")
    assert refused[1].startswith(f"{len(lost) - 1} more event(s) were not stored")


def test_only_appends_marked_use_reserve_may_fill_the_reserve(tmp_path):
    clock = ClockState(synced=True, error_ms=1.0)
    folders = dict(database=tmp_path / "events.db", evidence_dir=tmp_path / "evidence", device="tn-test",
                   site="tn-bench")
    with EventStore(**folders, budget_bytes=1 << 30) as store:
        used = store.usage().used_bytes
    fault = EventDraft("fault.raised", {"code": "store.full", "component": "store", "message": "full"}, 1)
    # what is used already reaches into the reserve: no ordinary event fits, a fault does
    with EventStore(**folders, budget_bytes=used + 40_000, reserve_bytes=40_001) as store:
        with pytest.raises(StorageFull, match="40001 of them kept for fault events"):
            store.append([EventDraft("test.small", {}, 1)], clock)
        (stored_fault,) = store.append([fault], clock, use_reserve=True)
        assert stored_fault.seq == 1 and store.check() == []
