"""The simulated road: vehicles, pedestrians, signals and loops, advanced step by step.

Vehicles follow their lane's path with the intelligent driver model: they keep a safe gap to
whatever is ahead (a vehicle on their path, anything in the corridor in front of them, a
pedestrian) and stop at virtual obstacles their behaviour obeys (the stop line on red, the
crosswalk while people cross, a parking spot). Every step returns the pin edges it caused,
stamped at the exact moment in the step, and writes what happened into the ground truth.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from .layout import RoadLayout
from .loops import LoopMonitor, PinEdge
from .paths import SAMPLE_M, Path, PathNetwork
from .pedestrians import Pedestrian, PedestrianMover, schedule_pedestrians
from .scenario import Scenario
from .signals import SignalController
from .traffic import Arrival, schedule_arrivals
from .truth import GroundTruth, LoopPassage, PedestrianTruth, VehicleTruth, Violation
from .vehicles import Vehicle
from .zones import Zone

_STOP_LINE_GAP_M = 0.5
_COMFORT_STOP_MPS2 = 4.0
_LATERAL_MPS = 0.8
_CORRIDOR_MARGIN_M = 0.3
_LOOKAHEAD_M = 40.0
_YIELD_MARGIN_M = 3.5
#: Passing within this distance of a person on the crosswalk is failing to yield (Taiwan: 3 m).
_FAIL_TO_YIELD_MARGIN_M = 3.0
_ENTRY_CLEAR_M = 8.0
_PULL_OUT_CLEAR_BEHIND_M = 12.0
_MAX_BRAKE_MPS2 = 9.0
#: People keep this far to the side of a moving vehicle, and out of the few metres in front of it.
_PERSON_CLEARANCE_M = 1.0
#: People keep this far off a standing vehicle's sides, and a vehicle waits for anyone crossing this
#: near its side ahead of it: one distance, so a person held beside a standing vehicle is never one
#: it waits for (with 0.5 m and 0.8 m the two waited for each other for good).
_PERSON_KEEP_OFF_M = 0.8
#: People keep this far off a standing vehicle's front and back.
_PERSON_KEEP_OFF_ENDS_M = 0.5
_PERSON_LOOKAHEAD_M = 3.0
#: Sideways speed of a lane change at speed (m/s); slower below 3 m/s, none at a standstill.
_LANE_CHANGE_MPS = 1.0


class World:
    """Everything on the road at simulated time :attr:`t_s`."""

    def __init__(self, scenario: Scenario, camera_name: str | None = None):
        self.scenario = scenario
        self.layout = RoadLayout(scenario)
        self.network = PathNetwork(self.layout)
        self.signals = SignalController(scenario.signals)
        traffic_seed, people_seed = np.random.SeedSequence(scenario.seed).spawn(2)
        self._arrivals: deque[Arrival] = deque(schedule_arrivals(scenario, self.network,
                                                                 np.random.default_rng(traffic_seed)))
        self._waiting: list[Arrival] = []
        crosswalk = self.layout.crosswalk
        self._people_due = deque(schedule_pedestrians(scenario, crosswalk, np.random.default_rng(people_seed)))
        self._mover = PedestrianMover(crosswalk) if crosswalk else None
        self.vehicles: list[Vehicle] = []
        self.pedestrians: list[Pedestrian] = []
        self.loops = [LoopMonitor(loop, self.layout.loop_rect(loop.lane, loop.position_m, loop.length_m))
                      for loop in scenario.loops]
        self.zones = [Zone(zone) for zone in scenario.zones]
        self._crosswalk_spans: dict[Path, tuple[float, float]] = {}
        self.t_s = 0.0
        self._next_id = 1
        self.truth = GroundTruth(scenario=scenario.name, seed=scenario.seed, fps=scenario.fps,
                                 start_ns=scenario.start_ns, camera=camera_name or scenario.camera.name,
                                 hotlist=[entry.plate for entry in scenario.hotlist],
                                 areas={name: (r.x_min, r.x_max, r.y_min, r.y_max)
                                        for name, r in self.layout.rule_areas().items()})
        self.truth.loop_intervals = {loop.spec.name: [] for loop in self.loops}
        self.truth.signal_changes = {head: [(0.0, self.signals.state(head, 0.0))] for head in self.signals.heads}
        self._limit_mps = scenario.road.speed_limit_kmh / 3.6

    # ---- hardware levels -------------------------------------------------------------------

    def pin_levels(self) -> dict[str, bool]:
        """Level of every loop and lamp pin now (lamp inputs are high while lit)."""
        levels = {loop.spec.pin: loop.level() for loop in self.loops}
        for name, head in self.signals.heads.items():
            if head.pins:
                state = self.signals.state(name, self.t_s)
                for colour in ("red", "amber", "green"):
                    levels[getattr(head.pins, colour)] = colour == state
        return levels

    # ---- stepping --------------------------------------------------------------------------

    def step(self, dt_s: float) -> list[PinEdge]:
        """Advance by ``dt_s`` seconds; return the pin edges in the step, in time order."""
        t0, t1 = self.t_s, self.t_s + dt_s
        edges = self._lamp_edges(t0, t1)
        self._admit_vehicles(t0)
        before = {v.id: _loop_box(v) for v in self.vehicles}
        s_before = {v.id: v.s_m for v in self.vehicles}
        self._move_vehicles(t0, dt_s)
        self._note_events(s_before, t0, dt_s)
        left = self._remove_finished(t1)
        after = {v.id: _loop_box(v) for v in self.vehicles}
        edges += self._loop_edges({vid: (box, after.get(vid)) for vid, box in before.items()}, t0, t1)
        self._move_people(t0, dt_s)
        self.t_s = t1
        for vehicle in left:
            self.truth.vehicles[vehicle.id].exit_s = t1
        return sorted(edges, key=lambda edge: edge.time_s)

    def _lamp_edges(self, t0: float, t1: float) -> list[PinEdge]:
        edges = []
        for name, head in self.signals.heads.items():
            for at, state in self.signals.changes(name, t0, t1):
                self.truth.signal_changes[name].append((at, state))
                if head.pins:
                    edges += [PinEdge(at, getattr(head.pins, colour), colour == state)
                              for colour in ("red", "amber", "green")]
        return edges

    def _admit_vehicles(self, t_s: float) -> None:
        while self._arrivals and self._arrivals[0].at_s <= t_s:
            self._waiting.append(self._arrivals.popleft())
        still = []
        for arrival in self._waiting:
            if not self._try_enter(arrival, t_s):
                still.append(arrival)
        self._waiting = still

    def _try_enter(self, arrival: Arrival, t_s: float) -> bool:
        path = self.network.path(arrival.lane, arrival.movement)
        speed = arrival.desired_speed_mps
        for other in self.vehicles:
            if other.lane != arrival.lane:
                continue
            rear_gap = other.s_m - other.spec.length_m - path.entry_s
            if rear_gap < _ENTRY_CLEAR_M:
                return False
            if rear_gap < 40:
                speed = min(speed, other.speed_mps)
        vehicle = Vehicle(self._next_id, arrival.kind, arrival.plate, arrival.behaviour, arrival.lane,
                          arrival.movement, path, arrival.desired_speed_mps, t_s, path.entry_s, speed,
                          arrival.colours)
        self._plan_stops(vehicle)
        self._plan_lane(vehicle, arrival.change_to)
        self._next_id += 1
        self.vehicles.append(vehicle)
        truth = self.truth.vehicles[vehicle.id] = VehicleTruth(
            id=vehicle.id, kind=vehicle.kind, entry_s=t_s, plate=vehicle.plate, behaviour=vehicle.behaviour,
            lane=vehicle.lane, movement=vehicle.movement)
        truth.speed.entry_kmh = speed * 3.6
        allowed = self.scenario.lanes[vehicle.lane - 1].classes
        if vehicle.offset_m == 0.0 and vehicle.kind not in allowed:
            truth.violations.append(Violation("lane_class", t_s, {"lane": vehicle.lane, "allowed": list(allowed)}))
        return True

    def _plan_stops(self, vehicle: Vehicle) -> None:
        """Where its front stops at red: at the stop line; a line overrunner past it; a car, truck
        or bus at the rear edge of a scooter waiting box (unless it stops in the box). Where an
        illegal parker parks or a box blocker stops: the middle of its zone."""
        vehicle.hold_y_m = self.layout.stop_line_y_m
        if vehicle.behaviour == "line_overrunner":
            low, high = self.scenario.traffic.overrun_m
            overrun = min(low + self._fraction(vehicle) * (high - low), 0.6 * vehicle.spec.length_m)
            vehicle.hold_y_m -= overrun + _STOP_LINE_GAP_M
        box = next((z for z in self.zones if z.spec.kind == "scooter_box"), None)
        if box is not None and vehicle.kind in box.classes and vehicle.behaviour != "scooter_box_stopper" \
                and box.contains(self.layout.lane_centre_x(vehicle.lane), self.layout.stop_line_y_m + 0.1):
            vehicle.hold_y_m = max(y for _, y in box.spec.polygon)
        kind = {"illegal_parker": "no_parking", "box_blocker": "box_junction"}.get(vehicle.behaviour)
        zone = next((z for z in self.zones if z.spec.kind == kind), None)
        if zone is None:
            return
        centre = np.mean(np.asarray(zone.spec.polygon, dtype=float), axis=0)
        nearest = int(np.argmin(np.linalg.norm(vehicle.path.points - centre, axis=1)))
        vehicle.target_s_m = nearest * SAMPLE_M + vehicle.spec.length_m / 2

    def _plan_lane(self, vehicle: Vehicle, change_to: int | None) -> None:
        """A sidewalk rider rides along the middle of the pavement; a lane changer moves into
        ``change_to`` with its rear crossing the lane line at a point of its behaviour's range (a
        solid_line_crosser where the line is solid, a lane_changer where it is dashed)."""
        layout = self.layout
        if vehicle.behaviour == "sidewalk_rider":
            vehicle.offset_m = -(layout.lane_centre_x(vehicle.lane) + layout.sidewalk_m / 2)
        if change_to is None:
            return
        traffic = self.scenario.traffic
        low, high = traffic.solid_cross_y_m if vehicle.behaviour == "solid_line_crosser" else traffic.dashed_cross_y_m
        vehicle.change_offset_m = layout.lane_centre_x(change_to) - layout.lane_centre_x(vehicle.lane)
        vehicle.change_at_y_m = layout.stop_line_y_m + low + self._fraction(vehicle) * (high - low)

    # ---- vehicle dynamics ------------------------------------------------------------------

    def _move_vehicles(self, t0: float, dt_s: float) -> None:
        vehicles = self.vehicles
        if not vehicles:
            return
        centres, headings, lengths, widths = _bodies(vehicles)
        speeds = np.array([v.speed_mps for v in vehicles])
        gaps, closing = _corridor_gaps(centres, headings, lengths, widths, speeds)
        crossing = [p for p in self.pedestrians if p.phase == "crossing"]
        people = _people_ahead(centres, headings, lengths, widths, crossing).min(axis=1, initial=math.inf)
        leaders = self._lane_leaders()
        plans = []
        for i, vehicle in enumerate(vehicles):
            self._advance_phase(vehicle, t0, dt_s)
            obstacles = []
            j = int(np.argmin(gaps[i]))
            if math.isfinite(gaps[i, j]):
                obstacles.append((gaps[i, j], closing[i, j], vehicle.spec.min_gap_m))
            if math.isfinite(people[i]):
                obstacles.append((people[i], 0.0, 1.0))
            leader = leaders.get(vehicle.id)
            if leader is not None:
                obstacles.append((leader.s_m - leader.spec.length_m - vehicle.s_m, leader.speed_mps,
                                  vehicle.spec.min_gap_m))
            obstacles += self._virtual_obstacles(vehicle, t0, obstacles, leader)
            plans.append((vehicle, _idm_accel(vehicle, obstacles, self._cruise_speed(vehicle)), leader,
                          float(gaps[i, j])))
        for vehicle, accel, leader, corridor_gap in sorted(plans, key=lambda p: -p[0].s_m):
            self._integrate(vehicle, accel, leader, corridor_gap, dt_s)

    def _cruise_speed(self, vehicle: Vehicle) -> float:
        return min(vehicle.desired_speed_mps, vehicle.path.speed_cap(vehicle.s_m))

    def _lane_leaders(self) -> dict[int, Vehicle]:
        """For each vehicle, the nearest vehicle ahead that shares its lane's path up to here and
        overlaps it sideways."""
        leaders = {}
        by_lane: dict[int, list[Vehicle]] = {}
        for vehicle in self.vehicles:
            by_lane.setdefault(vehicle.lane, []).append(vehicle)
        for group in by_lane.values():
            group.sort(key=lambda v: -v.s_m)
            for index, vehicle in enumerate(group):
                for ahead in reversed(group[:index]):
                    if ahead.path is not vehicle.path:
                        split = min(p for p in (ahead.path.turn_start_s, vehicle.path.turn_start_s) if p is not None)
                        if ahead.s_m - ahead.spec.length_m > split:
                            continue
                    corridor_m = (ahead.spec.width_m + vehicle.spec.width_m) / 2 + _CORRIDOR_MARGIN_M
                    if abs(ahead.offset_m - vehicle.offset_m) < corridor_m:
                        leaders[vehicle.id] = ahead
                        break
        return leaders

    def _virtual_obstacles(self, vehicle: Vehicle, t_s: float, real: list,
                           leader: Vehicle | None) -> list[tuple[float, float, float]]:
        """Standing obstacles the vehicle's behaviour obeys: the stop line (red, amber, a full
        junction), the crosswalk (people crossing), its own planned stop (parking, box)."""
        out = []
        path = vehicle.path
        if not vehicle.past_hold:
            gap = path.s_at_y(vehicle.hold_y_m) - vehicle.s_m
            if self._must_stop_at_line(vehicle, gap, t_s) or self._junction_blocked(vehicle, gap, real, leader):
                out.append((gap, 0.0, _STOP_LINE_GAP_M))
        crosswalk = self.layout.crosswalk
        if crosswalk is not None and not vehicle.entered_crosswalk and vehicle.behaviour != "fail_to_yield":
            entry_s = path.s_at_y(crosswalk.y_max)
            gap = entry_s - vehicle.s_m
            if gap < _LOOKAHEAD_M and self._people_in_way(vehicle, _YIELD_MARGIN_M):
                out.append((gap, 0.0, _STOP_LINE_GAP_M))
        if vehicle.target_s_m is not None and "stopped" not in vehicle.flags and (
                vehicle.behaviour == "box_blocker" or vehicle.phase == "pulling_in"):
            out.append((vehicle.target_s_m - vehicle.s_m, 0.0, 0.2))
        return out

    def _must_stop_at_line(self, vehicle: Vehicle, gap: float, t_s: float) -> bool:
        """Whether the vehicle's behaviour stops it at the stop line now (amber: only when it
        can stop comfortably or cannot clear the line before red)."""
        head = self.signals.head_of_lane(vehicle.lane)
        state = self.signals.state(head, t_s)
        if state == "green":
            vehicle.committed = False
            return False
        if vehicle.behaviour == "red_light_runner" or vehicle.committed:
            return False
        if state == "amber":
            speed = max(vehicle.speed_mps, 0.1)
            comfortable = speed ** 2 / (2 * max(gap - _STOP_LINE_GAP_M, 0.1)) <= _COMFORT_STOP_MPS2
            amber_left = self.signals.heads[head].amber_s - self.signals.time_in_state(head, t_s)
            if not comfortable and gap / speed <= amber_left - 0.3:
                vehicle.committed = True
                return False
        return True

    def _junction_blocked(self, vehicle: Vehicle, gap_to_line: float, real: list, leader: Vehicle | None) -> bool:
        """Keep the box clear: a vehicle that has not crossed the line waits at it while what is
        ahead stands, or is about to stop, within the junction plus its own length."""
        if vehicle.behaviour in ("red_light_runner", "box_blocker"):
            return False
        room = gap_to_line + (self.layout.stop_line_y_m - self.layout.cross_far_y_m) + vehicle.spec.length_m
        if any(speed < 1.0 and gap_to_line < gap < room for gap, speed, _ in real):
            return True
        if leader is None or (leader.speed_mps > 3.0 and leader.accel_mps2 > -0.3):
            return False
        braking = leader.speed_mps ** 2 / (2 * -leader.accel_mps2) if leader.accel_mps2 < -0.3 else 0.0
        stops_at = leader.s_m - leader.spec.length_m - vehicle.s_m + braking
        return gap_to_line < stops_at < room

    def _people_in_way(self, vehicle: Vehicle, margin_m: float) -> bool:
        """Someone is crossing within ``margin_m`` of where the vehicle's path crosses the crosswalk."""
        if not self.pedestrians:
            return False
        lo, hi = self._crosswalk_span(vehicle.path)
        half = vehicle.spec.width_m / 2 + margin_m
        return any(self._mover.on_road(p) and lo - half <= p.x_m <= hi + half for p in self.pedestrians)

    def _crosswalk_span(self, path: Path) -> tuple[float, float]:
        """The x range a path's centre line covers while it crosses the crosswalk."""
        if path not in self._crosswalk_spans:
            crosswalk = self.layout.crosswalk
            xs = path.points[(path.points[:, 1] >= crosswalk.y_min) & (path.points[:, 1] <= crosswalk.y_max), 0]
            self._crosswalk_spans[path] = (float(xs.min()), float(xs.max())) if len(xs) else (math.inf, -math.inf)
        return self._crosswalk_spans[path]

    def _advance_phase(self, vehicle: Vehicle, t_s: float, dt_s: float) -> None:
        """Lane changes, parking and box-waiting manoeuvres."""
        if vehicle.change_offset_m is not None and vehicle.offset_m != vehicle.change_offset_m:
            self._change_lane(vehicle, dt_s)
        if vehicle.behaviour == "illegal_parker" and vehicle.target_s_m is not None:
            target_offset = self.layout.shoulder_centre_x() - self.layout.lane_centre_x(1)
            if vehicle.phase == "driving" and "stopped" not in vehicle.flags and vehicle.s_m > vehicle.target_s_m - 35:
                vehicle.phase = "pulling_in"
            if vehicle.phase == "pulling_in":
                vehicle.offset_m = max(target_offset, vehicle.offset_m - _LATERAL_MPS * dt_s)
                if vehicle.offset_m == target_offset and vehicle.speed_mps < 0.05:
                    vehicle.phase = "parked"
                    vehicle.phase_until_s = t_s + self._draw_stop(vehicle, self.scenario.traffic.park_s)
                    vehicle.flags.add("stopped")
            elif vehicle.phase == "parked" and t_s >= vehicle.phase_until_s and self._lane_clear_behind(vehicle):
                vehicle.phase = "pulling_out"
            elif vehicle.phase == "pulling_out":
                vehicle.offset_m = min(0.0, vehicle.offset_m + _LATERAL_MPS * dt_s)
                if vehicle.offset_m == 0.0:
                    vehicle.phase = "driving"
        elif vehicle.behaviour == "box_blocker" and vehicle.target_s_m is not None:
            if vehicle.phase == "driving" and "stopped" not in vehicle.flags and vehicle.speed_mps < 0.05 \
                    and abs(vehicle.target_s_m - vehicle.s_m) < 1.0:
                vehicle.phase = "box_waiting"
                vehicle.phase_until_s = t_s + self._draw_stop(vehicle, self.scenario.traffic.box_stop_s)
                vehicle.flags.add("stopped")
            elif vehicle.phase == "box_waiting" and t_s >= vehicle.phase_until_s:
                vehicle.phase = "driving"

    def _change_lane(self, vehicle: Vehicle, dt_s: float) -> None:
        """Move sideways towards the new lane once the rear is close enough to its crossing
        point that half a lane's move brings it there at this speed."""
        centre, heading = vehicle.pose()
        rear_y = float(centre[1] - heading[1] * vehicle.spec.length_m / 2)
        rate = _LANE_CHANGE_MPS * min(1.0, vehicle.speed_mps / 3.0)
        lead = self.layout.lane_width_m / 2 / _LANE_CHANGE_MPS * vehicle.speed_mps
        if vehicle.offset_m == 0.0 and rear_y > vehicle.change_at_y_m + lead:
            return
        target = vehicle.change_offset_m
        step = rate * dt_s
        vehicle.offset_m = min(target, vehicle.offset_m + step) if target > 0 else max(target, vehicle.offset_m - step)

    @staticmethod
    def _fraction(vehicle: Vehicle) -> float:
        """A fixed point in [0, 1) from the vehicle's id, for its behaviour's ranges (so the draw
        does not disturb the traffic's random stream)."""
        return (vehicle.id * 0.6180339887) % 1.0

    def _draw_stop(self, vehicle: Vehicle, span: tuple[float, float]) -> float:
        """How long this vehicle stays stopped: a fixed point of its range."""
        return span[0] + self._fraction(vehicle) * (span[1] - span[0])

    def _lane_clear_behind(self, vehicle: Vehicle) -> bool:
        """A parked vehicle may pull out when nothing in its lane is beside it and whatever comes
        from behind is more than a few seconds away."""
        rear = vehicle.s_m - vehicle.spec.length_m
        for other in self.vehicles:
            if other.lane != vehicle.lane or other is vehicle or other.offset_m != 0.0:
                continue
            if rear - _PULL_OUT_CLEAR_BEHIND_M < other.s_m < vehicle.s_m + 3:
                return False
            if other.s_m <= rear - _PULL_OUT_CLEAR_BEHIND_M and (rear - other.s_m) / max(other.speed_mps, 0.1) < 4.0:
                return False
        return True

    def _integrate(self, vehicle: Vehicle, accel: float, leader: Vehicle | None, corridor_gap: float,
                   dt_s: float) -> None:
        if vehicle.phase in ("parked", "box_waiting"):
            vehicle.speed_mps, vehicle.accel_mps2 = 0.0, 0.0
            return
        speed = max(0.0, vehicle.speed_mps + accel * dt_s)
        if speed == 0.0 and accel < 0:
            advance = min(vehicle.speed_mps * dt_s, vehicle.speed_mps ** 2 / (2 * -accel))
        else:
            advance = (vehicle.speed_mps + speed) / 2 * dt_s
        limits = [corridor_gap - _CORRIDOR_MARGIN_M]
        if leader is not None:
            limits.append(leader.s_m - leader.spec.length_m - _CORRIDOR_MARGIN_M - vehicle.s_m)
        room = max(0.0, min(limits))
        if advance > room:
            advance = room
            speed = min(speed, leader.speed_mps if leader is not None else speed)
        vehicle.s_m += advance
        vehicle.speed_mps = speed
        vehicle.accel_mps2 = accel

    # ---- what happened -----------------------------------------------------------------------

    def _note_events(self, s_before: dict[int, float], t0: float, dt_s: float) -> None:
        stop_y = self.layout.stop_line_y_m
        for vehicle in self.vehicles:
            truth = self.truth.vehicles[vehicle.id]
            truth.speed.add(vehicle.speed_mps, dt_s)
            s0, s1 = s_before.get(vehicle.id, vehicle.s_m), vehicle.s_m
            stop_s = vehicle.path.s_at_y(stop_y)
            if not vehicle.past_hold and s1 >= vehicle.path.s_at_y(vehicle.hold_y_m):
                vehicle.past_hold = True
            if not vehicle.crossed_stop_line and s1 >= stop_s:
                vehicle.crossed_stop_line = True
                self._crossed_stop_line(vehicle, truth, _between(t0, dt_s, s0, s1, stop_s))
            self._note_overrun(vehicle, truth, s1 - vehicle.spec.length_m >= stop_s, t0 + dt_s)
            if self.layout.crosswalk is not None and not vehicle.entered_crosswalk:
                entry_s = vehicle.path.s_at_y(self.layout.crosswalk.y_max)
                if s1 >= entry_s:
                    vehicle.entered_crosswalk = True
                    if self._people_in_way(vehicle, _FAIL_TO_YIELD_MARGIN_M):
                        truth.violations.append(Violation("fail_to_yield", _between(t0, dt_s, s0, s1, entry_s),
                                                          {"crosswalk": "main"}))
            if not vehicle.crossed_stop_line and vehicle.speed_mps > self._limit_mps + 1 / 3.6:
                self._speeding(vehicle, truth, t0 + dt_s)
            centre, heading = vehicle.pose()
            self._note_lane_lines(vehicle, truth, centre - heading * vehicle.spec.length_m / 2, t0 + dt_s)
            for zone in self.zones:
                since = zone.watch(vehicle.id, vehicle.kind, float(centre[0]), float(centre[1]), vehicle.speed_mps,
                                   t0 + dt_s)
                if since is not None:
                    data = {"zone": zone.spec.name}
                    if zone.spec.kind != "restricted":
                        data["stood_s"] = zone.spec.max_stop_s
                    truth.violations.append(Violation(zone.rule, round(since, 6), data))

    def _crossed_stop_line(self, vehicle: Vehicle, truth: VehicleTruth, at: float) -> None:
        truth.speed.at_stop_line_kmh = vehicle.speed_mps * 3.6
        truth.stop_line_s = at
        head = self.signals.head_of_lane(vehicle.lane)
        if self.signals.state(head, at) == "red" and not vehicle.past_hold:
            vehicle.over_on_red_s = at  # it means to stop past the line: an overrun once it stands
        elif self.signals.state(head, at) == "red":
            truth.violations.append(Violation("red_light", at, {
                "head": head, "lane": vehicle.lane, "movement": vehicle.movement,
                "into_red_s": round(self.signals.time_in_state(head, at), 3)}))
        if vehicle.movement not in self.network.allowed[vehicle.lane]:
            truth.violations.append(Violation("wrong_lane", at, {
                "lane": vehicle.lane, "movement": vehicle.movement, "allowed": self.network.allowed[vehicle.lane]}))

    def _note_overrun(self, vehicle: Vehicle, truth: VehicleTruth, rear_over: bool, t_s: float) -> None:
        """A vehicle whose front went over the stop line on red and that then stands, its rear
        still behind the line, on red, overran the stop line (dated when its front crossed)."""
        if vehicle.over_on_red_s is None or rear_over:
            vehicle.over_on_red_s = None
            return
        head = self.signals.head_of_lane(vehicle.lane)
        if vehicle.speed_mps < 0.3 and self.signals.state(head, t_s) == "red":
            truth.violations.append(Violation("stop_line", vehicle.over_on_red_s, {
                "head": head, "lane": vehicle.lane,
                "over_m": round(self.layout.stop_line_y_m - vehicle.hold_y_m - _STOP_LINE_GAP_M, 2)}))
            vehicle.over_on_red_s = None

    def _note_lane_lines(self, vehicle: Vehicle, truth: VehicleTruth, rear, t_s: float) -> None:
        """A vehicle whose rear centre crosses a line between two approach lanes where it is solid
        crossed a solid line (once per line)."""
        x, y = float(rear[0]), float(rear[1])
        before, vehicle.rear_x_m = vehicle.rear_x_m, x
        low, high = self.layout.solid_line_y()
        if before is None or not low <= y <= high:
            return
        for lane in range(1, self.layout.lane_count):
            line_x = self.layout.lane_line_x(lane)
            name = f"lane-{lane}-{lane + 1}-solid"
            if (before - line_x) * (x - line_x) < 0 and not any(v.data.get("line") == name for v in truth.violations):
                truth.violations.append(Violation("solid_line", t_s, {"line": name}))

    def _speeding(self, vehicle: Vehicle, truth: VehicleTruth, at: float) -> None:
        kmh = round(vehicle.speed_mps * 3.6, 2)
        found = next((v for v in truth.violations if v.rule == "speeding"), None)
        if found is None:
            truth.violations.append(Violation("speeding", at, {"max_kmh": kmh,
                                                               "limit_kmh": self.scenario.road.speed_limit_kmh}))
        elif kmh > found.data["max_kmh"]:
            found.data["max_kmh"] = kmh

    def _remove_finished(self, t1: float) -> list[Vehicle]:
        done = [v for v in self.vehicles if v.s_m >= v.path.length_m - 0.5]
        if done:
            self.vehicles = [v for v in self.vehicles if v.s_m < v.path.length_m - 0.5]
        return done

    def _loop_edges(self, moves: dict, t0: float, t1: float) -> list[PinEdge]:
        edges = []
        for loop in self.loops:
            changes = loop.changes(moves, t0, t1)
            for at, vehicle_id, covering in changes:
                passages = self.truth.vehicles[vehicle_id].loop_passages
                if covering:
                    speed = next((v.speed_mps for v in self.vehicles if v.id == vehicle_id), 0.0)
                    passages.append(LoopPassage(loop.spec.name, at, speed_kmh=round(speed * 3.6, 2)))
                else:
                    open_passage = next((p for p in reversed(passages) if p.loop == loop.spec.name), None)
                    if open_passage is not None:
                        open_passage.exit_s = at
            for at, occupied in loop.apply(changes):
                intervals = self.truth.loop_intervals[loop.spec.name]
                if occupied:
                    intervals.append([float(at), None])
                else:
                    intervals[-1][1] = float(at)
                edges.append(PinEdge(at, loop.spec.pin, occupied if loop.spec.active_high else not occupied))
        return edges

    # ---- pedestrians ---------------------------------------------------------------------------

    def _move_people(self, t0: float, dt_s: float) -> None:
        if self._mover is None:
            return
        while self._people_due and self._people_due[0].at_s <= t0:
            person = self._mover.spawn(self._people_due.popleft(), self._next_id)
            self._next_id += 1
            self.pedestrians.append(person)
            self.truth.pedestrians[person.id] = PedestrianTruth(
                id=person.id, kind="pedestrian", entry_s=t0, side="near" if person.direction > 0 else "far")
        if not self.pedestrians:
            return
        walk = self.signals.state(self.scenario.crosswalk.head, t0)
        keep_out = [_keep_out_zone(v) for v in self.vehicles]
        crossing = [p for p in self.pedestrians if p.phase == "crossing"]
        waited = np.isfinite(_people_ahead(*_bodies(self.vehicles), crossing)) if self.vehicles else None
        column = {person.id: j for j, person in enumerate(crossing)}
        for person in self.pedestrians:
            j = column.get(person.id)
            holding = [zone for i, zone in enumerate(keep_out) if j is None or not waited[i, j]]
            self._mover.step(person, walk, dt_s, _held_by(holding))
            if person.phase == "gone":
                self.truth.pedestrians[person.id].exit_s = t0 + dt_s
        self.pedestrians = [p for p in self.pedestrians if p.phase != "gone"]


def _bodies(vehicles: list[Vehicle]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres, headings, lengths and widths of the vehicles' bodies, one row each."""
    poses = [v.pose() for v in vehicles]
    return (np.array([p[0] for p in poses]), np.array([p[1] for p in poses]),
            np.array([v.spec.length_m for v in vehicles]), np.array([v.spec.width_m for v in vehicles]))


def _people_ahead(centres, headings, lengths, widths, people: list[Pedestrian]) -> np.ndarray:
    """Distance from each vehicle's front to each person in its corridor ahead (a row per vehicle,
    a column per person; inf where the person is not in it): the people it waits for."""
    if not people or not len(centres):
        return np.full((len(centres), len(people)), math.inf)
    spots = np.array([(p.x_m, p.y_m) for p in people])
    offset = spots[None, :, :] - centres[:, None, :]
    along = np.einsum("ijk,ik->ij", offset, headings)
    left = np.stack([-headings[:, 1], headings[:, 0]], axis=1)
    lateral = np.abs(np.einsum("ijk,ik->ij", offset, left))
    gap = along - lengths[:, None] / 2 - 0.3
    hit = (gap > -0.1) & (lateral < widths[:, None] / 2 + _PERSON_KEEP_OFF_M) & (gap < _LOOKAHEAD_M)
    return np.where(hit, gap, math.inf)


def _held_by(zones: list) -> Callable[[tuple[float, float], tuple[float, float]], bool]:
    """Whether a step is blocked: a person does not step into a vehicle's keep-out zone, but one
    already in it walks on out of it. ``zones`` leaves out the vehicles that wait for this person
    (in their corridor ahead), who walks on across their fronts: were such a person held, by a
    zone's corner reaching their line because the vehicle stands a little turned, neither would
    move again."""
    def blocked(here: tuple[float, float], there: tuple[float, float]) -> bool:
        return any(_inside(there, *zone) and not _inside(here, *zone) for zone in zones)
    return blocked


def _idm_accel(vehicle: Vehicle, obstacles: list[tuple[float, float, float]], cruise_mps: float) -> float:
    """Intelligent driver model: free-road term and the strongest interaction with an obstacle."""
    spec = vehicle.spec
    speed = vehicle.speed_mps
    free = 1.0 - (speed / max(cruise_mps, 0.1)) ** 4
    interaction = 0.0
    root = 2 * math.sqrt(spec.max_accel_mps2 * spec.comfort_decel_mps2)
    for gap, obstacle_speed, min_gap in obstacles:
        wanted = min_gap + max(0.0, speed * spec.headway_s + speed * (speed - obstacle_speed) / root)
        interaction = max(interaction, (wanted / max(gap, 0.05)) ** 2)
    return float(max(spec.max_accel_mps2 * (free - interaction), -_MAX_BRAKE_MPS2))


def _corridor_gaps(centres, headings, lengths, widths, speeds) -> tuple[np.ndarray, np.ndarray]:
    """Gap from each vehicle's front to every vehicle in the straight corridor ahead of it
    (inf where none), and that vehicle's speed along the first one's heading.

    When two vehicles each have the other in their corridor (crossing paths), the one that
    entered first goes and the other waits.
    """
    offset = centres[None, :, :] - centres[:, None, :]
    left = np.stack([-headings[:, 1], headings[:, 0]], axis=1)
    along = np.einsum("ijk,ik->ij", offset, headings)
    lateral = np.abs(np.einsum("ijk,ik->ij", offset, left))
    cos = np.abs(headings @ headings.T)
    sin = np.abs(left @ headings.T)
    reach_along = cos * lengths[None, :] / 2 + sin * widths[None, :] / 2
    reach_across = sin * lengths[None, :] / 2 + cos * widths[None, :] / 2
    gap = along - lengths[:, None] / 2 - reach_along
    hit = (along > 0) & (lateral < widths[:, None] / 2 + reach_across + _CORRIDOR_MARGIN_M) & (gap < _LOOKAHEAD_M)
    np.fill_diagonal(hit, False)
    hit &= ~np.triu(hit & hit.T)
    closing = speeds[None, :] * (headings @ headings.T)
    return np.where(hit, np.maximum(gap, 0.0), math.inf), closing


def _keep_out_zone(vehicle: Vehicle) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Where people do not step: around a standing vehicle, its body and a margin; around a
    moving one, also the few metres in front of it."""
    centre, heading = vehicle.pose()
    if vehicle.speed_mps < 0.3:
        return (centre, heading, vehicle.spec.length_m + 2 * _PERSON_KEEP_OFF_ENDS_M,
                vehicle.spec.width_m + 2 * _PERSON_KEEP_OFF_M)
    return (centre + heading * _PERSON_LOOKAHEAD_M / 2, heading, vehicle.spec.length_m + _PERSON_LOOKAHEAD_M + 1.0,
            vehicle.spec.width_m + 2 * _PERSON_CLEARANCE_M)


def _footprint_box(vehicle: Vehicle) -> tuple[float, float, float, float]:
    """Axis-aligned bounding box (x_min, x_max, y_min, y_max) of a vehicle's footprint."""
    centre, heading = vehicle.pose()
    half_length, half_width = vehicle.spec.length_m / 2, vehicle.spec.width_m / 2
    dx = abs(heading[0]) * half_length + abs(heading[1]) * half_width
    dy = abs(heading[1]) * half_length + abs(heading[0]) * half_width
    return (centre[0] - dx, centre[0] + dx, centre[1] - dy, centre[1] + dy)


def _loop_box(vehicle: Vehicle) -> tuple[float, float, float, float]:
    """The footprint box the loops see: across the road from the footprint, along it from the
    vehicle's exact distance on its path. The pose is sampled every 0.1 m (paths.SAMPLE_M), which
    would put loop edges up to 0.05 m / speed off: over 1% of a 4 m pair's transit. Loops lie on
    the straight approach, where road y is the path's entry y less the distance along it (past a
    turn this is further on than the real y, and so past every loop either way)."""
    x_min, x_max, _, _ = _footprint_box(vehicle)
    front_y = float(vehicle.path.points[0, 1]) - vehicle.s_m
    return (x_min, x_max, front_y, front_y + vehicle.spec.length_m)


def _inside(point, centre, heading, length: float, width: float) -> bool:
    dx, dy = point[0] - centre[0], point[1] - centre[1]
    return abs(dx * heading[0] + dy * heading[1]) <= length / 2 and abs(-dx * heading[1] + dy * heading[0]) <= width / 2


def _between(t0: float, dt_s: float, s0: float, s1: float, mark: float) -> float:
    """Moment in the step when a front moving from s0 to s1 passed ``mark``."""
    if s1 <= s0:
        return t0 + dt_s
    return float(t0 + dt_s * min(max((mark - s0) / (s1 - s0), 0.0), 1.0))
