"""Apply an enrolment to the running broker, live, through Mosquitto's dynamic-security API.

The broker's policy file (:mod:`roadcam.collector.broker_policy`) is read only when Mosquitto
starts. A device enrolled while it runs is added to it by commands published to
``$CONTROL/dynamic-security/v1`` (the plugin answers on ``.../v1/response``), sent as the base
policy's ``broker-admin`` client, whose role allows exactly that and nothing else. The plugin
then writes its file again with the new device, so a cold start keeps it.

One device takes one round trip: create its role and its client, then set both (the creates
fail harmlessly with "already exists" when the device was enrolled before, and the modifies
make a re-enrolment at another site take effect). Any other answer, a refused publish or no
answer at all is a :class:`BrokerAdminError` saying what to fix.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from roadcam.common.errors import ConfigError

from .broker_policy import device_entries

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
#: The client of the base policy allowed to send dynamic-security commands (its certificate's CN).
ADMIN_CLIENT = "broker-admin"
ADMIN_ROLE = "roadcam-broker-admin"
_ALREADY = ("Role already exists", "Client already exists")


class BrokerAdminError(ConfigError):
    """The running broker did not take a dynamic-security command; the message says why."""


@dataclass(frozen=True)
class BrokerAdmin:
    """Where the broker is and the TLS files of its ``broker-admin`` client."""

    host: str
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    timeout_s: float = 10.0

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``commands`` in one message and return the plugin's answer to each, in order
        (an answer with an ``error`` is returned, not raised). BrokerAdminError when the broker
        cannot be reached, refuses the commands or does not answer."""
        tags = [uuid.uuid4().hex for _ in commands]
        session = _Session(self, tags)
        try:
            session.open()
            session.send({"commands": [{**command, "correlationData": tag} for command, tag in zip(commands, tags)]})
            return session.answers()
        finally:
            session.close()

    def apply_device(self, device: str, site: str | None, base: dict[str, Any]) -> None:
        """Give ``device`` (enrolled at ``site``) its client and role on the running broker,
        as :func:`roadcam.collector.broker_policy.render_policy` would in the file."""
        client, role = device_entries(device, site, base)
        answers = self.run([{"command": "createRole", **role}, {"command": "modifyRole", **role},
                            {"command": "createClient", **client}, {"command": "modifyClient", **client}])
        for answer in answers:
            error = answer.get("error")
            if error and error not in _ALREADY:
                raise BrokerAdminError(f"the broker at {self.host}:{self.port} refused {answer.get('command')} for "
                                       f"device {device}: {error}")


class _Session:
    """One short MQTT 5 connection as ``broker-admin``: subscribe to the answers, publish, wait."""

    def __init__(self, admin: BrokerAdmin, tags: list[str]):
        self._admin = admin
        self._where = f"the broker at {admin.host}:{admin.port}"
        self._tags = tags
        self._answers: dict[str, dict[str, Any]] = {}
        self._done = threading.Event()
        self._step = threading.Event()
        self._outcome: str | None = None
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{ADMIN_CLIENT}-{uuid.uuid4().hex[:12]}",
                                   protocol=mqtt.MQTTv5)
        self._client.tls_set(ca_certs=str(admin.ca_file), certfile=str(admin.cert_file),
                             keyfile=str(admin.key_file))
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_ack
        self._client.on_publish = lambda client, userdata, mid, reason, properties: self._on_ack(
            client, userdata, mid, [reason], properties)
        self._client.on_message = self._on_message

    def open(self) -> None:
        try:
            self._client.connect(self._admin.host, self._admin.port)
        except (OSError, ValueError) as error:
            raise BrokerAdminError(f"cannot reach {self._where} to apply the enrolment live: {error}") from None
        self._client.loop_start()
        self._wait("connect")
        self._step.clear()
        self._client.subscribe(RESPONSE_TOPIC, qos=1)
        self._wait(f"subscribe to {RESPONSE_TOPIC}")

    def send(self, message: dict[str, Any]) -> None:
        self._step.clear()
        self._client.publish(CONTROL_TOPIC, json.dumps(message), qos=1)
        self._wait(f"publish to {CONTROL_TOPIC}")

    def answers(self) -> list[dict[str, Any]]:
        if not self._done.wait(self._admin.timeout_s):
            raise BrokerAdminError(f"{self._where} did not answer the dynamic-security commands within "
                                   f"{self._admin.timeout_s:g} s: is its dynamic-security plugin loaded "
                                   "(collector/mosquitto/mosquitto.conf)?")
        return [self._answers[tag] for tag in self._tags]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _wait(self, what: str) -> None:
        if not self._step.wait(self._admin.timeout_s):
            raise BrokerAdminError(f"no answer from {self._where} to {what} within {self._admin.timeout_s:g} s")
        if self._outcome is not None:
            raise BrokerAdminError(
                f"{self._where} refused the {what} of {ADMIN_CLIENT} ({self._outcome}): its policy must give the "
                f"client {ADMIN_CLIENT} the role {ADMIN_ROLE} (the shipped base policy does; render it again "
                "with roadcam-collector broker-policy and restart the broker once), and the certificate "
                f"must be the CA's, with CN {ADMIN_CLIENT}")

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        self._outcome = None if not reason.is_failure else str(reason)
        self._step.set()

    def _on_ack(self, client, userdata, mid, reasons, properties) -> None:
        failed = [str(reason) for reason in reasons if reason.is_failure]
        self._outcome = failed[0] if failed else None
        self._step.set()

    def _on_message(self, client, userdata, message) -> None:
        try:
            responses = json.loads(message.payload).get("responses", [])
        except (ValueError, AttributeError):
            return
        for response in responses if isinstance(responses, list) else []:
            if isinstance(response, dict) and response.get("correlationData") in self._tags:
                self._answers[response["correlationData"]] = response
        if len(self._answers) == len(self._tags):
            self._done.set()
