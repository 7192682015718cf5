"""Spot-speed violations: a loop pair's speed over the posted limit.

A speed is a ``violation.speeding`` only when its lower bound (the ``speed_low_kmh`` of its
``speed.spot``: the speed less its expanded uncertainty) is over the limit by more than the
enforcement tolerance, so no vehicle is reported on a speed the measurement cannot support.
A speed the pair's camera disagrees with is not reported (the spacing or a loop may be wrong,
and ``speed.camera_mismatch`` says so); one the camera did not see (no track, no frames) is
reported on the loops' word, without a track. With a track, the violation names it and
carries that track's plate read (``plate``, ``plate_confidence``, ``plate_event`` and
``plate_evidence``, the digests of the read's plate crop and frame: the fields a fence
violation carries), once the plugin's wait for it is over (:func:`with_plate`); its evidence is
the frame that completed the camera's check, with the track's box and the speed drawn on
(added by the plugin, which has the frame).
"""

from __future__ import annotations

from dataclasses import replace

from roadcam.appliance.events import EventDraft
from roadcam.appliance.plate_wait import PlateRead

#: The spot speed's fields a violation repeats, so a ticket needs no second event.
MEASUREMENT_FIELDS = ("pair", "lane", "speed_kmh", "speed_low_kmh", "uncertainty_kmh", "coverage_factor",
                      "spacing_m", "transit_ms")


def speeding(spot: EventDraft, limit_kmh: float | None, tolerance_kmh: float) -> EventDraft | None:
    """The violation a finished ``speed.spot`` draft makes, or None (no limit, within it, or
    disputed by the camera)."""
    data = spot.data
    if limit_kmh is None or data["speed_low_kmh"] <= limit_kmh + tolerance_kmh:
        return None
    check = data.get("camera_check")
    if check is not None and check["result"] == "disagrees":
        return None
    violation = {"rule": "speeding", **{name: data[name] for name in MEASUREMENT_FIELDS},
                 "limit_kmh": limit_kmh, "tolerance_kmh": tolerance_kmh,
                 "over_limit_kmh": round(data["speed_low_kmh"] - limit_kmh, 3)}
    if check is not None:
        violation["camera_check"] = check["result"]
        if "track" in check:
            violation.update(camera=check["camera"], track_id=check["track"], camera_speed_kmh=check["speed_kmh"])
    return EventDraft("violation.speeding", violation, spot.time_ns)


def with_plate(violation: EventDraft, read: PlateRead | None) -> EventDraft:
    """The violation with its track's plate read added (unchanged when none was read)."""
    if read is None:
        return violation
    return replace(violation, data={**violation.data, **read.fields()})
