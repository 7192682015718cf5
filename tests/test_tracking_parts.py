"""The tracker in parts: its settings as the site config's ``tracking:`` section, and a track's
bounded history (a parked car does not grow a track without bound, and the bound changes none
of the tracker's decisions)."""

from __future__ import annotations

import textwrap

import pytest
from appliances import build_appliance, run_for
from pydantic import ValidationError
from synthetic import FRAME_NS, FRAME_SIZE, LANES_M, Mover, run_pipeline
from videos import moving_box, write_video

from roadcam.appliance.config import ConfigError
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.site import load_site
from roadcam.appliance.tracking import Detection, Track, Tracker, TrackingSettings, TrackPoint
from roadcam.appliance.tracking.types import thin_points

CAR = dict(width_m=1.8, length_m=4.5, height_m=1.5)

SITE = """\
    device:
      id: tn-0001
      site: tn-test
    tracking:
      {tracking}
    """


def _problems(tmp_path, tracking: str) -> list[str]:
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(SITE).format(tracking=tracking))
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    return caught.value.problems


def test_a_bad_tracking_value_names_its_field_path(tmp_path):
    (problem,) = _problems(tmp_path, "min_hits: 0")
    assert ":5: tracking.min_hits: Input should be greater than or equal to 1 (got 0)" in problem
    (problem,) = _problems(tmp_path, "min_hit: 3")
    assert "tracking.min_hit: unknown key" in problem


def test_every_tracking_setting_has_a_title_and_a_description():
    for name, field in TrackingSettings.model_fields.items():
        assert field.title and field.description, name


def test_keyword_overrides_are_validated_like_the_section():
    assert Tracker("cam", min_hits=1).settings.min_hits == 1
    assert Tracker("cam", TrackingSettings(max_hidden_frames=10), min_hits=2).settings.max_hidden_frames == 10
    with pytest.raises(ValidationError):
        Tracker("cam", hidden_cover=1.5)
    with pytest.raises(ValidationError):
        Tracker("cam", min_hitz=1)


class _TrackCounter:
    def __init__(self):
        self.confirmed = 0

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        self.confirmed += len(tracks)
        return []


@pytest.mark.parametrize("min_hits, tracked", [(3, True), (1000, False)])
def test_the_site_configs_tracking_section_reaches_the_tracker(tmp_path, min_hits, tracked):
    video = write_video(tmp_path / "north.avi", moving_box(40), fps=25.0)
    counter = _TrackCounter()
    appliance = build_appliance(tmp_path, plugins=[counter], tracking={"min_hits": min_hits},
                                cameras=[{"name": "north", "source": {"type": "opencv", "url": str(video)}}])
    run_for(appliance)
    assert appliance.config.tracking.min_hits == min_hits
    assert (counter.confirmed > 0) is tracked


def _parked(frame_index: int) -> Detection:
    return Detection(box=(900.0, 500.0, 1100.0, 640.0), kind="car", score=0.9, source="test", road_xy=(1.0, 20.0))


def test_ten_minutes_of_a_parked_car_keep_a_few_hundred_points():
    tracker = Tracker("cam", frame_size_px=(1920, 1080))
    frames = 25 * 600
    for index in range(frames):
        live, _ = tracker.update(index, index * FRAME_NS, [_parked(index)])
    (track,) = live
    assert len(track.points) <= 1 + 251 + 200
    assert track.points[0].frame_index == 0
    indices = [point.frame_index for point in track.points]
    assert indices == sorted(indices)
    assert indices[-250:] == list(range(frames - 250, frames))  # the last 10 s one per frame
    older = indices[1:-250]
    assert older[0] < 2_000 and older[-1] > frames - 500  # thinned over the whole wait, not cut


def test_a_track_ending_after_a_long_wait_unseen_ends_where_it_was_last_detected():
    tracker = Tracker("cam", frame_size_px=(1920, 1080))
    seen = 25 * 60
    for index in range(seen):
        tracker.update(index, index * FRAME_NS, [_parked(index)])
    finished = []
    for index in range(seen, seen + 800):  # parked in the middle of the picture, then dropped
        finished += tracker.update(index, index * FRAME_NS, [])[1]
    (track,) = finished
    assert track.last.frame_index == seen - 1 and track.last.measured
    assert len(track.points) <= 1 + 251 + 200


def test_thinning_keeps_the_first_the_recent_and_the_last_measured_point_evenly():
    points, spacing_ns = [], 0
    for i in range(5000):
        points.append(TrackPoint(i, i * FRAME_NS, (0, 0, 1, 1), None, measured=i < 3000))
        spacing_ns = thin_points(points, 10 * FRAME_NS, 20, spacing_ns, keep_ns=2999 * FRAME_NS)
    indices = [p.frame_index for p in points]
    assert indices[0] == 0 and 2999 in indices and indices[-11:] == list(range(4989, 5000))
    assert len(points) <= 1 + 11 + 20
    gaps = [b - a for a, b in zip(indices[1:-11], indices[2:-11])]
    assert max(gaps) < 3 * 5000 / 20  # spread over the whole life


def _summary(tracks: list[Track]):
    return [(t.id, t.kind, t.confirmed, t.points[0], t.points[-1]) for t in tracks]


def test_the_history_bound_changes_none_of_the_trackers_decisions():
    """Track a scene (two crossing vehicles, one of them unseen for ten frames) with a very
    tight bound and with none: the same tracks, starting and ending at the same points, the
    bounded one's points a subset of the other's."""
    along = Mover(LANES_M[0], 72.0, vy_mps=-9.0, **CAR)
    across = Mover(-3.0, 38.0, vx_mps=6.0, colour=(40, 160, 40), **CAR)
    hidden = {index: (0,) for index in range(110, 120)}
    tight = Tracker("cam", frame_size_px=FRAME_SIZE, history_recent_s=1.1, history_older_points=2)
    bounded, detections, _ = run_pipeline([along, across], 170, hidden_frames=hidden, tracker=tight)
    every = Tracker("cam", frame_size_px=FRAME_SIZE, history_older_points=None)
    unbounded = []
    for index, found in enumerate(detections):
        unbounded += every.update(index, 1_700_000_000_000_000_000 + index * FRAME_NS, found)[1]
    unbounded += every.finish_all()
    assert len(unbounded) >= 2 and _summary(bounded) == _summary(unbounded)
    assert any(len(b.points) < len(u.points) for b, u in zip(bounded, unbounded))
    for b, u in zip(bounded, unbounded):
        assert all(point in u.points for point in b.points)
