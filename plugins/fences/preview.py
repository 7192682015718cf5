"""Drawing a camera's fences over a picture, for a technician to check them: lanes (with their
movements, head, and classes when not every class may use them), zones, directed lines (with an
arrow showing the forward direction) and exits."""

from __future__ import annotations

import cv2
import numpy as np

from roadcam.plugins.annotate import COLOURS

from .config import CameraFences, VehicleClass


def draw_fences(image: np.ndarray, fences: CameraFences) -> np.ndarray:
    """A copy of ``image`` with ``fences`` drawn on it."""
    out = image.copy()
    h, w = out.shape[:2]

    def px(point) -> tuple[int, int]:
        return int(round(point[0] * w)), int(round(point[1] * h))

    overlay = out.copy()
    for lane in fences.lanes:
        cv2.fillPoly(overlay, [np.array([px(p) for p in lane.polygon], np.int32)], COLOURS["lane"])
    for zone in fences.zones:
        cv2.fillPoly(overlay, [np.array([px(p) for p in zone.polygon], np.int32)], COLOURS["zone"])
    cv2.addWeighted(overlay, 0.25, out, 0.75, 0, dst=out)
    exits = {exit_.zone: exit_.movement for exit_ in fences.exits}
    for lane in fences.lanes:
        corners = np.array([px(p) for p in lane.polygon], np.int32)
        cv2.polylines(out, [corners], True, COLOURS["lane"], 2)
        label = f"lane {lane.id}: {'/'.join(lane.movements)}" + (f" [{lane.head}]" if lane.head else "")
        if len(lane.classes) < len(VehicleClass.__args__):
            label += f" {'/'.join(lane.classes)} only"
        _label(out, label, corners.mean(axis=0), COLOURS["lane"])
    for zone in fences.zones:
        corners = np.array([px(p) for p in zone.polygon], np.int32)
        cv2.polylines(out, [corners], True, COLOURS["zone"], 2)
        name = zone.name + (f" (exit {exits[zone.name]})" if zone.name in exits else "")
        _label(out, name, corners.mean(axis=0), COLOURS["zone"])
    for line in fences.lines:
        a, b = px(line.points[0]), px(line.points[1])
        colour = COLOURS["red"] if line.name == fences.stop_line else COLOURS["line"]
        cv2.line(out, a, b, colour, 3)
        mid = np.array([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2])
        direction = np.array([b[1] - a[1], -(b[0] - a[0])], float)  # forward: right-hand to left-hand side
        tip = mid + direction / max(np.linalg.norm(direction), 1e-9) * 40
        cv2.arrowedLine(out, (int(mid[0]), int(mid[1])), (int(tip[0]), int(tip[1])), colour, 3, tipLength=0.4)
        _label(out, line.name, mid + np.array([8, 24]), colour)
    return out


def _label(image: np.ndarray, text: str, at, colour) -> None:
    x, y = int(at[0]), int(at[1])
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, 2)
