"""The exception tree. Each class also subclasses the builtin a caller would catch anyway.

Messages are written for the person who has to fix the problem: they name the config field,
file, line, port or camera at fault and say what to do.
"""


class RoadcamError(Exception):
    """Base of every error roadcam raises on purpose. ``exit_code``: what a command line exits
    with when it ends on this error (2; a subclass may tell a different failure apart)."""

    exit_code = 2


class ConfigError(RoadcamError, ValueError):
    """The configuration is invalid. ``problems`` lists one line per error, with its path."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class HardwareError(RoadcamError, OSError):
    """A device behind the HAL could not be opened or stopped answering."""


class CameraUnavailable(HardwareError):
    """A camera could not be opened or delivered no frame."""


class SerialPortUnavailable(HardwareError):
    """A serial port could not be opened."""


class BackendNotFound(RoadcamError, LookupError):
    """A HAL backend or pin factory named in the config does not exist or is not installed."""


class StoreError(RoadcamError, OSError):
    """The event store could not be opened or written."""


class StorageFull(StoreError):
    """The disk budget is spent and nothing left is safe to evict (not yet confirmed delivered)."""


class MessageRejected(RoadcamError, ValueError):
    """The collector refused an MQTT message (malformed, oversized, unsigned, from an unknown
    device, evidence not matching its sha256). ``reason`` is a short label the collector counts
    messages under; the message says what the sending device did wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class CommandRefused(RoadcamError, PermissionError):
    """A command from the collector was refused: unsigned, altered, replayed, too old or not
    addressed to this device. ``reason`` is the short cause stored in the security event."""

    def __init__(self, reason: str, version: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.version = version


class ModelError(RoadcamError):
    """A TFLite model could not be loaded or run."""


class InferenceRuntimeMissing(ModelError, ImportError):
    """No TFLite runtime (ai-edge-litert, tflite-runtime or tensorflow) is installed."""


class ModelNotFound(ModelError, FileNotFoundError):
    """A model file named in the config or by a plugin does not exist."""


class ModelInvalid(ModelError, ValueError):
    """A model file exists but is not a TFLite model the runtime can load."""


class ModelInputMismatch(ModelError, ValueError):
    """An array handed to a model does not have the shape the model takes."""


class ImageInvalid(RoadcamError, ValueError):
    """An image is empty, corrupt, truncated or not an 8-bit grey or BGR picture."""
