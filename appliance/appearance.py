"""Comparing colour signatures of road users: the appearance cue of the tracker.

A signature is a vector a detector puts on ``Detection.signature`` (the built-in ones take it
with :func:`roadcam.plugins.detection.signatures.colour_signature`, a colour histogram of the
middle of the box; computing one needs OpenCV, which the core never imports). The core only
compares vectors: any non-negative vector works, stored square-rooted and normalised (a
histogram ``h`` as ``sqrt(h / h.sum())``), so that the Hellinger distance of two is
``sqrt(1 - a . b)``: 0 for the same colours, 1 for colours that share no bin. Running means
of signatures (a track's) are compared after normalising them. Signatures compared with each
other must come from the same computation (same length, same bins).
"""

from __future__ import annotations

import numpy as np


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance of two signatures (or running means of signatures): 0 to 1."""
    return float(signature_distances(a, np.asarray(b)[None, :])[0])


def signature_distances(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Hellinger distances of one signature (or running mean) to each row of ``others``
    (N x bins): 0 to 1."""
    norms = np.linalg.norm(others, axis=1) * np.linalg.norm(signature)
    overlap = (others @ signature) / np.maximum(norms, 1e-12)
    return np.sqrt(np.maximum(1.0 - overlap, 0.0))
