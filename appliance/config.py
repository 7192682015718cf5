"""The site configuration: pydantic models, YAML in (read and checked by
:mod:`roadcam.common.yaml_config`), errors with field paths and file lines.

The core owns the sections every site has (device, storage, hardware, cameras, signals, loops,
outputs, serial, plugins, health). Each plugin adds its own section through the
``roadcam_config_section`` hook; :func:`build_config_model` joins them into one model, so an
unknown key anywhere is an error that names its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from roadcam.common.errors import ConfigError

from .tracking.settings import TrackingSettings

PIN_PATTERN = r"^(GPIO\d{1,2}|BOARD\d{1,2}|\d{1,2})$"


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def _existing_model_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"no model file at {path}: give the path of a .tflite file, or leave it out "
                         "to use the one shipped with roadcam")
    return path


#: A field naming a model file: it must exist; None means the model shipped with roadcam.
ModelFile = Annotated[Path | None, AfterValidator(_existing_model_file)]

class Location(Section):
    """Where the box stands, so the central office can put it on a map (WGS 84 degrees)."""

    lat: float = Field(ge=-90, le=90, title="Latitude", description="Decimal degrees, north positive.")
    lon: float = Field(ge=-180, le=180, title="Longitude", description="Decimal degrees, east positive.")
    description: str | None = Field(None, max_length=200, title="Description",
                                    description="Where it is for people, e.g. 'NE corner, pole 3'.")


class DeviceConfig(Section):
    id: str = Field(title="Device id", description="Unique id of this box, e.g. tn-0042.",
                    pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    site: str = Field(title="Site id", description="Id of the site (intersection or road section).",
                      pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    location: Location | None = Field(None, title="Location",
                                      description="Where the box stands (roadcam provision --location); "
                                                  "sent to the collector in the retained health summary.")


class StorageConfig(Section):
    database: Path = Field(Path("/var/lib/roadcam/events.db"), title="Database file",
                           description="SQLite outbox of events (WAL mode, synchronous=FULL).")
    evidence_dir: Path = Field(Path("/var/lib/roadcam/evidence"), title="Evidence folder",
                               description="Evidence files, each named by its sha256.")
    budget_mb: int = Field(2048, ge=1, title="Disk budget (MiB)",
                           description="Most space events and evidence may take; only what the "
                                       "collector confirmed is evicted to stay under it.")


class Calibration(Section):
    image_points: list[tuple[float, float]] = Field(
        title="Image points", description="At least 4 pixel positions (x, y) of marks on the road.",
        min_length=4)
    road_points: list[tuple[float, float]] = Field(
        title="Road points", description="The same marks on the road plane, in metres (x across, y along).",
        min_length=4)

    @model_validator(mode="after")
    def _same_length(self):
        if len(self.image_points) != len(self.road_points):
            raise ValueError("image_points and road_points must list the same number of points")
        return self


class Picamera2Source(Section):
    type: Literal["picamera2"] = Field(title="Type", description="Raspberry Pi camera via picamera2.")
    index: int = Field(0, ge=0, title="Camera index", description="Which CSI camera (0 or 1).")
    width: int = Field(1920, ge=64, title="Width", description="Frame width in pixels.")
    height: int = Field(1080, ge=64, title="Height", description="Frame height in pixels.")
    fps: float = Field(25.0, gt=0, le=120, title="Frame rate", description="Frames per second.")


class OpenCVSource(Section):
    type: Literal["opencv"] = Field(title="Type", description="RTSP/HTTP stream, USB camera or video file via OpenCV.")
    url: str = Field(title="Source", description="rtsp://… or http://… URL, /dev/videoN, a device "
                                                "number, or a video file path.")
    fps: float | None = Field(None, gt=0, le=120, title="Frame rate",
                              description="Frames per second to request; the source's own when unset.")
    timeout_s: float = Field(5.0, gt=0, title="Open timeout (s)",
                             description="How long to wait for the first frame before giving up.")
    speed: float = Field(0.0, ge=0, le=100, title="Replay speed",
                         description="Video files only: deliver frames at this many times the file's frame "
                                     "rate (1 = real time, as the camera recorded them); 0 = as fast as the "
                                     "analysis takes them. A file's frames are never dropped either way.")

    @property
    def is_stream(self) -> bool:
        """A network stream (``scheme://...``), live."""
        return "://" in self.url

    @property
    def is_device(self) -> bool:
        """A V4L2 camera (``/dev/...`` or a device number), live."""
        return self.url.isdigit() or self.url.startswith("/dev/")

    @model_validator(mode="after")
    def _speed_for_files_only(self) -> OpenCVSource:
        if self.speed and (self.is_stream or self.is_device):
            raise ValueError("speed applies to video files only: a stream or a camera sends frames at its own pace")
        return self


class SimSource(Section):
    type: Literal["sim"] = Field(title="Type", description="Frames from the simulated road "
                                                          "(only under `roadcam simulate`).")


CameraSource = Annotated[Picamera2Source | OpenCVSource | SimSource, Field(discriminator="type")]


class CameraConfig(Section):
    name: str = Field(title="Camera name", description="Short unique name, e.g. north-approach.",
                      pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    source: CameraSource = Field(title="Source", description="Where frames come from; keyed on `type`.")
    calibration: Calibration | None = Field(None, title="Calibration",
                                            description="Image-to-road point pairs (homography).")
    queue_frames: int = Field(2, ge=1, le=32, title="Frame queue",
                              description="Frames buffered between capture and analysis; a live "
                                          "camera drops the oldest beyond this.")


class GpioConfig(Section):
    pin_factory: str = Field("lgpio", title="Pin factory",
                             description="gpiozero pin factory: lgpio, rpigpio, pigpio, native, "
                                         "or mock (bench without hardware).")


class LampConfig(Section):
    head: str = Field(title="Signal head", description="Name of the head, e.g. main-straight.")
    red: str | None = Field(None, title="Red sense pin", description="GPIO pin sensing the red lamp, e.g. GPIO17.",
                            pattern=PIN_PATTERN)
    amber: str | None = Field(None, title="Amber sense pin", description="GPIO pin sensing the amber lamp.",
                              pattern=PIN_PATTERN)
    green: str | None = Field(None, title="Green sense pin", description="GPIO pin sensing the green lamp.",
                              pattern=PIN_PATTERN)
    active_high: bool = Field(True, title="Active high",
                              description="True when a lit lamp drives the pin high.")
    controller: str | None = Field(
        None, title="Controller link",
        description="Instead of the three pins: the name of the serial link (in serial:) on which the "
                    "signal controller reports this head (roadcam.hal.controller gives the line format).")

    @model_validator(mode="after")
    def _pins_or_controller(self):
        pins = [self.red, self.amber, self.green]
        if self.controller is None and None in pins:
            raise ValueError("give the three lamp-sense pins (red, amber, green), or controller: the serial "
                             "link on which the signal controller reports the head")
        if self.controller is not None and any(pins):
            raise ValueError("give either the lamp-sense pins or controller, not both")
        return self

    @property
    def pins(self) -> list[str]:
        """The lamp-sense pins (none for a head read from the controller)."""
        return [pin for pin in (self.red, self.amber, self.green) if pin is not None]


class LoopConfig(Section):
    name: str = Field(title="Loop name", description="Unique name, e.g. lane1-entry.")
    pin: str = Field(title="Pin", description="GPIO pin of the loop detector output.", pattern=PIN_PATTERN)
    lane: int = Field(1, ge=1, title="Lane", description="Lane number, 1 = kerbside.")
    position_m: float = Field(0.0, title="Position (m)",
                              description="Leading edge of the loop along the road, from the stop line.")
    length_m: float = Field(2.0, gt=0, title="Length (m)", description="Loop length along the road.")
    active_high: bool = Field(False, title="Active high",
                              description="False for the usual open-collector detector output "
                                          "(pulled low while occupied).")


class OutputConfig(Section):
    name: str = Field(title="Output name", description="e.g. flash or status-lamp.")
    pin: str = Field(title="Pin", description="GPIO pin driving the output.", pattern=PIN_PATTERN)
    active_high: bool = Field(True, title="Active high", description="True when on means high.")


class SerialConfig(Section):
    name: str = Field(title="Link name", description="e.g. signal-controller.")
    port: str = Field(title="Port", description="Device path (/dev/ttyUSB0) or pyserial URL (loop://).")
    baudrate: int = Field(9600, gt=0, title="Baud rate", description="Bits per second.")


class PluginsConfig(Section):
    disabled: list[str] = Field(default_factory=list, title="Disabled plugins",
                                description="Names of plugins not to load (built-in or entry point).")


class HealthConfig(Section):
    interval_s: float = Field(60.0, gt=0, title="Health interval (s)",
                              description="How often a health event is stored.")


class ClockConfig(Section):
    source: Literal["auto", "chrony", "timedatectl", "adjtimex"] = Field(
        "auto", title="Clock status source",
        description="Where the clock's sync state and error bound are read (roadcam.hal.clock_status): "
                    "chrony (chronyc -c tracking), adjtimex (the kernel's NTP state), timedatectl (sync "
                    "yes/no only, no error bound: never trusted for section speed), or auto (chrony when "
                    "installed, else the kernel's state).")
    refresh_s: float = Field(1.0, gt=0, le=60, title="Refresh (s)",
                             description="How long one reading is used before the source is read again.")


class CoreConfig(Section):
    """The sections every site has; plugins add theirs next to these."""

    device: DeviceConfig = Field(title="Device", description="Identity of this box.")
    storage: StorageConfig = Field(default_factory=StorageConfig, title="Storage",
                                   description="Where events and evidence are kept.")
    gpio: GpioConfig = Field(default_factory=GpioConfig, title="GPIO", description="Pin access.")
    cameras: list[CameraConfig] = Field(default_factory=list, title="Cameras",
                                        description="Cameras this box watches.")
    signals: list[LampConfig] = Field(default_factory=list, title="Signal heads",
                                      description="Lamp-sense inputs per signal head.")
    loops: list[LoopConfig] = Field(default_factory=list, title="Induction loops",
                                    description="Loop detector inputs.")
    outputs: list[OutputConfig] = Field(default_factory=list, title="Outputs",
                                        description="Digital outputs (flash trigger, relays).")
    serial: list[SerialConfig] = Field(default_factory=list, title="Serial links",
                                       description="Serial devices (controller, radar).")
    plugins: PluginsConfig = Field(default_factory=PluginsConfig, title="Plugins",
                                   description="Which plugins run.")
    health: HealthConfig = Field(default_factory=HealthConfig, title="Health",
                                 description="Health reporting.")
    clock: ClockConfig = Field(default_factory=ClockConfig, title="Clock",
                               description="How the clock's sync state is read.")
    tracking: TrackingSettings = Field(default_factory=TrackingSettings, title="Tracking",
                                       description="How the tracker follows road users on every camera.")

    @field_validator("cameras", "signals", "loops", "outputs", "serial")
    @classmethod
    def _unique_names(cls, items):
        names = [getattr(item, "name", None) or item.head for item in items]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"names must be unique; repeated: {', '.join(duplicates)}")
        return items

    @model_validator(mode="after")
    def _pins_used_once(self):
        owners: dict[str, str] = {}
        for kind, items in (("signals", self.signals), ("loops", self.loops), ("outputs", self.outputs)):
            for item in items:
                pins = item.pins if kind == "signals" else [item.pin]
                for pin in pins:
                    key = _pin_key(pin)
                    label = f"{kind}[{getattr(item, 'name', None) or item.head}]"
                    if key in owners and owners[key] != label:
                        raise ValueError(f"pin {pin} is used by both {owners[key]} and {label}")
                    owners[key] = label
        return self

    @model_validator(mode="after")
    def _controllers_are_serial_links(self):
        links = [link.name for link in self.serial]
        for index, head in enumerate(self.signals):
            if head.controller is not None and head.controller not in links:
                raise ValueError(f"signals[{index}].controller: no serial link named {head.controller!r} "
                                 f"(serial: {', '.join(links) or 'none configured'})")
        return self

    @model_validator(mode="after")
    def _plugin_sections_match_the_site(self):
        """A plugin section with a ``check_site(site)`` method checks itself against the whole
        site (a speed pair's loops are the site's loops); it raises ValueError naming the field."""
        for name in type(self).model_fields:
            if name in CoreConfig.model_fields:
                continue
            check = getattr(getattr(self, name), "check_site", None)
            if callable(check):
                check(self)
        return self

    def section(self, name: str) -> Any:
        """A plugin's validated section by name."""
        return getattr(self, name)


def _pin_key(pin: str) -> str:
    return pin if pin.startswith("BOARD") else "GPIO" + pin.removeprefix("GPIO")


def build_config_model(sections: dict[str, type[BaseModel]]) -> type[CoreConfig]:
    """The full site-config model: the core sections plus one optional field per plugin section."""
    clashes = set(sections) & set(CoreConfig.model_fields)
    if clashes:
        raise ConfigError(f"plugin config sections clash with core sections: {sorted(clashes)}")
    fields = {
        name: (model, Field(default_factory=model, title=model.__name__,
                            description=(model.__doc__ or name).strip().splitlines()[0]))
        for name, model in sections.items()
    }
    return create_model("SiteConfig", __base__=CoreConfig, **fields)
