"""``roadcam selftest``: every part of a site checked through the same HAL the appliance runs on,
each check with its figures and, when it fails, what to fix.

- camera (each): frames arrive (count, rate), exposure (mean grey level between the
  diagnostics plugin's ``dark_below`` and ``washed_above``), focus; the last frame is kept for
  the report. Commissioning has no reference picture yet (it makes one), so focus is judged
  without one: the sharpness of the check thumbnail
  (:func:`roadcam.plugins.diagnostics.camera.image_figures`) over that of the same thumbnail
  blurred a little more. An image in focus loses much of its sharpness to the extra blur, a
  defocused one hardly any (a ratio near 1); the ratio has no unit, so it suits any scene and
  contrast. Not judged on an image that is too dark or washed out;
- lamp inputs (each lamp of each head) and loop inputs (each loop): toggled by the technician
  when prompted, or by the simulator (:class:`MockToggler`, only on gpiozero's mock pins), and
  seen through the input's own edge callback;
- serial links: opened; a ``loop://`` port echoes a probe line; a real port reports what it
  received in a short wait (the controller may only speak when asked);
- broker: reached over TLS with the device certificate (:mod:`roadcam.provisioning.broker_check`);
- clock: the kernel's NTP state (synchronised, error bound), as the appliance reads it;
- disk: a probe file written, fsynced, read back and removed in the evidence folder; free space
  above the diagnostics plugin's ``disk_free_min_mb``.

The appliance must not run meanwhile (it owns the cameras and pins): stop it first.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from roadcam.appliance.clock import Clock
from roadcam.appliance.config import CoreConfig
from roadcam.common.errors import ConfigError, RoadcamError

#: Focus: the least ratio of the thumbnail's sharpness to that of its 5x5 Gaussian blur that
#: counts as in focus (a sharp road scene: about 2.8; 15 px of defocus blur on a 640 px frame: 1.4).
MIN_SHARPNESS = 1.5
FOCUS_BLUR = (5, 5)
PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``status`` pass/fail/skip, what was measured, what to fix."""

    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class SelftestResult:
    checks: list[Check] = field(default_factory=list)
    snapshots: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(check.status != FAIL for check in self.checks)


class MockToggler:
    """The simulator's hand: drives gpiozero mock pins as a lamp or a loop would."""

    def __init__(self, pin_factory, config: CoreConfig, hold_s: float = 0.05):
        self._factory = pin_factory
        self._config = config
        self._hold_s = hold_s

    def __call__(self, kind: str, name: str) -> None:
        if kind == "loop":
            loop = next(loop for loop in self._config.loops if loop.name == name)
            self._pulse(loop.pin, loop.active_high)
        else:
            head_name, _, colour = name.partition(":")
            head = next(head for head in self._config.signals if head.head == head_name)
            self._pulse(getattr(head, colour), head.active_high)

    def _pulse(self, pin: str, active_high: bool) -> None:
        mock = self._factory.pin(pin)
        (mock.drive_high if active_high else mock.drive_low)()
        time.sleep(self._hold_s)
        (mock.drive_low if active_high else mock.drive_high)()
        time.sleep(self._hold_s)


def run_selftest(config: CoreConfig, hardware, *, toggle: Callable[[str, str], None] | None = None,
                 prompt: Callable[[str], None] = print, input_timeout_s: float = 30.0,
                 camera_frames: int = 25, min_sharpness: float = MIN_SHARPNESS,
                 clock: Clock | None = None) -> SelftestResult:
    """Run every check of the module docstring on ``hardware`` (a :class:`roadcam.hal.hardware.Hardware`
    of ``config``). ``toggle(kind, name)`` toggles an input ("loop", name or "lamp", "head:colour");
    without it the technician is prompted and has ``input_timeout_s`` for each."""
    result = SelftestResult()
    diagnostics = config.section("diagnostics")
    for camera in config.cameras:
        prompt(f"camera {camera.name}: reading {camera_frames} frames ...")
        result.checks += _camera_checks(hardware, camera, camera_frames, diagnostics, min_sharpness,
                                        result.snapshots)
    result.checks += _input_checks(hardware, config, toggle, prompt, input_timeout_s)
    result.checks += _serial_checks(hardware, config)
    result.checks.append(_broker_check(config))
    result.checks.append(_clock_check(clock or Clock()))
    result.checks.append(_disk_check(config, diagnostics.disk_free_min_mb))
    return result


def _camera_checks(hardware, camera_config, frames_wanted: int, diagnostics, min_sharpness: float,
                   snapshots: dict[str, np.ndarray]) -> list[Check]:
    import cv2

    from roadcam.plugins.diagnostics.camera import image_figures, thumbnail

    name = camera_config.name
    label = f"camera {name}"
    try:
        camera = hardware.make_camera(camera_config)
        camera.open()
        frames = []
        while len(frames) < frames_wanted:
            frame = camera.read()
            if frame is None:
                break
            frames.append(frame)
        camera.close()
    except RoadcamError as exc:
        return [Check(f"{label}: frames", FAIL, str(exc), "check the camera's cable, power and source address")]
    if not frames:
        return [Check(f"{label}: frames", FAIL, "the camera opened but gave no frame",
                      "check the source (a stream that is up, a file that is not empty)")]
    span_s = (frames[-1].mono_ns - frames[0].mono_ns) / 1e9
    rate = f", {(len(frames) - 1) / span_s:.1f} fps" if span_s > 0 else ""
    width, height = frames[-1].size
    checks = [Check(f"{label}: frames", PASS, f"{len(frames)} frames of {width}x{height}{rate}")]
    snapshots[name] = frames[-1].image
    grey = thumbnail(frames[-1].image, diagnostics.thumb_width_px)
    figures = image_figures(grey)
    if figures.mean < diagnostics.dark_below:
        checks.append(Check(f"{label}: exposure", FAIL, f"mean grey level {figures.mean:.0f} (dark below "
                            f"{diagnostics.dark_below:g})", "uncover the lens; check the IR lamp and the exposure"))
    elif figures.mean > diagnostics.washed_above and figures.spread < diagnostics.washed_spread_below:
        checks.append(Check(f"{label}: exposure", FAIL, f"mean grey level {figures.mean:.0f}, spread "
                            f"{figures.spread:.0f} (washed out)", "turn the camera from the sun; check the iris"))
    else:
        checks.append(Check(f"{label}: exposure", PASS, f"mean grey level {figures.mean:.0f}, spread "
                            f"{figures.spread:.0f}"))
    if checks[-1].status == FAIL:
        checks.append(Check(f"{label}: focus", SKIP, "not judged: the exposure is wrong"))
        return checks
    ratio = figures.sharpness / max(image_figures(cv2.GaussianBlur(grey, FOCUS_BLUR, 0)).sharpness, 1e-9)
    sharp = ratio >= min_sharpness
    checks.append(Check(f"{label}: focus", PASS if sharp else FAIL,
                        f"sharpness {ratio:.2f} times that of the picture blurred (at least {min_sharpness:g})",
                        "" if sharp else "focus the lens on the far stop line; clean the housing window"))
    return checks


def _input_checks(hardware, config: CoreConfig, toggle, prompt, timeout_s: float) -> list[Check]:
    """Each lamp of each head, and each loop: toggled and seen through its edge callback."""
    seen: dict[str, threading.Event] = {}
    lock = threading.Lock()

    def mark(key: str) -> None:
        with lock:
            seen.setdefault(key, threading.Event()).set()

    def wanted(key: str) -> threading.Event:
        with lock:
            return seen.setdefault(key, threading.Event())

    checks = []
    try:
        heads = hardware.open_signal_heads()
        loops = hardware.open_loops()
    except RoadcamError as exc:
        return [Check("inputs: open", FAIL, str(exc), "check the pin numbers and the GPIO wiring")]
    for head in heads:
        head.when_lamps_changed = lambda name, lit, _ns: [mark(f"lamp:{name}:{colour}") for colour in lit]
    for loop in loops:
        loop.when_changed = lambda name, occupied, _ns: mark(f"loop:{name}:{'on' if occupied else 'off'}")
    for head in config.signals:
        for colour in ("red", "amber", "green"):
            name = f"{head.head}:{colour}"
            checks.append(_toggled("lamp", name, [f"lamp:{name}"], toggle, prompt, wanted, timeout_s,
                                   f"light the {colour} lamp of head {head.head} (pin {getattr(head, colour)})"))
    for loop in config.loops:
        checks.append(_toggled("loop", loop.name, [f"loop:{loop.name}:on", f"loop:{loop.name}:off"], toggle, prompt,
                               wanted, timeout_s, f"occupy then free loop {loop.name} (pin {loop.pin})"))
    return checks


def _toggled(kind: str, name: str, keys: list[str], toggle, prompt, wanted, timeout_s: float, ask: str) -> Check:
    events = [wanted(key) for key in keys]
    for event in events:
        event.clear()
    if toggle is None:
        prompt(f"{ask} (within {timeout_s:g} s)")
    else:
        toggle(kind, name)
    started = time.monotonic()
    if all(event.wait(max(0.0, timeout_s - (time.monotonic() - started))) for event in events):
        return Check(f"{kind} {name}", PASS, "toggled and seen")
    missing = [key.split(":")[-1] for key, event in zip(keys, events) if not event.is_set()]
    return Check(f"{kind} {name}", FAIL, f"not seen within {timeout_s:g} s ({', '.join(missing)})",
                 "check the wiring to the pin, the opto-isolator board and the pin number in the config")


def _serial_checks(hardware, config: CoreConfig) -> list[Check]:
    try:
        links = hardware.open_serial_links()
    except RoadcamError as exc:
        return [Check("serial: open", FAIL, str(exc), "check the port name and that roadcam is in group dialout")]
    checks = []
    for link, settings in zip(links, config.serial):
        label = f"serial {link.name}"
        try:
            if settings.port.startswith("loop://"):
                link.write(b"roadcam selftest\n")
                echoed = link.read_line(2.0)
                ok = echoed == b"roadcam selftest"
                checks.append(Check(label, PASS if ok else FAIL, f"loopback echo {echoed!r}",
                                    "" if ok else "the loopback did not echo the probe"))
            else:
                line = link.read_line(2.0)
                heard = f"received {line[:40]!r}" if line else "nothing received in 2 s (it may speak only when asked)"
                checks.append(Check(label, PASS, f"{settings.port} open at {settings.baudrate} Bd; {heard}"))
        except RoadcamError as exc:
            checks.append(Check(label, FAIL, str(exc), "check the cable and the port"))
    return checks


def _broker_check(config: CoreConfig) -> Check:
    from .broker_check import BrokerProbe, check_broker

    uplink = config.section("uplink")
    if not uplink.enabled:
        return Check("broker", SKIP, "uplink disabled in the site config")
    if uplink.tls is None:
        return Check("broker", FAIL, "uplink.tls is not set: no device certificate to connect with",
                     "run roadcam provision")
    try:
        detail = check_broker(BrokerProbe(uplink.host, uplink.port, uplink.tls.ca_file, uplink.tls.cert_file,
                                          uplink.tls.key_file, config.device.id, config.device.site),
                              timeout_s=10.0)
    except ConfigError as exc:
        return Check("broker", FAIL, str(exc), "see the message: it names the setting")
    return Check("broker", PASS, detail)


def _clock_check(clock: Clock) -> Check:
    state = clock.state()
    if not state.synced:
        return Check("clock", FAIL, "the kernel reports the clock not synchronised",
                     "check chrony or systemd-timesyncd (timedatectl, chronyc tracking) and the NTP server")
    error = f", error bound {state.error_ms:g} ms" if state.error_ms is not None else ""
    return Check("clock", PASS, f"synchronised{error}")


def _disk_check(config: CoreConfig, free_min_mb: int) -> Check:
    folder = Path(config.storage.evidence_dir)
    probe = folder / ".selftest-probe"
    data = os.urandom(4096)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        ok = probe.read_bytes() == data
        probe.unlink()
        free_mb = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize // (1024 * 1024)
    except OSError as exc:
        return Check("disk", FAIL, f"{folder}: {exc.strerror or exc}",
                     "check that the card is mounted read-write and roadcam owns /var/lib/roadcam")
    if not ok:
        return Check("disk", FAIL, f"{folder}: the probe read back differs", "replace the SD card")
    if free_mb < free_min_mb:
        return Check("disk", FAIL, f"{free_mb} MiB free under {folder} (at least {free_min_mb})",
                     "free space or use a bigger card")
    return Check("disk", PASS, f"{folder} writable, {free_mb} MiB free")
