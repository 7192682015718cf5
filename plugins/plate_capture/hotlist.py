"""The hotlist: stolen and wanted vehicles, kept on the device, matched against every read.

It arrives as the collector's signed ``hotlist`` command (the uplink's gate has checked the
signature, the addressee and that the version rises) or, on a bench, from a YAML/JSON file
through the same :meth:`Hotlist.apply`. The body and entry format (full list or delta) is
:mod:`roadcam.protocol.hotlist`.

A full list replaces what the device holds; a delta applies only to the version it was made
from (``base_version``), so a device that missed one refuses it and waits for the next full
list (the collector publishes full lists retained, deltas not). The list is written atomically
to ``hotlist_file`` before the command's result is returned, so a restart keeps it.

Matching tolerates the confusions a plate reader makes (0/O/D/Q, 1/I/L/T, 8/B, 5/S, 2/Z,
6/G): a substitution inside one such group costs ``CONFUSION_COST``, any other edit 1, and a
read matches an entry within ``max_distance`` (an edit distance over plates without hyphens;
:func:`roadcam.protocol.plates.plate_distance`, shared with the collector's section matching).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from roadcam.appliance.atomic_write import write_atomically
from roadcam.protocol.hotlist import DELTA, FULL, HotlistEntry, HotlistRefused, body_list, compact, hotlist_entry
from roadcam.protocol.plates import plate_distance


@dataclass(frozen=True)
class HotlistMatch:
    """A read that matched an entry, and how far apart they are."""

    entry: HotlistEntry
    distance: float


class Hotlist:
    """The listed vehicles of this device and the version of the list they came from."""

    def __init__(self, path: Path | None = None):
        """An empty list (version 0), saved to ``path`` (if given) whenever it changes."""
        self.path = Path(path) if path else None
        self.version = 0
        self._entries: dict[str, HotlistEntry] = {}

    @classmethod
    def load(cls, path: Path) -> Hotlist:
        """The list saved at ``path``, or an empty one when there is no file yet. A file that
        cannot be read raises (OSError, ValueError, KeyError or TypeError)."""
        hotlist = cls(path)
        if hotlist.path.is_file():
            saved = json.loads(hotlist.path.read_text())
            hotlist.version = int(saved["version"])
            hotlist._entries = {e.key: e for e in map(hotlist_entry, saved["entries"])}
        return hotlist

    def __len__(self) -> int:
        return len(self._entries)

    def apply(self, body: dict[str, Any], version: int) -> None:
        """Apply a full list or a delta at ``version`` and save it; :class:`HotlistRefused`
        leaves the list as it was. The version already held (its retained copy again) changes
        nothing."""
        if version == self.version:
            return
        kind = body.get("kind")
        if kind == FULL:
            entries = {e.key: e for e in map(hotlist_entry, body_list(body, "entries"))}
        elif kind == DELTA:
            base = body.get("base_version")
            if base != self.version:
                raise HotlistRefused(f"delta made from version {base}, this device holds version "
                                     f"{self.version}: send the full list")
            entries = dict(self._entries)
            for plate in body_list(body, "remove"):
                entries.pop(compact(str(plate)), None)
            entries.update({e.key: e for e in map(hotlist_entry, body_list(body, "add"))})
        else:
            raise HotlistRefused(f"kind must be 'full' or 'delta', got {kind!r}")
        self._entries, self.version = entries, version
        if self.path is not None:
            saved = {"version": version, "entries": [asdict(e) for e in entries.values()]}
            write_atomically(self.path, json.dumps(saved, indent=1).encode())

    def match(self, plate: str, max_distance: float) -> HotlistMatch | None:
        """The closest entry within ``max_distance`` of ``plate`` (most urgent on a tie), or None."""
        read = compact(plate)
        if read in self._entries:
            return HotlistMatch(self._entries[read], 0.0)
        best = None
        for key, entry in self._entries.items():
            if abs(len(key) - len(read)) > max_distance:
                continue
            distance = plate_distance(read, key)
            if distance <= max_distance and (best is None or (distance, entry.priority)
                                              < (best.distance, best.entry.priority)):
                best = HotlistMatch(entry, distance)
        return best
