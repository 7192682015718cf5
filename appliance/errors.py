"""The exception tree. Each class also subclasses the builtin a caller would catch anyway.

Messages are written for the person who has to fix the problem: they name the config field,
file, line, port or camera at fault and say what to do.
"""


class RoadcamError(Exception):
    """Base of every error roadcam raises on purpose."""


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


class ScenarioError(RoadcamError, ValueError):
    """A simulator scenario file is invalid."""
