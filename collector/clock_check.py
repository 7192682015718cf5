"""The collector's check of a device clock that says it is synced but is not: its event times
against the moment the collector received them.

A device stamps every event with its clock and says how far that clock may be off (the
envelope's ``clock.error_ms``, from chrony or the kernel). Its claim can be checked against the
collector's own clock, because an event cannot be received before it happened:

- **Fast** (conclusive, on one event): an event stamped later than its receipt by more than the
  device's claimed error bound plus the collector's own (``collector_error_ms``) proves the
  claim false.
- **Slow** (on a run of events): events legitimately arrive late (the MQTT path, a passage's
  wait for its plate read, a backlog after an outage), so one late event proves nothing. Every
  event the device sent over ``window_s`` (at least ``min_events``) arriving more than
  ``max_delay_s`` beyond both bounds is taken as a clock that runs behind: a backlog is sent at
  the uplink's drain rate, in far less than the window, and the device's fresh events that
  follow it end the run.

A device judged false stays so for ``window_s`` after the last event that showed it. Its
``speed.passage`` events meanwhile are paired but never made a violation (the section service
marks them), and the collector records a ``clock_false`` problem for the device at the start of
each such spell. The receipt time is when the section service is handed the stored batch,
within the store's commit time of the message's arrival.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from roadcam.protocol.events import Event, utc_ns


class ClockCheckSettings(BaseModel):
    """How the collector checks devices' clock claims against its receive time."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, title="Enabled",
                          description="Off only for simulated devices, whose clocks run on a simulated day "
                                      "faster than real time: their receipt says nothing of their clocks.")
    collector_error_ms: float = Field(100.0, ge=0, title="Collector clock error (ms)",
                                      description="Bound of the collector's own clock error (its chrony's).")
    max_delay_s: float = Field(30.0, gt=0, title="Longest delay (s)",
                               description="How late a device's events may arrive when its clock is right: "
                                           "the MQTT path plus a passage's wait for its plate read.")
    window_s: float = Field(900.0, gt=0, title="Window (s)",
                            description="How long every event must arrive later than that for a device's "
                                        "clock to be taken as behind; how long a false clock stays distrusted.")
    min_events: int = Field(5, ge=1, title="Fewest events",
                            description="Events a run of late ones needs before it judges a clock behind.")


@dataclass
class _Device:
    late_since_ns: int | None = None  # receipt of the first event of the current run of late ones
    late_events: int = 0
    false_until_ns: int = 0  # distrusted until this receipt time
    reason: str = ""


@dataclass(frozen=True)
class ClockFinding:
    """A device's clock found false by one event: ``new`` at the start of a spell."""

    device: str
    reason: str
    new: bool


class ClockCheck:
    """Per-device judgement of clock claims; feed every stored event with :meth:`observe`."""

    def __init__(self, settings: ClockCheckSettings | None = None):
        self.settings = settings or ClockCheckSettings()
        self._devices: dict[str, _Device] = {}

    def observe(self, event: Event, received_ns: int) -> ClockFinding | None:
        """Judge ``event`` of its device; the finding when the device's clock is distrusted now."""
        device = self._devices.setdefault(event.device, _Device())
        was_false = received_ns < device.false_until_ns
        error_ms = event.clock.get("error_ms")
        if event.clock.get("synced") is True and isinstance(error_ms, int | float) and math.isfinite(error_ms):
            reason = self._disproved(device, utc_ns(event.time) - received_ns, float(error_ms), received_ns)
            if reason:
                device.false_until_ns = received_ns + int(self.settings.window_s * 1e9)
                device.reason = reason
        if received_ns >= device.false_until_ns:
            return None
        return ClockFinding(event.device, device.reason, new=not was_false)

    def _disproved(self, device: _Device, ahead_ns: int, error_ms: float, received_ns: int) -> str | None:
        """Why this event (or the run it ends) disproves the device's claim, if it does."""
        s = self.settings
        bound_ns = (error_ms + s.collector_error_ms) * 1e6
        if ahead_ns > bound_ns:
            return (f"an event stamped {ahead_ns / 1e9:.3f} s after the collector received it, beyond the "
                    f"{error_ms:g} ms the device claims and the collector's {s.collector_error_ms:g} ms")
        if -ahead_ns <= bound_ns + s.max_delay_s * 1e9:
            device.late_since_ns, device.late_events = None, 0
            return None
        if device.late_since_ns is None:
            device.late_since_ns = received_ns
        device.late_events += 1
        if device.late_events >= s.min_events and received_ns - device.late_since_ns >= s.window_s * 1e9:
            return (f"every event for {(received_ns - device.late_since_ns) / 1e9:.0f} s arrived over "
                    f"{s.max_delay_s:g} s late (now {-ahead_ns / 1e9:.3f} s) while the device claims "
                    f"{error_ms:g} ms: its clock runs behind")
        return None
