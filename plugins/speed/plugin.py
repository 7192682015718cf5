"""The speed plugin: loop pairs timed from their edge stamps.

A vehicle crossing a pair gives four edges: upstream on, downstream on, upstream off,
downstream off (the offs may come in either order relative to the downstream on for a long
vehicle). Its speed is the spacing over the mean of the leading-edge and trailing-edge transit
times; its length is speed x occupancy - loop length, averaged over both loops. The standard
uncertainty combines the spacing tolerance with the stamp uncertainty of the four edges
(jitter and tick resolution), and the event carries it times the coverage factor.

Loop faults are checked on every edge, every frame and every health period: stuck on, stuck
off while the partner sees traffic, chatter, and vehicles seen on one loop of a pair only.
While a loop of a pair is in fault the pair gives no speed.

A pair with a ``camera_check`` holds each speed until the camera's frames have covered the
passage and its fit window, then sends it with the road-plane speed of the track that crossed
the pair's zone and whether the two agree; a run of disagreements raises
``speed.camera_mismatch``. A speed whose frames never come goes out after ``camera_wait_s``
marked ``no_frames``.

With a limit configured (the section's ``limit_kmh`` or a pair's own), a speed whose lower
bound is over it is also a ``violation.speeding`` (see :mod:`.violation`). A violation whose
camera check named a track waits for that track's plate
(:class:`~roadcam.appliance.plate_wait.PlateWait`, the wait fence violations share): it is
stored once the track has ended and its ``plate.read`` has been seen, carrying the read and the
crop as a fence violation does, or ``plate_wait_s`` after the track ended without one, or once
its camera has sent no frame for ``plate_wait_s`` and ``plate_wait.SILENT_S`` (60 s) more (a
dead camera ends no track). The ``speed.spot`` itself goes out at once. The section's health figures count
the violations still waiting for a plate (``plate_waiting``) and how long the oldest has
(``plate_oldest_wait_s``), beside the counts of what went out.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.plate_wait import PlateWait
from roadcam.plugins.annotate import annotated_jpeg
from roadcam.protocol.events import EvidenceBlob

from .camera import TrackSpeeds
from .config import SECTION, LoopPair, SpeedConfig
from .passages import PassageRecorder
from .violation import speeding, with_plate

MS_PER_KMH = 1 / 3.6


@dataclass
class Passage:
    """One vehicle over a pair, as its edges arrive (UTC ns)."""

    u_on: int
    u_off: int | None = None
    d_on: int | None = None
    d_off: int | None = None

    def complete(self) -> bool:
        return None not in (self.u_off, self.d_on, self.d_off)


@dataclass
class LoopState:
    """What the meter knows of one loop."""

    name: str
    length_m: float
    occupied: bool = False
    on_since: int | None = None
    last_edge_ns: int | None = None
    partner_vehicles: int = 0  # leading edges on a partner loop since this loop's last edge
    partner_first_ns: int | None = None
    edges: deque[int] = field(default_factory=deque)  # edge times within the chatter window
    faults: set[str] = field(default_factory=set)


@dataclass
class PairState:
    config: LoopPair
    lane: int
    pending: deque[Passage] = field(default_factory=deque)  # upstream on, downstream not yet
    matched: deque[Passage] = field(default_factory=deque)  # both on, waiting for the offs
    unpaired_run: int = 0
    unpaired_loop: str = ""
    mismatch_run: int = 0  # loop speeds in a row the camera disagreed with


@dataclass
class HeldSpot:
    """A loop speed waiting for the camera's frames to cover its passage."""

    pair: PairState
    draft: EventDraft
    start_ns: int  # upstream on: the vehicle's front reaches the pair
    end_ns: int  # downstream off: its rear leaves it


class SpotSpeed:
    """The plugin's state, registered from ``roadcam_configure``."""

    def __init__(self, appliance, config: SpeedConfig):
        self.appliance = appliance
        self.config = config
        site_loops = {loop.name: loop for loop in appliance.config.loops}
        self.loops: dict[str, LoopState] = {}
        self.pairs: list[PairState] = []
        self.partners: dict[str, set[str]] = {}
        for pair in config.pairs:
            for name in (pair.upstream, pair.downstream):
                self.loops.setdefault(name, LoopState(name, site_loops[name].length_m))
            self.partners.setdefault(pair.upstream, set()).add(pair.downstream)
            self.partners.setdefault(pair.downstream, set()).add(pair.upstream)
            lane = pair.lane if pair.lane is not None else site_loops[pair.upstream].lane
            self.pairs.append(PairState(pair, lane))
        self.cameras = {pair.camera_check.camera: TrackSpeeds(pair.camera_check.camera)
                        for pair in config.pairs if pair.camera_check is not None}
        self.held: list[HeldSpot] = []
        #: violations naming a track, until its plate; health gives how many and the oldest's wait
        self.waiting: PlateWait[EventDraft] = PlateWait(config.plate_wait_s, appliance.clock)
        self.now_ns = 0
        self.edges_seen = 0
        self.counts = {"spot": 0, "unpaired": 0, "rejected": 0, "camera_agrees": 0, "camera_disagrees": 0,
                       "camera_no_track": 0, "camera_no_frames": 0, "speeding": 0}
        self.stamp_s = config.stamp_uncertainty_s()  # standard uncertainty of one edge stamp

    # -- hooks ---------------------------------------------------------------------------------

    @hookimpl
    def roadcam_loop_changed(self, loop, occupied, time_ns):
        state = self.loops.get(loop)
        if state is None:
            return []
        self.edges_seen += 1
        self._tick(time_ns)
        drafts = self._edge(state, bool(occupied), time_ns)
        self._check_faults()
        return drafts

    @hookimpl
    def roadcam_analyze(self, frame, tracks):
        self.waiting.seen(frame.camera)
        self._tick(frame.time_ns)
        self._check_faults()
        seen = self.cameras.get(frame.camera)
        if seen is None:
            return []
        seen.add_frame(frame.time_ns, tracks)
        drafts = self._release(lambda held, deadline: held.pair.config.camera_check.camera == frame.camera
                               and deadline <= frame.time_ns, frame, tracks)
        return drafts + self._plated(self.waiting.due(frame.time_ns))

    @hookimpl
    def roadcam_track_finished(self, track):
        self.waiting.track_ended(track.camera, track.id, track.last_ns)
        return []

    @hookimpl
    def roadcam_event(self, event):
        self.waiting.note(event)

    @hookimpl
    def roadcam_tick(self, now_ns):
        wait_ns = int(self.config.camera_wait_s * 1e9)
        drafts = self._release(lambda held, deadline: deadline + wait_ns <= now_ns)
        return drafts + self._plated(self.waiting.due(now_ns))

    @hookimpl
    def roadcam_finish(self, appliance):
        """Store the speeds still waiting for the camera, checked with what it saw, and the
        violations still waiting for a plate, with the plate where it was read."""
        drafts = self._release(lambda held, deadline: True)
        return drafts + self._plated(self.waiting.flush())

    @hookimpl
    def roadcam_collect_health(self, appliance):
        self._tick(appliance.clock.wall_ns())
        self._check_faults()
        return {SECTION: {**self.counts, **self.waiting.health()}}

    # -- edges ---------------------------------------------------------------------------------

    def _tick(self, time_ns: int) -> None:
        self.now_ns = max(self.now_ns, time_ns)

    def _edge(self, state: LoopState, occupied: bool, t: int) -> list[EventDraft]:
        if occupied == state.occupied:
            return []  # a repeated level is not an edge
        state.occupied = occupied
        state.on_since = t if occupied else None
        state.last_edge_ns = t
        state.partner_vehicles, state.partner_first_ns = 0, None
        state.edges.append(t)
        self._clear(state, "loop.stuck_off")
        if occupied:
            for partner in self.partners.get(state.name, ()):
                other = self.loops[partner]
                other.partner_vehicles += 1
                if other.partner_first_ns is None:
                    other.partner_first_ns = t
        drafts: list[EventDraft] = []
        for pair in self.pairs:
            if state.name == pair.config.upstream:
                drafts += self._upstream(pair, occupied, t)
            elif state.name == pair.config.downstream:
                drafts += self._downstream(pair, occupied, t)
        return drafts

    def _window_ns(self, pair: PairState) -> tuple[int, int]:
        """Shortest and longest plausible transit time between the pair's leading edges."""
        spacing = pair.config.spacing_m
        return (round(spacing / (pair.config.max_speed_kmh * MS_PER_KMH) * 1e9),
                round(spacing / (pair.config.min_speed_kmh * MS_PER_KMH) * 1e9))

    def _upstream(self, pair: PairState, occupied: bool, t: int) -> list[EventDraft]:
        self._expire(pair, t)
        if occupied:
            pair.pending.append(Passage(u_on=t))
            return []
        for passage in (*pair.matched, *pair.pending):
            if passage.u_off is None:
                passage.u_off = t
                return self._finish(pair, passage)
        return []

    def _downstream(self, pair: PairState, occupied: bool, t: int) -> list[EventDraft]:
        self._expire(pair, t)
        shortest, _ = self._window_ns(pair)
        if occupied:
            for passage in pair.pending:
                if t - passage.u_on >= shortest:
                    pair.pending.remove(passage)
                    passage.d_on = t
                    pair.matched.append(passage)
                    return []
            self._unpaired(pair, pair.config.downstream)
            return []
        for passage in pair.matched:
            if passage.d_off is None:
                passage.d_off = t
                return self._finish(pair, passage)
        return []

    def _expire(self, pair: PairState, t: int) -> None:
        """Upstream passages whose downstream edge is overdue: seen on the upstream loop only."""
        _, longest = self._window_ns(pair)
        while pair.pending and t - pair.pending[0].u_on > longest:
            pair.pending.popleft()
            self._unpaired(pair, pair.config.upstream)

    def _unpaired(self, pair: PairState, loop: str) -> None:
        self.counts["unpaired"] += 1
        pair.unpaired_run = pair.unpaired_run + 1 if pair.unpaired_loop == loop else 1
        pair.unpaired_loop = loop
        if pair.unpaired_run >= self.config.unpaired_limit:
            other = pair.config.downstream if loop == pair.config.upstream else pair.config.upstream
            self.appliance.raise_fault(
                "speed.unpaired", pair.config.name,
                f"{pair.unpaired_run} vehicles in a row on loop {loop} had no edge on loop {other} within "
                f"the plausible time: check loop {other} and its detector, and the pair's spacing")

    def _finish(self, pair: PairState, passage: Passage) -> list[EventDraft]:
        if not passage.complete():
            return []
        pair.matched.remove(passage)
        assert passage.u_off is not None and passage.d_on is not None and passage.d_off is not None
        upstream, downstream = self.loops[pair.config.upstream], self.loops[pair.config.downstream]
        if upstream.faults or downstream.faults:
            self.counts["rejected"] += 1
            return []
        lead_s = (passage.d_on - passage.u_on) / 1e9
        trail_s = (passage.d_off - passage.u_off) / 1e9
        occ_u = (passage.u_off - passage.u_on) / 1e9
        occ_d = (passage.d_off - passage.d_on) / 1e9
        if min(lead_s, trail_s, occ_u, occ_d) <= 0 or \
                abs(occ_u - occ_d) > self.config.max_occupancy_mismatch * max(occ_u, occ_d):
            self.counts["rejected"] += 1
            return []
        spacing = pair.config.spacing_m
        transit_s = (lead_s + trail_s) / 2
        speed = spacing / transit_s
        if not pair.config.min_speed_kmh * MS_PER_KMH <= speed <= pair.config.max_speed_kmh * MS_PER_KMH:
            self.counts["rejected"] += 1
            return []
        # four edges, each with stamp uncertainty s: the mean transit has uncertainty s
        relative = math.hypot(pair.config.spacing_tolerance_m / spacing, self.stamp_s / transit_s)
        u_speed = speed * relative
        lengths = [speed * occ_u - upstream.length_m, speed * occ_d - downstream.length_m]
        length = sum(lengths) / 2
        # length + loop length scales with the speed; the mean occupancy has stamp uncertainty s
        loop_m = (upstream.length_m + downstream.length_m) / 2
        u_length = math.hypot((length + loop_m) * relative, speed * self.stamp_s)
        k = self.config.coverage_factor
        pair.unpaired_run = 0
        self.appliance.clear_fault("speed.unpaired", pair.config.name)
        self.counts["spot"] += 1
        kmh = speed * 3.6
        draft = EventDraft("speed.spot", {
            "pair": pair.config.name,
            "lane": pair.lane,
            "upstream": pair.config.upstream,
            "downstream": pair.config.downstream,
            "speed_kmh": round(kmh, 3),
            "uncertainty_kmh": round(k * u_speed * 3.6, 3),
            "speed_low_kmh": round(kmh - k * u_speed * 3.6, 3),
            "speed_high_kmh": round(kmh + k * u_speed * 3.6, 3),
            "coverage_factor": k,
            "length_m": round(length, 2),
            "length_uncertainty_m": round(k * u_length, 2),
            "spacing_m": spacing,
            "spacing_tolerance_m": pair.config.spacing_tolerance_m,
            "transit_ms": round(transit_s * 1000, 4),
            "occupancy_upstream_ms": round(occ_u * 1000, 3),
            "occupancy_downstream_ms": round(occ_d * 1000, 3),
        }, passage.u_on)
        if pair.config.camera_check is None:
            return self._with_violation(pair, draft)
        self.held.append(HeldSpot(pair, draft, passage.u_on, passage.d_off))
        return []

    # -- camera cross-check --------------------------------------------------------------------

    def _release(self, due, frame=None, tracks=()) -> list[EventDraft]:
        """Send the held speeds ``due(held, deadline_ns)`` says are due, each with its check;
        ``deadline_ns`` is when the camera's frames cover the passage and the fit window. Released
        on a ``frame`` (with its ``tracks``), a violation's evidence is that frame."""
        drafts = []
        for held in list(self.held):
            check = held.pair.config.camera_check
            window_ns = int(check.window_s * 1e9)
            deadline = max(held.end_ns, (held.start_ns + held.end_ns) // 2 + window_ns)
            if due(held, deadline):
                self.held.remove(held)
                held.draft.data["camera_check"] = self._cross_check(held, deadline, window_ns)
                drafts += self._with_violation(held.pair, held.draft, frame, tracks)
        return drafts

    def _with_violation(self, pair: PairState, spot: EventDraft, frame=None, tracks=()) -> list[EventDraft]:
        """The finished spot speed, and its ``violation.speeding`` when it is one, with ``frame``
        as its evidence when given: the checked track's box and the speed drawn on. A violation
        naming a track is held for the track's plate (:meth:`_plated` sends it)."""
        limit = pair.config.limit_kmh if pair.config.limit_kmh is not None else self.config.limit_kmh
        violation = speeding(spot, limit, self.config.tolerance_kmh)
        if violation is None:
            return [spot]
        self.counts["speeding"] += 1
        if frame is not None:
            track_id = violation.data.get("track_id")
            box = next((track.last.box for track in tracks
                        if track.id == track_id and track.last.frame_index == frame.index), None)
            caption = f"{pair.config.name}: {violation.data['speed_kmh']:.1f} km/h, limit {limit:g}"
            jpeg = annotated_jpeg(frame, self.config.evidence_jpeg_quality, box=box, caption=caption)
            violation = replace(violation, evidence=(EvidenceBlob("frame_after_pair", jpeg),))
        if "track_id" in violation.data:
            self.waiting.hold(violation.data["camera"], violation.data["track_id"], violation)
            return [spot]
        return [spot, violation]

    @staticmethod
    def _plated(ready) -> list[EventDraft]:
        """Violations whose wait is over, with their track's plate read where one was seen."""
        return [with_plate(violation, read) for violation, read in ready]

    def _cross_check(self, held: HeldSpot, deadline_ns: int, window_ns: int) -> dict:
        pair, check = held.pair, held.pair.config.camera_check
        seen = self.cameras[check.camera]
        out: dict = {"camera": check.camera}
        if seen.last_frame_ns is None or seen.last_frame_ns < deadline_ns:
            out["result"] = "no_frames"
        else:
            found = seen.crossing(check.zone, held.start_ns, held.end_ns, window_ns)
            if found is None:
                out["result"] = "no_track"
            else:
                track_id, speed_mps, points = found
                loop_kmh = held.draft.data["speed_kmh"]
                difference = speed_mps * 3.6 - loop_kmh
                agrees = abs(difference) <= max(check.tolerance_kmh, check.tolerance_fraction * loop_kmh)
                out.update(result="agrees" if agrees else "disagrees", track=track_id,
                           speed_kmh=round(speed_mps * 3.6, 2), difference_kmh=round(difference, 2), points=points)
                self._mismatch(pair, agrees, loop_kmh, speed_mps * 3.6)
        self.counts[f"camera_{out['result']}"] += 1
        return out

    def _mismatch(self, pair: PairState, agrees: bool, loop_kmh: float, camera_kmh: float) -> None:
        if agrees:
            pair.mismatch_run = 0
            self.appliance.clear_fault("speed.camera_mismatch", pair.config.name)
            return
        pair.mismatch_run += 1
        if pair.mismatch_run >= self.config.camera_mismatch_limit:
            self.appliance.raise_fault(
                "speed.camera_mismatch", pair.config.name,
                f"the camera disagreed with {pair.mismatch_run} loop speeds in a row on pair {pair.config.name} "
                f"(last: loops {loop_kmh:.1f} km/h, camera {camera_kmh:.1f} km/h): check the pair's spacing, "
                f"its loop detectors and the camera's calibration")

    # -- faults --------------------------------------------------------------------------------

    def _raise(self, state: LoopState, code: str, message: str) -> None:
        state.faults.add(code)
        self.appliance.raise_fault(code, state.name, message)

    def _clear(self, state: LoopState, code: str) -> None:
        if code in state.faults:
            state.faults.discard(code)
            self.appliance.clear_fault(code, state.name)

    def _drop_open_passages(self, loop: str) -> None:
        """Forget the half-seen passages of every pair that uses ``loop``."""
        for pair in self.pairs:
            if loop in (pair.config.upstream, pair.config.downstream):
                pair.pending.clear()
                pair.matched.clear()

    def _check_faults(self) -> None:
        now, config = self.now_ns, self.config
        for state in self.loops.values():
            if state.last_edge_ns is None:
                state.last_edge_ns = now  # watched from the first moment the meter saw
            # stuck on
            if state.occupied and state.on_since is not None and now - state.on_since > config.stuck_on_s * 1e9:
                if "loop.stuck_on" not in state.faults:
                    self._raise(state, "loop.stuck_on",
                                f"loop {state.name} has been occupied for over {config.stuck_on_s:g} s: "
                                f"check the loop detector (stuck output, a vehicle parked on the loop)")
                    self._drop_open_passages(state.name)  # they can never be timed honestly
            elif not state.occupied:
                self._clear(state, "loop.stuck_on")
            # stuck off
            if (not state.occupied and state.partner_first_ns is not None
                    and state.partner_vehicles >= config.stuck_off_vehicles
                    and now - max(state.partner_first_ns, state.last_edge_ns) > config.stuck_off_s * 1e9
                    and "loop.stuck_off" not in state.faults):
                partners = ", ".join(sorted(self.partners.get(state.name, ())))
                self._raise(state, "loop.stuck_off",
                            f"loop {state.name} saw no vehicle for over {config.stuck_off_s:g} s while "
                            f"{partners} saw {state.partner_vehicles}: check the loop and its detector")
            # chatter
            window_ns = config.chatter_window_s * 1e9
            while state.edges and now - state.edges[0] > window_ns:
                state.edges.popleft()
            if len(state.edges) > config.chatter_edges:
                if "loop.chatter" not in state.faults:
                    self._raise(state, "loop.chatter",
                                f"loop {state.name} changed more than {config.chatter_edges} times within "
                                f"{config.chatter_window_s:g} s: check the detector's sensitivity and the "
                                f"loop's wiring")
                self._drop_open_passages(state.name)  # passages through a chattering loop are not timed
            elif not state.edges:
                self._clear(state, "loop.chatter")


class SpeedPlugin:
    @hookimpl
    def roadcam_config_section(self):
        return SECTION, SpeedConfig

    @hookimpl
    def roadcam_configure(self, appliance):
        config = appliance.config.section(SECTION)
        if config.pairs:
            appliance.plugin_manager.register(SpotSpeed(appliance, config), name="speed.spot")
        if config.passage is not None:
            bound_ms = config.coverage_factor * config.stamp_uncertainty_s() * 1000
            appliance.plugin_manager.register(PassageRecorder(appliance, config.passage, bound_ms),
                                              name="speed.passages")


plugin = SpeedPlugin()
