"""The wait for a track's plate that fence violations, spot-speed violations and section passages
share (roadcam.appliance.plate_wait): what is held, what releases it, what it carries, and what
its health figures say of the records still held."""

from __future__ import annotations

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.plate_wait import SILENT_S, PlateWait
from roadcam.protocol.events import Event, EvidenceRef

S = 10**9
T0 = 1_800_000_000 * S


def plate_read(camera: str, track_id, plate: str, seq: int = 1) -> Event:
    return Event(id=f"read-{seq}", device="tn-test", site="tn-bench", type="plate.read",
                 time="2027-01-15T08:00:00.000000Z", seq=seq, clock={"synced": True, "error_ms": 1.0},
                 data={"camera": camera, "track_id": track_id, "plate": plate, "confidence": 0.9},
                 evidence=[EvidenceRef(sha256="a" * 64, kind="plate_crop", bytes=900),
                           EvidenceRef(sha256="b" * 64, kind="plate_frame", bytes=90000)])


def test_a_record_waits_for_its_track_to_end_then_goes_with_the_read():
    wait = PlateWait(wait_s=3.0, clock=ManualClock(T0))
    wait.hold("cam", 7, "violation")
    wait.note(plate_read("cam", 7, "ABC-1234"))
    assert wait.due(T0 + 10 * S) == [] and wait.health()["plate_waiting"] == 1  # the track still lives
    wait.track_ended("cam", 7, T0 + 11 * S)
    [(record, read)] = wait.due(T0 + 11 * S)
    assert record == "violation" and wait.health()["plate_waiting"] == 0
    assert read.fields() == {"plate": "ABC-1234", "plate_confidence": 0.9, "plate_event": "read-1",
                             "plate_evidence": ["a" * 64, "b" * 64]}


def test_without_a_read_a_record_goes_plain_wait_s_after_its_track_ended():
    wait = PlateWait(wait_s=3.0, clock=ManualClock(T0))
    wait.hold("cam", 7, "passage")
    wait.note(plate_read("cam", 8, "OTHER-1"))       # another track's read
    wait.note(plate_read("north", 7, "OTHER-2", 2))   # the same track id on another camera
    wait.track_ended("cam", 7, T0)
    assert wait.due(T0 + 3 * S - 1) == []
    assert wait.due(T0 + 3 * S) == [("passage", None)]


def test_a_record_held_after_its_track_ended_finds_the_read_already_seen():
    wait = PlateWait(wait_s=5.0, clock=ManualClock(T0))
    wait.track_ended("cam", 3, T0)
    wait.note(plate_read("cam", 3, "XYZ-987"))
    wait.due(T0 + 20 * S)  # reads are kept beyond the wait for records still to come
    wait.hold("cam", 3, "late passage")
    [(record, read)] = wait.due(T0 + 21 * S)
    assert record == "late passage" and read.plate == "XYZ-987"


def test_records_go_in_the_order_held_and_all_go_at_shutdown():
    wait = PlateWait(wait_s=3.0, clock=ManualClock(T0))
    for track_id, record in ((1, "first"), (2, "second"), (1, "third")):
        wait.hold("cam", track_id, record)
    wait.note(plate_read("cam", 1, "AAA-111"))
    wait.track_ended("cam", 1, T0)
    assert [record for record, _ in wait.due(T0)] == ["first", "third"]
    assert wait.flush() == [("second", None)] and wait.due(T0 + 60 * S) == []


def test_other_events_and_reads_without_a_track_name_nothing():
    wait = PlateWait(wait_s=0.0, clock=ManualClock(T0))
    wait.hold("cam", 4, "violation")
    wait.note(plate_read("cam", None, "NO-TRACK"))
    hotlist = plate_read("cam", 4, "HOT-1").model_copy(update={"type": "hotlist.hit"})
    wait.note(hotlist)
    wait.track_ended("cam", 4, T0)
    assert wait.due(T0) == [("violation", None)]


def test_health_counts_the_records_held_and_how_long_the_oldest_has_waited():
    clock = ManualClock(T0)
    wait = PlateWait(wait_s=3.0, clock=clock)
    assert wait.health() == {"plate_waiting": 0, "plate_oldest_wait_s": 0.0}
    wait.hold("cam", 1, "first")
    clock.advance(40.0)
    wait.hold("cam", 2, "second")
    clock.advance(2.5)
    assert wait.health() == {"plate_waiting": 2, "plate_oldest_wait_s": 42.5}  # track 1 has not ended: it keeps waiting
    wait.track_ended("cam", 1, T0)
    wait.due(T0 + 3 * S)
    assert wait.health() == {"plate_waiting": 1, "plate_oldest_wait_s": 2.5}  # the oldest now is the second
    wait.flush()
    assert wait.health() == {"plate_waiting": 0, "plate_oldest_wait_s": 0.0}


def test_a_silent_camera_s_records_go_wait_s_and_silent_s_after_its_last_frame_with_what_is_known():
    clock = ManualClock(T0)
    wait = PlateWait(wait_s=3.0, clock=clock)
    bound = 3.0 + SILENT_S
    wait.seen("cam")
    wait.hold("cam", 7, "violation")                  # its track never ends: the camera died
    wait.hold("cam", 8, "passage")
    wait.note(plate_read("cam", 8, "KNOWN-8"))        # track 8's read was stored before
    wait.hold("north", 2, "north's")                  # another camera, still sending
    clock.advance(10.0)
    wait.hold("cam", 9, "held in the silence")        # its wait runs from the hold
    clock.advance(bound - 10.0 - 0.001)
    wait.seen("north")
    assert wait.due(T0) == []                         # the owner's clock stopped with the frames
    clock.advance(0.001)
    assert [(record, read and read.plate) for record, read in wait.due(T0)] == [("violation", None),
                                                                               ("passage", "KNOWN-8")]
    clock.advance(10.0 - 0.001)
    assert wait.due(T0) == []
    clock.advance(0.001)
    assert wait.due(T0) == [("held in the silence", None)]
    assert wait.health()["plate_waiting"] == 1        # north's camera sent a frame within the bound
