"""A plugin that raises in a hook loses only its own answer (issue 22, item 12).

Every hook call the runtime makes goes to each plugin's implementation on its own: the other
plugins' answers are kept, and the broken one gets a ``plugin.error`` fault that names it and
the hook. Real Appliance, real store, an OpenCV file camera, mock pins.
"""

from __future__ import annotations

import sys
import types

from appliances import build_appliance, run_for, stored
from videos import moving_box, write_video

from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl


def camera(tmp_path, frames):
    path = write_video(tmp_path / "north.avi", moving_box(frames), fps=25.0)
    return [{"name": "north", "source": {"type": "opencv", "url": str(path)}}]


class Healthy:
    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        return [EventDraft("test.healthy", {"frame": frame.index}, frame.time_ns)]

    @hookimpl
    def roadcam_collect_health(self, appliance):
        return {"healthy": {"ok": True}}

    @hookimpl
    def roadcam_command(self, name, payload):
        return {"ok": True, "by": "healthy"} if name == "ping" else None


class Broken:
    """Raises in every hook it implements."""

    @hookimpl
    def roadcam_configure(self, appliance):
        raise RuntimeError("cannot configure")

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        raise RuntimeError(f"bad frame {frame.index}")

    @hookimpl
    def roadcam_collect_health(self, appliance):
        raise ValueError("no figures")

    @hookimpl
    def roadcam_command(self, name, payload):
        raise RuntimeError("handler broke")

    @hookimpl
    def roadcam_event(self, event):
        raise RuntimeError("observer broke")


def faults(tmp_path):
    return {(e.data["code"], e.data["component"]): e.data["message"] for e in stored(tmp_path, "fault.raised")}


def test_a_raising_plugin_loses_only_its_own_answers_and_its_fault_names_it(tmp_path, monkeypatch):
    broken = "broken_plugin"  # a plugin module named in ROADCAM_PLUGINS, as on a bench
    monkeypatch.setitem(sys.modules, broken, types.SimpleNamespace(plugin=Broken()))
    monkeypatch.setenv("ROADCAM_PLUGINS", broken)
    run_for(build_appliance(tmp_path, plugins=[Healthy()], cameras=camera(tmp_path, 10)))
    assert [e.data["frame"] for e in stored(tmp_path, "test.healthy")] == list(range(10))
    raised = faults(tmp_path)
    assert raised[("plugin.error", f"{broken}/roadcam_analyze")] == "RuntimeError: bad frame 0"
    assert raised[("plugin.error", f"{broken}/roadcam_configure")] == "RuntimeError: cannot configure"
    assert raised[("plugin.error", f"{broken}/roadcam_collect_health")] == "ValueError: no figures"
    assert raised[("plugin.error", f"{broken}/roadcam_event")] == "RuntimeError: observer broke"
    assert all(code == "plugin.error" and component.startswith(broken + "/") for code, component in raised)
    (health,) = stored(tmp_path, "health")
    assert health.data["healthy"] == {"ok": True}
    assert f"plugin.error:{broken}/roadcam_analyze" in health.data["faults"]
    assert stored(tmp_path, "fault.cleared") == []  # the broken plugin never recovered


def test_a_raising_command_handler_does_not_settle_the_command(tmp_path):
    appliance = build_appliance(tmp_path, plugins=[Healthy(), Broken()])
    appliance.start()
    try:
        # the broken handler answers first (registered last) and raises; the healthy one settles it
        assert appliance.command("ping", {}) == {"ok": True, "by": "healthy"}
        # nobody handles "reboot": the broken handler's error is the answer, not "no plugin handles"
        assert appliance.command("reboot", {}) == {"ok": False, "error": "RuntimeError: handler broke"}
    finally:
        appliance.shutdown()
    assert [r.data["result"] for r in stored(tmp_path, "command.result")] == [
        {"ok": True, "by": "healthy"}, {"ok": False, "error": "RuntimeError: handler broke"}]


class Flaky:
    """Raises on some frames; answers on the others."""

    def __init__(self, fail_on):
        self.fail_on = fail_on

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        if frame.index in self.fail_on:
            raise RuntimeError(f"bad frame {frame.index}")
        return [EventDraft("test.flaky", {"frame": frame.index}, frame.time_ns)]


def test_a_plugin_fault_is_raised_once_and_cleared_by_its_next_good_answer(tmp_path):
    run_for(build_appliance(tmp_path, plugins=[Flaky({2, 3}), Healthy()], cameras=camera(tmp_path, 6)))
    assert [e.data["frame"] for e in stored(tmp_path, "test.healthy")] == list(range(6))
    assert [e.data["frame"] for e in stored(tmp_path, "test.flaky")] == [0, 1, 4, 5]
    (raised,) = stored(tmp_path, "fault.raised")
    (cleared,) = stored(tmp_path, "fault.cleared")
    assert raised.data["component"] == cleared.data["component"] == "Flaky/roadcam_analyze"
    assert raised.data["message"] == "RuntimeError: bad frame 2"
    assert cleared.seq > raised.seq
