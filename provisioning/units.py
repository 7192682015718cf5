"""Putting the systemd units in place on a Pi (``roadcam install-units``).

The units, the sysusers entry and the tmpfiles entry are package data of
``roadcam.provisioning`` (``provisioning/systemd/`` in the repository), so an installed roadcam
(``pip install roadcam[device]``, no checkout) carries them. The shipped units name
``/opt/roadcam/.venv/bin``; installing copies them under a root (``/`` on the Pi, a folder for
an image or a test), with ``ExecStart=`` pointing at the ``roadcam`` actually installed, then lets
systemd's own offline tools do the rest: ``systemd-sysusers`` creates the user and its groups,
``systemd-tmpfiles`` the state and config folders, ``systemctl enable`` the links. All three
take ``--root``, so an image is prepared exactly as a live box.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from roadcam.appliance.atomic_write import write_atomically
from roadcam.common.errors import ConfigError

#: Where the shipped units run roadcam from; replaced by the installed bin folder.
SHIPPED_BIN_DIR = "/opt/roadcam/.venv/bin"
#: The shipped units: this package's ``systemd/`` folder, wherever roadcam is installed.
SHIPPED_UNITS: Traversable = resources.files("roadcam.provisioning") / "systemd"
#: The unit that makes time-sync.target mean "the clock is synchronised" (roadcam.service
#: starts after it).
TIME_WAIT_SYNC = "systemd-time-wait-sync.service"
ROLES = ("device", "collector")


@dataclass
class Installation:
    """What :func:`install_units` did: files written, units enabled, the tools' own output."""

    root: Path
    files: list[Path] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


def role_units(units_dir: Traversable, role: str) -> list[Traversable]:
    """The unit files (``*.service``, ``*.timer``) of ``role``: the collector's are those named
    ``roadcam-collector*``, a device gets every other one."""
    if role not in ROLES:
        raise ConfigError(f"--role: {role!r} is not one of {', '.join(ROLES)}")
    units = sorted((entry for entry in units_dir.iterdir() if entry.name.endswith((".service", ".timer"))),
                   key=lambda entry: entry.name) if units_dir.is_dir() else []
    if not units:
        raise ConfigError(f"{units_dir}: no systemd units there; leave --units out to use the ones shipped "
                          f"with roadcam")
    return [unit for unit in units if unit.name.startswith("roadcam-collector") == (role == "collector")]


def render_unit(text: str, bin_dir: str) -> str:
    """The unit text with the shipped bin folder replaced by ``bin_dir``."""
    return text.replace(SHIPPED_BIN_DIR + "/", bin_dir.rstrip("/") + "/")


def install_units(root: Path, *, role: str = "device", bin_dir: str = SHIPPED_BIN_DIR,
                  units_dir: Traversable = SHIPPED_UNITS, apply: bool = True,
                  progress: Callable[[str], None] = lambda _: None) -> Installation:
    """Write the units of ``role`` into ``root``/etc/systemd/system, the sysusers and tmpfiles
    entries into ``root``/etc/sysusers.d and ``root``/etc/tmpfiles.d (each atomically); with
    ``apply``, create the users and folders and enable the units and their ``WantedBy`` targets
    (a device's also ``systemd-time-wait-sync.service`` when the root has it). ConfigError
    naming the step and the tool's message when one fails."""
    root = Path(root)
    installation = Installation(root)
    units = role_units(units_dir, role)
    for unit in units:
        installation.files.append(_write(root / "etc/systemd/system" / unit.name,
                                         render_unit(unit.read_text(encoding="utf-8"), bin_dir)))
    for source, folder in (("roadcam.sysusers.conf", "etc/sysusers.d"), ("roadcam.tmpfiles.conf", "etc/tmpfiles.d")):
        installation.files.append(_write(root / folder / "roadcam.conf", (units_dir / source).read_text("utf-8")))
    for path in installation.files:
        progress(f"wrote {path}")
    if not apply:
        return installation
    rooted = [] if root == Path("/") else [f"--root={root}"]
    _step(installation, progress, "create the users", ["systemd-sysusers", *rooted,
                                                      str(root / "etc/sysusers.d/roadcam.conf")])
    if role == "device":
        _step(installation, progress, "create the folders", ["systemd-tmpfiles", *rooted, "--create",
                                                            str(root / "etc/tmpfiles.d/roadcam.conf")])
    names = [unit.name for unit in units if _has_install_section(unit)]
    if role == "device" and _unit_exists(root, TIME_WAIT_SYNC):
        names.append(TIME_WAIT_SYNC)
    if root == Path("/") and Path("/run/systemd/system").is_dir():
        _step(installation, progress, "reload systemd", ["systemctl", "daemon-reload"])
    _step(installation, progress, "enable the units", ["systemctl", *rooted, "enable", *names])
    installation.enabled = names
    return installation


def _write(path: Path, text: str) -> Path:
    write_atomically(path, text.encode("utf-8"))
    path.chmod(0o644)
    return path


def _has_install_section(unit: Traversable) -> bool:
    return "[Install]" in unit.read_text(encoding="utf-8")


def _unit_exists(root: Path, name: str) -> bool:
    return any((root / folder / name).exists() for folder in ("etc/systemd/system", "usr/lib/systemd/system",
                                                              "lib/systemd/system"))


def _step(installation: Installation, progress: Callable[[str], None], doing: str, command: list[str]) -> None:
    """Run one systemd tool; a missing tool or a failure is a ConfigError saying which step."""
    if shutil.which(command[0]) is None:
        raise ConfigError(f"cannot {doing}: {command[0]} is not installed (is this a systemd system?); "
                          f"the files are written, rerun with --no-apply to skip this")
    progress(f"{doing}: {' '.join(command)}")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ConfigError(f"cannot {doing}: `{' '.join(command)}` failed ({result.returncode}): "
                          f"{(result.stderr or result.stdout).strip()}")
    installation.steps.append(" ".join(command))
