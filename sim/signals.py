"""The signal controller: every head's state at any simulated time, from a fixed phase plan.

Each head repeats green, amber, red once per cycle, its green starting ``offset_s`` into the
cycle. Pedestrian heads use the same three states (green = walk, amber = flashing walk,
red = don't walk). State changes are known exactly, so lamp edges carry exact stamps.
"""

from __future__ import annotations

import math

from .scenario import HeadModel, SignalPlanModel


class SignalController:
    """Fixed-time controller over a :class:`~roadcam.sim.scenario.SignalPlanModel`."""

    def __init__(self, plan: SignalPlanModel):
        self.cycle_s = plan.cycle_s
        self.heads: dict[str, HeadModel] = {head.name: head for head in plan.heads}
        self._lane_head = {lane: head.name for head in plan.heads if not head.pedestrian for lane in head.lanes}

    def head_of_lane(self, lane: int) -> str:
        return self._lane_head[lane]

    def state(self, head: str, t_s: float) -> str:
        """red, amber or green at simulated time ``t_s``."""
        spec = self.heads[head]
        into = (t_s - spec.offset_s) % self.cycle_s
        if into < spec.green_s:
            return "green"
        return "amber" if into < spec.green_s + spec.amber_s else "red"

    def lane_state(self, lane: int, t_s: float) -> str:
        return self.state(self._lane_head[lane], t_s)

    def time_in_state(self, head: str, t_s: float) -> float:
        """Seconds since the head entered its current state."""
        spec = self.heads[head]
        into = (t_s - spec.offset_s) % self.cycle_s
        if into < spec.green_s:
            return into
        if into < spec.green_s + spec.amber_s:
            return into - spec.green_s
        return into - spec.green_s - spec.amber_s

    def changes(self, head: str, t0_s: float, t1_s: float) -> list[tuple[float, str]]:
        """State changes of a head in (t0_s, t1_s], in time order, as (time_s, new_state)."""
        spec = self.heads[head]
        boundaries = [(0.0, "green"), (spec.green_s, "amber"), (spec.green_s + spec.amber_s, "red")]
        if not spec.amber_s:
            del boundaries[1]
        out = []
        first_cycle = math.floor((t0_s - spec.offset_s) / self.cycle_s)
        last_cycle = math.floor((t1_s - spec.offset_s) / self.cycle_s)
        for cycle in range(first_cycle, last_cycle + 1):
            base = spec.offset_s + cycle * self.cycle_s
            for into, state in boundaries:
                at = base + into
                if t0_s < at <= t1_s:
                    out.append((at, state))
        return out
