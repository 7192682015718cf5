"""The tracker and the vocabulary of every vision plugin, in parts:

- :mod:`.types`: :class:`Detection`, :class:`Track`, :class:`TrackPoint`, ``CLASSES``;
- :mod:`.settings`: :class:`TrackingSettings`, the ``tracking:`` section of the site config;
- :mod:`.followed`: a track with its motion models and counters;
- :mod:`.matching`: the association stages (gates, costs, groups, fragments, duplicates);
- :mod:`.reidentify`: re-identification of hidden and parked road users;
- :mod:`.tracker`: :class:`Tracker`, which runs them frame by frame.
"""

from .settings import TrackingSettings
from .tracker import Tracker
from .types import CLASSES, Detection, Track, TrackPoint

__all__ = ["CLASSES", "Detection", "Track", "TrackPoint", "Tracker", "TrackingSettings"]
