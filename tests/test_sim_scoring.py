"""The scorer: perfect output scores 100 %, broken output less."""

import copy

import pytest

from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.protocol.events import Event, iso_utc
from roadcam.sim import SimRoad, TrackRecorder, load_scenario, score_run


@pytest.fixture(scope="module")
def truth():
    road = SimRoad.from_scenario(load_scenario("smoke").model_copy(update={"duration_s": 14.0}))
    road.run()
    return road.truth


def _perfect_tracks(truth) -> list[Track]:
    tracks = []
    for object_id, item in sorted({**truth.vehicles, **truth.pedestrians}.items()):
        track = Track(id=100 + object_id, camera=truth.camera, kind_votes={item.kind: 1.0})
        for frame, box in sorted(item.boxes.items()):
            track.points.append(TrackPoint(frame, truth.wall_ns((frame + 1) / truth.fps), tuple(box[:4]), None))
        tracks.append(track)
    return tracks


def _event(truth, kind: str, time_s: float, data: dict, seq: int = 1) -> Event:
    return Event(id=f"e{seq}", device="sim-0001", site="sim-smoke", type=kind, time=iso_utc(truth.wall_ns(time_s)),
                 seq=seq, clock={"synced": True, "error_ms": 1.0}, data=data)


def test_perfect_tracks_score_full_marks(truth):
    score = score_run(truth, _perfect_tracks(truth), []).as_dict()
    assert score["frames rendered"] == 350
    assert score["vehicles tracked under one identity"] == 1.0
    assert score["vehicle class accuracy"] == 1.0
    assert score["pedestrians tracked under one identity"] == 1.0


def test_identity_switch_and_wrong_class_lower_the_score(truth):
    tracks = _perfect_tracks(truth)

    def clear_frames(vehicle):
        return [f for f, (x1, y1, x2, y2, seen) in sorted(vehicle.boxes.items()) if seen > 0.95 and y2 - y1 > 40]

    vehicle = max(truth.vehicles.values(), key=lambda v: len(clear_frames(v)))
    switch_at = clear_frames(vehicle)[len(clear_frames(vehicle)) // 2]
    victim = next(t for t in tracks if t.id == 100 + vehicle.id)
    later = [p for p in victim.points if p.frame_index >= switch_at]
    tracks.append(Track(id=999, camera=victim.camera, points=later, kind_votes={"bus": 1.0}))
    victim.points = [p for p in victim.points if p.frame_index < switch_at]
    tracks[0].kind_votes = {"pedestrian": 1.0}
    result = score_run(truth, tracks, [])
    score = result.as_dict()
    vehicles = sum(1 for v in truth.vehicles.values() if v.boxes)
    assert score["vehicles tracked under one identity"] == pytest.approx((vehicles - 1) / vehicles)
    assert result.counts("vehicles tracked under one identity") == (vehicles - 1, vehicles)
    assert score["vehicle class accuracy"] < 1.0


def test_events_are_scored_against_the_truth(truth):
    tracks = _perfect_tracks(truth)
    violations = truth.violations()
    assert {v.rule for _, v in violations} >= {"red_light", "speeding"}
    events = [_event(truth, f"violation.{v.rule}", v.time_s + 0.5, {"track_id": 100 + owner.id}, seq)
              for seq, (owner, v) in enumerate(violations, start=1)]
    reads = [_event(truth, "plate.read", vehicle.entry_s + 3, {"plate": vehicle.plate.replace("-", ""),
                                                               "track_id": 100 + vehicle.id}, 50 + vehicle.id)
             for vehicle in truth.vehicles.values()]
    reads[0] = reads[0].model_copy(update={"data": {"plate": "ZZZ-9999", "track_id": reads[0].data["track_id"]}})
    health = _event(truth, "health", 1.0, {}, 99)
    score = score_run(truth, tracks, events + reads + [health]).as_dict()
    assert score["violation.red_light precision"] == 1.0 and score["violation.red_light recall"] == 1.0
    assert score["violation.speeding recall"] == 1.0
    assert score["plate.read exact plate"] == pytest.approx((len(reads) - 1) / len(reads))
    assert score["events health"] == 1

    wrong = [_event(truth, "violation.red_light", 1.0, {"track_id": 100 + max(truth.vehicles)}, 1)]
    assert score_run(truth, tracks, wrong).as_dict()["violation.red_light precision"] == 0.0


def test_table_is_aligned_and_track_recorder_keeps_copies(truth):
    table = score_run(truth, _perfect_tracks(truth), [], wall_s=2.0).table()
    lines = table.splitlines()
    assert lines[0].startswith("metric") and "tracked under one identity" in table and "100.0%" in table
    value_column = lines[0].index("value") + len("value")
    assert all(line[value_column - 1] != " " for line in lines[2:])  # values right-aligned in one column
    recorder = TrackRecorder()
    track = _perfect_tracks(truth)[0]
    assert recorder.roadcam_track_finished(track=track) == []
    track.points.clear()
    assert recorder.tracks[0].points and recorder.tracks[0] is not track
    assert copy.deepcopy(recorder.tracks[0]).id == track.id


def test_vehicles_read_are_counted_among_those_whose_plate_is_ever_legible(truth):
    """A plate never 30 px wide cannot be read: such vehicles count only in the 'any plate' row."""
    def legible(vehicle):
        return any(box[4] >= 0.6 and box[2] - box[0] >= 30 for box in vehicle.plate_boxes.values())

    shown = [v for v in truth.vehicles.values() if v.boxes]
    illegible = [v for v in shown if not legible(v)]
    assert illegible and len(illegible) < len(shown), "the fixture needs vehicles of both kinds"
    reads = [_event(truth, "plate.read", v.entry_s + 3, {"plate": v.plate, "track_id": 100 + v.id}, 50 + v.id)
             for v in illegible]
    score = score_run(truth, _perfect_tracks(truth), reads).as_dict()
    assert score["plate.read exact plate"] == 1.0
    assert score["plate.read vehicles read"] == 0.0
    assert score["plate.read vehicles read, any plate"] == pytest.approx(len(illegible) / len(shown))
