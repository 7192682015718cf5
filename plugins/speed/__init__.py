"""Spot speed from induction-loop pairs: the speed (with its uncertainty), length and lane of
every vehicle from the loops' edge stamps, and loop faults (stuck on, stuck off, chatter, an
edge on one loop only) as fault events, never as speeds."""

from .plugin import plugin

__all__ = ["plugin"]
