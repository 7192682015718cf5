"""From a blob's box to a Detection of one camera: class, vote weight, road point and size."""

from __future__ import annotations

from roadcam.appliance.geometry import RoadGeometry
from roadcam.appliance.tracking import Detection

from .classify import flat_footprint, ground_point, nearest_class
from .config import ClassSize
from .cuboids import CuboidClassifier
from .pinhole import PinholeView

#: ``Detection.source`` of everything this detector reports.
SOURCE = "background"
#: A box touching the frame's edge shows only part of its object: its class counts this much.
TRUNCATED_WEIGHT = 0.2
#: How close (px) to the frame's edge a box must come to count as cut off.
EDGE_PX = 2.0


class BlobDescriber:
    """Describes blobs of one camera, choosing the best measure its calibration allows:
    class cuboids when a pinhole model follows from the homography, flat footprints when only
    the homography is usable, pixel sizes without calibration (see the modules named above)."""

    def __init__(self, class_sizes: dict[str, ClassSize], geometry: RoadGeometry | None,
                 frame_size: tuple[int, int], uncalibrated_px_per_m: float):
        self.geometry = geometry
        self.frame_size = frame_size
        self._class_sizes = class_sizes
        self._px_per_m = uncalibrated_px_per_m
        view = PinholeView.from_geometry(geometry, frame_size) if geometry is not None else None
        self._cuboids = CuboidClassifier(view, geometry, class_sizes, frame_size) if view else None

    def describe(self, box: tuple[float, float, float, float]) -> Detection:
        road_xy = size_m = None
        if self._cuboids is not None:
            kind, score, size_m = self._cuboids.classify(box)
            road_xy = ground_point(box, self.geometry)
        elif self.geometry is not None:
            size_m = flat_footprint(box, self.geometry)
            kind, score = nearest_class(size_m, {k: (s.width_m, s.length_m) for k, s in self._class_sizes.items()},
                                        either_way=True)
            road_xy = ground_point(box, self.geometry)
        else:
            pixels_m = ((box[2] - box[0]) / self._px_per_m, (box[3] - box[1]) / self._px_per_m)
            kind, score = nearest_class(pixels_m, {k: (s.width_m, s.height_m) for k, s in self._class_sizes.items()})
        if self._truncated(box):
            score *= TRUNCATED_WEIGHT
        return Detection(box=box, kind=kind, score=score, source=SOURCE, road_xy=road_xy, size_m=size_m)

    def _truncated(self, box: tuple[float, float, float, float]) -> bool:
        width, height = self.frame_size
        return box[0] <= EDGE_PX or box[1] <= EDGE_PX or box[2] >= width - EDGE_PX or box[3] >= height - EDGE_PX
