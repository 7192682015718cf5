"""Writing a changed site config without putting a config that runs at risk.

Used by ``roadcam provision`` and ``roadcam calibrate``, after the new config has been
validated:

- the box runs a valid config of the same device: the new config goes to that config's
  ``uplink.staged_config_file``, and the next start of the appliance promotes it *on trial*
  (:mod:`roadcam.appliance.config_rollout`): kept after ``uplink.config_trial_s``, rolled back to
  the previous one (``site.yaml.previous``) if it does not run that long;
- it runs a valid config of another device or site (a box moved or reused): the same, through
  ``site.yaml.provisioned``, the one waiting file whose identity may differ (the collector's
  updates never may);
- otherwise (first provisioning, a config that does not load): written in place, atomically,
  the old file kept as ``site.yaml.previous``; there is no config that ran to roll back to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from roadcam.appliance.atomic_write import write_atomically
from roadcam.appliance.config import CoreConfig
from roadcam.appliance.config_rollout import ConfigRollout
from roadcam.appliance.site import load_site
from roadcam.common.errors import ConfigError


@dataclass(frozen=True)
class RunningConfig:
    """A valid site config as it is on disk: its data and its validated form."""

    file: Path
    data: dict[str, Any]
    config: CoreConfig


def running_config(path: Path) -> RunningConfig | None:
    """The config at ``path`` when it exists and is valid, else None."""
    if not path.exists():
        return None
    try:
        config, _ = load_site(path)
    except ConfigError:
        return None
    return RunningConfig(path, yaml.safe_load(path.read_text(encoding="utf-8")), config)


def write_site(config_file: Path, running: RunningConfig | None, device: tuple[str, str], text: str,
               progress: Callable[[str], None]) -> tuple[str, Path]:
    """Write the new config ``text`` of ``device`` (id, site) as the module docstring says.
    Returns ("staged" or "written", the file written)."""
    if running is not None:
        identity = (running.config.device.id, running.config.device.site)
        # where its next start looks: the running config's staged file, or for another identity
        # the rollout's provisioned file
        staged = (running.config.section("uplink").staged_config_file if identity == device
                  else ConfigRollout(config_file).provisioned_file)
        write_atomically(staged, text.encode())
        progress(f"  staged as {staged}: the next start of the appliance runs it on trial and rolls "
                 f"back to {config_file} ({identity[0]} at {identity[1]}) if it does not run")
        return "staged", staged
    if config_file.exists():
        write_atomically(config_file.with_name(config_file.name + ".previous"), config_file.read_bytes())
    write_atomically(config_file, text.encode())
    progress(f"  written to {config_file}")
    return "written", config_file
