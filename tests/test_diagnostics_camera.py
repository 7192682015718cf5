"""Camera self-diagnostics (issue 26): every camera fault injected into the simulator's frames
is raised within 10 s of simulated time at 25 fps and cleared after it ends; normal day and
night runs raise none; the fault board gives each fault a stable id, severity and first and
last seen."""

from __future__ import annotations

import functools
import threading
import time

import cv2
import numpy as np
import pytest

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.faults import FaultBoard
from roadcam.appliance.hookspecs import hookimpl
from roadcam.hal.base import Camera, Frame
from roadcam.plugins.diagnostics.camera import CameraChecks
from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.protocol.events import utc_ns
from roadcam.sim.faults import CameraFault, FaultyCamera
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import load_scenario

DETECT_WITHIN_S = 10.0


def run_checks(scenario: str, faults: list[CameraFault], duration_s: float, width_px: int | None = None):
    """Drive the camera checks with the scenario's frames (faults injected; rendered ``width_px``
    wide to be quicker when given); returns the changes as (action, code, scenario seconds,
    message) in order, one raise per fault."""
    return run_checks_each(scenario, [faults], duration_s, width_px)[0]


class OneFrameAtATime(Camera):
    """A camera that hands on the one frame it was last given, once: a :class:`FaultyCamera`
    over it returns that frame spoiled, or None where its faults drop it."""

    def __init__(self, name: str):
        self.name, self.frame = name, None

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def live(self) -> bool:
        return False

    def read(self) -> Frame | None:
        frame, self.frame = self.frame, None
        return frame


def run_checks_each(scenario: str, fault_sets: list[list[CameraFault]], duration_s: float,
                    width_px: int | None = None) -> list[list]:
    """:func:`run_checks` for each list of faults in ``fault_sets``, on one rendering of the
    scenario: every frame goes through each list's own FaultyCamera, camera checks and fault
    board, in the order each would see it alone (rendering is most of the time; the frames are
    read-only, so no run can change another's)."""
    loaded = load_scenario(scenario).model_copy(update={"duration_s": duration_s})
    if width_px is not None:
        camera = loaded.camera
        loaded = loaded.model_copy(update={"camera": camera.model_copy(update={
            "width_px": width_px, "height_px": camera.height_px * width_px // camera.width_px})})
    road = SimRoad.from_scenario(loaded)
    source = road.camera(loaded.camera.name)
    runs = []
    for faults in fault_sets:
        board, changes, now = FaultBoard(), [], {"ns": 0}

        def raise_fault(code, component, message, severity, board=board, changes=changes, now=now):
            for draft in board.raise_fault(code, component, message, now["ns"], severity):
                changes.append(("raised", code, (now["ns"] - loaded.start_ns) / 1e9, draft.data))

        def clear_fault(code, component, board=board, changes=changes, now=now):
            for draft in board.clear_fault(code, component, now["ns"]):
                changes.append(("cleared", code, (now["ns"] - loaded.start_ns) / 1e9, draft.data))

        given = OneFrameAtATime(source.name)
        runs.append((given, FaultyCamera(given, faults, loaded.start_ns, loaded.fps),
                     CameraChecks(DiagnosticsConfig(), raise_fault, clear_fault), changes, now))
    while (clean := source.read()) is not None:
        clean.image.flags.writeable = False
        for given, camera, checks, _, now in runs:
            given.frame = clean
            if (frame := camera.read()) is not None:
                now["ns"] = frame.time_ns
                checks.on_frame(frame.camera, frame.time_ns, frame.image)
    return [changes for _, _, _, changes, _ in runs]


CASES = [  # (kind, extra fault fields, the fault code it must raise)
    ("freeze", {}, "camera.frozen"),
    ("black", {}, "camera.dark"),
    ("washed_out", {}, "camera.washed_out"),
    ("blur", {}, "camera.blurred"),
    ("moved", {}, "camera.view_changed"),
    ("blocked", {}, "camera.view_changed"),
    ("drop", {"every": 2}, "camera.fps_low"),
    ("no_frames", {}, "camera.no_frames"),
]
#: When each case's fault is on (scenario seconds), in a 24 s run.
INJECTED_S = (6.0, 13.0)


@functools.cache
def each_case_run(scenario: str, width_px: int | None) -> dict[str, list]:
    """Each of :data:`CASES` injected alone into one 24 s run of ``scenario``: kind -> the
    changes, as :func:`run_checks` gives them (the scenario rendered once for all cases)."""
    runs = run_checks_each(scenario, [[CameraFault(kind, *INJECTED_S, **fields)] for kind, fields, _ in CASES],
                           duration_s=24.0, width_px=width_px)
    return {kind: changes for (kind, _, _), changes in zip(CASES, runs, strict=True)}


@pytest.mark.parametrize(("scenario", "width_px"), [("smoke", 640), pytest.param("smoke", None, marks=pytest.mark.slow),
                                                   pytest.param("night", None, marks=pytest.mark.slow)],
                         ids=["smoke-640px", "smoke", "night"])
@pytest.mark.parametrize(("kind", "fields", "code"), CASES, ids=[case[0] for case in CASES])
def test_an_injected_camera_fault_is_raised_within_10_s_and_cleared_after_it_ends(scenario, width_px, kind, fields,
                                                                                   code):
    start_s, end_s = INJECTED_S
    changes = each_case_run(scenario, width_px)[kind]
    assert [(action, c) for action, c, _, _ in changes] == [("raised", code), ("cleared", code)], changes
    (_, _, raised_s, raised), (_, _, cleared_s, cleared) = changes
    assert start_s <= raised_s <= start_s + DETECT_WITHIN_S
    assert end_s <= cleared_s <= end_s + DETECT_WITHIN_S
    assert raised["id"] == cleared["id"] == f"{code}:approach"
    assert raised["severity"] in ("critical", "major") and "approach" in raised["message"]
    assert cleared["first_seen"] == raised["first_seen"] and cleared["last_seen"] >= cleared["first_seen"]


def test_a_night_camera_without_its_ir_illuminator_is_raised_within_10_s_and_cleared():
    start_s, end_s = 5.0, 11.0
    changes = run_checks("night", [CameraFault("ir_off", start_s, end_s)], duration_s=18.0, width_px=640)
    assert [(action, c) for action, c, _, _ in changes] == [("raised", "camera.night_illumination"),
                                                            ("cleared", "camera.night_illumination")], changes
    (_, _, raised_s, raised), (_, _, cleared_s, _) = changes
    assert start_s <= raised_s <= start_s + DETECT_WITHIN_S and end_s <= cleared_s <= end_s + DETECT_WITHIN_S
    assert "IR illuminator" in raised["message"] and raised["severity"] == "critical"


def test_the_same_dim_image_by_day_is_no_illumination_fault():
    assert run_checks("smoke", [CameraFault("ir_off", 4.0, 10.0, strength=0.45)], duration_s=12.0, width_px=640) == []


def test_the_night_window_is_local_time_and_may_pass_midnight():
    config = DiagnosticsConfig(night_start="19:00", night_end="05:00", utc_offset_h=8)
    hour_ns = 3600 * 10**9
    assert [config.is_night(h * hour_ns) for h in (10, 11, 20, 21, 22)] == [False, True, True, False, False]
    # 10:00 UTC = 18:00 local, 11:00 = 19:00, 20:00 = 04:00, 21:00 = 05:00, 22:00 = 06:00


@pytest.mark.parametrize(("scenario", "duration_s"), [("smoke", 20.0), ("night", 60.0),
                                                    pytest.param("junction", 120.0, marks=pytest.mark.slow),
                                                    pytest.param("rain", 60.0, marks=pytest.mark.slow)])
def test_normal_traffic_raises_no_camera_fault(scenario, duration_s):
    assert run_checks(scenario, [], duration_s) == []


def test_the_fault_board_keeps_first_and_last_seen_and_checks_severity():
    board = FaultBoard()
    (raised,) = board.raise_fault("camera.dark", "north", "dark", 1_000_000_000, "critical")
    assert board.raise_fault("camera.dark", "north", "dark", 5_000_000_000, "critical") == []
    (cleared,) = board.clear_fault("camera.dark", "north", 6_000_000_000)
    assert raised.data["id"] == cleared.data["id"] == "camera.dark:north"
    assert cleared.data["first_seen"] == "1970-01-01T00:00:01.000000Z"
    assert cleared.data["last_seen"] == "1970-01-01T00:00:05.000000Z"
    assert cleared.data["duration_s"] == 5.0 and cleared.data["severity"] == "critical"
    with pytest.raises(ValueError, match="severity"):
        board.raise_fault("camera.dark", "north", "dark", 1, "urgent")


def run_appliance(tmp_path, scenario: str, faults: list[CameraFault], duration_s: float):
    """The real appliance (runtime, store, diagnostics plugin) on the simulated road, camera
    faults injected; detection and plate reading disabled to keep it quick. Returns the stored
    fault events and the scenario's start."""
    from roadcam.appliance.runtime import Appliance
    from roadcam.appliance.site import site_from_data
    from roadcam.appliance.store import read_events
    from roadcam.hal.hardware import Hardware

    loaded = load_scenario(scenario).model_copy(update={"duration_s": duration_s})
    road = SimRoad.from_scenario(loaded)
    site = road.site_config(tmp_path)
    site["plugins"] = {"disabled": ["detection", "plate_capture", "speed"]}
    config, manager = site_from_data(site, source="camera diagnostics test")
    hardware = Hardware(config, road.clock, pin_factory=road.pin_factory,
                        sim_cameras=lambda name: FaultyCamera(road.camera(name), faults, loaded.start_ns, loaded.fps))
    Appliance(config, manager, hardware, road.clock).run(install_signal_handlers=False)
    return read_events(config.storage.database, limit=10**6, types=["fault.raised", "fault.cleared"]), loaded.start_ns


def test_the_appliance_stores_a_camera_fault_raised_and_cleared(tmp_path):
    events, start_ns = run_appliance(tmp_path, "smoke", [CameraFault("freeze", 6.0, 12.0)], duration_s=20.0)
    assert [(e.type, e.data["id"]) for e in events] == [("fault.raised", "camera.frozen:approach"),
                                                        ("fault.cleared", "camera.frozen:approach")]
    raised, cleared = events
    assert raised.data["severity"] == "critical" and "restart the camera" in raised.data["message"]
    assert cleared.data["first_seen"] == raised.time and cleared.data["last_seen"] > raised.time
    assert cleared.time > raised.time


def test_the_appliance_on_a_normal_day_run_stores_no_camera_fault(tmp_path):
    events, _ = run_appliance(tmp_path, "smoke", [], duration_s=20.0)
    assert [e.data["id"] for e in events if e.data["code"].startswith("camera.")] == []


class StallingCamera(Camera):
    """A camera on a manual clock: ``before`` frames at 25 fps, then nothing until ``resume`` is
    set, then ``after`` more frames, then the end. Its image is a fixed scene with sensor noise."""

    def __init__(self, clock: ManualClock, before: int, after: int):
        self.name, self._clock = "north", clock
        self._left = [before, after]
        self.stalled, self.resume = threading.Event(), threading.Event()
        rng = np.random.default_rng(7)
        self._scene = cv2.resize(rng.integers(0, 255, (18, 32, 3), dtype=np.uint8), (640, 360),
                                 interpolation=cv2.INTER_NEAREST)
        self._index = 0

    def open(self) -> None:
        pass

    def close(self) -> None:
        self.resume.set()

    @property
    def live(self) -> bool:
        return False

    def read(self) -> Frame | None:
        if not self._left[0]:
            self._left.pop(0)
            if not self._left:
                return None
            self.stalled.set()
            self.resume.wait()
        self._left[0] -= 1
        self._clock.advance(0.04)
        noise = np.random.default_rng(self._index).integers(0, 3, self._scene.shape, dtype=np.uint8)
        self._index += 1
        return Frame(self.name, self._index - 1, self._clock.wall_ns(), self._clock.mono_ns(), self._scene + noise)


class TickRecorder:
    """Notes the time of every ``roadcam_tick`` and counts the frames analysed."""

    def __init__(self):
        self.ticks: list[int] = []
        self.frames = 0

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        self.frames += 1
        return []

    @hookimpl
    def roadcam_tick(self, now_ns):
        self.ticks.append(now_ns)
        return []


def test_a_camera_that_sends_nothing_is_caught_by_the_tick_within_10_s(tmp_path):
    """No frame arrives at all (the capture thread is blocked): the core's tick, not a frame,
    raises camera.no_frames within 10 s; it clears once frames flow again."""
    from roadcam.appliance.runtime import TICK_INTERVAL_S, Appliance
    from roadcam.appliance.site import site_from_data
    from roadcam.appliance.store import read_events
    from roadcam.hal.hardware import Hardware

    clock = ManualClock(start_wall_ns=1_800_000_000 * 10**9)
    camera = StallingCamera(clock, before=50, after=150)
    recorder = TickRecorder()
    config, manager = site_from_data({
        "device": {"id": "tn-test", "site": "tn-bench"},
        "storage": {"database": str(tmp_path / "events.db"), "evidence_dir": str(tmp_path / "evidence")},
        "gpio": {"pin_factory": "mock"},
        "cameras": [{"name": "north", "source": {"type": "sim"}}],
        "plugins": {"disabled": ["detection", "plate_capture", "speed"]}})
    manager.register(recorder)
    appliance = Appliance(config, manager, Hardware(config, clock, sim_cameras=lambda name: camera), clock)
    appliance.start()
    try:
        assert camera.stalled.wait(10)
        deadline = time.monotonic() + 10
        while recorder.frames < 50 and time.monotonic() < deadline:  # the outage starts after the last frame
            time.sleep(0.01)
        last_frame_ns = clock.wall_ns()
        for _ in range(5):  # five seconds without a frame, one tick each
            clock.advance(TICK_INTERVAL_S)
            deadline = time.monotonic() + 10
            while (not recorder.ticks or recorder.ticks[-1] < clock.wall_ns()) and time.monotonic() < deadline:
                time.sleep(0.01)
        camera.resume.set()
        appliance._analysis_thread.join(30)
    finally:
        appliance.shutdown()
    events = read_events(config.storage.database, limit=1000, types=["fault.raised", "fault.cleared"])
    changes = [(e.type, e.data["id"]) for e in events]
    assert changes == [("fault.raised", "camera.no_frames:north"), ("fault.cleared", "camera.no_frames:north")]
    raised_after_s = (utc_ns(events[0].time) - last_frame_ns) / 1e9
    no_frames_after_s = DiagnosticsConfig().no_frames_after_s  # frames resumed only at +5 s: this was the tick
    assert no_frames_after_s < raised_after_s <= no_frames_after_s + TICK_INTERVAL_S <= DETECT_WITHIN_S
    assert "north sent no frame" in events[0].data["message"]


class SlowAnalysis:
    """A plugin that takes ``seconds`` over every frame: the analysis runs slower than real time."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        time.sleep(self.seconds)
        return []


def test_a_recording_analysed_slower_than_real_time_is_no_camera_outage(tmp_path):
    """A video file's frames carry the file's own time, which falls behind the wall clock when
    the analysis is slower than real time; frames still come, so the tick raises nothing."""
    from appliances import build_appliance, run_for, stored
    from videos import moving_box, write_video

    video = write_video(tmp_path / "north.avi", moving_box(60), fps=25.0)  # 2.4 s of recording
    appliance = build_appliance(tmp_path, plugins=[SlowAnalysis(0.15)],  # about 9 s to analyse
                                cameras=[{"name": "north", "source": {"type": "opencv", "url": str(video)}}])
    run_for(appliance)
    assert stored(tmp_path, "health")[-1].data["cameras"]["north"]["processed"] == 60
    assert [e.data["id"] for e in stored(tmp_path, "fault.raised")] == []
