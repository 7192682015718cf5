"""The plate_capture plugin in a real Appliance: reads fused per vehicle with evidence, the
hotlist command and hits, model failures as faults, and ``roadcam plate read``."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from roadcam.appliance.cli import main
from roadcam.appliance.store import read_events
from roadcam.plugins.plate_capture.reader import DEFAULT_MODELS as READER_MODELS
from roadcam.sim import SimRoad
from roadcam.sim.plate_patch import plate_patches
from tests.appliances import build_appliance, read_tracks, run_for, stored

STOLEN = {"plate": "KLM-2786", "reason": "stolen", "priority": 1}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """``roadcam simulate`` on the smoke scenario (its hotlist lists the car KLM-2786)."""
    out = tmp_path_factory.mktemp("smoke")
    assert main(["simulate", "--scenario", "smoke", "--out", str(out), "--json"]) == 0
    return out, json.loads((out / "score.json").read_text())


@pytest.mark.slow
def test_each_read_vehicle_gets_one_plate_read_with_its_crop_and_frame(smoke_run):
    out, score = smoke_run
    reads = read_events(out / "events.db", limit=10_000, types=["plate.read"])
    assert reads, score
    track_ids = [event.data["track_id"] for event in reads]
    assert len(track_ids) == len(set(track_ids))
    for event in reads:
        kinds = {ref.kind for ref in event.evidence}
        assert kinds == {"plate_crop", "frame"}
        for ref in event.evidence:
            image = cv2.imread(str(out / "evidence" / ref.sha256[:2] / ref.sha256), cv2.IMREAD_COLOR)
            assert image is not None and image.size
    assert score["plate.read exact plate"] is not None


@pytest.mark.slow
def test_the_stolen_car_raises_a_hotlist_hit_while_it_is_tracked(smoke_run):
    out, score = smoke_run
    hits = read_events(out / "events.db", limit=10_000, types=["hotlist.hit"])
    assert [hit.data["listed_plate"] for hit in hits] == ["KLM-2786"]
    assert hits[0].data["reason"] == "stolen" and hits[0].data["hotlist_version"] == 1
    assert score["hotlist vehicles hit"] == 1.0
    assert score["hotlist false hits"] == 0


def test_the_hotlist_command_replaces_updates_and_refuses_stale_deltas(tmp_path):
    appliance = build_appliance(tmp_path)
    appliance.start()
    try:
        full = appliance.command("hotlist", {"kind": "full", "entries": [STOLEN]}, version=4)
        delta = appliance.command("hotlist", {"kind": "delta", "base_version": 4, "remove": ["KLM2786"],
                                              "add": [{"plate": "ABC-1234", "reason": "wanted"}]}, version=5)
        stale = appliance.command("hotlist", {"kind": "delta", "base_version": 4, "add": [STOLEN]}, version=6)
    finally:
        appliance.shutdown()
    assert full == {"ok": True, "version": 4, "entries": 1}
    assert delta == {"ok": True, "version": 5, "entries": 1}
    assert stale["ok"] is False and "send the full list" in stale["error"]
    saved = json.loads((tmp_path / "hotlist.json").read_text())
    assert saved["version"] == 5 and [e["plate"] for e in saved["entries"]] == ["ABC-1234"]
    results = [e.data["result"] for e in stored(tmp_path, "command.result")]
    assert [r["ok"] for r in results] == [True, True, False]


def test_a_broken_reader_model_raises_a_fault_and_the_appliance_keeps_running(tmp_path):
    broken = tmp_path / "reader.tflite"
    broken.write_bytes(READER_MODELS[0].read_bytes()[:500])
    appliance = build_appliance(tmp_path, plate_capture={"reader_models": [str(broken)]}, health={"interval_s": 0.2})
    run_for(appliance, 1.0)
    faults = [e.data for e in stored(tmp_path, "fault.raised")]
    assert any(f["code"] == "model.unavailable" and f["component"] == "plate_capture" for f in faults)
    assert stored(tmp_path, "health")


def test_plate_read_reads_a_crop_and_reports_bad_files_without_stopping(tmp_path, capsys):
    road = SimRoad.from_scenario("smoke")
    road.skip_frames(102)  # the truck's plate is near: 66 px wide
    frame = road.advance_frame()
    vehicle, box = max(((v, v.plate_boxes[frame.index]) for v in road.truth.vehicles.values()
                        if frame.index in v.plate_boxes), key=lambda item: item[1][2] - item[1][0])
    x1, y1, x2, y2, _ = (int(round(v)) for v in box)
    margin = (x2 - x1) // 8
    crop = frame.image[max(y1 - margin, 0):y2 + margin, max(x1 - margin, 0):x2 + margin]
    cv2.imwrite(str(tmp_path / "crop.png"), crop)
    cv2.imwrite(str(tmp_path / "scene.jpg"), frame.image)
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    status = main(["plate", "read", str(tmp_path / "crop.png"), str(tmp_path / "corrupt.jpg"),
                   str(tmp_path / "scene.jpg"), "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 1
    assert lines[0]["plates"][0]["plate"] == vehicle.plate.replace("-", "")
    assert "not a readable image" in lines[1]["error"]
    assert vehicle.plate.replace("-", "") in [p["plate"] for p in lines[2]["plates"]]


def test_plate_read_on_an_empty_image_is_an_error_line(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "black.png"), np.zeros((40, 120, 3), np.uint8))
    (tmp_path / "empty.jpg").write_bytes(b"")
    status = main(["plate", "read", str(tmp_path / "black.png"), str(tmp_path / "empty.jpg")])
    captured = capsys.readouterr()
    assert status == 1
    assert "empty.jpg\terror:" in captured.err
    assert captured.out.startswith(str(tmp_path / "black.png"))



def test_a_plate_is_read_for_the_vehicle_it_hangs_on_not_the_one_behind(tmp_path, sim_vehicle):
    """A plate inside the box of a vehicle further back is that vehicle's only when no vehicle in
    front (lower in the picture) covers it: there it is the front vehicle's plate."""
    image, car_box, plate_box, _ = sim_vehicle
    behind_box = (car_box[0] - 30, car_box[1] - 200, car_box[2] + 30, plate_box[3] + 4)
    assert behind_box[3] < car_box[3]
    _, alone = read_tracks(tmp_path / "alone", [(image, {2: behind_box})])
    both, with_front = read_tracks(tmp_path / "both", [(image, {1: car_box, 2: behind_box})])
    assert alone["reads"] == 1, "alone, the vehicle behind has the plate in its box read"
    assert len(both[1]) == 1 and both[2] == []
    assert with_front["accepted"] == 1, "the plate is read once, for the vehicle in front"


def test_of_vehicles_read_equally_long_ago_the_nearest_is_read_first(tmp_path, sim_vehicle):
    """One read a frame, two vehicles never read: the one with the taller box (nearer, the larger
    plate, the sooner gone) is read first, though it is listed last."""
    image, car_box, _, _ = sim_vehicle
    x1, y1, x2, y2 = car_box
    taller = (x1, y1 - 40, x2, y2)
    reads, figures = read_tracks(tmp_path, [(image, {1: car_box, 2: taller})], max_reads_per_frame=1)
    assert figures["reads"] == 1
    assert reads[1] == [] and len(reads[2]) == 1


def test_a_vehicle_whose_reads_disagree_gets_no_plate_read(tmp_path, sim_vehicle):
    """Three frames, each read confidently but as three different plates: the fused plate is
    right one time in three at best, below the confidence floor, so no plate.read is made up of it."""
    image, car_box, plate_box, _ = sim_vehicle
    x1, y1, x2, y2 = (int(round(v)) for v in plate_box)

    def pasted(plate: str) -> np.ndarray:
        other = image.copy()
        patch = plate_patches(plate, "car", (0.52, 0.15))[0]
        other[y1:y2, x1:x2] = cv2.resize(patch, (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA)
        return other

    others = [pasted("KHT-5072"), pasted("RDA-2941")]
    once = [read_tracks(tmp_path / f"once{n}", [(other, {1: car_box})])[0][1] for n, other in enumerate(others)]
    reads, figures = read_tracks(tmp_path / "thrice", [(image, {1: car_box})] + [(o, {1: car_box}) for o in others])
    assert once == [["KHT5072"], ["RDA2941"]], "each pasted plate alone is read"
    assert reads == {1: []} and figures["unsure"] == 1
