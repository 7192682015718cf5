"""Signal-head lamp checks, from the lamp-sense inputs (``roadcam_lamps_changed``: every lamp
edge with every lamp lit, stamped at the edge) and the core's tick:

- ``lamp.conflict``: red and green lit together for ``lamp_conflict_after_s`` (a controller
  fault or a lamp-sense wiring fault; red-light evidence from that head cannot be trusted);
- ``lamp.dark``: no lamp lit for ``lamp_dark_after_s`` (signal off, or its sense cable cut);
  flashing amber's short dark gaps stay well under it;
- ``lamp.never_lit`` (component ``head/colour``): a lamp that has lit before was not lit while
  every other lamp of the head came on twice, i.e. it missed a whole cycle (a burnt-out lamp, a
  dead input); one lamp coming on twice alone (a lamp flickering back) is not a cycle.
  Only changes of lamp count as a lamp "coming on", so a flashing amber does not count its
  flashes, and a lamp that stays lit through the cycle is not "never lit". A lamp is expected
  from the start when the head is expected to have it (``expected``: by default every lamp the
  head has a sense pin for, see ``DiagnosticsConfig.expected_lamps``), so one dead since start is
  caught too; otherwise only once it has been seen lit, so a head without an amber (pedestrian)
  raises nothing.

Conflict and dark are raised after holding and cleared after ``clear_after_s`` gone; a lamp that
never lit is cleared as soon as it lights.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .config import DiagnosticsConfig
from .hysteresis import Hysteresis

MESSAGES: dict[str, tuple[str, str]] = {
    "lamp.conflict": ("critical", "signal head {head} shows red and green together (for {held_s:.1f} s): a "
                                  "controller or lamp-sense wiring fault; call the signal maintainer, and treat "
                                  "red-light events from this head as unreliable until it is fixed"),
    "lamp.dark": ("major", "signal head {head} has had no lamp lit for {held_s:.0f} s: the signal is off or its "
                           "lamp-sense cable is cut; check the controller and the sense wiring"),
    "lamp.never_lit": ("major", "signal head {head}: the {colour} lamp did not light for a whole cycle (every "
                                "other lamp came on twice meanwhile): a burnt-out lamp or a dead sense input"),
}


@dataclass
class HeadState:
    """What the checks remember of one signal head."""

    lit: tuple[str, ...] = ()
    last_onset: str | None = None                        # the lamp that came on last
    seen: set = field(default_factory=set)               # lamps seen lit at least once
    onsets_since: dict = field(default_factory=dict)     # lamp -> {other lamp: onsets while it was dark}
    missing: set = field(default_factory=set)            # lamps whose never_lit fault is raised
    conditions: dict = field(default_factory=dict)       # fault code -> Hysteresis


class LampChecks:
    """The lamp checks of one appliance; ``raise_fault(code, component, message, severity)`` and
    ``clear_fault(code, component)`` are the appliance's; ``expected``: head -> the lamps it must
    light every cycle from the start (a head not in it learns its lamps)."""

    def __init__(self, config: DiagnosticsConfig, raise_fault: Callable[..., object],
                 clear_fault: Callable[[str, str], object], expected: Mapping[str, Iterable[str]] | None = None):
        self.config = config
        self._raise = raise_fault
        self._clear = clear_fault
        self._expected = {head: set(lamps) for head, lamps in (expected or {}).items()}
        self.heads: dict[str, HeadState] = {}

    def on_lamps(self, head: str, lit: tuple[str, ...], time_ns: int) -> None:
        """A lamp edge (or the lamps at start): ``lit`` are all the lamps lit now."""
        state = self.heads.get(head)
        if state is None:
            state = self.heads[head] = HeadState(seen=set(self._expected.get(head, ())))
        for colour in lit:
            if colour not in state.lit:
                self._onset(head, state, colour, lit)
        state.lit = tuple(lit)
        state.seen.update(lit)
        self._judge(head, state, time_ns)

    def on_tick(self, now_ns: int) -> None:
        """Periodic: a conflict or a dark head that has lasted long enough is raised here."""
        for head, state in self.heads.items():
            self._judge(head, state, now_ns)

    def _onset(self, head: str, state: HeadState, colour: str, lit: tuple[str, ...]) -> None:
        state.onsets_since[colour] = {}
        if colour in state.missing:
            state.missing.discard(colour)
            self._clear("lamp.never_lit", f"{head}/{colour}")
        if colour == state.last_onset:
            return  # the same lamp again (flashing): not a new step of the cycle
        state.last_onset = colour
        state.seen.add(colour)
        for other in state.seen - {colour}:
            if other in lit:
                state.onsets_since[other] = {}
                continue
            counts = state.onsets_since.setdefault(other, {})
            counts[colour] = counts.get(colour, 0) + 1
            cycled = all(counts.get(lamp, 0) >= 2 for lamp in state.seen - {other})  # seen holds colour too
            if cycled and other not in state.missing:
                state.missing.add(other)
                severity, template = MESSAGES["lamp.never_lit"]
                self._raise("lamp.never_lit", f"{head}/{other}",
                            template.format(head=head, colour=other), severity)

    def _judge(self, head: str, state: HeadState, time_ns: int) -> None:
        cfg = self.config
        self._decide(head, state, "lamp.conflict", {"red", "green"} <= set(state.lit), time_ns,
                     cfg.lamp_conflict_after_s)
        self._decide(head, state, "lamp.dark", not state.lit, time_ns, cfg.lamp_dark_after_s)

    def _decide(self, head: str, state: HeadState, code: str, bad: bool, time_ns: int, after_s: float) -> None:
        hyst = state.conditions.setdefault(code, Hysteresis())
        action = hyst.update(bad, time_ns, int(after_s * 1e9), int(self.config.clear_after_s * 1e9))
        if action == "raise":
            severity, template = MESSAGES[code]
            held_s = (time_ns - hyst.bad_since_ns) / 1e9
            self._raise(code, head, template.format(head=head, held_s=held_s), severity)
        elif action == "clear":
            self._clear(code, head)

    def health(self) -> dict:
        return {head: {"lit": list(state.lit),
                       "faults": sorted([c for c, h in state.conditions.items() if h.active]
                                        + [f"lamp.never_lit:{colour}" for colour in state.missing])}
                for head, state in self.heads.items()}
