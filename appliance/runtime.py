"""The Appliance: one process, a capture thread per camera, one analysis thread, bounded queues.

Data flow: each capture thread reads its camera into a :class:`FrameQueue`; hardware callbacks
(lamp and loop edges, stamped at the edge) land in an inbox. The analysis thread is the only
thread that runs plugin hooks: it hands edges to ``roadcam_signal_changed`` /
``roadcam_lamps_changed`` / ``roadcam_loop_changed`` in time order, each frame to
``roadcam_detect`` → tracker → ``roadcam_analyze`` / ``roadcam_track_finished`` (then the
core's own ``track.finished`` per road user), calls ``roadcam_tick`` about once a second whether
anything arrives or not, and stores what they return. Events reach
observers (``roadcam_event``) only after the store has committed them.

Nothing here is fatal at run time: a camera that fails, a hook that raises, a full disk each
raise a fault event and the appliance keeps going. Every hook call goes to each plugin on its
own (:func:`~roadcam.appliance.plugins.call_each_plugin`), so a plugin that raises loses only its own
answer and its fault names it. A full store still gets its ``store.full`` fault: the store keeps
a reserve that only the store's own fault events may use.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from roadcam.common.errors import HardwareError, RoadcamError, StorageFull, StoreError
from roadcam.hal.base import Camera
from roadcam.protocol.events import Event

from .clock import Clock
from .config import CameraConfig, CoreConfig
from .events import EventDraft
from .faults import FaultBoard, LossLog
from .framequeue import FrameQueue, RateWindow
from .geometry import RoadGeometry
from .plugins import PluginAnswer, call_each_plugin
from .sdnotify import Notifier
from .store import EventStore
from .tracking import Track, Tracker
from .tracking.finished import finished_event

log = logging.getLogger("roadcam")

#: Longest a capture thread waits before retrying a camera that failed, in seconds.
MAX_RETRY_S = 30.0
#: Most commands waiting for the analysis thread; more are answered "busy" at once.
MAX_QUEUED_COMMANDS = 16
#: Part of the store's budget only the store's own fault events may fill, so that a full store
#: still stores its ``fault.raised`` and ``fault.cleared``. It must also hold the rows of the last
#: ordinary append admitted before the store was full (one frame's events, a few KiB).
STORE_RESERVE_BYTES = 64 * 1024
#: Least time between two log lines about events the store refused.
LOST_EVENTS_LOG_INTERVAL_S = 60.0
#: Longest the main thread waits for a stop signal before it looks whether the analysis thread has ended, in seconds.
SIGNAL_CHECK_S = 0.5
#: The signals that stop the appliance: systemd's stop (SIGTERM) and Ctrl-C (SIGINT).
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
#: Period of ``roadcam_tick`` (the appliance's clock), for checks of things that stop happening.
TICK_INTERVAL_S = 1.0


@dataclass(frozen=True)
class SignalView:
    """A signal head's state as the analysis thread knows it, and since when (UTC ns)."""

    state: str
    since_ns: int


@dataclass(frozen=True)
class _QueuedCommand:
    name: str
    payload: dict[str, Any]
    version: int
    reply: Callable[[dict[str, Any]], None]
    record: bool


@dataclass(order=True, frozen=True)
class _Edge:
    time_ns: int
    order: int
    hook: str
    arguments: tuple


class Appliance:
    """One roadcam site. Build it, then :meth:`run` (blocks until stopped or the sources end).

    ``hardware`` opens the devices the config names (:class:`roadcam.hal.hardware.Hardware`); ``clock``
    stamps everything (a :class:`ManualClock` under simulation). ``store`` may be given (tests);
    otherwise it is opened from ``config.storage``, with ``sign`` (``Event -> signature``,
    e.g. ``config.uplink.event_signer()``) signing every event it stores. ``drain_timeout_s``:
    how long shutdown waits for the collector to confirm the outbox before it stops the uplink
    (0 on a real site, where the outbox survives the restart; the bench uses it to end a run
    with everything delivered).
    """

    def __init__(self, config: CoreConfig, plugin_manager: pluggy.PluginManager, hardware,
                 clock: Clock, *, store: EventStore | None = None, notifier: Notifier | None = None,
                 sign: Callable[[Event], str] | None = None, drain_timeout_s: float = 0.0):
        self.config = config
        self.drain_timeout_s = drain_timeout_s
        self.plugin_manager = plugin_manager
        self.hardware = hardware
        self.clock = clock
        self.store = store
        self._sign = sign
        self.signals: dict[str, SignalView] = {}
        self.notifier = notifier or Notifier()
        self.faults = FaultBoard()
        self.lost_events = 0
        self._loss_log = LossLog(log, LOST_EVENTS_LOG_INTERVAL_S)
        self._telling = threading.local()  # per thread: is it telling observers about events?
        self._stop = threading.Event()
        self._wakeup = threading.Condition()
        self._edges: list[_Edge] = []
        self._edge_order = itertools.count()
        self._commands: collections.deque[_QueuedCommand] = collections.deque()
        self._queues: dict[str, FrameQueue] = {}
        self._rates: dict[str, RateWindow] = {}
        self._trackers: dict[str, Tracker] = {}
        self._geometry: dict[str, RoadGeometry | None] = {}
        self._threads: list[threading.Thread] = []
        self._started_mono_ns = 0
        self._next_health_ns = 0
        self._next_tick_ns = 0
        self._next_watchdog_s = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self, install_signal_handlers: bool = True) -> None:
        """Start, serve until SIGTERM/SIGINT, :meth:`stop` or the end of every finite source,
        then shut down cleanly.

        The kernel may hand a process's signal to any of its threads (OpenBLAS's and OpenCV's
        workers included), and CPython runs the Python handler only later, in the main thread, when
        a flag that another thread can clear says so. So the signal's low-level handler, whatever
        thread runs it, also writes the signal's number to a socket (``signal.set_wakeup_fd``),
        and the main thread waits on that socket and stops the appliance itself."""
        if not install_signal_handlers:
            self.start()
            try:
                self._analysis_thread.join()
            finally:
                self.shutdown()
            return
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda *_: self.stop())
        wakeup, woken_by = socket.socketpair()
        with wakeup, woken_by:
            for end in (wakeup, woken_by):
                end.setblocking(False)
            previous_wakeup_fd = signal.set_wakeup_fd(woken_by.fileno(), warn_on_full_buffer=False)
            try:
                self.start()
                self._serve_until_stopped(wakeup)
            finally:
                try:
                    self.shutdown()
                finally:
                    signal.set_wakeup_fd(previous_wakeup_fd)

    def _serve_until_stopped(self, wakeup: socket.socket) -> None:
        """Wait for the analysis thread to end; a stop signal's byte on ``wakeup`` stops it."""
        while self._analysis_thread.is_alive():
            if select.select([wakeup], [], [], SIGNAL_CHECK_S)[0] and set(wakeup.recv(64)) & STOP_SIGNALS:
                self.stop()

    def start(self) -> None:
        """Open the store, configure plugins, open hardware, start the threads."""
        if self.store is None:
            storage = self.config.storage
            self.store = EventStore(storage.database, storage.evidence_dir, device=self.config.device.id,
                                    site=self.config.device.site, budget_bytes=storage.budget_mb * 1024 * 1024,
                                    reserve_bytes=STORE_RESERVE_BYTES, sign=self._sign)
        self._started_mono_ns = self.clock.mono_ns()
        self._next_health_ns = self._started_mono_ns + int(self.config.health.interval_s * 1e9)
        self._call_hook("roadcam_configure", {"appliance": self})
        self._open_inputs()
        for camera_config in self.config.cameras:
            self._start_camera(camera_config)
        self._analysis_thread = threading.Thread(target=self._analysis_loop, name="analysis", daemon=True)
        self._threads.append(self._analysis_thread)
        self._analysis_thread.start()
        self.notifier.notify("READY=1", f"STATUS=watching {len(self.config.cameras)} camera(s)")
        log.info("roadcam %s at %s running", self.config.device.id, self.config.device.site)

    def stop(self) -> None:
        """Ask every thread to finish; returns at once (``run`` does the waiting)."""
        self._stop.set()
        with self._wakeup:
            self._wakeup.notify_all()

    def shutdown(self) -> None:
        """Join the threads, unconfigure plugins, close hardware and store. Idempotent."""
        self.stop()
        self.notifier.notify("STOPPING=1")
        for thread in self._threads:
            thread.join(timeout=10)
        if self.store is not None:
            self.submit(self._call("roadcam_finish", {"appliance": self}))  # the analysis thread has ended
            self.wait_until_delivered(self.drain_timeout_s)
            self._call_hook("roadcam_unconfigure", {"appliance": self})
            self.hardware.close()
            self.store.close()
            self.store = None
        log.info("roadcam stopped")

    def wait_until_delivered(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until the collector has confirmed every stored event;
        the uplink keeps delivering meanwhile. True when the outbox is empty."""
        deadline = time.monotonic() + timeout_s
        while self.store.usage().pending:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    # -- events --------------------------------------------------------------------------------

    def submit(self, drafts: list[EventDraft]) -> list[Event]:
        """Store drafts in one transaction, then tell observers.

        When the store refuses them (full, or failing) they are counted as lost and logged at a
        bounded rate, and a ``store.full`` (or ``store.failed``) fault is stored in the store's
        reserve; the next successful write clears it. The appliance keeps running.
        """
        if not drafts:
            return []
        try:
            events = self.store.append(drafts, self.clock.state())
        except StoreError as exc:
            self.lost_events += len(drafts)
            self._loss_log.lost(len(drafts), str(exc))
            code = "store.full" if isinstance(exc, StorageFull) else "store.failed"
            self._store_fault_change(self.faults.raise_fault(code, "store", str(exc), self.clock.wall_ns()))
            return []
        self._tell_observers(events)
        self._loss_log.recovered()
        for code in ("store.full", "store.failed"):
            self._store_fault_change(self.faults.clear_fault(code, "store", self.clock.wall_ns()))
        return events

    def _store_fault_change(self, drafts: list[EventDraft]) -> None:
        """Store the store's own fault events in its reserve, so they get out while ordinary
        events do not fit. If even that fails, they are counted as lost too."""
        if not drafts:
            return
        try:
            events = self.store.append(drafts, self.clock.state(), use_reserve=True)
        except StoreError as exc:
            self.lost_events += len(drafts)
            log.error("the store's own fault event could not be stored either: %s", exc)
            return
        self._tell_observers(events)

    def _tell_observers(self, events: list[Event]) -> None:
        """Hand each stored event to the ``roadcam_event`` observers.

        An observer that raises gets its fault like any plugin; but the events that fault
        stores are told to observers without raising or clearing observer faults (only
        logged), so an observer that fails on fault events cannot start an endless loop.
        """
        nested = getattr(self._telling, "active", False)
        self._telling.active = True
        try:
            for event in events:
                self._call_hook("roadcam_event", {"event": event}, faults=not nested)
        finally:
            self._telling.active = nested

    def command(self, name: str, payload: dict[str, Any], version: int = 0, record: bool = True) -> dict[str, Any]:
        """Run a command (of ``version``, see ``roadcam_command``) through ``roadcam_command``
        and, with ``record``, store its ``command.result`` event (the command's name and version,
        and the result). A retained copy handed on again is run without ``record``.

        An unknown command or a handler that raises gives ``{"ok": False, "error": …}``; the
        result is returned as well as stored, for the caller (the uplink) to send back.
        """
        outcomes = self._call_hook("roadcam_command", {"name": name, "payload": payload, "version": version})
        answers = [o.answer for o in outcomes if o.error is None and o.answer is not None]
        errors = [o.error for o in outcomes if o.error is not None]
        if answers:
            result = answers[0]
        elif errors:
            result = {"ok": False, "error": f"{type(errors[0]).__name__}: {errors[0]}"}
        else:
            result = {"ok": False, "error": f"no plugin handles the command {name!r}"}
        if record:
            self.submit([EventDraft("command.result", {"command": name, "version": version, "result": result},
                                    self.clock.wall_ns())])
        return result

    def enqueue_command(self, name: str, payload: dict[str, Any],
                        reply: Callable[[dict[str, Any]], None], version: int = 0, record: bool = True) -> None:
        """Run :meth:`command` on the analysis thread (where every hook runs) and call ``reply``
        there with its result (``record``: see :meth:`command`). Callable from any thread; never
        blocks. A stopping appliance or a full command queue answers ``{"ok": False, …}`` at once,
        on the caller's thread."""
        with self._wakeup:
            accepted = not self._stop.is_set() and len(self._commands) < MAX_QUEUED_COMMANDS
            if accepted:
                self._commands.append(_QueuedCommand(name, payload, version, reply, record))
                self._wakeup.notify_all()
        if not accepted:
            reply({"ok": False, "error": "the appliance is stopping or busy with other commands; "
                                         "send the command again later"})

    def _run_commands(self) -> None:
        while True:
            with self._wakeup:
                if not self._commands:
                    return
                queued = self._commands.popleft()
            try:
                queued.reply(self.command(queued.name, queued.payload, queued.version, queued.record))
            except Exception:  # a failing reply must not take the analysis thread down
                log.exception("replying to command %s failed", queued.name)

    def raise_fault(self, code: str, component: str, message: str, severity: str = "major") -> bool:
        """Record a fault (once while it stays active) as a ``fault.raised`` event, with its
        stable id (``code:component``), ``severity`` (critical, major, minor) and first-seen
        time; raising it again while active only moves its last-seen time. True when the
        fault is new."""
        drafts = self.faults.raise_fault(code, component, message, self.clock.wall_ns(), severity)
        self.submit(drafts)
        return bool(drafts)

    def clear_fault(self, code: str, component: str) -> None:
        """Record that a fault is over as a ``fault.cleared`` event (no-op when not active)."""
        self.submit(self.faults.clear_fault(code, component, self.clock.wall_ns()))

    # -- hardware ------------------------------------------------------------------------------

    def _open_inputs(self) -> None:
        now_ns = self.clock.wall_ns()
        openers: list[tuple[str, Callable[[], list]]] = [
            ("signals", self.hardware.open_signal_heads),
            ("loops", self.hardware.open_loops),
            ("outputs", self.hardware.open_outputs),
            ("serial", self.hardware.open_serial_links),
        ]
        for section, opener in openers:
            try:
                devices = opener()
            except (HardwareError, RoadcamError) as exc:
                self.raise_fault("hardware.unavailable", section, str(exc))
                continue
            for device in devices:
                if section == "signals":
                    self.signals[device.head] = SignalView(device.state, now_ns)
                    device.when_changed = self._on_signal_edge
                    device.when_lamps_changed = self._on_lamps_edge
                    self._on_lamps_edge(device.head, device.lit, now_ns)
                elif section == "loops":
                    device.when_changed = self._on_loop_edge
            if section == "signals":
                for controller in self.hardware.signal_controllers:
                    controller.when_fault = self.raise_fault
                    controller.when_fault_cleared = self.clear_fault
                    controller.start()

    def _on_signal_edge(self, head: str, state: str, time_ns: int) -> None:
        self._push_edge(time_ns, "roadcam_signal_changed", (head, state))

    def _on_lamps_edge(self, head: str, lit: tuple[str, ...], time_ns: int) -> None:
        self._push_edge(time_ns, "roadcam_lamps_changed", (head, lit))

    def _on_loop_edge(self, loop: str, occupied: bool, time_ns: int) -> None:
        self._push_edge(time_ns, "roadcam_loop_changed", (loop, occupied))

    def _push_edge(self, time_ns: int, hook: str, arguments: tuple) -> None:
        with self._wakeup:
            heapq.heappush(self._edges, _Edge(time_ns, next(self._edge_order), hook, arguments))
            self._wakeup.notify_all()

    def _start_camera(self, camera_config: CameraConfig) -> None:
        name = camera_config.name
        calibration = camera_config.calibration
        self._geometry[name] = (RoadGeometry(calibration.image_points, calibration.road_points)
                                if calibration else None)
        self._trackers[name] = Tracker(name, self.config.tracking, geometry=self._geometry[name])
        self._rates[name] = RateWindow(last_mono_ns=self._started_mono_ns)
        camera = self.hardware.make_camera(camera_config)
        self._queues[name] = FrameQueue(camera_config.queue_frames, camera.live, self._wakeup)
        thread = threading.Thread(target=self._capture_loop, args=(camera,), name=f"capture-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _capture_loop(self, camera: Camera) -> None:
        """Read one camera until it ends or the appliance stops; reopen with backoff on failure.

        Any exception from the driver is a ``camera.unavailable`` fault, never a dead thread: a live
        camera is reopened with backoff; a recording (or the simulator) ends on an unexpected error."""
        queue = self._queues[camera.name]
        retry_s, is_open = 1.0, False
        try:
            while not self._stop.is_set():
                try:
                    if not is_open:
                        camera.open()
                        is_open, retry_s = True, 1.0
                        self.clear_fault("camera.unavailable", camera.name)
                    frame = camera.read()
                except Exception as exc:  # a driver bug must not end capture unseen
                    expected = isinstance(exc, HardwareError)
                    if not expected:
                        log.exception("camera %s: the driver failed", camera.name)
                    self.raise_fault("camera.unavailable", camera.name,
                                     str(exc) if expected else f"the camera driver failed: {exc!r}")
                    camera.close()
                    if not (expected or camera.live):
                        break  # a recording or simulator that fails would fail the same way again
                    is_open = False
                    self._stop.wait(retry_s)
                    retry_s = min(retry_s * 2, MAX_RETRY_S)
                    continue
                if frame is None:
                    break
                if not queue.put(frame, self._stop):
                    break
        finally:
            camera.close()
            queue.end()

    # -- analysis ------------------------------------------------------------------------------

    def _analysis_loop(self) -> None:
        """The one thread that runs plugin hooks. Ends when stopped or every camera has ended."""
        try:
            while True:
                edges, frames, finished = self._next_work()
                for edge in edges:
                    self._handle_edge(edge)
                for frame in frames:
                    self._handle_frame(frame)
                self._run_commands()
                self._periodic()
                if finished:
                    break
            self._finish_tracks()
            self._store_health()
        except Exception:
            log.exception("the analysis thread failed")
            raise
        finally:
            self._stop.set()
            self._run_commands()  # answer what was queued before the stop; later ones are refused

    def _next_work(self) -> tuple[list[_Edge], list, bool]:
        """Wait for work. Returns edges due (not later than the oldest queued frame), at most one
        frame per camera, and whether the loop should end."""
        with self._wakeup:
            while True:
                if self._stop.is_set():
                    return [], [], True
                oldest = [q.peek_time_ns() for q in self._queues.values() if len(q)]
                if self._edges or oldest or self._commands:
                    break
                if self._queues and all(q.ended for q in self._queues.values()):
                    return [], [], True
                self._wakeup.wait(timeout=0.5)
                if self._periodic_due():
                    return [], [], False
            horizon = min(oldest) if oldest else None
            edges = []
            while self._edges and (horizon is None or self._edges[0].time_ns <= horizon):
                edges.append(heapq.heappop(self._edges))
            frames = [q.take() for q in self._queues.values() if len(q)]
            return edges, frames, False

    def _handle_edge(self, edge: _Edge) -> None:
        if edge.hook == "roadcam_signal_changed":
            head, state = edge.arguments
            self.signals[head] = SignalView(state, edge.time_ns)
            self.submit(self._call(edge.hook, {"head": head, "state": state, "time_ns": edge.time_ns}))
        elif edge.hook == "roadcam_lamps_changed":
            head, lit = edge.arguments
            self.submit(self._call(edge.hook, {"head": head, "lit": lit, "time_ns": edge.time_ns}))
        else:
            loop, occupied = edge.arguments
            self.submit(self._call(edge.hook, {"loop": loop, "occupied": occupied, "time_ns": edge.time_ns}))

    def _handle_frame(self, frame) -> None:
        detections = self._call("roadcam_detect", {"frame": frame, "geometry": self._geometry[frame.camera]})
        tracker = self._trackers[frame.camera]
        tracker.frame_size_px = frame.size  # tracks end as soon as they leave the picture
        live, finished = tracker.update(frame.index, frame.time_ns, detections)
        drafts = self._call("roadcam_analyze", {"frame": frame, "tracks": live, "signals": dict(self.signals)})
        drafts += self._track_finished(tracker, finished)
        self.submit(drafts)
        with self._wakeup:
            self._queues[frame.camera].counts.processed += 1

    def _finish_tracks(self) -> None:
        drafts = []
        for tracker in self._trackers.values():
            drafts += self._track_finished(tracker, tracker.finish_all())
        self.submit(drafts)

    def _track_finished(self, tracker: Tracker, tracks: list[Track]) -> list[EventDraft]:
        """The plugins' final events for tracks that ended, then the core's own
        ``track.finished`` per road user (:mod:`roadcam.appliance.tracking.finished`)."""
        drafts = []
        for track in tracks:
            drafts += self._call("roadcam_track_finished", {"track": track})
            summary = finished_event(track, tracker.frame_size_px) if tracker.settings.finished_events else None
            if summary is not None:
                drafts.append(summary)
        return drafts

    def _call(self, hook_name: str, kwargs: dict[str, Any]) -> list:
        """Call a hook whose plugins answer with lists, and flatten the answers."""
        return [item for answer in self._answers(hook_name, kwargs) for item in answer]

    def _answers(self, hook_name: str, kwargs: dict[str, Any]) -> list:
        """Every plugin's answer to a hook, in call order; None answers and failures left out."""
        return [o.answer for o in self._call_hook(hook_name, kwargs) if o.error is None and o.answer is not None]

    def _call_hook(self, hook_name: str, kwargs: dict[str, Any], *, faults: bool = True) -> list[PluginAnswer]:
        """The one way the runtime calls a hook: each plugin's implementation on its own, so one
        that raises loses only its own answer. Its exception becomes a ``plugin.error`` fault
        whose component names the plugin and the hook (``plugin/hook``), raised once and cleared
        by that plugin's next successful call of the hook; ``faults=False`` only logs it."""
        outcomes = call_each_plugin(self.plugin_manager, hook_name, kwargs)
        for outcome in outcomes:
            component = f"{outcome.plugin}/{hook_name}"
            if outcome.error is None:
                if faults:
                    self.clear_fault("plugin.error", component)
            elif not faults or self.raise_fault("plugin.error", component,
                                                f"{type(outcome.error).__name__}: {outcome.error}"):
                log.error("plugin %s raised in %s", outcome.plugin, hook_name, exc_info=outcome.error)
        return outcomes

    # -- health and watchdog -------------------------------------------------------------------

    def _periodic_due(self) -> bool:
        return self.clock.mono_ns() >= min(self._next_health_ns, self._next_tick_ns) or (
            self.notifier.watchdog_interval_s is not None and time.monotonic() >= self._next_watchdog_s)

    def _periodic(self) -> None:
        if self.notifier.watchdog_interval_s is not None and time.monotonic() >= self._next_watchdog_s:
            self.notifier.notify("WATCHDOG=1")
            self._next_watchdog_s = time.monotonic() + self.notifier.watchdog_interval_s
        if self.clock.mono_ns() >= self._next_tick_ns:
            self._check_clock_source()
            self.submit(self._call("roadcam_tick", {"now_ns": self.clock.wall_ns()}))
            self._next_tick_ns = self.clock.mono_ns() + int(TICK_INTERVAL_S * 1e9)
        if self.clock.mono_ns() >= self._next_health_ns:
            self._store_health()
            self._next_health_ns = self.clock.mono_ns() + int(self.config.health.interval_s * 1e9)

    def _check_clock_source(self) -> None:
        """``clock.source`` while the clock's status cannot be read (chronyc missing, failing or
        printing what it cannot parse): its events are stamped unsynced meanwhile."""
        status = self.clock.status()
        if status.fault is None:
            self.clear_fault("clock.source", "clock")
            return
        self.raise_fault("clock.source", "clock",
                         f"the clock's sync state cannot be read from {status.source}: {status.fault}; events are "
                         f"marked unsynced until it can: check chrony (chronyc tracking) or the site's "
                         f"clock.source")

    def health(self) -> dict[str, Any]:
        """Figures for the ``health`` event: per-camera rates, store, faults, and the plugins'."""
        mono_ns = self.clock.mono_ns()
        cameras = {}
        with self._wakeup:
            for name, queue in self._queues.items():
                counts = queue.counts
                cameras[name] = {**self._rates[name].rates(counts, mono_ns), "captured": counts.captured,
                                 "processed": counts.processed, "dropped": counts.dropped,
                                 "queued": len(queue), "ended": queue.ended}
        usage = self.store.usage()
        figures: dict[str, Any] = {
            "uptime_s": round((mono_ns - self._started_mono_ns) / 1e9, 3),
            "cameras": cameras,
            "store": {"events": usage.events, "pending": usage.pending, "database_bytes": usage.database_bytes,
                      "evidence_bytes": usage.evidence_bytes, "budget_bytes": usage.budget_bytes,
                      "lost_events": self.lost_events},
            "faults": [f"{f.code}:{f.component}" for f in self.faults.active()],
        }
        for answer in self._answers("roadcam_collect_health", {"appliance": self}):
            figures.update(answer)
        return figures

    def _store_health(self) -> None:
        self.submit([EventDraft("health", self.health(), self.clock.wall_ns())])
