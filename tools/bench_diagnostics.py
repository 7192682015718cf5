"""What the camera self-diagnostics cost: share of one core at a camera's frame rate.

    python -m roadcam.tools.bench_diagnostics [--frames 500] [--fps 25] [--scenario smoke]

Renders ``--frames`` simulator frames (1920x1080) first, then times, on one thread:

- the resize the checks need (1920x1080 BGR to the grey ``thumb_width_px`` copy), alone: the
  reference, the least any image check must pay;
- the camera checks as the plugin runs them (``CameraChecks.on_frame`` on every frame: frame
  timing each frame, the image checks on one frame in ``check_every_frames``, resize included).

Each is printed as milliseconds per call and as % of one core at ``--fps`` (the time spent per
second of video). The issue's target is under 5% of one core at 25 fps.
"""

from __future__ import annotations

import argparse
import time

from roadcam.plugins.diagnostics.camera import CameraChecks, thumbnail
from roadcam.plugins.diagnostics.config import DiagnosticsConfig
from roadcam.sim.road import SimRoad
from roadcam.sim.scenario import load_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=500, help="frames timed (rendered first)")
    parser.add_argument("--fps", type=float, default=25.0, help="camera frame rate the cost is given at")
    parser.add_argument("--scenario", default="smoke", help="simulator scenario the frames come from")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the fastest is reported")
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)
    scenario = scenario.model_copy(update={"duration_s": args.frames / scenario.fps})
    camera = SimRoad.from_scenario(scenario).camera(scenario.camera.name)
    frames = []
    while (frame := camera.read()) is not None:
        frames.append(frame)
    config = DiagnosticsConfig()
    height, width = frames[0].image.shape[:2]

    def resize_only() -> None:
        for frame in frames:
            thumbnail(frame.image, config.thumb_width_px)

    def checks() -> None:
        camera_checks = CameraChecks(config, lambda *a: None, lambda *a: None)
        for frame in frames:
            camera_checks.on_frame(frame.camera, frame.time_ns, frame.image)

    def fastest(run) -> float:
        return min(_timed(run) for _ in range(args.repeat)) / len(frames)

    resize_s = fastest(resize_only)          # per call, every call
    checks_s = fastest(checks)               # per frame, amortised over the sampled ones
    sampled_resize_s = resize_s / config.check_every_frames
    print(f"camera checks, {len(frames)} frames of {width}x{height} from scenario {args.scenario!r}, "
          f"image checks on 1 frame in {config.check_every_frames} at {config.thumb_width_px} px wide")
    print(f"{'':38}{'ms/call':>9}{'% core @' + format(args.fps, 'g') + ' fps':>16}")
    rows = [("resize alone, every frame (reference)", resize_s * 1e3, resize_s * args.fps),
            ("resize alone, sampled frames", sampled_resize_s * 1e3 * config.check_every_frames,
             sampled_resize_s * args.fps),
            ("camera checks (resize included)", checks_s * 1e3, checks_s * args.fps)]
    for name, ms, share in rows:
        print(f"{name:38}{ms:9.3f}{100 * share:15.2f}%")
    target = 5.0
    verdict = "within" if 100 * checks_s * args.fps < target else "OVER"
    print(f"target: under {target:g}% of one core -> {verdict}")
    return 0


def _timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
