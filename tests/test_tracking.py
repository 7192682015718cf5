"""The tracker: identities through entry, exit, crossings, occlusion and missed detections."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from synthetic import FPS, FRAME_NS, FRAME_SIZE, LANES_M, Mover, road_geometry, run_pipeline, track_ids_per_mover

from roadcam.appliance.appearance import signature_distance
from roadcam.appliance.assignment import min_cost_assignment
from roadcam.appliance.tracking import Detection, Tracker
from roadcam.plugins.detection.signatures import colour_signature

CAR = dict(width_m=1.8, length_m=4.5, height_m=1.5)


def _detection(box, road_xy=None, kind="car", score=1.0, whole=False, signature=None):
    return Detection(box=tuple(float(v) for v in box), kind=kind, score=score, source="test", road_xy=road_xy,
                     whole=whole, signature=signature)


def _painted(colour_bgr: tuple[int, int, int], side_px: int = 60, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """The colour signature of a vehicle painted ``colour_bgr`` (with pixel noise)."""
    image = np.full((side_px, side_px, 3), colour_bgr, np.float64)
    image += np.random.default_rng(seed).normal(0.0, noise, image.shape)
    return colour_signature(np.clip(image, 0, 255).astype(np.uint8), (0, 0, side_px, side_px))


# -- assignment -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 5), (5, 2), (4, 4), (6, 3)])
def test_assignment_finds_the_cheapest_matching(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = np.round(rng.random(shape) * 10, 1)
        pairs = min_cost_assignment(cost)
        rows, columns = shape
        if rows <= columns:
            best = min(sum(cost[r, c] for r, c in zip(range(rows), perm))
                       for perm in itertools.permutations(range(columns), rows))
        else:
            best = min(sum(cost[r, c] for r, c in zip(perm, range(columns)))
                       for perm in itertools.permutations(range(rows), columns))
        assert len(pairs) == min(shape)
        assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
        assert sum(cost[r, c] for r, c in pairs) == pytest.approx(best)


def test_assignment_rejects_infinite_costs():
    with pytest.raises(ValueError, match="finite"):
        min_cost_assignment([[1.0, np.inf]])


# -- tracker on hand-made detections ----------------------------------------------------------

def _moving_box(step: int, x0: float, vx: float) -> tuple[float, float, float, float]:
    x = x0 + vx * step
    return (x, 300.0, x + 80.0, 360.0)


def test_new_track_is_confirmed_after_min_hits_and_unconfirmed_ones_are_never_reported():
    tracker = Tracker("cam", min_hits=3)
    live, finished = tracker.update(0, 0, [_detection(_moving_box(0, 100, 10))])
    assert live == [] and finished == []
    tracker.update(1, FRAME_NS, [_detection(_moving_box(1, 100, 10)), _detection((900, 100, 960, 150))])
    live, _ = tracker.update(2, 2 * FRAME_NS, [_detection(_moving_box(2, 100, 10))])
    assert [t.id for t in live] == [1] and live[0].confirmed
    ended = []
    for step in range(3, 60):
        ended += tracker.update(step, step * FRAME_NS, [])[1]
    assert [t.id for t in ended] == [1], "the one-frame blob at (900, 100) must never be reported"


def test_track_finishes_after_max_missed_frames():
    tracker = Tracker("cam", max_missed_frames=5, min_hits=1)
    tracker.update(0, 0, [_detection((100, 100, 200, 200))])
    finished_at = None
    for step in range(1, 20):
        _, finished = tracker.update(step, step * FRAME_NS, [])
        if finished:
            finished_at = step
            break
    assert finished_at == 6


def test_track_finishes_as_soon_as_it_leaves_the_frame():
    tracker = Tracker("cam", min_hits=1, frame_size_px=(640, 480))
    step = 0
    while _moving_box(step, 300, 20)[2] <= 640:
        tracker.update(step, step * FRAME_NS, [_detection(_moving_box(step, 300, 20))])
        step += 1
    ended = []
    for extra in range(4):
        ended += tracker.update(step + extra, (step + extra) * FRAME_NS, [])[1]
        if ended:
            break
    assert len(ended) == 1 and extra <= 2


def test_kind_is_the_score_weighted_vote():
    tracker = Tracker("cam", min_hits=1)
    kinds = [("truck", 0.2), ("bus", 0.9), ("truck", 0.3), ("bus", 0.8), ("truck", 0.2)]
    for step, (kind, score) in enumerate(kinds):
        live, _ = tracker.update(step, step * FRAME_NS, [_detection(_moving_box(step, 0, 5), kind=kind, score=score)])
    assert live[0].kind == "bus"
    assert live[0].kind_votes == pytest.approx({"truck": 0.7, "bus": 1.7})


def test_two_tracks_merged_in_one_blob_keep_their_ids():
    """Two boxes approach on one image row, merge into one detection for 15 frames, separate."""
    tracker = Tracker("cam")
    seen: dict[int, set[int]] = {0: set(), 1: set()}
    for step in range(60):
        left, right = _moving_box(step, 100, 12), _moving_box(step, 1100, -12)
        if left[2] + 10 >= right[0] and right[2] + 10 >= left[0]:
            detections = [_detection((min(left[0], right[0]), 300, max(left[2], right[2]), 360))]
        else:
            detections = [_detection(left), _detection(right)]
        live, _ = tracker.update(step, step * FRAME_NS, detections)
        for track in live:
            if track.missed == 0 and track.last.frame_index == step:
                centre = (track.last.box[0] + track.last.box[2]) / 2
                truth = 0 if abs(centre - (left[0] + 40)) < abs(centre - (right[0] + 40)) else 1
                if len(detections) == 2:
                    seen[truth].add(track.id)
    assert len(seen[0]) == 1 and len(seen[1]) == 1 and seen[0] != seen[1]


def test_a_car_whose_blob_takes_in_people_crossing_behind_it_keeps_its_id():
    """A car drives up the picture and stops (its box rising and shrinking, then still) while
    two people walk across behind it, seen as one blob (a detector sizing them as a scooter),
    their heads above its roof. For 3 s the car's blob holds both tracks and is too much larger
    than the car's box for either to take it. When the people have walked out of it, the car's
    detections go on to the track that had the car (rain, 2026-12-06: the car's unmeasured box
    slid on up off the standing car, and the walkers' box grew inside the blob until it took
    the car's detection)."""
    def car(step):
        share = min(step, 40) / 40
        return tuple(a + (b - a) * share for a, b in zip((300, 520, 700, 760), (480, 300, 650, 410)))

    tracker = Tracker("cam", frame_size_px=(1280, 720))
    holders: set[int] = set()
    for step in range(160):
        x = 760 - 3 * step
        walkers = (x, 250, x + 60, 350)
        together = walkers[0] < car(step)[2] and walkers[2] > car(step)[0]
        if together:
            blob = (min(x, car(step)[0]), 250, max(x + 60, car(step)[2]), car(step)[3])
            detections = [_detection(blob)]
        else:
            detections = [_detection(car(step)), _detection(walkers, kind="scooter")]
        live, _ = tracker.update(step, step * FRAME_NS, detections)
        if not together:
            holders |= {track.id for track in live if track.missed == 0 and track.last.box == car(step)}
    assert len(holders) == 1


def test_small_object_hidden_behind_a_large_one_keeps_its_id():
    """A pedestrian walks behind a bus: for 43 frames (1.7 s, longer than max_missed_frames)
    there is one blob; both keep their ids."""
    tracker = Tracker("cam")
    seen: dict[str, set[int]] = {"bus": set(), "pedestrian": set()}
    for step in range(150):
        bus = (200.0 + 6 * step, 250.0, 600.0 + 6 * step, 400.0)
        x = 900.0 - 4 * step
        pedestrian = (x, 320.0, x + 30, 390.0)
        if pedestrian[2] >= bus[0] and pedestrian[0] <= bus[2]:
            detections = [_detection((min(bus[0], x), 250, max(bus[2], x + 30), 400))]
        else:
            detections = [_detection(bus), _detection(pedestrian)]
        live, _ = tracker.update(step, step * FRAME_NS, detections)
        for track in live:
            if len(detections) == 2 and track.last.frame_index == step:
                seen["bus" if track.last.box[2] - track.last.box[0] > 200 else "pedestrian"].add(track.id)
    assert len(seen["bus"]) == 1 and len(seen["pedestrian"]) == 1


def test_a_second_whole_detection_of_a_tracked_car_starts_no_track_but_a_queued_car_does():
    """A learned detector sometimes reports one car twice (boxes overlapping by IoU 0.55); the
    car behind, wholly inside the truck's box but small, is a new object."""
    tracker = Tracker("cam")
    for step in range(40):
        car = _moving_box(step, 100, 10)
        twin = (car[0] + 8, car[1] + 6, car[2] + 8, car[3] + 6)
        truck = (900.0, 200.0, 1300.0, 500.0)
        queued = (1000.0, 220.0, 1080.0, 280.0)
        detections = [_detection(car, whole=True), _detection(truck, kind="truck", whole=True)]
        if step >= 5:
            detections.append(_detection(twin, whole=True))
        if step >= 10:
            detections.append(_detection(queued, whole=True))
        live, _ = tracker.update(step, step * FRAME_NS, detections)
    assert sorted(track.kind for track in live) == ["car", "car", "truck"]
    assert [len(track.points) for track in live if track.last.box[0] < 800] == [40]


def test_a_whole_detection_must_be_seen_longer_before_its_track_counts():
    """Four frames make a track of a blob (min_hits 3) but not of a learned detection
    (whole_min_hits 5): a passing second detection of a far vehicle is no new identity."""
    for whole, confirmed in ((False, True), (True, False)):
        tracker = Tracker("cam", min_hits=3, whole_min_hits=5)
        for step in range(4):
            live, _ = tracker.update(step, step * FRAME_NS, [_detection(_moving_box(step, 100, 10), whole=whole)])
        assert bool(live) is confirmed
        live, _ = tracker.update(4, 4 * FRAME_NS, [_detection(_moving_box(4, 100, 10), whole=whole)])
        assert len(live) == 1


def test_a_track_prefers_a_detection_of_its_own_class():
    """A car's track meets a scooter detection right where the car was predicted and the car's
    own detection a little off: it follows the car, and the scooter starts a track of its own."""
    tracker = Tracker("cam")
    for step in range(10):
        live, _ = tracker.update(step, step * FRAME_NS, [_detection(_moving_box(step, 100, 10), whole=True)])
    [car_track] = live
    predicted = _moving_box(10, 100, 10)
    car = (predicted[0] + 4, predicted[1] + 2, predicted[2] + 4, predicted[3] + 2)
    tracker.update(10, 10 * FRAME_NS, [_detection(predicted, kind="scooter", whole=True), _detection(car, whole=True)])
    assert car_track.last.box == car and car_track.kind == "car"



def test_a_long_unseen_track_does_not_take_a_waiting_cars_detection():
    """A car waits at the stop line while another track beside it goes unseen for 28 frames,
    its gate growing wide. When a scooter's detection appears over the car's side, the car's
    own track keeps the car: giving the car to the unseen track and the scooter to the car's
    track would make two pairs, but two poor ones."""
    tracker = Tracker("cam")
    car = (400.0, 400.0, 520.0, 480.0)
    other = (540.0, 400.0, 600.0, 450.0)
    for step in range(38):
        detections = [_detection(car, whole=True)] + ([_detection(other, whole=True)] if step < 10 else [])
        live, _ = tracker.update(step, step * FRAME_NS, detections)
    car_track = next(track for track in live if track.last.box == car)
    scooter = (355.0, 380.0, 455.0, 480.0)
    tracker.update(38, 38 * FRAME_NS, [_detection(car, whole=True), _detection(scooter, kind="scooter", whole=True)])
    assert car_track.last.frame_index == 38 and car_track.last.box == car



def test_colour_signatures_match_one_vehicle_and_tell_two_apart():
    """One car seen large and noisy or small is near itself; a red car and a blue one are far
    apart; a box off the frame has no signature."""
    red_near, red_far = _painted((30, 30, 190), 200, noise=12.0, seed=1), _painted((30, 30, 190), 24, seed=2)
    blue = _painted((190, 60, 30), 24)
    assert signature_distance(red_near, red_far) < 0.3
    assert signature_distance(red_far, blue) > 0.9
    assert colour_signature(np.zeros((100, 100, 3), np.uint8), (120.0, 10.0, 160.0, 40.0)) is None


@pytest.mark.parametrize("appearance_weight, kept", [(1.0, True), (0.0, False)])
def test_colour_keeps_two_overlapping_far_vehicles_apart(appearance_weight, kept):
    """Far from the camera a red car and a blue one overlap in the image. When their boxes
    jitter so that overlap alone would swap them, each track keeps its own colour (and without
    the colour cue, they swap)."""
    red, blue = _painted((30, 30, 190)), _painted((190, 60, 30))
    tracker = Tracker("cam", appearance_weight=appearance_weight)
    for step in range(10):
        live, _ = tracker.update(step, step * FRAME_NS, [_detection((100, 100, 140, 130), whole=True, signature=red),
                                                         _detection((104, 100, 144, 130), whole=True, signature=blue)])
    red_track = next(track for track in live if track.last.box[0] == 100)
    tracker.update(10, 10 * FRAME_NS, [_detection((103, 100, 143, 130), whole=True, signature=red),
                                       _detection((101, 100, 141, 130), whole=True, signature=blue)])
    assert (red_track.last.box[0] == 103) is kept


def test_a_vehicle_hidden_for_seconds_comes_out_where_it_went_in():
    """A scooter waits hidden behind a bus for 4.4 s. A car coming into view 18 m away on the
    road starts a track of its own rather than continuing the scooter's, and the scooter's
    track takes the scooter again when it shows."""
    tracker = Tracker("cam")
    bus = _detection((0, 250, 700, 1000), road_xy=(8.0, 15.0), kind="bus", whole=True)
    scooter = _detection((500, 300, 560, 410), road_xy=(10.0, 2.0), kind="scooter", whole=True)
    car = _detection((1400, 240, 1500, 340), road_xy=(-5.0, -8.0), whole=True)
    for step in range(140):
        detections = [bus] + ([scooter] if step < 20 or step >= 135 else []) + ([car] if step >= 130 else [])
        live, _ = tracker.update(step, step * FRAME_NS, detections)
    boxes = {track.kind: [point.box for point in track.points if point.measured] for track in live}
    assert set(boxes["scooter"]) == {scooter.box} and len(boxes["scooter"]) == 25
    assert set(boxes["car"]) == {car.box}

@pytest.mark.parametrize("colour_bgr, same_identity", [((30, 30, 190), True), ((190, 60, 30), False)])
def test_a_road_user_coming_out_from_hiding_elsewhere_keeps_its_id(colour_bgr, same_identity):
    """A red car waits behind a standing bus for 10 s and turns while hidden: it comes out
    beside the bus 12 m from where it went in, too far for any gate. The track that starts there
    is recognised as the red car's (same class, same colours, a drive it could have made) and
    the red car keeps its id, with its points before and after. A blue car coming out there
    instead is another road user and gets an id of its own."""
    red = _painted((30, 30, 190))
    tracker = Tracker("cam", frame_size_px=(1920, 1080))
    bus = _detection((0, 250, 700, 1000), road_xy=(8.0, 15.0), kind="bus", whole=True)
    went_in = _detection((450, 300, 600, 400), road_xy=(10.0, 2.0), whole=True, signature=red)
    came_out = _detection((650, 200, 800, 290), road_xy=(14.0, -9.0), whole=True, signature=_painted(colour_bgr))
    tracks = {}
    for step in range(290):
        detections = [bus] + ([went_in] if step < 20 else []) + ([came_out] if step >= 270 else [])
        live, finished = tracker.update(step, step * FRAME_NS, detections)
        tracks.update({track.id: track for track in live + finished})
    car_ids = {track.id for track in tracks.values() if track.kind == "car"}
    assert len(car_ids) == (1 if same_identity else 2)
    first_car = tracks[min(car_ids)]
    measured = {point.box for point in first_car.points if point.measured}
    assert (came_out.box in measured) is same_identity and went_in.box in measured


@pytest.mark.parametrize("colour_bgr, taken", [((30, 30, 190), True), ((190, 60, 30), False)])
def test_a_long_hidden_track_takes_only_a_road_user_of_its_colours(colour_bgr, taken):
    """A red car is hidden behind a standing bus for 4 s. A car driving up (tracked on its way)
    to where it went in is taken by the hidden track when red; a blue one is another car, the
    next in the queue, and keeps its own track."""
    red = _painted((30, 30, 190))
    tracker = Tracker("cam", frame_size_px=(1920, 1080))
    bus = _detection((0, 250, 700, 1000), road_xy=(8.0, 15.0), kind="bus", whole=True)
    car = (450, 300, 600, 400)
    for step in range(110):
        detections = [bus] + ([_detection(car, road_xy=(10.0, 2.0), whole=True, signature=red)] if step < 10 else [])
        if step >= 90:
            ahead = max(100 - step, 0)  # drives up 3 px and 0.1 m a frame, stands from frame 100
            detections.append(_detection((450, 300 + 3 * ahead, 600, 400 + 3 * ahead),
                                         road_xy=(10.0, 2.0 + 0.1 * ahead), whole=True, signature=_painted(colour_bgr)))
        live, _ = tracker.update(step, step * FRAME_NS, detections)
    red_track = next(track for track in live if track.id == 2)
    assert (red_track.last.frame_index == 109 and red_track.last.measured) is taken
    assert len([track for track in live if track.kind == "car"]) == (1 if taken else 2)


@pytest.mark.parametrize("rejoin_iou, kept", [(0.7, True), (None, False)])
def test_a_car_coming_out_of_a_queue_where_it_waited_keeps_its_id(rejoin_iou, kept):
    """A red car waits in a queue while a grey bus creeps past in front of it and hides it for
    4 s. When it shows again where it waited, its box still half behind the bus, its colours
    are mostly the bus's; with nothing else there (no track took the detection), its hidden
    track takes it and it keeps its id (with ``rejoin_iou`` null, a second identity starts)."""
    red, grey = _painted((30, 30, 190)), _painted((160, 160, 160))
    tracker = Tracker("cam", frame_size_px=(1920, 1080), rejoin_iou=rejoin_iou)
    car = (450, 300, 600, 400)
    for step in range(120):
        bus_x = 532 - 4.6 * step  # the bus covers the car from frame 20, and half of it at frame 110
        detections = [_detection((bus_x, 200, bus_x + 500, 500), road_xy=(7.0, 6.0), kind="bus", whole=True,
                                 signature=grey)]
        if step < 20:
            detections.append(_detection(car, road_xy=(10.0, 2.0), whole=True, signature=red))
        elif step >= 110:
            detections.append(_detection(car, road_xy=(10.0, 2.0), whole=True, signature=grey))
        live, _ = tracker.update(step, step * FRAME_NS, detections)
    cars = [track for track in live if track.kind == "car"]
    assert (len(cars) == 1 and cars[0].last.frame_index == 119 and cars[0].last.measured) is kept


def test_a_road_user_lost_mid_picture_is_kept_until_it_shows_again_but_not_at_the_edge():
    """A car standing in the middle of the picture goes undetected for 4 s (something the
    detector missed stands in front): road users leave across the frame's edges, so its track is
    kept and takes the car again. A car lost at the frame's edge has left: its track ends after
    ``max_missed_frames``."""
    tracker = Tracker("cam", frame_size_px=(1920, 1080))
    middle, edge = (800.0, 500.0, 950.0, 600.0), (1800.0, 500.0, 1920.0, 600.0)
    finished_ids = []
    for step in range(130):
        detections = [_detection(box, whole=True) for box in (middle, edge) if step < 10 or step >= 110]
        live, finished = tracker.update(step, step * FRAME_NS, detections)
        finished_ids += [track.id for track in finished]
        if step == 9:
            middle_id = next(track.id for track in live if track.last.box == middle)
            edge_id = next(track.id for track in live if track.last.box == edge)
    assert edge_id in finished_ids and middle_id not in finished_ids
    assert next(track for track in live if track.id == middle_id).last.box == middle


def test_a_car_that_shrank_into_the_distance_has_left_and_its_track_takes_no_later_car():
    """A car drives off down the road, shrinking to 25 px, and is lost at the far end where a
    bus's box covers it. Far down the road small boxes overlap all the time, so a
    receding road user lost there has gone, not hidden: its track ends after
    ``max_missed_frames``, and a car of its colours arriving there 4 s later is a new one."""
    red = _painted((30, 30, 190))
    tracker = Tracker("cam", frame_size_px=(1920, 1080))
    bus = _detection((1080, 40, 1260, 140), whole=True, kind="bus", signature=_painted((200, 200, 200)))

    def receding_car(step):  # from 60 x 40 px at (1000, 160) to 30 x 20 px at (1115, 110)
        t = step / 49
        cx, cy, w, h = 1000 + 115 * t, 160 - 50 * t, 60 - 30 * t, 40 - 20 * t
        return _detection((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), whole=True, signature=red)

    finished_ids, live = [], []
    for step in range(160):
        detections = [bus] + ([receding_car(step)] if step < 50 else []) + ([receding_car(49)] if step >= 150 else [])
        live, finished = tracker.update(step, step * FRAME_NS, detections)
        finished_ids += [track.id for track in finished]
        if step == 49:
            car_id = next(track.id for track in live if track.kind == "car")
    assert car_id in finished_ids
    assert not any(track.id == car_id for track in live)


def test_a_vehicle_track_never_takes_a_pedestrians_detection():
    """A learned detector does not mistake a pedestrian for a car: a car's track unseen for a
    moment does not take a pedestrian walking through where the car was (a class change costs
    little, but this one is not allowed at all)."""
    tracker = Tracker("cam")
    car = (400.0, 400.0, 520.0, 480.0)
    for step in range(20):
        live, _ = tracker.update(step, step * FRAME_NS, [_detection(car, whole=True)])
    car_track = live[0]
    for step in range(20, 30):
        walker = (420.0 + 2 * step, 380.0, 450.0 + 2 * step, 480.0)
        live, _ = tracker.update(step, step * FRAME_NS, [_detection(walker, kind="pedestrian", whole=True)])
    assert all(point.box == car for point in car_track.points if point.measured)
    assert car_track.kind_votes == {"car": 20.0}


@pytest.mark.parametrize("size_ratio, taken", [(None, False), (100.0, True)])
def test_an_unseen_scooters_track_does_not_take_a_truck_driving_over_it(size_ratio, taken):
    """A scooter waits; a truck drives in front of it, hiding it, and is found before its own
    track exists. Its box, six times the scooter's width, lies centred where the scooter waits:
    the scooter's unseen track does not take it (no box grows that much between two frames),
    unless the size gate is opened."""
    tracker = Tracker("cam") if size_ratio is None else Tracker("cam", whole_size_ratio=size_ratio)
    scooter = (100.0, 100.0, 140.0, 180.0)
    for step in range(10):
        live, _ = tracker.update(step, step * FRAME_NS, [_detection(scooter, kind="scooter", whole=True)])
    [scooter_track] = live
    tracker.update(10, 10 * FRAME_NS, [])
    truck = (0.0, 40.0, 240.0, 240.0)
    tracker.update(11, 11 * FRAME_NS, [_detection(truck, kind="truck", whole=True)])
    assert (scooter_track.last.box == truck) == taken


def _approaching_car_detections() -> list[list[Detection]]:
    """An oncoming car (18 m/s) growing and speeding up in the image, unseen in frames 20-44."""
    geometry = road_geometry()
    car = Mover(10.75, 10.0, vy_mps=18.0, **CAR)
    frames = []
    for step in range(200):
        box = car.image_box(step / FPS)
        if box is None or box[0] < 0 or box[3] > FRAME_SIZE[1]:
            break
        road_xy = tuple(geometry.to_road([((box[0] + box[2]) / 2, box[3])])[0])
        frames.append([] if 20 <= step < 45 else [_detection(box, road_xy=road_xy)])
    return frames


def test_road_plane_prediction_bridges_a_one_second_gap_in_perspective():
    """Coasting at constant speed on the road stays true to perspective (coasting in the image
    alone loses this oncoming car)."""
    tracker = Tracker("cam", frame_size_px=FRAME_SIZE)
    ids = set()
    for step, detections in enumerate(_approaching_car_detections()):
        ids |= {t.id for t in tracker.update(step, step * FRAME_NS, detections)[0]}
    assert ids == {1}


# -- tracker behind the detector, on rendered frames -----------------------------------------

def test_single_vehicle_has_one_track_from_entry_to_exit():
    car = Mover(LANES_M[0], 74.0, vy_mps=-14.0, **CAR)
    tracks, _, truth = run_pipeline([car], 170)
    ids = track_ids_per_mover(tracks, truth)
    assert len(tracks) == 1 and ids == {0: {tracks[0].id}}
    visible = [i for i, boxes in enumerate(truth) if 0 in boxes]
    assert tracks[0].points[0].frame_index - visible[0] <= 4, "tracked from its entry"
    assert tracks[0].kind == "car"


def test_two_crossing_vehicles_keep_their_ids():
    along = Mover(LANES_M[0], 72.0, vy_mps=-9.0, **CAR)
    across = Mover(-3.0, 38.0, vx_mps=6.0, colour=(40, 160, 40), **CAR)
    tracks, _, truth = run_pipeline([along, across], 170)
    both = [i for i, boxes in enumerate(truth) if len(boxes) == 2]
    assert both, "the scene must show both vehicles at once"
    ids = track_ids_per_mover(tracks, truth)
    assert len(ids[0]) == 1 and len(ids[1]) == 1 and ids[0] != ids[1]


def test_vehicle_missing_for_ten_frames_keeps_its_id():
    car = Mover(LANES_M[1], 72.0, vy_mps=-10.0, **CAR)
    hidden = {index: (0,) for index in range(110, 120)}
    tracks, detections, truth = run_pipeline([car], 170, hidden_frames=hidden)
    assert all(not detections[i] for i in hidden)
    ids = track_ids_per_mover(tracks, truth)
    assert len(tracks) == 1 and ids == {0: {tracks[0].id}}


def test_finish_all_returns_only_confirmed_tracks():
    tracker = Tracker("cam", min_hits=3)
    for step in range(3):
        tracker.update(step, step * FRAME_NS, [_detection(_moving_box(step, 0, 5))])
    tracker.update(3, 3 * FRAME_NS, [_detection(_moving_box(3, 0, 5)), _detection((500, 500, 560, 560))])
    finished = tracker.finish_all()
    assert [t.id for t in finished] == [1]
    assert tracker.update(4, 4 * FRAME_NS, []) == ([], [])


def test_a_far_ground_point_is_trusted_as_little_as_its_pixels():
    """Far from the camera one pixel spans metres of road: there the ground point's uncertainty
    is what the box's pixel uncertainty spans, near the camera it is ``road_sigma_m``."""
    geometry = road_geometry()
    tracker = Tracker("cam", geometry=geometry, road_sigma_m=0.5)
    near, far = Mover(LANES_M[0], 60.0, **CAR).image_box(0.0), Mover(LANES_M[0], -40.0, **CAR).image_box(0.0)
    near_sigma, far_sigma = tracker.road_sigmas([_detection(near), _detection(far)])
    assert near_sigma == pytest.approx([0.5, 0.5])
    one_pixel_m = np.linalg.norm(np.diff(geometry.to_road([((far[0] + far[2]) / 2, far[3]),
                                                          ((far[0] + far[2]) / 2, far[3] + 1)]), axis=0))
    assert one_pixel_m > 1.0 and far_sigma[1] > one_pixel_m
    assert np.array_equal(Tracker("cam").road_sigmas([_detection(far)]), [[0.5, 0.5]])


def test_two_tracks_on_one_object_become_one():
    """A detector that fires twice on one car for its first frames starts two tracks. Once only
    one detection remains, the younger track ends (reported finished) and the older one follows
    the car, instead of the two taking its detections in turns."""
    tracker = Tracker("cam", whole_min_hits=5)
    for step in range(6):
        box = _moving_box(step, 100, 10)
        twin = (box[0] + 6, box[1] + 4, box[2] + 6, box[3] + 4)
        live, _ = tracker.update(step, step * FRAME_NS, [_detection(box, whole=True), _detection(twin, whole=True)])
    assert sorted(track.id for track in live) == [1, 2]
    live, finished = tracker.update(6, 6 * FRAME_NS, [_detection(_moving_box(6, 100, 10), whole=True)])
    assert [track.id for track in live] == [1] and [track.id for track in finished] == [2]
    for step in range(7, 30):
        live, finished = tracker.update(step, step * FRAME_NS, [_detection(_moving_box(step, 100, 10), whole=True)])
        assert [track.id for track in live] == [1] and not finished
    assert all(point.measured for point in live[0].points)


def test_two_pedestrians_walking_side_by_side_keep_both_tracks():
    """Two people close enough to be detected as one for a while are not duplicates of each
    other: the track left without a detection coasts on instead of ending."""
    def people(step):
        left = (100.0 + 2 * step, 300.0, 130.0 + 2 * step, 380.0)
        return left, (left[0] + 8, 300.0, left[2] + 8, 380.0)

    tracker = Tracker("cam", whole_min_hits=5)
    for step in range(6):
        live, _ = tracker.update(step, step * FRAME_NS, [_detection(box, kind="pedestrian", whole=True)
                                                         for box in people(step)])
    assert len(live) == 2
    for step in range(6, 12):
        live, finished = tracker.update(step, step * FRAME_NS,
                                        [_detection(people(step)[0], kind="pedestrian", whole=True)])
        assert len(live) == 2 and not finished


@pytest.mark.parametrize("kind, walks_on", [("pedestrian", True), ("car", False)])
def test_a_hidden_pedestrian_keeps_their_pace_and_a_hidden_vehicle_slows_down(kind, walks_on):
    """Seen for 1 s at 1.5 m/s, then hidden for 2 s behind a bus: a pedestrian's estimate walks
    on about 3 m (people hidden by one passing them on a crosswalk walk on); a vehicle's slows
    down as if queueing (under 2 m)."""
    tracker = Tracker("cam")
    bus = _detection((0, 100, 1900, 1000), road_xy=(40.0, 40.0), kind="bus", whole=True)
    for step in range(75):
        x_m = 1.5 * step / FPS
        seen = step < 25
        box = (200 + 40 * x_m, 400, 230 + 40 * x_m, 480)
        detections = [_detection(box, road_xy=(x_m, -3.0), kind=kind, whole=True)] if seen else [bus]
        live, _ = tracker.update(step, step * FRAME_NS, detections)
    (followed,) = [track for track in live if track.kind == kind]
    last_seen = max(point.road_xy[0] for point in followed.points if point.measured)
    walked = followed.points[-1].road_xy[0] - last_seen
    assert (walked > 2.5) is walks_on and walked < 3.5
