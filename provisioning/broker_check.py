"""Is the broker reachable with this device's certificate, and does it let the device in? One
MQTT 5 connection over TLS, with every way it can fail turned into what the technician should fix.

The probe connects under its own client id (``<device>.probe``, clean start, no session kept),
so it never takes over the running appliance's session or the commands queued for it; the
broker sees the device's certificate, hence the device's identity (``use_identity_as_username``).
A broker accepts the connection of any certificate its CA signed, so the probe then subscribes
to the device's ``ack`` topic: the broker policy grants that only to an enrolled device at its
site (``collector/broker_policy.py``); a copy of an ack the probe might receive is dropped.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from roadcam.common.errors import ConfigError
from roadcam.protocol.topics import DeviceTopics


@dataclass(frozen=True)
class BrokerProbe:
    host: str
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    device: str
    site: str


def check_broker(probe: BrokerProbe, timeout_s: float = 10.0) -> str:
    """Connect, wait for the CONNACK, disconnect. Returns a one-line description of the
    connection; ConfigError naming the field to fix when it fails."""
    where = f"{probe.host}:{probe.port}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{probe.device}.probe",
                         protocol=mqtt.MQTTv5)
    try:
        client.tls_set(ca_certs=str(probe.ca_file), certfile=str(probe.cert_file), keyfile=str(probe.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"uplink.tls: cannot load {probe.ca_file}, {probe.cert_file} or {probe.key_file}: "
                          f"{exc}") from None
    answered = threading.Event()
    outcome: dict[str, object] = {}

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        outcome["reason"] = reason_code
        answered.set()

    def on_disconnect(_client, _userdata, _flags, reason_code, _properties):
        outcome.setdefault("reason", reason_code)
        answered.set()

    subscribed = threading.Event()

    def on_subscribe(_client, _userdata, _mid, reason_codes, _properties):
        outcome["subscribe"] = reason_codes[0] if reason_codes else None
        subscribed.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_subscribe = on_subscribe
    try:
        client.connect(probe.host, probe.port, keepalive=10, clean_start=True)
    except ssl.SSLCertVerificationError as exc:
        raise ConfigError(f"uplink.tls.ca_file: the broker at {where} has a certificate the CA in "
                          f"{probe.ca_file} did not sign ({exc.verify_message}); use the CA of the central "
                          f"office's response, or check uplink.host names that broker") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"uplink.tls: the TLS handshake with {where} failed ({exc.reason or exc}); the broker "
                          f"did not accept this device's certificate {probe.cert_file}, or uplink.port is not "
                          f"its TLS port") from None
    except TimeoutError:
        raise ConfigError(f"uplink.host/uplink.port: no answer from {where} within the timeout; check the "
                          f"address, the network and the firewall") from None
    except OSError as exc:
        raise ConfigError(f"uplink.host/uplink.port: cannot reach the broker at {where} "
                          f"({exc.strerror or exc}); check the address, the network and the firewall") from None
    client.loop_start()
    ack_topic = DeviceTopics(probe.site, probe.device).ack
    try:
        if not answered.wait(timeout_s):
            raise ConfigError(f"uplink.host/uplink.port: {where} accepted TLS but sent no MQTT answer within "
                              f"{timeout_s:g} s; is it the MQTT broker?")
        reason = outcome.get("reason")
        if reason is None or getattr(reason, "is_failure", True):
            raise ConfigError(f"uplink: the broker at {where} refused device {probe.device} ({reason}); the "
                              f"broker did not accept this device's certificate {probe.cert_file}")
        client.subscribe(ack_topic, qos=1)
        if not subscribed.wait(timeout_s):
            raise ConfigError(f"uplink: the broker at {where} did not answer a subscription within {timeout_s:g} s")
    finally:
        client.disconnect()
        client.loop_stop()
    granted = outcome.get("subscribe")
    if granted is None or getattr(granted, "is_failure", True):
        raise ConfigError(f"uplink: the broker at {where} took the certificate but does not let {probe.device} "
                          f"at {probe.site} use its topics ({granted}): the device must be enrolled at this "
                          f"site and the broker policy regenerated (roadcam-collector broker-policy) and loaded")
    return f"connected to {where} over TLS as {probe.device}, its topics at {probe.site} allowed"
