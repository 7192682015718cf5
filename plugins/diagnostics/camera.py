"""Camera checks: each camera's frames are timed on every frame (cheap: a time stamp), and its
image is checked every ``check_every_frames`` frames on one downscaled grey copy.

Every check has a threshold, a clear threshold (value hysteresis) and a time hysteresis: a
condition must hold ``raise_after_s`` (frame time) before its fault is raised, and be gone for
``clear_after_s`` before it is cleared, so one odd frame neither raises nor clears anything.

Image figures, all from one ``thumb_width_px``-wide grey thumbnail:

- level: mean and spread of the grey levels (black, washed out; at night, an image too dark
  for a working IR illuminator: night from sunset and sunrise at the site's ``device.location``,
  or a fixed local window, ``DiagnosticsConfig.is_night``);
- focus: mean absolute Laplacian per grey level of spread, compared with the camera's own
  reference (defocus); dividing by the spread keeps it free of contrast, so a dimmer scene
  (dusk, cloud, a night without IR) does not read as defocus;
- view: correlation of the edge map (gradient magnitude on a half-size copy of the thumbnail)
  with the reference view, cell by cell on a 4 x 4 grid, the median cell deciding (moved or
  blocked). Edges of the fixed scene (kerbs, lane marks, poles) stay put under traffic and
  under day or night light; a vehicle changes a few cells, a turned or covered camera most.

The references are taken from the first ``reference_samples`` samples (their median), then
follow slow changes (an exponential average with ``reference_follow_s``) only while the view
matches and nothing is wrong, so dusk and dawn move the reference but a sudden blur or turn of
the camera does not.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .config import DiagnosticsConfig
from .hysteresis import Hysteresis


@dataclass
class ImageFigures:
    """What one thumbnail looks like."""

    mean: float
    spread: float        # standard deviation of the grey level
    sharpness: float     # mean |Laplacian|
    edges: np.ndarray    # gradient magnitude of a half-size copy

    @property
    def focus(self) -> float:
        """Sharpness per grey level of spread: free of contrast, so a dimmer scene is not
        taken for a defocused one."""
        return self.sharpness / max(self.spread, 1.0)


def thumbnail(image: np.ndarray, width_px: int) -> np.ndarray:
    """The grey, ``width_px``-wide copy every image check works on (area averaging)."""
    height, width = image.shape[:2]
    size = (width_px, max(1, round(height * width_px / width)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small


def image_figures(grey: np.ndarray) -> ImageFigures:
    mean, spread = cv2.meanStdDev(grey)
    sharpness = float(np.mean(np.abs(cv2.Laplacian(grey, cv2.CV_16S, ksize=1))))
    coarse = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
    coarse = cv2.GaussianBlur(coarse.astype(np.float32), (3, 3), 0)
    edges = cv2.magnitude(cv2.Sobel(coarse, cv2.CV_32F, 1, 0), cv2.Sobel(coarse, cv2.CV_32F, 0, 1))
    return ImageFigures(float(mean[0, 0]), float(spread[0, 0]), sharpness, edges)


#: The view is compared cell by cell on this grid (rows, columns); the median cell decides, so
#: traffic in a few cells does not count as a changed view.
VIEW_GRID = (4, 4)


def _cells(edges: np.ndarray) -> np.ndarray:
    """Edge map cut into the grid's cells, each zero-mean and of unit norm: (cells, pixels)."""
    rows, cols = VIEW_GRID
    height, width = edges.shape[0] // rows * rows, edges.shape[1] // cols * cols
    cells = edges[:height, :width].reshape(rows, height // rows, cols, width // cols).swapaxes(1, 2)
    cells = cells.reshape(rows * cols, -1).astype(np.float32)
    cells = cells - cells.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(cells, axis=1, keepdims=True)
    return np.where(norms > 1e-3, cells / np.maximum(norms, 1e-3), 0.0)


def view_similarity(edges: np.ndarray, reference: np.ndarray) -> float:
    """Median over the grid's cells of the correlation of two edge maps (1: the same view)."""
    return float(np.median(np.sum(_cells(edges) * _cells(reference), axis=1)))


@dataclass
class CameraState:
    """Everything the checks remember of one camera."""

    expected_fps: float | None
    frames: int = 0
    frame_times: deque = field(default_factory=deque)   # frame time stamps within the rate window
    last_frame_ns: int | None = None
    last_arrival_ns: int | None = None                  # the appliance's clock when it last got a frame
    watched_since_ns: int | None = None                 # first tick (a camera that never sends is caught)
    first_frame_ns: int | None = None
    last_thumb: np.ndarray | None = None
    reference_pool: list = field(default_factory=list)
    ref_sharpness: float | None = None                  # reference focus (ImageFigures.focus)
    ref_edges: np.ndarray | None = None
    conditions: dict = field(default_factory=dict)      # fault code -> Hysteresis
    figures: dict = field(default_factory=dict)         # the latest figures, for health


#: code -> (severity, message template); the template gets the camera name and the figures
MESSAGES: dict[str, tuple[str, str]] = {
    "camera.no_frames": ("critical", "camera {camera} sent no frame for {gap_s:.1f} s: check its power, cable "
                                     "and network, then restart it"),
    "camera.fps_low": ("major", "camera {camera} delivers {fps:.1f} frames/s, configured {expected_fps:g}: check "
                                "its bandwidth, encoder settings and the box's load"),
    "camera.frozen": ("critical", "camera {camera} has sent the same image for {frozen_s:.1f} s: restart the "
                                  "camera or check its encoder"),
    "camera.dark": ("critical", "camera {camera} sees almost nothing (mean level {mean:.1f}): check the lens cover, "
                                "the housing and, at night, the IR illuminator"),
    "camera.washed_out": ("major", "camera {camera} is washed out (mean level {mean:.1f}, spread {spread:.1f}): "
                                   "check the exposure settings, sun glare and the IR illuminator's power"),
    "camera.night_illumination": ("critical", "camera {camera} sees too little at night (mean level {mean:.1f}, "
                                              "under {limit:g}): the IR illuminator is off or dead; check its "
                                              "power, fuse and day/night switch"),
    "camera.blurred": ("major", "camera {camera} is out of focus ({sharpness_pct:.0f}% of its reference "
                                "sharpness): clean the lens and housing window, check the focus"),
    "camera.view_changed": ("major", "camera {camera} no longer sees its commissioned view (similarity "
                                     "{similarity:.2f}): it was moved or something blocks it; re-aim it or "
                                     "clear the view, then re-commission"),
}


class CameraChecks:
    """The camera checks of one appliance. ``raise_fault(code, camera, message, severity)`` and
    ``clear_fault(code, camera)`` are the appliance's; ``location`` (``lat``, ``lon``: the site
    config's ``device.location``, or None) places the night at its sunset and sunrise."""

    def __init__(self, config: DiagnosticsConfig, raise_fault: Callable[..., object],
                 clear_fault: Callable[[str, str], object], location: Any = None):
        self.config = config
        self._raise = raise_fault
        self._clear = clear_fault
        self._location = location
        self.cameras: dict[str, CameraState] = {}

    def _state(self, camera: str, expected_fps: float | None) -> CameraState:
        if camera not in self.cameras:
            self.cameras[camera] = CameraState(expected_fps or self.config.expected_fps)
        return self.cameras[camera]

    # -- every frame ---------------------------------------------------------------------

    def on_frame(self, camera: str, time_ns: int, image: np.ndarray, expected_fps: float | None = None,
                 arrived_ns: int | None = None) -> None:
        """One frame stamped ``time_ns`` (a file's own media time for a recording), analysed at
        ``arrived_ns`` on the appliance's clock (the clock :meth:`on_tick` is given)."""
        state = self._state(camera, expected_fps)
        state.last_arrival_ns = time_ns if arrived_ns is None else arrived_ns
        cfg = self.config
        gap_ns = None if state.last_frame_ns is None else time_ns - state.last_frame_ns
        state.last_frame_ns = time_ns
        state.first_frame_ns = time_ns if state.first_frame_ns is None else state.first_frame_ns
        state.frames += 1
        if gap_ns is not None:
            gap_s = gap_ns / 1e9
            self._decide(camera, state, "camera.no_frames", gap_s > cfg.no_frames_after_s, time_ns, gap_s=gap_s,
                         immediate=True)
        self._check_rate(camera, state, time_ns)
        if (state.frames - 1) % cfg.check_every_frames == 0:
            self._check_image(camera, state, time_ns, thumbnail(image, cfg.thumb_width_px))

    def on_tick(self, now_ns: int, cameras: dict[str, float | None]) -> None:
        """Periodic (``roadcam_tick``, whether frames come or not): a camera of ``cameras``
        (name -> expected fps) that sends nothing, or never sent anything, is caught here. The
        gap is measured on the tick's clock from the last frame's arrival, not its stamp: a
        recording analysed slower than real time has stamps that fall behind the clock while its
        frames still come."""
        for name, expected_fps in cameras.items():
            state = self._state(name, expected_fps)
            state.watched_since_ns = now_ns if state.watched_since_ns is None else state.watched_since_ns
        for camera, state in self.cameras.items():
            last_ns = state.last_arrival_ns if state.last_arrival_ns is not None else state.watched_since_ns
            if last_ns is None:
                continue
            gap_s = (now_ns - last_ns) / 1e9
            if gap_s > self.config.no_frames_after_s:
                self._decide(camera, state, "camera.no_frames", True, now_ns, gap_s=gap_s, immediate=True)

    def _check_rate(self, camera: str, state: CameraState, time_ns: int) -> None:
        cfg = self.config
        window_ns = int(cfg.fps_window_s * 1e9)
        times = state.frame_times
        times.append(time_ns)
        while times and times[0] < time_ns - window_ns:
            times.popleft()
        if time_ns - state.first_frame_ns < window_ns or len(times) < 2:
            return  # not a full window yet
        fps = (len(times) - 1) / ((times[-1] - times[0]) / 1e9 or 1e-9)
        state.figures["fps"] = round(fps, 2)
        if state.expected_fps is None:  # no configured rate: the first full window's rate is the norm
            state.expected_fps = round(fps)
            return
        gaps = np.diff(np.fromiter(times, dtype=np.int64))
        if gaps.size and gaps.max() > cfg.no_frames_after_s * 1e9:
            return  # an outage is its own fault; the rate is judged again once it is out of the window
        ratio = fps / state.expected_fps
        limit = cfg.fps_min_ratio + (0.05 if self._active(state, "camera.fps_low") else 0.0)
        self._decide(camera, state, "camera.fps_low", ratio < limit, time_ns, fps=fps,
                     expected_fps=state.expected_fps)

    # -- sampled frames --------------------------------------------------------------------

    def _check_image(self, camera: str, state: CameraState, time_ns: int, grey: np.ndarray) -> None:
        cfg = self.config
        figures = image_figures(grey)
        dark = figures.mean < (cfg.dark_below * 1.5 if self._active(state, "camera.dark") else cfg.dark_below)
        washed_limit = cfg.washed_above - (10 if self._active(state, "camera.washed_out") else 0)
        washed = figures.mean > washed_limit and figures.spread < cfg.washed_spread_below
        featureless = dark or washed or figures.spread < 2.0
        self._decide(camera, state, "camera.dark", dark, time_ns, mean=figures.mean)
        self._decide(camera, state, "camera.washed_out", washed, time_ns, mean=figures.mean, spread=figures.spread)
        night_limit = cfg.night_dark_below * (1.3 if self._active(state, "camera.night_illumination") else 1.0)
        unlit = None if not cfg.is_night(time_ns, self._location) else (not dark and figures.mean < night_limit)
        self._decide(camera, state, "camera.night_illumination", unlit, time_ns, mean=figures.mean,
                     limit=cfg.night_dark_below)

        # frozen: the very same thumbnail again (a live sensor always has some noise)
        same = state.last_thumb is not None and np.array_equal(grey, state.last_thumb)
        state.last_thumb = grey
        frozen = None if featureless else same
        held_s = 0.0
        hyst = state.conditions.get("camera.frozen")
        if hyst is not None and hyst.bad_since_ns is not None:
            held_s = (time_ns - hyst.bad_since_ns) / 1e9
        self._decide(camera, state, "camera.frozen", frozen, time_ns, frozen_s=held_s,
                     raise_after_s=cfg.frozen_after_s)

        if featureless or same:
            return  # nothing to judge focus or view by
        if state.ref_edges is None:
            state.reference_pool.append(figures)
            if len(state.reference_pool) >= cfg.reference_samples:
                self._take_reference(state)
            return
        similarity = view_similarity(figures.edges, state.ref_edges)
        sharpness_ratio = figures.focus / max(state.ref_sharpness, 1e-6)
        blur_limit = cfg.blur_ratio_below + (0.1 if self._active(state, "camera.blurred") else 0.0)
        blurred = sharpness_ratio < blur_limit
        view_limit = cfg.view_similarity_below + (0.1 if self._active(state, "camera.view_changed") else 0.0)
        moved = similarity < view_limit
        state.figures.update(sharpness_pct=round(100 * sharpness_ratio, 1), view_similarity=round(similarity, 3))
        self._decide(camera, state, "camera.view_changed", moved, time_ns, similarity=similarity)
        # a covered or turned view also loses sharpness: judge the focus only on the known view
        self._decide(camera, state, "camera.blurred", None if moved else blurred, time_ns,
                     sharpness_pct=100 * sharpness_ratio)
        if not blurred and not moved and not any(h.active for h in state.conditions.values()):
            self._follow_reference(state, figures)

    def _take_reference(self, state: CameraState) -> None:
        pool = state.reference_pool
        state.ref_sharpness = float(np.median([f.focus for f in pool]))
        edges = np.median(np.stack([f.edges for f in pool]), axis=0)
        state.ref_edges = edges
        state.reference_pool = []

    def _follow_reference(self, state: CameraState, figures: ImageFigures) -> None:
        sample_s = self.config.check_every_frames / (state.expected_fps or 25.0)
        alpha = min(1.0, sample_s / self.config.reference_follow_s)
        state.ref_sharpness = (1 - alpha) * state.ref_sharpness + alpha * figures.focus
        state.ref_edges = (1 - alpha) * state.ref_edges + alpha * figures.edges

    # -- raising and clearing --------------------------------------------------------------

    @staticmethod
    def _active(state: CameraState, code: str) -> bool:
        hyst = state.conditions.get(code)
        return hyst is not None and hyst.active

    def _decide(self, camera: str, state: CameraState, code: str, bad: bool | None, time_ns: int, *,
                immediate: bool = False, raise_after_s: float | None = None, **figures) -> None:
        cfg = self.config
        hyst = state.conditions.setdefault(code, Hysteresis())
        after_s = 0.0 if immediate else (cfg.raise_after_s if raise_after_s is None else raise_after_s)
        action = hyst.update(bad, time_ns, int(after_s * 1e9), int(cfg.clear_after_s * 1e9))
        if action == "raise":
            severity, template = MESSAGES[code]
            self._raise(code, camera, template.format(camera=camera, **figures), severity)
        elif action == "clear":
            self._clear(code, camera)

    def health(self) -> dict:
        return {camera: {**state.figures, "faults": sorted(c for c, h in state.conditions.items() if h.active)}
                for camera, state in self.cameras.items()}

    def night_rule(self) -> str:
        """When the night-illumination check runs (``DiagnosticsConfig.night_description``)."""
        return self.config.night_description(self._location)

