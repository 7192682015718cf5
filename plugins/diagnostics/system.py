"""Reading the box's own figures: load, memory, disk, SoC temperature. Linux /proc and /sys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def system_figures(storage_path: Path) -> dict:
    """Load average, available memory, free disk under ``storage_path`` and the hottest
    thermal zone, each None when the machine does not expose it."""
    return {
        "load_1m": round(os.getloadavg()[0], 2),
        "memory_available_mb": _meminfo_mb("MemAvailable"),
        "disk_free_mb": _disk_free_mb(storage_path),
        "cpu_temp_c": _hottest_zone_c(),
    }


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
