"""The whole appliance pipeline on one core: detection, tracking and plate reading.

    .venv/bin/python -m roadcam.tools.bench_pipeline [--frames 500] [--skip-s 20] [--detector tflite|background]
                                             [--site-extra FILE]

A child process renders ``--frames`` frames of the junction scenario (from ``--skip-s`` on, so
the road is busy) to .npy files in a temporary folder, with the scenario's hotlist and site
config. This process then runs a real :class:`~roadcam.appliance.runtime.Appliance` on them (built-in
plugins, plate capture included, every model loaded; one OpenCV and one TFLite thread; the
camera reads one .npy per frame, as a camera driver hands over a buffer) and prints, side by
side: frames per second processed, the 25 fps a 1920x1080 camera delivers, and the rate at
which the camera alone delivers the same frames; then the process's peak resident memory
(VmHWM) with all models loaded (target under 300 MB), measured without the simulator, which
never ran in this process. ``--site-extra`` merges a YAML of site-config sections into the site,
as ``roadcam simulate --site-extra`` does, so a setting (how often plates are read, say) is
timed before it is deployed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

CAMERA_FPS = 25.0

RENDER = """
import json, sys
import numpy as np
from roadcam.sim import SimRoad
out, frames, skip_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
road = SimRoad.from_scenario("junction")
road.skip_frames(int(skip_s * road.scenario.fps))
for index in range(frames):
    frame = road.advance_frame()
    np.save(f"{out}/{index:05d}.npy", frame.image)
    if index == 0:
        json.dump({"site": road.site_config(out), "first_index": frame.index, "first_ns": frame.time_ns,
                   "fps": road.scenario.fps, "hotlist": road.hotlist_body()}, open(f"{out}/run.json", "w"))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--skip-s", type=float, default=20.0, help="scenario seconds skipped before the frames")
    parser.add_argument("--detector", choices=("tflite", "background"), default="tflite")
    parser.add_argument("--site-extra", type=Path, metavar="FILE", help="YAML of site-config sections merged in")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as scratch:
        folder = Path(scratch)
        subprocess.run([sys.executable, "-c", RENDER, scratch, str(args.frames), str(args.skip_s)], check=True)
        run = json.loads((folder / "run.json").read_text())
        files = sorted(folder.glob("*.npy"))
        camera_fps = len(files) / _time_reads(files)
        processed_fps, cpu_ms, health = _run_appliance(folder, run, files, args.detector, args.site_extra)
    print(f"frames: {len(files)} of the junction scenario at 1920x1080 from {args.skip_s:.0f} s, "
          f"detector {args.detector}, one thread each" + (f", site extra {args.site_extra}" if args.site_extra else ""))
    print(f"pipeline (detect, track, read plates):  {processed_fps:7.1f} frames/s")
    print(f"pipeline CPU time, all its threads:      {1000 / cpu_ms:7.1f} frames per CPU-second "
          f"({cpu_ms:.1f} ms/frame; what a core of its own gives, however loaded the machine)")
    print(f"the camera it must keep up with:         {CAMERA_FPS:7.1f} frames/s")
    print(f"the camera source alone (.npy reads):    {camera_fps:7.1f} frames/s")
    print(f"peak resident memory (VmHWM):            {_peak_rss_mb():7.1f} MB (target under 300 MB)")
    plates = health.get("plate_capture", {})
    print(f"plate reads: {plates.get('reads', 0)} ({plates.get('accepted', 0)} accepted), "
          f"plates fused: {plates.get('plates', 0)}, hotlist hits: {plates.get('hits', 0)}")
    return 0


def _time_reads(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        np.load(path)
    return time.perf_counter() - started


def _run_appliance(folder: Path, run: dict, files: list[Path], detector: str,
                   site_extra: Path | None) -> tuple[float, float, dict]:
    """Runs the appliance over the frames: frames per second of wall time, CPU milliseconds per
    frame (every thread of this process, so other work on a shared machine does not count), and
    the last health summary."""
    from roadcam.appliance.clock import ManualClock
    from roadcam.appliance.runtime import Appliance
    from roadcam.appliance.site import site_from_data
    from roadcam.appliance.store import read_events
    from roadcam.common.yaml_config import load_yaml
    from roadcam.hal.hardware import Hardware

    site = run["site"]
    if site_extra:
        site.update(load_yaml(site_extra)[0] or {})
    site["detection"] = {**site.get("detection", {}), "type": detector}
    site["health"] = {"interval_s": 3600}
    config, manager = site_from_data(site, source="bench site")
    clock = ManualClock(start_wall_ns=run["first_ns"])
    camera = _NpyCamera(config.cameras[0].name, files, run, clock)
    appliance = Appliance(config, manager, Hardware(config, clock, sim_cameras=lambda name: camera), clock)
    if run["hotlist"]:
        appliance.enqueue_command("hotlist", run["hotlist"], lambda result: None, version=1)
    started, cpu_started = time.perf_counter(), time.process_time()
    appliance.run(install_signal_handlers=False)
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    health_events = read_events(config.storage.database, limit=100_000, types=["health"])
    return len(files) / elapsed, cpu_s * 1000 / len(files), health_events[-1].data   # the one stored as the run ended


class _NpyCamera:
    """A recorded camera over .npy frames; moves the manual clock to each frame's moment."""

    live = False

    def __init__(self, name: str, files: list[Path], run: dict, clock):
        from roadcam.hal.base import Frame
        self._frame_class = Frame
        self.name, self._files, self._run, self._clock = name, list(files), run, clock
        self.nominal_fps = run["fps"]
        self._next = 0

    def open(self) -> None:
        pass

    def read(self):
        if self._next >= len(self._files):
            return None
        image = np.load(self._files[self._next])
        step_ns = int(1e9 / self._run["fps"])
        self._clock.advance_to(self._clock.mono_ns() + step_ns)
        frame = self._frame_class(self.name, self._run["first_index"] + self._next,
                                  self._run["first_ns"] + self._next * step_ns, self._clock.mono_ns(), image)
        self._next += 1
        return frame

    def close(self) -> None:
        pass


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    sys.exit(main())
