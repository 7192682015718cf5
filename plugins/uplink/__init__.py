"""The MQTT uplink as a built-in plugin: owns the ``uplink`` config section, starts and stops
:class:`roadcam.appliance.uplink.Uplink`, and answers the collector's commands (run_diagnostics,
snapshot, config_update)."""

from .plugin import plugin

__all__ = ["plugin"]
