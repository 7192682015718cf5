"""A bench plugin for crash tests, loaded with ROADCAM_PLUGINS=evidence_plugin.

Stores one event per frame with the frame as JPEG evidence, and prints each committed event's
seq and digest on stdout (flushed), so the test knows exactly what was committed before a kill.
"""

import sys

import cv2

from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.protocol.events import EvidenceBlob


class FrameEvidence:
    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        ok, jpeg = cv2.imencode(".jpg", frame.image)
        return [EventDraft("test.frame", {"index": frame.index}, frame.time_ns,
                           (EvidenceBlob("frame", jpeg.tobytes()),))]

    @hookimpl
    def roadcam_event(self, event):
        sys.stdout.write(f"committed {event.seq} {event.digest()}\n")
        sys.stdout.flush()


plugin = FrameEvidence()
