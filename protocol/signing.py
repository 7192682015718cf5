"""Ed25519 signatures for events, commands and hotlists.

A device signs each event's canonical JSON (without ``sig``) with its own key; the collector
verifies with the device's public key. The collector signs commands and hotlists; a device
verifies them with the collector's public key from its config. Signatures travel as base64.

Key files are read through :func:`read_pem`, which the config check uses too, so a wrong file
is reported the same way by ``roadcam config check`` and at start.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from roadcam.common.errors import ConfigError

#: Largest file taken for a PEM key or certificate (bundle); a config naming a disk image or
#: a device such as /dev/zero gets an error, not an endless read.
MAX_PEM_BYTES = 1024 * 1024


def read_pem(path: Path) -> bytes:
    """The bytes of a PEM file; ConfigError naming the file when it cannot be read or is far
    too large for a key or certificate."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PEM_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_PEM_BYTES} bytes: not a PEM key or certificate")
    return data


def pem_problem(exc: Exception) -> str:
    """cryptography's reason for refusing a PEM file, first sentence only (the rest is advice
    and ASN.1 detail)."""
    return str(exc).split(". ")[0].rstrip(".")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file; ConfigError naming the file when it is not one."""
    data = read_pem(path)
    what = f"{path} is not an Ed25519 private key (PEM)"
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{what}: {pem_problem(exc)}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{what}: it holds a key of type {type(key).__name__}")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file; ConfigError naming the file when it is not one."""
    return public_key_from_pem(read_pem(path), f"{path} is not an Ed25519 public key (PEM)")


def public_key_from_pem(data: bytes, what: str) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM ``data``; ConfigError starting with ``what`` when it is not one."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{what}: {pem_problem(exc)}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{what}: it holds a key of type {type(key).__name__}")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Base64 signature of ``message``."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify(key: Ed25519PublicKey, message: bytes, signature: str | None) -> bool:
    """True when ``signature`` (base64) is ``key``'s signature of ``message``."""
    if not signature:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
