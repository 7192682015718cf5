"""The ``diagnostics`` config section."""

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from roadcam.appliance.config import Section

from .sun import is_dark

#: A signal head's lamps, as its sense pins are named.
LAMP_COLOURS = ("red", "amber", "green")
#: The night window (local HH:MM) with neither a window given nor the site's location.
DEFAULT_NIGHT = ("19:00", "05:00")


class DiagnosticsConfig(Section):
    """Self-diagnostics thresholds. Camera times are frame times (the camera's own stamps)."""

    def check_site(self, site: Any) -> None:
        """Every head named in ``lamps`` is a signal head of the site."""
        heads = {head.head for head in site.signals}
        for name in self.lamps:
            if name not in heads:
                known = ", ".join(sorted(heads)) or "none configured"
                raise ValueError(f"diagnostics.lamps.{name}: no signal head named {name!r} (signals: {known})")

    def expected_lamps(self, signals: Any) -> dict[str, tuple[str, ...]]:
        """Each signal head's lamps (``signals``: the site's heads) expected to light every cycle
        from the start, so one dead since start is caught: as ``lamps`` lists them, else every
        lamp the head has a sense pin for. A head read from the signal controller, or listed
        with no lamps, learns its lamps by seeing them lit."""
        wired = {head.head: tuple(colour for colour in LAMP_COLOURS if getattr(head, colour) is not None)
                 for head in signals if head.controller is None}
        return {**wired, **{head: tuple(lamps) for head, lamps in self.lamps.items()}}

    def is_night(self, time_ns: int, location: Any = None) -> bool:
        """Whether ``time_ns`` (UTC ns) is night, when the IR illuminators must light the scene:
        in the local ``night_start``-``night_end`` window when one is given; else, at the site's
        ``location`` (``device.location``: ``lat``, ``lon``), from sunset plus
        ``night_after_sunset_min`` to sunrise less ``night_before_sunrise_min``; else 19:00-05:00
        local time."""
        if self.night_start is None and location is not None:
            return is_dark(time_ns, location.lat, location.lon, self.night_after_sunset_min * 60,
                           self.night_before_sunrise_min * 60)
        minute = int((time_ns / 60e9 + self.utc_offset_h * 60) % (24 * 60))
        start, end = (int(hhmm[:2]) * 60 + int(hhmm[3:]) for hhmm in self.night_window)
        return start <= minute < end if start <= end else (minute >= start or minute < end)

    @property
    def night_window(self) -> tuple[str, str]:
        """The fixed night window (local HH:MM), its defaults when not given."""
        return self.night_start or DEFAULT_NIGHT[0], self.night_end or DEFAULT_NIGHT[1]

    def night_description(self, location: Any = None) -> str:
        """How :meth:`is_night` decides at ``location``, for a technician's or a tool's output."""
        if self.night_start is None and location is not None:
            return (f"sunset + {self.night_after_sunset_min:g} min to sunrise - {self.night_before_sunrise_min:g} min "
                    f"at {location.lat:g}, {location.lon:g}")
        return f"{self.night_window[0]}-{self.night_window[1]} (UTC{self.utc_offset_h:+g})"

    @field_validator("night_end")
    @classmethod
    def _whole_window(cls, night_end: str | None, info: ValidationInfo) -> str | None:
        if "night_start" not in info.data:
            return night_end  # night_start itself is wrong: reported there
        start = info.data["night_start"]
        if (start is None) != (night_end is None):
            raise ValueError(f"night_start and night_end go together (got night_start {start!r}, "
                             f"night_end {night_end!r})")
        if night_end is not None and night_end == start:
            raise ValueError(f"equals night_start {start!r}: the night window would be empty")
        return night_end

    check_every_frames: int = Field(5, ge=1, title="Image check every (frames)",
                                    description="Each camera's image is checked on one frame in this many "
                                                "(on a small grey copy); frame timing is checked on every frame.")
    thumb_width_px: int = Field(320, ge=64, le=1920, title="Check image width (px)",
                                description="Width of the grey copy the image checks work on.")
    raise_after_s: float = Field(2.0, ge=0, title="Raise after (s)",
                                 description="A camera condition must hold this long before its fault is raised.")
    clear_after_s: float = Field(3.0, ge=0, title="Clear after (s)",
                                 description="A camera condition must be gone this long before its fault is cleared.")
    no_frames_after_s: float = Field(3.0, gt=0, title="No frames after (s)",
                                     description="A gap between frames longer than this raises camera.no_frames.")
    expected_fps: float | None = Field(None, gt=0, le=120, title="Expected frame rate",
                                       description="Frame rate to hold cameras to when their source sets none; "
                                                   "unset: the rate of the first full window.")
    fps_window_s: float = Field(5.0, gt=0, title="Frame-rate window (s)",
                                description="Frame rate is measured over this much frame time.")
    fps_min_ratio: float = Field(0.8, gt=0, le=1, title="Lowest frame-rate ratio",
                                 description="A measured rate below this share of the expected one raises "
                                             "camera.fps_low (cleared above it plus 0.05).")
    frozen_after_s: float = Field(3.0, gt=0, title="Frozen after (s)",
                                  description="A camera whose image has not changed at all for this "
                                              "long is reported frozen.")
    dark_below: float = Field(6.0, ge=0, le=255, title="Dark below",
                              description="Mean grey level under which the image counts as blind "
                                          "(lens covered, IR lamp dead); cleared above 1.5 times it.")
    washed_above: float = Field(235.0, ge=0, le=255, title="Washed out above",
                                description="Mean grey level over which, with little spread, the image "
                                            "counts as washed out (cleared 10 levels below).")
    washed_spread_below: float = Field(20.0, ge=0, title="Washed-out spread",
                                       description="Standard deviation of grey levels under which a bright "
                                                   "image counts as washed out.")
    blur_ratio_below: float = Field(0.5, gt=0, lt=1, title="Blurred below",
                                    description="Focus (mean |Laplacian| per grey level of spread) below this "
                                                "share of the camera's reference raises camera.blurred (cleared "
                                                "above it plus 0.1).")
    view_similarity_below: float = Field(0.5, gt=-1, lt=1, title="View changed below",
                                         description="Edge-map correlation with the reference view below which "
                                                     "the camera counts as moved or blocked (cleared above it "
                                                     "plus 0.1).")
    night_after_sunset_min: float = Field(45.0, ge=0, le=180, title="Night from, after sunset (min)",
                                          description="With the site's device.location and no night window: night "
                                                      "starts this long after that day's sunset (dusk over, the "
                                                      "day/night switch has acted).")
    night_before_sunrise_min: float = Field(30.0, ge=0, le=180, title="Night until, before sunrise (min)",
                                            description="With the site's device.location and no night window: "
                                                        "night ends this long before that day's sunrise.")
    night_start: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", title="Night from (local)",
                                    description="A fixed night window instead of sunset and sunrise at "
                                                "device.location: local time HH:MM from which the cameras' IR "
                                                "illuminators must light the scene (well after dusk, so the "
                                                "day/night switch has acted). Without it and without a location: "
                                                "19:00.")
    night_end: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", validate_default=True,
                                  title="Night until (local)",
                                  description="With night_start: local time HH:MM until which the IR "
                                              "illuminators must light the scene (before start means past "
                                              "midnight). Without a window and without a location: 05:00.")
    utc_offset_h: float = Field(8.0, ge=-12, le=14, title="Local time offset (h)",
                                description="Hours local time is ahead of UTC (Taiwan: 8), for night_start "
                                            "and night_end.")
    night_dark_below: float = Field(30.0, ge=0, le=255, title="Night dark below",
                                    description="Mean grey level under which a night image counts as unlit "
                                                "(IR illuminator off or dead; cleared above 1.3 times it).")
    reference_samples: int = Field(10, ge=1, title="Reference samples",
                                   description="Checked images whose median is the reference view and "
                                               "sharpness, taken at start (commissioning).")
    reference_follow_s: float = Field(600.0, gt=0, title="Reference follow time (s)",
                                      description="Time constant with which the reference follows slow "
                                                  "changes (dusk, dawn) while the view matches.")
    lamp_conflict_after_s: float = Field(0.5, gt=0, title="Lamp conflict after (s)",
                                         description="Red and green lit together this long raise lamp.conflict.")
    lamps: dict[str, list[Literal["red", "amber", "green"]]] = Field(
        default_factory=dict, title="Lamps of each head",
        description="Signal head name -> the lamps it has, each expected to light every cycle from the start, so "
                    "a lamp dead since start is caught too. A head not listed is expected to light every lamp it "
                    "has a sense pin for (red, amber, green); list a head's real lamps when one pin is wired but "
                    "never lit (a pedestrian head's amber), or [] to learn its lamps by seeing them lit (as "
                    "heads read from the signal controller do).")
    lamp_dark_after_s: float = Field(5.0, gt=0, title="Lamps dark after (s)",
                                     description="A signal head with no lamp lit this long raises lamp.dark "
                                                 "(longer than a flashing amber's dark half).")
    system_check_every_s: float = Field(10.0, gt=0, title="System checks every (s)",
                                        description="Period of the box's checks (disk, store, outbox, temperature, "
                                                    "memory, clock); a condition must show on checks spanning "
                                                    "raise_after_s to be raised.")
    disk_free_min_mb: int = Field(512, ge=0, title="Disk free minimum (MiB)",
                                  description="Free space on the storage disk below which disk.low is raised.")
    store_fill_max: float = Field(0.8, gt=0, le=1, title="Store fill maximum",
                                  description="Share of the store's budget that unconfirmed events and evidence "
                                              "may fill before store.filling is raised.")
    outbox_max_events: int = Field(10000, ge=1, title="Outbox most events",
                                   description="More unconfirmed events than this raise outbox.backlog "
                                               "(only with the uplink enabled).")
    outbox_max_age_s: float = Field(1800.0, gt=0, title="Outbox oldest (s)",
                                    description="An unconfirmed event older than this raises outbox.backlog.")
    cpu_temp_max_c: float = Field(80.0, gt=0, title="CPU temperature maximum (°C)",
                                  description="SoC temperature above which cpu.hot is raised.")
    memory_min_mb: int = Field(100, ge=0, title="Memory minimum (MiB)",
                               description="Available memory below which memory.low is raised.")
    clock_unsynced_after_s: float = Field(300.0, gt=0, title="Clock unsynchronised after (s)",
                                          description="A clock not synchronised this long (boot included) raises "
                                                      "clock.unsynced.")
    clock_error_max_ms: float = Field(250.0, gt=0, title="Clock error maximum (ms)",
                                      description="The clock's error bound (kernel NTP maxerror) above which "
                                                  "clock.error is raised.")
    clock_offset_max_ms: float = Field(100.0, gt=0, title="Clock offset maximum (ms)",
                                       description="chrony's measured offset of the clock (when chrony is "
                                                   "installed) beyond which clock.offset is raised.")
    evidence_check_every_s: float = Field(60.0, gt=0, title="Evidence check every (s)",
                                          description="Period of the evidence sample check.")
    evidence_sample_files: int = Field(4, ge=1, title="Evidence sample (files)",
                                       description="Evidence files hashed per check, picked at random from a "
                                                   "random stretch of the store.")
