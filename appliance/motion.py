"""Constant-velocity motion model (a small Kalman filter) used by the tracker. Numpy only."""

from __future__ import annotations

import numpy as np


class ConstantVelocity:
    """Position and velocity on ``n`` independent axes, e.g. road metres (x, y) or an image box
    (cx, cy, w, h) in pixels, each axis moving at constant velocity plus random acceleration.

    ``position_sigma`` and ``velocity_sigma`` are the initial uncertainties (per axis, in the
    axis's unit and unit per second).
    """

    def __init__(self, position, *, position_sigma, velocity_sigma):
        position = np.asarray(position, dtype=float)
        self.axes = len(position)
        self.state = np.concatenate([position, np.zeros(self.axes)])
        self.covariance = np.diag(np.concatenate([
            np.broadcast_to(np.square(position_sigma), self.axes),
            np.broadcast_to(np.square(velocity_sigma), self.axes)]).astype(float))

    @property
    def position(self) -> np.ndarray:
        return self.state[:self.axes]

    @property
    def velocity(self) -> np.ndarray:
        return self.state[self.axes:]

    def predict(self, step_s: float, accel_sigma) -> None:
        """Move ``step_s`` seconds ahead; ``accel_sigma`` (per axis, unit/s²) says how much the
        velocity may change unobserved."""
        n = self.axes
        transition = np.eye(2 * n)
        transition[:n, n:] = np.eye(n) * step_s
        accel = np.broadcast_to(np.square(accel_sigma), n)
        noise = np.zeros((2 * n, 2 * n))
        noise[:n, :n] = np.diag(accel * step_s ** 4 / 4)
        noise[:n, n:] = noise[n:, :n] = np.diag(accel * step_s ** 3 / 2)
        noise[n:, n:] = np.diag(accel * step_s ** 2)
        self.state = transition @ self.state
        self.covariance = transition @ self.covariance @ transition.T + noise

    def distances2(self, measurements, measurement_sigmas, axes=slice(None)) -> np.ndarray:
        """Squared Mahalanobis distances of N position measurements (N x k, of ``axes`` only;
        each row with its own per-axis ``measurement_sigmas``, N x k) from the current
        prediction, all in one step (the tracker scores every track-detection pair)."""
        innovations = np.asarray(measurements, dtype=float) - self.position[axes]
        predicted = self.covariance[:self.axes, :self.axes][axes, axes]
        spreads = np.broadcast_to(predicted, (len(innovations),) + predicted.shape).copy()
        diagonal = np.arange(predicted.shape[0])
        spreads[:, diagonal, diagonal] += np.square(measurement_sigmas)
        solved = np.linalg.solve(spreads, innovations[..., None])[..., 0]
        return np.einsum("nk,nk->n", innovations, solved)

    def correct(self, measurement, measurement_sigma) -> None:
        """Blend in a measured position (all axes)."""
        n = self.axes
        innovation = np.asarray(measurement, dtype=float) - self.position
        spread = self.covariance[:n, :n] + np.diag(np.broadcast_to(np.square(measurement_sigma), n))
        gain = self.covariance[:, :n] @ np.linalg.inv(spread)
        self.state = self.state + gain @ innovation
        self.covariance = self.covariance - gain @ self.covariance[:n, :]

    def limit_speed(self, max_speed: float, axes=slice(None)) -> None:
        """Scale the velocity down so that its norm over ``axes`` is at most ``max_speed``."""
        velocity = self.state[self.axes:]
        speed = float(np.linalg.norm(velocity[axes]))
        if speed > max_speed:
            velocity[axes] *= max_speed / speed

    def cap_position_sigma(self, max_sigma: float) -> None:
        """Shrink the position uncertainty to at most ``max_sigma`` per axis (the velocity's
        correlation with it scaled alike, so the covariance stays valid)."""
        n = self.axes
        sigma = np.sqrt(np.diag(self.covariance)[:n])
        scale = np.ones(2 * n)
        scale[:n] = np.minimum(1.0, max_sigma / np.maximum(sigma, 1e-12))
        self.covariance = self.covariance * np.outer(scale, scale)
