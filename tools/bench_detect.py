"""Benchmark the detectors: milliseconds per 1920x1080 frame on one core.

Prints the background-subtraction detector's cost per frame beside the cost of only
downscaling the same frames (cv2.resize, INTER_AREA, to the working size), measured in the
same run, so the figure can be judged on any machine; then the learned detector's (the shipped
TFLite model, one thread) on the same frames. The scene: a textured road seen by a pole camera (the simulator's pose
model, for a realistic calibration), with boxes of several sizes driving through it.

    python -m roadcam.tools.bench_detect [--frames 300]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from roadcam.appliance.geometry import RoadGeometry
from roadcam.hal.base import Frame
from roadcam.plugins.detection import BackgroundDetector, DetectionConfig, LearnedDetector
from roadcam.plugins.detection.detector import downscale
from roadcam.sim.camera_pose import SimCameraPose

FPS = 25.0
POSE = SimCameraPose(x_m=-1.0, y_m=70.0, height_m=6.5, yaw_deg=8.0, pitch_deg=13.0, hfov_deg=45.0)
#: (lane x, start y, speed along y, width, length, height, BGR colour) of the moving boxes.
TRAFFIC = [(3.75, 75.0, -12.0, 1.8, 4.5, 1.5, (40, 40, 200)), (7.25, 80.0, -9.0, 2.5, 11.0, 3.2, (40, 160, 40)),
           (3.75, 95.0, -11.0, 0.7, 1.9, 1.7, (200, 120, 30)), (7.25, 110.0, -13.0, 1.8, 4.5, 1.5, (30, 30, 30))]


def scene() -> tuple[np.ndarray, RoadGeometry]:
    rng = np.random.default_rng(0)
    noise = cv2.resize(rng.normal(0, 1, (270, 480, 3)).astype(np.float32), (POSE.width_px, POSE.height_px))
    road = np.clip(100 + 18 * noise + rng.normal(0, 3, noise.shape), 0, 255).astype(np.uint8)
    marks = np.array([(x, y, 0.0) for x in (0.0, 9.0) for y in (10.0, 25.0, 40.0, 55.0)])
    pixels, _ = POSE.project(marks)
    return road, RoadGeometry(pixels, marks[:, :2])


def render(road: np.ndarray, time_s: float) -> np.ndarray:
    image = road.copy()
    for x, y0, speed, width, length, height, colour in TRAFFIC:
        y = y0 + speed * time_s
        corners = np.array([(x + sx * width / 2, y + sy * length / 2, z)
                            for sx in (-1, 1) for sy in (-1, 1) for z in (0.0, height)])
        pixels, depth = POSE.project(corners)
        if np.all(depth > 0.5):
            cv2.fillConvexPoly(image, cv2.convexHull(np.round(pixels).astype(np.int32)), colour)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames to time (after a warm-up)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    road, geometry = scene()
    config = DetectionConfig()
    warmup = int(config.warmup_s * FPS) + 2
    images = [render(road, i / FPS) for i in range(warmup + args.frames)]
    work_size = (config.work_width_px, round(POSE.height_px * config.work_width_px / POSE.width_px))
    detector = BackgroundDetector(config)
    for i in range(warmup):
        detector.roadcam_detect(frame=_frame(i, images[i]), geometry=geometry)

    detections = 0
    start = time.perf_counter()
    for i in range(warmup, len(images)):
        detections += len(detector.roadcam_detect(frame=_frame(i, images[i]), geometry=geometry))
    detect_ms = (time.perf_counter() - start) * 1000 / args.frames

    start = time.perf_counter()
    for i in range(warmup, len(images)):
        cv2.resize(images[i], work_size, interpolation=cv2.INTER_AREA)
    resize_ms = (time.perf_counter() - start) * 1000 / args.frames

    start = time.perf_counter()
    for i in range(warmup, len(images)):
        downscale(images[i], config.work_width_px)
    downscale_ms = (time.perf_counter() - start) * 1000 / args.frames

    print(f"frames: {args.frames} at {POSE.width_px}x{POSE.height_px}, working size {work_size[0]}x{work_size[1]}, "
          f"one OpenCV thread, {detections / args.frames:.1f} detections/frame")
    print(f"whole detector:                          {detect_ms:6.2f} ms/frame")
    print(f"reference: one cv2.resize, INTER_AREA:   {resize_ms:6.2f} ms/frame")
    print(f"the detector's downscale (halvings):     {downscale_ms:6.2f} ms/frame")
    print(f"detector after its downscale:            {detect_ms - downscale_ms:6.2f} ms/frame")

    learned = LearnedDetector(DetectionConfig(type="tflite", threads=1))
    learned.roadcam_detect(frame=_frame(0, images[0]), geometry=geometry)
    found = 0
    start = time.perf_counter()
    for i in range(warmup, len(images)):
        found += len(learned.roadcam_detect(frame=_frame(i, images[i]), geometry=geometry))
    learned_ms = (time.perf_counter() - start) * 1000 / args.frames
    print(f"learned detector (tflite, one thread):   {learned_ms:6.2f} ms/frame, "
          f"{found / args.frames:.1f} detections/frame (its model was trained on simulator frames, "
          "not on this synthetic scene)")


def _frame(index: int, image: np.ndarray) -> Frame:
    time_ns = int(index * 1e9 / FPS)
    return Frame(camera="bench", index=index, time_ns=time_ns, mono_ns=time_ns, image=image)


if __name__ == "__main__":
    main()
