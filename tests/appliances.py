"""Building a real Appliance for tests: real store files, real Hardware, gpiozero MockFactory pins."""

from __future__ import annotations

import threading
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from roadcam.appliance.clock import Clock
from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.appliance.store import read_events
from roadcam.hal.hardware import Hardware


def site_data(tmp_path: Path, **sections) -> dict:
    """A bench site config: storage under tmp_path, mock pins, plus the given sections."""
    return {
        "device": {"id": "tn-test", "site": "tn-bench"},
        "storage": {"database": str(tmp_path / "events.db"), "evidence_dir": str(tmp_path / "evidence")},
        "gpio": {"pin_factory": "mock"},
        **sections,
    }


def build_appliance(tmp_path: Path, *, plugins=(), pin_factory=None, **sections) -> Appliance:
    """An Appliance on a bench config; ``roadcam.plugins`` are extra plugin objects to register."""
    config, manager = site_from_data(site_data(tmp_path, **sections))
    for plugin in plugins:
        manager.register(plugin)
    clock = Clock()
    hardware = Hardware(config, clock, pin_factory=pin_factory or MockFactory())
    return Appliance(config, manager, hardware, clock)


def run_for(appliance: Appliance, seconds: float | None = None) -> None:
    """Run until the sources end or, with ``seconds``, until that much time has passed."""
    if seconds is not None:
        threading.Timer(seconds, appliance.stop).start()
    appliance.run(install_signal_handlers=False)


def stored(tmp_path: Path, *types: str):
    """Events in the bench store, optionally of some types only."""
    return read_events(tmp_path / "events.db", limit=100_000, types=list(types) or None)
