"""A test PKI for the broker, the devices and the collectors (never for production keys).

``python -m roadcam.collector.pki OUT_DIR --device tn-0001@site-a --device tn-0002 --collector collector-1``
writes::

    ca.crt ca.key                 the test CA
    server.crt server.key         the broker, valid for 127.0.0.1, ::1 and localhost
    crl.pem                       the CA's revocation list (the --revoked devices are on it)
    clients/<cn>.crt .key         client certificates: devices (CN = device id), collectors
    other-ca/ca.crt               a second, unrelated CA ...
    other-ca/clients/<cn>.crt .key  ... and a certificate from it for each device
    signing/<name>.key            Ed25519 signing keys: devices and the collector (private)
    device-keys/<device>.pem      the devices' public keys (the collector's device_keys_dir) ...
    device-keys/<device>.site     ... and the site of each device given one (``ID@SITE``)
    signing/collector.pub         the collector's public key (for the devices' config)

Certificates use ECDSA P-256 and are valid for 30 days.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .device_keys import DeviceKeys

_VALIDITY = datetime.timedelta(days=30)
_PEM = serialization.Encoding.PEM
COLLECTOR_SIGNING_NAME = "collector"


@dataclass(frozen=True)
class Authority:
    """A CA's key and certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True)
class TestPki:
    """Paths of a written test PKI (see the module docstring for the layout)."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def crl(self) -> Path:
        return self.root / "crl.pem"

    @property
    def device_keys_dir(self) -> Path:
        return self.root / "device-keys"

    @property
    def collector_signing_key(self) -> Path:
        return self.signing_key(COLLECTOR_SIGNING_NAME)

    @property
    def collector_public_key(self) -> Path:
        return self.root / "signing" / f"{COLLECTOR_SIGNING_NAME}.pub"

    def client(self, common_name: str, *, other_ca: bool = False) -> tuple[Path, Path]:
        """(certificate, key) of a client certificate."""
        folder = self.root / ("other-ca/clients" if other_ca else "clients")
        return folder / f"{common_name}.crt", folder / f"{common_name}.key"

    def signing_key(self, name: str) -> Path:
        return self.root / "signing" / f"{name}.key"


def make_authority(common_name: str) -> Authority:
    """A self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (_builder(name, name, key.public_key())
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                            crl_sign=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True))
    return Authority(key, builder.sign(key, hashes.SHA256()))


def issue(authority: Authority, common_name: str, *, server: bool = False
          ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A key and a certificate signed by ``authority``: a client certificate, or with
    ``server`` one for 127.0.0.1, ::1 and ``common_name`` as a host name."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(subject, authority.certificate.subject, key.public_key())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName(common_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
    return key, builder.sign(authority.key, hashes.SHA256())


def revocation_list(authority: Authority, revoked: list[x509.Certificate]) -> x509.CertificateRevocationList:
    """The authority's CRL listing ``revoked``."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(authority.certificate.subject)
               .last_update(now - datetime.timedelta(minutes=5)).next_update(now + _VALIDITY))
    for certificate in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(certificate.serial_number)
            .revocation_date(now - datetime.timedelta(minutes=5)).build())
    return builder.sign(authority.key, hashes.SHA256())


def write_test_pki(root: Path, *, devices: list[str], collectors: list[str],
                   revoked_devices: list[str] = (), sites: Mapping[str, str] | None = None) -> TestPki:
    """Write the whole test PKI under ``root`` (see the module docstring). ``sites`` binds
    devices to their site in the registry (:mod:`roadcam.collector.device_keys`); a device not in it is
    enrolled without a site."""
    pki = TestPki(Path(root))
    for folder in ("clients", "other-ca/clients", "signing", "device-keys"):
        (pki.root / folder).mkdir(parents=True, exist_ok=True)
    authority = make_authority("roadcam test CA")
    other = make_authority("unrelated test CA")
    _write_certificate(pki.ca, authority.certificate)
    _write_key(pki.root / "ca.key", authority.key)
    _write_certificate(pki.root / "other-ca/ca.crt", other.certificate)
    _write_pair(pki.server_cert, pki.server_key, *issue(authority, "localhost", server=True))
    revoked = []
    for name in [*devices, *revoked_devices, *collectors]:
        key, certificate = issue(authority, name)
        _write_pair(*pki.client(name), key, certificate)
        if name in revoked_devices:
            revoked.append(certificate)
    for name in devices:
        _write_pair(*pki.client(name, other_ca=True), *issue(other, name))
    for name in [*devices, *revoked_devices]:
        _write_signing_key(pki.signing_key(name), pki.device_keys_dir / f"{name}.pem")
    registry = DeviceKeys(pki.device_keys_dir)
    for name, site in (sites or {}).items():
        registry.enroll(name, site, (pki.device_keys_dir / f"{name}.pem").read_bytes())
    _write_signing_key(pki.collector_signing_key, pki.collector_public_key)
    pki.crl.write_bytes(revocation_list(authority, revoked).public_bytes(_PEM))
    return pki


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _VALIDITY))


def _write_certificate(path: Path, certificate: x509.Certificate) -> None:
    path.write_bytes(certificate.public_bytes(_PEM))


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_pair(certificate_path: Path, key_path: Path, key, certificate: x509.Certificate) -> None:
    _write_certificate(certificate_path, certificate)
    _write_key(key_path, key)


def _write_signing_key(private_path: Path, public_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    _write_key(private_path, key)
    public_path.write_bytes(key.public_key().public_bytes(
        _PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roadcam.collector.pki",
                                     description="Write a test PKI (never for production).")
    parser.add_argument("out", type=Path, help="folder to write into")
    parser.add_argument("--device", action="append", default=[],
                        help="device id, or ID@SITE to enrol it at SITE (repeatable)")
    parser.add_argument("--revoked-device", action="append", default=[],
                        help="device id whose certificate is revoked (repeatable)")
    parser.add_argument("--collector", action="append", default=[], help="collector CN (repeatable)")
    args = parser.parse_args(argv)
    devices = [device.partition("@") for device in args.device]
    pki = write_test_pki(args.out, devices=[device for device, _, _ in devices],
                         collectors=args.collector or ["collector-1"], revoked_devices=args.revoked_device,
                         sites={device: site for device, _, site in devices if site})
    print(f"test PKI written to {pki.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
