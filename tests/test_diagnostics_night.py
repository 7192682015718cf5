"""When the IR illuminators must light the scene (issue 26, the night-illumination check): from
sunset and sunrise of each day (with margins) at the site's ``device.location``, or a fixed local
window; the camera check and a running appliance follow it, and a wrong night setting is refused
naming its field and line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import yaml
from appliances import build_appliance

from roadcam.appliance.config import Location
from roadcam.appliance.site import load_site
from roadcam.common.errors import ConfigError
from roadcam.plugins.diagnostics.camera import CameraChecks
from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.plugins.diagnostics.sun import solar_day, sun_day
from roadcam.sim import SimRoad, load_scenario

LONDON = (51.5074, -0.1278)
SYDNEY = (-33.8688, 151.2093)
TROMSO = Location(lat=69.6496, lon=18.9560)
TAINAN = Location(lat=22.9908, lon=120.2133)


def ns(year: int, month: int, day: int, hour: int, minute: int = 0, utc_offset_h: float = 0.0) -> int:
    """UTC ns of a local time ``utc_offset_h`` ahead of UTC."""
    local = datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=utc_offset_h)
    return int(local.timestamp()) * 10**9


@pytest.mark.parametrize(("place", "date", "sunrise", "sunset"), [
    # almanac times (UTC, to the minute), solstices in both hemispheres
    (LONDON, (2024, 6, 21), (3, 43), (20, 21)),
    (LONDON, (2024, 12, 21), (8, 4), (15, 53)),
    (SYDNEY, (2026, 6, 21), (21, 0), (6, 53)),  # 07:00 and 16:53 in Sydney (UTC+10): sunrise the UTC day before
])
def test_sunrise_and_sunset_are_within_two_minutes_of_the_almanac(place, date, sunrise, sunset):
    latitude, longitude = place
    noon = ns(*date, 12, utc_offset_h=longitude / 15)
    sun = sun_day(solar_day(noon, longitude), latitude, longitude)
    for computed, (hour, minute) in ((sun.sunrise_ns, sunrise), (sun.sunset_ns, sunset)):
        stamp = datetime.fromtimestamp(computed / 1e9, UTC)
        almanac = stamp.replace(hour=hour, minute=minute, second=30, microsecond=0)
        assert abs((stamp - almanac).total_seconds()) <= 120, (place, date, stamp, almanac)


def test_the_polar_night_is_night_all_day_and_the_midnight_sun_never():
    config = DiagnosticsConfig()
    assert all(config.is_night(ns(2026, 12, 21, hour), TROMSO) for hour in range(24))
    assert not any(config.is_night(ns(2026, 6, 21, hour), TROMSO) for hour in range(24))


def test_at_the_sites_location_night_follows_the_seasons():
    config = DiagnosticsConfig()  # 45 min after sunset to 30 before sunrise; without a location 19:00-05:00 UTC+8

    def tainan(*when):
        return config.is_night(ns(*when, utc_offset_h=8), TAINAN)

    def fixed(*when):
        return config.is_night(ns(*when, utc_offset_h=8))

    # midsummer: sunset 18:48, sunrise 05:15; the fixed window calls 19:00 night, still dusk
    assert [tainan(2026, 6, 21, h, m) for h, m in ((19, 0), (19, 40), (4, 40), (4, 50))] == [False, True, True, False]
    assert fixed(2026, 6, 21, 19, 0)
    # midwinter: sunset 17:19, sunrise 06:36; at 18:10 and 06:00 it is dark, which the fixed window misses
    assert [tainan(2026, 12, 21, h, m) for h, m in ((17, 50), (18, 10), (6, 0), (6, 10))] == [False, True, True, False]
    assert not fixed(2026, 12, 21, 18, 10) and not fixed(2026, 12, 21, 6, 0)
    assert config.night_description(TAINAN) == "sunset + 45 min to sunrise - 30 min at 22.9908, 120.213"
    assert config.night_description() == "19:00-05:00 (UTC+8)"
    # a window given wins over the location
    window = DiagnosticsConfig(night_start="20:00", night_end="05:00")
    assert window.is_night(ns(2026, 12, 21, 20, 30, utc_offset_h=8), TAINAN)
    assert not window.is_night(ns(2026, 12, 21, 19, 30, utc_offset_h=8), TAINAN)
    assert window.night_description(TAINAN) == "20:00-05:00 (UTC+8)"


def test_the_camera_check_raises_an_unlit_night_only_when_the_position_says_night():
    """A dim image (mean level ~15: seen, but too dark for a lit night) on a midsummer evening in
    Tainan: at 19:05 it is dusk (no fault; the fixed window would have raised one), at 19:45 night."""
    raised = []
    config = DiagnosticsConfig(check_every_frames=1, thumb_width_px=64)
    checks = CameraChecks(config, lambda code, camera, message, severity: raised.append((code, camera)),
                          lambda code, camera: None, TAINAN)
    rng = np.random.default_rng(7)

    def run(start_ns: int, seconds: float) -> None:
        for index in range(int(seconds * 25)):
            image = rng.integers(5, 26, size=(48, 64), dtype=np.uint8)
            checks.on_frame("north", start_ns + index * 40_000_000, image, 25.0)

    run(ns(2026, 6, 21, 19, 5, utc_offset_h=8), 10.0)
    assert ("camera.night_illumination", "north") not in raised
    run(ns(2026, 6, 21, 19, 45, utc_offset_h=8), 10.0)
    assert ("camera.night_illumination", "north") in raised


@pytest.fixture(scope="module")
def site_body(tmp_path_factory) -> str:
    """The smoke scenario's site config as YAML, the box at Tainan (building the road takes a
    few seconds: once)."""
    site = SimRoad.from_scenario(load_scenario("smoke").model_copy(update={"duration_s": 1.0})).site_config(
        tmp_path_factory.mktemp("site"))
    site["device"]["location"] = {"lat": TAINAN.lat, "lon": TAINAN.lon}
    return yaml.safe_dump(site, sort_keys=False)


@pytest.fixture
def site_file(tmp_path, site_body):
    """Writes the site config with a ``diagnostics:`` section given as YAML text; returns a
    writer giving (path, the line of the section's first field)."""
    body = site_body

    def write(diagnostics: str):
        path = tmp_path / "site.yaml"
        path.write_text(body + "diagnostics:\n" + diagnostics)
        return path, len(body.splitlines()) + 2

    return write


@pytest.mark.parametrize(("section", "field", "offset", "says"), [
    ("  night_start: '19:00'\n", "diagnostics.night_end", -1, "go together"),
    ("  night_end: '05:00'\n", "diagnostics.night_end", 0, "go together"),
    ("  night_start: '19:00'\n  night_end: '19:00'\n", "diagnostics.night_end", 1, "window would be empty"),
    ("  night_start: '7pm'\n  night_end: '05:00'\n", "diagnostics.night_start", 0, "should match pattern"),
    ("  night_after_sunset_min: -5\n", "diagnostics.night_after_sunset_min", 0, "greater than or equal to 0"),
    ("  night_before_sunrise_min: 600\n", "diagnostics.night_before_sunrise_min", 0, "less than or equal to 180"),
])
def test_a_wrong_night_setting_is_named_with_its_line(site_file, section, field, offset, says):
    path, first = site_file(section)
    with pytest.raises(ConfigError) as error:
        load_site(path)
    (problem,) = error.value.problems
    line = first - 1 if offset < 0 else first + offset  # a missing field: the section's line
    assert problem.startswith(f"{path}:{line}: {field}: ") and says in problem, problem


def test_a_running_appliance_judges_the_night_at_its_location(tmp_path):
    """The health event says how the night is decided: at device.location by default, by the
    window when one is given."""
    device = {"id": "tn-test", "site": "tn-bench", "location": {"lat": TAINAN.lat, "lon": TAINAN.lon}}
    cases = (({"night_after_sunset_min": 60}, "sunset + 60 min to sunrise - 30 min at 22.9908, 120.213"),
             ({"night_start": "20:30", "night_end": "04:45", "utc_offset_h": 1}, "20:30-04:45 (UTC+1)"))
    for index, (diagnostics, rule) in enumerate(cases):
        appliance = build_appliance(tmp_path / str(index), device=device, diagnostics=diagnostics)
        appliance.start()
        try:
            assert appliance.health()["night"] == rule
        finally:
            appliance.shutdown()
