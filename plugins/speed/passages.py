"""Section passages: a ``speed.passage`` event for every vehicle past this site's passage point,
for the collector to pair with the same plate at the section's other end
(:mod:`roadcam.collector.sections`).

The time is the leading edge of the lane's passage loop (the pin's kernel tick: sub-millisecond,
unlike a frame), so the section's speed rests on the loops and the device clock only. The
camera names the vehicle: the track that crossed the loop's road-plane zone while the loop was
occupied (:class:`~roadcam.plugins.speed.camera.TrackSpeeds`), and the plate plate_capture read
on that track (its ``plate.read`` event, seen through ``roadcam_event``), with the read's
evidence files named. Once its track is named, a passage waits for the track to end and its
read to be stored, at most ``plate_wait_s`` after the track ended
(:class:`~roadcam.appliance.plate_wait.PlateWait`, the wait fence violations and spot-speed
violations share); a vehicle the camera missed, or whose plate was not read, still gets its
passage, without a plate (never paired). A camera that sends no frames ends no track: its
passages go out with what is known once it has been silent for ``plate_wait_s`` and
``plate_wait.SILENT_S`` (60 s) more. The clock's sync state and error bound travel in every
event's envelope; a clock unsynced, or whose error bound is above ``max_clock_error_ms``,
raises ``clock.unsynced`` (the passages still go out, marked, and the collector never makes
them a violation). Passages still open when the appliance stops are
stored then, with what is known (the uplink sends them on its next start). The health figures
(``speed.passages``) count the passages waiting for a plate (``plate_waiting``) and how long the
oldest has (``plate_oldest_wait_s``).
"""

from __future__ import annotations

from dataclasses import dataclass

from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.plate_wait import PlateRead, PlateWait

from .camera import TrackSpeeds
from .config import PassageConfig


@dataclass
class OpenPassage:
    """A vehicle on a passage loop, then waiting for its track and plate."""

    loop: str
    lane: int
    on_ns: int
    off_ns: int | None = None
    looked: bool = False  # the camera's frames have covered it and its track was looked for
    track: int | None = None
    kind: str | None = None


class PassageRecorder:
    """The plugin object for ``speed.passage``, registered by the speed plugin when a passage
    point is configured."""

    def __init__(self, appliance, config: PassageConfig, stamp_uncertainty_ms: float):
        self.appliance = appliance
        self.config = config
        self.stamp_uncertainty_ms = stamp_uncertainty_ms
        site_loops = {loop.name: loop for loop in appliance.config.loops}
        self.loops = {spec.loop: (spec, site_loops[spec.loop].lane) for spec in config.loops}
        self.seen = TrackSpeeds(config.camera) if config.camera else None
        self.open: list[OpenPassage] = []  # on its loop, or its track not yet looked for
        self.waiting: PlateWait[OpenPassage] = PlateWait(config.plate_wait_s, appliance.clock)  # their track named
        self.kinds: dict[int, str] = {}  # track id -> class, while the camera may still name the track
        self.counts = {"passages": 0, "with_plate": 0, "no_track": 0}
        self.edges_seen = 0  # edges of the passage loops taken

    # -- hooks ---------------------------------------------------------------------------------

    @hookimpl
    def roadcam_loop_changed(self, loop, occupied, time_ns):
        found = self.loops.get(loop)
        if found is None:
            return []
        self.edges_seen += 1
        if occupied:
            self.open.append(OpenPassage(loop, found[1], time_ns))
        else:
            for passage in self.open:
                if passage.loop == loop and passage.off_ns is None:
                    passage.off_ns = time_ns
                    break
        return [] if self.seen is not None else self._due(time_ns)

    @hookimpl
    def roadcam_analyze(self, frame, tracks):
        self.waiting.seen(frame.camera)
        if self.seen is None or frame.camera != self.seen.camera:
            return []
        self.seen.add_frame(frame.time_ns, tracks)
        self.kinds = {track_id: kind for track_id, kind in self.kinds.items() if track_id in self.seen.tracks}
        for track in tracks:
            self.kinds[track.id] = track.kind
        window_ns = int(self.config.window_s * 1e9)
        for passage in self.open:
            if not passage.looked and passage.off_ns is not None and passage.off_ns + window_ns <= frame.time_ns:
                passage.looked = True
                spec, _ = self.loops[passage.loop]
                found = self.seen.crossing(tuple(spec.zone), passage.on_ns, passage.off_ns, window_ns)
                if found is not None:
                    passage.track = found[0]
                    passage.kind = self.kinds.get(found[0])
        return self._due(frame.time_ns)

    @hookimpl
    def roadcam_track_finished(self, track):
        self.waiting.track_ended(track.camera, track.id, track.last_ns)
        if self.seen is not None and track.camera == self.seen.camera:
            self.kinds[track.id] = track.kind
        return []

    @hookimpl
    def roadcam_event(self, event):
        self.waiting.note(event)

    @hookimpl
    def roadcam_tick(self, now_ns):
        self._check_clock()
        return self._due(now_ns)

    @hookimpl
    def roadcam_finish(self, appliance):
        """Store what is still open: the vehicles are past, whatever the camera made of them."""
        ready = [(passage, None) for passage in self.open if passage.off_ns is not None]
        self.open.clear()
        return self._drafts(ready + self.waiting.flush())

    @hookimpl
    def roadcam_collect_health(self, appliance):
        return {"speed.passages": {**self.counts, **self.waiting.health()}}

    # -- passages ------------------------------------------------------------------------------

    def _due(self, now_ns: int) -> list[EventDraft]:
        """The passages whose vehicle is known, or will not be: sent, oldest first. A passage
        whose track is named waits for that track's plate read."""
        wait_ns = int(self.config.plate_wait_s * 1e9)
        window_ns = int(self.config.window_s * 1e9)
        ready: list[tuple[OpenPassage, PlateRead | None]] = []
        for passage in list(self.open):
            if passage.off_ns is None:
                continue
            if self.seen is not None and not passage.looked:
                # frames stopped: look once the camera wait is over, with what was seen
                if passage.off_ns + window_ns + wait_ns > now_ns:
                    continue
                passage.looked = True
            self.open.remove(passage)
            if passage.track is None:
                ready.append((passage, None))
            else:
                self.waiting.hold(self.config.camera, passage.track, passage)
        return self._drafts(ready + self.waiting.due(now_ns))

    def _drafts(self, ready: list[tuple[OpenPassage, PlateRead | None]]) -> list[EventDraft]:
        """The events of finished passages, in the order their vehicles reached the loops."""
        return [self._draft(passage, read) for passage, read in sorted(ready, key=lambda item: item[0].on_ns)]

    def _check_clock(self) -> tuple[bool, str]:
        """Whether the clock is synced within ``max_clock_error_ms``, and the source that says so
        (:meth:`roadcam.appliance.clock.Clock.status`); raises or clears ``clock.unsynced`` as it
        changes. A source that cannot be read is unsynced (and the appliance's ``clock.source``)."""
        status = self.appliance.clock.status()
        state = status.state
        limit = self.config.max_clock_error_ms
        if status.fault is None and state.synced and state.error_ms is not None and state.error_ms <= limit:
            self.appliance.clear_fault("clock.unsynced", "clock")
            return True, status.source
        if status.fault is not None:
            why = f"the clock's sync state cannot be read from {status.source} ({status.fault}): its error is unknown"
        else:
            bound = "unknown" if state.error_ms is None else f"{state.error_ms:g} ms"
            why = f"the clock is {'synced' if state.synced else 'not synced'} with an error bound of {bound} " \
                  f"({status.source})"
        self.appliance.raise_fault(
            "clock.unsynced", "clock",
            f"{why}, over the {limit:g} ms section passages need: check chrony (chronyc tracking, sources); "
            f"passages are marked and never become violations")
        return False, status.source

    def _draft(self, passage: OpenPassage, read: PlateRead | None) -> EventDraft:
        self.counts["passages"] += 1
        self.counts["with_plate"] += read is not None
        self.counts["no_track"] += self.seen is not None and passage.track is None
        within, source = self._check_clock()
        data = {"point": self.config.point, "loop": passage.loop, "lane": passage.lane,
                "clock_within_bound": within, "clock_source": source,
                "time_uncertainty_ms": round(self.stamp_uncertainty_ms, 4),
                "occupancy_ms": round((passage.off_ns - passage.on_ns) / 1e6, 3),
                "plate": read.plate if read else None,
                "plate_confidence": read.confidence if read else None,
                "plate_read_id": read.event if read else None,
                "plate_evidence": list(read.evidence) if read else [],
                "vehicle_kind": passage.kind, "camera": self.config.camera, "track_id": passage.track}
        return EventDraft("speed.passage", data, passage.on_ns)
