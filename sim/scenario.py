"""Scenario files: pydantic models of a simulated road and how to load them from YAML.

A scenario says what the world looks like (lanes, stop line, crosswalk, zones), how the
signals cycle, where the loops and lamp pins are, where the camera stands, and what traffic
comes, with a seed so the same file always gives the same run. Unknown keys are errors that
name their path and line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roadcam.appliance.config import PIN_PATTERN
from roadcam.common.errors import ConfigError, RoadcamError
from roadcam.common.yaml_config import load_yaml, validate_config

from .plates import is_valid_plate


class ScenarioError(RoadcamError, ValueError):
    """A simulator scenario file is invalid (kept with the simulator: the core's error tree
    holds no simulator types)."""


Movement = Literal["straight", "left", "right"]
VehicleKind = Literal["car", "scooter", "truck", "bus"]
Behaviour = Literal["compliant", "red_light_runner", "speeder", "illegal_parker", "wrong_lane",
                    "box_blocker", "fail_to_yield", "line_overrunner", "scooter_box_stopper", "lane_changer",
                    "solid_line_crosser", "sidewalk_rider"]
BEHAVIOURS: tuple[str, ...] = Behaviour.__args__
VEHICLE_KINDS: tuple[str, ...] = VehicleKind.__args__

#: Folder of the scenarios shipped with roadcam.
SCENARIO_DIR = Path(__file__).with_name("scenarios")


class Strict(BaseModel):
    """Base of every scenario model: unknown keys are errors; values do not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraModel(Strict):
    name: str = Field("approach", title="Camera name", description="Name the appliance knows the camera by.",
                      pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    x_m: float = Field(title="Pole x (m)", description="Across the road from the kerb; negative is on the pavement.")
    y_m: float = Field(title="Pole y (m)", description="Along the road, upstream of the stop line when larger.")
    height_m: float = Field(6.5, gt=1, le=20, title="Height (m)", description="Camera height above the road.")
    yaw_deg: float = Field(0.0, ge=-60, le=60, title="Yaw (deg)",
                           description="0 looks along the traffic; positive turns towards the road centre.")
    pitch_deg: float = Field(13.0, gt=0, lt=80, title="Pitch (deg)", description="Downward tilt.")
    hfov_deg: float = Field(45.0, gt=10, lt=120, title="Horizontal field of view (deg)",
                            description="Angle the image width covers.")
    width_px: int = Field(1920, ge=320, title="Width (px)", description="Image width.")
    height_px: int = Field(1080, ge=240, title="Height (px)", description="Image height.")


class RoadModel(Strict):
    lane_width_m: float = Field(3.5, ge=2.5, le=4.5, title="Lane width (m)", description="Width of every lane.")
    shoulder_m: float = Field(2.0, ge=0, le=4, title="Kerbside strip (m)",
                              description="Strip between the kerb and lane 1, where parkers stop.")
    stop_line_y_m: float = Field(0.0, title="Stop line y (m)", description="Where the stop line is along the road.")
    approach_length_m: float = Field(60.0, ge=20, le=300, title="Approach length (m)",
                                     description="How far upstream of the stop line vehicles enter the world.")
    exit_length_m: float = Field(250.0, ge=20, le=1000, title="Exit length (m)",
                                 description="How far past the junction vehicles are followed before they leave.")
    cross_street_width_m: float = Field(18.0, ge=6, le=40, title="Cross street width (m)",
                                        description="Width of the street crossing the approach.")
    opposing_lanes: int = Field(2, ge=0, le=4, title="Opposing lanes", description="Lanes of the other direction.")
    median_m: float = Field(0.6, ge=0, le=5, title="Median (m)", description="Width of the centre line strip.")
    sidewalk_m: float = Field(4.0, ge=1, le=10, title="Pavement (m)", description="Pavement width beyond each kerb.")
    speed_limit_kmh: float = Field(50.0, gt=0, le=130, title="Speed limit (km/h)",
                                   description="Limit on the approach; speeders exceed it.")


class LaneModel(Strict):
    id: int = Field(ge=1, title="Lane", description="Lane number, 1 = kerbside, counting towards the centre.")
    movements: list[Movement] = Field(min_length=1, title="Allowed movements",
                                      description="What may be done from this lane: straight, left, right.")
    classes: list[VehicleKind] = Field(list(VEHICLE_KINDS), min_length=1, title="Allowed classes",
                                       description="Classes that may use the lane; any other entering it commits "
                                                   "lane_class (e.g. a scooter in a car-only lane).")


class CrosswalkModel(Strict):
    distance_m: float = Field(1.0, ge=0, le=10, title="Distance (m)",
                              description="From the stop line to the near edge of the crosswalk.")
    width_m: float = Field(4.0, ge=2, le=8, title="Width (m)", description="Crosswalk width along the road.")
    head: str = Field(title="Pedestrian head", description="Signal head pedestrians obey (a pedestrian head).")


class ZoneModel(Strict):
    name: str = Field(title="Zone name", description="Unique name, e.g. kerb-no-parking.")
    kind: Literal["no_parking", "box_junction", "scooter_box", "restricted"] = Field(
        title="Kind", description="no_parking, box_junction: standing there longer than max_stop_s is a violation; "
                                  "scooter_box: the scooter waiting box past the cars' stop line (y from the stop "
                                  "line up to the cars' line), where a class of `classes` standing longer than "
                                  "max_stop_s is a violation; restricted: entering it at all is (a road closed to "
                                  "`classes`, the sidewalk).")
    classes: list[VehicleKind] | None = Field(
        None, title="Classes", description="Classes the zone's rule applies to; default: car, truck and bus for "
                                           "a scooter_box, every class otherwise.")
    polygon: list[tuple[float, float]] = Field(min_length=3, title="Polygon",
                                               description="Corners (x, y) in road metres.")
    max_stop_s: float = Field(5.0, ge=0, title="Longest stop (s)",
                              description="A vehicle standing in the zone longer than this commits the violation.")


class LampPins(Strict):
    red: str = Field(title="Red pin", description="GPIO pin sensing the red lamp (high while lit).",
                     pattern=PIN_PATTERN)
    amber: str = Field(title="Amber pin", description="GPIO pin sensing the amber lamp.", pattern=PIN_PATTERN)
    green: str = Field(title="Green pin", description="GPIO pin sensing the green lamp.", pattern=PIN_PATTERN)


class HeadModel(Strict):
    name: str = Field(title="Head name", description="e.g. main or left-arrow.", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    lanes: list[int] = Field(default_factory=list, title="Lanes",
                             description="Lanes this head controls; empty for a pedestrian head.")
    pedestrian: bool = Field(False, title="Pedestrian head",
                             description="True for a walk/don't-walk head (green = walk, amber = flashing).")
    offset_s: float = Field(0.0, ge=0, title="Offset (s)", description="When its green starts within the cycle.")
    green_s: float = Field(gt=0, title="Green (s)", description="Green (walk) time per cycle.")
    amber_s: float = Field(3.0, ge=0, title="Amber (s)", description="Amber (flashing walk) time per cycle.")
    pins: LampPins | None = Field(None, title="Lamp pins", description="Lamp-sense inputs of this head, if wired.")


class SignalPlanModel(Strict):
    cycle_s: float = Field(60.0, gt=0, title="Cycle (s)", description="Length of one signal cycle.")
    heads: list[HeadModel] = Field(min_length=1, title="Heads", description="Signal heads and their phases.")

    @model_validator(mode="after")
    def _phases_fit(self):
        for head in self.heads:
            if head.green_s + head.amber_s >= self.cycle_s:
                raise ValueError(f"head {head.name}: green_s + amber_s must leave some red "
                                 f"in the {self.cycle_s} s cycle")
        names = [head.name for head in self.heads]
        if len(set(names)) != len(names):
            raise ValueError("head names must be unique")
        return self


class LoopModel(Strict):
    name: str = Field(title="Loop name", description="Unique name, e.g. lane1-stop.")
    lane: int = Field(ge=1, title="Lane", description="Lane the loop lies in.")
    position_m: float = Field(ge=0, title="Position (m)",
                              description="From the stop line upstream to the loop's nearer edge.")
    length_m: float = Field(2.0, gt=0, le=10, title="Length (m)", description="Loop length along the road.")
    pin: str = Field(title="Pin", description="GPIO pin of the detector output.", pattern=PIN_PATTERN)
    active_high: bool = Field(False, title="Active high",
                              description="False: the detector pulls its output low while occupied.")


class FlowModel(Strict):
    lane: int = Field(ge=1, title="Lane", description="Lane the vehicles enter in.")
    per_minute: float = Field(gt=0, le=60, title="Vehicles per minute", description="Mean arrival rate (Poisson).")
    classes: dict[VehicleKind, float] = Field(default_factory=lambda: {"car": 1.0}, title="Class weights",
                                              description="Relative share of car, scooter, truck, bus.")
    movements: dict[Movement, float] = Field(default_factory=dict, title="Movement weights",
                                             description="Relative share of each movement; default: the lane's "
                                                         "allowed movements equally.")


class ExplicitVehicle(Strict):
    at_s: float = Field(ge=0, title="Entry time (s)", description="When the vehicle enters the world.")
    lane: int = Field(ge=1, title="Lane", description="Lane it enters in.")
    kind: VehicleKind = Field("car", title="Class", description="car, scooter, truck or bus.")
    behaviour: Behaviour = Field("compliant", title="Behaviour", description="How it drives.")
    movement: Movement | None = Field(None, title="Movement",
                                      description="What it does at the junction; default: an allowed one "
                                                  "(a forbidden one for wrong_lane).")
    plate: str | None = Field(None, title="Plate", description="Plate text; default: a fresh valid plate.")
    speed_kmh: float | None = Field(None, gt=0, le=200, title="Desired speed (km/h)",
                                    description="Default: drawn from its behaviour and the speed limit.")

    @field_validator("plate")
    @classmethod
    def _valid_plate(cls, plate):
        if plate is not None and not is_valid_plate(plate):
            raise ValueError(f"{plate!r} is not a Taiwanese plate (ABC-1234, AB-1234, ABC-123, 123-ABC)")
        return plate


class TrafficModel(Strict):
    flows: list[FlowModel] = Field(default_factory=list, title="Flows", description="Random arrivals per lane.")
    behaviours: dict[Behaviour, float] = Field(default_factory=lambda: {"compliant": 1.0}, title="Behaviour mix",
                                               description="Relative share of each behaviour in random arrivals.")
    vehicles: list[ExplicitVehicle] = Field(default_factory=list, title="Vehicles",
                                            description="Vehicles entering at given times, in addition to flows.")
    explicit_clear_s: float = Field(8.0, ge=0, le=60, title="Room around explicit vehicles (s)",
                                    description="Random arrivals keep this far in time from an explicit vehicle "
                                                "in the same lane, so a scripted manoeuvre is not hidden in a queue.")
    park_s: tuple[float, float] = Field((15.0, 30.0), title="Parking time (s)",
                                        description="Range an illegal parker stays stopped.")
    box_stop_s: tuple[float, float] = Field((6.0, 10.0), title="Box stop (s)",
                                            description="Range a box blocker stands inside the junction box.")
    overrun_m: tuple[float, float] = Field((1.0, 2.5), title="Overrun (m)",
                                           description="How far past the stop line a line_overrunner's front stops "
                                                       "at red (at most 60% of its length: its rear stays behind).")
    solid_cross_y_m: tuple[float, float] = Field(
        (8.0, 22.0), title="Solid-line crossing (m)",
        description="Range upstream of the stop line where a solid_line_crosser's rear crosses the lane line "
                    "(the lane lines are solid for layout.SOLID_LANE_LINE_M from the stop line).")
    dashed_cross_y_m: tuple[float, float] = Field(
        (36.0, 46.0), title="Dashed-line crossing (m)",
        description="Range upstream of the stop line where a lane_changer's rear crosses the (dashed) lane line.")
    sidewalk_speed_kmh: tuple[float, float] = Field((12.0, 20.0), title="Sidewalk speed (km/h)",
                                                    description="Range a sidewalk_rider rides at.")


class ExplicitPedestrian(Strict):
    at_s: float = Field(ge=0, title="Arrival time (s)", description="When the person reaches the kerb.")
    side: Literal["near", "far"] = Field("near", title="Side",
                                         description="near: starts at the approach's kerb (x = 0); far: the other.")
    speed_mps: float | None = Field(None, gt=0.3, le=3, title="Walking speed (m/s)",
                                    description="Default: drawn from the scenario's range.")


class HotlistEntryModel(Strict):
    plate: str = Field(title="Plate", description="A listed plate, e.g. one given to an explicit vehicle.")
    reason: Literal["stolen", "wanted", "other"] = Field("stolen", title="Reason", description="Why it is listed.")
    priority: int = Field(1, ge=1, le=9, title="Priority", description="1 is the most urgent.")


class PedestrianModel(Strict):
    per_minute: float = Field(0.0, ge=0, le=60, title="Pedestrians per minute",
                              description="Mean arrival rate at the crosswalk (Poisson).")
    speed_mps: tuple[float, float] = Field((1.0, 1.6), title="Walking speed (m/s)", description="Range drawn from.")
    people: list[ExplicitPedestrian] = Field(
        default_factory=list, title="People",
        description="Pedestrians arriving at given times, in addition to the rate.")


class ClockStepModel(Strict):
    at_s: float = Field(ge=0, title="At (s)", description="Simulated second the device clock jumps at.")
    step_ms: float = Field(title="Step (ms)", description="How far it jumps (negative: back).")


class DeviceClockModel(Strict):
    """The device's clock against the world's true time (roadcam.sim.clocks.DriftingClock)."""

    drift_ppm: float = Field(0.0, ge=-1000, le=1000, title="Drift (ppm)",
                             description="How fast the device clock runs (negative: slow).")
    steps: list[ClockStepModel] = Field(default_factory=list, title="Steps", description="Clock jumps.")
    error_ms: float = Field(1.0, ge=0, title="Error bound (ms)",
                            description="Its sync's error bound with no offset (the offset is added to it).")
    synced: bool = Field(True, title="Synced", description="False: the clock reports itself unsynced.")


class Scenario(Strict):
    """One simulated run: the world, its signals and hardware, the camera and the traffic."""

    name: str = Field(title="Name", description="Short name of the scenario.")
    description: str = Field("", title="Description", description="What the scenario exercises.")
    seed: int = Field(title="Seed", description="Same seed, same frames, edges and truth.")
    duration_s: float = Field(gt=0, le=3600, title="Duration (s)", description="Simulated time.")
    fps: float = Field(25.0, gt=0, le=120, title="Frame rate", description="Camera frames per second.")
    start: datetime = Field(datetime(2026, 3, 2, 0, 0, tzinfo=UTC), title="Start (UTC)",
                            description="Wall time of simulated second 0, ISO 8601 in UTC.")
    site: str = Field("sim-junction", title="Site id", description="Site id the appliance reports under.",
                      pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    lighting: Literal["day", "night"] = Field("day", title="Lighting", description="day or night.")
    weather: Literal["clear", "rain"] = Field("clear", title="Weather", description="clear or rain.")
    camera: CameraModel = Field(title="Camera", description="Pose and optics of the camera.")
    road: RoadModel = Field(default_factory=RoadModel, title="Road", description="Road dimensions.")
    lanes: list[LaneModel] = Field(min_length=1, title="Lanes", description="Approach lanes, kerbside first.")
    crosswalk: CrosswalkModel | None = Field(None, title="Crosswalk", description="Zebra crossing past the stop line.")
    zones: list[ZoneModel] = Field(default_factory=list, title="Zones",
                                   description="No-parking and box-junction areas.")
    signals: SignalPlanModel = Field(title="Signals", description="Signal heads and their phase plan.")
    loops: list[LoopModel] = Field(default_factory=list, title="Loops", description="Induction loops.")
    traffic: TrafficModel = Field(default_factory=TrafficModel, title="Traffic", description="Vehicles.")
    pedestrians: PedestrianModel = Field(default_factory=PedestrianModel, title="Pedestrians",
                                         description="People on the crosswalk.")
    clock: DeviceClockModel = Field(default_factory=DeviceClockModel, title="Device clock",
                                    description="Drift, steps and sync state of the device's clock.")
    hotlist: list[HotlistEntryModel] = Field(
        default_factory=list, title="Hotlist",
        description="Stolen or wanted plates handed to the appliance before the run (as the "
                    "collector's signed hotlist would be); give the same plate to an explicit vehicle.")

    @field_validator("start")
    @classmethod
    def _utc(cls, start: datetime):
        if start.tzinfo is None:
            raise ValueError("give the start time in UTC with a Z, e.g. 2026-03-02T08:00:00Z")
        return start.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self):
        lane_ids = [lane.id for lane in self.lanes]
        if lane_ids != list(range(1, len(lane_ids) + 1)):
            raise ValueError(f"lanes must be numbered 1, 2, … from the kerb; got {lane_ids}")
        controlled = [lane for head in self.signals.heads if not head.pedestrian for lane in head.lanes]
        for lane in lane_ids:
            if controlled.count(lane) != 1:
                raise ValueError(f"lane {lane} must be controlled by exactly one vehicle head "
                                 f"(found {controlled.count(lane)})")
        for head in self.signals.heads:
            unknown = sorted(set(head.lanes) - set(lane_ids))
            if unknown:
                raise ValueError(f"head {head.name} controls lanes {unknown} that do not exist")
        heads = {head.name: head for head in self.signals.heads}
        if self.crosswalk and not (self.crosswalk.head in heads and heads[self.crosswalk.head].pedestrian):
            raise ValueError(f"crosswalk.head {self.crosswalk.head!r} must name a pedestrian head")
        if (self.pedestrians.per_minute or self.pedestrians.people) and not self.crosswalk:
            raise ValueError("pedestrians need a crosswalk")
        for item in [*self.loops, *self.traffic.flows, *self.traffic.vehicles]:
            if item.lane not in lane_ids:
                raise ValueError(f"lane {item.lane} does not exist (lanes: {lane_ids})")
        pins = [loop.pin for loop in self.loops] + [
            pin for head in self.signals.heads if head.pins
            for pin in (head.pins.red, head.pins.amber, head.pins.green)]
        repeated = sorted({pin for pin in pins if pins.count(pin) > 1})
        if repeated:
            raise ValueError(f"pins used twice: {', '.join(repeated)}")
        return self

    @property
    def frame_count(self) -> int:
        return int(round(self.duration_s * self.fps))

    @property
    def start_ns(self) -> int:
        """UTC nanoseconds of simulated second 0."""
        return (self.start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def load_scenario(source: str | Path) -> Scenario:
    """Load a scenario YAML file, or a shipped one by name (``smoke``, ``junction``, …).

    Raises ScenarioError listing every problem as ``file:line: path: message``.
    """
    path = Path(source)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{source}.yaml"
    try:
        data, node = load_yaml(path)
    except ConfigError as exc:
        raise ScenarioError(str(exc)) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping (name:, seed:, lanes:, …)")
    try:
        return validate_config(Scenario, data, node, source=str(path))
    except ConfigError as exc:
        raise ScenarioError(f"{path}: {len(exc.problems)} problem(s):\n  " + "\n  ".join(exc.problems)) from None


def available_scenarios() -> list[str]:
    """Names of the scenarios shipped with roadcam."""
    return sorted(path.stem for path in SCENARIO_DIR.glob("*.yaml"))
