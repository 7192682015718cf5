"""The vehicle detector's training windows: a zoomed-out window's targets sit on its pixels."""

from __future__ import annotations

import numpy as np

from roadcam.tools.vehicles.train_detector import CLASSES, CROP_H, CROP_W, INPUT_H, INPUT_W, STRIDE, _zoom_out, encode


def decoded_boxes(target: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(class, box in input pixels) of each centre marked in one encoded target."""
    c = len(CLASSES)
    found = []
    for row, column in zip(*np.nonzero(target[..., c + 4] > 0)):
        log_w, log_h, dx, dy = target[row, column, c:c + 4]
        cx, cy = (column + dx) * STRIDE, (row + dy) * STRIDE
        w, h = np.exp(log_w) * STRIDE, np.exp(log_h) * STRIDE
        kind = int(np.argmax(target[row, column, :c]))
        found.append((kind, np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])))
    return found


def test_a_zoomed_out_window_keeps_each_object_under_its_box():
    frame = np.zeros((INPUT_H, INPUT_W, 3), np.uint8)
    frame[100:140, 200:260] = 255                               # one "car", 60 x 40 px
    boxes = [np.array([[CLASSES.index("car"), 200, 100, 260, 140, 1.0]], np.float32)]
    windows = np.zeros((1, CROP_H, CROP_W, 3), np.uint8)
    targets = np.zeros((1, CROP_H // STRIDE, CROP_W // STRIDE, encode(boxes[0]).shape[-1]), np.float32)
    _zoom_out(frame[None], boxes, windows, targets, share=1.0, rng=np.random.default_rng(3))
    (kind, box), = decoded_boxes(targets[0])
    assert kind == CLASSES.index("car")
    width, height = box[2] - box[0], box[3] - box[1]
    assert 60 / 2.2 - 1 <= width <= 60 / 1.3 + 1 and 40 / 2.2 - 1 <= height <= 40 / 1.3 + 1
    x1, y1, x2, y2 = np.round(box).astype(int)
    assert windows[0, y1 + 2:y2 - 2, x1 + 2:x2 - 2].min() > 200, "the object's pixels fill its box"
    assert (windows[0, :, :, 0] > 128).sum() < 1.2 * width * height, "and lie nowhere else"


def test_no_window_changes_without_a_zoom_out_share():
    frame = np.full((1, INPUT_H, INPUT_W, 3), 7, np.uint8)
    windows = np.zeros((1, CROP_H, CROP_W, 3), np.uint8)
    _zoom_out(frame, [np.zeros((0, 6), np.float32)], windows, np.zeros((1, 1, 1, 11), np.float32), 0.0,
              np.random.default_rng(0))
    assert not windows.any()
