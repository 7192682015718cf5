"""pyserial backend for serial links (signal controller, radar, loop detector card).

Ports are opened with ``serial.serial_for_url``, so a device path (/dev/ttyUSB0) and pyserial's
URLs (``loop://`` for tests, ``socket://host:port`` for a serial server) both work.
"""

from __future__ import annotations

import serial

from roadcam.common.errors import SerialPortUnavailable

from .base import SerialLink

LINE_END = b"\n"


class PySerialLink(SerialLink):
    """A line-oriented serial link, opened on construction.

    Lines end with ``\\n``; a ``\\r`` before it is stripped too. A partial line that times out is
    kept and completed by the next :meth:`read_line`.
    """

    def __init__(self, name: str, port: str, *, baudrate: int = 9600):
        self.name = name
        self.port = port
        self._pending = bytearray()
        try:
            self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0)
        except (serial.SerialException, ValueError) as exc:
            raise SerialPortUnavailable(
                f"serial link {name!r}: cannot open port {port} ({exc}): check the cable, that "
                f"the port is listed by `ls /dev/ttyUSB* /dev/ttyACM*`, and that the service user "
                f"is in the dialout group") from exc

    def write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
        except serial.SerialException as exc:
            raise self._gone(exc) from exc

    def read_line(self, timeout_s: float) -> bytes | None:
        if self._serial.timeout != timeout_s:
            self._serial.timeout = timeout_s
        try:
            self._pending += self._serial.read_until(LINE_END)
        except serial.SerialException as exc:
            raise self._gone(exc) from exc
        if not self._pending.endswith(LINE_END):
            return None
        line = bytes(self._pending).removesuffix(LINE_END).removesuffix(b"\r")
        self._pending.clear()
        return line

    def close(self) -> None:
        self._serial.close()

    def _gone(self, exc: Exception) -> SerialPortUnavailable:
        return SerialPortUnavailable(
            f"serial link {self.name!r}: port {self.port} stopped working ({exc}): check the "
            f"cable and that the adapter still shows in `ls /dev/ttyUSB* /dev/ttyACM*`")
