"""Evidence pictures: a full frame as a JPEG with a road user's box, lines (a stop line, a fence)
and a caption (the signal state, a speed) drawn on a copy. Every plugin that stores a violation
draws its frames with this, so evidence looks the same whichever rule made it. It lives with the
plugins, not in the appliance core, because drawing needs OpenCV and the core loads no vision library."""

from __future__ import annotations

import cv2
import numpy as np

#: Colours (BGR) of what is drawn on evidence frames and previews.
COLOURS = {"red": (40, 40, 230), "amber": (0, 170, 255), "green": (60, 200, 60), "dark": (128, 128, 128),
           "line": (255, 255, 255), "box": (255, 0, 255), "zone": (0, 220, 255), "lane": (255, 200, 0)}


def annotated_jpeg(frame, quality: int, *, box=None, lines=(), caption: str = "", colour: str = "red") -> bytes:
    """The full frame as a JPEG with the vehicle's box, the rule's lines (pixel end points) and
    a caption (signal state, time into red) drawn on a copy."""
    image = frame.image.copy()
    for a, b in lines:
        cv2.line(image, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), COLOURS["line"], 2)
    if box is not None:
        x1, y1, x2, y2 = (int(v) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), COLOURS["box"], 2)
    if caption:
        cv2.rectangle(image, (0, 0), (min(image.shape[1], 14 * len(caption) + 20), 40), (0, 0, 0), -1)
        cv2.putText(image, caption, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, COLOURS.get(colour, (255, 255, 255)), 2)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit image
        raise ValueError("the evidence frame could not be encoded")
    return np.asarray(jpeg).tobytes()
