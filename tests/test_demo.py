"""The demo bench end to end: simulator -> appliance -> Mosquitto (TLS, ACL) -> collector."""

import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.integration
def test_the_demo_delivers_every_event_to_the_collector(tmp_path):
    result = subprocess.run([sys.executable, "-m", "roadcam.tools.demo", "--scenario", "smoke",
                             "--out", str(tmp_path / "demo")], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "vehicles tracked under one identity" in result.stdout
    assert "all, once each, same seqs" in result.stdout
    stored = next(line for line in result.stdout.splitlines() if line.startswith("events stored at the collector"))
    assert int(stored.split()[5]) >= 4  # health every 5 s of a 20 s run, at least
    delivered = result.stdout.split("delivery through Mosquitto")[1]
    assert "violation.red_light" in delivered  # the scenario's red-light runner, evidence and all
