"""The devices the collector trusts: one Ed25519 public key per device, in a folder.

A device is enrolled by dropping ``<device-id>.pem`` into the folder; the collector reads a key
the first time it needs it, so enrolling needs no restart. A device without a key file is
unknown and everything it sends is refused. Device ids come from MQTT topics, i.e. from the
network: only ids of the shape the site config allows are ever turned into a file name.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.errors import ConfigError
from appliance.signing import load_public_key

#: The shape of a device id (as in the site config's ``device.id``).
DEVICE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class DeviceKeys:
    """Public keys of enrolled devices, loaded on first use and then cached."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(f"device_keys_dir {self.folder} is not a folder: create it and put "
                              "one <device-id>.pem public key per enrolled device in it")
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] = {}

    def key(self, device: str) -> Ed25519PublicKey | None:
        """The device's public key; None when the device is not enrolled (or its id is not a
        valid device id). A key file that exists but is not an Ed25519 public key raises
        ConfigError naming the file."""
        if DEVICE_ID_PATTERN.match(device) is None:
            return None
        with self._lock:
            cached = self._keys.get(device)
            if cached is not None:
                return cached
            path = self.folder / f"{device}.pem"
            if not path.is_file():
                return None
            key = load_public_key(path)
            self._keys[device] = key
            return key
