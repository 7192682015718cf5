"""The scoring of tools/eval_video_counts.py: labelled crossings against line.crossed events."""

from __future__ import annotations

from types import SimpleNamespace

from roadcam.tools.data.real_videos import CLIPS
from roadcam.tools.eval_video_counts import Labels, score


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
