"""Online enrolment on the collector host: the device sends its request over HTTPS and gets its
response at once, instead of carrying files.

A device may enrol only with a *token* the central office issued for that device id and site
(``python -m roadcam.provisioning.authority token``): random, valid for a limited time, good for
one enrolment. The token file keeps only each token's SHA-256, so reading it does not let anyone
enrol. The service listens with the broker's server certificate (signed by the central CA, which
the technician's device is given); every request is parsed with the bounded JSON parser, and
the signing is :func:`roadcam.provisioning.authority.sign_request`, as for a request file.

    POST /v1/enrol   {"token": "...", "request": {<request.json>}}
      200  {<response>}                      403  {"error": "..."}  (token unknown, used, expired, other device)
      400  {"error": "..."}  (a bad request)
"""

from __future__ import annotations

import hashlib
import json
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from roadcam.appliance.atomic_write import write_atomically
from roadcam.common.errors import ConfigError
from roadcam.protocol.bounded_json import HostileJSON, loads_bounded

ENROL_PATH = "/v1/enrol"
MAX_REQUEST_BYTES = 64 * 1024
TOKEN_DAYS = 7


class TokenBook:
    """The enrolment tokens of one file: ``{sha256: {device, site, expires, used}}``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def issue(self, device: str, site: str, days: float = TOKEN_DAYS) -> str:
        """A new token for ``device`` at ``site``; only its hash is written."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            book = self._read()
            book[_digest(token)] = {"device": device, "site": site, "expires": time.time() + days * 86400,
                                    "used": None}
            self._write(book)
        return token

    def redeem(self, token: str, device: str, site: str, enrol: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``enrol`` if ``token`` is valid for ``device`` at ``site``, then mark it used.
        PermissionError saying why when the token does not allow it."""
        with self._lock:
            book = self._read()
            entry = book.get(_digest(token))
            if entry is None:
                raise PermissionError("unknown enrolment token: ask the central office for one for this device")
            if entry["used"] is not None:
                raise PermissionError("this enrolment token was already used: ask the central office for a new one")
            if entry["expires"] < time.time():
                raise PermissionError("this enrolment token has expired: ask the central office for a new one")
            if (entry["device"], entry["site"]) != (device, site):
                raise PermissionError(f"this enrolment token is for {entry['device']} at {entry['site']}, "
                                      f"not {device} at {site}")
            response = enrol()
            entry["used"] = time.time()
            self._write(book)
            return response

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.path}: cannot read the enrolment tokens: {exc}") from None

    def _write(self, book: dict[str, Any]) -> None:
        write_atomically(self.path, json.dumps(book, indent=2).encode())
        self.path.chmod(0o600)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def make_server(address: tuple[str, int], *, cert_file: Path, key_file: Path, tokens: TokenBook,
                sign: Callable[[dict[str, Any]], dict[str, Any]]) -> ThreadingHTTPServer:
    """The HTTPS enrolment server (not yet serving: call ``serve_forever``). ``sign(request)``
    enrols and answers a request (ConfigError when the request is bad)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if self.path != ENROL_PATH:
                return self._answer(404, {"error": f"no such path; POST {ENROL_PATH}"})
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_REQUEST_BYTES:
                return self._answer(400, {"error": f"the body must be 1 to {MAX_REQUEST_BYTES} bytes"})
            try:
                body = loads_bounded(self.rfile.read(length), max_bytes=MAX_REQUEST_BYTES)
                if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
                    raise ConfigError("the body must be {\"token\": ..., \"request\": {...}}")
                request = body["request"]
                response = tokens.redeem(str(body.get("token", "")), str(request.get("device", "")),
                                         str(request.get("site", "")), lambda: sign(request))
            except PermissionError as exc:
                return self._answer(403, {"error": str(exc)})
            except (ConfigError, HostileJSON) as exc:
                return self._answer(400, {"error": str(exc)})
            self._answer(200, response)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
            pass  # the caller logs enrolments; the default writes every request to stderr

    server = ThreadingHTTPServer(address, Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_file), str(key_file))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server
