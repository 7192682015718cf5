"""The scorer's identity where the rules look: from the approach to the junction exit for
vehicles, on the crosswalk for pedestrians (sim/scoring.py), on a hand-built truth and track log."""

import pytest

from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.sim import score_run
from roadcam.sim.truth import GroundTruth, PedestrianTruth, VehicleTruth

FPS = 25.0
FRAMES = 100
VEHICLES_ROW = "vehicles under one identity, approach to junction exit"
PEDESTRIANS_ROW = "pedestrians under one identity on the crosswalk"
# road rectangles (x_min, x_max, y_min, y_max) as sim.layout.RoadLayout.rule_areas makes them
AREAS = {"approach": (0.0, 10.0, 0.0, 40.0), "junction": (0.0, 20.0, -24.0, 0.0), "crosswalk": (0.0, 20.0, -5.0, -1.0)}


#: A crossing person's road x: on the crosswalk (x 0-20 m) from frame 8 to frame 88.
CROSSING_XS = [-2.0 + 0.25 * frame for frame in range(FRAMES)]


def _vehicle_y(frame: int) -> float:
    """A vehicle driving from 38 m upstream of the stop line to 61 m down the exit road:
    in the approach in frames 0-38, in the junction in 39-62, beyond it from frame 63."""
    return 38.0 - frame


def _box(column: int, frame: int) -> tuple[float, float, float, float]:
    """A 100 x 80 px image box, one column of the picture per road user, moving down the picture."""
    x = 150.0 * column
    return (x, 200.0 + frame, x + 100.0, 280.0 + frame)


def _truth(pedestrians: dict[int, PedestrianTruth] | None = None) -> GroundTruth:
    truth = GroundTruth(scenario="hand-built", seed=0, fps=FPS, start_ns=0, camera="approach",
                        frames_rendered=FRAMES, areas=AREAS)
    vehicle = VehicleTruth(id=1, kind="car", entry_s=0.0)
    for frame in range(FRAMES):
        vehicle.boxes[frame] = (*_box(0, frame), 1.0)
        vehicle.ground[frame] = (5.0, _vehicle_y(frame))
    truth.vehicles[1] = vehicle
    truth.pedestrians = pedestrians or {}
    return truth


def _track(track_id: int, column: int, frames, kind: str = "car") -> Track:
    track = Track(id=track_id, camera="approach", kind_votes={kind: 1.0})
    track.points = [TrackPoint(frame, int(frame * 1e9 / FPS), _box(column, frame), None) for frame in frames]
    return track


def _score(truth: GroundTruth, tracks: list[Track]):
    return score_run(truth, tracks, [])


def test_one_track_throughout_is_held_in_both_figures():
    score = _score(_truth(), [_track(7, 0, range(FRAMES))])
    assert score.counts(VEHICLES_ROW) == (1, 1)
    assert score.counts("vehicles tracked under one identity") == (1, 1)


def test_a_switch_in_the_approach_is_lost():
    score = _score(_truth(), [_track(7, 0, range(20)), _track(8, 0, range(20, FRAMES))])
    assert score.counts(VEHICLES_ROW) == (0, 1)
    assert score[VEHICLES_ROW] == 0.0


def test_a_switch_in_the_junction_is_lost():
    score = _score(_truth(), [_track(7, 0, range(50)), _track(8, 0, range(50, FRAMES))])
    assert score.counts(VEHICLES_ROW) == (0, 1)


def test_a_switch_only_beyond_the_junction_does_not_count():
    # the far field (frames 63 on, down the exit road) is under another track: lost for the
    # whole-view figure (only 65 % under one track), held where the rules look
    score = _score(_truth(), [_track(7, 0, range(65)), _track(8, 0, range(65, FRAMES))])
    assert score.counts(VEHICLES_ROW) == (1, 1)
    assert score.counts("vehicles tracked under one identity") == (0, 1)


def test_a_vehicle_never_in_the_approach_in_view_is_not_judged():
    truth = _truth()
    vehicle = truth.vehicles[1]
    for frame in range(40):  # it comes into view past the stop line
        del vehicle.boxes[frame], vehicle.ground[frame]
    score = _score(truth, [_track(7, 0, range(40, FRAMES))])
    assert score.counts(VEHICLES_ROW) == (0, 0)
    assert score[VEHICLES_ROW] is None


def _wandering(other_hidden: bool):
    """Vehicle 1 hidden in frames 20-34 while its track holds vehicle 2 (standing upstream of
    the approach, itself hidden then or not), and the score."""
    truth = _truth()
    other = VehicleTruth(id=2, kind="car", entry_s=0.0)
    for frame in range(FRAMES):
        other.boxes[frame] = (*_box(1, frame), 1.0)
        other.ground[frame] = (8.0, 60.0)  # standing upstream of the approach, never judged there
    truth.vehicles[2] = other
    hidden = range(20, 35)
    for frame in hidden:  # vehicle 1 is hidden, so these frames are not judged for it
        truth.vehicles[1].boxes[frame] = (*_box(0, frame), 0.0)
        if other_hidden:
            other.boxes[frame] = (*_box(1, frame), 0.0)
    wanderer = _track(7, 0, [f for f in range(FRAMES) if f not in hidden])
    wanderer.points += [TrackPoint(f, int(f * 1e9 / FPS), _box(1, f), None) for f in hidden]
    wanderer.points.sort(key=lambda point: point.frame_index)
    other_track = _track(9, 1, [f for f in range(FRAMES) if f not in hidden])
    return _score(truth, [wanderer, other_track])


def test_a_track_that_wanders_to_another_road_user_and_back_is_a_switch():
    score = _wandering(other_hidden=False)
    assert score.counts(VEHICLES_ROW) == (0, 1)
    # the whole-view figure does not look at the track's side
    assert score.counts("vehicles tracked under one identity")[0] >= 1


def test_a_hidden_track_matched_to_another_hidden_road_user_is_no_switch():
    # two road users hidden in one queue: nobody tells which estimate is whose
    assert _wandering(other_hidden=True).counts(VEHICLES_ROW) == (1, 1)


def _pedestrian(person_id: int, column: int, xs) -> PedestrianTruth:
    """A person (ids are shared with vehicles, as in the simulator) walking across the road at
    3 m before the stop line, through road x ``xs`` frame by frame."""
    person = PedestrianTruth(id=person_id, kind="pedestrian", entry_s=0.0)
    for frame, x in enumerate(xs):
        person.boxes[frame] = (*_box(column, frame), 1.0)
        person.ground[frame] = (x, -3.0)
    return person


def test_pedestrians_are_judged_on_the_crosswalk_only():
    crossing = _pedestrian(11, 3, CROSSING_XS)
    strolling = _pedestrian(12, 4, [-1.5] * FRAMES)  # waits on the pavement, never steps on
    truth = _truth({11: crossing, 12: strolling})
    # the crosser's track changes once on the pavement before and once after the crosswalk;
    # nobody tracks the stroller
    tracks = [_track(7, 0, range(FRAMES)), _track(11, 3, range(5), "pedestrian"),
              _track(12, 3, range(5, 92), "pedestrian"), _track(13, 3, range(92, FRAMES), "pedestrian")]
    score = _score(truth, tracks)
    assert score.counts(PEDESTRIANS_ROW) == (1, 1)
    assert score.counts("pedestrians tracked under one identity") == (0, 2)


def test_a_pedestrian_switch_on_the_crosswalk_is_lost():
    truth = _truth({11: _pedestrian(11, 3, CROSSING_XS)})
    tracks = [_track(7, 0, range(FRAMES)), _track(11, 3, range(50), "pedestrian"),
              _track(12, 3, range(50, FRAMES), "pedestrian")]
    assert _score(truth, tracks).counts(PEDESTRIANS_ROW) == (0, 1)


def test_a_truth_without_areas_has_no_area_rows():
    truth = _truth()
    truth.areas = {}
    score = _score(truth, [_track(7, 0, range(FRAMES))]).as_dict()
    assert VEHICLES_ROW not in score and PEDESTRIANS_ROW not in score


@pytest.mark.parametrize("name", [VEHICLES_ROW, PEDESTRIANS_ROW])
def test_the_rows_are_printed(name):
    crossing = _pedestrian(11, 3, CROSSING_XS)
    table = _score(_truth({11: crossing}), [_track(7, 0, range(FRAMES)),
                                          _track(11, 3, range(FRAMES), "pedestrian")]).table()
    assert any(line.startswith(name) and "100.0%" in line for line in table.splitlines())
