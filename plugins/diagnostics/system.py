"""The box's own health: figures for every health event, and faults for what would stop a site
from keeping or sending its evidence.

Read from Linux /proc and /sys, the Raspberry Pi firmware (``vcgencmd get_throttled``, or the
firmware's ``get_throttled`` file) when present, the appliance's clock (the kernel's NTP state,
which chrony or timesyncd keeps) and its store. Anything the machine does not expose is None
and never a fault. Checks (every ``system_check_every_s`` on the tick; each must hold for
``raise_after_s`` before it is raised and be gone ``clear_after_s`` before it is cleared):

- ``disk.low``: free space on the store's disk under ``disk_free_min_mb``;
- ``store.filling``: the events and evidence the store may not evict (not yet confirmed by the
  collector) fill more than ``store_fill_max`` of its budget: ``store.full`` comes next;
- ``outbox.backlog``: more than ``outbox_max_events`` unconfirmed events, or the oldest older
  than ``outbox_max_age_s`` (the collector does not confirm; see ``uplink.offline`` for the
  broker link itself, which the uplink raises from its own connection state);
- ``cpu.hot`` and ``cpu.throttled``: the hottest thermal zone over ``cpu_temp_max_c``; the
  firmware reports under-voltage, a capped clock or throttling now;
- ``memory.low``: available memory under ``memory_min_mb``;
- ``clock.unsynced``, ``clock.error`` and ``clock.offset``: the clock not synchronised for
  ``clock_unsynced_after_s``; its error bound over ``clock_error_max_ms``; its measured offset
  over ``clock_offset_max_ms`` (all from the appliance clock's status,
  :mod:`roadcam.hal.clock_status`: chrony, the kernel or timedatectl, as ``clock.source`` says);
- ``evidence.corrupt`` and ``evidence.missing`` (every ``evidence_check_every_s``): a sample of
  the evidence files the store holds is hashed; a file whose bytes no longer match its sha256,
  or a file missing for an event not yet confirmed (confirmed events' evidence may be evicted),
  is a fault. Files found bad are checked again every time until they are fine or gone.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from roadcam.common.evidence_files import sha256_of_file
from roadcam.protocol.events import utc_ns

from .config import DiagnosticsConfig
from .hysteresis import Hysteresis

#: The firmware's throttling flags that mean "now" (bits 16-19 say "since boot").
THROTTLED_NOW = {0x1: "under-voltage", 0x2: "ARM clock capped", 0x4: "throttled", 0x8: "soft temperature limit"}
#: Where newer Raspberry Pi kernels expose the firmware's throttling flags.
FIRMWARE_THROTTLED = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
#: Events read around a random place in the store for each evidence sample.
EVIDENCE_WINDOW_EVENTS = 50

SEVERITY = {"disk.low": "major", "store.filling": "major", "outbox.backlog": "major", "cpu.hot": "major",
            "cpu.throttled": "minor", "memory.low": "major", "clock.unsynced": "major", "clock.error": "minor",
            "clock.offset": "major",
            "evidence.corrupt": "critical", "evidence.missing": "critical"}


def system_figures(storage_path: Path) -> dict:
    """Load average, available memory, free disk under ``storage_path``, the hottest thermal
    zone and the firmware's throttling flags, each None when the machine does not expose it."""
    return {
        "load_1m": round(os.getloadavg()[0], 2),
        "memory_available_mb": _meminfo_mb("MemAvailable"),
        "disk_free_mb": _disk_free_mb(storage_path),
        "cpu_temp_c": _hottest_zone_c(),
        "throttled": throttled_flags(),
    }


def throttled_flags() -> int | None:
    """The firmware's ``get_throttled`` bits, from its sysfs file or ``vcgencmd``; None when
    neither is there (not a Pi)."""
    try:
        return int(FIRMWARE_THROTTLED.read_text().strip(), 16)
    except (OSError, ValueError):
        pass
    if shutil.which("vcgencmd") is None:
        return None
    try:
        out = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=2).stdout
        return int(out.strip().split("=", 1)[1], 16)  # "throttled=0x50005"
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


class SystemChecks:
    """The box's checks for one appliance; ``raise_fault(code, component, message, severity)``
    and ``clear_fault(code, component)`` are the appliance's. ``store`` and ``clock`` are the
    appliance's; ``outbox_watched``: the uplink is enabled (without it every event waits, and
    that is no fault); ``figures`` reads the machine (a parameter so a bench can show another
    box)."""

    def __init__(self, config: DiagnosticsConfig, store, clock, storage_path: Path,
                 raise_fault: Callable[..., object], clear_fault: Callable[[str, str], object], *,
                 outbox_watched: bool, figures: Callable[[Path], dict] = system_figures):
        self.config = config
        self._outbox_watched = outbox_watched
        self._store = store
        self._clock = clock
        self._storage_path = storage_path
        self._raise = raise_fault
        self._clear = clear_fault
        self._figures = figures
        self._conditions: dict[tuple[str, str], Hysteresis] = {}
        self._next_check_ns: int | None = None
        self._next_evidence_ns: int | None = None
        self._bad_evidence: dict[str, tuple[str, int]] = {}  # sha256 -> ("corrupt" or "missing", seq)
        self._random = random.Random()
        self.latest: dict = {}

    def on_tick(self, now_ns: int) -> None:
        cfg = self.config
        if self._next_check_ns is None or now_ns >= self._next_check_ns:
            self._next_check_ns = now_ns + int(cfg.system_check_every_s * 1e9)
            self.check(now_ns)
        if self._next_evidence_ns is None or now_ns >= self._next_evidence_ns:
            self._next_evidence_ns = now_ns + int(cfg.evidence_check_every_s * 1e9)
            self.check_evidence(now_ns)

    def check(self, now_ns: int) -> None:
        """Read the figures and judge every check but the evidence sample."""
        cfg = self.config
        figures = self._figures(self._storage_path)
        usage = self._store.usage()
        kept = usage.database_bytes + usage.evidence_bytes - usage.confirmed_evictable_bytes
        fill = kept / usage.budget_bytes if usage.budget_bytes else None
        oldest = self._store.pending(limit=1)
        oldest_age_s = (now_ns - utc_ns(oldest[0].time)) / 1e9 if oldest else 0.0
        status = self._clock.status()  # the appliance's one reading (roadcam.hal.clock_status)
        clock = status.state
        figures.update(store_fill=None if fill is None else round(fill, 3), outbox_events=usage.pending,
                       outbox_oldest_s=round(oldest_age_s, 1), clock_synced=clock.synced,
                       clock_error_ms=clock.error_ms, clock_source=status.source, clock_offset_ms=status.offset_ms)
        self.latest = figures

        free = figures["disk_free_mb"]
        self._decide("disk.low", "storage", None if free is None else free < cfg.disk_free_min_mb, now_ns,
                     f"free disk under the store is {free} MiB, limit {cfg.disk_free_min_mb} MiB: free space "
                     f"(old logs, other files) or move the store to a larger disk")
        self._decide("store.filling", "store", None if fill is None else fill > cfg.store_fill_max, now_ns,
                     f"unconfirmed events and evidence fill {100 * (fill or 0):.0f}% of the store's budget "
                     f"(limit {100 * cfg.store_fill_max:.0f}%): the collector is not confirming; new events "
                     f"will be refused when it is full")
        backlog = usage.pending > cfg.outbox_max_events or oldest_age_s > cfg.outbox_max_age_s
        self._decide("outbox.backlog", "uplink", backlog if self._outbox_watched else None, now_ns,
                     f"{usage.pending} events wait for the collector, the oldest for {oldest_age_s:.0f} s "
                     f"(limits {cfg.outbox_max_events} events, {cfg.outbox_max_age_s:g} s): check the broker "
                     f"link and the collector")
        temp = figures["cpu_temp_c"]
        self._decide("cpu.hot", "system", None if temp is None else temp > cfg.cpu_temp_max_c, now_ns,
                     f"SoC temperature is {temp} °C, limit {cfg.cpu_temp_max_c:g} °C: check the cabinet fan, "
                     f"its filter and the sun shield")
        flags = figures["throttled"]
        now_flags = [what for bit, what in THROTTLED_NOW.items() if flags is not None and flags & bit]
        self._decide("cpu.throttled", "system", None if flags is None else bool(now_flags), now_ns,
                     f"the firmware reports {', '.join(now_flags) or 'nothing'} (get_throttled {flags or 0:#x}): "
                     f"check the power supply (under-voltage) and the cooling")
        memory = figures["memory_available_mb"]
        self._decide("memory.low", "system", None if memory is None else memory < cfg.memory_min_mb, now_ns,
                     f"available memory is {memory} MiB, limit {cfg.memory_min_mb} MiB: a process is "
                     f"leaking or the box is too small for its cameras; restart roadcam and report it")
        self._decide("clock.unsynced", "clock", not clock.synced, now_ns,
                     f"the clock is not synchronised (for over {cfg.clock_unsynced_after_s:g} s): event times "
                     f"cannot be trusted; check chrony (chronyc tracking), the NTP server or the GPS",
                     raise_after_s=cfg.clock_unsynced_after_s)
        offset = status.offset_ms
        self._decide("clock.offset", "clock", None if offset is None else abs(offset) > cfg.clock_offset_max_ms,
                     now_ns, f"{status.source} measures the clock {offset} ms off true time, limit "
                             f"{cfg.clock_offset_max_ms:g} ms: check chrony's sources (chronyc sources) and that "
                             f"nothing else sets the clock")
        error = clock.error_ms
        self._decide("clock.error", "clock", None if error is None else error > cfg.clock_error_max_ms, now_ns,
                     f"the clock's error bound is {error} ms, limit {cfg.clock_error_max_ms:g} ms: check chrony's "
                     f"sources (chronyc sources) and the network path to them")

    def check_evidence(self, now_ns: int) -> None:
        """Hash a sample of the evidence files the store holds, and every file found bad before."""
        head = self._store.last_seq()
        after = self._random.randrange(0, head) if head > EVIDENCE_WINDOW_EVENTS else 0
        pending = {event.seq for event in self._store.pending(limit=EVIDENCE_WINDOW_EVENTS, after_seq=after)}
        candidates: dict[str, int] = {}  # sha256 -> seq of an event that holds it
        for event in self._store.events(after_seq=after, limit=EVIDENCE_WINDOW_EVENTS):
            for reference in event.evidence:
                if candidates.get(reference.sha256) not in pending:
                    candidates[reference.sha256] = event.seq
        sample = self._random.sample(sorted(candidates), min(self.config.evidence_sample_files, len(candidates)))
        to_check = {sha256: candidates[sha256] for sha256 in sample}
        to_check.update({sha256: seq for sha256, (_, seq) in self._bad_evidence.items()})
        for sha256, seq in to_check.items():
            problem = self._evidence_problem(sha256, self._is_pending(seq))
            if problem is None:
                self._bad_evidence.pop(sha256, None)
            else:
                self._bad_evidence[sha256] = (problem, seq)
        for kind in ("corrupt", "missing"):
            bad = sorted(sha for sha, (problem, _) in self._bad_evidence.items() if problem == kind)
            detail = (f"{len(bad)} evidence file(s) {kind}, e.g. {self._store.evidence_path(bad[0])}: "
                      f"run `roadcam store check`, then restore the files from the collector") if bad else ""
            self._decide(f"evidence.{kind}", "store", bool(bad), now_ns, detail, raise_after_s=0.0)

    def _is_pending(self, seq: int) -> bool:
        """The event is not confirmed yet (so the store must still hold its evidence)."""
        return any(event.seq == seq for event in self._store.pending(limit=1, after_seq=seq - 1))

    def _evidence_problem(self, sha256: str, must_exist: bool) -> str | None:
        path = self._store.evidence_path(sha256)
        try:
            return None if sha256_of_file(path) == sha256 else "corrupt"
        except FileNotFoundError:
            return "missing" if must_exist else None
        except OSError:
            return "corrupt"

    def _decide(self, code: str, component: str, bad: bool | None, now_ns: int, message: str, *,
                raise_after_s: float | None = None) -> None:
        cfg = self.config
        hyst = self._conditions.setdefault((code, component), Hysteresis())
        after_s = cfg.raise_after_s if raise_after_s is None else raise_after_s
        action = hyst.update(bad, now_ns, int(after_s * 1e9), int(cfg.clear_after_s * 1e9))
        if action == "raise":
            self._raise(code, component, message, SEVERITY[code])
        elif action == "clear":
            self._clear(code, component)

    def health(self) -> dict:
        return {**self.latest, "faults": sorted(f"{code}:{component}" for (code, component), hyst
                                                in self._conditions.items() if hyst.active)}


def _meminfo_mb(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def _disk_free_mb(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free // (1024 * 1024)
    return None


def _hottest_zone_c() -> float | None:
    readings = []
    for zone in Path("/sys/class/thermal").glob("thermal_zone*/temp"):
        try:
            readings.append(int(zone.read_text()) / 1000.0)
        except (OSError, ValueError):
            continue
    return max(readings) if readings else None
