"""Re-identification: a road user that waited hidden (behind a bus, through a red phase) and
comes out somewhere else gets its lost track's identity back."""

from __future__ import annotations

import numpy as np

from .followed import Followed
from .settings import TrackingSettings


def reidentify(settings: TrackingSettings, tracks: list[Followed]) -> None:
    """Give a track confirmed this frame the identity of the lost track it continues.

    A road user that waited behind a bus for a red phase and comes out elsewhere (it turned
    while hidden) is too far from where it went in for any gate, and starts a new track.
    Such a newcomer shows where it came from: it appeared beside another road user, away
    from the frame's edges (``emerged``). It continues a confirmed track still kept but
    unseen (hidden or parked, :meth:`Followed.coast`) when the two are of one class,
    their colours match (signature distance at most ``reidentify_colour``) and the newcomer
    could have driven from where that track was last seen (at most
    ``reidentify_speed_mps``); of several, the closest in colour. The lost track then takes
    the newcomer's points and motion, and the newcomer's id, never reported, is dropped."""
    for newcomer in tracks:
        if not newcomer.just_confirmed:
            continue
        newcomer.just_confirmed = False
        if not newcomer.emerged or newcomer.signature is None:
            continue
        candidates = [(newcomer.colour_distance_to(lost), index) for index, lost in enumerate(tracks)
                      if may_continue(settings, lost, newcomer)]
        candidates = [(colour, index) for colour, index in candidates if colour <= settings.reidentify_colour]
        if candidates:
            tracks[min(candidates)[1]].absorb(newcomer, settings)


def may_continue(settings: TrackingSettings, lost: Followed, newcomer: Followed) -> bool:
    """Could ``newcomer`` be ``lost``'s road user, come out from hiding?"""
    if (lost is newcomer or not lost.track.confirmed or not lost.track.missed or lost.absorbed
            or lost.track.duplicate_of is not None or lost.signature is None
            or lost.track.kind != newcomer.track.kind):
        return False
    elapsed_s = (newcomer.track.first_ns - lost.seen_ns) / 1e9
    if elapsed_s <= 0:
        return False
    seen, first = lost.seen_road, newcomer.track.points[0].road_xy
    if seen is None or first is None:
        return True
    return float(np.hypot(first[0] - seen[0], first[1] - seen[1])) <= settings.reidentify_speed_mps * elapsed_s
