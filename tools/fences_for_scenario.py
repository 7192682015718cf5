"""Write the ``fences`` section for a simulator scenario: its lanes (with their movements and
classes), stop line, the solid stretches of the lines between lanes, zones and exits drawn on
the scenario camera's picture as a technician would draw them, in normalised image
coordinates, with every rule enabled.

    python -m roadcam.tools.fences_for_scenario junction > fences-junction.yaml
    roadcam simulate --scenario junction --site-extra fences-junction.yaml
    python -m roadcam.tools.fences_for_scenario junction --snapshot frame.png --at-s 20
    roadcam fence preview --config site.yaml --image frame.png    # the fences over that frame

``--snapshot`` also writes the scenario camera's frame at ``--at-s`` (a simulator frame for
``roadcam fence preview --image``).

Zones are the scenario's zones stretched ``REAR_MARGIN_M`` upstream, because a vehicle is
placed by its box's bottom centre, its rear for traffic moving away from the camera.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import yaml

from roadcam.sim.layout import ENFORCED_APPROACH_M
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import ScenarioError, load_scenario
from roadcam.sim.zones import Zone

#: How far upstream a zone's fence reaches beyond the painted zone (m): a vehicle standing in
#: the zone has its rear, where it is placed, up to about half a bus behind its centre.
REAR_MARGIN_M = 3.0
#: How far upstream of the stop line the lane fences reach (m).
LANE_LENGTH_M = ENFORCED_APPROACH_M
#: Depth of the exit zones along the road they enter (m).
EXIT_DEPTH_M = 12.0


def _clip(polygon: np.ndarray) -> list[list[float]]:
    """Sutherland-Hodgman clip of a normalised polygon to the unit square."""
    points = [tuple(p) for p in polygon]
    for axis, keep_low in ((0, True), (0, False), (1, True), (1, False)):
        bound = 0.0 if keep_low else 1.0

        def inside(p, a=axis, b=bound, k=keep_low):
            return p[a] >= b if k else p[a] <= b

        out = []
        for i, p in enumerate(points):
            q = points[i - 1]
            if inside(p):
                if not inside(q):
                    out.append(_cut(q, p, axis, bound))
                out.append(p)
            elif inside(q):
                out.append(_cut(q, p, axis, bound))
        points = out
    return [[round(float(x), 4), round(float(y), 4)] for x, y in points]


def _cut(q, p, axis, bound):
    t = (bound - q[axis]) / (p[axis] - q[axis])
    return tuple(q[i] + t * (p[i] - q[i]) for i in range(2))


def _segment_in_view(uv: np.ndarray, depth: np.ndarray) -> list[list[float]] | None:
    """First and last of a line's sample points (normalised pixels, in order along it) that the
    camera sees; None when fewer than two do."""
    seen = (depth > 0.5) & np.all((uv >= 0.0) & (uv <= 1.0), axis=1)
    points = uv[seen]
    if len(points) < 2:
        return None
    return [[round(float(v), 4) for v in points[0]], [round(float(v), 4) for v in points[-1]]]


def _zone_rule(zones: list[Zone], kind: str) -> dict:
    """The zones of one kind and the classes their rule applies to (one set for the rule)."""
    chosen = [zone for zone in zones if zone.spec.kind == kind]
    classes = {zone.classes for zone in chosen}
    if len(classes) > 1:
        raise ScenarioError(f"zones of kind {kind} give different classes; the fences' rule has one set")
    out: dict = {"enabled": bool(chosen), "zones": [zone.spec.name for zone in chosen]}
    if chosen:
        out["classes"] = list(classes.pop())
    return out


def fences_section(road: SimRoad) -> dict:
    pose, layout, scenario = road.pose, road.world.layout, road.scenario
    size = np.array([pose.width_px, pose.height_px], float)

    def norm(points) -> np.ndarray:
        ground = np.hstack([np.asarray(points, float), np.zeros((len(points), 1))])
        uv, _ = pose.project(ground)
        return uv / size

    def polygon(points) -> list[list[float]]:
        return _clip(norm(points))

    def rect(x0, x1, y0, y1):
        return polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])

    stop_y = layout.stop_line_y_m
    heads = {lane.id: road.world.signals.head_of_lane(lane.id) for lane in scenario.lanes}
    lanes = [{"id": lane.id, "polygon": rect(*layout.lane_span(lane.id), stop_y, stop_y + LANE_LENGTH_M),
              "movements": list(lane.movements), "classes": list(lane.classes), "head": heads[lane.id]}
             for lane in scenario.lanes]
    ends = norm([(layout.shoulder_m, stop_y), (layout.median_x_m, stop_y)])
    ends = ends[np.argsort(ends[:, 0])]  # drawn left to right: forward is up the picture
    zones, exits = [], []
    for zone in scenario.zones:
        corners = np.asarray(zone.polygon, float)
        corners[:, 1] = np.where(corners[:, 1] >= corners[:, 1].mean(), corners[:, 1] + REAR_MARGIN_M, corners[:, 1])
        zones.append({"name": zone.name, "polygon": polygon(corners)})
    if layout.crosswalk is not None:
        zones.append({"name": "crosswalk", "polygon": rect(layout.crosswalk.x_min, layout.crosswalk.x_max,
                                                           layout.crosswalk.y_min, layout.crosswalk.y_max)})
    junction = layout.junction
    exit_rects = {"straight": (0.0, layout.median_x_m, junction.y_min - EXIT_DEPTH_M, junction.y_min),
                  "left": (layout.far_kerb_x_m, layout.far_kerb_x_m + EXIT_DEPTH_M, junction.y_min, junction.y_max),
                  "right": (-EXIT_DEPTH_M, 0.0, junction.y_min, junction.y_max)}
    for movement, bounds in exit_rects.items():
        shape = rect(*bounds)
        if len(shape) >= 3:
            zones.append({"name": f"exit-{movement}", "polygon": shape})
            exits.append({"movement": movement, "zone": f"exit-{movement}"})
    kinds = {zone.name: zone.kind for zone in scenario.zones}
    lines = [{"name": "stop", "points": [[round(float(v), 4) for v in p] for p in ends]}]
    low, high = layout.solid_line_y()
    for lane in range(1, layout.lane_count):
        samples = np.array([(layout.lane_line_x(lane), y, 0.0) for y in np.linspace(low, high, 121)])
        uv, depth = pose.project(samples)
        points = _segment_in_view(uv / size, depth)
        if points is not None:
            lines.append({"name": f"lane-{lane}-{lane + 1}-solid", "points": points})
    camera = {"camera": scenario.camera.name, "lanes": lanes, "zones": zones, "exits": exits,
              "lines": lines, "stop_line": "stop"}
    solid = [line["name"] for line in lines[1:]]
    sim_zones = road.world.zones
    return {"fences": {
        "cameras": [camera],
        "red_light": {"enabled": True},
        "wrong_lane": {"enabled": True},
        "illegal_parking": {"enabled": True, "zones": [n for n, k in kinds.items() if k == "no_parking"],
                            "max_stop_s": next((z.max_stop_s for z in scenario.zones if z.kind == "no_parking"), 5.0)},
        "fail_to_yield": {"enabled": layout.crosswalk is not None,
                          "crosswalk": "crosswalk" if layout.crosswalk is not None else None},
        "box_blocking": {"enabled": True, "zones": [n for n, k in kinds.items() if k == "box_junction"],
                         "max_stop_s": next((z.max_stop_s for z in scenario.zones if z.kind == "box_junction"), 3.0)},
        "stop_line": {"enabled": True},
        "lane_class": {"enabled": True},
        "solid_line": {"enabled": bool(solid), "lines": solid},
        "restricted": _zone_rule(sim_zones, "restricted"),
        "scooter_box": {**_zone_rule(sim_zones, "scooter_box"),
                        "max_stop_s": next((z.max_stop_s for z in scenario.zones if z.kind == "scooter_box"), 1.0)},
    }}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="scenario file or shipped scenario name")
    parser.add_argument("--snapshot", type=Path, help="also write the camera's frame at --at-s to this picture")
    parser.add_argument("--at-s", type=float, default=20.0, help="simulated second of the snapshot")
    args = parser.parse_args(argv)
    road = SimRoad(load_scenario(args.scenario))
    if args.snapshot is not None:
        snapshot = SimRoad(load_scenario(args.scenario))
        snapshot.skip_frames(int(args.at_s * snapshot.scenario.fps))
        frame = snapshot.advance_frame()
        if frame is None or not cv2.imwrite(str(args.snapshot), frame.image):
            parser.error(f"--snapshot {args.snapshot}: no frame at {args.at_s} s, or the picture could not be written")
    yaml.safe_dump(fences_section(road), sys.stdout, sort_keys=False, default_flow_style=None, width=200)
    return 0


if __name__ == "__main__":
    sys.exit(main())
