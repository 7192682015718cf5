"""``roadcam.tools.plates.appliance_reads``: the plate capture plugin's read step driven with a
labelled still scene, each plate one vehicle around it."""

from __future__ import annotations

import cv2
import numpy as np

from roadcam.tools.plates.appliance_reads import appliance_reads, vehicle_box
from roadcam.tools.plates.real_reads import TextScene
from tests.synthetic import eu_scene


def test_a_labelled_wide_plate_is_read_through_the_plugin_and_counted(tmp_path):
    cv2.imwrite(str(tmp_path / "scene.png"), eu_scene("CJ12ABC", 240))
    plate = (250.0, 200.0, 490.0, 251.0)
    scenes = [TextScene("scene.png", np.array([plate, (10.0, 10.0, 60.0, 20.0)]), ("CJ 12 ABC", ""))]
    assert appliance_reads(scenes, tmp_path, "RO", wide=True) == (1, 1, 1)  # the illegible plate left out


def test_the_vehicle_box_holds_its_plate_low_in_the_middle_inside_the_image():
    x1, y1, x2, y2 = vehicle_box((250, 200, 490, 251), 640, 480)
    assert (x1, x2) == (0.0, 639.0) and y2 == 302.0
    assert y1 + (y2 - y1) / 3 < 225.5 < y2
    assert vehicle_box((100, 100, 140, 110), 640, 480) == (50.0, 8.0, 190.0, 120.0)
