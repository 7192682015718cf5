"""The central office's half of enrolment: sign a device's request and trust the device.

    python -m roadcam.provisioning.authority REQUEST.json --ca-cert ca.crt --ca-key ca.key \\
        --registry DEVICE_KEYS_DIR --collector-key collector.pub --out RESPONSE.json

runs on the collector host (it needs only the collector's libraries, no ``roadcam[device]``):
it checks the request's CSR (self-signed, CN = the device id), enrols the device's event-signing
key at its site in the collector's registry (:class:`roadcam.collector.device_keys.DeviceKeys`,
what ``roadcam-collector enroll`` does), and issues the TLS client certificate from the CA. The
response (:mod:`roadcam.provisioning.enrolment`) goes back to the device. The broker's access
policy is rendered from the registry (``roadcam-collector broker-policy``), so regenerate it
after enrolling, as after ``roadcam-collector enroll``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from roadcam.collector.device_keys import DeviceKeys
from roadcam.common.errors import ConfigError, RoadcamError

from .enrolment import REQUEST_VERSION, read_json

#: How long a device certificate is valid; renewal is a new request with the same keys.
CERTIFICATE_DAYS = 825
_PEM = serialization.Encoding.PEM


def sign_request(request: dict[str, Any], *, ca_certificate: x509.Certificate, ca_key, registry: DeviceKeys,
                 collector_key_pem: bytes, days: int = CERTIFICATE_DAYS, source: str = "request") -> dict[str, Any]:
    """Enrol the requesting device and answer with its certificate. ConfigError naming what is
    wrong with the request (before anything is enrolled)."""
    device, site = str(request.get("device", "")), str(request.get("site", ""))
    try:
        csr = x509.load_pem_x509_csr(str(request.get("csr", "")).encode())
    except ValueError as exc:
        raise ConfigError(f"{source}: csr is not a PEM certificate signing request: {exc}") from None
    if not csr.is_signature_valid:
        raise ConfigError(f"{source}: the CSR's signature does not match its key (damaged request)")
    names = [name.value for name in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [device]:
        raise ConfigError(f"{source}: the CSR is for {names!r}, the request for device {device!r}")
    registry.enroll(device, site, str(request.get("signing_key", "")).encode())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_certificate.subject)
                   .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    return {"version": REQUEST_VERSION, "device": device, "site": site,
            "certificate": certificate.public_bytes(_PEM).decode(),
            "ca": ca_certificate.public_bytes(_PEM).decode(), "collector_key": collector_key_pem.decode()}


def main(argv: list[str] | None = None) -> int:
    import json

    parser = argparse.ArgumentParser(prog="python -m roadcam.provisioning.authority",
                                     description="Sign a device's enrolment request and enrol the device.")
    parser.add_argument("request", type=Path, help="the device's request.json")
    parser.add_argument("--ca-cert", required=True, type=Path, help="the CA certificate (PEM)")
    parser.add_argument("--ca-key", required=True, type=Path, help="the CA's private key (PEM)")
    parser.add_argument("--registry", required=True, type=Path, help="the collector's device_keys_dir")
    parser.add_argument("--collector-key", required=True, type=Path, help="the collector's public signing key")
    parser.add_argument("--days", type=int, default=CERTIFICATE_DAYS, help="certificate validity in days")
    parser.add_argument("--out", required=True, type=Path, help="where to write the response for the device")
    args = parser.parse_args(argv)
    try:
        request = read_json(args.request, "request")
        ca_certificate = x509.load_pem_x509_certificate(args.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(args.ca_key.read_bytes(), password=None)
        response = sign_request(request, ca_certificate=ca_certificate, ca_key=ca_key,
                                registry=DeviceKeys(args.registry), collector_key_pem=args.collector_key.read_bytes(),
                                days=args.days, source=str(args.request))
    except (RoadcamError, OSError, ValueError) as exc:
        print(f"roadcam enrolment: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(response, indent=2))
    print(f"enrolled {response['device']} at {response['site']}; give {args.out} to the device "
          f"(roadcam provision --response {args.out}) and regenerate the broker policy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
