"""Built-in plugin: the vehicle and pedestrian detector.

Owns the ``detection`` config section. On configure it registers the detector its ``type``
names, which answers ``roadcam_detect``: :class:`BackgroundDetector` (background subtraction,
a background model per camera; the default) or :class:`LearnedDetector` (a TFLite model).
A model that cannot be loaded raises a ``model.unavailable`` fault and the appliance runs on
without a detector (its other plugins, health and uplink keep working).
"""

from __future__ import annotations

from roadcam.appliance.hookspecs import hookimpl
from roadcam.common.errors import ModelError

from .config import DetectionConfig
from .detector import BackgroundDetector
from .learned import LearnedDetector

SECTION = "detection"


class DetectionPlugin:
    """Declares the config section and builds the detector the config asks for."""

    @hookimpl
    def roadcam_config_section(self):
        return SECTION, DetectionConfig

    @hookimpl
    def roadcam_configure(self, appliance) -> None:
        config: DetectionConfig = appliance.config.section(SECTION)
        try:
            detector = LearnedDetector(config) if config.type == "tflite" else BackgroundDetector(config)
        except ModelError as exc:
            appliance.raise_fault("model.unavailable", SECTION, str(exc))
            return
        appliance.plugin_manager.register(detector, name=_detector_name(config))

    @hookimpl
    def roadcam_unconfigure(self, appliance) -> None:
        name = _detector_name(appliance.config.section(SECTION))
        if appliance.plugin_manager.get_plugin(name) is not None:
            appliance.plugin_manager.unregister(name=name)


def _detector_name(config: DetectionConfig) -> str:
    return f"{SECTION}.{config.type}"


plugin = DetectionPlugin()

__all__ = ["BackgroundDetector", "DetectionConfig", "DetectionPlugin", "LearnedDetector", "plugin"]
