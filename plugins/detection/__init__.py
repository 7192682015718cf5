"""Built-in plugin: the default vehicle and pedestrian detector (background subtraction).

Owns the ``detection`` config section. On configure it registers one stateful
:class:`BackgroundDetector` (a background model per camera) that answers ``roadcam_detect``.
The section is keyed on ``type`` so that a TFLite detector can take its place by config.
"""

from __future__ import annotations

from appliance.hookspecs import hookimpl

from .config import DetectionConfig
from .detector import BackgroundDetector

SECTION = "detection"


class DetectionPlugin:
    """Declares the config section and builds the detector the config asks for."""

    @hookimpl
    def roadcam_config_section(self):
        return SECTION, DetectionConfig

    @hookimpl
    def roadcam_configure(self, appliance) -> None:
        config: DetectionConfig = appliance.config.section(SECTION)
        appliance.plugin_manager.register(BackgroundDetector(config), name=_detector_name(config))

    @hookimpl
    def roadcam_unconfigure(self, appliance) -> None:
        name = _detector_name(appliance.config.section(SECTION))
        if appliance.plugin_manager.get_plugin(name) is not None:
            appliance.plugin_manager.unregister(name=name)


def _detector_name(config: DetectionConfig) -> str:
    return f"{SECTION}.{config.type}"


plugin = DetectionPlugin()

__all__ = ["BackgroundDetector", "DetectionConfig", "DetectionPlugin", "plugin"]
