"""Signal heads read from the signal controller's serial status feed, instead of lamp-sense pins.

Where the cabinet gives a serial status port rather than lamp wiring, the controller reports
its heads as text lines on a serial link (``serial:`` in the site config; a signal head names
the link in ``controller:``). Each line is one head's lamps::

    <head> <lamps> [<age_ms>]

``lamps`` is the set of lit lamps as letters ``R``, ``A``, ``G`` in any order (``RG`` when red and
green are lit together, a conflict the fences and diagnostics see), or ``-`` when the head is
dark. ``age_ms`` (optional, integer) is how long before sending the controller saw the change; a
controller sends a line on every lamp change and repeats every head at least once a second.

Time stamps. A line is dated when its last byte arrives, less its own time on the wire
(10 bits per byte at the link's baud rate) and less ``age_ms``. What is left is the port's
delivery delay: about 1 ms on a native UART, up to the adapter's latency timer on a USB-serial
adapter (FTDI: 16 ms by default; set ``/sys/bus/usb-serial/devices/ttyUSB0/latency_timer`` to 1).

Faults (through ``when_fault`` / ``when_fault_cleared``, set by the appliance):

- ``signal.feed`` (component: the link): a line that does not parse, or names a head the site
  does not have; the message quotes it. Cleared by the next good line.
- ``signal.feed_silent`` (component: the link): no good line for ``silence_s``. Every head on the
  link then reads ``dark`` (so nothing is judged on a state that may be stale) until the feed
  speaks again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from roadcam.appliance.clock import Clock
from roadcam.common.errors import HardwareError

from .base import LAMP_COLOURS, Device, LampInput, SerialLink

LAMP_LETTERS = {"R": "red", "A": "amber", "G": "green"}
LINE = re.compile(r"^(?P<head>[A-Za-z0-9][A-Za-z0-9_.-]{0,62}) +(?P<lamps>-|[RAG]{1,3})(?: +(?P<age>\d{1,6}))? *$")
#: How long the reader waits for a line before it checks for silence (s).
POLL_S = 0.25


def parse_status_line(line: bytes) -> tuple[str, tuple[str, ...], int]:
    """``(head, lit lamps most restrictive first, age_ms)`` of one status line; ValueError saying
    what is wrong otherwise."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not ASCII text ({exc.reason} at byte {exc.start})") from None
    match = LINE.match(text)
    if match is None:
        raise ValueError("expected '<head> <lamps> [<age_ms>]' with lamps a set of R, A, G or '-'")
    letters = match["lamps"]
    if len(set(letters)) != len(letters):
        raise ValueError(f"lamp letters repeated in {letters!r}")
    lit = () if letters == "-" else tuple(c for c in LAMP_COLOURS if c[0].upper() in letters)
    return match["head"], lit, int(match["age"] or 0)


class SerialSignalHead(LampInput):
    """One head whose lamps come from a :class:`SerialSignalController`; starts dark (unknown)
    until the controller first reports it."""

    def __init__(self, head: str):
        self.head = head
        self._lit: tuple[str, ...] = ()
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            return self._lit[0] if self._lit else "dark"

    @property
    def lit(self) -> tuple[str, ...]:
        with self._lock:
            return self._lit

    def set_lamps(self, lit: tuple[str, ...], time_ns: int) -> None:
        """Record the lamps lit since ``time_ns``; calls the callbacks when anything changed."""
        with self._lock:
            before, self._lit = self._lit, lit
        if lit == before:
            return
        if self.when_lamps_changed is not None:
            self.when_lamps_changed(self.head, lit, time_ns)
        state = lit[0] if lit else "dark"
        if state != (before[0] if before else "dark") and self.when_changed is not None:
            self.when_changed(self.head, state, time_ns)

    def close(self) -> None:
        """Nothing to release: the controller owns the link."""


class SerialSignalController(Device):
    """Reads one controller's status feed on its own thread and drives its heads.

    ``clock`` dates lines (wall ns); ``baudrate`` gives their time on the wire."""

    def __init__(self, link: SerialLink, heads: list[SerialSignalHead], clock: Clock, *, baudrate: int,
                 silence_s: float = 3.0):
        self.link = link
        self.heads = {head.head: head for head in heads}
        self._clock = clock
        self._ns_per_byte = 10 * 1_000_000_000 // baudrate
        self._silence_ns = int(silence_s * 1e9)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, name=f"controller-{link.name}", daemon=True)
        self.when_fault: Callable[[str, str, str], None] | None = None
        self.when_fault_cleared: Callable[[str, str], None] | None = None
        self.lines = self.bad_lines = 0

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * POLL_S + 1)
        self.link.close()

    def _read_loop(self) -> None:
        last_good_ns = self._clock.wall_ns()
        silent = bad = False
        while not self._stop.is_set():
            try:
                line = self.link.read_line(POLL_S)
            except HardwareError as exc:
                self._fault("signal.feed_silent", str(exc))
                self._stop.wait(1.0)
                continue
            now_ns = self._clock.wall_ns()
            if line is None or not line.strip():
                if not silent and now_ns - last_good_ns > self._silence_ns:
                    silent = True
                    for head in self.heads.values():
                        head.set_lamps((), now_ns)
                    self._fault("signal.feed_silent", f"no status from the signal controller on serial link "
                                f"{self.link.name!r} for {self._silence_ns / 1e9:g} s: its heads read dark until "
                                f"it speaks again; check the cable and the controller's status port settings")
                continue
            self.lines += 1
            try:
                name, lit, age_ms = parse_status_line(line)
                if name not in self.heads:
                    raise ValueError(f"no signal head {name!r} on this link (heads: {', '.join(sorted(self.heads))})")
            except ValueError as exc:
                self.bad_lines += 1
                bad = True
                self._fault("signal.feed", f"serial link {self.link.name!r}: line {line[:80]!r}: {exc}")
                continue
            last_good_ns = now_ns
            if bad:
                bad = False
                self._cleared("signal.feed")
            if silent:
                silent = False
                self._cleared("signal.feed_silent")
            sent_ns = now_ns - (len(line) + 1) * self._ns_per_byte
            self.heads[name].set_lamps(lit, sent_ns - age_ms * 1_000_000)

    def _fault(self, code: str, message: str) -> None:
        if self.when_fault is not None:
            self.when_fault(code, self.link.name, message)

    def _cleared(self, code: str) -> None:
        if self.when_fault_cleared is not None:
            self.when_fault_cleared(code, self.link.name)
