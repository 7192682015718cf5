"""Applying a config update: promote the staged file, try it, then keep it or roll it back.

The files sit beside the site config ``FILE`` of ``roadcam run --config FILE``:

    FILE             the config the appliance runs on
    FILE.previous    the config it ran on before the last promotion (what a rollback restores)
    FILE.trial       the trial marker, JSON: present from just before FILE is replaced until the
                     new config has run for ``uplink.config_trial_s``; holds why the trial failed
                     when the process could still tell
    FILE.provisioned a config the technician wrote on the box for another identity (``roadcam
                     provision`` over a running config of another device or site), waiting for
                     the next start
    uplink.staged_config_file   a validated ``config_update`` waiting for the next start

At start (:func:`prepare_site`) a marker left over means the last trial never ended (crash, kill,
watchdog, power loss, failed start), so FILE.previous is put back first. Then FILE.provisioned,
else the staged file, is checked: a good one is promoted, a bad one (unreadable YAML, invalid, a
staged update for another device) is moved aside as ``.rejected`` and the running config stays.
Only FILE.provisioned may change the device id or site: it is written on the box by root (the
collector's ``config_update`` never may). Promotion writes FILE.previous, then the
marker, then FILE, each temp → fsync → rename → folder fsync, so a crash at any point leaves a
complete config, and a marker whenever FILE may hold the untried one. The running appliance
(:class:`ConfigTrial`) commits the trial once it has run for the trial time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from roadcam.common.errors import ConfigError

from .atomic_write import fsync_folder, write_atomically
from .config import CoreConfig
from .events import EventDraft
from .hookspecs import hookimpl
from .site import load_site

log = logging.getLogger("roadcam.config")

#: Exit status of ``roadcam run`` when it stopped with a config update waiting (EX_TEMPFAIL);
#: the systemd unit restarts on it, and the next start promotes the update.
RESTART_EXIT_STATUS = 75


def identity_problems(running: CoreConfig, new: CoreConfig) -> list[str]:
    """Why ``new`` may not replace ``running`` on this box: it must keep the device id and site."""
    if (new.device.id, new.device.site) == (running.device.id, running.device.site):
        return []
    return [f"device: the new config is for {new.device.id} at {new.device.site}, "
            f"this is {running.device.id} at {running.device.site}"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _remove_durably(path: Path) -> None:
    """Delete ``path`` (if there) and fsync its folder, so the deletion survives a power cut."""
    path.unlink(missing_ok=True)
    fsync_folder(path.parent)


@dataclass(frozen=True)
class Notice:
    """Something the rollout did before the store was open: stored as an event of ``type`` once
    it is, and raised as a fault of the same code when ``fault_message`` is set."""

    type: str
    data: dict[str, Any]
    fault_message: str | None = None


class ConfigRollout:
    """The rollout files of one site config. Every method is durable when it returns; an
    OSError becomes a ConfigError naming the file and what the roadcam user needs."""

    def __init__(self, config_file: Path):
        self.config_file = Path(config_file)
        self.previous_file = self.config_file.with_name(self.config_file.name + ".previous")
        self.marker_file = self.config_file.with_name(self.config_file.name + ".trial")
        self.provisioned_file = self.config_file.with_name(self.config_file.name + ".provisioned")

    def promote(self, staged_file: Path, trial_s: float) -> dict[str, Any]:
        """Make the staged config the running one, on trial. Returns the marker's content."""
        staged_file = Path(staged_file)
        with self._file_errors("promote the staged config"):
            running, staged = self.config_file.read_bytes(), staged_file.read_bytes()
            trial = {"sha256": _sha256(staged), "previous_sha256": _sha256(running),
                     "staged_file": str(staged_file), "trial_s": trial_s, "failure": None}
            write_atomically(self.previous_file, running)
            write_atomically(self.marker_file, json.dumps(trial).encode())
            write_atomically(self.config_file, staged)
            _remove_durably(staged_file)
        log.warning("config update %s promoted to %s, on trial for %g s (the previous config is kept in %s)",
                    trial["sha256"][:12], self.config_file, trial_s, self.previous_file)
        return trial

    def commit(self) -> None:
        """The promoted config ran for its trial time: keep it (remove the marker)."""
        with self._file_errors("end the config trial"):
            _remove_durably(self.marker_file)

    def record_failure(self, reason: str) -> None:
        """Write into the marker why the trial failed, for the rollback at the next start."""
        with self._file_errors("record why the config trial failed"):
            write_atomically(self.marker_file, json.dumps({**self._read_marker(), "failure": reason}).encode())

    def recover(self) -> Notice | None:
        """When a trial never ended, restore FILE.previous and drop the staged copy of the
        failed config; returns the ``config.rolled_back`` notice (None when there was no trial)."""
        if not self.marker_file.exists():
            return None
        trial = self._read_marker()
        if not self.previous_file.exists():
            raise ConfigError(f"{self.marker_file}: a config trial did not end, but {self.previous_file} "
                              f"is missing, so the config before it cannot be restored; check "
                              f"{self.config_file} with `roadcam config check`, then delete {self.marker_file}")
        with self._file_errors("roll the config back"):
            tried = self.config_file.read_bytes() if self.config_file.exists() else b""
            previous = self.previous_file.read_bytes()
            write_atomically(self.config_file, previous)
            self._drop_staged_copy(trial)
            _remove_durably(self.marker_file)
        reason = trial.get("failure") or self._unexplained_failure(trial, _sha256(tried))
        tried_name = str(trial.get("sha256"))[:12]
        log.error("config update %s rolled back, %s restored from %s: %s",
                  tried_name, self.config_file, self.previous_file, reason)
        data = {"file": str(self.config_file), "reason": reason, "rejected_sha256": trial.get("sha256"),
                "restored_sha256": _sha256(previous)}
        return Notice("config.rolled_back", data,
                      f"{self.config_file}: the config update {tried_name} was rolled back to the previous "
                      f"config: {reason}")

    @staticmethod
    def _drop_staged_copy(trial: dict[str, Any]) -> None:
        """Delete the staged file when it still holds the failed config (a kill before promotion
        removed it), so that the next start does not try it again."""
        staged_file = Path(trial["staged_file"]) if trial.get("staged_file") else None
        if staged_file is None or not staged_file.exists():
            return
        if _sha256(staged_file.read_bytes()) == trial.get("sha256"):
            _remove_durably(staged_file)

    def reject(self, staged_file: Path, problems: list[str]) -> Notice:
        """Move a staged config that must not run aside (``….rejected``); the running one stays.
        Returns the ``config.rejected`` notice."""
        staged_file = Path(staged_file)
        rejected_file = staged_file.with_name(staged_file.name + ".rejected")
        with self._file_errors("set the rejected config update aside"):
            os.replace(staged_file, rejected_file)
            fsync_folder(staged_file.parent)
        log.error("config update %s rejected (moved to %s), still running %s: %s",
                  staged_file, rejected_file, self.config_file, "; ".join(problems))
        return Notice("config.rejected", {"staged": str(staged_file), "moved_to": str(rejected_file),
                                          "problems": problems},
                      f"{staged_file}: the config update was rejected and moved to {rejected_file}: {problems[0]}")

    def _read_marker(self) -> dict[str, Any]:
        """The marker's content; {} when it cannot be read (the rollback still happens)."""
        try:
            trial = json.loads(self.marker_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return trial if isinstance(trial, dict) else {}

    @staticmethod
    def _unexplained_failure(trial: dict[str, Any], tried_sha256: str) -> str:
        if tried_sha256 != trial.get("sha256"):
            return "the promotion was interrupted before the new config was in place"
        trial_s = trial.get("trial_s")
        length = f"{trial_s:g} s" if isinstance(trial_s, (int, float)) else "its trial time"
        return f"the appliance did not run {length} with it (it crashed, was killed, hung or lost power)"

    @contextmanager
    def _file_errors(self, doing: str) -> Iterator[None]:
        """Turn an OSError into a ConfigError saying what the rollout was doing and where."""
        try:
            yield
        except OSError as exc:
            raise ConfigError(f"cannot {doing}: {exc}; the roadcam user must be able to write "
                              f"{self.config_file.parent} and the staged config's folder") from exc


class ConfigTrial:
    """Plugin of ``roadcam run``: stores the rollout's notices once the store is open and, with
    a config on trial, commits it once the appliance has run ``trial_s`` seconds (counted from
    ``roadcam_configure``); stopping or failing earlier records why, for the next start."""

    def __init__(self, rollout: ConfigRollout, notices: list[Notice], trial: dict[str, Any] | None):
        self._rollout = rollout
        self._notices = notices
        self._trial = trial
        self._lock = threading.Lock()
        self._undecided = trial is not None
        self._timer: threading.Timer | None = None
        self._started_s: float | None = None

    @hookimpl
    def roadcam_configure(self, appliance):
        now_ns = appliance.clock.wall_ns()
        for notice in self._notices:
            appliance.submit([EventDraft(notice.type, notice.data, now_ns)])
            if notice.fault_message:
                appliance.raise_fault(notice.type, "config", notice.fault_message)
        if self._trial is not None:
            self._started_s = time.monotonic()
            self._timer = threading.Timer(self._trial["trial_s"], self._commit, args=(appliance,))
            self._timer.daemon = True
            self._timer.start()

    @hookimpl
    def roadcam_unconfigure(self, appliance):
        if self._trial is not None:
            ran_s = time.monotonic() - self._started_s
            self.fail(f"the appliance stopped after {ran_s:.1f} s, before its {self._trial['trial_s']:g} s trial ended")

    def fail(self, reason: str) -> None:
        """The appliance stopped or failed before the trial ended: record ``reason`` in the
        marker (the next start rolls back). No-op without a trial or once it is decided."""
        with self._lock:
            if not self._undecided:
                return
            self._undecided = False
            if self._timer is not None:
                self._timer.cancel()
            try:
                self._rollout.record_failure(reason)
            except ConfigError as exc:
                log.error("%s (the next start rolls back all the same)", exc)
        log.error("config trial failed, the next start rolls back to %s: %s", self._rollout.previous_file, reason)

    def _commit(self, appliance) -> None:
        with self._lock:
            if not self._undecided:
                return
            self._undecided = False
            try:
                self._rollout.commit()
            except ConfigError as exc:
                appliance.raise_fault("config.trial", "config", f"{exc}; the next start will roll back a good config")
                return
            log.info("config %s kept after running %g s", self._trial["sha256"][:12], self._trial["trial_s"])
            data = {"file": str(self._rollout.config_file), "sha256": self._trial["sha256"],
                    "previous_sha256": self._trial["previous_sha256"], "trial_s": self._trial["trial_s"]}
            # under the lock: shutdown's roadcam_unconfigure waits, so the store is still open
            appliance.submit([EventDraft("config.applied", data, appliance.clock.wall_ns())])


@dataclass
class SiteStart:
    """What ``roadcam run`` starts with: the site (its manager already holds ``trial``)."""

    config: CoreConfig
    manager: pluggy.PluginManager
    trial: ConfigTrial

    def update_waiting(self) -> bool:
        """A config update is staged: a restart would apply it."""
        return self.config.section("uplink").staged_config_file.exists()


def prepare_site(config_file: Path) -> SiteStart:
    """Roll back an unfinished trial, promote (or reject) a provisioned config or else a staged
    update, then load the site.
    Raises ConfigError like :func:`load_site`; a promoted config that fails to load records the
    failure, so the next start rolls it back."""
    rollout = ConfigRollout(config_file)
    notices = [notice for notice in [rollout.recover()] if notice is not None]
    config, manager = load_site(rollout.config_file)
    trial = None
    for waiting, may_change_identity in ((rollout.provisioned_file, True),
                                         (config.section("uplink").staged_config_file, False)):
        if trial is not None or not waiting.exists():
            continue
        try:
            update, _ = load_site(waiting)
            problems = [] if may_change_identity else identity_problems(config, update)
        except ConfigError as exc:
            problems = exc.problems
        if problems:
            notices.append(rollout.reject(waiting, problems))
            continue
        trial = rollout.promote(waiting, update.section("uplink").config_trial_s)
        try:
            config, manager = load_site(rollout.config_file)
        except ConfigError as exc:
            rollout.record_failure(f"the promoted config did not load: {exc}")
            raise
    plugin = ConfigTrial(rollout, notices, trial)
    manager.register(plugin, name="config.rollout")
    return SiteStart(config, manager, plugin)
