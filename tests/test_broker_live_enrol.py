"""Enrolment applied to the running broker (issue 27 item 1, issue 22's broker policy): the
shipped Mosquitto config and base policy with a test PKI, no device enrolled when the broker
starts. ``python -m roadcam.provisioning.authority sign --broker`` (or ``roadcam-collector
enroll --admin-cert``) enrols a device while the broker runs; the device connects and publishes
under its site at once (and nowhere else), with no restart; the plugin keeps it for a cold
start; a re-enrolment at another site moves it live; a broker that refuses the commands, or is
not there, is a clear error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from roadcam.collector.broker_admin import BrokerAdmin, BrokerAdminError
from roadcam.collector.cli import main as collector_main
from roadcam.collector.device_keys import DeviceKeys
from roadcam.collector.fake_device import mqtt5_client
from roadcam.collector.local_broker import free_port, production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.protocol.topics import DeviceTopics
from roadcam.provisioning.authority import live_enrolment, sign_request
from roadcam.provisioning.enrolment import DeviceFiles, install_response, make_request

pytestmark = pytest.mark.integration

DEVICE, SITE, NEW_SITE = "tn-0042", "tn-bench", "tn-yard"
NOT_AUTHORIZED = 0x87


@pytest.fixture
def central(tmp_path):
    return write_test_pki(tmp_path / "central", devices=[], collectors=["collector-1"])


@pytest.fixture
def broker(tmp_path, central):
    with production_broker(tmp_path / "broker", central.root) as broker:
        yield broker


def sign_cli(central, request: Path, out: Path, broker_address: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "roadcam.provisioning.authority", "sign", str(request),
                           "--ca-cert", str(central.ca), "--ca-key", str(central.root / "ca.key"),
                           "--registry", str(central.device_keys_dir),
                           "--collector-key", str(central.collector_public_key), "--out", str(out),
                           "--broker", broker_address], capture_output=True, text=True, timeout=60)


def publish_codes(broker, files: DeviceFiles, topics: list[str]) -> list[str]:
    """Connect as the device (its enrolled certificate) and publish QoS 1 to each topic: "ok"
    or "refused" (0x87, not authorised) by each PUBACK."""
    client = mqtt5_client(f"{DEVICE}-test")
    client.tls_set(ca_certs=str(files.ca), certfile=str(files.certificate), keyfile=str(files.tls_key))
    connected, acked, codes = threading.Event(), threading.Event(), []
    client.on_connect = lambda client, userdata, flags, reason, properties: connected.set()

    def on_publish(client, userdata, mid, reason, properties):
        codes.append("refused" if reason.value == NOT_AUTHORIZED else "ok" if reason.value < 0x80 else str(reason))
        acked.set()

    client.on_publish = on_publish
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert connected.wait(10), "no CONNACK"
        for topic in topics:
            acked.clear()
            client.publish(topic, b"{}", qos=1)
            assert acked.wait(5), f"no PUBACK for {topic}"
    finally:
        client.disconnect()
        client.loop_stop()
    return codes


def test_a_device_enrolled_while_the_broker_runs_publishes_at_once(tmp_path, central, broker):
    files = DeviceFiles(tmp_path / "keys")
    make_request(files, DEVICE, SITE, {"lat": 22.99, "lon": 120.25})
    pid = broker._process.pid
    signed = sign_cli(central, files.request, tmp_path / "response.json", f"{broker.host}:{broker.port}")
    assert signed.returncode == 0, signed.stderr
    assert f"the broker at {broker.host}:{broker.port} lets it in now" in signed.stdout
    install_response(files, json.loads((tmp_path / "response.json").read_text()), DEVICE, "response")
    own, elsewhere = DeviceTopics(SITE, DEVICE), DeviceTopics(NEW_SITE, DEVICE)
    assert publish_codes(broker, files, [own.status, own.event("plate.read"), elsewhere.status]) == [
        "ok", "ok", "refused"]
    assert broker._process.pid == pid  # the same broker process all along: no restart
    assert "roadcam-device-tn-0042" in (broker.directory / "dynamic-security.json").read_text()

    broker.stop()  # a cold start reads the plugin's file, which now holds the device
    broker.start()
    assert publish_codes(broker, files, [own.status]) == ["ok"]


def test_enrolling_again_at_another_site_moves_the_device_live(tmp_path, central, broker):
    files = DeviceFiles(tmp_path / "keys")
    ca_key = serialization.load_pem_private_key((central.root / "ca.key").read_bytes(), password=None)
    ca_certificate = x509.load_pem_x509_certificate(central.ca.read_bytes())
    apply_live = live_enrolment(f"{broker.host}:{broker.port}", ca_file=central.ca, ca_certificate=ca_certificate,
                                ca_key=ca_key)
    for site in (SITE, NEW_SITE):
        response = sign_request(make_request(files, DEVICE, site), ca_certificate=ca_certificate, ca_key=ca_key,
                                registry=DeviceKeys(central.device_keys_dir),
                                collector_key_pem=central.collector_public_key.read_bytes(), apply_live=apply_live)
        install_response(files, response, DEVICE, "response")
    old, new = DeviceTopics(SITE, DEVICE), DeviceTopics(NEW_SITE, DEVICE)
    assert publish_codes(broker, files, [new.status, old.status]) == ["ok", "refused"]


def test_roadcam_collector_enroll_with_the_admin_certificate_tells_the_running_broker(tmp_path, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=["collector-1", "broker-admin"])
    public_key = tmp_path / f"{DEVICE}.pem"
    (pki.device_keys_dir / f"{DEVICE}.pem").rename(public_key)  # not enrolled when the broker starts
    device = DeviceFiles(tmp_path / "device")
    device.folder.mkdir()
    for source, target in zip((*pki.client(DEVICE), pki.ca), (device.certificate, device.tls_key, device.ca)):
        target.write_bytes(source.read_bytes())
    cert, key = pki.client("collector-1")
    config = tmp_path / "collector.yaml"
    with production_broker(tmp_path / "broker", pki.root) as broker:
        config.write_text(yaml.safe_dump({
            "broker": {"host": broker.host, "port": broker.port,
                       "tls": {"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)}},
            "storage": {"database": str(tmp_path / "c.db"), "evidence_dir": str(tmp_path / "e")},
            "device_keys_dir": str(pki.device_keys_dir), "signing_key": str(pki.collector_signing_key)}))
        status = DeviceTopics(SITE, DEVICE).status
        assert publish_codes(broker, device, [status]) == ["refused"]  # a CA certificate, but nobody enrolled
        admin_cert, admin_key = pki.client("broker-admin")
        assert collector_main(["enroll", DEVICE, "--site", SITE, "--key", str(public_key), "--config", str(config),
                               "--admin-cert", str(admin_cert), "--admin-key", str(admin_key)]) == 0
        assert publish_codes(broker, device, [status]) == ["ok"]
    assert f"the broker at {broker.host}:{broker.port} lets it in now" in capsys.readouterr().out


def test_a_refused_or_unanswered_command_is_a_clear_error(tmp_path, central, broker):
    cert, key = central.client("collector-1")  # a valid certificate, but not the broker's admin
    with pytest.raises(BrokerAdminError) as refused:
        BrokerAdmin(broker.host, broker.port, central.ca, cert, key).apply_device(DEVICE, SITE, {
            "clients": [], "roles": []})
    assert "refused the subscribe to $CONTROL/dynamic-security/v1/response of broker-admin (Not authorized)" in str(
        refused.value)

    files = DeviceFiles(tmp_path / "keys")
    make_request(files, DEVICE, SITE)
    unreachable = sign_cli(central, files.request, tmp_path / "response.json", f"127.0.0.1:{free_port()}")
    assert unreachable.returncode == 2 and not (tmp_path / "response.json").exists()
    assert f"{DEVICE} is enrolled in the registry" in unreachable.stderr
    assert "cannot reach the broker at 127.0.0.1:" in unreachable.stderr

    named_as_admin = DeviceFiles(tmp_path / "admin-keys")
    make_request(named_as_admin, "broker-admin", SITE)
    hijack = sign_cli(central, named_as_admin.request, tmp_path / "hijack.json", f"{broker.host}:{broker.port}")
    assert hijack.returncode == 2 and not (tmp_path / "hijack.json").exists()
    assert "device 'broker-admin' has the name of a client or role of the base broker policy" in hijack.stderr


def test_the_plugin_s_own_refusal_is_returned_with_its_reason(tmp_path, central, broker):
    ca_key = serialization.load_pem_private_key((central.root / "ca.key").read_bytes(), password=None)
    ca_certificate = x509.load_pem_x509_certificate(central.ca.read_bytes())
    live_enrolment(f"{broker.host}:{broker.port}", ca_file=central.ca, ca_certificate=ca_certificate,
                   ca_key=ca_key)(DEVICE, SITE)  # works: the admin's certificate is made from the CA
    admin = _admin_files(tmp_path, ca_certificate, ca_key)
    answers = BrokerAdmin(broker.host, broker.port, central.ca, *admin).run(
        [{"command": "addClientRole", "username": "nobody", "rolename": "roadcam-device-tn-0042"},
         {"command": "getClient", "username": DEVICE}])
    assert answers[0]["error"] == "Client not found"
    assert answers[1]["data"]["client"]["roles"] == [{"rolename": "roadcam-device-tn-0042"}]


def _admin_files(tmp_path: Path, ca_certificate, ca_key) -> tuple[Path, Path]:
    """A broker-admin certificate and key from the CA, as the authority makes one."""
    from roadcam.collector.pki import Authority, issue

    key, certificate = issue(Authority(ca_key, ca_certificate), "broker-admin")
    cert_file, key_file = tmp_path / "admin.crt", tmp_path / "admin.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file
