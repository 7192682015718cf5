"""What each signal head showed and since when, with a plausibility check of its lamps.

The core hands plugins each head's state changes in time order (``roadcam_signal_changed``)
and its current state with every frame (``SignalView``). :class:`SignalBook` keeps a short
history per head so a rule can ask what a head showed at the moment a vehicle crossed a line
(between two frames) and how long it had shown it, to the millisecond of the lamp edge.

Lamp edges are debounced: a state counts only once it has held ``debounce_ms`` (the lamps of
a head switch over within a few milliseconds, and for that instant the head may read dark or
two lamps), and then from the moment of its own edge, so time into red stays exact.

A head whose lamps are not plausible is *not trusted*, and no rule may turn what it shows into
a violation: all lamps dark, or a change a controller never makes (green straight to red
without amber where the head has amber, red to amber, amber to green). A head stays untrusted
from such a change until it next turns green from red, a normal start of its cycle. Each case
is a ``signal.dark`` or ``signal.inconsistent`` fault, cleared when the head is trusted again.

Red and green lit together do not show in the state (the core reports the most restrictive
lamp), so the book also takes every lamp edge (``roadcam_lamps_changed``): the two held together
for the debounce time make the head untrusted from the moment the second one lit.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

#: Changes a fixed-time or actuated controller makes; any other change is implausible.
PLAUSIBLE = {("green", "amber"), ("amber", "red"), ("red", "green"), ("green", "red")}
#: Seconds of history kept per head (longer than any cycle).
HISTORY_S = 600.0


@dataclass
class _Head:
    changes: list[tuple[int, str]] = field(default_factory=list)   # (time_ns, state), in order
    untrusted: list[tuple[int, int | None]] = field(default_factory=list)  # [from, until) spans
    seen_amber: bool = False
    pending: tuple[int, str] | None = None   # a change not yet held for the debounce time
    conflict_since: int | None = None        # red and green lit together since then


class SignalBook:
    """Every head's recent states. ``fault(code, head, message)`` and ``clear(code, head)`` are
    called when a head stops or starts being trusted."""

    def __init__(self, fault, clear, debounce_ms: float = 50.0):
        self._heads: dict[str, _Head] = {}
        self._fault, self._clear = fault, clear
        self._debounce_ns = int(debounce_ms * 1e6)

    def seed(self, head: str, state: str, since_ns: int) -> None:
        """The state the core reported before any change was seen (from a ``SignalView``)."""
        if head not in self._heads:
            self._commit(head, state, since_ns)

    def change(self, head: str, state: str, time_ns: int) -> None:
        """A lamp edge changed the head's state at ``time_ns``."""
        book = self._heads.setdefault(head, _Head())
        self.settle(time_ns, head)
        book.pending = (time_ns, state)
        if not self._debounce_ns:
            self.settle(time_ns, head)

    def lamps(self, head: str, lit: tuple[str, ...], time_ns: int) -> None:
        """Every lamp lit on ``head`` since ``time_ns``."""
        book = self._heads.setdefault(head, _Head())
        together = "red" in lit and "green" in lit
        if not together:
            book.conflict_since = None
        elif book.conflict_since is None:
            book.conflict_since = time_ns
        self.settle(time_ns, head)

    def settle(self, now_ns: int, only: str | None = None) -> None:
        """Accept every pending change, and every lamp conflict, that has held for the debounce
        time by ``now_ns``."""
        for head, book in self._heads.items():
            if only not in (None, head):
                continue
            if book.conflict_since is not None and now_ns - book.conflict_since >= self._debounce_ns:
                self._distrust(head, book, book.conflict_since, "signal.inconsistent",
                               "red and green of this head are lit together: no violation is judged on it "
                               "until a normal red-to-green change; check the lamps and their sensing")
            if book.pending is None:
                continue
            since_ns, state = book.pending
            if now_ns - since_ns >= self._debounce_ns:
                book.pending = None
                if not book.changes or book.changes[-1][1] != state:
                    self._commit(head, state, since_ns)

    def _commit(self, head: str, state: str, time_ns: int) -> None:
        book = self._heads.setdefault(head, _Head())
        before = book.changes[-1][1] if book.changes else None
        book.changes.append((time_ns, state))
        book.seen_amber |= state == "amber"
        horizon = time_ns - int(HISTORY_S * 1e9)
        while len(book.changes) > 2 and book.changes[1][0] < horizon:
            del book.changes[0]
        open_span = bool(book.untrusted) and book.untrusted[-1][1] is None
        problem = self._problem(book, before, state)
        if problem:
            self._distrust(head, book, time_ns, *problem)
        elif open_span and before == "red" and state == "green" and book.conflict_since is None:
            book.untrusted[-1] = (book.untrusted[-1][0], time_ns)
            self._clear("signal.dark", head)
            self._clear("signal.inconsistent", head)

    def _distrust(self, head: str, book: _Head, time_ns: int, code: str, message: str) -> None:
        """Open an untrusted span from ``time_ns`` (unless one is open) and raise its fault."""
        if not (book.untrusted and book.untrusted[-1][1] is None):
            book.untrusted.append((time_ns, None))
        self._fault(code, head, message)

    @staticmethod
    def _problem(book: _Head, before: str | None, state: str) -> tuple[str, str] | None:
        if state == "dark":
            return "signal.dark", "no lamp of this head is lit: no red-light violation is judged on it until it " \
                                  "shows a normal red-to-green change; check the lamps and their sensing"
        if before is None or before == "dark":
            return None
        if (before, state) not in PLAUSIBLE or (before, state) == ("green", "red") and book.seen_amber:
            return "signal.inconsistent", f"the head went from {before} to {state}, which a controller does not " \
                                          "do (two lamps lit at once, or a sensing fault): no violation is judged " \
                                          "on it until a normal red-to-green change"
        return None

    def pending(self, head: str) -> str | None:
        """The state a head changed to less than the debounce time ago, if any."""
        book = self._heads.get(head)
        return book.pending[1] if book is not None and book.pending is not None else None

    def state_at(self, head: str, time_ns: int) -> tuple[str, int] | None:
        """(state, since_ns) of ``head`` at ``time_ns``; None when unknown or not trusted."""
        book = self._heads.get(head)
        if book is None:
            return None
        index = bisect_right(book.changes, time_ns, key=lambda change: change[0]) - 1
        if index < 0:
            return None
        for start, end in book.untrusted:
            if start <= time_ns and (end is None or time_ns < end):
                return None
        since_ns, state = book.changes[index]
        return state, since_ns

    def trusted_since(self, head: str, since_ns: int, time_ns: int) -> bool:
        """No untrusted span overlaps [since_ns, time_ns]."""
        book = self._heads.get(head)
        return book is not None and not any(
            start <= time_ns and (end is None or since_ns < end) for start, end in book.untrusted)
