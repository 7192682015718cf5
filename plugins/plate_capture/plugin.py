"""Wiring: the ``plate_capture`` section, the per-appliance reader state, the hotlist command.

:class:`PlateCapture` runs on the analysis thread. Each frame it picks the tracked vehicles
worth reading (measured in this frame, near enough, not read in the last
``read_every_frames``, at most ``max_reads_per_frame`` of them), reads the boxes the plate
detector finds inside each vehicle's box, strongest first, until one is read as a plate (with
``wide_plates``, in the framings of :mod:`.framing`, as ``roadcam plate read`` does, keeping the
best-ranked read; with ``reread_unsure`` an unsure read that fits a format gets the reader's
second look) and adds the read to that track's vote (:mod:`.fusion`). A read that
matches the hotlist raises ``hotlist.hit`` in the same frame; when the track ends, one
``plate.read`` carries the fused plate with the best crop and its full frame as evidence.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.tracking import Track
from roadcam.common.errors import ImageInvalid, ModelError
from roadcam.protocol.commands import HOTLIST_COMMAND
from roadcam.protocol.events import EvidenceBlob
from roadcam.protocol.hotlist import HotlistRefused

from .config import PlateCaptureConfig
from .detector import PlateBox, PlateDetector
from .formats import plate_rank
from .framing import framings, merge_halves
from .fusion import PlateVote, Sighting
from .hotlist import Hotlist
from .reader import PlateRead, PlateReader, models_for

SECTION = "plate_capture"
#: Margin (share of the plate box) kept around a plate when it is cut out for the reader.
CROP_MARGIN = 0.12
#: JPEG quality of the evidence.
JPEG_QUALITY = 90


class PlateCapture:
    """Reads the plates of one appliance's tracked vehicles and matches them to the hotlist."""

    def __init__(self, appliance, config: PlateCaptureConfig, detector: PlateDetector, reader: PlateReader,
                 hotlist: Hotlist):
        self.appliance = appliance
        self.config = config
        self.detector = detector
        self.reader = reader
        self.hotlist = hotlist
        self.formats = config.plate_formats()
        self._votes: dict[tuple[str, int], PlateVote] = {}
        self._last_read: dict[tuple[str, int], int] = {}
        self._hits: set[tuple[str, int, str]] = set()
        self._figures = {"reads": 0, "accepted": 0, "plates": 0, "unsure": 0, "hits": 0}

    @hookimpl
    def roadcam_analyze(self, frame, tracks: list[Track], signals) -> list[EventDraft]:
        drafts = []
        for track in self._due(frame, tracks):
            self._last_read[(frame.camera, track.id)] = frame.index
            sighting = self._read(frame, track, tracks)
            if sighting is None:
                continue
            key = (frame.camera, track.id)
            self._votes.setdefault(key, PlateVote()).add(sighting)
            drafts += self._check_hotlist(frame.camera, track, sighting)
        return drafts

    @hookimpl
    def roadcam_track_finished(self, track: Track) -> list[EventDraft]:
        key = (track.camera, track.id)
        self._last_read.pop(key, None)
        vote = self._votes.pop(key, None)
        self._hits = {hit for hit in self._hits if hit[:2] != key}
        outcome = vote.result(accept=self._fits_a_format) if vote is not None else None
        if outcome is None:
            return []
        plate, best, confidence = outcome
        if confidence < self.config.min_confidence:
            self._figures["unsure"] += 1
            return []
        self._figures["plates"] += 1
        data = {"camera": track.camera, "track_id": track.id, "plate": plate,
                "confidence": round(confidence, 4), "reads": vote.reads,
                "votes": {text: round(tally, 3) for text, tally in vote.tallies.items()},
                "vehicle_kind": track.kind, "frame_index": best.frame_index,
                "plate_box": [round(v, 1) for v in best.box]}
        return [EventDraft("plate.read", data, best.time_ns, evidence=_evidence(best))]

    @hookimpl
    def roadcam_command(self, name: str, payload: dict[str, Any], version: int) -> dict[str, Any] | None:
        if name != HOTLIST_COMMAND:
            return None
        try:
            self.hotlist.apply(payload, version)
        except HotlistRefused as exc:
            return {"ok": False, "error": str(exc), "version": self.hotlist.version}
        return {"ok": True, "version": self.hotlist.version, "entries": len(self.hotlist)}

    @hookimpl
    def roadcam_collect_health(self, appliance):
        return {SECTION: {**self._figures, "hotlist_version": self.hotlist.version,
                          "hotlist_entries": len(self.hotlist)}}

    # -- reading -------------------------------------------------------------------------------

    def _due(self, frame, tracks: list[Track]) -> list[Track]:
        """Tracks to read in this frame, those read longest ago first; among those read equally
        long ago the nearest (tallest box) first: its plate is the largest and it leaves the view
        soonest. (Broken by track age instead, the newest of four vehicles due lost every tie
        and was read only every other frame while it drove past.)"""
        due = []
        for track in tracks:
            point = track.last
            height = point.box[3] - point.box[1]
            last = self._last_read.get((frame.camera, track.id), -10**9)
            if (track.kind != "pedestrian" and point.frame_index == frame.index and point.measured
                    and height >= self.config.min_vehicle_px
                    and frame.index - last >= self.config.read_every_frames):
                due.append(((last, -height), track))
        due.sort(key=lambda item: item[0])
        return [track for _, track in due[:self.config.max_reads_per_frame]]

    def _read(self, frame, track: Track, tracks: list[Track]) -> Sighting | None:
        """The plate of ``track`` in ``frame``, read, if it is there and passes the floor and fits a
        format (look-alike characters swapped to fit, :meth:`PlateFormats.fit`).

        The boxes the detector finds in the vehicle above ``plate_score_floor`` that belong to it
        are read strongest first, at most ``plate_candidates`` of them, until one is read well:
        the detector's scores are not calibrated on real vehicles (a real plate at night often
        scores under 0.3, a tail light or a badge above the plate), the reader and the formats
        tell a plate from them. Each box is read as boxed, with ``wide_plates`` also in the
        framings of :mod:`.framing`, and its best-ranked read kept (:func:`.formats.plate_rank`)."""
        in_front = [other.last.box for other in tracks if other is not track and other.kind != "pedestrian"
                    and other.last.frame_index == frame.index and other.last.box[3] > track.last.box[3]]
        found = self.detector.detect(frame.image, region=track.last.box, score_floor=self.config.plate_score_floor)
        if self.config.wide_plates:
            found = merge_halves(found)
        candidates = [plate for plate in found if _belongs_to(plate.box, track.last.box, in_front)]
        for plate in candidates[:self.config.plate_candidates]:
            sighting = self._read_box(frame, plate)
            if sighting is not None:
                return sighting
        return None

    def _read_box(self, frame, plate: PlateBox) -> Sighting | None:
        """One box's best-ranked read (in its framings with ``wide_plates``), if it is sure enough
        and fits a format."""
        height, width = frame.image.shape[:2]
        boxes = framings(plate, width, height) if self.config.wide_plates else [plate]
        cuts = [(framed, crop) for framed in boxes if (crop := _cut(frame.image, framed.box)) is not None]
        if not cuts:
            return None
        reads = self.reader.read_many([crop for _, crop in cuts], reread_if=self._could_be_plate)
        self._figures["reads"] += len(reads)
        fitted = [(read, self.formats.fit(read.text, read.char_confidences), framed, crop)
                  for read, (framed, crop) in zip(reads, cuts)]
        read, fit, framed, crop = max(fitted, key=lambda item: plate_rank(item[0].confidence, item[1]))
        if read.confidence < self.config.min_confidence or fit is None:
            return None
        self._figures["accepted"] += 1
        return Sighting(fit.text, read.confidence, frame.index, frame.time_ns, framed.box, crop, frame.image)

    def _could_be_plate(self, read: PlateRead) -> bool:
        """Does ``read`` fit a format, look-alike characters swapped? Only such a read can become
        a ``plate.read``, so only such an unsure read gets the reader's second look
        (``reread_unsure``): on a site's other reads (a tail light, a foreign plate) it is CPU spent
        for nothing (plate_reader.md, "The second look in the appliance")."""
        return self.formats.fit(read.text, read.char_confidences) is not None

    def _fits_a_format(self, text: str) -> bool:
        """Does ``text`` fit one of the configured plate formats as it is?"""
        return self.formats.match(text) is not None

    def _check_hotlist(self, camera: str, track: Track, sighting: Sighting) -> list[EventDraft]:
        match = self.hotlist.match(sighting.text, self.config.hotlist_max_distance)
        if match is None or (camera, track.id, match.entry.key) in self._hits:
            return []
        self._hits.add((camera, track.id, match.entry.key))
        self._figures["hits"] += 1
        entry = match.entry
        data = {"camera": camera, "track_id": track.id, "plate": sighting.text, "listed_plate": entry.plate,
                "reason": entry.reason, "priority": entry.priority, "note": entry.note,
                "distance": match.distance, "confidence": round(sighting.confidence, 4),
                "hotlist_version": self.hotlist.version, "frame_index": sighting.frame_index}
        return [EventDraft("hotlist.hit", data, sighting.time_ns, evidence=_evidence(sighting))]


class PlateCapturePlugin:
    """Declares the section and builds :class:`PlateCapture` on configure."""

    @hookimpl
    def roadcam_config_section(self):
        return SECTION, PlateCaptureConfig

    @hookimpl
    def roadcam_configure(self, appliance) -> None:
        config: PlateCaptureConfig = appliance.config.section(SECTION)
        try:
            detector = PlateDetector(config.detector_model, threads=config.threads)
            reader = PlateReader(config.reader_models or models_for(config.countries), threads=config.threads,
                                 reread_unsure=config.reread_unsure)
        except ModelError as exc:
            appliance.raise_fault("model.unavailable", SECTION, str(exc))
            return
        path = config.hotlist_file or appliance.config.storage.database.with_name("hotlist.json")
        try:
            hotlist = Hotlist.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            appliance.raise_fault("hotlist.unreadable", SECTION,
                                  f"{path}: {exc}; starting with an empty hotlist until the next full list")
            hotlist = Hotlist(path)
        appliance.plugin_manager.register(PlateCapture(appliance, config, detector, reader, hotlist),
                                          name=f"{SECTION}.reader")

    @hookimpl
    def roadcam_unconfigure(self, appliance) -> None:
        if appliance.plugin_manager.get_plugin(f"{SECTION}.reader") is not None:
            appliance.plugin_manager.unregister(name=f"{SECTION}.reader")

    @hookimpl
    def roadcam_register_commands(self, commands) -> None:
        from .cli import add_parser  # ``roadcam plate read``

        add_parser(commands)


def _belongs_to(plate: tuple[float, float, float, float], vehicle: tuple[float, float, float, float],
                in_front: list[tuple[float, float, float, float]]) -> bool:
    """Is a plate found in a vehicle's box that vehicle's own? Its centre must lie in the lower
    two thirds of the box (plates hang low, front or rear) and in no box of a vehicle in front
    (lower in the picture): a plate visible there belongs to the vehicle that hides this one."""
    x = (plate[0] + plate[2]) / 2
    y = (plate[1] + plate[3]) / 2
    if not (vehicle[0] <= x <= vehicle[2] and vehicle[1] + (vehicle[3] - vehicle[1]) / 3 <= y <= vehicle[3]):
        return False
    return not any(x1 <= x <= x2 and y1 <= y <= y2 for x1, y1, x2, y2 in in_front)


def _cut(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The plate box with a margin, cut out of ``image`` (None when it is empty)."""
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    height, width = image.shape[:2]
    left, top = max(int(x1 - mx), 0), max(int(y1 - my), 0)
    right, bottom = min(int(np.ceil(x2 + mx)), width), min(int(np.ceil(y2 + my)), height)
    if right - left < 2 or bottom - top < 2:
        return None
    return image[top:bottom, left:right].copy()


def _evidence(sighting: Sighting) -> tuple[EvidenceBlob, ...]:
    """The plate crop and the full frame, as JPEG."""
    blobs = []
    for kind, image in (("plate_crop", sighting.crop), ("frame", sighting.frame)):
        if image is None:
            continue
        encoded, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not encoded:
            raise ImageInvalid(f"the {kind} of track frame {sighting.frame_index} could not be encoded as JPEG")
        blobs.append(EvidenceBlob(kind, jpeg.tobytes()))
    return tuple(blobs)


plugin = PlateCapturePlugin()

__all__ = ["PlateCapture", "PlateCaptureConfig", "PlateCapturePlugin", "plugin"]
