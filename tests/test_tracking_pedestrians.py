"""The tracker on pedestrians: people starting off together keep their identities."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import FRAME_NS

from roadcam.appliance.appearance import signature_distance
from roadcam.appliance.tracking import Detection, Tracker
from roadcam.plugins.detection.signatures import colour_signature

RED, BLUE = (30, 30, 190), (190, 60, 30)


def _overlapped(own: tuple[int, int, int], other: tuple[int, int, int], share: float) -> np.ndarray:
    """The colour signature of a person's box of which ``share`` shows their own clothes and
    the rest the person beside them (people waiting together overlap in the image)."""
    image = np.full((100, 40, 3), own, np.uint8)
    image[int(round(100 * share)):] = other
    return colour_signature(image, (0.0, 0.0, 40.0, 100.0))


def _walker(box, signature) -> Detection:
    return Detection(box=tuple(float(v) for v in box), kind="pedestrian", score=1.0, source="test", whole=True,
                     signature=signature)


@pytest.mark.parametrize("walking_appearance_weight, kept", [(None, True), (1.0, False)])
def test_two_people_side_by_side_keep_their_own_colours_through_a_jitter(walking_appearance_weight, kept):
    """Two people stand side by side, their boxes overlapping, so each box's colours are only
    partly their own (signatures 0.2 apart, where a red and a blue car are 0.9). When the boxes
    jitter so that overlap and distance alone would swap them, each track keeps its own person
    (with the default pedestrian appearance weight; with the vehicles' weight of 1 they swap)."""
    red, blue = _overlapped(RED, BLUE, 0.6), _overlapped(BLUE, RED, 0.6)
    assert 0.15 < signature_distance(red, blue) < 0.3
    overrides = {} if walking_appearance_weight is None else {"walking_appearance_weight": walking_appearance_weight}
    tracker = Tracker("cam", **overrides)
    for step in range(10):
        live, _ = tracker.update(step, step * FRAME_NS, [_walker((100, 100, 130, 190), red),
                                                         _walker((104, 102, 134, 192), blue)])
    red_track = next(track for track in live if track.last.box[0] == 100)
    tracker.update(10, 10 * FRAME_NS, [_walker((104, 100, 134, 190), red), _walker((101, 102, 131, 192), blue)])
    assert (red_track.last.box[0] == 104) is kept


def test_a_pedestrians_depth_is_trusted_to_the_box_width_not_its_height():
    """People waiting together at one kerb stand at one x and differ only in depth: 40 m from
    the camera 1 m of depth is a few pixels of box bottom. A standing person's box is three
    times as tall as wide, but its bottom jitters like its sides, so the tracker trusts a
    pedestrian's ground point to well under a metre there (two people 1 m apart in depth are
    two sigmas apart), where a car's box of that height keeps its wider sigma."""
    from synthetic import POSE, road_geometry

    (u, v), = POSE.project(np.array([[4.0, 30.0, 0.0]]))[0]
    (_, v_near), = POSE.project(np.array([[4.0, 29.0, 0.0]]))[0]
    tracker = Tracker("cam", geometry=road_geometry())
    box = (u - 15.0, v - 90.0, u + 15.0, v)
    person, car = (Detection(box=box, kind=kind, score=1.0, source="test", whole=True, road_xy=(4.0, 30.0))
                   for kind in ("pedestrian", "car"))
    sigmas = tracker.road_sigmas([person, car])
    assert v_near - v < 15.0  # 1 m of depth is a few pixels at this distance
    assert sigmas[0, 1] <= 0.5 < sigmas[1, 1]


def test_a_person_walking_beside_a_tracked_one_gets_a_track_of_their_own():
    """Two people walk together, the second half a box behind the first (their boxes overlap by
    an IoU of 0.4, as at the crosswalk 40 m away) and seen only from the tenth frame on. The
    first one's track takes the first one's box, so the second one's box, though it overlaps
    that track, is someone else's: it starts a track of its own. When the first one then goes
    behind the second for a few frames, their track does not take the second one (without a
    track of their own, it did), and it takes the first one back when they come out."""
    red, blue = _overlapped(RED, BLUE, 0.6), _overlapped(BLUE, RED, 0.6)
    tracker = Tracker("cam")

    def first(step):
        return (100.0 + 3 * step, 100.0, 130.0 + 3 * step, 190.0)

    def second(step):
        return (112.0 + 3 * step, 104.0, 142.0 + 3 * step, 194.0)

    for step in range(20):
        walkers = [_walker(first(step), red)] + ([_walker(second(step), blue)] if step >= 10 else [])
        live, _ = tracker.update(step, step * FRAME_NS, walkers)
    assert len(live) == 2
    own = next(track for track in live if track.last.box == first(19))
    for step in range(20, 26):
        walkers = [_walker(second(step), blue)] + ([_walker(first(step), red)] if step == 25 else [])
        live, _ = tracker.update(step, step * FRAME_NS, walkers)
        if step < 25:
            assert own.last.box != second(step)
    assert own.last.box == first(25)
