"""A speeding violation names its vehicle by plate (issue 24 item 5, issue 25 item 1): the real
appliance on the simulated junction of test_speed_camera (rendered frames, detection, the core
tracker, loop pins, the real SQLite store), with a stand-in plate reader that stores one
``plate.read`` per finished track, as plate_capture does. The violation, whose camera check
named a track, waits for that track's read and carries it as a fence violation carries its
plate (``plate``, ``plate_confidence``, ``plate_event``, ``plate_evidence``); the
``speed.spot`` does not wait."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_speed_camera import SPACING_M, crossing_scenario, speed_section

from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.site import site_from_data
from roadcam.protocol.events import EvidenceBlob
from roadcam.sim import SimRoad


class StandInReader:
    """One plate.read per finished vehicle track, its plate made of the track id, a JPEG crop
    and a frame as its evidence (plate_capture's shape, without its models)."""

    @hookimpl
    def roadcam_track_finished(self, track):
        if track.kind == "pedestrian":
            return []
        crop = np.full((16, 48, 3), 40 + track.id % 200, np.uint8)
        frame = np.pad(crop, ((8, 8), (8, 8), (0, 0)))
        evidence = tuple(EvidenceBlob(kind, cv2.imencode(".jpg", image)[1].tobytes())
                         for kind, image in (("plate_crop", crop), ("plate_frame", frame)))
        data = {"camera": track.camera, "track_id": track.id, "plate": f"SIM{track.id:04d}", "confidence": 0.93}
        return [EventDraft("plate.read", data, track.last_ns, evidence=evidence)]


def run(tmp_path, scenario):
    from roadcam.appliance.runtime import Appliance
    from roadcam.appliance.store import read_events
    from roadcam.hal.hardware import Hardware

    road = SimRoad.from_scenario(scenario)
    site = road.site_config(tmp_path)
    site["plugins"] = {"disabled": ["plate_capture", "diagnostics"]}
    site["speed"] = speed_section(road, SPACING_M)
    config, manager = site_from_data(site, source="speed plates test")
    manager.register(StandInReader(), name="stand-in reader")
    hardware = Hardware(config, road.clock, pin_factory=road.pin_factory, sim_cameras=road.camera)
    Appliance(config, manager, hardware, road.clock).run(install_signal_handlers=False)
    return read_events(config.storage.database, limit=10**6)


@pytest.mark.slow
def test_a_speeding_violation_carries_the_plate_read_of_its_track(tmp_path):
    # lane 2: a car at 62 km/h (over the 50 km/h limit), then one at 40; both leave the view
    events = run(tmp_path, crossing_scenario([(2, "car", 62.0), (2, "car", 40.0)], duration_s=14.0))
    [violation] = [e for e in events if e.type == "violation.speeding"]
    track_id = violation.data["track_id"]
    reads = {e.data["track_id"]: e for e in events if e.type == "plate.read"}
    read = reads[track_id]
    assert violation.data["plate"] == read.data["plate"] == f"SIM{track_id:04d}"
    assert violation.data["plate_confidence"] == read.data["confidence"]
    assert violation.data["plate_event"] == read.id
    assert violation.data["plate_evidence"] == [ref.sha256 for ref in read.evidence]  # the crop, the frame
    assert violation.seq > read.seq  # it waited for the read
    # the spot speed it came from went out without waiting, and names the same track
    [spot] = [e for e in events if e.type == "speed.spot" and e.data["speed_low_kmh"] > 50]
    assert spot.data["camera_check"]["track"] == track_id and spot.seq < read.seq
    assert "plate" not in spot.data
