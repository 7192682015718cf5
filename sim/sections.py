"""Two simulated sites a road section apart: the same vehicles, by plate, pass an entry site and,
length / (their section speed) later, an exit site. Each site is an ordinary scenario (the
junction's road and camera, a passage loop in lanes 1 and 2 in the camera's view, lanes 1 and 2
green throughout), so each runs through ``roadcam simulate`` as its own device; the truth of
the pair is the two runs' loop truth (when each vehicle's front reached its lane's passage loop).

Used by tests/test_sections_two_sites.py. The vehicles enter the exit site in whatever order
their speeds give; a dry run of the exit site's world (no rendering) finds how long each takes
from entering the world to its loop, so that it reaches the loop at the planned moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .scenario import Scenario, load_scenario
from .world import World

#: The passage loop's nearer edge, from the stop line, in each site's lanes 1 and 2.
PASSAGE_LOOP_M = 14.0
PASSAGE_LOOPS = {1: ("p1", "GPIO5"), 2: ("p2", "GPIO6")}


@dataclass(frozen=True)
class SectionVehicle:
    """One vehicle of the section: its plate, class, lane, when it enters the entry site's world
    (s), its speed at both sites (km/h) and its average speed over the section (km/h)."""

    plate: str
    kind: str
    lane: int
    entry_at_s: float
    site_kmh: float
    section_kmh: float


def site_scenario(name: str, site: str, start_offset_s: float, vehicles: list[dict], duration_s: float) -> Scenario:
    """The junction as one end of the section: ``vehicles`` are explicit-vehicle entries;
    the clock starts ``start_offset_s`` after the junction scenario's start."""
    data = load_scenario("junction").model_dump()
    data.update(name=name, site=site, zones=[], duration_s=duration_s, hotlist=[],
                start=data["start"] + timedelta(seconds=start_offset_s))
    data["loops"] = [{"name": loop, "lane": lane, "position_m": PASSAGE_LOOP_M, "length_m": 2.0, "pin": pin}
                     for lane, (loop, pin) in PASSAGE_LOOPS.items()]
    data["traffic"] = {"flows": [], "vehicles": vehicles}
    data["pedestrians"] = {"per_minute": 0.01, "people": []}
    # the main head green for the hour: no vehicle brakes for a red before the stop line
    data["signals"]["cycle_s"] = 3600
    data["signals"]["heads"][0].update(green_s=3590)
    return Scenario.model_validate(data)


def _explicit(vehicle: SectionVehicle, at_s: float, lane: int | None = None) -> dict:
    return {"at_s": round(at_s, 3), "lane": lane or vehicle.lane, "kind": vehicle.kind, "plate": vehicle.plate,
            "speed_kmh": vehicle.site_kmh, "movement": "straight"}


def loop_entries(scenario: Scenario) -> dict[str, float]:
    """Plate -> when (s from the scenario's start) its front reached its lane's passage loop,
    from a run of the world alone."""
    world = World(scenario)
    while world.t_s < scenario.duration_s:
        world.step(1 / scenario.fps)
    return {v.plate: v.loop_passages[0].enter_s for v in world.truth.vehicles.values() if v.loop_passages}


def section_sites(vehicles: list[SectionVehicle], length_m: float, exit_offset_s: float,
                  margin_s: float = 20.0) -> tuple[Scenario, Scenario]:
    """(entry scenario, exit scenario) for ``vehicles``; the exit site's clock starts
    ``exit_offset_s`` after the entry site's, and each vehicle reaches the exit loop
    length / section speed after it reached the entry loop (both from dry runs). Each site runs
    ``margin_s`` + 6 s past its last vehicle's entry, time for the vehicle to leave the view and
    its passage (waiting for its plate read) to go out."""
    last = max(v.entry_at_s for v in vehicles)
    entry = site_scenario("section-entry", "site-a", 0.0, [_explicit(v, v.entry_at_s) for v in vehicles],
                          last + margin_s + 6)
    at_entry = loop_entries(entry)
    planned = {v.plate: at_entry[v.plate] + length_m / (v.section_kmh / 3.6) - exit_offset_s for v in vehicles}
    # at the exit, lanes 1 and 2 in turn by arrival, so that no vehicle closes on the one ahead
    lanes = {plate: 1 + i % 2 for i, plate in enumerate(sorted(planned, key=planned.get))}
    # how long from entering the world to the loop, per vehicle (its speed, class and lane)
    probe = site_scenario("section-probe", "site-b", exit_offset_s,
                          [_explicit(v, 10.0 * i, lanes[v.plate]) for i, v in enumerate(vehicles)],
                          10.0 * len(vehicles) + 10)
    probed = loop_entries(probe)
    lead = {v.plate: probed[v.plate] - 10.0 * i for i, v in enumerate(vehicles)}
    exits = [_explicit(v, planned[v.plate] - lead[v.plate], lanes[v.plate]) for v in vehicles]
    if min(e["at_s"] for e in exits) < 0:
        raise ValueError("exit_offset_s is too late: a vehicle would have to enter the exit site before it starts")
    exit_site = site_scenario("section-exit", "site-b", exit_offset_s, exits,
                              max(e["at_s"] for e in exits) + margin_s + 6)
    return entry, exit_site
