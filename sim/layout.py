"""The road's geometry in metres, derived once from a scenario.

Road frame: x runs across the road from the approach's kerb (x = 0) towards the centre line,
y runs along the road and grows upstream, so traffic on the approach drives towards smaller y;
z is up. Lane 1 is kerbside, past a kerbside strip of ``shoulder_m``. Past the stop line come
the crosswalk, then the cross street (spanning all x), then the exit road. The opposing lanes
lie beyond the median at larger x.
"""

from __future__ import annotations

from dataclasses import dataclass

from .scenario import Scenario

#: Gap between the crosswalk's far edge and the cross street's kerb line.
_CROSSWALK_TO_CROSS_STREET_M = 1.0
#: The lines between approach lanes are solid this far upstream of the stop line, dashed beyond.
SOLID_LANE_LINE_M = 30.0
#: How far upstream of the stop line the rules look (m): the lane fences a technician draws
#: reach this far (tools/fences_for_scenario.py), and the scorer's identity bar starts here.
ENFORCED_APPROACH_M = 40.0


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle on the road plane."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def corners(self) -> list[tuple[float, float]]:
        return [(self.x_min, self.y_min), (self.x_max, self.y_min), (self.x_max, self.y_max), (self.x_min, self.y_max)]

    def contains(self, x: float, y: float) -> bool:
        """Whether road point (x, y) lies inside (edges included)."""
        return self.x_min <= x <= self.x_max and self.y_min <= y <= self.y_max


class RoadLayout:
    """Where every part of the road is: lanes, stop line, crosswalk, cross street, pavements."""

    def __init__(self, scenario: Scenario):
        road = scenario.road
        self.scenario = scenario
        self.lane_width_m = road.lane_width_m
        self.shoulder_m = road.shoulder_m
        self.lane_count = len(scenario.lanes)
        self.stop_line_y_m = road.stop_line_y_m
        self.entry_y_m = road.stop_line_y_m + road.approach_length_m
        self.median_x_m = road.shoulder_m + self.lane_count * road.lane_width_m
        self.opposing_x_m = self.median_x_m + road.median_m
        self.far_kerb_x_m = self.opposing_x_m + road.opposing_lanes * road.lane_width_m + road.shoulder_m
        self.sidewalk_m = road.sidewalk_m
        crosswalk = scenario.crosswalk
        near = road.stop_line_y_m - (crosswalk.distance_m if crosswalk else 1.0)
        width = crosswalk.width_m if crosswalk else 0.0
        self.crosswalk = Rect(0.0, self.far_kerb_x_m, near - width, near) if crosswalk else None
        self.cross_near_y_m = near - width - _CROSSWALK_TO_CROSS_STREET_M
        self.cross_far_y_m = self.cross_near_y_m - road.cross_street_width_m
        self.junction = Rect(0.0, self.far_kerb_x_m, self.cross_far_y_m, self.cross_near_y_m)
        self.exit_y_m = self.cross_far_y_m - road.exit_length_m
        self.side_exit_m = 60.0

    def lane_span(self, lane: int) -> tuple[float, float]:
        """(x_min, x_max) of an approach lane."""
        x0 = self.shoulder_m + (lane - 1) * self.lane_width_m
        return x0, x0 + self.lane_width_m

    def lane_centre_x(self, lane: int) -> float:
        x0, x1 = self.lane_span(lane)
        return (x0 + x1) / 2

    def lane_line_x(self, left_of_lane: int) -> float:
        """x of the line between lane ``left_of_lane`` and the next lane towards the centre."""
        return self.shoulder_m + left_of_lane * self.lane_width_m

    def solid_line_y(self) -> tuple[float, float]:
        """(y_min, y_max) where the lines between approach lanes are solid."""
        return self.stop_line_y_m, self.stop_line_y_m + SOLID_LANE_LINE_M

    def shoulder_centre_x(self) -> float:
        return self.shoulder_m / 2

    def loop_rect(self, lane: int, position_m: float, length_m: float) -> Rect:
        """The loop's rectangle: the lane's width less 0.3 m each side, from ``position_m`` to
        ``position_m + length_m`` upstream of the stop line."""
        x0, x1 = self.lane_span(lane)
        y0 = self.stop_line_y_m + position_m
        return Rect(x0 + 0.3, x1 - 0.3, y0, y0 + length_m)

    def signal_mast_y_m(self) -> float:
        """Where the signal mast stands: just past the far side of the cross street."""
        return self.cross_far_y_m - 1.0

    def signal_head_x_m(self, lanes: list[int]) -> float:
        """Where a head hangs over the lanes it controls."""
        return sum(self.lane_centre_x(lane) for lane in lanes) / len(lanes)

    def rule_areas(self) -> dict[str, Rect]:
        """Where the rules look, for the scorer's identity bar: ``approach``, the approach lanes
        and kerbside strip from the stop line ``ENFORCED_APPROACH_M`` upstream; ``junction``,
        from the stop line across the crosswalk and the cross street to its far kerb line, the
        full width of the road; ``crosswalk`` when there is one."""
        areas = {"approach": Rect(0.0, self.median_x_m, self.stop_line_y_m, self.stop_line_y_m + ENFORCED_APPROACH_M),
                 "junction": Rect(0.0, self.far_kerb_x_m, self.cross_far_y_m, self.stop_line_y_m)}
        if self.crosswalk is not None:
            areas["crosswalk"] = self.crosswalk
        return areas

    def calibration_marks(self) -> list[tuple[float, float]]:
        """Road marks a technician would measure: lane-line ends on the stop line and on lines
        every 5 m upstream of it."""
        xs = [self.shoulder_m + i * self.lane_width_m for i in range(self.lane_count + 1)]
        return [(x, self.stop_line_y_m + d) for d in (0.0, 5.0, 10.0, 15.0, 20.0) for x in (xs[0], xs[-1])]
