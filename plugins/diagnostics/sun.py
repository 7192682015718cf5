"""Sunrise and sunset at a site, so the night-illumination check knows when the IR illuminator
must light the scene wherever and whenever the site is (the night is longer in winter, and a
fixed window is wrong for half the year away from the tropics).

The sunrise equation with the NOAA's approximations (solar mean anomaly, equation of centre,
ecliptic longitude, declination), the sun's centre 0.833 degrees under the horizon (refraction
and its radius): within two minutes of almanac times below the polar circles, which is far
inside the margins the check keeps after sunset and before sunrise. The site's position is
all it needs; the local time zone plays no part (times are UTC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

DAY_NS = 86_400 * 10**9
#: Julian day of the Unix epoch, and of J2000.0 (2000-01-01 12:00 TT).
_JD_UNIX_EPOCH = 2_440_587.5
_J2000 = 2_451_545.0
#: The sun's centre this far under the horizon at sunrise and sunset (refraction, its radius).
_HORIZON_DEG = -0.833


@dataclass(frozen=True)
class SunDay:
    """One solar day at a site: its sunrise and sunset (UTC ns), or neither when the sun stays
    up (``polar="day"``) or down (``polar="night"``) all day."""

    sunrise_ns: int | None
    sunset_ns: int | None
    polar: str | None = None


def solar_day(time_ns: int, longitude: float) -> int:
    """The number (days since 1970-01-01) of the local solar day ``time_ns`` falls in: days
    run from solar midnight to solar midnight, so a morning belongs with that day's sunrise and
    an evening with its sunset."""
    return int((time_ns + longitude / 360 * DAY_NS) // DAY_NS)


@lru_cache(maxsize=64)
def sun_day(day: int, latitude: float, longitude: float) -> SunDay:
    """Sunrise and sunset of solar day ``day`` (see :func:`solar_day`) at the site (degrees,
    north and east positive)."""
    # that day's local noon, in days since J2000.0 (Greenwich noon of the date, shifted east)
    mean_solar_noon = day + _JD_UNIX_EPOCH + 0.5 - _J2000 + 0.0009 - longitude / 360
    anomaly = math.radians((357.5291 + 0.98560028 * mean_solar_noon) % 360)
    centre = 1.9148 * math.sin(anomaly) + 0.02 * math.sin(2 * anomaly) + 0.0003 * math.sin(3 * anomaly)
    ecliptic = math.radians((math.degrees(anomaly) + centre + 180 + 102.9372) % 360)
    transit = _J2000 + mean_solar_noon + 0.0053 * math.sin(anomaly) - 0.0069 * math.sin(2 * ecliptic)
    declination = math.asin(math.sin(ecliptic) * math.sin(math.radians(23.4397)))
    lat = math.radians(latitude)
    cos_hour = ((math.sin(math.radians(_HORIZON_DEG)) - math.sin(lat) * math.sin(declination))
                / (math.cos(lat) * math.cos(declination)))
    if cos_hour > 1:
        return SunDay(None, None, "night")
    if cos_hour < -1:
        return SunDay(None, None, "day")
    half_day = math.degrees(math.acos(cos_hour)) / 360

    def unix_ns(julian: float) -> int:
        return round((julian - _JD_UNIX_EPOCH) * DAY_NS)

    return SunDay(unix_ns(transit - half_day), unix_ns(transit + half_day))


def is_dark(time_ns: int, latitude: float, longitude: float, after_sunset_s: float, before_sunrise_s: float) -> bool:
    """Whether ``time_ns`` is at least ``after_sunset_s`` after sunset, or ``before_sunrise_s``
    before sunrise, of its solar day at the site (all day in a polar night, never in a polar day)."""
    sun = sun_day(solar_day(time_ns, longitude), latitude, longitude)
    if sun.polar is not None:
        return sun.polar == "night"
    return time_ns >= sun.sunset_ns + after_sunset_s * 1e9 or time_ns < sun.sunrise_ns - before_sunrise_s * 1e9
