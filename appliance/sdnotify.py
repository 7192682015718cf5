"""systemd's notify protocol (READY=1, WATCHDOG=1, STATUS=…, STOPPING=1), without a library.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op, so the same code runs on a bench.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    """Sends notify messages to the socket systemd named in ``NOTIFY_SOCKET``."""

    def __init__(self, environ: Mapping[str, str] = os.environ):
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        # systemd names the process it watches (WATCHDOG_PID); a child that inherited the
        # environment (a converter, a shell) must not feed the watchdog for it.
        watched_pid = environ.get("WATCHDOG_PID", "")
        for_us = not watched_pid.isdigit() or int(watched_pid) == os.getpid()
        #: How often to send WATCHDOG=1 (half the unit's WatchdogSec), or None when not asked.
        self.watchdog_interval_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 and for_us else None

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines; True when sent."""
        if not self._address:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto("\n".join(lines).encode(), self._address)
            except OSError:
                return False
        return True
