"""Colour signatures of road users, taken by the detectors for the tracker's appearance cue.

Where motion alone is ambiguous, colour still tells road users apart: far from the camera a
pixel spans metres of road, so an orange bus and the white car ahead of it overlap in the image
and on the road plane alike; a scooter waits beside a pedestrian. A signature is the colour
histogram (CIE Lab, ``BINS`` bins per channel) of the middle of a detection's box, where the
object itself is rather than the road around it, taken every few pixels and averaged down to
``SAMPLE_PX`` square first, so it costs the same for a bus near the camera as for a car far away
(about 0.05 ms each).

Computing one needs OpenCV, so it lives here with the detectors, not in the core: a detector
puts the vector on ``Detection.signature`` and the core tracker only compares vectors
(:mod:`roadcam.appliance.appearance`, which also says what a signature vector must be:
square-rooted and normalised, so the Hellinger distance of two is ``sqrt(1 - a . b)``).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Fraction of the box's width and height cut from each side before sampling.
MARGIN = 0.2
#: Side of the square the box's middle is averaged down to.
SAMPLE_PX = 16
#: Histogram bins per Lab channel.
BINS = 4


def colour_signature(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The square-rooted, normalised Lab histogram of the middle of ``box`` in a BGR ``image``;
    None when that middle holds no pixel (a box off the frame or under 3 px)."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    height_px, width_px = image.shape[:2]
    left, right = max(int(x1 + MARGIN * width), 0), min(int(np.ceil(x2 - MARGIN * width)), width_px)
    top, bottom = max(int(y1 + MARGIN * height), 0), min(int(np.ceil(y2 - MARGIN * height)), height_px)
    if right <= left or bottom <= top:
        return None
    step = max((min(right - left, bottom - top)) // (2 * SAMPLE_PX), 1)
    middle = image[top:bottom:step, left:right:step]
    sample = cv2.resize(middle, (SAMPLE_PX, SAMPLE_PX), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(sample, cv2.COLOR_BGR2LAB)
    histogram = cv2.calcHist([lab], [0, 1, 2], None, [BINS] * 3, [0, 256] * 3).ravel()
    return np.sqrt(histogram / histogram.sum()).astype(np.float32)
