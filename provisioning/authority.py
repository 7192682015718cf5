"""The central office's half of enrolment: sign a device's request and trust the device.

    python -m roadcam.provisioning.authority sign REQUEST.json --ca-cert ca.crt --ca-key ca.key \\
        --registry DEVICE_KEYS_DIR --collector-key collector.pub --out RESPONSE.json
    python -m roadcam.provisioning.authority token DEVICE --site SITE --tokens tokens.json
    python -m roadcam.provisioning.authority serve --listen 0.0.0.0:8443 --cert server.crt \\
        --key server.key --tokens tokens.json --ca-cert ... --ca-key ... --registry ... --collector-key ...

run on the collector host (they need only the collector's libraries, no ``roadcam[device]``).
``sign`` answers a request file carried from the device; ``token`` issues a one-time enrolment
token for a device, and ``serve`` answers requests sent online with such a token
(:mod:`roadcam.provisioning.enrol_service`). Either way the request's CSR is checked
(self-signed, CN = the device id), the device's event-signing key is enrolled at its site in the
collector's registry (:class:`roadcam.collector.device_keys.DeviceKeys`, what
``roadcam-collector enroll`` does), and the TLS client certificate is issued from the CA. The
broker's access policy is rendered from the registry (``roadcam-collector broker-policy``), so
regenerate it after enrolling, as after ``roadcam-collector enroll``.
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
    parser = argparse.ArgumentParser(prog="python -m roadcam.provisioning.authority",
                                     description="Enrol devices: sign their requests, issue tokens, serve online.")
    commands = parser.add_subparsers(dest="command", required=True)
    sign = commands.add_parser("sign", help="answer a request file")
    sign.add_argument("request", type=Path, help="the device's request.json")
    sign.add_argument("--out", required=True, type=Path, help="where to write the response for the device")
    _signing_options(sign)
    sign.set_defaults(handler=_sign)
    token = commands.add_parser("token", help="issue a one-time enrolment token for a device")
    token.add_argument("device", help="the device id the token is for")
    token.add_argument("--site", required=True, help="the site the device is enrolled at")
    token.add_argument("--tokens", required=True, type=Path, help="the token file (hashes only)")
    token.add_argument("--days", type=float, default=7.0, help="how long the token is valid")
    token.set_defaults(handler=_token)
    serve = commands.add_parser("serve", help="answer requests sent online with a token (HTTPS)")
    serve.add_argument("--listen", default="0.0.0.0:8443", help="address:port (default %(default)s)")
    serve.add_argument("--cert", required=True, type=Path, help="the server certificate (signed by the CA)")
    serve.add_argument("--key", required=True, type=Path, help="its key")
    serve.add_argument("--tokens", required=True, type=Path, help="the token file")
    _signing_options(serve)
    serve.set_defaults(handler=_serve)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (RoadcamError, OSError, ValueError) as exc:
        print(f"roadcam enrolment: {exc}", file=sys.stderr)
        return 2


def _signing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ca-cert", required=True, type=Path, help="the CA certificate (PEM)")
    parser.add_argument("--ca-key", required=True, type=Path, help="the CA's private key (PEM)")
    parser.add_argument("--registry", required=True, type=Path, help="the collector's device_keys_dir")
    parser.add_argument("--collector-key", required=True, type=Path, help="the collector's public signing key")
    parser.add_argument("--days", type=int, default=CERTIFICATE_DAYS, help="certificate validity in days")


def _signer(args):
    """``sign(request, source)`` with the CA, registry and collector key of ``args``."""
    ca_certificate = x509.load_pem_x509_certificate(args.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(args.ca_key.read_bytes(), password=None)
    registry = DeviceKeys(args.registry)
    collector_key_pem = args.collector_key.read_bytes()
    return lambda request, source: sign_request(request, ca_certificate=ca_certificate, ca_key=ca_key,
                                                registry=registry, collector_key_pem=collector_key_pem,
                                                days=args.days, source=source)


def _sign(args) -> int:
    import json

    response = _signer(args)(read_json(args.request, "request"), str(args.request))
    args.out.write_text(json.dumps(response, indent=2))
    print(f"enrolled {response['device']} at {response['site']}; give {args.out} to the device "
          f"(roadcam provision --response {args.out}) and regenerate the broker policy")
    return 0


def _token(args) -> int:
    from .enrol_service import TokenBook

    token = TokenBook(args.tokens).issue(args.device, args.site, args.days)
    print(token)
    print(f"one enrolment of {args.device} at {args.site} within {args.days:g} days: "
          f"roadcam provision ... --enrol-url https://THIS-HOST:8443 --enrol-token {token}", file=sys.stderr)
    return 0


def _serve(args) -> int:
    from .enrol_service import TokenBook, make_server

    host, _, port = args.listen.rpartition(":")
    sign = _signer(args)

    def sign_and_log(request):
        response = sign(request, "the online request")
        print(f"enrolled {response['device']} at {response['site']}; regenerate the broker policy", flush=True)
        return response

    server = make_server((host, int(port)), cert_file=args.cert, key_file=args.key, tokens=TokenBook(args.tokens),
                         sign=sign_and_log)
    print(f"enrolment service on https://{args.listen}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
