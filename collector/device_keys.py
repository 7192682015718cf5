"""The device registry: which devices the collector trusts, with their keys and their sites.

A device is enrolled by putting two files into the registry folder (the collector's
``device_keys_dir``; :meth:`DeviceKeys.enroll` writes both):

- ``<device-id>.pem``: its Ed25519 public key, which authenticates its events;
- ``<device-id>.site``: the one site id it reports under (one line).

The site binds the device to its topics: the broker policy rendered from this registry
(:mod:`roadcam.collector.broker_policy`) lets the device write only under ``roadcam/v1/<site>/<device>/``,
and the collector refuses anything it sends under another site (reason ``site_mismatch``), so a
device, or a stolen device key, cannot report as if it stood somewhere else. A device enrolled
before sites were recorded has no ``.site`` file: it is *not bound* to a site (any site is taken
from it, as before); ``roadcam-collector broker-policy`` names such devices, so they can be bound.

The collector reads a device's files the first time it needs them and keeps them, so enrolling
needs no restart (replacing a key or moving a device to another site does). A device without a
key file is unknown and everything it sends is refused. Device ids come from MQTT topics, i.e.
from the network: only ids of the allowed shape are ever turned into a file name.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from roadcam.common.errors import ConfigError
from roadcam.protocol.signing import load_public_key, public_key_from_pem

#: The shape of a device id (as in the site config's ``device.id``).
DEVICE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
#: The shape of a site id recorded at enrolment (one MQTT topic level, no wildcards).
SITE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Enrolment:
    """One enrolled device: its public key and the site it is bound to (None: not bound)."""

    device: str
    key: Ed25519PublicKey
    site: str | None


class DeviceKeys:
    """The enrolled devices of a registry folder, each loaded on first use and then cached."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(f"device_keys_dir {self.folder} is not a folder: create it and put "
                              "one <device-id>.pem public key (and <device-id>.site) per enrolled "
                              "device in it")
        self._lock = threading.Lock()
        self._enrolments: dict[str, Enrolment] = {}

    def key(self, device: str) -> Ed25519PublicKey | None:
        """The device's public key; None when the device is not enrolled (or its id is not a
        valid device id). A key file that exists but is not an Ed25519 public key raises
        ConfigError naming the file."""
        enrolment = self.enrolment(device)
        return None if enrolment is None else enrolment.key

    def enrolment(self, device: str) -> Enrolment | None:
        """The device's enrolment; None when it is not enrolled (or its id is not a valid device
        id). ConfigError names a key or site file that exists but cannot be used."""
        if DEVICE_ID_PATTERN.match(device) is None:
            return None
        with self._lock:
            cached = self._enrolments.get(device)
            if cached is not None:
                return cached
            path = self.folder / f"{device}.pem"
            if not path.is_file():
                return None
            enrolment = Enrolment(device, load_public_key(path), self._read_site(device))
            self._enrolments[device] = enrolment
            return enrolment

    def enrolments(self) -> list[Enrolment]:
        """Every enrolled device of the folder, by device id (files of any other name are left
        alone)."""
        devices = sorted(path.stem for path in self.folder.glob("*.pem")
                         if DEVICE_ID_PATTERN.match(path.stem))
        return [enrolment for enrolment in map(self.enrolment, devices) if enrolment is not None]

    def enroll(self, device: str, site: str, public_key_pem: bytes) -> None:
        """Enrol ``device`` at ``site`` with its Ed25519 public key (PEM): the site file first,
        then the key, each written whole under a temporary name and renamed, so a reader never
        sees the key of a device without its site. Re-enrolling an already loaded device takes
        effect when the collector restarts."""
        if DEVICE_ID_PATTERN.match(device) is None:
            raise ConfigError(f"{device!r} is not a device id ({DEVICE_ID_PATTERN.pattern})")
        if SITE_ID_PATTERN.match(site) is None:
            raise ConfigError(f"{site!r} is not a site id ({SITE_ID_PATTERN.pattern})")
        public_key_from_pem(public_key_pem, f"{device}: the public key is not an Ed25519 public key (PEM)")
        _write_whole(self.folder / f"{device}.site", f"{site}\n".encode())
        _write_whole(self.folder / f"{device}.pem", public_key_pem)

    def _read_site(self, device: str) -> str | None:
        path = self.folder / f"{device}.site"
        try:
            site = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read the device's site ({error})") from error
        if SITE_ID_PATTERN.match(site) is None:
            raise ConfigError(f"{path}: {site[:80]!r} is not a site id ({SITE_ID_PATTERN.pattern})")
        return site


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` under a temporary name, then rename it into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
