"""The simulated road as the appliance meets it: a camera, gpiozero pins, a clock and a site
config, all driven by one world so what the camera sees and what the loops feel agree.

Usage::

    road = SimRoad.from_scenario("smoke")
    config = road.site_config(out_dir)            # what a technician would have written
    camera = road.camera("approach")              # a hal.base.Camera
    factory = road.pin_factory                    # gpiozero pins for loops and lamps
    while (frame := camera.read()) is not None:   # each read advances the world one frame
        ...
    road.truth.to_json(out_dir / "truth.json")   # for the scorer, never for the appliance
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roadcam.common.errors import CameraUnavailable
from roadcam.hal.base import Camera, Frame

from .camera_pose import SimCameraPose, calibration_pairs
from .clocks import DriftingClock
from .pins import SimPinFactory
from .render import Renderer
from .scenario import Scenario, load_scenario
from .truth import GroundTruth
from .visibility import visible_fractions
from .world import World


class SimRoad:
    """One scenario's world, renderer, clock and pin factory."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        clock = scenario.clock
        self.clock = DriftingClock(scenario.start_ns, drift_ppm=clock.drift_ppm, error_ms=clock.error_ms,
                                   steps=[(step.at_s, step.step_ms) for step in clock.steps], synced=clock.synced)
        self.pin_factory = SimPinFactory(self.clock)
        self.world = World(scenario)
        cam = scenario.camera
        self.pose = SimCameraPose(cam.x_m, cam.y_m, cam.height_m, cam.yaw_deg, cam.pitch_deg, cam.hfov_deg,
                                  cam.width_px, cam.height_px)
        self.renderer = Renderer(scenario, self.world.layout, self.pose, self.world.signals)
        self._cameras: dict[str, SimCamera] = {}
        self._frame_index = 0
        self.edges_driven: list[tuple[int, str, bool]] = []
        for pin, level in self.world.pin_levels().items():
            self.pin_factory.drive(pin, level)

    @classmethod
    def from_scenario(cls, scenario: str | Path | Scenario) -> SimRoad:
        """From a Scenario, a YAML path, or the name of a shipped scenario (smoke, junction, …)."""
        return cls(scenario if isinstance(scenario, Scenario) else load_scenario(scenario))

    @property
    def truth(self) -> GroundTruth:
        return self.world.truth

    @property
    def frame_count(self) -> int:
        return self.scenario.frame_count

    @property
    def frames_advanced(self) -> int:
        """Frame periods the world has advanced so far (rendered or skipped)."""
        return self._frame_index

    def camera(self, name: str) -> SimCamera:
        """The scenario's camera by name (the same object on every call)."""
        if name != self.scenario.camera.name:
            raise CameraUnavailable(f"camera {name!r} is not in scenario {self.scenario.name!r}; "
                                    f"its camera is {self.scenario.camera.name!r}")
        if name not in self._cameras:
            self._cameras[name] = SimCamera(self, name)
        return self._cameras[name]

    def advance_frame(self) -> Frame | None:
        """Step the world one frame period, drive its pin edges at their exact times, move the
        clock to the frame's moment and render it. None once the scenario has ended."""
        if self._frame_index >= self.scenario.frame_count:
            return None
        index = self._step_world()
        image, boxes, order = self.renderer.render(self.world.vehicles, self.world.pedestrians, self.world.t_s, index)
        self._record_boxes(index, boxes, order)
        self._record_plate_boxes(index, boxes, order)
        self.truth.frames_rendered += 1
        return Frame(camera=self.scenario.camera.name, index=index, time_ns=self.clock.wall_ns(),
                     mono_ns=self.clock.mono_ns(), image=image)

    def skip_frames(self, count: int) -> int:
        """Advance up to ``count`` frame periods without rendering (no frames, no image boxes in
        the truth; pins and clock move as usual). Returns how many were skipped."""
        skipped = 0
        while skipped < count and self._frame_index < self.scenario.frame_count:
            self._step_world()
            skipped += 1
        return skipped

    def _step_world(self) -> int:
        """One frame period of world, pins and clock; returns the frame's index."""
        index = self._frame_index
        frame_ns = int(round((index + 1) * 1e9 / self.scenario.fps))
        for edge in self.world.step(frame_ns / 1e9 - self.world.t_s):
            at_ns = min(max(int(round(edge.time_s * 1e9)), self.clock.mono_ns()), frame_ns)
            self.clock.advance_to(at_ns)
            self.pin_factory.drive(edge.pin, edge.level)
            self.edges_driven.append((at_ns, edge.pin, edge.level))
        self.clock.advance_to(frame_ns)
        self._frame_index += 1
        return index

    def _record_boxes(self, index: int, boxes: dict, order: list[int]) -> None:
        """Each drawn object's box with its visible fraction, and its road point in that frame."""
        ground = {vehicle.id: vehicle.pose()[0] for vehicle in self.world.vehicles}
        ground.update({person.id: (person.x_m, person.y_m) for person in self.world.pedestrians})
        for object_id, box in visible_fractions(boxes, order).items():
            target = self.truth.vehicles.get(object_id) or self.truth.pedestrians.get(object_id)
            if target is not None:
                target.boxes[index] = box
                x, y = ground[object_id]
                target.ground[index] = (round(float(x), 3), round(float(y), 3))

    def _record_plate_boxes(self, index: int, boxes: dict, order: list[int]) -> None:
        """Each drawn plate's box, its visible fraction reduced by the objects drawn after
        (nearer than) its vehicle."""
        for vehicle_id, plate_box in self.renderer.plate_boxes.items():
            nearer = order[order.index(vehicle_id) + 1:] if vehicle_id in order else []
            key = ("plate", vehicle_id)
            shown = visible_fractions({key: plate_box, **{other: boxes[other] for other in nearer}}, [key, *nearer])
            self.truth.vehicles[vehicle_id].plate_boxes[index] = shown[key]

    def run(self) -> int:
        """Advance to the scenario's end without anyone reading frames; returns frames rendered."""
        while self.advance_frame() is not None:
            pass
        return self.truth.frames_rendered

    def hotlist_body(self) -> dict[str, Any] | None:
        """The scenario's hotlist as the body of the collector's ``hotlist`` command (a full
        list), or None when the scenario lists no plate."""
        if not self.scenario.hotlist:
            return None
        return {"kind": "full", "entries": [entry.model_dump() for entry in self.scenario.hotlist]}

    def calibration(self) -> dict[str, list]:
        """Image/road point pairs of road marks the camera sees, as a technician would measure."""
        return calibration_pairs(self.pose, self.world.layout.calibration_marks())

    def layout_summary(self) -> dict[str, Any]:
        """Road features in road metres (stop line, lanes, crosswalk, zones) for building plugin
        config sections such as fences."""
        layout = self.world.layout
        return {
            "stop_line_y_m": layout.stop_line_y_m,
            "lanes": {lane.id: {"x_m": layout.lane_span(lane.id), "movements": list(lane.movements),
                                "head": self.world.signals.head_of_lane(lane.id)} for lane in self.scenario.lanes},
            "crosswalk": layout.crosswalk.corners() if layout.crosswalk else None,
            "junction": layout.junction.corners(),
            "zones": [{"name": z.name, "kind": z.kind, "polygon": list(z.polygon), "max_stop_s": z.max_stop_s}
                      for z in self.scenario.zones],
            "speed_limit_kmh": self.scenario.road.speed_limit_kmh,
        }

    def speed_section(self, zone_margin_m: float = 1.0) -> dict[str, Any]:
        """The ``speed`` section a technician would write for this site: each lane's loops,
        nearest the stop line downstream, paired one after another (``lane2``, or ``lane2-1``,
        ``lane2-2``... where a lane has more than two loops); the spacing between their
        leading edges (a vehicle meets a loop's upstream edge first); a camera check whose zone
        is the two loops' rectangles and ``zone_margin_m`` around them; the road's limit."""
        layout, pairs = self.world.layout, []
        for lane in sorted({loop.lane for loop in self.scenario.loops}):
            loops = sorted((loop for loop in self.scenario.loops if loop.lane == lane),
                           key=lambda loop: loop.position_m)
            for index, (down, up) in enumerate(zip(loops, loops[1:])):
                near = layout.loop_rect(lane, down.position_m, down.length_m)
                far = layout.loop_rect(lane, up.position_m, up.length_m)
                zone = [min(near.x_min, far.x_min) - zone_margin_m, max(near.x_max, far.x_max) + zone_margin_m,
                        min(near.y_min, far.y_min) - zone_margin_m, max(near.y_max, far.y_max) + zone_margin_m]
                name = f"lane{lane}" if len(loops) == 2 else f"lane{lane}-{index + 1}"
                pairs.append({"name": name, "upstream": up.name, "downstream": down.name,
                              "spacing_m": round(up.position_m + up.length_m - down.position_m - down.length_m, 3),
                              "camera_check": {"camera": self.scenario.camera.name, "zone": zone}})
        return {"pairs": pairs, "limit_kmh": self.scenario.road.speed_limit_kmh}

    def site_config(self, out_dir: str | Path) -> dict[str, Any]:
        """A site-config dict (valid for appliance.config.CoreConfig) for this simulated site."""
        out = Path(out_dir)
        scenario = self.scenario
        signals = [{"head": head.name, "red": head.pins.red, "amber": head.pins.amber, "green": head.pins.green,
                    "active_high": True} for head in scenario.signals.heads if head.pins]
        return {
            "device": {"id": "sim-0001", "site": scenario.site},
            "storage": {"database": str(out / "events.db"), "evidence_dir": str(out / "evidence")},
            "gpio": {"pin_factory": "mock"},
            "cameras": [{"name": scenario.camera.name, "source": {"type": "sim"},
                         "calibration": self.calibration()}],
            "signals": signals,
            "loops": [{"name": loop.name, "pin": loop.pin, "lane": loop.lane, "position_m": loop.position_m,
                       "length_m": loop.length_m, "active_high": loop.active_high} for loop in scenario.loops],
        }


class SimCamera(Camera):
    """The scenario's camera: each read advances the simulated road by one frame."""

    def __init__(self, road: SimRoad, name: str):
        self.name = name
        self._road = road
        self._open = False

    def open(self) -> None:
        self._open = True

    def read(self) -> Frame | None:
        if not self._open:
            self.open()
        return self._road.advance_frame()

    def close(self) -> None:
        self._open = False

    @property
    def live(self) -> bool:
        return False

    @property
    def nominal_fps(self) -> float:
        return self._road.scenario.fps
