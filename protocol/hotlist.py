"""The hotlist's wire format: the body of the signed ``hotlist`` command and its entries.

Two kinds of body::

    {"kind": "full", "entries": [{"plate": "ABC-1234", "reason": "stolen", "priority": 1}, ...]}
    {"kind": "delta", "base_version": 7, "add": [{...}, ...], "remove": ["ABC-1234", ...]}

A full list replaces what a device holds; a delta applies only to the version it was made from
(``base_version``). The collector checks every entry with :func:`hotlist_entry` before it signs
a list, exactly as the devices check it, so a list a device would refuse is never sent. The
device's list and its matching are :mod:`roadcam.plugins.plate_capture.hotlist`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Reasons an entry may give.
REASONS = ("stolen", "wanted", "other")
#: The two kinds of body.
FULL, DELTA = "full", "delta"


class HotlistRefused(ValueError):
    """A hotlist body that cannot be applied; the message says why and what to send instead."""


@dataclass(frozen=True)
class HotlistEntry:
    """One listed vehicle. ``priority`` 1 is the most urgent."""

    plate: str
    reason: str
    priority: int = 3
    note: str = ""

    @property
    def key(self) -> str:
        return compact(self.plate)


def compact(plate: str) -> str:
    """A plate as compared: upper case, letters and digits only."""
    return "".join(c for c in plate.upper() if c.isalnum())


def full_body(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of a full list."""
    return {"kind": FULL, "entries": entries}


def delta_body(base_version: int, add: list[dict[str, Any]], remove: list[str]) -> dict[str, Any]:
    """The body of a change to the list of version ``base_version``."""
    return {"kind": DELTA, "base_version": base_version, "add": add, "remove": remove}


def hotlist_entry(value: Any) -> HotlistEntry:
    """One entry of a hotlist body, checked (HotlistRefused says what is wrong with it)."""
    if not isinstance(value, dict) or not isinstance(value.get("plate"), str) or not compact(value["plate"]):
        raise HotlistRefused(f"each entry needs a plate (text), got {value!r}")
    reason = value.get("reason", "other")
    if reason not in REASONS:
        raise HotlistRefused(f"entry {value['plate']}: reason must be one of {', '.join(REASONS)}, got {reason!r}")
    priority = value.get("priority", 3)
    if type(priority) is not int or not 1 <= priority <= 9:
        raise HotlistRefused(f"entry {value['plate']}: priority must be an integer 1-9, got {priority!r}")
    return HotlistEntry(value["plate"].upper(), reason, priority, str(value.get("note", "")))


def body_list(body: dict[str, Any], key: str) -> list[Any]:
    """The list under ``key`` of a body (empty when absent); HotlistRefused when it is not a list."""
    value = body.get(key, [])
    if not isinstance(value, list):
        raise HotlistRefused(f"{key} must be a list")
    return value
