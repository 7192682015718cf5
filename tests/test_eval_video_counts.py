"""The scoring of tools/eval_video_counts.py: labelled crossings against line.crossed events."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from roadcam.tools.data.real_videos import CLIPS
from roadcam.tools.eval_video_counts import Labels, parse_sets, score


def crossed(frame: int, direction: str, track: int, kind: str = "car") -> SimpleNamespace:
    return SimpleNamespace(data={"frame_index": frame, "direction": direction, "track_id": track, "class": kind})


LABELS = Labels(line={"name": "count", "points": [[0, 0.5], [1, 0.5]]}, fps=25.0, crossings=[
    {"frame": 100, "direction": "forward", "class": "car"}, {"frame": 140, "direction": "forward", "class": "car"},
    {"frame": 300, "direction": "back", "class": "truck"},
    {"frame": 2, "direction": "forward", "class": "car", "optional": True}])


def test_each_label_takes_one_event_of_its_direction_within_the_tolerance():
    events = [crossed(104, "forward", 1), crossed(106, "forward", 2),   # one vehicle counted twice
              crossed(300, "forward", 3),                               # right time, wrong direction
              crossed(180, "forward", 4)]                               # 40 frames late: not the label's
    forward, back, found = score(LABELS, events, [], tolerance=12, frame_height=240)
    assert "labelled   2 (+1 optional)  events   4  counted   1/2  missed   1  extra   3" in forward
    assert "labelled   1 (+0 optional)  events   0  counted   0/1  missed   1  extra   0" in back
    assert "vehicles found (counted at the line) 1/3, class right 1/1" in found


def test_an_optional_crossing_is_neither_missed_nor_extra():
    rows = score(LABELS, [crossed(3, "forward", 1), crossed(101, "forward", 2), crossed(139, "forward", 3),
                          crossed(298, "back", 4, "bus")], [], tolerance=12, frame_height=240)
    assert "counted   2/2  missed   0  extra   0" in rows[0] and "counted   1/1  missed   0  extra   0" in rows[1]
    assert "vehicles found (counted at the line) 3/3, class right 2/3" in rows[2]


def test_every_clip_has_its_labels_and_they_load():
    for clip in CLIPS:
        labels = Labels.load(clip.labels())
        assert labels.crossings and labels.fps > 0
        assert all(c["direction"] in ("forward", "back") for c in labels.crossings)


def finished(track: int, entry: tuple[float, float, int], exit_: tuple[float, float, int],
             entry_edges=(), exit_edges=()) -> SimpleNamespace:
    def end(point, edges):
        return {"image_xy": [point[0], point[1]], "frame_index": point[2], "edges": list(edges)}
    return SimpleNamespace(data={"track_id": track, "entry": end(entry, entry_edges), "exit": end(exit_, exit_edges)})


def test_held_through_the_view_both_ways_and_false_tracks():
    labels = Labels(line={"name": "count", "points": [[0, 0.5], [1, 0.5]]}, fps=10.0, crossings=[
        {"frame": 100, "direction": "back", "class": "car"}, {"frame": 200, "direction": "back", "class": "car"},
        {"frame": 300, "direction": "forward", "class": "car"}], vehicles_in_view=4,
        through={"back": {"starts_above_y": 0.3, "leaves_by": ["bottom"]},
                 "forward": {"enters_by": ["bottom", "right"], "ends_above_y": 0.3}})
    events = [crossed(100, "back", 1), crossed(200, "back", 2), crossed(300, "forward", 3)]
    tracks = [finished(1, (50, 20, 60), (50, 100, 130), exit_edges=["bottom"]),    # far to the bottom: held
              finished(2, (50, 60, 180), (50, 100, 230), exit_edges=["bottom"]),   # first seen near: not held
              finished(3, (50, 100, 280), (50, 25, 330), entry_edges=["right"]),   # right to far: held
              finished(4, (10, 10, 40), (12, 12, 50)),                             # no crossing: false
              finished(5, (10, 10, 390), (12, 12, 399)),                           # in view at the end: the one short
              finished(6, (10, 10, 396), (12, 12, 399))]                           # one more than labelled short
    rows = score(labels, events, tracks, tolerance=5, frame_height=100, last_frame=399)
    assert "held through the view 2/3" in rows[-2]
    assert "false tracks (no labelled crossing's; fragments or no vehicle) 2 = 50.0% of the 4 vehicles" in rows[-1]
    assert "besides 1 in view at the end, of the 1 vehicles short of the line)" in rows[-1]


def test_people_labelled_in_view_at_the_end_are_no_false_tracks():
    labels = Labels(line={"name": "count", "points": [[0, 0.5], [1, 0.5]]}, fps=10.0, crossings=[
        {"frame": 30, "direction": "back", "class": "car"}], vehicles_in_view=2, people_in_view=2)
    tracks = [finished(1, (50, 20, 0), (50, 100, 40)),      # the crossing's
              finished(2, (10, 10, 0), (10, 10, 59)),       # the parked car, in view to the end
              finished(3, (70, 10, 0), (72, 12, 59)),       # a person at the end
              finished(4, (80, 10, 0), (82, 12, 58)),       # another
              finished(5, (90, 10, 0), (92, 12, 59)),       # one more than labelled: false
              finished(6, (30, 30, 10), (30, 40, 20))]      # gone mid-clip, no crossing: false
    rows = score(labels, [crossed(30, "back", 1)], tracks, tolerance=5, frame_height=100, last_frame=59)
    assert "fragments or no vehicle) 2 = 100.0% of the 2 vehicles" in rows[-1]
    assert "besides 3 in view at the end, of the 1 vehicles short of the line and 2 people)" in rows[-1]


def test_settings_are_set_by_section_and_a_bad_one_is_refused():
    sets = parse_sets(["detection.min_box_area_px=100", "tracking.reference_fps=null"])
    assert sets == {"detection": {"min_box_area_px": 100}, "tracking": {"reference_fps": None}}
    with pytest.raises(SystemExit, match="expected detection.KEY=VALUE or tracking.KEY=VALUE"):
        parse_sets(["plugins.disabled=[]"])


def test_false_tracks_inside_the_clip_where_vehicles_in_view_are_not_labelled():
    labels = Labels(line={"name": "count", "points": [[0, 0.5], [1, 0.5]]}, fps=10.0, crossings=[
        {"frame": 100, "direction": "back", "class": "car"}, {"frame": 200, "direction": "back", "class": "car"}],
        through={"back": {"starts_above_y": 0.3, "leaves_by": ["bottom"]}})
    events = [crossed(100, "back", 2), crossed(200, "back", 3)]
    tracks = [finished(1, (50, 60, 10), (50, 100, 40)),     # in view at the start: not judged
              finished(2, (50, 20, 60), (50, 100, 130)),    # a crossing's
              finished(3, (50, 20, 160), (50, 100, 230)),   # a crossing's
              finished(4, (10, 10, 240), (12, 12, 260)),    # inside, no crossing: false
              finished(5, (10, 10, 390), (12, 12, 399))]    # in view at the end: not judged
    rows = score(labels, events, tracks, tolerance=5, frame_height=100, last_frame=399)
    assert "or tracked only past the line) 1 = 50.0% of the 2 labelled crossings" in rows[-1]
    assert "besides 2 tracks in view at the clip's start or end" in rows[-1]
