"""The device's side of online enrolment: send the request with its token to the collector
host's enrolment service (:mod:`roadcam.provisioning.enrol_service`) over HTTPS, trusting only
the central CA's certificate the technician brought, and get the response."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from roadcam.common.errors import ConfigError
from roadcam.protocol.bounded_json import HostileJSON, loads_bounded

from .enrol_service import ENROL_PATH


def fetch_response(url: str, token: str, ca_file: Path, request: dict[str, Any],
                   timeout_s: float = 30.0) -> dict[str, Any]:
    """POST the request and return the response; ConfigError naming the option to fix."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--enrol-ca {ca_file}: cannot load the central CA's certificate: {exc}") from None
    body = json.dumps({"token": token, "request": request}).encode()
    post = urllib.request.Request(url.rstrip("/") + ENROL_PATH, data=body, method="POST",
                                  headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(post, context=context, timeout=timeout_s) as answer:
            return _json(answer.read(), url)
    except urllib.error.HTTPError as exc:
        reason = _json(exc.read(), url).get("error", exc.reason)
        option = "--enrol-token" if exc.code == 403 else "the request"
        raise ConfigError(f"{option}: the enrolment service at {url} refused: {reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLCertVerificationError):
            raise ConfigError(f"--enrol-ca: the enrolment service at {url} has a certificate {ca_file} did not sign "
                              f"({exc.reason.verify_message}); use the central office's CA") from None
        raise ConfigError(f"--enrol-url: cannot reach the enrolment service at {url} ({exc.reason}); check the "
                          f"address, the network and the firewall") from None
    except TimeoutError:
        raise ConfigError(f"--enrol-url: no answer from {url} within {timeout_s:g} s") from None


def _json(data: bytes, url: str) -> dict[str, Any]:
    try:
        value = loads_bounded(data)
    except (HostileJSON, ValueError):
        raise ConfigError(f"--enrol-url: {url} did not answer with JSON: is it the enrolment service?") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--enrol-url: {url} did not answer with a JSON object")
    return value
