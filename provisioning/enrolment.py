"""The device's half of certificate enrolment: its keys, its request, and the signed answer.

The device makes its own keys and they never leave it: an ECDSA P-256 key for its TLS client
certificate and an Ed25519 key that signs its events. What leaves is a *request* (JSON): the
device id, site and location, a certificate signing request (CSR) whose CN is the device id, and
the signing key's public half. The central office answers with a *response* (JSON): the
certificate, the CA certificate the broker's is signed by, and the collector's public key that
commands are signed with (:mod:`roadcam.provisioning.authority` makes it). Request and response
travel as files (a USB stick, a mail) when the site has no link yet.

The files live in one folder (``/etc/roadcam/keys`` on a Pi, root:roadcam 0750), private keys
mode 0640 (the appliance reads them, only root writes them)::

    tls.key  signing.key          made here, never sent
    request.json                  the request (also kept, to show what was sent)
    tls.crt  ca.crt  collector.pub   from the response, once it is checked
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from roadcam.appliance.atomic_write import fsync_folder, write_atomically
from roadcam.common.errors import ConfigError
from roadcam.protocol.signing import load_private_key, public_key_from_pem

REQUEST_VERSION = 1
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class DeviceFiles:
    """The paths of the enrolment folder (see the module docstring)."""

    folder: Path

    @property
    def tls_key(self) -> Path:
        return self.folder / "tls.key"

    @property
    def signing_key(self) -> Path:
        return self.folder / "signing.key"

    @property
    def request(self) -> Path:
        return self.folder / "request.json"

    @property
    def certificate(self) -> Path:
        return self.folder / "tls.crt"

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def collector_key(self) -> Path:
        return self.folder / "collector.pub"

    def enrolled(self) -> bool:
        return all(path.is_file() for path in (self.tls_key, self.signing_key, self.certificate, self.ca,
                                               self.collector_key))


def make_request(files: DeviceFiles, device: str, site: str,
                 location: dict[str, Any] | None = None) -> dict[str, Any]:
    """The enrolment request of ``device`` at ``site``, written to ``files.request``. Makes the
    two keys when the folder has none; keys already there are kept (asking again after a lost
    response does not change the device's identity)."""
    if not files.tls_key.exists():
        _write_private(files.tls_key, ec.generate_private_key(ec.SECP256R1()))
    if not files.signing_key.exists():
        _write_private(files.signing_key, Ed25519PrivateKey.generate())
    tls_key = serialization.load_pem_private_key(files.tls_key.read_bytes(), password=None)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device)]))
           .sign(tls_key, hashes.SHA256()))
    signing_public = load_private_key(files.signing_key).public_key()
    request = {"version": REQUEST_VERSION, "device": device, "site": site, "location": location,
               "csr": csr.public_bytes(_PEM).decode(),
               "signing_key": signing_public.public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
               .decode()}
    write_atomically(files.request, json.dumps(request, indent=2).encode())
    return request


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A request or response file; ConfigError naming the file when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not an enrolment {what} (JSON): {exc}") from None
    if not isinstance(data, dict) or data.get("version") != REQUEST_VERSION:
        raise ConfigError(f"{path}: not an enrolment {what} of version {REQUEST_VERSION}")
    return data


def install_response(files: DeviceFiles, response: dict[str, Any], device: str, source: str,
                     into: DeviceFiles | None = None) -> x509.Certificate:
    """Check the central office's answer and keep its files (in ``into``'s folder when given:
    a pending folder, adopted with :func:`adopt` once the broker took them): the certificate
    must be for ``device`` and for this device's TLS key, and signed by the CA it came with; the
    collector key must be an Ed25519 public key. ConfigError saying what is wrong and what to do."""
    try:
        certificate = x509.load_pem_x509_certificate(str(response.get("certificate", "")).encode())
        ca = x509.load_pem_x509_certificate(str(response.get("ca", "")).encode())
    except ValueError as exc:
        raise ConfigError(f"{source}: the certificate or the CA in the response is not PEM: {exc}") from None
    public_key_from_pem(str(response.get("collector_key", "")).encode(),
                        f"{source}: collector_key is not an Ed25519 public key (PEM)")
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [name.value for name in names] != [device]:
        raise ConfigError(f"{source}: the certificate is for {names[0].value if names else 'nobody'!r}, this "
                          f"device is {device!r}: use the response made for this device's request")
    tls_key = serialization.load_pem_private_key(files.tls_key.read_bytes(), password=None)
    if _public_der(certificate.public_key()) != _public_der(tls_key.public_key()):
        raise ConfigError(f"{source}: the certificate is not for this device's key {files.tls_key} (a response "
                          f"to an older request?): send {files.request} again and use its response")
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ConfigError(f"{source}: the certificate is not signed by the CA in the response "
                          f"({ca.subject.rfc4514_string()}): ask the central office for a consistent "
                          f"response") from None
    into = into or files
    write_atomically(into.certificate, certificate.public_bytes(_PEM))
    write_atomically(into.ca, ca.public_bytes(_PEM))
    write_atomically(into.collector_key, str(response["collector_key"]).encode())
    return certificate


def adopt(pending: DeviceFiles, files: DeviceFiles) -> None:
    """Move the received files of ``pending`` over those of ``files`` (each by an atomic
    rename) and remove the pending folder."""
    for name in ("certificate", "ca", "collector_key"):
        os.replace(getattr(pending, name), getattr(files, name))
    fsync_folder(files.folder)
    pending.folder.rmdir()


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _write_private(path: Path, key) -> None:
    """Write a private key readable by its owner and the folder's group only (the roadcam group
    on a Pi, ``roadcam.tmpfiles.conf``: the appliance reads the keys, only root replaces them),
    never readable by others, not even while it is written."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True)
        path.parent.chmod(0o750)
    previous = os.umask(0o077)
    try:
        write_atomically(path, key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    finally:
        os.umask(previous)
    os.chown(path, -1, path.parent.stat().st_gid)
    path.chmod(0o640)
