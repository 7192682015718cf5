"""``roadcam calibrate`` (issue 27 item 2): a snapshot through the HAL, four road-plane points,
the homography stored as the camera's calibration (staged for a trial start of the running
config), and an overlay PNG whose grid lies where the true road plane is. Points that cannot
give a homography, and a fence outside the picture, stop with what to fix and store nothing.

The picture is a synthetic road: a checkerboard of 1 m squares on the road plane, seen through
a known homography (OpenCV's warpPerspective), so the expected answer is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from videos import write_video

from roadcam.appliance.cli import main
from roadcam.appliance.geometry import RoadGeometry
from roadcam.appliance.site import load_site

WIDTH, HEIGHT = 640, 480
#: Where four road points (m) are in the picture: a lane section 7 m wide, 0-30 m ahead.
ROAD = [(0.0, 0.0), (7.0, 0.0), (7.0, 30.0), (0.0, 30.0)]
IMAGE = [(120.0, 460.0), (560.0, 450.0), (380.0, 140.0), (250.0, 142.0)]
TRUE = RoadGeometry(IMAGE, ROAD)


def road_picture() -> np.ndarray:
    """The road plane (checkerboard of 1 m squares, 0.05 m a pixel) seen by the camera."""
    scale = 20.0  # pixels of the texture per metre
    texture = np.zeros((int(40 * scale), int(10 * scale), 3), np.uint8)
    for row in range(40):
        for column in range(10):
            shade = 150 if (row + column) % 2 else 90
            texture[int(row * scale):int((row + 1) * scale), int(column * scale):int((column + 1) * scale)] = shade
    texture_to_road = np.diag([1 / scale, 1 / scale, 1.0])
    return cv2.warpPerspective(texture, TRUE.road_to_image @ texture_to_road, (WIDTH, HEIGHT))


@pytest.fixture
def site(tmp_path) -> Path:
    video = write_video(tmp_path / "camera.avi", [road_picture()] * 12, fps=10)
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump({
        "device": {"id": "tn-0042", "site": "tn-bench"},
        "storage": {"database": str(tmp_path / "events.db"), "evidence_dir": str(tmp_path / "evidence")},
        "gpio": {"pin_factory": "mock"},
        "cameras": [{"name": "north", "source": {"type": "opencv", "url": str(video)}}],
        "loops": [{"name": "lane1-stop", "pin": "GPIO5", "lane": 1, "position_m": 5.0, "length_m": 2.0}],
        "uplink": {"staged_config_file": str(tmp_path / "site.next.yaml")},
    }))
    return config


def points(pairs) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in pairs)


def calibrate(site: Path, out: Path, *args: str) -> int:
    return main(["calibrate", "--config", str(site), "--out", str(out), *args])


def test_a_snapshot_alone_asks_for_the_points(site, tmp_path, capsys):
    assert calibrate(site, tmp_path / "out") == 0
    snapshot = cv2.imread(str(tmp_path / "out/snapshot.png"))
    assert snapshot.shape == (HEIGHT, WIDTH, 3)
    assert "measure four road marks" in capsys.readouterr().out
    assert not (tmp_path / "site.next.yaml").exists()


def test_four_points_give_the_homography_the_overlay_and_a_staged_calibration(site, tmp_path, capsys):
    before = site.read_bytes()
    assert calibrate(site, tmp_path / "out", "--image-points", points(IMAGE), "--road-points", points(ROAD)) == 0
    assert "staged as" in capsys.readouterr().out and site.read_bytes() == before
    staged, _ = load_site(tmp_path / "site.next.yaml")
    stored = staged.cameras[0].calibration
    geometry = RoadGeometry(stored.image_points, stored.road_points)
    far = [(3.5, 20.0), (1.0, 10.0), (6.0, 25.0)]  # points that were not marks
    assert np.allclose(geometry.to_image(far), TRUE.to_image(far), atol=1e-6)
    record = json.loads((tmp_path / "out/calibration.json").read_text())
    assert np.allclose(np.array(record["image_to_road"]), geometry.image_to_road)
    overlay = cv2.imread(str(tmp_path / "out/overlay.png")).astype(int)
    green = overlay[:, :, 1] - (overlay[:, :, 0] + overlay[:, :, 2]) // 2  # the grid is green, the road grey
    for road_point in [(3.0, 15.0), (5.0, 12.0), (2.0, 20.0)]:  # on bold grid lines (every 5 m)
        u, v = (int(round(c)) for c in TRUE.to_image([road_point])[0])
        assert green[v - 1:v + 2, u - 1:u + 2].max() > 60, road_point
    for road_point in [(2.5, 12.5), (4.5, 8.5)]:  # inside a square: no grid there
        u, v = (int(round(c)) for c in TRUE.to_image([road_point])[0])
        assert green[v, u] < 20, road_point


def test_the_stored_calibration_can_be_checked_again_without_points(site, tmp_path, capsys):
    assert calibrate(site, tmp_path / "first", "--image-points", points(IMAGE), "--road-points", points(ROAD)) == 0
    (tmp_path / "site.next.yaml").replace(site)
    assert calibrate(site, tmp_path / "again") == 0
    assert (tmp_path / "again/overlay.png").exists() and not (tmp_path / "site.next.yaml").exists()


@pytest.mark.parametrize(("image_points", "road_points", "message"), [
    ([(100, 400), (200, 300), (300, 200), (250, 142)], ROAD,
     "--image-points: points 1, 2 and 3 are on one line (px)"),
    (IMAGE, [(0, 0), (0, 10), (0, 30), (7, 30)], "--road-points: points 1, 2 and 3 are on one line (m)"),
    ([(120, 460), (700, 450), (380, 140), (250, 142)], ROAD, "point 2 (700,450) is outside the 640x480 snapshot"),
    (IMAGE, [(0, 0), (0, 0), (7, 30), (0, 30)], "--road-points: points 1 and 2 are the same place"),
])
def test_points_that_cannot_fix_the_road_plane_are_refused(site, tmp_path, capsys, image_points, road_points,
                                                           message):
    before = site.read_bytes()
    code = calibrate(site, tmp_path / "out", "--image-points", points(image_points),
                     "--road-points", points(road_points))
    assert code == 2
    assert message in capsys.readouterr().err
    assert site.read_bytes() == before
    assert not (tmp_path / "site.next.yaml").exists() and not (tmp_path / "out/overlay.png").exists()


def test_a_fence_outside_the_picture_is_refused_with_its_field(site, tmp_path, capsys):
    data = yaml.safe_load(site.read_text())
    data["fences"] = {"cameras": [{"camera": "north", "lines": [{"name": "stop", "points": [[0.1, 0.8], [1.3, 0.8]]}]}]}
    site.write_text(yaml.safe_dump(data))
    assert calibrate(site, tmp_path / "out", "--image-points", points(IMAGE), "--road-points", points(ROAD)) == 2
    error = capsys.readouterr().err
    assert "fences.cameras[0].lines[0].points" in error
    assert not (tmp_path / "site.next.yaml").exists()


def test_fences_and_loops_are_drawn(site, tmp_path):
    data = yaml.safe_load(site.read_text())
    data["fences"] = {"cameras": [{"camera": "north", "lines": [{"name": "stop", "points": [[0.1, 0.9], [0.9, 0.9]]}]}]}
    site.write_text(yaml.safe_dump(data))
    assert calibrate(site, tmp_path / "out", "--image-points", points(IMAGE), "--road-points", points(ROAD)) == 0
    overlay = cv2.imread(str(tmp_path / "out/overlay.png")).astype(int)
    snapshot = cv2.imread(str(tmp_path / "out/snapshot.png")).astype(int)
    stop_row = int(0.9 * HEIGHT)
    assert (np.abs(overlay[stop_row, 100:540] - snapshot[stop_row, 100:540]).sum(axis=1) > 100).mean() > 0.9
    u, v = (int(round(c)) for c in TRUE.to_image([(1.75, 5.0)])[0])  # the loop's near edge, mid-lane
    assert np.abs(overlay[v - 1:v + 2, u] - snapshot[v - 1:v + 2, u]).sum() > 100
