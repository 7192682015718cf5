"""Small video files for tests that need a real camera source (OpenCV reads them back)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """Write BGR frames as an MJPG .avi and return the path."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def grey_ramp(frame_count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Flat grey frames, frame i at grey level 40 * i (each frame tells its index)."""
    return [np.full((height, width, 3), 40 * i, np.uint8) for i in range(frame_count)]


def moving_box(frame_count: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """A textured grey scene with a dark box driving across it, left to right."""
    rng = np.random.default_rng(7)
    background = rng.integers(90, 130, (height, width, 3), dtype=np.uint8)
    frames = []
    for index in range(frame_count):
        frame = background.copy()
        x = int(-40 + index * (width + 80) / frame_count)
        cv2.rectangle(frame, (x, height // 2 - 20), (x + 40, height // 2 + 20), (30, 30, 30), -1)
        frames.append(frame)
    return frames
