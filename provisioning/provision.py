"""``roadcam provision``: from a blank box (or a box of another site) to a checked site config.

Steps, each shown as it runs, each stopping with a message that names what to fix:

1. keys and enrolment request (:mod:`roadcam.provisioning.enrolment`): made on the device;
   without a response yet, the command stops here and says where the request is;
2. the central office's response (a file carried back, or fetched online from the collector host's
   enrolment service with a one-time token, :mod:`roadcam.provisioning.enrol_client`): checked
   (for this device, this key, signed by its CA) and kept;
3. the broker: reached over TLS with the device certificate (:mod:`roadcam.provisioning.broker_check`);
4. the new site config: the running one (or a bare one) with device (its location too), camera
   and uplink set,
   validated as ``roadcam run`` would (every problem with its field path);
5. written (:mod:`roadcam.provisioning.site_write`): over a running config (of this device or
   another) staged for a trial start that rolls back if it does not run; on a blank box (or
   over a config that does not load) in place, the old file kept as ``site.yaml.previous``.

Nothing the running config uses is written before steps 1–4 pass (the response's files wait in
``KEYS/pending`` until the broker has taken them), so a bad value leaves it as it was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from roadcam.appliance.atomic_write import write_atomically
from roadcam.appliance.site import site_from_data
from roadcam.common.errors import ConfigError

from .broker_check import BrokerProbe, check_broker
from .enrol_client import fetch_response
from .enrolment import DeviceFiles, adopt, install_response, make_request, read_json
from .site_write import running_config, write_site

STEPS = 5


@dataclass(frozen=True)
class ProvisionRequest:
    """What the technician gives."""

    config_file: Path
    keys_dir: Path
    device: str
    site: str
    broker_host: str
    broker_port: int = 8883
    #: ``{"lat": ..., "lon": ..., "description": ...}`` (:func:`parse_location`), or None.
    location: dict[str, Any] | None = None
    camera: str | None = None
    response_file: Path | None = None
    storage_dir: Path = Path("/var/lib/roadcam")
    pin_factory: str = "lgpio"
    broker_timeout_s: float = 10.0
    #: Online enrolment instead of a response file: the service's https:// URL, the one-time
    #: token the central office issued, the central CA's certificate to trust the service by.
    enrol_url: str | None = None
    enrol_token: str | None = None
    enrol_ca: Path | None = None


@dataclass(frozen=True)
class ProvisionResult:
    """How it ended: ``request_only`` (waiting for the central office's response), ``staged``
    (promoted on trial at the next start) or ``written`` (in place)."""

    outcome: str
    config_file: Path
    written_file: Path | None = None
    request_file: Path | None = None


def camera_source(text: str) -> dict[str, Any]:
    """``picamera2`` or ``picamera2:N`` (CSI camera N), else an OpenCV source (rtsp:// URL,
    /dev/videoN, a video file)."""
    if text == "picamera2" or text.startswith("picamera2:"):
        index = text.partition(":")[2] or "0"
        if not index.isdigit():
            raise ConfigError(f"--camera {text!r}: picamera2:N takes a camera number (0 or 1)")
        return {"type": "picamera2", "index": int(index)}
    return {"type": "opencv", "url": text}


def parse_location(text: str) -> dict[str, Any]:
    """``LAT,LON`` in decimal degrees, optionally followed by a space and a description
    (``22.99,120.25 NE corner, pole 3``): the site config's ``device.location``. The ranges are
    checked with the rest of the new config (``device.location.lat`` ...)."""
    position, _, description = text.strip().partition(" ")
    lat, _, lon = position.partition(",")
    try:
        location: dict[str, Any] = {"lat": float(lat), "lon": float(lon)}
    except ValueError:
        raise ConfigError(f"--location {text!r}: give LAT,LON in decimal degrees (e.g. 22.99,120.25), "
                          f"optionally followed by a description") from None
    if description.strip():
        location["description"] = description.strip()
    return location


def provision(request: ProvisionRequest, progress: Callable[[str], None] = print) -> ProvisionResult:
    """Run the steps of the module docstring."""
    files = DeviceFiles(request.keys_dir)
    step = _Steps(progress)
    response_file = request.response_file
    with step("keys and enrolment request"):
        if response_file is None and request.enrol_url is None and files.enrolled():
            progress(f"  already enrolled: keeping {files.certificate}")
        else:
            enrolment_request = make_request(files, request.device, request.site, request.location)
            if request.enrol_url is not None:
                if not request.enrol_token or request.enrol_ca is None:
                    raise ConfigError("--enrol-url needs --enrol-token (from the central office) and --enrol-ca "
                                      "(the central CA's certificate)")
                progress(f"  sending it to {request.enrol_url} ...")
                response_file = files.folder / "response.json"
                write_atomically(response_file, json.dumps(fetch_response(
                    request.enrol_url, request.enrol_token, request.enrol_ca, enrolment_request)).encode())
    if response_file is None and not files.enrolled():
        progress(f"take {files.request} to the central office (python -m roadcam.provisioning.authority sign), "
                 f"then run this again with --response FILE (or enrol online: --enrol-url)")
        return ProvisionResult("request_only", request.config_file, request_file=files.request)
    received = files  # where the certificate, CA and collector key the broker is checked with are
    with step("device certificate"):
        if response_file is not None:
            received = DeviceFiles(files.folder / "pending")
            certificate = install_response(files, read_json(response_file, "response"), request.device,
                                           str(response_file), into=received)
            progress(f"  certificate for {request.device} valid until {certificate.not_valid_after_utc:%Y-%m-%d}")
    try:
        with step(f"broker {request.broker_host}:{request.broker_port}"):
            progress("  " + check_broker(BrokerProbe(request.broker_host, request.broker_port, received.ca,
                                                     received.certificate, files.tls_key, request.device,
                                                     request.site), request.broker_timeout_s))
    except ConfigError as exc:
        if request.enrol_url is None or response_file is None:
            raise
        raise ConfigError(f"{exc}; the certificate is enrolled and kept in {response_file}: once this is fixed, "
                          f"run this again with --response {response_file} (the token is used up)") from None
    with step("new site config"):
        running = running_config(request.config_file)
        base = running.data if running else None
        site_from_data(new_site_data(request, files, received, base),
                       source=f"the new config for {request.config_file}")
        data = new_site_data(request, files, files, base)
    with step("write"):
        if received is not files:
            adopt(received, files)
        outcome, written = write_site(request.config_file, running, (request.device, request.site),
                                      _header(request) + yaml.safe_dump(data, sort_keys=False), progress)
    return ProvisionResult(outcome, request.config_file, written)


def new_site_data(request: ProvisionRequest, files: DeviceFiles, received: DeviceFiles,
                  base: dict[str, Any] | None) -> dict[str, Any]:
    """The running config's data (or a bare site's) with the device, camera and uplink set: the
    device's keys from ``files``, the certificate, CA and collector key from ``received``."""
    data = dict(base or {})
    device: dict[str, Any] = {"id": request.device, "site": request.site}
    kept = (base or {}).get("device") or {}
    if request.location is not None:
        device["location"] = request.location
    elif kept.get("site") == request.site and kept.get("location") is not None:
        device["location"] = kept["location"]  # the same site: the box has not moved
    data["device"] = device
    data.setdefault("storage", {"database": str(request.storage_dir / "events.db"),
                                "evidence_dir": str(request.storage_dir / "evidence")})
    data.setdefault("gpio", {"pin_factory": request.pin_factory})
    if request.camera is not None:
        cameras = [dict(camera) for camera in data.get("cameras") or [{"name": "camera-1"}]]
        cameras[0]["source"] = camera_source(request.camera)
        data["cameras"] = cameras
    uplink = dict(data.get("uplink") or {})
    uplink.update({
        "enabled": True, "host": request.broker_host, "port": request.broker_port,
        "tls": {"ca_file": str(received.ca), "cert_file": str(received.certificate),
                "key_file": str(files.tls_key)},
        "signing_key_file": str(files.signing_key), "collector_key_file": str(received.collector_key),
    })
    uplink.setdefault("staged_config_file", str(request.config_file.with_name("site.next.yaml")))
    data["uplink"] = uplink
    return data


def _header(request: ProvisionRequest) -> str:
    return (f"# site config of {request.device} at {request.site}, written by `roadcam provision` "
            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")


class _Steps:
    """Numbered progress lines: ``[2/5] device certificate ...`` then ``ok`` with its time."""

    def __init__(self, progress: Callable[[str], None]):
        self._progress = progress
        self._number = 0

    def __call__(self, title: str):
        self._number += 1
        return _Step(self._progress, f"[{self._number}/{STEPS}] {title}")


class _Step:
    def __init__(self, progress: Callable[[str], None], title: str):
        self._progress = progress
        self._title = title

    def __enter__(self):
        self._progress(f"{self._title} ...")
        self._started = time.monotonic()

    def __exit__(self, kind, error, _traceback):
        if kind is None:
            self._progress(f"{self._title}: ok ({time.monotonic() - self._started:.1f} s)")
        elif issubclass(kind, ConfigError):
            self._progress(f"{self._title}: FAILED; the site config was not changed")
        return False
