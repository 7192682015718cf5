"""Built-in plugin: plate capture. Finds and reads the plate of every tracked vehicle with the
project's own TFLite models (plate detector, plate reader), fuses the reads of a track into one
``plate.read`` per vehicle, and raises ``hotlist.hit`` the moment a read matches the hotlist.

Modules: ``config`` (the section), ``detector`` and ``reader`` (the models), ``fusion`` (the
vote), ``hotlist`` (the list and its matching), ``plugin`` (the wiring), ``cli`` (``roadcam
plate read``)."""

from .plugin import PlateCapture, PlateCaptureConfig, PlateCapturePlugin, plugin

__all__ = ["PlateCapture", "PlateCaptureConfig", "PlateCapturePlugin", "plugin"]
