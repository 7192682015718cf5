"""Self-diagnostics: system figures in every health event, and faults for a camera that sends
no frames or too few, a frozen, black, washed-out, blurred, moved or blocked image
(``camera.py``), a disk running out and an overheating box, so the twice-daily fault list shows
every site that needs a visit."""

from .plugin import plugin

__all__ = ["plugin"]
