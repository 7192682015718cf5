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
renders it again after enrolling for a cold start; given ``--broker HOST:PORT`` (the running
broker), ``sign`` and ``serve`` also apply each enrolment to it live before the certificate is
issued (:mod:`roadcam.collector.broker_admin`, as ``broker-admin`` with a certificate from the
CA valid for a few minutes), so the device connects at once, with no broker restart.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from roadcam.collector.broker_admin import ADMIN_CLIENT, BrokerAdmin
from roadcam.collector.broker_policy import base_policy, check_device_name
from roadcam.collector.device_keys import DeviceKeys
from roadcam.common.errors import ConfigError, RoadcamError

from .enrolment import REQUEST_VERSION, read_json

#: How long a device certificate is valid; renewal is a new request with the same keys.
CERTIFICATE_DAYS = 825
#: How long the broker-admin certificate made for one live enrolment is valid.
ADMIN_CERTIFICATE_MINUTES = 10
_PEM = serialization.Encoding.PEM


def sign_request(request: dict[str, Any], *, ca_certificate: x509.Certificate, ca_key, registry: DeviceKeys,
                 collector_key_pem: bytes, days: int = CERTIFICATE_DAYS, source: str = "request",
                 apply_live: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """Enrol the requesting device and answer with its certificate. ConfigError naming what is
    wrong with the request (before anything is enrolled). ``apply_live(device, site)`` (see
    :func:`live_enrolment`) adds the device to the running broker before the certificate is
    issued; when it fails the device stays in the registry (a cold start of the broker lets it
    in) and the error says so."""
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
    check_device_name(device, base_policy())  # never a certificate in a collector's or the admin's name
    registry.enroll(device, site, str(request.get("signing_key", "")).encode())
    if apply_live is not None:
        try:
            apply_live(device, site)
        except ConfigError as error:
            raise ConfigError(f"{device} is enrolled in the registry {registry.folder} but not on the running "
                              f"broker: {error}. Fix that and enrol again, or render the broker policy "
                              "(roadcam-collector broker-policy) and restart the broker") from None
    certificate = _client_certificate(csr.subject, csr.public_key(), ca_certificate, ca_key,
                                      datetime.timedelta(days=days))
    return {"version": REQUEST_VERSION, "device": device, "site": site,
            "certificate": certificate.public_bytes(_PEM).decode(),
            "ca": ca_certificate.public_bytes(_PEM).decode(), "collector_key": collector_key_pem.decode()}


def live_enrolment(broker: str, *, ca_file: Path, ca_certificate: x509.Certificate, ca_key,
                   timeout_s: float = 10.0) -> Callable[[str, str], None]:
    """``apply_live(device, site)`` for :func:`sign_request`: adds the device to the broker at
    ``broker`` (HOST:PORT, its server certificate signed by the CA of ``ca_file``) as
    ``broker-admin``, with a key and certificate made for that one call (valid
    :data:`ADMIN_CERTIFICATE_MINUTES`, kept in a private temporary folder, then deleted)."""
    host, _, port = broker.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--broker {broker!r}: give HOST:PORT of the running broker (its TLS port, e.g. 8883)")
    base = base_policy()

    def apply(device: str, site: str) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _client_certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ADMIN_CLIENT)]),
                                          key.public_key(), ca_certificate, ca_key,
                                          datetime.timedelta(minutes=ADMIN_CERTIFICATE_MINUTES))
        with tempfile.TemporaryDirectory(prefix="roadcam-broker-admin-") as folder:
            cert_file, key_file = Path(folder) / "admin.crt", Path(folder) / "admin.key"
            cert_file.write_bytes(certificate.public_bytes(_PEM))
            key_file.write_bytes(key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            BrokerAdmin(host, int(port), ca_file, cert_file, key_file, timeout_s).apply_device(device, site, base)

    return apply


def _client_certificate(subject: x509.Name, public_key, ca_certificate: x509.Certificate, ca_key,
                        lifetime: datetime.timedelta) -> x509.Certificate:
    """A TLS client certificate for ``subject`` from the CA, valid from five minutes ago (clock skew)."""
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_certificate.subject)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))


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
    parser.add_argument("--broker", metavar="HOST:PORT",
                        help="the running broker: add each enrolled device to it live (as broker-admin), "
                             "so it needs no restart")


def _signer(args):
    """``sign(request, source)`` with the CA, registry and collector key of ``args``."""
    ca_certificate = x509.load_pem_x509_certificate(args.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(args.ca_key.read_bytes(), password=None)
    registry = DeviceKeys(args.registry)
    collector_key_pem = args.collector_key.read_bytes()
    apply_live = (live_enrolment(args.broker, ca_file=args.ca_cert, ca_certificate=ca_certificate, ca_key=ca_key)
                  if args.broker else None)
    return lambda request, source: sign_request(request, ca_certificate=ca_certificate, ca_key=ca_key,
                                                registry=registry, collector_key_pem=collector_key_pem,
                                                days=args.days, source=source, apply_live=apply_live)


def _sign(args) -> int:
    import json

    response = _signer(args)(read_json(args.request, "request"), str(args.request))
    args.out.write_text(json.dumps(response, indent=2))
    print(f"enrolled {response['device']} at {response['site']}; give {args.out} to the device "
          f"(roadcam provision --response {args.out}); " + _broker_note(args))
    return 0


def _broker_note(args) -> str:
    if args.broker:
        return f"the broker at {args.broker} lets it in now (and keeps it in its policy file)"
    return "render the broker policy (roadcam-collector broker-policy) and restart the broker, or enrol with --broker"


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
        print(f"enrolled {response['device']} at {response['site']}; " + _broker_note(args), flush=True)
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
