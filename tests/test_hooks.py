"""Every hook is documented and every hook has a test here (named test_hook_<hook name>).

Each test drives a real Appliance (real store, an OpenCV file camera, mock pins) with a small
plugin implementing the hook, and checks what the hook received and what came of its answer.
"""

from __future__ import annotations

import inspect
import sys
import time

import pytest
from appliances import build_appliance, run_for, stored
from gpiozero.pins.mock import MockFactory
from pydantic import Field
from videos import moving_box, write_video

from roadcam.appliance import hookspecs
from roadcam.appliance.config import Section
from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.site import site_from_data
from roadcam.appliance.tracking import Detection
from roadcam.common.errors import ConfigError
from roadcam.protocol.events import utc_ns

HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("roadcam_"))


def camera(tmp_path, frames=12):
    path = write_video(tmp_path / "north.avi", moving_box(frames), fps=25.0)
    return [{"name": "north", "source": {"type": "opencv", "url": str(path)}}]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_and_tested(name):
    spec = getattr(hookspecs, name)
    assert spec.__doc__ and len(spec.__doc__.split()) >= 8, f"{name} needs a docstring"
    assert hasattr(sys.modules[__name__], f"test_hook_{name}"), f"no test_hook_{name} in {__file__}"


class SpeedSection(Section):
    """A plugin's own config section."""

    limit_kmh: int = Field(50, gt=0, title="Limit", description="Speed limit in km/h.")


class SectionPlugin:
    @hookimpl
    def roadcam_config_section(self):
        return "speed_test", SpeedSection


def test_hook_roadcam_config_section(monkeypatch):
    from roadcam.appliance import plugins

    monkeypatch.setattr(plugins, "BUILTIN_PLUGINS", plugins.BUILTIN_PLUGINS + (("speed_test", __name__ + "_section"),))
    monkeypatch.setitem(sys.modules, __name__ + "_section", type(sys)("section"))
    sys.modules[__name__ + "_section"].plugin = SectionPlugin()
    config, _ = site_from_data({"device": {"id": "tn-test", "site": "tn-bench"}, "speed_test": {"limit_kmh": 60}})
    assert config.section("speed_test").limit_kmh == 60
    with pytest.raises(ConfigError) as caught:
        site_from_data({"device": {"id": "tn-test", "site": "tn-bench"}, "speed_test": {"limit": 60}})
    assert "speed_test.limit: unknown key" in caught.value.problems[0]


class Lifecycle:
    def __init__(self):
        self.calls = []

    @hookimpl
    def roadcam_configure(self, appliance):
        self.calls.append(("configure", appliance.store is not None))

    @hookimpl
    def roadcam_finish(self, appliance):
        self.calls.append(("finish", appliance.store is not None))
        return [EventDraft("bench.left_open", {"note": "stored at shutdown"}, appliance.clock.wall_ns())]

    @hookimpl
    def roadcam_unconfigure(self, appliance):
        self.calls.append(("unconfigure", appliance.store is not None))


def test_hook_roadcam_configure(tmp_path):
    plugin = Lifecycle()
    run_for(build_appliance(tmp_path, plugins=[plugin], cameras=camera(tmp_path, 3)))
    assert plugin.calls[0] == ("configure", True)  # the store is open before plugins configure


def test_hook_roadcam_unconfigure(tmp_path):
    plugin = Lifecycle()
    run_for(build_appliance(tmp_path, plugins=[plugin], cameras=camera(tmp_path, 3)))
    assert plugin.calls == [("configure", True), ("finish", True), ("unconfigure", True)]


def test_hook_roadcam_finish(tmp_path):
    """What a plugin still holds at shutdown is stored before the outbox drains, so a drain
    that waits for the collector waits for it too."""
    plugin = Lifecycle()
    appliance = build_appliance(tmp_path, plugins=[plugin], cameras=camera(tmp_path, 3))
    pending_when_draining = []
    appliance.wait_until_delivered = lambda timeout_s: pending_when_draining.append(appliance.store.usage().pending)
    run_for(appliance)
    (event,) = stored(tmp_path, "bench.left_open")
    assert event.data == {"note": "stored at shutdown"}
    assert pending_when_draining and pending_when_draining[0] >= 1  # the drain saw it waiting


class FixedDetector:
    """Reports one car at a fixed place in every frame, and remembers what followed."""

    def __init__(self):
        self.analysed_tracks = []
        self.finished = []

    @hookimpl
    def roadcam_detect(self, frame, geometry):
        return [Detection(box=(100.0, 100.0, 140.0, 130.0), kind="bus", score=0.9, source="test")]

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        self.analysed_tracks.append([t.id for t in tracks if t.kind == "bus"])
        return []

    @hookimpl
    def roadcam_track_finished(self, track):
        if track.kind == "bus":
            self.finished.append(track)
            return [EventDraft("test.track", {"id": track.id, "points": len(track.points)}, track.last_ns)]
        return []


def test_hook_roadcam_detect(tmp_path):
    plugin = FixedDetector()
    run_for(build_appliance(tmp_path, plugins=[plugin], cameras=camera(tmp_path, 12)))
    ids = {i for frame_ids in plugin.analysed_tracks for i in frame_ids}
    assert len(ids) == 1  # the detections became one track
    assert sum(1 for frame_ids in plugin.analysed_tracks if frame_ids) >= 8


def test_hook_roadcam_track_finished(tmp_path):
    plugin = FixedDetector()
    run_for(build_appliance(tmp_path, plugins=[plugin], cameras=camera(tmp_path, 12)))
    (track,) = plugin.finished
    assert len(track.points) == 12 and track.points[0].box == (100.0, 100.0, 140.0, 130.0)
    (event,) = stored(tmp_path, "test.track")
    assert event.data == {"id": track.id, "points": 12}


class FrameCounter:
    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        return [EventDraft("test.frame", {"index": frame.index, "camera": frame.camera}, frame.time_ns)]


def test_hook_roadcam_analyze(tmp_path):
    run_for(build_appliance(tmp_path, plugins=[FrameCounter()], cameras=camera(tmp_path, 6)))
    events = stored(tmp_path, "test.frame")
    assert [e.data["index"] for e in events] == list(range(6))
    assert events[1].time > events[0].time


class EdgeRecorder:
    def __init__(self):
        self.signal_edges, self.loop_edges, self.signals_seen = [], [], []

    @hookimpl
    def roadcam_signal_changed(self, head, state, time_ns):
        self.signal_edges.append((head, state, time_ns))
        return [EventDraft("test.signal", {"head": head, "state": state}, time_ns)]

    @hookimpl
    def roadcam_loop_changed(self, loop, occupied, time_ns):
        self.loop_edges.append((loop, occupied, time_ns))
        return [EventDraft("test.loop", {"loop": loop, "occupied": occupied}, time_ns)]


def drive_and_wait(factory, plugin, actions, count_of, count):
    for pin, level in actions:
        getattr(factory.pin(pin), "drive_high" if level else "drive_low")()
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while len(count_of(plugin)) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_hook_roadcam_signal_changed(tmp_path):
    factory, plugin = MockFactory(), EdgeRecorder()
    appliance = build_appliance(tmp_path, plugins=[plugin], pin_factory=factory,
                                signals=[{"head": "main", "red": "GPIO17", "amber": "GPIO27", "green": "GPIO22"}])
    appliance.start()
    try:
        assert appliance.signals["main"].state == "dark"
        drive_and_wait(factory, plugin, [("GPIO22", 1), ("GPIO22", 0), ("GPIO27", 1), ("GPIO27", 0), ("GPIO17", 1)],
                       lambda p: p.signal_edges, 5)
        assert appliance.signals["main"].state == "red"
    finally:
        appliance.shutdown()
    assert [s for _, s, _ in plugin.signal_edges] == ["green", "dark", "amber", "dark", "red"]
    times = [t for _, _, t in plugin.signal_edges]
    assert times == sorted(times)
    assert [e.data["state"] for e in stored(tmp_path, "test.signal")] == ["green", "dark", "amber", "dark", "red"]


class LampRecorder:
    def __init__(self):
        self.lamp_edges = []

    @hookimpl
    def roadcam_lamps_changed(self, head, lit, time_ns):
        self.lamp_edges.append((head, lit, time_ns))
        return [EventDraft("test.lamps", {"head": head, "lit": list(lit)}, time_ns)]


def test_hook_roadcam_lamps_changed(tmp_path):
    """Every lamp edge, with every lamp lit: red and green together show, which the state hides."""
    factory, plugin = MockFactory(), LampRecorder()
    appliance = build_appliance(tmp_path, plugins=[plugin], pin_factory=factory,
                                signals=[{"head": "main", "red": "GPIO17", "amber": "GPIO27", "green": "GPIO22"}])
    appliance.start()
    try:
        drive_and_wait(factory, plugin, [("GPIO17", 1), ("GPIO22", 1), ("GPIO17", 0)], lambda p: p.lamp_edges, 4)
    finally:
        appliance.shutdown()
    assert [lit for _, lit, _ in plugin.lamp_edges] == [(), ("red",), ("red", "green"), ("green",)]
    times = [t for _, _, t in plugin.lamp_edges]
    assert times == sorted(times)
    assert [e.data["lit"] for e in stored(tmp_path, "test.lamps")] == [[], ["red"], ["red", "green"], ["green"]]


def test_hook_roadcam_loop_changed(tmp_path):
    factory, plugin = MockFactory(), EdgeRecorder()
    appliance = build_appliance(tmp_path, plugins=[plugin], pin_factory=factory,
                                loops=[{"name": "lane1", "pin": "GPIO5"},
                                       {"name": "lane2", "pin": "GPIO6", "active_high": True}])
    appliance.start()
    try:
        drive_and_wait(factory, plugin, [("GPIO5", 0), ("GPIO6", 1), ("GPIO5", 1)], lambda p: p.loop_edges, 3)
    finally:
        appliance.shutdown()
    assert ([(loop, occupied) for loop, occupied, _ in plugin.loop_edges]
            == [("lane1", True), ("lane2", True), ("lane1", False)])


class HealthReporter:
    @hookimpl
    def roadcam_collect_health(self, appliance):
        return {"test_plugin": {"ok": True, "cameras": len(appliance.config.cameras)}}


def test_hook_roadcam_collect_health(tmp_path):
    run_for(build_appliance(tmp_path, plugins=[HealthReporter()], cameras=camera(tmp_path, 3)))
    (health,) = stored(tmp_path, "health")
    assert health.data["test_plugin"] == {"ok": True, "cameras": 1}


class Ticker:
    @hookimpl
    def roadcam_tick(self, now_ns):
        return [EventDraft("test.tick", {}, now_ns)]


def test_hook_roadcam_tick(tmp_path):
    from roadcam.appliance.runtime import TICK_INTERVAL_S

    run_for(build_appliance(tmp_path, plugins=[Ticker()]), 1.7)  # no camera, no edge: ticks all the same
    times = [e.time for e in stored(tmp_path, "test.tick")]
    assert len(times) >= 2
    gaps_s = [(utc_ns(later) - utc_ns(earlier)) / 1e9 for earlier, later in zip(times, times[1:])]
    assert all(gap >= TICK_INTERVAL_S for gap in gaps_s)


class Commands:
    @hookimpl
    def roadcam_command(self, name, payload):
        if name == "snapshot":
            return {"ok": True, "camera": payload["camera"]}
        return None


class SecondCommands:
    @hookimpl
    def roadcam_command(self, name, payload):
        return {"ok": True, "by": "second"} if name in ("snapshot", "diagnose") else None


def test_hook_roadcam_command(tmp_path):
    appliance = build_appliance(tmp_path, plugins=[SecondCommands(), Commands()])
    appliance.start()
    try:
        # firstresult: the last registered plugin answers first and settles the call
        assert appliance.command("snapshot", {"camera": "north"}) == {"ok": True, "camera": "north"}
        assert appliance.command("diagnose", {}) == {"ok": True, "by": "second"}
    finally:
        appliance.shutdown()
    assert [e.data["command"] for e in stored(tmp_path, "command.result")] == ["snapshot", "diagnose"]


class Observer:
    def __init__(self):
        self.seen = []

    @hookimpl
    def roadcam_event(self, event):
        self.seen.append(event)
        raise RuntimeError("observers must not take the appliance down")


def test_hook_roadcam_event(tmp_path):
    observer = Observer()
    run_for(build_appliance(tmp_path, plugins=[observer, FrameCounter()], cameras=camera(tmp_path, 5)))
    assert [e.seq for e in observer.seen] == [e.seq for e in stored(tmp_path)]
    assert len(observer.seen) == 7  # five frames, the observer's own fault and the final health event
    (fault,) = stored(tmp_path, "fault.raised")
    assert fault.data["component"] == "Observer/roadcam_event"


class CommandLine:
    def __init__(self):
        self.ran = []

    @hookimpl
    def roadcam_register_commands(self, commands):
        count = commands.add_parser("count-frames", help="a plugin's own command")
        count.add_argument("--up-to", type=int, default=3)
        count.set_defaults(handler=lambda args: self.ran.append((args.up_to, args.verbose)) or 5)


def test_hook_roadcam_register_commands(monkeypatch, capsys):
    """A plugin's command joins the ``roadcam`` command line (the core's commands stay), gets
    the parsed arguments and its handler's answer is the exit status."""
    from roadcam.appliance.cli import main

    plugin = CommandLine()
    monkeypatch.setitem(sys.modules, __name__ + "_commands", type(sys)("commands"))
    sys.modules[__name__ + "_commands"].plugin = plugin
    monkeypatch.setenv("ROADCAM_PLUGINS", __name__ + "_commands")
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert "count-frames" in listed and "a plugin's own command" in listed and "events" in listed
    assert main(["-v", "count-frames", "--up-to", "7"]) == 5
    assert plugin.ran == [(7, True)]
