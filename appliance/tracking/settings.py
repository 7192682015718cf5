"""The tracker's settings: the ``tracking:`` section of the site config.

Every value the algorithm is tuned with, validated, with the defaults it was tuned to (see
:mod:`roadcam.tools.eval_tracking` for how they were chosen). A site overrides only what it
must, e.g. ``tracking: {max_hidden_frames: 1500}`` at a junction with long red phases.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: The settings counted in frames, scaled to a camera's frame rate (``reference_fps``).
FRAME_COUNTS = ("min_hits", "whole_min_hits", "max_missed_frames", "max_hidden_frames", "max_grouped_frames")
#: The tracker looks back this far through a track's points to tell whether it is receding
#: (see :meth:`roadcam.appliance.tracking.followed.Followed.going_away`); the points of at
#: least this long before the last one are kept one per frame.
RECEDING_WINDOW_S = 1.0


class TrackingSettings(BaseModel):
    """How the tracker follows road users: gates, costs, and how long unseen ones are kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- life cycle
    min_hits: int = Field(3, ge=1, title="Frames to confirm",
                          description="Matched frames before a new track counts (a detector that may split "
                                      "or merge objects: background subtraction).")
    whole_min_hits: int = Field(5, ge=1, title="Frames to confirm (whole detections)",
                                description="Matched frames before a track started by a whole detection (a "
                                            "learned detector's) counts: a far vehicle's passing second "
                                            "detection does not become a second identity.")
    max_missed_frames: int = Field(30, ge=0, title="Frames unseen in the open",
                                   description="Frames a confirmed track may go unseen in the open before it "
                                               "ends (unless parked); also when a hidden one must match by colour.")
    max_hidden_frames: int = Field(750, ge=0, title="Frames hidden or parked",
                                   description="Frames a track hidden behind another road user, or parked in "
                                               "the middle of the picture, is kept.")
    max_grouped_frames: int = Field(250, ge=0, title="Frames inside a group",
                                    description="Frames a track may be seen only inside a merged blob before it ends.")
    reference_fps: float | None = Field(25.0, gt=0, title="Frame rate of the frame counts",
                                        description="The frame rate min_hits, whole_min_hits, max_missed_frames, "
                                                    "max_hidden_frames and max_grouped_frames are given for: "
                                                    "on a camera at another rate (measured from its first frames' "
                                                    "stamps) they are scaled to last as long. null: used as given.")
    # -- hidden and parked road users
    hidden_cover: float = Field(0.5, ge=0, le=1, title="Hidden cover",
                                description="Share of an unseen track's predicted box a detection must cover "
                                            "for the track to count as hidden behind or inside it.")
    hidden_slowdown_s: float = Field(2.0, gt=0, title="Hidden slowdown (s)",
                                     description="Time constant with which a hidden vehicle track's speed "
                                                 "decays (hidden vehicles are most often queueing; hidden "
                                                 "pedestrians keep their pace).")
    hidden_sigma_m: float = Field(1.0, gt=0, title="Hidden position sigma (m)",
                                  description="Most a hidden or parked track's road position grows uncertain.")
    inland_px: float = Field(48.0, ge=0, title="Inland size (px)",
                             description="A track lost while at least this large (square root of its box "
                                         "area) and clear of the frame's edges is parked, not gone; 0 turns "
                                         "parking off.")
    border_px: float = Field(8.0, ge=0, title="Border (px)",
                             description="Boxes this close to the left, right or bottom edge touch the border "
                                         "(where road users enter and leave).")
    # -- motion
    max_speed_mps: float = Field(45.0, gt=0, title="Top speed (m/s)",
                                 description="Fastest a road user moves on the road plane.")
    accel_sigma_mps2: float = Field(3.0, gt=0, title="Acceleration sigma (m/s²)",
                                    description="Unobserved acceleration of the road-plane motion model.")
    road_sigma_m: float = Field(0.5, gt=0, title="Ground point sigma (m)",
                                description="Least uncertainty of a detection's ground point on the road plane.")
    # -- matching
    gate_sigmas: float = Field(3.5, gt=0, title="Gate (sigmas)",
                               description="Farthest a detection may be from a track's prediction, in "
                                           "standard deviations (Mahalanobis).")
    iou_gate: float = Field(0.3, ge=0, le=1, title="IoU gate",
                            description="A detection overlapping a track's predicted box at least this "
                                        "much is allowed whatever its distance.")
    whole_gate_sigmas: float = Field(5.0, gt=0, title="Gate for whole detections (sigmas)",
                                     description="The distance gate for whole detections (a learned "
                                                 "detector's: far boxes jitter).")
    whole_iou_gate: float = Field(0.25, ge=0, le=1, title="IoU gate for whole detections",
                                  description="The IoU gate for whole detections.")
    whole_size_ratio: float = Field(3.0, ge=1, title="Size jump for whole detections",
                                    description="A track unseen last frame takes no whole detection this "
                                                "many times wider or taller than its predicted box.")
    kind_change_cost: float = Field(0.5, ge=0, title="Class change cost",
                                    description="Added to a pair's cost when the detection's class is not "
                                                "the track's.")
    appearance_weight: float = Field(1.0, ge=0, title="Appearance weight",
                                     description="Weight of the colour-signature distance (0 to 1) in a pair's cost.")
    walking_appearance_weight: float = Field(3.0, ge=0, title="Pedestrian appearance weight",
                                             description="Weight of the colour-signature distance in a pedestrian "
                                                         "track's pair cost (people starting off together stand on "
                                                         "nearly one spot; their clothes still differ). Above 1 a "
                                                         "pair dressed very unlike can cost more than "
                                                         "unmatched_pair_cost: the track then leaves that person to "
                                                         "another track.")
    unmatched_pair_cost: float = Field(3.5, gt=0, title="Unmatched pair cost",
                                       description="Cost of leaving a track and a detection both unmatched; "
                                                   "more than any allowed vehicle pair (at most 2.5 by default).")
    # -- merged and split blobs, duplicates
    group_cover: float = Field(0.6, ge=0, le=1, title="Group cover",
                               description="Share of a predicted box a blob must cover for the track to be "
                                           "in that group, and of a loose detection a matched box must cover "
                                           "for it to be that track's fragment.")
    dominant_iou: float = Field(0.6, ge=0, le=1, title="Dominant IoU",
                                description="IoU with a group blob at which one member is updated from it.")
    birth_iou: float = Field(0.3, ge=0, le=1, title="Birth IoU",
                             description="A mergeable detection overlapping a confirmed track this much "
                                         "starts no track.")
    whole_birth_iou: float = Field(0.3, ge=0, le=1, title="Birth IoU for whole detections",
                                   description="A whole detection overlapping a confirmed track this much "
                                               "starts no track.")
    duplicate_iou: float = Field(0.5, ge=0, le=1, title="Duplicate IoU",
                                 description="Overlap at which two confirmed vehicle tracks on one vehicle "
                                             "are merged (the older keeps it).")
    # -- re-identification
    reidentify_colour: float = Field(0.6, ge=0, le=1, title="Re-identification colour distance",
                                     description="Most a track unseen for long and a detection (or a "
                                                 "newcomer) may differ in colour (signature distance) to be "
                                                 "one road user.")
    reidentify_speed_mps: float = Field(15.0, gt=0, title="Re-identification speed (m/s)",
                                        description="A newcomer continues a lost track only if it could have "
                                                    "driven from where that track was last seen at this speed.")
    rejoin_iou: float | None = Field(0.7, ge=0, le=1, title="Rejoin IoU",
                                     description="A vehicle track unseen longer than max_missed_frames takes, "
                                                 "whatever its colours, a detection of its class that no track "
                                                 "took and that would start a track, when it overlaps the track's "
                                                 "predicted box at least this much: a vehicle queued behind a bus "
                                                 "shows again where it waited, its box still half the bus's "
                                                 "colours. null: never.")
    # -- output
    finished_events: bool = Field(True, title="track.finished events",
                                  description="Store a track.finished event (class, entry and exit points and "
                                              "times) for every road user that leaves the view, so they can be "
                                              "counted from the event list.")
    # -- history
    history_recent_s: float = Field(10.0, gt=RECEDING_WINDOW_S, title="Full-rate history (s)",
                                    description="A track keeps its points of this last stretch one per frame "
                                                "(more than the 1 s the tracker looks back).")
    history_older_points: int | None = Field(200, ge=2, title="Older points kept",
                                             description="Most points kept from before that stretch besides "
                                                         "the first, thinned evenly as the track ages; null "
                                                         "keeps every point (scoring against ground truth).")

    def at_frame_rate(self, fps: float) -> TrackingSettings:
        """These settings for a camera at ``fps``: the frame counts scaled from ``reference_fps``
        to last as long (at least 1 where they were), the rest unchanged; themselves when
        ``reference_fps`` is null or within 5% of ``fps``."""
        if self.reference_fps is None or abs(fps / self.reference_fps - 1.0) <= 0.05:
            return self
        scaled = {name: max(round(getattr(self, name) * fps / self.reference_fps), min(getattr(self, name), 1))
                  for name in FRAME_COUNTS}
        return self.model_copy(update=scaled)
