"""Building a real Appliance for tests: real store files, real Hardware, gpiozero MockFactory pins."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import yaml
from gpiozero.pins.mock import MockFactory

from roadcam.appliance.clock import Clock
from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.appliance.store import EventStore, read_events
from roadcam.appliance.tracking import Track, TrackPoint
from roadcam.hal.hardware import Hardware
from tests.synthetic import frame


def site_data(tmp_path: Path, **sections) -> dict:
    """A bench site config: storage under tmp_path, mock pins, plus the given sections."""
    return {
        "device": {"id": "tn-test", "site": "tn-bench"},
        "storage": {"database": str(tmp_path / "events.db"), "evidence_dir": str(tmp_path / "evidence")},
        "gpio": {"pin_factory": "mock"},
        **sections,
    }


@contextlib.contextmanager
def roadcam_run(tmp_path: Path, *, health_interval_s: float, **env: str):
    """``roadcam run`` of a bench site (one mock loop) in its own process, with a socket standing
    in for systemd's NOTIFY_SOCKET. Yields the process (stderr piped) and the socket, which waits
    20 s for a message; kills the process at the end."""
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(site_data(tmp_path, loops=[{"name": "lane1", "pin": "GPIO5"}],
                                               health={"interval_s": health_interval_s})))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(20)
    process = subprocess.Popen([sys.executable, "-m", "roadcam.appliance.cli", "run", "--config", str(config)],
                               env=dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), **env),
                               stderr=subprocess.PIPE, text=True)
    try:
        yield process, notify
    finally:
        process.kill()
        notify.close()


def build_appliance(tmp_path: Path, *, plugins=(), pin_factory=None, **sections) -> Appliance:
    """An Appliance on a bench config; ``roadcam.plugins`` are extra plugin objects to register."""
    config, manager = site_from_data(site_data(tmp_path, **sections))
    for plugin in plugins:
        manager.register(plugin)
    clock = Clock()
    hardware = Hardware(config, clock, pin_factory=pin_factory or MockFactory())
    return Appliance(config, manager, hardware, clock)


def unstarted_appliance(config, manager, clock) -> Appliance:
    """An Appliance on ``config`` whose store is already open and whose threads are not started:
    tests drive its plugins' hooks themselves, on ``clock`` (a ManualClock to control time)."""
    store = EventStore(config.storage.database, config.storage.evidence_dir, device="tn-test", site="tn-bench",
                       budget_bytes=64 * 1024 * 1024)
    return Appliance(config, manager, Hardware(config, clock, pin_factory=MockFactory()), clock, store=store)


def run_for(appliance: Appliance, seconds: float | None = None) -> None:
    """Run until the sources end or, with ``seconds``, until that much time has passed."""
    if seconds is not None:
        threading.Timer(seconds, appliance.stop).start()
    appliance.run(install_signal_handlers=False)


def stored(tmp_path: Path, *types: str):
    """Events in the bench store, optionally of some types only."""
    return read_events(tmp_path / "events.db", limit=100_000, types=list(types) or None)


def read_tracks(tmp_path, frames_and_tracks, **settings):
    """Drive the plate reader of a bench appliance: each (image, {track id: box}) is one frame;
    then every track ends. Returns ({track id: plates in its plate.read events}, health figures).
    ``settings`` override the plate_capture section."""
    appliance = build_appliance(tmp_path, plate_capture={"min_vehicle_px": 8, "read_every_frames": 1, **settings})
    appliance.start()
    try:
        reader = appliance.plugin_manager.get_plugin("plate_capture.reader")
        tracks = {}
        for index, (image, boxes) in enumerate(frames_and_tracks):
            shown = frame(index, image)
            for track_id, box in boxes.items():
                track = tracks.setdefault(track_id, Track(id=track_id, camera=shown.camera, confirmed=True,
                                                          kind_votes={"car": 1.0}))
                track.points.append(TrackPoint(index, shown.time_ns, tuple(box), None))
            reader.roadcam_analyze(frame=shown, tracks=[tracks[i] for i in boxes], signals={})
        reads = {i: [d.data["plate"] for d in reader.roadcam_track_finished(track=t)] for i, t in tracks.items()}
        return reads, reader.roadcam_collect_health(appliance=appliance)["plate_capture"]
    finally:
        appliance.shutdown()
