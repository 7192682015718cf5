"""The diagnostics plugin: hooks and the per-camera image checks."""

from __future__ import annotations

from roadcam.appliance.hookspecs import hookimpl

from .camera import CameraChecks
from .config import DiagnosticsConfig
from .lamps import LampChecks
from .system import SystemChecks


class Diagnostics:
    """Checks each camera (timing on every frame, the image on a small copy every few frames),
    each signal head's lamps and the box's health."""

    def __init__(self, appliance, config: DiagnosticsConfig):
        self.config = config
        self.camera_checks = CameraChecks(config, appliance.raise_fault, appliance.clear_fault,
                                          appliance.config.device.location)
        self.lamp_checks = LampChecks(config, appliance.raise_fault, appliance.clear_fault,
                                      config.expected_lamps(appliance.config.signals))
        self.system_checks = SystemChecks(config, appliance.store, appliance.clock,
                                          appliance.config.storage.database.parent, appliance.raise_fault,
                                          appliance.clear_fault,
                                          outbox_watched=getattr(getattr(appliance.config, "uplink", None),
                                                                 "enabled", False))
        self._clock = appliance.clock
        self._expected_fps = {camera.name: getattr(camera.source, "fps", None)
                              for camera in appliance.config.cameras}

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        self.camera_checks.on_frame(frame.camera, frame.time_ns, frame.image, self._expected_fps.get(frame.camera),
                                    arrived_ns=self._clock.wall_ns())
        return []

    @hookimpl
    def roadcam_lamps_changed(self, head, lit, time_ns):
        self.lamp_checks.on_lamps(head, lit, time_ns)
        return []

    @hookimpl
    def roadcam_tick(self, now_ns):
        self.camera_checks.on_tick(now_ns, self._expected_fps)
        self.lamp_checks.on_tick(now_ns)
        self.system_checks.on_tick(now_ns)
        return []

    @hookimpl
    def roadcam_collect_health(self, appliance):
        return {"system": self.system_checks.health(), "camera_checks": self.camera_checks.health(),
                "night": self.camera_checks.night_rule(), "lamp_checks": self.lamp_checks.health()}


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
