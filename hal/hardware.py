"""Opens every device a site config names, each with the backend its config chooses.

:class:`Hardware` is the one place that turns config sections into HAL devices: cameras by source
type, GPIO devices on the configured pin factory, serial links through pyserial. It keeps every
device it opened and closes them all in :meth:`Hardware.close`. Errors carry the config path of
the device at fault (``cameras[1]: camera 'north' ...``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gpiozero.pins import Factory

from roadcam.appliance.clock import Clock
from roadcam.appliance.config import CameraConfig, CoreConfig
from roadcam.common.errors import BackendNotFound, HardwareError

from .base import Camera, Device, LampInput, LoopInput, Output, SerialLink
from .camera import make_camera
from .clock_status import ClockStatusSource
from .controller import SerialSignalController, SerialSignalHead
from .gpio import GpioLoop, GpioOutput, GpioSignalHead, make_pin_factory
from .serial import PySerialLink


@contextmanager
def _config_path(path: str) -> Iterator[None]:
    """Prefix a device error raised inside the block with the config path of that device."""
    try:
        yield
    except (HardwareError, BackendNotFound) as exc:
        raise type(exc)(f"{path}: {exc}") from exc


class Hardware:
    """The devices of one site. A context manager: leaving it closes everything it opened.

    ``pin_factory``: an already-made gpiozero factory (tests, the simulator) used instead of
    ``config.gpio.pin_factory``; otherwise that factory is made when a pin is first needed.
    ``sim_cameras(name)``: makes the unopened camera for a ``type: sim`` source (given by
    ``roadcam simulate``).
    """

    def __init__(self, config: CoreConfig, clock: Clock, *, pin_factory: Factory | None = None,
                 sim_cameras: Callable[[str], Camera] | None = None):
        self._config = config
        self._clock = clock
        self._pin_factory = pin_factory
        self._made_pin_factory: Factory | None = None
        self._sim_cameras = sim_cameras
        self._opened: list[Device] = []
        #: The signal controllers :meth:`open_signal_heads` made; the caller wires and starts them.
        self.signal_controllers: list[SerialSignalController] = []

    def make_camera(self, camera_config: CameraConfig) -> Camera:
        """The unopened camera for one entry of ``config.cameras``.

        The caller opens it (the runtime does so in the camera's capture thread, so a camera that
        cannot be reached is retried there while the rest of the site runs); it is closed with
        the rest in :meth:`close`.
        """
        index = self._config.cameras.index(camera_config)
        with _config_path(f"cameras[{index}]"):
            camera = make_camera(camera_config, self._clock, sim_cameras=self._sim_cameras)
        return self._keep(camera)

    def open_signal_heads(self) -> list[LampInput]:
        """The heads sensed on pins, and the heads the signal controllers report on serial links
        (their controllers, not yet reading, are in :attr:`signal_controllers`)."""
        heads: list[LampInput] = []
        fed: dict[str, list[SerialSignalHead]] = {}
        for index, head in enumerate(self._config.signals):
            if head.controller is not None:
                fed.setdefault(head.controller, []).append(SerialSignalHead(head.head))
                continue
            with _config_path(f"signals[{index}]"):
                heads.append(self._keep(GpioSignalHead(
                    head.head, red=head.red, amber=head.amber, green=head.green,
                    active_high=head.active_high, pin_factory=self._gpio(), clock=self._clock)))
        for index, link in enumerate(self._config.serial):
            if link.name in fed:
                with _config_path(f"serial[{index}]"):
                    port = PySerialLink(link.name, link.port, baudrate=link.baudrate)
                self.signal_controllers.append(self._keep(SerialSignalController(
                    port, fed[link.name], self._clock, baudrate=link.baudrate)))
                heads.extend(fed[link.name])
        return heads

    def open_loops(self) -> list[LoopInput]:
        loops = []
        for index, loop in enumerate(self._config.loops):
            with _config_path(f"loops[{index}]"):
                loops.append(self._keep(GpioLoop(
                    loop.name, loop.pin, active_high=loop.active_high, pin_factory=self._gpio(),
                    clock=self._clock)))
        return loops

    def open_outputs(self) -> list[Output]:
        outputs = []
        for index, output in enumerate(self._config.outputs):
            with _config_path(f"outputs[{index}]"):
                outputs.append(self._keep(GpioOutput(
                    output.name, output.pin, active_high=output.active_high,
                    pin_factory=self._gpio())))
        return outputs

    def open_serial_links(self) -> list[SerialLink]:
        links = []
        controlled = {head.controller for head in self._config.signals}
        for index, link in enumerate(self._config.serial):
            if link.name in controlled:
                continue  # read by its SerialSignalController
            with _config_path(f"serial[{index}]"):
                links.append(self._keep(PySerialLink(link.name, link.port,
                                                     baudrate=link.baudrate)))
        return links

    def close(self) -> None:
        """Close every device opened here (newest first), then the pin factory made here."""
        while self._opened:
            self._opened.pop().close()
        if self._made_pin_factory is not None:
            self._made_pin_factory.close()
            self._made_pin_factory = None

    def __enter__(self) -> Hardware:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _keep(self, device: Device) -> Device:
        self._opened.append(device)
        return device

    def _gpio(self) -> Factory:
        """The pin factory: the one given, else the configured one, made on first use."""
        if self._pin_factory is not None:
            return self._pin_factory
        if self._made_pin_factory is None:
            with _config_path("gpio.pin_factory"):
                self._made_pin_factory = make_pin_factory(self._config.gpio.pin_factory)
        return self._made_pin_factory


def clock_status_source(config: CoreConfig) -> ClockStatusSource:
    """The reader of the clock's sync state and error bound the site's ``clock:`` section names."""
    return ClockStatusSource(config.clock.source, config.clock.refresh_s)
