"""The worked example of docs/plugins.md runs as printed, so the plugin guide cannot rot.

The test takes the fenced python block that follows the marker ``<!-- example: vehicle_counter.py -->``
in docs/plugins.md, writes it out as the module ``vehicle_counter`` and loads it the way a bench
does, by ``ROADCAM_PLUGINS`` (so its config section is part of the site config). Then it runs a
real Appliance (real store, an OpenCV file camera, mock pins) with a scripted detector, the
plugin's ``roadcam vehicle-counts`` command on the store that run left, and, in a slow test,
``roadcam simulate`` on the shipped smoke scenario.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from appliances import build_appliance, run_for, site_data, stored
from videos import moving_box, write_video

from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.site import site_from_data
from roadcam.appliance.tracking import Detection

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
MARKER = "<!-- example: vehicle_counter.py -->"


def example_source() -> str:
    """The fenced python block right after the marker line in the guide."""
    text = GUIDE.read_text()
    assert text.splitlines().count(MARKER) == 1, f"{GUIDE} must hold the marker line {MARKER!r} once"
    found = re.search("^" + re.escape(MARKER) + r"\n```python\n(.*?)\n```$", text, re.DOTALL | re.MULTILINE)
    assert found, f"no ```python block follows {MARKER!r} in {GUIDE}"
    return found.group(1) + "\n"


@pytest.fixture
def counter_module(tmp_path, monkeypatch):
    """The guide's example as the module ``vehicle_counter``, loaded by ROADCAM_PLUGINS."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "vehicle_counter.py").write_text(example_source())
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "vehicle_counter", raising=False)
    monkeypatch.setenv("ROADCAM_PLUGINS", "vehicle_counter")
    return folder


class ScriptedDetector:
    """A test's detector: a car in frames 0-9 and a bus in frames 2-3 (too short to count)."""

    @hookimpl
    def roadcam_detect(self, frame, geometry):
        found = []
        if frame.index < 10:
            x = 20.0 + 10 * frame.index
            found.append(Detection(box=(x, 100.0, x + 40, 130.0), kind="car", score=0.9, source="test"))
        if frame.index in (2, 3):
            found.append(Detection(box=(200.0, 20.0, 260.0, 60.0), kind="bus", score=0.9, source="test"))
        return found


def camera(tmp_path, frames):
    path = write_video(tmp_path / "north.avi", moving_box(frames), fps=25.0)
    return [{"name": "north", "source": {"type": "opencv", "url": str(path)}}]


def test_the_example_counts_each_finished_vehicle_with_its_crop(tmp_path, counter_module):
    appliance = build_appliance(tmp_path, plugins=[ScriptedDetector()], cameras=camera(tmp_path, 16),
                                vehicle_counter={"min_points": 5, "quiet_after_s": 0.1})
    run_for(appliance)
    (counted,) = stored(tmp_path, "vehicle.counted")
    assert counted.data["camera"] == "north" and counted.data["kind"] == "car" and counted.data["total"] == 1
    assert counted.data["seconds_in_view"] > 0
    (crop,) = counted.evidence
    assert crop.kind == "vehicle_crop" and crop.bytes > 0
    (jpeg,) = (tmp_path / "evidence").rglob(crop.sha256)  # stored by its sha256
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"
    # 0.1 s of frame time without a count raised counter.quiet once; the count cleared it
    assert [e.data["code"] for e in stored(tmp_path, "fault.raised")] == ["counter.quiet"]
    assert [e.data["code"] for e in stored(tmp_path, "fault.cleared")] == ["counter.quiet"]
    assert stored(tmp_path, "health")[-1].data["vehicle_counter"] == {"totals": {"north": 1}}
    # the plugin's own command line command, on the store the run left
    listed = roadcam(counter_module, "vehicle-counts", "--database", str(tmp_path / "events.db"))
    assert (listed.returncode, listed.stdout) == (0, "north\tcar\t1\n"), listed.stderr
    missing = roadcam(counter_module, "vehicle-counts", "--database", str(tmp_path / "no" / "events.db"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr, missing.stderr


def roadcam(plugin_folder: Path, *args: str) -> subprocess.CompletedProcess:
    """The ``roadcam`` command line with the example loaded by ROADCAM_PLUGINS."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plugin_folder), os.environ.get("PYTHONPATH", "")]),
               ROADCAM_PLUGINS="vehicle_counter")
    return subprocess.run([sys.executable, "-m", "roadcam.appliance.cli", *args], capture_output=True, text=True,
                          timeout=600, env=env)


def test_the_example_answers_its_reset_command_only(tmp_path, counter_module):
    appliance = build_appliance(tmp_path)
    appliance.start()
    try:
        assert appliance.command("vehicle_counter.reset", {}) == {"ok": True, "counted": {}}
        assert appliance.command("no_such_command", {})["ok"] is False  # not ours, nobody else's
    finally:
        appliance.shutdown()
    results = stored(tmp_path, "command.result")
    assert results[0].data["result"] == {"ok": True, "counted": {}}


def test_the_example_section_is_validated_with_field_paths(tmp_path, counter_module):
    config, _ = site_from_data(site_data(tmp_path))
    assert config.section("vehicle_counter").kinds == ["car", "scooter", "truck", "bus"]
    # a ConfigError (also a ValueError) lists each problem with its field path
    assert problems(site_data(tmp_path, vehicle_counter={"min_point": 3})) == [
        "config: vehicle_counter.min_point: unknown key (check its spelling and indentation)"]  # "config": no file
    (wrong_kind,) = problems(site_data(tmp_path, vehicle_counter={"kinds": ["tram"]}))
    assert wrong_kind.startswith("config: vehicle_counter.kinds[0]: ")


def problems(data: dict) -> list[str]:
    with pytest.raises(ValueError) as caught:
        site_from_data(data)
    return caught.value.problems


@pytest.mark.slow
@pytest.mark.integration
def test_the_example_counts_vehicles_in_the_simulator(tmp_path, counter_module):
    extra = tmp_path / "extra.yaml"
    extra.write_text("vehicle_counter:\n  kinds: [car, truck, bus]\n")
    out = tmp_path / "run"
    ran = roadcam(counter_module, "simulate", "--scenario", "smoke", "--site-extra", str(extra), "--out", str(out))
    assert ran.returncode == 0, ran.stderr
    counted = stored_in(out / "events.db", "vehicle.counted")
    assert counted, "the smoke scenario's vehicles were counted"
    assert {e.data["kind"] for e in counted} <= {"car", "truck", "bus"}
    assert all(e.evidence for e in counted)


def stored_in(database: Path, *types: str):
    from roadcam.appliance.store import read_events

    return read_events(database, limit=100_000, types=list(types))
