"""How well the device clock is synchronised: its sync state, error bound and measured offset,
read from what keeps it.

Section speed pairs two sites' passage times, so every event carries its clock's sync state and
error bound (:class:`~roadcam.appliance.events.ClockState`). Three readers, chosen by the site
config's ``clock.source``:

- ``adjtimex``: the kernel's NTP state through adjtimex(2) with ``modes = 0`` (read-only, works
  unprivileged; chrony, ntpd and timesyncd keep it). Unsynced when ``STA_UNSYNC`` is set or the
  call returns ``TIME_ERROR``; the error bound is ``maxerror`` (µs), the offset the kernel PLL's.
  Always there on Linux: the base.
- ``chrony``: ``chronyc -c tracking`` (CSV). Unsynced when its leap status says so or it follows
  no reference (id 0, or its own local clock); the error bound is
  ``|system time offset| + root dispersion + root delay / 2``, chrony's own bound of the clock's
  distance from true time.
- ``timedatectl``: ``timedatectl show -p NTPSynchronized`` says yes or no and nothing more: the
  error bound is unknown, so its passages are never trusted for pairing (the collector needs a
  bound), only the sync state is shown.

``auto`` takes chrony when ``chronyc`` is on PATH, else adjtimex, else timedatectl. A reader that
fails (no such command, an error exit, a timeout, output it cannot parse) returns a status with
``fault`` set and ``synced`` False: a clock we cannot read is never "synced". The appliance
raises ``clock.source`` from it (:meth:`roadcam.appliance.runtime.Appliance`'s tick).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Literal

from roadcam.appliance.clock import ClockStatus

SourceName = Literal["auto", "chrony", "timedatectl", "adjtimex"]
#: Seconds a chronyc or timedatectl call may take before it counts as failed.
COMMAND_TIMEOUT_S = 2.0


def _failed(source: str, why: str) -> ClockStatus:
    return ClockStatus(source=source, synced=False, fault=why)


# -- adjtimex -----------------------------------------------------------------------------------

class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux, LP64 and ILP32 alike: longs are the platform's).
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("_rest", ctypes.c_byte * 200),  # ppsfreq … tai and the kernel's padding
    ]


TIME_ERROR = 5  # adjtimex's return value when the clock is not synchronised
STA_UNSYNC = 0x0040  # status bit: the clock is not synchronised
STA_NANO = 0x2000  # status bit: ``offset`` is in ns, not µs


def read_adjtimex() -> ClockStatus:
    """The kernel's NTP state, read-only (``modes = 0``)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = _Timex()
        result = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError) as exc:
        return _failed("adjtimex", f"adjtimex(2) cannot be called: {exc}")
    if result < 0:
        return _failed("adjtimex", f"adjtimex(2) failed: errno {ctypes.get_errno()}")
    offset_ms = timex.offset / (1e6 if timex.status & STA_NANO else 1e3)
    if result == TIME_ERROR or timex.status & STA_UNSYNC:
        return ClockStatus("adjtimex", synced=False, offset_ms=offset_ms)
    return ClockStatus("adjtimex", synced=True, error_ms=timex.maxerror / 1000.0, offset_ms=offset_ms)


# -- commands -----------------------------------------------------------------------------------

def _run(source: str, argv: list[str]) -> tuple[str | None, ClockStatus | None]:
    """The command's standard output, or the failed status saying why there is none."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except FileNotFoundError:
        return None, _failed(source, f"{argv[0]} is not installed")
    except subprocess.TimeoutExpired:
        return None, _failed(source, f"{' '.join(argv)} did not answer within {COMMAND_TIMEOUT_S:g} s")
    except (OSError, UnicodeDecodeError) as exc:
        return None, _failed(source, f"{' '.join(argv)} could not run: {exc}")
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        return None, _failed(source, f"{' '.join(argv)} exited with {done.returncode}"
                                     + (f": {said[0][:200]}" if said else ""))
    return done.stdout, None


#: chronyc's reference ids that are no time source: none yet, and its own clock (``local``).
CHRONY_NO_REFERENCE = {"00000000", "7F7F0101"}


def parse_chrony_tracking(text: str) -> ClockStatus:
    """``chronyc -c tracking``'s one CSV line: reference id, name, stratum, reference time,
    system time correction (s, positive: the clock is slow), last offset, RMS offset, frequency,
    residual frequency, skew, root delay (s), root dispersion (s), update interval, leap status."""
    lines = [line for line in text.splitlines() if line.strip()]
    fields = lines[0].split(",") if len(lines) == 1 else []
    if len(fields) != 14:
        return _failed("chrony", f"chronyc -c tracking printed no 14-field CSV line: {text.strip()[:200]!r}")
    try:
        correction_s, delay_s, dispersion_s = float(fields[4]), float(fields[10]), float(fields[11])
        int(fields[0], 16)
    except ValueError:
        return _failed("chrony", f"chronyc -c tracking printed a line it cannot be read from: {lines[0][:200]!r}")
    if not all(math.isfinite(v) for v in (correction_s, delay_s, dispersion_s)) or delay_s < 0 or dispersion_s < 0:
        return _failed("chrony", f"chronyc -c tracking printed impossible figures: {lines[0][:200]!r}")
    offset_ms = round(-1000 * correction_s, 6)
    if fields[13].strip() == "Not synchronised" or fields[0].upper() in CHRONY_NO_REFERENCE:
        return ClockStatus("chrony", synced=False, offset_ms=offset_ms)
    error_ms = 1000 * (abs(correction_s) + dispersion_s + delay_s / 2)
    return ClockStatus("chrony", synced=True, error_ms=round(error_ms, 6), offset_ms=offset_ms)


def read_chrony() -> ClockStatus:
    text, failed = _run("chrony", ["chronyc", "-c", "tracking"])
    return failed or parse_chrony_tracking(text or "")


def parse_timedatectl(text: str) -> ClockStatus:
    """``timedatectl show -p NTPSynchronized``: ``NTPSynchronized=yes`` or ``=no``; no error bound."""
    answer = text.strip()
    if answer not in ("NTPSynchronized=yes", "NTPSynchronized=no"):
        return _failed("timedatectl", f"timedatectl show -p NTPSynchronized printed {answer[:200]!r}")
    return ClockStatus("timedatectl", synced=answer.endswith("yes"))


def read_timedatectl() -> ClockStatus:
    text, failed = _run("timedatectl", ["timedatectl", "show", "-p", "NTPSynchronized"])
    return failed or parse_timedatectl(text or "")


READERS: dict[str, Callable[[], ClockStatus]] = {
    "adjtimex": read_adjtimex, "chrony": read_chrony, "timedatectl": read_timedatectl}


def read_auto() -> ClockStatus:
    """chrony when chronyc is installed; else the kernel; else timedatectl."""
    if shutil.which("chronyc"):
        return read_chrony()
    kernel = read_adjtimex()
    if kernel.fault is None or shutil.which("timedatectl") is None:
        return kernel
    return read_timedatectl()


class ClockStatusSource:
    """The configured reader, read at most every ``max_age_s`` (every stored event asks; a
    chronyc call per event would cost more than the event), and a reading that failed kept for
    ``retry_failed_s`` (a chronyc that hangs until its timeout must not hold up every stored
    event). Thread-safe."""

    def __init__(self, source: SourceName = "auto", max_age_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic, retry_failed_s: float = 30.0):
        if source != "auto" and source not in READERS:
            raise ValueError(f"clock source must be auto, {', '.join(READERS)}; not {source!r}")
        self.source = source
        self.max_age_s = max_age_s
        self.retry_failed_s = max(retry_failed_s, max_age_s)
        self._reader = read_auto if source == "auto" else READERS[source]
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._latest: tuple[float, ClockStatus] | None = None

    def read(self) -> ClockStatus:
        with self._lock:
            now = self._monotonic()
            if self._latest is not None:
                kept_s = self.max_age_s if self._latest[1].fault is None else self.retry_failed_s
                if now - self._latest[0] < kept_s:
                    return self._latest[1]
            self._latest = (now, self._reader())
            return self._latest[1]
