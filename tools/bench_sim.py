"""Benchmark the simulator's renderer on one core against the floor and the camera rate.

Prints frames per second for: copying a 1920x1080x3 frame with np.copyto (the floor no
renderer can beat), rendering a busy stretch of a scenario (renderer only), and the full
SimCamera.read() (world step, pin edges, render, ground truth), next to the 25 fps the
appliance's camera delivers.

    .venv/bin/python -m roadcam.tools.bench_sim [--scenario junction] [--start-s 60] [--frames 250]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from roadcam.sim import SimRoad

CAMERA_FPS = 25.0


def measure_copy_floor(width: int, height: int, repeats: int) -> float:
    """Seconds per np.copyto of one frame of real (non-zero) pixels."""
    source = np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    target = np.empty_like(source)
    start = time.perf_counter()
    for _ in range(repeats):
        np.copyto(target, source)
    return (time.perf_counter() - start) / repeats


def measure_render(road: SimRoad, frames: int) -> tuple[float, float]:
    """Seconds per frame spent in the renderer alone, and the mean number of objects drawn."""
    world, renderer = road.world, road.renderer
    spent = 0.0
    drawn = 0
    for _ in range(frames):
        road.skip_frames(1)
        index = road.frames_advanced - 1
        start = time.perf_counter()
        renderer.render(world.vehicles, world.pedestrians, world.t_s, index)
        spent += time.perf_counter() - start
        drawn += len(world.vehicles) + len(world.pedestrians)
    return spent / frames, drawn / frames


def measure_camera(road: SimRoad, frames: int) -> float:
    """Seconds per SimCamera.read(): world step, pins, render and truth together."""
    camera = road.camera(road.scenario.camera.name)
    start = time.perf_counter()
    done = 0
    for _ in range(frames):
        if camera.read() is None:
            break
        done += 1
    return (time.perf_counter() - start) / max(done, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="junction", help="shipped scenario name or YAML path")
    parser.add_argument("--start-s", type=float, default=60.0, help="skip to this busy moment first")
    parser.add_argument("--frames", type=int, default=250, help="frames to time per measurement")
    args = parser.parse_args()
    cv2.setNumThreads(1)

    road = SimRoad.from_scenario(args.scenario)
    width, height = road.renderer.size
    road.skip_frames(int(args.start_s * road.scenario.fps))
    render_s, objects = measure_render(road, args.frames)
    camera_s = measure_camera(road, args.frames)
    copy_s = measure_copy_floor(width, height, args.frames)

    rows = [
        ("np.copyto of one frame (floor)", copy_s),
        (f"render only ({objects:.1f} objects/frame)", render_s),
        ("SimCamera.read() (world+pins+render+truth)", camera_s),
        ("camera rate the appliance needs", 1.0 / CAMERA_FPS),
    ]
    print(f"scenario {road.scenario.name}, {width}x{height}, from t={args.start_s:.0f} s, "
          f"{args.frames} frames each, cv2 threads={cv2.getNumThreads()}")
    print(f"{'measurement':<46}{'frames/s':>10}{'ms/frame':>10}")
    print("-" * 66)
    for label, seconds in rows:
        print(f"{label:<46}{1.0 / seconds:>10.1f}{seconds * 1e3:>10.2f}")
    print("-" * 66)
    verdict = "meets" if 1.0 / render_s >= 60.0 else "MISSES"
    print(f"renderer {verdict} the 60 frames/s target ({1.0 / render_s:.0f} frames/s, "
          f"{render_s / (1.0 / CAMERA_FPS):.0%} of a 25 fps frame period)")


if __name__ == "__main__":
    main()
