"""Test doubles for the uplink tests: a fake collector on a real broker, an appliance wired to
it, and Ed25519 keys on disk."""

from __future__ import annotations

import datetime
import ipaddress
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from appliances import site_data
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from gpiozero.pins.mock import MockFactory

from roadcam.appliance.clock import Clock
from roadcam.appliance.runtime import Appliance
from roadcam.appliance.site import site_from_data
from roadcam.hal.hardware import Hardware
from roadcam.protocol.acks import ChainAck
from roadcam.protocol.event_batches import split_event_batch
from roadcam.protocol.events import Event
from roadcam.protocol.topics import DeviceTopics, parse_device_topic

TOPICS = DeviceTopics("tn-bench", "tn-test")


def write_key_pair(folder: Path, name: str) -> tuple[Ed25519PrivateKey, Path, Path]:
    """A new Ed25519 key, written as ``name.key`` (private) and ``name.pub`` (public) PEM files."""
    key = Ed25519PrivateKey.generate()
    private_file, public_file = folder / f"{name}.key", folder / f"{name}.pub"
    private_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    public_file.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, private_file, public_file


def write_certificate(folder: Path, name: str,
                      issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
                      *, ip: str | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A P-256 key and certificate for common name ``name``, written as ``name.crt``/``name.key``;
    self-signed CA when ``issuer`` is None, else signed by the issuer (with ``ip`` as its SAN)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_certificate, issuer_key = issuer or (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_certificate.subject if issuer_certificate else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True))
    if ip is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                        critical=False)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    (folder / f"{name}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    return certificate, key


def uplink_appliance(tmp_path: Path, broker, **uplink) -> Appliance:
    """A bench appliance (no cameras) whose uplink talks to ``broker``, with quick retry timings;
    events are signed when ``signing_key_file`` is given."""
    section = {"enabled": True, "host": broker.host, "port": broker.port, "reconnect_min_s": 0.2,
               "reconnect_max_s": 1.0, "ack_timeout_s": 2.0, "staged_config_file": str(tmp_path / "site.next.yaml"),
               **uplink}
    config, manager = site_from_data(site_data(tmp_path, uplink=section))
    clock = Clock()
    return Appliance(config, manager, Hardware(config, clock, pin_factory=MockFactory()), clock,
                     sign=config.uplink.event_signer())


def wait_until(predicate, timeout_s: float = 10.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


class FakeCollector:
    """Subscribes to every device topic and records what arrives, in order. With ``ack`` it
    acknowledges like the real collector: the seq and digest of the last event of the gap-free
    prefix it holds."""

    def __init__(self, broker, *, ack: bool = True, client_id: str = "fake-collector"):
        self.ack = ack
        self.arrivals: list[tuple[str, str]] = []  # (kind, key): ("event", seq) / ("evidence", sha256) / …
        self.events: dict[int, Event] = {}
        self.evidence: dict[str, bytes] = {}
        self.messages: dict[str, list[bytes]] = {}
        self.duplicates = 0
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self._subscribed = threading.Event()
        self._client.on_connect = lambda client, *_: client.subscribe("roadcam/v1/+/+/#", qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(0.1, 0.5)
        self._client.connect(broker.host, broker.port, clean_start=True)
        self._client.loop_start()
        assert self._subscribed.wait(10), "the fake collector could not subscribe"

    def _on_message(self, client, userdata, message) -> None:
        _, _, rest = parse_device_topic(message.topic)
        kind, _, key = rest.partition("/")
        with self._lock:
            self.messages.setdefault(message.topic, []).append(message.payload)
            if kind == "events":  # one event on events/<type>, a batch (JSON lines) on events
                for line in split_event_batch(message.payload) if not key else [message.payload]:
                    event = Event.model_validate_json(line)
                    self.duplicates += event.seq in self.events
                    self.events[event.seq] = event
                    self.arrivals.append(("event", event.seq))
            elif kind == "evidence":
                self.evidence[key] = message.payload
                self.arrivals.append(("evidence", key))
            else:
                return
            contiguous = self.contiguous_seq()
        if self.ack and kind == "events" and contiguous > 0:
            self.send_ack(contiguous)

    def contiguous_seq(self) -> int:
        seq = 0
        while seq + 1 in self.events:
            seq += 1
        return seq

    def send_ack(self, seq: int) -> None:
        """Acknowledge up to the event ``seq`` received, naming its digest."""
        with self._lock:
            digest = self.events[seq].digest()
        self._client.publish(TOPICS.ack, ChainAck(seq, digest).encode(), qos=1)

    def publish(self, topic: str, payload: bytes | str) -> None:
        self._client.publish(topic, payload, qos=1)

    def latest(self, topic: str) -> bytes | None:
        with self._lock:
            return self.messages.get(topic, [None])[-1]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
