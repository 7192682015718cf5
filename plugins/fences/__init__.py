"""Electronic fences: zones, directed lines and lanes drawn on the camera picture, and the
violation rules that use them with the signal state (red-light running, wrong lane, illegal
parking, box junction blocking), each violation with its evidence package; ``roadcam fence
preview`` draws the fences over a picture."""

from .plugin import plugin

__all__ = ["plugin"]
