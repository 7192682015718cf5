"""A per-camera background model: which pixels of a (downscaled) frame are not empty road.

A running average of the empty scene in colour, with a per-pixel estimate of its usual
fluctuation, chosen over MOG2 because it is several times cheaper and can learn selectively:

- it starts from the per-pixel median of frames sampled over the warm-up, so traffic passing
  while it starts is not learnt;
- global brightness and colour changes (clouds, exposure, dusk) are compensated every frame by
  a per-channel gain, the median ratio between frame and background over road pixels, applied
  to the whole model, so a light change over a few seconds leaves no ghosts;
- pixels under foreground learn with a much longer time constant than empty road, so a vehicle
  waiting at a red light or parked stays foreground for many minutes;
- :meth:`relearn` replaces parts of the model at once (ghosts, see
  :mod:`roadcam.plugins.detection.ghosts`); when most of the frame changes at once (the camera was
  moved) the model starts afresh.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Every how many pixels (each way) the brightness gain is sampled.
GAIN_SAMPLE_STEP = 6
#: Sampled pixels darker than this (per channel, 0-255) are too noisy for a gain ratio.
GAIN_MIN_LEVEL = 12.0
#: Frames sampled, evenly over the warm-up, for the starting median.
WARMUP_SAMPLES = 11
#: Smallest brightness change (per channel, as a gain) worth rescaling the model for; smaller
#: ones are followed by the ordinary learning.
MIN_GAIN_STEP = 0.002
#: The frame kept for judging whether something moved is renewed this often (seconds).
STILL_REFERENCE_S = 0.5
#: Foreground pixels are absorbed in one step this often (their per-frame rate is too small
#: for float32).
ABSORB_EVERY_S = 1.0


class BackgroundModel:
    """The empty-scene model of one camera at the working resolution.

    Call :meth:`foreground` with each frame, clean its mask as you like, then :meth:`learn`
    with the cleaned mask so that what is foreground is not learnt as road.
    """

    def __init__(self, *, learn_time_s: float, absorb_time_s: float, warmup_s: float,
                 min_difference: float, noise_factor: float, scene_change_fraction: float):
        self._learn_time_s = learn_time_s
        self._absorb_time_s = absorb_time_s
        self._warmup_ns = int(warmup_s * 1e9)
        self._min_difference = min_difference
        self._noise_factor = noise_factor
        self._scene_change_fraction = scene_change_fraction
        self._background: np.ndarray | None = None
        self._noise: np.ndarray | None = None
        self._gain_mask: np.ndarray | None = None
        self._samples: list[np.ndarray] = []
        self._started_ns = 0
        self._last_sample_ns = 0
        self._last_absorb_ns = 0
        self._last_ns = 0
        self._step_s = 0.0
        self._difference: np.ndarray | None = None
        self._still_reference_ns = 0
        self.image: np.ndarray | None = None
        self.still_reference: np.ndarray | None = None

    @property
    def still_since_s(self) -> float:
        """Age of :attr:`still_reference`, the frame of up to STILL_REFERENCE_S ago that tells
        moving things from still ones."""
        return (self._last_ns - self._still_reference_ns) / 1e9

    @property
    def background(self) -> np.ndarray | None:
        """The current empty-scene image (float32 BGR), None while warming up."""
        return self._background

    def foreground(self, image: np.ndarray, time_ns: int) -> np.ndarray:
        """The foreground mask (uint8, 255 = foreground) of a BGR working-size image.

        All zero while warming up. ``time_ns`` stamps the frame (monotonic clock); learning
        rates follow it, so dropped frames do not slow adaptation down.
        """
        pixels = image.astype(np.float32)
        self.image = pixels
        if self.still_reference is None or time_ns - self._still_reference_ns >= STILL_REFERENCE_S * 1e9:
            self.still_reference, self._still_reference_ns = pixels, time_ns
        self._step_s = max(time_ns - self._last_ns, 0) / 1e9
        self._last_ns = time_ns
        if self._background is None or self._background.shape != pixels.shape:
            return self._warm_up(pixels, time_ns)
        self._follow_brightness(pixels)
        self._difference = cv2.transform(cv2.absdiff(pixels, self._background), np.ones((1, 3), np.float32))
        threshold = cv2.max(self._noise * self._noise_factor, self._min_difference)
        mask = cv2.compare(self._difference, threshold, cv2.CMP_GT)
        if cv2.countNonZero(mask) > self._scene_change_fraction * mask.size:
            self._restart(pixels, time_ns)
            return np.zeros_like(mask)
        return mask

    def learn(self, foreground_mask: np.ndarray) -> None:
        """Update the model with the last frame; pixels under ``foreground_mask`` learn slowly."""
        if self._difference is None:
            return
        road = cv2.bitwise_not(foreground_mask)
        rate = _rate(self._step_s, self._learn_time_s)
        cv2.accumulateWeighted(self.image, self._background, rate, mask=road)
        cv2.accumulateWeighted(self._difference, self._noise, rate, mask=road)
        absorb_s = (self._last_ns - self._last_absorb_ns) / 1e9
        if absorb_s >= ABSORB_EVERY_S:
            cv2.accumulateWeighted(self.image, self._background, _rate(absorb_s, self._absorb_time_s),
                                   mask=foreground_mask)
            self._last_absorb_ns = self._last_ns
        self._gain_mask = road[::GAIN_SAMPLE_STEP, ::GAIN_SAMPLE_STEP] > 0

    def relearn(self, pixels_mask: np.ndarray) -> None:
        """Take the last frame as the empty scene where ``pixels_mask`` (uint8) is set."""
        if self._background is not None:
            where = pixels_mask > 0
            self._background[where] = self.image[where]

    def _warm_up(self, pixels: np.ndarray, time_ns: int) -> np.ndarray:
        if not self._samples:
            self._started_ns = time_ns
        if not self._samples or time_ns - self._last_sample_ns >= self._warmup_ns / WARMUP_SAMPLES:
            self._samples.append(pixels)
            self._last_sample_ns = time_ns
        if time_ns - self._started_ns >= self._warmup_ns:
            self._background = np.median(np.stack(self._samples), axis=0).astype(np.float32)
            self._noise = np.full(pixels.shape[:2], self._min_difference / self._noise_factor, np.float32)
            self._gain_mask = None
            self._samples = []
            self._last_absorb_ns = time_ns
        return np.zeros(pixels.shape[:2], np.uint8)

    def _restart(self, pixels: np.ndarray, time_ns: int) -> None:
        self._background = self._difference = None
        self._samples = []
        self._warm_up(pixels, time_ns)

    def _follow_brightness(self, pixels: np.ndarray) -> None:
        """Scale the background per channel to the frame's brightness, judged on road pixels."""
        frame = pixels[::GAIN_SAMPLE_STEP, ::GAIN_SAMPLE_STEP].reshape(-1, 3)
        model = self._background[::GAIN_SAMPLE_STEP, ::GAIN_SAMPLE_STEP].reshape(-1, 3)
        usable = np.all((frame > GAIN_MIN_LEVEL) & (model > GAIN_MIN_LEVEL), axis=1)
        if self._gain_mask is not None:
            usable &= self._gain_mask.reshape(-1)
        if np.count_nonzero(usable) < 16:
            return
        gain = np.median(frame[usable] / model[usable], axis=0)
        if np.abs(gain - 1.0).max() >= MIN_GAIN_STEP:
            cv2.multiply(self._background, (*gain.tolist(), 0.0), dst=self._background)


def _rate(step_s: float, time_constant_s: float) -> float:
    """Weight of a new observation after ``step_s`` for a first-order filter."""
    return 1.0 - math.exp(-step_s / time_constant_s)
