"""The ``speed`` section of a site config."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from roadcam.appliance.config import Section

SECTION = "speed"


class CameraCheck(Section):
    """A camera that sees the pair: each loop speed is checked against the road-plane speed of
    the track that crossed the pair's zone while the loops were occupied."""

    camera: str = Field(title="Camera", description="Name of the calibrated camera that sees the pair.")
    zone: tuple[float, float, float, float] = Field(
        title="Zone (m)", description="x_min, x_max, y_min, y_max of the road-plane rectangle over the pair's "
                                      "two loops in the camera's calibration frame (x across the road, y along "
                                      "it), with a margin for the error of a track's ground point.")
    tolerance_kmh: float = Field(5.0, ge=0, title="Tolerance (km/h)",
                                 description="The camera agrees within this, or within the fraction below, "
                                             "whichever is larger.")
    tolerance_fraction: float = Field(0.1, ge=0, le=1, title="Tolerance (fraction)",
                                      description="The camera agrees within this fraction of the loop speed, "
                                                  "or within the km/h above, whichever is larger.")
    window_s: float = Field(0.5, gt=0, le=3, title="Fit window (s)",
                            description="The track's speed is fitted to its points within this of the middle "
                                        "of the loop passage.")

    @model_validator(mode="after")
    def _zone_ordered(self) -> CameraCheck:
        x_min, x_max, y_min, y_max = self.zone
        if not (x_min < x_max and y_min < y_max):
            raise ValueError(f"zone must be x_min < x_max and y_min < y_max, got {list(self.zone)}")
        return self


class LoopPair(Section):
    """Two loops in one lane, a measured distance apart: a vehicle's transit gives its speed."""

    name: str = Field(title="Pair name", description="Unique name of the pair, e.g. lane1.",
                      pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    lane: int | None = Field(None, ge=1, title="Lane",
                             description="Lane number (1 = kerbside); left out, the upstream loop's lane.")
    upstream: str = Field(title="Upstream loop", description="Name of the loop a vehicle reaches first "
                                                            "(one of the site's loops).")
    downstream: str = Field(title="Downstream loop", description="Name of the loop a vehicle reaches second "
                                                                "(one of the site's loops).")
    spacing_m: float = Field(gt=0, title="Spacing (m)",
                             description="Measured distance from the upstream loop's leading edge to the "
                                         "downstream loop's leading edge, along the lane.")
    spacing_tolerance_m: float = Field(0.02, ge=0, title="Spacing tolerance (m)",
                                       description="Standard uncertainty of the measured spacing.")
    min_speed_kmh: float = Field(3.0, gt=0, title="Slowest vehicle (km/h)",
                                 description="Slowest plausible vehicle: a downstream edge later than "
                                             "spacing / this speed does not belong to the upstream one.")
    max_speed_kmh: float = Field(300.0, gt=0, title="Fastest vehicle (km/h)",
                                 description="Fastest plausible vehicle: a downstream edge sooner than "
                                             "spacing / this speed does not belong to the upstream one.")
    camera_check: CameraCheck | None = Field(None, title="Camera cross-check",
                                             description="A camera that sees the pair; left out, no cross-check.")
    limit_kmh: float | None = Field(None, gt=0, title="Speed limit (km/h)",
                                    description="The lane's limit at the pair; left out, the section's limit_kmh.")

    @model_validator(mode="after")
    def _distinct_and_ordered(self) -> LoopPair:
        if self.upstream == self.downstream:
            raise ValueError(f"pair {self.name}: upstream and downstream are the same loop ({self.upstream})")
        if self.min_speed_kmh >= self.max_speed_kmh:
            raise ValueError(f"pair {self.name}: min_speed_kmh must be below max_speed_kmh")
        return self


class PassageLoop(Section):
    """A loop whose leading edge times the vehicles of its lane past the passage point."""

    loop: str = Field(title="Loop", description="Name of one of the site's loops.")
    zone: tuple[float, float, float, float] | None = Field(
        None, title="Zone (m)", description="x_min, x_max, y_min, y_max of the loop's road-plane rectangle in the "
                                            "camera's calibration frame, with a margin; needed with a camera.")


class PassageConfig(Section):
    """This site as one end of enforced road sections: a speed.passage per vehicle."""

    point: str = Field(title="Passage point", pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
                       description="Name of the point, as the collector's sections name it (entry_point, exit_point).")
    loops: list[PassageLoop] = Field(min_length=1, title="Loops", description="One timing loop per lane.")
    camera: str | None = Field(None, title="Camera",
                               description="Calibrated camera whose tracks (and plate_capture reads) name "
                                           "the vehicles; left out, passages carry no plate.")
    window_s: float = Field(0.5, gt=0, le=3, title="Track window (s)",
                            description="The track is looked for once frames cover this long after the loop "
                                        "cleared.")
    plate_wait_s: float = Field(5.0, gt=0, le=120, title="Plate wait (s)",
                                description="A passage waits at most this long after its track ended for "
                                            "the plate read, then goes out without a plate.")
    max_clock_error_ms: float = Field(10.0, gt=0, title="Clock error bound (ms)",
                                      description="A clock unsynced or with a larger error bound raises "
                                                  "clock.unsynced; its passages are marked.")


class SpeedConfig(Section):
    """Spot speed from loop pairs, and passages for section speed."""

    pairs: list[LoopPair] = Field(default_factory=list, title="Loop pairs",
                                  description="Loop pairs that time vehicles; none, no spot speeds.")
    passage: PassageConfig | None = Field(None, title="Section passages",
                                          description="This site's passage point for section speed; left out, "
                                                      "no speed.passage events.")
    limit_kmh: float | None = Field(None, gt=0, title="Speed limit (km/h)",
                                    description="Posted limit at the pairs: a speed whose lower bound is over "
                                                "it by more than the tolerance is a violation.speeding; left "
                                                "out (and no pair's own limit), speeds are only measured.")
    tolerance_kmh: float = Field(0.0, ge=0, title="Enforcement tolerance (km/h)",
                                 description="Margin over the limit before a speed is a violation, on top of "
                                             "the measurement's own uncertainty (the police's published "
                                             "tolerance, e.g. 10).")
    evidence_jpeg_quality: int = Field(90, ge=30, le=100, title="Evidence JPEG quality",
                                       description="Quality of a violation's evidence frame.")
    edge_resolution_ms: float = Field(0.001, ge=0, title="Edge resolution (ms)",
                                      description="Resolution of the pin factory's edge ticks "
                                                  "(lgpio, pigpio: 1 us).")
    edge_jitter_ms: float = Field(0.2, ge=0, title="Edge jitter (ms)",
                                  description="Standard deviation of one edge stamp against the vehicle "
                                              "(detector response and its spread).")
    coverage_factor: float = Field(2.0, ge=1, title="Coverage factor",
                                   description="Multiplies the standard uncertainty into the reported "
                                               "uncertainty and bounds (2: about 95%).")
    stuck_on_s: float = Field(120.0, gt=0, title="Stuck on after (s)",
                              description="A loop occupied longer than this raises loop.stuck_on.")
    stuck_off_s: float = Field(600.0, gt=0, title="Stuck off after (s)",
                               description="A loop with no edge while its partner loop has seen traffic "
                                           "for this long raises loop.stuck_off.")
    stuck_off_vehicles: int = Field(3, ge=1, title="Stuck off: partner vehicles",
                                    description="Vehicles the partner loop must see meanwhile before "
                                                "loop.stuck_off is raised.")
    chatter_edges: int = Field(12, ge=2, title="Chatter: most edges",
                               description="More edges than this on one loop within the chatter window "
                                           "raise loop.chatter.")
    chatter_window_s: float = Field(1.0, gt=0, title="Chatter window (s)",
                                    description="The window the chatter edges are counted in.")
    unpaired_limit: int = Field(3, ge=1, title="Unpaired edges before a fault",
                                description="This many vehicles in a row seen by one loop of a pair "
                                            "only raise speed.unpaired (cleared by a paired vehicle).")
    camera_mismatch_limit: int = Field(3, ge=1, title="Camera disagreements before a fault",
                                       description="This many loop speeds in a row the camera disagrees with "
                                                   "raise speed.camera_mismatch (cleared by an agreement).")
    plate_wait_s: float = Field(3.0, ge=0, le=60, title="Plate wait (s)",
                                description="How long after its track ends a speeding violation that names "
                                            "a track waits for the track's plate.read before it is stored "
                                            "without one.")
    camera_wait_s: float = Field(2.0, gt=0, title="Camera wait (s)",
                                 description="A speed waits at most this long past its fit window for the "
                                             "camera's frames, then goes out unchecked (no_frames).")
    max_occupancy_mismatch: float = Field(0.35, gt=0, le=1, title="Occupancy mismatch (fraction)",
                                          description="A vehicle whose occupancy times on the two loops "
                                                      "differ by more than this fraction is not timed.")

    @model_validator(mode="after")
    def _unique_pairs(self) -> SpeedConfig:
        names = [pair.name for pair in self.pairs]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"pair names must be unique; repeated: {', '.join(repeated)}")
        return self

    def stamp_uncertainty_s(self) -> float:
        """Standard uncertainty of one edge stamp (jitter and tick resolution), in seconds."""
        return math.hypot(self.edge_jitter_ms, self.edge_resolution_ms / math.sqrt(12)) / 1000

    def check_site(self, site: Any) -> None:
        """Every pair's and passage's loops are loops of the site, and their cameras calibrated
        cameras of it (called with the whole site config)."""
        loops = {loop.name for loop in site.loops}
        if self.passage is not None:
            for index, spec in enumerate(self.passage.loops):
                if spec.loop not in loops:
                    known = ", ".join(sorted(loops)) or "none configured"
                    raise ValueError(f"{SECTION}.passage.loops[{index}].loop: no loop named {spec.loop!r} "
                                     f"(loops: {known})")
                if self.passage.camera is not None and spec.zone is None:
                    raise ValueError(f"{SECTION}.passage.loops[{index}].zone: needed with passage.camera")
            if self.passage.camera is not None:
                _check_camera(site, self.passage.camera, f"{SECTION}.passage.camera")
        for index, pair in enumerate(self.pairs):
            for field in ("upstream", "downstream"):
                name = getattr(pair, field)
                if name not in loops:
                    known = ", ".join(sorted(loops)) or "none configured"
                    raise ValueError(f"{SECTION}.pairs[{index}].{field}: no loop named {name!r} "
                                     f"(loops: {known})")
            if pair.camera_check is not None:
                _check_camera(site, pair.camera_check.camera, f"{SECTION}.pairs[{index}].camera_check.camera")


def _check_camera(site: Any, name: str, where: str) -> None:
    """``name`` is a calibrated camera of the site."""
    cameras = {camera.name: camera for camera in site.cameras}
    if name not in cameras:
        known = ", ".join(sorted(cameras)) or "none configured"
        raise ValueError(f"{where}: no camera named {name!r} (cameras: {known})")
    if not cameras[name].calibration:
        raise ValueError(f"{where}: camera {name!r} has no calibration, so its tracks have no road-plane position")
