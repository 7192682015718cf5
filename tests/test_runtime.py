"""The Appliance through its public interface: real store, real OpenCV file cameras, mock pins."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pytest
from appliances import build_appliance, roadcam_run, run_for, site_data, stored
from gpiozero.pins.mock import MockFactory
from videos import moving_box, write_video

from roadcam.appliance.clock import Clock
from roadcam.appliance.events import EventDraft
from roadcam.appliance.framequeue import FrameQueue
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.appliance.store import read_events
from roadcam.hal.base import Camera, Frame
from roadcam.hal.hardware import Hardware


def video_camera(tmp_path, name="north", frames=40):
    path = write_video(tmp_path / f"{name}.avi", moving_box(frames), fps=25.0)
    return {"name": name, "source": {"type": "opencv", "url": str(path)}}


class Recorder:
    """Remembers what the analysis thread saw."""

    def __init__(self):
        self.frames = []
        self.loop_edges = []
        self.threads = set()

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        self.frames.append(frame.index)
        self.threads.add(threading.current_thread().name)
        return []

    @hookimpl
    def roadcam_loop_changed(self, loop, occupied, time_ns):
        self.loop_edges.append((loop, occupied, time_ns))
        self.threads.add(threading.current_thread().name)
        return []


def test_a_recorded_source_is_processed_whole_then_the_appliance_stops(tmp_path):
    recorder = Recorder()
    appliance = build_appliance(tmp_path, plugins=[recorder], cameras=[video_camera(tmp_path, frames=40)])
    run_for(appliance)
    assert recorder.frames == list(range(40))
    assert recorder.threads == {"analysis"}
    (health,) = stored(tmp_path, "health")
    camera = health.data["cameras"]["north"]
    assert (camera["captured"], camera["processed"], camera["dropped"]) == (40, 40, 0)
    assert camera["ended"] is True
    assert health.data["store"]["lost_events"] == 0
    assert "system" in health.data  # the diagnostics plugin's figures


def test_loop_edges_reach_plugins_on_the_analysis_thread_with_their_edge_time(tmp_path):
    factory = MockFactory()
    recorder = Recorder()
    appliance = build_appliance(tmp_path, plugins=[recorder], pin_factory=factory,
                                loops=[{"name": "lane1", "pin": "GPIO5"}])
    appliance.start()
    try:
        before_ns = time.time_ns()
        factory.pin("GPIO5").drive_low()
        time.sleep(0.3)  # the stamp must be the edge's, not the moment the thread got to it
        factory.pin("GPIO5").drive_high()
        deadline = time.monotonic() + 5
        while len(recorder.loop_edges) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        appliance.shutdown()
    (loop, occupied, on_ns), (_, free, off_ns) = recorder.loop_edges
    assert (loop, occupied, free) == ("lane1", True, False)
    assert 0 <= on_ns - before_ns < 50_000_000
    assert 0.25e9 < off_ns - on_ns < 0.35e9
    assert recorder.threads == {"analysis"}


def test_an_unreachable_camera_raises_one_fault_and_the_rest_keeps_running(tmp_path):
    recorder = Recorder()
    factory = MockFactory()
    appliance = build_appliance(
        tmp_path, plugins=[recorder], pin_factory=factory, loops=[{"name": "lane1", "pin": "GPIO5"}],
        cameras=[{"name": "south", "source": {"type": "opencv", "url": str(tmp_path / "missing.mp4")}}])
    appliance.start()
    try:
        time.sleep(1.5)  # long enough for a retry
        factory.pin("GPIO5").drive_low()
        time.sleep(0.2)
    finally:
        appliance.shutdown()
    (fault,) = stored(tmp_path, "fault.raised")
    assert fault.data["code"] == "camera.unavailable" and fault.data["component"] == "south"
    assert "missing.mp4" in fault.data["message"]
    assert [edge[:2] for edge in recorder.loop_edges] == [("lane1", True)]


def test_a_missing_serial_port_is_a_fault_not_a_crash(tmp_path):
    appliance = build_appliance(tmp_path, serial=[{"name": "controller", "port": str(tmp_path / "ttyUSB9")}],
                                cameras=[video_camera(tmp_path, frames=5)])
    run_for(appliance)
    (fault,) = stored(tmp_path, "fault.raised")
    assert fault.data["code"] == "hardware.unavailable"
    assert "controller" in fault.data["message"] and "ttyUSB9" in fault.data["message"]
    assert stored(tmp_path, "health")[0].data["cameras"]["north"]["processed"] == 5


class Exploding:
    def __init__(self, fail_on):
        self.fail_on = fail_on

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        if frame.index in self.fail_on:
            raise RuntimeError(f"bad frame {frame.index}")
        return [EventDraft("test.seen", {"frame": frame.index}, frame.time_ns)]


def test_a_plugin_that_raises_is_a_fault_and_later_frames_still_run(tmp_path):
    appliance = build_appliance(tmp_path, plugins=[Exploding(fail_on={3, 4})],
                                cameras=[video_camera(tmp_path, frames=10)])
    run_for(appliance)
    assert [e.data["frame"] for e in stored(tmp_path, "test.seen")] == [0, 1, 2, 5, 6, 7, 8, 9]
    (raised,) = stored(tmp_path, "fault.raised")
    (cleared,) = stored(tmp_path, "fault.cleared")
    assert raised.data == {"code": "plugin.error", "component": "Exploding/roadcam_analyze",
                           "message": "RuntimeError: bad frame 3", "id": "plugin.error:Exploding/roadcam_analyze",
                           "severity": "major", "first_seen": raised.time}
    assert cleared.data["id"] == raised.data["id"] and cleared.data["first_seen"] == raised.time
    assert cleared.seq > raised.seq


def test_events_are_gap_free_and_chained(tmp_path):
    appliance = build_appliance(tmp_path, plugins=[Exploding(fail_on=set())],
                                cameras=[video_camera(tmp_path, frames=20)])
    run_for(appliance)
    events = stored(tmp_path)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(later.prev == earlier.digest() for earlier, later in zip(events, events[1:]))


def test_a_live_queue_drops_the_oldest_and_counts_it():
    wakeup, stop = threading.Condition(), threading.Event()
    queue = FrameQueue(2, live=True, wakeup=wakeup)
    for index in range(5):
        assert queue.put(index, stop)
    with wakeup:
        assert [queue.take(), queue.take(), queue.take()] == [3, 4, None]
    assert (queue.counts.captured, queue.counts.dropped) == (5, 3)


def test_a_recorded_queue_waits_instead_of_dropping():
    wakeup, stop = threading.Condition(), threading.Event()
    queue = FrameQueue(1, live=False, wakeup=wakeup)
    queue.put("first", stop)
    producer = threading.Thread(target=queue.put, args=("second", stop))
    producer.start()
    time.sleep(0.2)
    assert producer.is_alive()  # waiting for space, not dropping
    with wakeup:
        assert queue.take() == "first"
    producer.join(timeout=2)
    with wakeup:
        assert queue.take() == "second"
    assert queue.counts.dropped == 0


class Echo:
    @hookimpl
    def roadcam_command(self, name, payload):
        return {"ok": True, "echo": payload} if name == "echo" else None


def test_commands_are_answered_and_stored(tmp_path):
    appliance = build_appliance(tmp_path, plugins=[Echo()])
    appliance.start()
    try:
        assert appliance.command("echo", {"x": 1}) == {"ok": True, "echo": {"x": 1}}
        assert appliance.command("reboot", {}) == {"ok": False, "error": "no plugin handles the command 'reboot'"}
    finally:
        appliance.shutdown()
    results = stored(tmp_path, "command.result")
    assert [r.data["command"] for r in results] == ["echo", "reboot"]


@pytest.mark.slow
def test_roadcam_run_stops_cleanly_on_sigterm_and_talks_to_systemd(tmp_path):
    with roadcam_run(tmp_path, health_interval_s=0.5, WATCHDOG_USEC="400000") as (process, notify):
        messages = [notify.recv(4096).decode() for _ in range(3)]
        assert messages[0].startswith("READY=1")
        assert "WATCHDOG=1" in messages[1:]
        time.sleep(1.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert "Traceback" not in process.stderr.read()
    assert len(read_events(tmp_path / "events.db", types=["health"])) >= 2



class FlakyDriver(Camera):
    """A camera driver with a bug: its ``fail_at``-th read raises a plain ValueError (not the
    CameraUnavailable a driver should raise); the reads around it deliver frames."""

    def __init__(self, name: str, *, live: bool, fail_at: int = 3, frames: int = 12):
        self.name, self._live, self.fail_at, self.frames = name, live, fail_at, frames
        self.reads = self.opens = 0

    def open(self):
        self.opens += 1

    def read(self):
        self.reads += 1
        if self.reads == self.fail_at:
            raise ValueError("buffer index out of range")
        if self.reads > self.frames:
            if not self._live:
                return None
            time.sleep(0.05)  # a live camera with nothing new; the test stops the appliance
        return Frame(self.name, self.reads, time.time_ns(), time.monotonic_ns(), np.zeros((48, 64, 3), np.uint8))

    @property
    def live(self):
        return self._live

    def close(self):
        pass


@pytest.mark.parametrize("live", [True, False])
def test_a_camera_driver_bug_is_a_fault_not_a_dead_capture_thread(tmp_path, live):
    driver = FlakyDriver("south", live=live)
    config, manager = site_from_data(site_data(tmp_path, cameras=[{"name": "south", "source": {"type": "sim"}}]))
    clock = Clock()
    hardware = Hardware(config, clock, pin_factory=MockFactory(), sim_cameras=lambda name: driver)
    run_for(Appliance(config, manager, hardware, clock), 4.0 if live else None)
    (fault,) = [event for event in stored(tmp_path, "fault.raised") if event.data["code"] == "camera.unavailable"]
    assert fault.data["component"] == "south"
    assert "ValueError('buffer index out of range')" in fault.data["message"]
    processed = stored(tmp_path, "health")[-1].data["cameras"]["south"]["processed"]
    if live:  # reopened after the backoff, and the frames after it analysed
        assert driver.opens == 2 and processed > driver.frames - driver.fail_at
        assert "camera.unavailable" in [event.data["code"] for event in stored(tmp_path, "fault.cleared")]
    else:  # a recording that fails would fail the same way again: it ends, its two frames analysed
        assert driver.opens == 1 and processed == driver.fail_at - 1
