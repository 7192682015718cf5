"""The collector's commands: run_diagnostics, snapshot and config_update.

They run on the analysis thread (``roadcam_command``), after the uplink checked the command's
signature and version. Each returns ``{"ok": True, …}`` or ``{"ok": False, "error"/"errors": …}``. A config_update
that is accepted stops the appliance, which restarts with the new config on trial.
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import yaml

from roadcam.appliance.atomic_write import write_atomically
from roadcam.appliance.config_rollout import identity_problems
from roadcam.appliance.events import EventDraft
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.site import site_from_data
from roadcam.appliance.uplink_config import UplinkConfig
from roadcam.common.errors import ConfigError
from roadcam.protocol.events import EvidenceBlob

log = logging.getLogger("roadcam.uplink")

#: JPEG quality of a snapshot (0–100).
SNAPSHOT_JPEG_QUALITY = 90


class CommandHandlers:
    """Answers the built-in commands; keeps the latest frame of each camera for ``snapshot``."""

    def __init__(self, appliance, config: UplinkConfig):
        self.appliance = appliance
        self.config = config
        self._latest_frames: dict[str, Any] = {}

    @hookimpl
    def roadcam_analyze(self, frame, tracks, signals):
        self._latest_frames[frame.camera] = frame
        return []

    @hookimpl(trylast=True)
    def roadcam_command(self, name, payload):
        """Answer the built-in commands; asked last, so a plugin may take one over."""
        handlers = {"run_diagnostics": self.run_diagnostics, "snapshot": self.snapshot,
                    "config_update": self.config_update}
        return handlers[name](payload) if name in handlers else None

    def run_diagnostics(self, args: dict[str, Any]) -> dict[str, Any]:
        """The appliance's health figures, measured now."""
        return {"ok": True, "health": self.appliance.health()}

    def snapshot(self, args: dict[str, Any]) -> dict[str, Any]:
        """Store the latest frame of ``args["camera"]`` as a JPEG in a ``snapshot`` event."""
        camera = args.get("camera")
        frame = self._latest_frames.get(camera)
        if frame is None:
            known = ", ".join(sorted(self._latest_frames)) or "none yet"
            return {"ok": False, "error": f"no frame from camera {camera!r}; cameras with frames: {known}"}
        encoded, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_JPEG_QUALITY])
        if not encoded:
            return {"ok": False, "error": f"the frame of camera {camera!r} could not be encoded as JPEG"}
        blob = EvidenceBlob("snapshot", jpeg.tobytes())
        events = self.appliance.submit([EventDraft("snapshot", {"camera": camera, "frame_index": frame.index},
                                                   frame.time_ns, evidence=(blob,))])
        if not events:
            return {"ok": False, "error": "the snapshot could not be stored (see the storage fault)"}
        return {"ok": True, "event": events[0].id, "seq": events[0].seq, "sha256": blob.sha256}

    def config_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Validate ``args["config"]`` (a whole site config), stage it atomically in
        ``uplink.staged_config_file``, then stop the appliance so that it restarts with it.

        It must keep this device's id and site. ``roadcam run`` exits with
        :data:`~roadcam.appliance.config_rollout.RESTART_EXIT_STATUS` while an update is staged (the
        systemd unit restarts on it); the next start promotes it on trial and rolls it back if
        the appliance does not then run for ``uplink.config_trial_s``
        (:mod:`roadcam.appliance.config_rollout`). The reply is queued before the uplink stops, and
        the ``command.result`` event carries it in any case."""
        data = args.get("config")
        if not isinstance(data, dict):
            return {"ok": False, "errors": ["args.config must be the whole site config, as a mapping"]}
        try:
            config, _ = site_from_data(data, source="config_update")
        except ConfigError as exc:
            return {"ok": False, "errors": exc.problems}
        problems = identity_problems(self.appliance.config, config)
        if problems:
            return {"ok": False, "errors": problems}
        path = self.config.staged_config_file
        try:
            write_atomically(path, yaml.safe_dump(data, sort_keys=False).encode())
        except OSError as exc:
            return {"ok": False, "errors": [f"cannot write {path}: {exc}"]}
        log.warning("config update staged in %s; stopping so that the appliance restarts with it", path)
        self.appliance.stop()
        return {"ok": True, "staged": str(path), "restart_required": True, "restarting": True,
                "trial_s": config.section("uplink").config_trial_s}
