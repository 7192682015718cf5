"""GPIO backends on gpiozero's mock pins: loops, signal heads, outputs, pin factories.

Edge stamps are checked with pins that queue their edges (stamped with the factory's ticks at the
edge) until the test delivers them, like a real pin library's callback thread running late: the
reported time must be the edge's, not the delivery's.
"""

import importlib.util
import threading
import time

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory, MockPin
from gpiozero.pins.pi import PiPin

from roadcam.appliance.clock import Clock, ManualClock
from roadcam.common.errors import BackendNotFound, HardwareError
from roadcam.hal.gpio import GpioLoop, GpioOutput, GpioSignalHead, make_pin_factory

START_WALL_NS = 1_790_000_000 * 10**9


class QueuedPin(MockPin):
    """A mock pin whose edges wait in a queue until :meth:`deliver`, each with its edge ticks."""

    def __init__(self, factory, info):
        super().__init__(factory, info)
        self.queued = []

    def _call_when_changed(self):
        self.queued.append((self._factory.ticks(), self._state))

    def deliver(self):
        queued, self.queued = self.queued, []
        for ticks, level in queued:
            PiPin._call_when_changed(self, ticks, level)


class ManualTicksFactory(MockFactory):
    """Queued mock pins whose ticks are a ManualClock's monotonic nanoseconds."""

    def __init__(self, clock):
        super().__init__(pin_class=QueuedPin)
        self.clock = clock

    def ticks(self):
        return self.clock.mono_ns()

    def ticks_diff(self, later, earlier):
        return (later - earlier) / 1e9


class WrappingTicksFactory(ManualTicksFactory):
    """Ticks like pigpio's: 32-bit microseconds that wrap every 71.6 minutes."""

    def ticks(self):
        return (self.clock.mono_ns() // 1000) % 2**32

    def ticks_diff(self, later, earlier):
        return ((later - earlier) % 2**32) / 1e6


def edge_at(clock, pin, level, at_s, delivered_after_s=0.0):
    """Drive ``pin`` to ``level`` at ``at_s`` and deliver the edge ``delivered_after_s`` later."""
    clock.advance_to(round(at_s * 1e9))
    pin.drive_high() if level else pin.drive_low()
    clock.advance(delivered_after_s)
    pin.deliver()


@pytest.fixture
def clock():
    return ManualClock(START_WALL_NS)


@pytest.fixture
def factory(clock):
    pin_factory = ManualTicksFactory(clock)
    yield pin_factory
    pin_factory.close()


def recorder(device):
    calls = []
    device.when_changed = lambda *args: calls.append(args)
    return calls


def test_loop_edges_are_stamped_at_the_edge_not_at_delivery(clock, factory):
    with GpioLoop("lane1-entry", "GPIO5", pin_factory=factory, clock=clock) as loop:
        calls = recorder(loop)
        pin = factory.pin("GPIO5")
        assert loop.occupied is False  # pulled up at open: the active-low detector reads free
        edge_at(clock, pin, 0, at_s=2.0, delivered_after_s=0.050)
        assert loop.occupied is True
        edge_at(clock, pin, 1, at_s=2.5, delivered_after_s=0.120)
        assert loop.occupied is False
    assert calls == [("lane1-entry", True, START_WALL_NS + 2_000_000_000),
                     ("lane1-entry", False, START_WALL_NS + 2_500_000_000)]


def test_loop_stamps_survive_a_tick_counter_wrap(clock):
    factory = WrappingTicksFactory(clock)
    with GpioLoop("lane2-entry", "GPIO6", pin_factory=factory, clock=clock) as loop:
        calls = recorder(loop)
        edge_at(clock, factory.pin("GPIO6"), 0, at_s=7200.123456, delivered_after_s=0.003)
    assert calls == [("lane2-entry", True, START_WALL_NS + 7_200_123_456_000)]


def test_loop_stamp_is_the_edge_moment_in_real_time():
    clock = Clock()
    factory = MockFactory(pin_class=QueuedPin)
    with GpioLoop("lane1-exit", "GPIO13", pin_factory=factory, clock=clock) as loop:
        calls = recorder(loop)
        pin = factory.pin("GPIO13")
        before_ns = clock.wall_ns()
        pin.drive_low()
        after_ns = clock.wall_ns()
        time.sleep(0.050)
        delivered_ns = clock.wall_ns()
        pin.deliver()
    (_, occupied, time_ns), = calls
    assert occupied is True
    assert before_ns - 1_000_000 <= time_ns <= after_ns + 1_000_000
    assert delivered_ns - time_ns >= 45_000_000


def test_active_high_loop_and_repeated_levels(clock, factory):
    with GpioLoop("virtual", "GPIO19", active_high=True, pin_factory=factory, clock=clock) as loop:
        calls = recorder(loop)
        pin = factory.pin("GPIO19")
        assert loop.occupied is False  # pulled down at open
        edge_at(clock, pin, 1, at_s=1.0)
        pin.queued.append((factory.ticks(), True))  # a repeated level (bounce) is not a change
        pin.deliver()
    assert calls == [("virtual", True, START_WALL_NS + 1_000_000_000)]


def test_wait_for_occupied_and_free():
    factory = MockFactory()
    with GpioLoop("lane1-entry", "GPIO5", pin_factory=factory, clock=Clock()) as loop:
        pin = factory.pin("GPIO5")
        threading.Timer(0.05, pin.drive_low).start()
        assert loop.wait_for_occupied(timeout_s=2.0) is True
        assert loop.wait_for_free(timeout_s=0.05) is False
        pin.drive_high()
        assert loop.wait_for_free(timeout_s=0.0) is True


def test_pin_in_use_names_the_device_and_pin(clock, factory):
    with GpioLoop("lane1-entry", "GPIO5", pin_factory=factory, clock=clock):
        with pytest.raises(HardwareError, match=r"loop 'lane1-exit' on pin GPIO5: .*in use"):
            GpioLoop("lane1-exit", "GPIO5", pin_factory=factory, clock=clock)


def test_signal_head_reports_each_state_change_from_its_edge(clock, factory):
    head = GpioSignalHead("main", red="GPIO17", amber="GPIO27", green="GPIO22",
                          pin_factory=factory, clock=clock)
    calls = recorder(head)
    red, amber, green = (factory.pin(name) for name in ("GPIO17", "GPIO27", "GPIO22"))
    assert head.state == "dark"
    edge_at(clock, green, 1, at_s=1.0, delivered_after_s=0.01)
    edge_at(clock, green, 0, at_s=31.0)
    edge_at(clock, amber, 1, at_s=31.0)
    edge_at(clock, amber, 0, at_s=34.0)
    edge_at(clock, red, 1, at_s=34.0, delivered_after_s=0.02)
    assert head.state == "red"
    head.close()
    head.close()
    assert calls == [("main", "green", START_WALL_NS + 1_000_000_000),
                     ("main", "dark", START_WALL_NS + 31_000_000_000),
                     ("main", "amber", START_WALL_NS + 31_000_000_000),
                     ("main", "dark", START_WALL_NS + 34_000_000_000),
                     ("main", "red", START_WALL_NS + 34_000_000_000)]


def test_two_lamps_lit_report_the_most_restrictive_and_a_conflict(clock, factory):
    with GpioSignalHead("left-turn", red="GPIO17", amber="GPIO27", green="GPIO22",
                        pin_factory=factory, clock=clock) as head:
        calls = recorder(head)
        red, amber, green = (factory.pin(name) for name in ("GPIO17", "GPIO27", "GPIO22"))
        edge_at(clock, green, 1, at_s=1.0)
        edge_at(clock, red, 1, at_s=2.0)
        assert (head.state, head.conflict) == ("red", True)
        edge_at(clock, amber, 1, at_s=3.0)
        assert (head.state, head.conflict) == ("red", True)
        edge_at(clock, red, 0, at_s=4.0)
        assert (head.state, head.conflict) == ("amber", True)
        edge_at(clock, amber, 0, at_s=5.0)
        assert (head.state, head.conflict) == ("green", False)
    assert [state for _, state, _ in calls] == ["green", "red", "amber", "green"]
    assert calls[1][2] == START_WALL_NS + 2_000_000_000


def test_active_low_head_and_wait_for_state():
    factory = MockFactory()
    with GpioSignalHead("main", red="GPIO17", amber="GPIO27", green="GPIO22", active_high=False,
                        pin_factory=factory, clock=Clock()) as head:
        assert head.state == "dark"  # pulled up at open: no lamp lit
        threading.Timer(0.05, factory.pin("GPIO17").drive_low).start()
        assert head.wait_for_state("red", timeout_s=2.0) is True
        assert head.wait_for_state("green", timeout_s=0.01) is False
        with pytest.raises(ValueError, match="unknown signal state 'blue'"):
            head.wait_for_state("blue")


def test_head_that_cannot_open_a_lamp_releases_the_others(clock, factory):
    with GpioLoop("lane1-entry", "GPIO22", pin_factory=factory, clock=clock):
        with pytest.raises(HardwareError, match="signal head 'main' green sense on pin GPIO22"):
            GpioSignalHead("main", red="GPIO17", amber="GPIO27", green="GPIO22",
                           pin_factory=factory, clock=clock)
    # the red and amber pins were released: a new head can take them
    GpioSignalHead("main", red="GPIO17", amber="GPIO27", green="GPIO22",
                   pin_factory=factory, clock=clock).close()


def test_output_drives_its_pin():
    factory = MockFactory()
    flash = GpioOutput("flash", "GPIO6", pin_factory=factory)
    pin = factory.pin("GPIO6")
    assert (flash.is_active, pin.state) == (False, False)
    flash.on()
    assert (flash.is_active, pin.state) == (True, True)
    flash.off()
    flash.pulse(0.01)
    pin.assert_states([False, True, False, True, False])
    flash.close()
    flash.close()


def test_active_low_output_is_high_while_off():
    factory = MockFactory()
    with GpioOutput("relay", "GPIO12", active_high=False, pin_factory=factory) as relay:
        pin = factory.pin("GPIO12")
        assert pin.state is True
        relay.on()
        assert (relay.is_active, pin.state) == (True, False)


def test_devices_leave_gpiozero_global_factory_alone(clock, factory):
    before = gpiozero.Device.pin_factory
    GpioLoop("lane1-entry", "GPIO5", pin_factory=factory, clock=clock).close()
    GpioOutput("flash", "GPIO6", pin_factory=factory).close()
    assert gpiozero.Device.pin_factory is before


def test_make_pin_factory_by_name():
    factory = make_pin_factory("mock")
    assert isinstance(factory, MockFactory)
    factory.close()


def test_unknown_pin_factory_lists_the_choices():
    with pytest.raises(BackendNotFound, match=r"unknown pin factory 'lgpoi' \(gpio.pin_factory\): "
                                              r"choose one of lgpio, mock, native, pigpio, rpigpio"):
        make_pin_factory("lgpoi")


@pytest.mark.skipif(importlib.util.find_spec("lgpio") is not None, reason="lgpio is installed here")
def test_missing_pin_library_says_what_to_install():
    with pytest.raises(BackendNotFound) as raised:
        make_pin_factory("lgpio")
    message = str(raised.value)
    assert "pin factory 'lgpio' needs the lgpio package" in message
    assert "pip install 'roadcam[pi]'" in message
    assert "gpio.pin_factory: mock" in message


def test_pin_the_board_does_not_have_names_the_output():
    with pytest.raises(HardwareError, match=r"output 'flash' on pin GPIO99: GPIO99 is not a valid pin"):
        GpioOutput("flash", "GPIO99", pin_factory=MockFactory())
