"""The hotlist (full lists, deltas, persistence, confusion-tolerant matching) and the per-track
plate vote."""

from __future__ import annotations

import json

import pytest

from roadcam.plugins.plate_capture.fusion import PlateVote, Sighting
from roadcam.plugins.plate_capture.hotlist import Hotlist
from roadcam.protocol.hotlist import HotlistRefused
from roadcam.protocol.plates import plate_distance

STOLEN = {"plate": "ABC-1234", "reason": "stolen", "priority": 1}
WANTED = {"plate": "XYZ-5678", "reason": "wanted", "priority": 2, "note": "robbery 2026-11-20"}


def test_a_full_list_is_saved_and_survives_a_restart(tmp_path):
    path = tmp_path / "hotlist.json"
    hotlist = Hotlist.load(path)
    hotlist.apply({"kind": "full", "entries": [STOLEN, WANTED]}, version=3)
    again = Hotlist.load(path)
    assert again.version == 3 and len(again) == 2
    assert again.match("XYZ5678", 0).entry.note == "robbery 2026-11-20"


def test_a_delta_applies_only_to_the_version_it_was_made_from(tmp_path):
    hotlist = Hotlist.load(tmp_path / "hotlist.json")
    hotlist.apply({"kind": "full", "entries": [STOLEN]}, version=5)
    hotlist.apply({"kind": "delta", "base_version": 5, "add": [WANTED], "remove": ["ABC1234"]}, version=6)
    assert hotlist.match("ABC-1234", 1) is None and hotlist.match("XYZ-5678", 0) is not None
    with pytest.raises(HotlistRefused, match="holds version 6: send the full list"):
        hotlist.apply({"kind": "delta", "base_version": 5, "add": [STOLEN]}, version=7)
    assert hotlist.version == 6 and hotlist.match("ABC-1234", 1) is None
    assert json.loads((tmp_path / "hotlist.json").read_text())["version"] == 6


@pytest.mark.parametrize("body, message", [
    ({"kind": "replace", "entries": []}, "kind must be"),
    ({"kind": "full", "entries": [{"reason": "stolen"}]}, "needs a plate"),
    ({"kind": "full", "entries": [{"plate": "ABC-1234", "reason": "lost"}]}, "reason must be"),
    ({"kind": "full", "entries": [{"plate": "ABC-1234", "priority": 0}]}, "priority must be"),
    ({"kind": "full", "entries": "ABC-1234"}, "entries must be a list"),
])
def test_a_malformed_body_is_refused_and_changes_nothing(tmp_path, body, message):
    hotlist = Hotlist.load(tmp_path / "hotlist.json")
    hotlist.apply({"kind": "full", "entries": [STOLEN]}, version=1)
    with pytest.raises(HotlistRefused, match=message):
        hotlist.apply(body, version=2)
    assert hotlist.version == 1 and hotlist.match("ABC-1234", 0) is not None


@pytest.mark.parametrize("read, distance", [
    ("ABC1234", 0.0), ("A8C1234", 0.25), ("ABC1Z34", 0.25), ("4BC1234", 1.0), ("ABC123", 1.0),
    ("A8C-I234", 0.5),
])
def test_confusable_characters_cost_less_than_other_edits(read, distance):
    assert plate_distance("".join(c for c in read if c.isalnum()), "ABC1234") == pytest.approx(distance)


def test_matching_takes_the_nearest_entry_within_the_distance(tmp_path):
    hotlist = Hotlist(tmp_path / "hotlist.json")
    hotlist.apply({"kind": "full", "entries": [STOLEN, WANTED, {"plate": "ABC-1284", "reason": "other"}]}, 1)
    assert hotlist.match("ABC-I234", 1.0).entry.plate == "ABC-1234"
    assert hotlist.match("ABC-1284", 1.0).entry.plate == "ABC-1284"
    assert hotlist.match("QQQ-0000", 1.0) is None
    assert hotlist.match("ABC-1235", 0.5) is None


def _sighting(text, confidence, index):
    return Sighting(text, confidence, index, index * 40_000_000, (0, 0, 10, 5))


def test_the_vote_weighs_reads_by_confidence_and_keeps_the_best_read_of_the_winner():
    vote = PlateVote()
    for index, (text, confidence) in enumerate([("ABC1234", 0.7), ("ABC1284", 0.95), ("ABC1234", 0.8),
                                                ("ABC1234", 0.6)]):
        vote.add(_sighting(text, confidence, index))
    plate, best, confidence = vote.result()
    assert plate == best.text == "ABC1234" and best.frame_index == 2
    assert confidence == pytest.approx(2.1 / 3.05 * 0.8)
    assert vote.reads == 4


def test_the_clearest_views_of_a_plate_outvote_many_far_ones():
    """A vehicle driving away: four sure reads of its 40 px plate, then ten far reads at 20 px
    that confuse K with E. Unweighted, FE5667 would win (9.0 against 4.0)."""
    vote = PlateVote()
    for index in range(4):
        vote.add(Sighting("FK5667", 1.0, index, index, (100, 300 - 20 * index, 140, 310 - 20 * index)))
    for index in range(4, 14):
        vote.add(Sighting("FE5667", 0.9, index, index, (100, 300 - 20 * index, 120, 305 - 20 * index)))
    plate, best, confidence = vote.result()
    assert plate == best.text == "FK5667"
    assert vote.tallies == pytest.approx({"FK5667": 4.0, "FE5667": 10 * 0.9 / 4})
    assert confidence == pytest.approx(4.0 / 6.25)


def test_reads_of_one_unchanging_view_count_as_one_read():
    """A scooter read right as it drives up, then misread in the same picture for 100 frames
    while it waits at the light (its plate box jittering by a few pixels): the waiting reads are
    one view, not 100 independent ones."""
    vote = PlateVote()
    for index in range(4):
        vote.add(Sighting("FRW858", 1.0, index, index, (600, 200 + 30 * index, 630, 210 + 30 * index)))
    for index in range(4, 104):
        jitter = index % 3
        vote.add(Sighting("FRW058", 0.8, index, index, (601 + jitter, 321 + jitter, 626 + jitter, 329 + jitter)))
    plate, best, _ = vote.result()
    assert plate == best.text == "FRW858"
    assert vote.reads == 104
    assert vote.tallies == pytest.approx({"FRW858": 4.0, "FRW058": 0.8 * (25 / 30) ** 2})


def test_misreads_that_split_the_vote_still_agree_character_by_character():
    """A car read right in 4 frames and misread in 6, each misread off by one character: whole
    texts, the right one has 4 of 10 votes; per character, its weakest has 8 of 10. The evidence
    is its most confident right read."""
    vote = PlateVote()
    reads = [("MHM6423", 0.9), ("MHN6423", 0.9), ("MHM6423", 0.95), ("NHM6423", 0.9), ("MHM8423", 0.9),
             ("MHM6423", 0.9), ("MHM6428", 0.9), ("MHM6423", 0.9), ("MHN6423", 0.9), ("WHM6423", 0.9)]
    for index, (text, confidence) in enumerate(reads):
        vote.add(Sighting(text, confidence, index, index, (100 + 10 * index, 300, 140 + 10 * index, 310)))
    plate, best, confidence = vote.result()
    assert plate == best.text == "MHM6423" and best.frame_index == 2
    assert confidence == pytest.approx((0.9 * 7 + 0.95) / (0.9 * 9 + 0.95) * 0.95)


def test_a_plate_voted_by_character_shows_the_nearest_read_as_evidence():
    """No single read has the voted plate: the evidence is the surest of the reads one character off."""
    vote = PlateVote()
    for index, (text, confidence) in enumerate([("ABC1284", 0.7), ("ABD1234", 0.8), ("XBC1234", 0.6)]):
        vote.add(Sighting(text, confidence, index, index, (100 + 10 * index, 300, 140 + 10 * index, 310)))
    plate, best, _ = vote.result()
    assert plate == "ABC1234" and best.text == "ABD1234"


def test_a_character_vote_that_fits_no_format_gives_way_to_the_most_voted_text():
    """ABC123 and 123ABC mixed per character make AB3123-like texts no plate has: when the
    caller refuses the voted plate, the text with the most votes is the plate."""
    vote = PlateVote()
    for index, (text, confidence) in enumerate([("ABC123", 0.9), ("ABC123", 0.8), ("123ABC", 0.95),
                                                ("12CABC", 0.9), ("1B3ABC", 0.9)]):
        vote.add(Sighting(text, confidence, index, index, (100 + 10 * index, 300, 140 + 10 * index, 310)))
    assert vote.result()[0] not in vote.tallies
    plate, best, confidence = vote.result(accept=lambda text: text in ("ABC123", "123ABC"))
    assert plate == best.text == "ABC123" and best.frame_index == 0
    assert confidence == pytest.approx(1.7 / 4.45 * 0.9)


def test_an_empty_vote_has_no_result():
    assert PlateVote().result() is None


def test_a_vote_keeps_whole_frames_only_for_its_two_leading_texts():
    vote = PlateVote()
    reads = [("ABC1234", 0.9), ("ABC1Z34", 0.5), ("A8C1234", 0.4), ("ABC1234", 0.8)]
    for index, (text, confidence) in enumerate(reads):
        vote.add(Sighting(text, confidence, index, index, (0, 0, 10, 5), crop=f"crop{index}", frame=f"frame{index}"))
    assert {text: kept.frame for text, kept in vote.best.items()} == {"ABC1234": "frame0", "ABC1Z34": "frame1",
                                                                       "A8C1234": None}
    assert all(kept.crop is not None for kept in vote.best.values())
