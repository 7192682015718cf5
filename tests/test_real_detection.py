"""Scoring the road-user detector against real labelled frames (no data needed)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from roadcam.tools.data.real_sets import Box, Record
from roadcam.tools.vehicles.real_detection import RealFigures, road_user_records, score_frame


@dataclass
class Found:
    box: tuple[float, float, float, float]
    kind: str


def _record(*boxes: Box, source: str = "otlabels") -> Record:
    return Record(source, "g", "validation", f"real/{source}/g/a.png", 800, 600, tuple(boxes))


def test_a_matching_detection_is_found_with_its_class():
    figures = score_frame(_record(Box("car", 100, 100, 60, 40), Box("bus", 300, 100, 120, 80)),
                          [Found((100, 100, 160, 140), "car"), Found((300, 100, 420, 180), "truck")])
    assert (figures.objects, figures.found, figures.found_loose, figures.right_class) == (2, 2, 2, 1)
    assert figures.false_detections == 0


def test_loose_overlap_counts_only_in_the_loose_figure_and_strays_are_false():
    # IoU of a 60x40 box with the same box shifted 24 px right: 36*40 / (84*40) = 0.43
    figures = score_frame(_record(Box("car", 100, 100, 60, 40)),
                          [Found((124, 100, 184, 140), "car"), Found((500, 400, 560, 440), "car")])
    assert (figures.objects, figures.found, figures.found_loose) == (1, 0, 1)
    assert figures.false_detections == 1


def test_small_boxes_bicycles_and_plates_are_no_objects_and_not_false():
    record = _record(Box("car", 10, 10, 10, 10), Box("bicycle", 200, 200, 40, 60), Box("plate", 400, 400, 40, 12))
    detections = [Found((10, 10, 20, 20), "car"), Found((200, 200, 240, 260), "scooter")]
    figures = score_frame(record, detections)
    assert (figures.objects, figures.found, figures.false_detections) == (0, 0, 0)


def test_no_detections_misses_every_object():
    figures = score_frame(_record(Box("pedestrian", 50, 50, 20, 50), Box("truck", 300, 300, 100, 80)), [])
    assert (figures.frames, figures.objects, figures.found, figures.false_detections) == (1, 2, 0, 0)


def test_figures_add_up_and_print_as_a_table_row():
    total = RealFigures("all")
    total.add(RealFigures("a", frames=2, objects=4, found=2, found_loose=3, right_class=1, false_detections=2))
    total.add(RealFigures("b", frames=2, objects=4, found=2, found_loose=3, right_class=2, false_detections=2))
    assert total.row() == "| all | 4 | 8 | 50.0% | 75.0% | 75.0% | 1.00 |"


@pytest.mark.parametrize(("source", "kept"), [("otlabels", True), ("ro-plates", False), ("unknown", False)])
def test_only_road_user_sources_are_measured(source, kept):
    assert road_user_records([_record(source=source)]) == ([_record(source=source)] if kept else [])
