"""Induction loops: which vehicles cover each loop, and the exact moments that changes.

A vehicle covers a loop while its footprint's bounding box overlaps the loop's rectangle.
Between two world steps a vehicle moves linearly along the road, so the moment of an edge is
found by interpolating how far along the road its body reaches into (or is from) the loop:
sub-frame precision, as a real detector's output edge would have. The along-road distance is
interpolated on its own: mixing in the across-road overlap (which does not change as a vehicle
drives along its lane) bends the interpolation wherever it is the smaller of the two, e.g. a
0.7 m scooter moving more than its width in a step. The box's along-road extent must come from
the vehicle's exact distance along its path, not from its sampled pose (see World._loop_box).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layout import Rect
from .scenario import LoopModel


@dataclass(frozen=True)
class PinEdge:
    """A level change the simulator drives onto an input pin at ``time_s``."""

    time_s: float
    pin: str
    level: bool


@dataclass
class LoopMonitor:
    """One loop's rectangle, its pin, and the vehicles over it."""

    spec: LoopModel
    rect: Rect
    covering: set[int] = field(default_factory=set)

    def level(self) -> bool:
        """The detector output's level: active-low detectors pull low while occupied."""
        occupied = bool(self.covering)
        return occupied if self.spec.active_high else not occupied

    def overlap(self, box: tuple[float, float, float, float]) -> tuple[float, float]:
        """How far a footprint box (x_min, x_max, y_min, y_max) reaches into the loop across and
        along the road, in metres (negative: how far it is from it); it covers the loop while
        both are positive."""
        x_min, x_max, y_min, y_max = box
        across = min(x_max, self.rect.x_max) - max(x_min, self.rect.x_min)
        along = min(y_max, self.rect.y_max) - max(y_min, self.rect.y_min)
        return across, along

    def changes(self, moves: dict[int, tuple[tuple, tuple]], t0_s: float, t1_s: float) -> list[tuple[float, int, bool]]:
        """(time_s, vehicle_id, covering) for every vehicle that starts or stops covering the loop
        between two steps; ``moves`` maps vehicle ids to their footprint boxes at t0 and t1
        (None at t1 for a vehicle that left the world)."""
        out = []
        for vehicle_id, (before, after) in moves.items():
            was = vehicle_id in self.covering
            if after is None:
                if was:
                    out.append((t1_s, vehicle_id, False))
                continue
            across0, along0 = self.overlap(before)
            across1, along1 = self.overlap(after)
            now = across1 > 0 and along1 > 0
            if now != was:
                # driving along the lane: interpolate the along-road distance; only a vehicle
                # moving sideways onto or off the loop (along-road cover unchanged) is timed across
                g0, g1 = (along0, along1) if (along0 > 0) != (along1 > 0) else (across0, across1)
                fraction = g0 / (g0 - g1) if g0 != g1 else 1.0
                out.append((t0_s + min(max(fraction, 0.0), 1.0) * (t1_s - t0_s), vehicle_id, now))
        return sorted(out)

    def apply(self, changes: list[tuple[float, int, bool]]) -> list[tuple[float, bool]]:
        """Apply vehicle changes in time order; return (time_s, occupied) edges of the loop."""
        edges = []
        for at, vehicle_id, covering in changes:
            before = bool(self.covering)
            if covering:
                self.covering.add(vehicle_id)
            else:
                self.covering.discard(vehicle_id)
            if bool(self.covering) != before:
                edges.append((at, bool(self.covering)))
        return edges
