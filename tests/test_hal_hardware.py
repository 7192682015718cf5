"""Hardware: every device of a validated site config opens on its backend and works; failures
name the config path and the device."""

import importlib.util

import pytest
from gpiozero import DigitalOutputDevice
from gpiozero.pins.mock import MockFactory
from videos import grey_ramp, write_video

from roadcam.appliance.clock import ManualClock
from roadcam.appliance.config import CoreConfig
from roadcam.common.errors import BackendNotFound, CameraUnavailable, HardwareError, SerialPortUnavailable
from roadcam.hal.camera.opencv import OpenCVCamera
from roadcam.hal.hardware import Hardware

START_WALL_NS = 1_790_000_000 * 10**9


def site_config(**sections):
    data = {"device": {"id": "tn-0042", "site": "tn-bench-01"}, "gpio": {"pin_factory": "mock"}}
    data.update(sections)
    return CoreConfig.model_validate(data)


@pytest.fixture
def bench_config(tmp_path):
    video = write_video(tmp_path / "north.avi", grey_ramp(3), fps=10.0)
    return site_config(
        cameras=[{"name": "north", "source": {"type": "opencv", "url": str(video)}}],
        signals=[{"head": "main", "red": "GPIO17", "amber": "GPIO27", "green": "GPIO22"}],
        loops=[{"name": "lane1-entry", "pin": "GPIO5"}, {"name": "lane1-exit", "pin": "GPIO6"}],
        outputs=[{"name": "flash", "pin": "GPIO12"}],
        serial=[{"name": "controller", "port": "loop://", "baudrate": 115200}],
    )


def test_every_configured_device_opens_and_works(bench_config):
    factory = MockFactory()
    clock = ManualClock(START_WALL_NS)
    with Hardware(bench_config, clock, pin_factory=factory) as hardware:
        camera = hardware.make_camera(bench_config.cameras[0])
        camera.open()
        (head,) = hardware.open_signal_heads()
        entry, exit_ = hardware.open_loops()
        (flash,) = hardware.open_outputs()
        (controller,) = hardware.open_serial_links()

        assert [camera.read().index for _ in range(3)] == [0, 1, 2] and camera.read() is None
        changes = []
        head.when_changed = entry.when_changed = lambda *change: changes.append(change[:2])
        factory.pin("GPIO17").drive_high()
        factory.pin("GPIO5").drive_low()  # the default loop input is active low
        assert changes == [("main", "red"), ("lane1-entry", True)]
        assert (exit_.name, exit_.occupied) == ("lane1-exit", False)
        flash.on()
        assert factory.pin("GPIO12").state is True
        controller.write(b"PING\n")
        assert controller.read_line(timeout_s=1.0) == b"PING"

    with pytest.raises(CameraUnavailable, match="not open"):
        camera.read()
    with Hardware(bench_config, clock, pin_factory=factory) as again:  # every pin was released
        assert len(again.open_signal_heads() + again.open_loops() + again.open_outputs()) == 4


def test_configured_pin_factory_is_made_when_a_pin_is_needed(bench_config):
    with Hardware(bench_config, ManualClock(START_WALL_NS)) as hardware:
        (loop_a, loop_b) = hardware.open_loops()
        (flash,) = hardware.open_outputs()
        flash.pulse(0.001)
        assert loop_a.occupied is False and flash.is_active is False


def test_config_without_gpio_devices_never_makes_a_pin_factory():
    config = site_config(gpio={"pin_factory": "no-such-factory"},
                         serial=[{"name": "radar", "port": "loop://"}])
    with Hardware(config, ManualClock(START_WALL_NS)) as hardware:
        assert hardware.open_loops() == [] and hardware.open_signal_heads() == []
        assert len(hardware.open_serial_links()) == 1


def test_unknown_pin_factory_names_the_config_field():
    config = site_config(gpio={"pin_factory": "gpiod"}, loops=[{"name": "lane1-entry", "pin": "GPIO5"}])
    with Hardware(config, ManualClock(START_WALL_NS)) as hardware:
        with pytest.raises(BackendNotFound, match=r"^loops\[0\]: gpio\.pin_factory: unknown pin "
                                                  r"factory 'gpiod' \(gpio\.pin_factory\): choose one of"):
            hardware.open_loops()


@pytest.mark.skipif(importlib.util.find_spec("lgpio") is not None, reason="lgpio is installed here")
def test_default_pin_factory_off_the_pi_says_to_install_or_use_mock():
    config = site_config(gpio={"pin_factory": "lgpio"}, outputs=[{"name": "flash", "pin": "GPIO12"}])
    with Hardware(config, ManualClock(START_WALL_NS)) as hardware:
        with pytest.raises(BackendNotFound, match=r"outputs\[0\]: .*needs the lgpio package.*"
                                                  r"gpio\.pin_factory: mock"):
            hardware.open_outputs()


def test_missing_serial_port_names_the_link_and_config_path():
    config = site_config(serial=[{"name": "radar", "port": "loop://"},
                                 {"name": "controller", "port": "/dev/ttyUSB97"}])
    with Hardware(config, ManualClock(START_WALL_NS)) as hardware:
        with pytest.raises(SerialPortUnavailable, match=r"^serial\[1\]: serial link 'controller': "
                                                        r"cannot open port /dev/ttyUSB97 .*dialout"):
            hardware.open_serial_links()


def test_unreachable_camera_names_the_camera_and_config_path(bench_config, monkeypatch):
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)  # restored afterwards
    config = site_config(cameras=[
        bench_config.cameras[0].model_dump(),
        {"name": "south", "source": {"type": "opencv", "url": "rtsp://127.0.0.1:9/live", "timeout_s": 1}},
    ])
    with Hardware(config, ManualClock(START_WALL_NS)) as hardware:
        hardware.make_camera(config.cameras[0]).open()
        south = hardware.make_camera(config.cameras[1])
        with pytest.raises(CameraUnavailable, match=r"^camera 'south' \(source "
                                                    r"rtsp://127\.0\.0\.1:9/live\): cannot open"):
            south.open()


def test_pin_already_in_use_names_the_device():
    factory = MockFactory()
    config = site_config(loops=[{"name": "lane1-entry", "pin": "GPIO5"}])
    with DigitalOutputDevice("GPIO5", pin_factory=factory):
        with Hardware(config, ManualClock(START_WALL_NS), pin_factory=factory) as hardware:
            with pytest.raises(HardwareError, match=r"^loops\[0\]: loop 'lane1-entry' on pin GPIO5: "
                                                    r"pin GPIO5 is already in use"):
                hardware.open_loops()


def test_sim_cameras_come_from_the_simulator(bench_config):
    made = []

    def sim_cameras(name):
        made.append(name)
        return OpenCVCamera(name, bench_config.cameras[0].source, ManualClock(START_WALL_NS))

    config = site_config(cameras=[{"name": "sim-north", "source": {"type": "sim"}}])
    with Hardware(config, ManualClock(START_WALL_NS), sim_cameras=sim_cameras) as hardware:
        camera = hardware.make_camera(config.cameras[0])
        camera.open()
        assert made == ["sim-north"] and camera.read().camera == "sim-north"
    with Hardware(config, ManualClock(START_WALL_NS)) as hardware:
        with pytest.raises(CameraUnavailable, match=r"^cameras\[0\]: camera 'sim-north' has source "
                                                    r"type sim, which only works under `roadcam simulate`"):
            hardware.make_camera(config.cameras[0])
