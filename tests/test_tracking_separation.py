"""Blobs that come apart: two road users first seen as one blob get a track each once road
shows between them, while a vehicle the detector cuts into touching pieces keeps one track."""

from __future__ import annotations

from roadcam.appliance.tracking import Detection, Tracker

FRAME_NS = 40_000_000


def _blob(box) -> Detection:
    return Detection(box=tuple(float(v) for v in box), kind="car", score=1.0, source="background")


def _run(frames) -> tuple[Tracker, list]:
    """Feed a list of per-frame box lists; the live tracks after the last frame."""
    tracker = Tracker("cam", frame_size_px=(1280, 720))
    live = []
    for step, boxes in enumerate(frames):
        live, _ = tracker.update(step, step * FRAME_NS, [_blob(b) for b in boxes])
    return tracker, live


def _pair(step: int, gap: float) -> tuple[tuple, tuple]:
    """Two cars side by side (one above the other in the picture) driving right together."""
    x = 200 + 8 * step
    return (x, 300, x + 90, 360), (x, 360 + gap, x + 90, 420 + gap)


def test_two_cars_first_seen_as_one_blob_get_two_tracks_when_road_shows_between_them():
    merged = [[(a[0], a[1], b[2], b[3])] for a, b in (_pair(step, 0) for step in range(25))]
    apart = [list(_pair(step, 14)) for step in range(25, 50)]
    _, live = _run(merged + apart)
    assert len(live) == 2 and all(track.missed == 0 for track in live)
    first = min(track.id for track in live)
    assert first == 1, "the track born on the pair keeps one of the two cars"
    tops = sorted(track.last.box[1] for track in live)
    assert tops == [300.0, 374.0]


def test_a_vehicle_cut_into_touching_pieces_keeps_one_track():
    def truck(step):
        x = 200 + 8 * step
        return x, 300, x + 200, 380
    whole = [[truck(step)] for step in range(20)]
    pieces = [[(x1, y1, x1 + 60, y2), (x1 + 60, y1 + 10, x2, y2)]
              for x1, y1, x2, y2 in (truck(step) for step in range(20, 45))]
    tracker, live = _run(whole + pieces)
    assert [track.id for track in live] == [1]
    assert live[0].last.box[2] - live[0].last.box[0] >= 55
    assert len(tracker.finish_all()) == 1


def _blip_tracks(fps: float, reference_fps: float | None) -> int:
    """Confirmed tracks left by a blob that flickers for 4 frames, on a camera at ``fps``."""
    tracker = Tracker("cam", frame_size_px=(1280, 720), reference_fps=reference_fps)
    frame_ns = round(1e9 / fps)
    confirmed = set()
    for step in range(40):
        boxes = [(600, 300, 640, 340)] if 10 <= step < 14 else []
        live, finished = tracker.update(step, step * frame_ns, [_blob(b) for b in boxes])
        confirmed |= {track.id for track in live + finished}
    return len(confirmed)


def test_frame_counts_last_as_long_at_any_frame_rate():
    """Confirming takes 3 frames at 25 fps (120 ms): a 4-frame flicker at 25 fps is a track,
    at 60 fps (67 ms) it is not, unless the counts are used as given."""
    assert _blip_tracks(25.0, 25.0) == 1
    assert _blip_tracks(60.0, 25.0) == 0
    assert _blip_tracks(60.0, None) == 1
    tracker = Tracker("cam", reference_fps=25.0)
    stamps = [0, 300_000_000] + [300_000_000 + step * round(1e9 / 60) for step in range(1, 14)]  # a slow first frame
    for step, stamp in enumerate(stamps):
        tracker.update(step, stamp, [])
    settings = tracker.settings
    assert (settings.min_hits, settings.max_missed_frames, settings.max_hidden_frames) == (7, 72, 1800)
