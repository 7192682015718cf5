"""The appliance SIGKILLed at 20 random moments while it publishes: every event it committed
reaches the collector exactly once.

`roadcam run` replays a video, stores an event with JPEG evidence per frame (the bench plugin
tests/evidence_plugin.py, which prints each committed seq) and publishes through its uplink to a
real Mosquitto and the real collector. Each kill is driven by progress, not by the clock
(tests/kill_runs.py): it lands once the run has committed a seeded number of events (5 to 20)
and the collector has stored something this run published, so every kill interrupts a
publishing appliance however loaded the machine is. After the kills a last appliance on the
same store delivers what is left; then the collector must hold exactly the device's events,
once each.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import pytest
import yaml
from appliances import site_data
from conftest import DEVICE
from kill_runs import kill_when
from test_delivery import start_collector
from uplink_doubles import wait_until
from videos import moving_box, write_video

from roadcam.appliance.clock import Clock
from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.appliance.store import read_events
from roadcam.collector.storage import EventQuery
from roadcam.hal.hardware import Hardware

pytestmark = [pytest.mark.slow, pytest.mark.integration]

KILLS = 20


def test_appliance_killed_20_times_while_publishing_delivers_each_event_once(tmp_path, broker, pki):
    collector, storage = start_collector(tmp_path, broker, pki)
    uplink = {"enabled": True, "host": broker.host, "port": broker.port,
              "signing_key_file": str(pki.signing_key(DEVICE)),
              "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "ack_timeout_s": 2.0,
              "staged_config_file": str(tmp_path / "site.next.yaml")}
    video = write_video(tmp_path / "north.avi", moving_box(300, width=160, height=120), fps=25.0)
    data = site_data(tmp_path, uplink=uplink, health={"interval_s": 0.2},
                     cameras=[{"name": "north", "source": {"type": "opencv", "url": str(video)}}])
    config_file = tmp_path / "site.yaml"
    config_file.write_text(yaml.safe_dump(data))
    env = dict(os.environ, ROADCAM_PLUGINS="evidence_plugin",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    rng = random.Random(3)
    committed: set[int] = set()

    def at_collector() -> int:
        return len(storage.events(EventQuery(device=DEVICE, limit=10**6)))

    try:
        for _ in range(KILLS):
            commits, before = rng.randint(5, 20), at_collector()
            committed |= set(kill_when(
                [sys.executable, "-m", "roadcam.appliance.cli", "run", "--config", str(config_file)], env,
                lambda so_far, commits=commits, before=before: len(so_far) >= commits and at_collector() > before,
                rng))
        config, manager = site_from_data({**data, "cameras": []})  # the last run only delivers
        clock = Clock()
        # what it commits while stopping (its last health event) is delivered before it closes
        last = Appliance(config, manager, Hardware(config, clock), clock, sign=config.uplink.event_signer(),
                         drain_timeout_s=30.0)
        last.start()
        try:
            wait_until(lambda: last.store.usage().pending == 0, timeout_s=120, what="the outbox to empty")
        finally:
            last.shutdown()
        time.sleep(0.5)
        stored = storage.events(EventQuery(device=DEVICE, limit=10**6))
        problems = storage.problems()
    finally:
        collector.stop()
        storage.close()
    on_device = read_events(tmp_path / "events.db", limit=10**6)
    assert len(committed) > 200, "the kills should land while events are being published"
    assert committed <= {event.seq for event in on_device}
    assert sorted(event.id for event in stored) == sorted(event.id for event in on_device)  # once each
    assert [event.seq for event in sorted(stored, key=lambda e: e.seq)] == list(range(1, len(stored) + 1))
    assert problems == []
