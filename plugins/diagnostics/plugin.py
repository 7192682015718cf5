"""The diagnostics plugin: hooks and the per-camera image checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roadcam.appliance.hookspecs import hookimpl

from .config import DiagnosticsConfig
from .system import system_figures


@dataclass
class _ImageCheck:
    """What the last sample of one camera looked like."""

    next_sample_ns: int = 0
    last_sample: np.ndarray | None = None
    unchanged_since_ns: int | None = None


class Diagnostics:
    """Checks each camera's image now and then (cheap: a 1/16 subsample) and the box's health."""

    def __init__(self, appliance, config: DiagnosticsConfig):
        self.appliance = appliance
        self.config = config
        self._checks: dict[str, _ImageCheck] = {}

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        check = self._checks.setdefault(frame.camera, _ImageCheck())
        if frame.time_ns < check.next_sample_ns:
            return []
        check.next_sample_ns = frame.time_ns + int(self.config.sample_every_s * 1e9)
        sample = frame.image[::16, ::16].copy()
        self._check_dark(frame.camera, float(sample.mean()))
        self._check_frozen(frame.camera, check, sample, frame.time_ns)
        return []

    def _check_dark(self, camera: str, mean_level: float) -> None:
        if mean_level < self.config.dark_below:
            self.appliance.raise_fault("camera.dark", camera,
                                       f"camera {camera} sees almost nothing (mean level {mean_level:.1f}): "
                                       "check the lens, the housing and the IR illuminator")
        else:
            self.appliance.clear_fault("camera.dark", camera)

    def _check_frozen(self, camera: str, check: _ImageCheck, sample: np.ndarray, time_ns: int) -> None:
        unchanged = check.last_sample is not None and np.array_equal(sample, check.last_sample)
        check.last_sample = sample
        if not unchanged:
            check.unchanged_since_ns = None
            self.appliance.clear_fault("camera.frozen", camera)
            return
        check.unchanged_since_ns = check.unchanged_since_ns or time_ns
        if time_ns - check.unchanged_since_ns >= self.config.frozen_after_s * 1e9:
            self.appliance.raise_fault("camera.frozen", camera,
                                       f"camera {camera} has sent the same image for "
                                       f"{self.config.frozen_after_s:g} s: restart the camera or check its encoder")

    @hookimpl
    def roadcam_collect_health(self, appliance):
        figures = system_figures(appliance.config.storage.database.parent)
        self._check_limit("disk.low", "storage", figures["disk_free_mb"], self.config.disk_free_min_mb, below=True,
                          what="free disk (MiB)", fix="free space or raise storage.budget_mb carefully")
        self._check_limit("cpu.hot", "system", figures["cpu_temp_c"], self.config.cpu_temp_max_c, below=False,
                          what="SoC temperature (°C)", fix="check the cabinet fan and sun shield")
        return {"system": figures}

    def _check_limit(self, code, component, value, limit, *, below: bool, what: str, fix: str) -> None:
        if value is None:
            return
        if (value < limit) if below else (value > limit):
            self.appliance.raise_fault(code, component, f"{what} is {value}, limit {limit}: {fix}")
        else:
            self.appliance.clear_fault(code, component)


class DiagnosticsPlugin:
    """Module-level entry: declares the config section and registers the stateful checker."""

    @hookimpl
    def roadcam_config_section(self):
        return "diagnostics", DiagnosticsConfig

    @hookimpl
    def roadcam_configure(self, appliance):
        appliance.plugin_manager.register(Diagnostics(appliance, appliance.config.section("diagnostics")),
                                          name="diagnostics.checks")


plugin = DiagnosticsPlugin()
