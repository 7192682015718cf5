"""kill -9 of a running appliance at random moments loses nothing it committed.

`roadcam run` replays a video and stores every frame as an event with JPEG evidence (the bench
plugin tests/evidence_plugin.py), printing each committed seq. The test SIGKILLs it 20 times at
seeded random moments of its progress (after 1 to 24 commits, tests/kill_runs.py), restarting it
on the same store each time, and checks after every kill:
SQLite's integrity check is ok, every event the appliance reported committed is there with the
same digest, nothing seen before has changed, and every evidence file is whole.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest
import yaml
from appliances import site_data
from kill_runs import kill_when
from videos import moving_box, write_video

from roadcam.appliance.store import EventStore, read_events

KILLS = 20


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_committed(tmp_path):
    video = write_video(tmp_path / "north.avi", moving_box(400), fps=25.0)
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(site_data(
        tmp_path, cameras=[{"name": "north", "source": {"type": "opencv", "url": str(video)}}],
        health={"interval_s": 0.1})))
    env = dict(os.environ, ROADCAM_PLUGINS="evidence_plugin",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    rng = random.Random(20261122)
    seen: dict[int, str] = {}
    committed_total = 0
    for kill in range(KILLS):
        commits = rng.randint(1, 24)  # somewhere in the middle of writing
        reported = kill_when([sys.executable, "-m", "roadcam.appliance.cli", "run", "--config", str(config)], env,
                             lambda so_far, commits=commits: len(so_far) >= commits, rng)
        committed_total += len(reported)

        events = {e.seq: e for e in read_events(tmp_path / "events.db", limit=10**9)}
        for seq, digest in {**seen, **reported}.items():
            assert seq in events, f"kill {kill}: committed event {seq} is gone"
            assert events[seq].digest() == digest, f"kill {kill}: event {seq} changed"
        seen = {seq: event.digest() for seq, event in events.items()}
        with EventStore(tmp_path / "events.db", tmp_path / "evidence", device="tn-test", site="tn-bench",
                        budget_bytes=1 << 40) as store:
            assert store.check() == [], f"kill {kill}"
            assert list(events) == list(range(1, store.last_seq() + 1))
    assert committed_total > 200, "the kills should land while events are being written"
    assert any(e.evidence for e in read_events(tmp_path / "events.db", limit=10**9))
