"""Time hysteresis for every check: a condition must hold a while before its fault is raised and
be gone a while before it is cleared, so one odd reading neither raises nor clears anything."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Hysteresis:
    """One condition's state: raised after it has held ``raise_after_ns``, cleared after it
    has been gone ``clear_after_ns``."""

    active: bool = False
    bad_since_ns: int | None = None
    good_since_ns: int | None = None

    def update(self, bad: bool | None, time_ns: int, raise_after_ns: int, clear_after_ns: int) -> str | None:
        """"raise", "clear" or None. ``bad`` None means unknown now (keep the state)."""
        if bad is None:
            return None
        if bad:
            self.good_since_ns = None
            self.bad_since_ns = time_ns if self.bad_since_ns is None else self.bad_since_ns
            if not self.active and time_ns - self.bad_since_ns >= raise_after_ns:
                self.active = True
                return "raise"
            return "raise" if self.active else None  # an active fault's last-seen moves on
        self.bad_since_ns = None
        self.good_since_ns = time_ns if self.good_since_ns is None else self.good_since_ns
        if self.active and time_ns - self.good_since_ns >= clear_after_ns:
            self.active = False
            return "clear"
        return None
