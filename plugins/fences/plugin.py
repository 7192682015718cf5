"""Wiring: the ``fences`` section, the per-appliance state, and the ``roadcam fence`` command.

:class:`Fences` runs on the analysis thread. Each frame it places the camera's tracks on its
fences and lets every rule look at them; when a track ends, each rule turns what it saw into
violations. A violation waits for its vehicle's plate
(:class:`~roadcam.appliance.plate_wait.PlateWait`, the wait the speed plugin shares): it is
stored once its track has ended and the track's ``plate.read`` (from plate_capture, when that
plugin read one) has been seen, or ``plate_wait_s`` after the track ended without one; what is
still waiting at shutdown is stored then; the health figures count those waiting
(``plate_waiting``) and how long the oldest has (``plate_oldest_wait_s``). A vehicle crossing
a counting line (``count: true``) is a ``line.crossed`` event when its track ends
(:mod:`.counting`).

While a camera's view is not the one its fences were drawn on (the diagnostics plugin's
``camera.view_changed``, or frozen or missing frames), nothing is judged on that camera: the
fault is the report, never a violation drawn from fences that no longer lie on the road. A
violation already waiting for its plate still goes out ``plate_wait_s`` after its track ends
(the tracker ends a track it lost whether the fences follow it or not). While no frames come,
no track ends: a violation of that camera goes out, from ``roadcam_tick``, once the camera has
sent nothing for ``plate_wait_s`` and ``plate_wait.SILENT_S`` (60 s) more, with its plate if one
was read.
Missing frames do not blind a video file's fences: a file drops no frame and its view cannot
move, and its frames, stamped with the recording's time, fall behind the wall clock whenever
the analysis is slower than the recording, which the diagnostics read as a camera that stopped.
"""

from __future__ import annotations

from typing import Any

from roadcam.appliance.events import EventDraft
from roadcam.appliance.geometry import RoadGeometry
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.plate_wait import PlateRead, PlateWait

from .config import SECTION, FencesConfig
from .context import CameraContext
from .counting import LineCounter
from .evidence import Violation
from .rules.dwell import Dwell
from .rules.fail_to_yield import FailToYield
from .rules.lane_class import LaneClass
from .rules.red_light import RedLight
from .rules.restricted import Restricted
from .rules.solid_line import SolidLine
from .rules.stop_line import StopLine
from .rules.wrong_lane import WrongLane
from .signals import SignalBook

#: Faults after which a camera's fences no longer lie where they were drawn.
BLINDING = ("camera.view_changed", "camera.frozen", "camera.no_frames")


class Fences:
    """The rules of one appliance over its cameras' fences."""

    def __init__(self, appliance, config: FencesConfig):
        self.appliance = appliance
        self.config = config
        self.signals = SignalBook(lambda code, head, message: appliance.raise_fault(code, head, message),
                                  appliance.clear_fault, config.lamp_debounce_ms)
        calibrations = {camera.name: camera.calibration for camera in appliance.config.cameras}
        buffer_frames = config.red_light.frames_before + 1
        self.cameras = {}
        for fences in config.cameras:
            calibration = calibrations.get(fences.camera)
            geometry = RoadGeometry(calibration.image_points, calibration.road_points) if calibration else None
            self.cameras[fences.camera] = CameraContext(fences, geometry, config, buffer_frames)
        self.rules = [RedLight(config, self.signals), StopLine(config, self.signals), WrongLane(config),
                      Dwell("illegal_parking", config, self.signals), Dwell("box_blocking", config, self.signals),
                      Dwell("scooter_box", config, self.signals),
                      LaneClass(config), Restricted(config), SolidLine(config), FailToYield(config)]
        self.counter = LineCounter()
        #: Cameras whose source is a video file (no frame is ever missing from one).
        self.files = {camera.name for camera in appliance.config.cameras if _is_file(camera.source)}
        self.waiting: PlateWait[Violation] = PlateWait(config.plate_wait_s, appliance.clock)
        self.counts: dict[str, int] = {}

    @hookimpl
    def roadcam_signal_changed(self, head: str, state: str, time_ns: int) -> list[EventDraft]:
        self.signals.change(head, state, time_ns)
        return []

    @hookimpl
    def roadcam_lamps_changed(self, head: str, lit: tuple[str, ...], time_ns: int) -> list[EventDraft]:
        self.signals.lamps(head, lit, time_ns)
        return []

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals) -> list[EventDraft]:
        self.waiting.seen(frame.camera)
        for head, view in signals.items():
            self.signals.seed(head, view.state, view.since_ns)
        self.signals.settle(frame.time_ns)
        ctx = self.cameras.get(frame.camera)
        if ctx is not None and ctx.blind:
            ctx.placer.placed.clear()   # no crossing or stand spans a moved view
        elif ctx is not None:
            ctx.frames.add(frame)
            ctx.people = ctx.placer.people(frame, tracks)
            for placed in ctx.placer.update(frame, tracks):
                ctx.note_approach(placed)
                ctx.note_turn(placed)
                self.counter.step(ctx, placed, frame)
                for rule in self.rules:
                    self._hold(rule.step(ctx, placed, frame))
        return self._drafts(self.waiting.due(frame.time_ns))

    @hookimpl
    def roadcam_track_finished(self, track) -> list[EventDraft]:
        crossed = self.counter.finish(track)
        self.waiting.track_ended(track.camera, track.id, track.last_ns)
        ctx = self.cameras.get(track.camera)
        placed = ctx.placer.forget(track.id) if ctx is not None else None
        if placed is None:
            return crossed
        for rule in self.rules:
            self._hold(rule.finish(ctx, placed))
        return crossed

    @hookimpl
    def roadcam_tick(self, now_ns: int) -> list[EventDraft]:
        """Whether frames come or not: the violations of a camera that stopped sending frames
        (whose tracks end no more) go out here."""
        return self._drafts(self.waiting.due(now_ns))

    @hookimpl
    def roadcam_event(self, event) -> None:
        """Note plate reads (for the violations waiting for them), and faults that blind a camera's
        fences (stored on the analysis thread, so no lock is needed)."""
        if event.type in ("fault.raised", "fault.cleared") and event.data.get("code") in BLINDING:
            blinded = self.cameras.get(event.data.get("component"))
            if event.data["code"] == "camera.no_frames" and event.data.get("component") in self.files:
                return
            if blinded is not None:
                blinded.blind_by.discard(event.data["code"])
                if event.type == "fault.raised":
                    blinded.blind_by.add(event.data["code"])
            return
        self.waiting.note(event)

    @hookimpl
    def roadcam_finish(self, appliance) -> list[EventDraft]:
        """Judge the tracks the core finished last, and store every violation still waiting for
        its plate, before the outbox drains."""
        for ctx in self.cameras.values():
            for track_id in list(ctx.placer.placed):
                placed = ctx.placer.forget(track_id)
                for rule in self.rules:
                    self._hold(rule.finish(ctx, placed))
        return self._drafts(self.waiting.flush())

    @hookimpl
    def roadcam_collect_health(self, appliance) -> dict[str, Any]:
        return {SECTION: {"violations": dict(self.counts), **self.waiting.health(),
                          "crossings": {line: dict(counts) for line, counts in self.counter.totals.items()}}}

    def _hold(self, violations: list[Violation]) -> None:
        for violation in violations:
            self.waiting.hold(violation.camera, violation.track_id, violation)

    def _drafts(self, ready: list[tuple[Violation, PlateRead | None]]) -> list[EventDraft]:
        """The events of violations whose wait for a plate is over."""
        for violation, _ in ready:
            self.counts[violation.rule] = self.counts.get(violation.rule, 0) + 1
        return [violation.draft(plate) for violation, plate in ready]


def _is_file(source) -> bool:
    """An OpenCV source that is a video file, not a stream or a device."""
    return getattr(source, "type", None) == "opencv" and not (source.is_stream or source.is_device)


class FencesPlugin:
    """The module's ``plugin``: declares the section, builds :class:`Fences`, adds the command."""

    @hookimpl
    def roadcam_config_section(self):
        return SECTION, FencesConfig

    @hookimpl
    def roadcam_configure(self, appliance):
        config = appliance.config.section(SECTION)
        if config.cameras:
            appliance.plugin_manager.register(Fences(appliance, config), name=f"{SECTION}.rules")

    @hookimpl
    def roadcam_register_commands(self, commands):
        from .cli import register

        register(commands)


plugin = FencesPlugin()
