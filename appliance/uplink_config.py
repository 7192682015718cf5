"""The ``uplink`` config section: where the broker is, how to prove who we are, how fast to drain.

The section belongs to the built-in ``uplink`` plugin (``plugins/uplink``), which declares it;
the model lives beside :mod:`roadcam.appliance.uplink`, the code it configures. Every field has a
default, so a site without an uplink still validates (``enabled: false``).

The key and certificate files are read when the config is validated: a file that is missing,
unreadable or of the wrong kind is a config problem with its line (``roadcam config check``),
not a failure at the first signature or the first TLS handshake.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from pydantic import Field, model_validator

from roadcam.common.errors import ConfigError
from roadcam.common.yaml_config import file_problem, loadable_file
from roadcam.protocol.events import Event
from roadcam.protocol.signing import load_private_key, load_public_key, pem_problem, read_pem, sign

from .config import Section


def _certificates(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file (one, or a bundle); ConfigError naming the file."""
    data = read_pem(path)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(f"{path} is not a certificate (PEM): {pem_problem(exc)}") from None


def _tls_private_key(path: Path):
    """The private key of a PEM file, of any type TLS takes, unencrypted (paho is given no
    password); ConfigError naming the file."""
    data = read_pem(path)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{path} is not an unencrypted private key (PEM): {pem_problem(exc)}") from None


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class UplinkTLS(Section):
    """TLS with a client certificate; production brokers accept nothing else."""

    ca_file: Annotated[Path, loadable_file(_certificates)] = Field(
        title="CA certificate", description="PEM file of the CA that signed the broker's certificate.")
    cert_file: Annotated[Path, loadable_file(_certificates)] = Field(
        title="Device certificate", description="PEM file of this device's client certificate.")
    key_file: Annotated[Path, loadable_file(_tls_private_key)] = Field(
        title="Device certificate key", description="PEM file of the key of the device certificate.")

    @model_validator(mode="after")
    def _key_matches_certificate(self):
        certificate = _certificates(self.cert_file)[0]
        if _public_der(certificate.public_key()) != _public_der(_tls_private_key(self.key_file).public_key()):
            raise file_problem(f"key_file {self.key_file} is not the key of the certificate in "
                               f"cert_file {self.cert_file}")
        return self


class UplinkConfig(Section):
    """MQTT 5 link to the central collector."""

    enabled: bool = Field(False, title="Enabled", description="Connect to the broker and deliver the outbox.")
    host: str = Field("localhost", title="Broker host", description="Host name or address of the MQTT broker.")
    port: int = Field(8883, ge=1, le=65535, title="Broker port",
                      description="TCP port of the broker (8883 is MQTT over TLS).")
    tls: UplinkTLS | None = Field(None, title="TLS",
                                  description="CA, client certificate and key. Leave out only for a "
                                              "loopback test broker.")
    signing_key_file: Annotated[Path | None, loadable_file(load_private_key)] = Field(
        None, title="Device signing key", description="Ed25519 private key (PEM) that signs every event.")
    collector_key_file: Annotated[Path | None, loadable_file(load_public_key)] = Field(
        None, title="Collector public key",
        description="Ed25519 public key (PEM) that commands must be signed with; without it every "
                    "command is refused.")
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0, title="Session expiry (s)",
                                  description="How long the broker keeps this device's session (its "
                                              "subscriptions and queued commands) while it is offline.")
    keepalive_s: int = Field(30, ge=5, le=3600, title="Keepalive (s)",
                             description="MQTT keepalive; the broker declares the device offline (last "
                                         "will) after 1.5 times this without a packet.")
    drain_rate_per_s: float = Field(200.0, gt=0, title="Drain rate (events/s)",
                                    description="Most events sent per second, so a backlog after an "
                                                "outage does not flood the link or the collector.")
    max_in_flight_events: int = Field(200, ge=1, title="Events in flight",
                                      description="Most events sent but not yet acknowledged by the collector.")
    batch_max_events: int = Field(64, ge=1, le=1000, title="Events per batch",
                                  description="When more than one event waits, up to this many go in one "
                                              "message (the events topic, JSON lines); a single waiting "
                                              "event goes alone on events/<type>. At most the collector's "
                                              "limits.max_batch_events.")
    batch_max_bytes: int = Field(256 * 1024, ge=1024, title="Batch size (bytes)",
                                 description="Largest batch message; more events go in further messages. "
                                             "At most the collector's limits.max_batch_bytes.")
    ack_timeout_s: float = Field(30.0, gt=0, title="Acknowledgement timeout (s)",
                                 description="Events still unacknowledged this long after the last "
                                             "acknowledgement are sent again.")
    ack_timeout_max_s: float = Field(600.0, gt=0, title="Longest acknowledgement wait (s)",
                                     description="Each timeout with no acknowledgement since the last one "
                                                 "doubles the wait before sending again, up to this.")
    health_interval_s: float = Field(60.0, gt=0, title="Health interval (s)",
                                     description="How often the retained health topic is refreshed.")
    reconnect_min_s: float = Field(1.0, gt=0, title="Reconnect delay minimum (s)",
                                   description="First wait before reconnecting; doubles up to the maximum. "
                                               "Also the first back-off after the broker refuses a publish.")
    reconnect_max_s: float = Field(60.0, gt=0, title="Reconnect delay maximum (s)",
                                   description="Longest wait between reconnection attempts or after refusals.")
    offline_fault_after_s: float = Field(120.0, gt=0, title="Offline fault after (s)",
                                         description="A link down this long raises an uplink.offline fault.")
    command_max_age_s: float = Field(300.0, gt=0, title="Command maximum age (s)",
                                     description="Commands issued longer ago (or further in the future) "
                                                 "than this are refused; the retained hotlist is judged "
                                                 "by its version alone.")
    command_state_file: Path | None = Field(None, title="Command version file",
                                            description="Where the highest accepted command version is kept, "
                                                        "so a restart cannot reopen a replay. Default: "
                                                        "command-versions.json beside storage.database.")
    staged_config_file: Path = Field(Path("/etc/roadcam/site.next.yaml"), title="Staged config file",
                                     description="Where a validated config_update is written (atomically) "
                                                 "for the next start.")
    config_trial_s: float = Field(60.0, gt=0, title="Config trial (s)",
                                  description="How long the appliance must run with a promoted config "
                                              "update before it is kept; a crash, kill, hang or failed "
                                              "start before then restores the previous config. Keep it "
                                              "above the unit's WatchdogSec.")

    @model_validator(mode="after")
    def _delays_in_order(self):
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self

    def event_signer(self) -> Callable[[Event], str] | None:
        """The ``sign`` callable for the event store, from ``signing_key_file`` (None without
        one). Raises ConfigError naming the file when it is not an Ed25519 PEM key."""
        if self.signing_key_file is None:
            return None
        key = load_private_key(self.signing_key_file)
        return lambda event: sign(key, event.canonical_json())
