"""pyserial links: loop:// round trips, a real pty pair, and the errors a technician sees."""

import os
import select
import time

import pytest

from roadcam.common.errors import HardwareError, SerialPortUnavailable
from roadcam.hal.serial import PySerialLink


def test_loop_round_trip_strips_the_line_end():
    with PySerialLink("controller", "loop://", baudrate=115200) as link:
        link.write(b"PHASE 2 RED\r\nPHASE 2 GREEN\n")
        assert link.read_line(timeout_s=1.0) == b"PHASE 2 RED"
        assert link.read_line(timeout_s=1.0) == b"PHASE 2 GREEN"
        assert link.read_line(timeout_s=0.05) is None


def test_partial_line_is_kept_until_its_end_arrives():
    with PySerialLink("radar", "loop://") as link:
        link.write(b"SPD 4")
        assert link.read_line(timeout_s=0.05) is None
        link.write(b"2.5\n")
        assert link.read_line(timeout_s=1.0) == b"SPD 42.5"


def test_read_line_waits_about_its_timeout():
    with PySerialLink("radar", "loop://") as link:
        started = time.monotonic()
        assert link.read_line(timeout_s=0.2) is None
        assert 0.15 <= time.monotonic() - started < 1.0


def test_pty_device_both_directions(pty_pair):
    master, port = pty_pair
    with PySerialLink("loop-card", port, baudrate=9600) as link:
        os.write(master, b"L1 ON\r\nL1 OFF\r\n")
        assert link.read_line(timeout_s=1.0) == b"L1 ON"
        assert link.read_line(timeout_s=1.0) == b"L1 OFF"
        link.write(b"STATUS?\n")
        readable, _, _ = select.select([master], [], [], 1.0)
        assert readable and os.read(master, 64) == b"STATUS?\n"


def test_missing_port_names_the_link_and_what_to_check():
    with pytest.raises(SerialPortUnavailable) as raised:
        PySerialLink("controller", "/dev/ttyUSB97")
    message = str(raised.value)
    assert "serial link 'controller': cannot open port /dev/ttyUSB97" in message
    assert "No such file or directory" in message
    assert "cable" in message and "ls /dev/ttyUSB*" in message and "dialout" in message
    assert isinstance(raised.value, HardwareError) and isinstance(raised.value, OSError)


def test_closed_link_raises_a_hardware_error_and_closes_twice():
    link = PySerialLink("controller", "loop://")
    link.close()
    link.close()
    with pytest.raises(SerialPortUnavailable, match="serial link 'controller': port loop:// stopped"):
        link.write(b"x")
