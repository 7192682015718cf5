"""Online enrolment (issue 27 item 1, "through the collector"): the collector host's enrolment
service (``python -m roadcam.provisioning.authority serve``, HTTPS with the broker's server
certificate) signs a device's request sent by ``roadcam provision --enrol-url`` with a one-time
token (and, given ``--broker``, lets the device into the running broker at once); a used,
unknown or another device's token is refused with what to do, and nothing is enrolled or written.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from roadcam.collector.local_broker import free_port, production_broker
from roadcam.collector.pki import write_test_pki

pytestmark = [pytest.mark.integration]

DEVICE = "tn-0042"
SITE = "tn-bench"


def authority(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "roadcam.provisioning.authority", *args], capture_output=True,
                          text=True, timeout=60)


def signing_options(central) -> list[str]:
    return ["--ca-cert", str(central.ca), "--ca-key", str(central.root / "ca.key"),
            "--registry", str(central.device_keys_dir), "--collector-key", str(central.collector_public_key)]


@pytest.fixture
def central(tmp_path):
    return write_test_pki(tmp_path / "central", devices=[], collectors=["collector-1"])


@pytest.fixture
def service(tmp_path, central):
    """The enrolment service on a free port: (URL, token file)."""
    with running_service(tmp_path, central) as running:
        yield running


@contextlib.contextmanager
def running_service(tmp_path: Path, central, *more: str):
    """The enrolment service (with options ``more``) on a free port: (URL, token file)."""
    port = free_port()
    tokens = tmp_path / "tokens.json"
    process = subprocess.Popen([sys.executable, "-m", "roadcam.provisioning.authority", "serve",
                                "--listen", f"127.0.0.1:{port}", "--cert", str(central.server_cert),
                                "--key", str(central.server_key), "--tokens", str(tokens), *signing_options(central),
                                *more],
                               stdout=(tmp_path / "service.log").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "service.log").read_text()
            time.sleep(0.05)
    try:
        yield f"https://localhost:{port}", tokens
    finally:
        process.terminate()
        process.wait(timeout=10)


def provision(tmp_path: Path, central, url: str, token: str, broker_port: int, device: str = DEVICE):
    device_dir = tmp_path / device
    return device_dir, subprocess.run(
        [sys.executable, "-m", "roadcam.appliance.cli", "provision", "--device", device, "--site", SITE,
         "--broker", f"127.0.0.1:{broker_port}", "--enrol-url", url, "--enrol-token", token,
         "--enrol-ca", str(central.ca), "--config", str(device_dir / "site.yaml"), "--keys", str(device_dir / "keys"),
         "--storage", str(device_dir / "state"), "--pin-factory", "mock", "--broker-timeout", "5"],
        capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_device_enrols_online_with_its_token_once(tmp_path, central, service):
    url, tokens = service
    issued = authority("token", DEVICE, "--site", SITE, "--tokens", str(tokens))
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token not in tokens.read_text()  # only its hash is kept
    broker = production_broker(tmp_path / "broker", central.root)  # its policy is from before the enrolment
    broker.start()
    try:
        device_dir, first = provision(tmp_path, central, url, token, broker.port)
        assert first.returncode == 2, first.stdout + first.stderr
        assert f"sending it to {url}" in first.stdout
        assert (central.device_keys_dir / f"{DEVICE}.pem").exists()
        assert (central.device_keys_dir / f"{DEVICE}.site").read_text().strip() == SITE
        assert "does not let tn-0042 at tn-bench use its topics" in first.stderr
        assert f"run this again with --response {device_dir / 'keys/response.json'}" in first.stderr
        assert not (device_dir / "site.yaml").exists()
        broker.stop()
        broker = production_broker(tmp_path / "broker", central.root)  # the policy regenerated, loaded
        broker.start()
        done = subprocess.run(
            [sys.executable, "-m", "roadcam.appliance.cli", "provision", "--device", DEVICE, "--site", SITE,
             "--broker", f"127.0.0.1:{broker.port}", "--response", str(device_dir / "keys/response.json"),
             "--config", str(device_dir / "site.yaml"), "--keys", str(device_dir / "keys"),
             "--storage", str(device_dir / "state"), "--pin-factory", "mock"], capture_output=True, text=True,
            timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "its topics at tn-bench allowed" in done.stdout
        config = yaml.safe_load((device_dir / "site.yaml").read_text())
        assert config["uplink"]["tls"]["cert_file"] == str(device_dir / "keys/tls.crt")
        again_dir, again = provision(tmp_path / "again", central, url, token, broker.port)
        assert again.returncode == 2
        assert "--enrol-token: the enrolment service at" in again.stderr and "already used" in again.stderr
        assert not (again_dir / "site.yaml").exists()
    finally:
        broker.stop()


@pytest.mark.slow
def test_with_the_running_broker_named_the_device_enrols_and_connects_in_one_go(tmp_path, central):
    """``serve --broker``: the enrolment reaches the running broker live, so the device's broker
    check passes on the first run and its config is written; no broker restart."""
    with production_broker(tmp_path / "broker", central.root) as broker, \
            running_service(tmp_path, central, "--broker", f"{broker.host}:{broker.port}") as (url, tokens):
        token = authority("token", DEVICE, "--site", SITE, "--tokens", str(tokens)).stdout.strip()
        device_dir, done = provision(tmp_path, central, url, token, broker.port)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "its topics at tn-bench allowed" in done.stdout and "written to" in done.stdout
    assert yaml.safe_load((device_dir / "site.yaml").read_text())["device"]["id"] == DEVICE
    assert f"the broker at {broker.host}:{broker.port} lets it in now" in (tmp_path / "service.log").read_text()


def test_a_token_for_another_device_or_no_token_is_refused(tmp_path, central, service):
    url, tokens = service
    token = authority("token", "tn-0099", "--site", SITE, "--tokens", str(tokens)).stdout.strip()
    device_dir, result = provision(tmp_path, central, url, token, free_port())
    assert result.returncode == 2
    assert "this enrolment token is for tn-0099 at tn-bench, not tn-0042 at tn-bench" in result.stderr
    _, unknown = provision(tmp_path / "unknown", central, url, "not-a-token", free_port())
    assert unknown.returncode == 2 and "unknown enrolment token" in unknown.stderr
    assert list(central.device_keys_dir.iterdir()) == []
    assert not (device_dir / "site.yaml").exists()


def test_a_service_the_ca_did_not_sign_is_not_trusted(tmp_path, central, service):
    url, tokens = service
    token = authority("token", DEVICE, "--site", SITE, "--tokens", str(tokens)).stdout.strip()
    other = write_test_pki(tmp_path / "other", devices=[], collectors=[])
    device_dir = tmp_path / "device"
    result = subprocess.run(
        [sys.executable, "-m", "roadcam.appliance.cli", "provision", "--device", DEVICE, "--site", SITE,
         "--broker", f"127.0.0.1:{free_port()}", "--enrol-url", url, "--enrol-token", token,
         "--enrol-ca", str(other.ca), "--config", str(device_dir / "site.yaml"), "--keys", str(device_dir / "keys")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--enrol-ca: the enrolment service at" in result.stderr
    assert list(central.device_keys_dir.iterdir()) == []
