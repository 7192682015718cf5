"""The arrival schedule: which vehicles enter the world when, drawn once from the seed.

Random flows are Poisson arrivals per lane; each arrival draws its class, behaviour, movement,
speed, colours and plate. Explicit vehicles from the scenario join them. Everything is drawn
up front in a fixed order, so a run's traffic depends on the seed alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .paths import PathNetwork
from .plates import PlateGenerator
from .scenario import ExplicitVehicle, FlowModel, Scenario, ScenarioError

#: Body colours (BGR) by class, each with a relative frequency.
_BODY_COLOURS: dict[str, list[tuple[tuple[int, int, int], float]]] = {
    "car": [((235, 235, 232), 3), ((188, 190, 192), 2.5), ((28, 28, 30), 2), ((110, 110, 112), 1.5),
            ((40, 40, 170), 0.8), ((130, 70, 20), 0.8), ((90, 40, 25), 0.6), ((150, 190, 210), 0.4)],
    "scooter": [((235, 235, 235), 2), ((30, 30, 30), 2), ((60, 60, 200), 1), ((170, 120, 40), 1),
                ((70, 160, 90), 0.6), ((180, 180, 182), 1.4)],
    "truck": [((230, 230, 228), 3), ((150, 80, 30), 1), ((60, 120, 60), 1), ((40, 60, 170), 0.6)],
    "bus": [((60, 140, 40), 1), ((200, 200, 196), 1), ((40, 90, 190), 1), ((160, 110, 30), 1)],
}
_SHIRTS = [(200, 80, 40), (40, 40, 40), (220, 220, 220), (40, 40, 180), (60, 150, 200), (90, 120, 60)]
_HELMETS = [(240, 240, 240), (30, 30, 30), (40, 200, 230), (60, 60, 210), (200, 120, 40)]
_CARGO = [(225, 225, 222), (200, 200, 205), (140, 100, 50), (60, 90, 150)]


@dataclass(frozen=True)
class Arrival:
    """A vehicle due to enter the world."""

    at_s: float
    lane: int
    kind: str
    behaviour: str
    movement: str
    plate: str
    desired_speed_mps: float
    colours: dict[str, tuple[int, int, int]]
    change_to: int | None = None  # lane changers: the lane they move into


#: Behaviours that move into the next lane before the stop line (over a dashed or a solid line).
LANE_CHANGERS = ("lane_changer", "solid_line_crosser")


def change_target(allowed: dict[int, list[str]], lane: int) -> int | None:
    """The lane a lane changer in ``lane`` moves into: the next one towards the kerb, else
    towards the centre, that also allows straight on (changers go straight)."""
    if "straight" not in allowed.get(lane, []):
        return None
    return next((other for other in (lane - 1, lane + 1) if "straight" in allowed.get(other, [])), None)


def schedule_arrivals(scenario: Scenario, network: PathNetwork, rng: np.random.Generator) -> list[Arrival]:
    """Every vehicle arrival of the run, in time order. Raises ScenarioError when a behaviour
    cannot happen on this road (e.g. wrong_lane where no lane has a safe forbidden movement)."""
    _check_behaviours_possible(scenario, network)
    explicit = [_explicit_draft(network, vehicle, index) for index, vehicle in enumerate(scenario.traffic.vehicles)]
    room = scenario.traffic.explicit_clear_s
    drafts = []
    for index, flow in enumerate(scenario.traffic.flows):
        drafts.extend(draft for draft in _flow_drafts(scenario, network, flow, index, rng)
                      if not any(other["lane"] == draft["lane"] and abs(other["at_s"] - draft["at_s"]) < room
                                 for other in explicit))
    drafts.extend(explicit)
    drafts.sort(key=lambda d: (d["at_s"], d["lane"]))
    plates = PlateGenerator(rng)
    for draft in drafts:
        if draft["plate"]:
            plates.reserve(draft["plate"])
    arrivals = []
    for draft in drafts:
        kind = draft["kind"]
        plate = draft["plate"] or plates.issue(kind)
        speed = draft["speed"] or _desired_speed(scenario, kind, draft["behaviour"], rng)
        change_to = change_target(network.allowed, draft["lane"]) if draft["behaviour"] in LANE_CHANGERS else None
        arrivals.append(Arrival(draft["at_s"], draft["lane"], kind, draft["behaviour"], draft["movement"],
                                plate, speed, _colours(kind, rng), change_to))
    return arrivals


def _check_behaviours_possible(scenario: Scenario, network: PathNetwork) -> None:
    used = {b for b, weight in scenario.traffic.behaviours.items() if weight > 0 and scenario.traffic.flows}
    used |= {vehicle.behaviour for vehicle in scenario.traffic.vehicles}
    kinds = {zone.kind for zone in scenario.zones}
    if "wrong_lane" in used and not network.wrong_choices:
        raise ScenarioError("traffic: wrong_lane drivers need a lane with a forbidden movement whose path "
                            "crosses no other lane's path (e.g. a left-only lane next to a straight lane)")
    if "illegal_parker" in used and "no_parking" not in kinds:
        raise ScenarioError("traffic: illegal_parker needs a zone of kind no_parking along the kerb")
    if "box_blocker" in used and "box_junction" not in kinds:
        raise ScenarioError("traffic: box_blocker needs a zone of kind box_junction")
    if "fail_to_yield" in used and scenario.crosswalk is None:
        raise ScenarioError("traffic: fail_to_yield needs a crosswalk")
    if "scooter_box_stopper" in used and "scooter_box" not in kinds:
        raise ScenarioError("traffic: scooter_box_stopper needs a zone of kind scooter_box")
    if used & set(LANE_CHANGERS) and not any(change_target(network.allowed, lane) for lane in network.allowed):
        raise ScenarioError("traffic: lane changers need two neighbouring lanes that both allow straight on")


def _flow_drafts(scenario: Scenario, network: PathNetwork, flow: FlowModel, index: int,
                 rng: np.random.Generator) -> list[dict]:
    allowed = network.allowed[flow.lane]
    weights = flow.movements or {movement: 1.0 for movement in allowed}
    forbidden = sorted(set(weights) - set(allowed))
    if forbidden:
        raise ScenarioError(f"traffic.flows[{index}]: lane {flow.lane} does not allow {forbidden}; "
                            f"allowed: {allowed}")
    behaviours = {b: w for b, w in scenario.traffic.behaviours.items() if w > 0}
    drafts = []
    t = float(rng.exponential(60.0 / flow.per_minute))
    while t < scenario.duration_s:
        kind = _weighted(flow.classes, rng)
        behaviour = _weighted(behaviours, rng)
        lane, movement = flow.lane, _weighted(weights, rng)
        if behaviour == "wrong_lane":
            own = [choice for choice in network.wrong_choices if choice[0] == lane]
            options = own or network.wrong_choices
            lane, movement = options[int(rng.integers(len(options)))]
        elif behaviour == "illegal_parker":
            lane, movement = 1, network.allowed[1][0]
            kind = kind if kind in ("car", "scooter") else "car"
        elif behaviour == "sidewalk_rider":
            lane, movement, kind = 1, "straight", "scooter"
        elif behaviour == "scooter_box_stopper":
            kind = kind if kind != "scooter" else "car"
        elif behaviour in LANE_CHANGERS:
            options = [ln for ln in network.allowed if change_target(network.allowed, ln)]
            lane = lane if lane in options else options[int(rng.integers(len(options)))]
            movement = "straight"
        drafts.append({"at_s": round(t, 3), "lane": lane, "kind": kind, "behaviour": behaviour,
                       "movement": movement, "plate": None, "speed": None})
        t += float(rng.exponential(60.0 / flow.per_minute))
    return drafts


def _explicit_draft(network: PathNetwork, vehicle: ExplicitVehicle, index: int) -> dict:
    where = f"traffic.vehicles[{index}]"
    allowed = network.allowed[vehicle.lane]
    movement = vehicle.movement
    if vehicle.behaviour == "wrong_lane":
        safe = [m for lane, m in network.wrong_choices if lane == vehicle.lane]
        if movement is None:
            if not safe:
                raise ScenarioError(f"{where}: lane {vehicle.lane} has no forbidden movement a wrong-lane driver "
                                    f"can take safely; use one of {network.wrong_choices}")
            movement = safe[0]
        elif movement in allowed or movement not in safe:
            raise ScenarioError(f"{where}: wrong_lane needs a forbidden movement whose path crosses no other "
                                f"lane; choose from {network.wrong_choices}")
    elif movement is None:
        movement = allowed[0]
    elif movement not in allowed:
        raise ScenarioError(f"{where}: lane {vehicle.lane} does not allow {movement}; allowed: {allowed} "
                            f"(use behaviour wrong_lane for a forbidden movement)")
    if vehicle.behaviour == "illegal_parker" and (vehicle.lane != 1 or vehicle.kind not in ("car", "scooter")):
        raise ScenarioError(f"{where}: an illegal_parker must be a car or scooter in lane 1")
    if vehicle.behaviour == "sidewalk_rider" and (vehicle.lane != 1 or vehicle.kind != "scooter"
                                                  or movement != "straight"):
        raise ScenarioError(f"{where}: a sidewalk_rider is a scooter going straight on from lane 1")
    if vehicle.behaviour == "scooter_box_stopper" and vehicle.kind == "scooter":
        raise ScenarioError(f"{where}: a scooter_box_stopper is a car, truck or bus (scooters may wait in the box)")
    if vehicle.behaviour in LANE_CHANGERS and (movement != "straight"
                                               or change_target(network.allowed, vehicle.lane) is None):
        raise ScenarioError(f"{where}: a {vehicle.behaviour} goes straight on from a lane next to another lane "
                            "that allows straight on")
    speed = vehicle.speed_kmh / 3.6 if vehicle.speed_kmh else None
    return {"at_s": vehicle.at_s, "lane": vehicle.lane, "kind": vehicle.kind, "behaviour": vehicle.behaviour,
            "movement": movement, "plate": vehicle.plate, "speed": speed}


def _desired_speed(scenario: Scenario, kind: str, behaviour: str, rng: np.random.Generator) -> float:
    limit = scenario.road.speed_limit_kmh / 3.6
    if behaviour == "speeder":
        return limit * float(rng.uniform(1.3, 1.55))
    if behaviour == "sidewalk_rider":
        return float(rng.uniform(*scenario.traffic.sidewalk_speed_kmh)) / 3.6
    low, high = (0.75, 0.9) if kind in ("truck", "bus") else (0.82, 0.98)
    return limit * float(rng.uniform(low, high))


def _colours(kind: str, rng: np.random.Generator) -> dict[str, tuple[int, int, int]]:
    palette = _BODY_COLOURS[kind]
    weights = np.array([weight for _, weight in palette])
    body = palette[int(rng.choice(len(palette), p=weights / weights.sum()))][0]
    return {
        "body": body,
        "glass": (58, 48, 40),
        "dark": (26, 26, 28),
        "rider": _SHIRTS[int(rng.integers(len(_SHIRTS)))],
        "helmet": _HELMETS[int(rng.integers(len(_HELMETS)))],
        "cargo": _CARGO[int(rng.integers(len(_CARGO)))],
    }


def _weighted(weights: dict[str, float], rng: np.random.Generator) -> str:
    names = list(weights)
    values = np.array([weights[name] for name in names], dtype=float)
    return names[int(rng.choice(len(names), p=values / values.sum()))]
