"""A stand-in device for tests and benchmarks: signed, hash-chained events without an appliance.

:class:`SignedEventSource` numbers, chains and signs events exactly as a device's store does
(``prev`` = digest of the previous event, ``sig`` over the canonical JSON), so the collector can
be exercised, and measured, with nothing but a paho client in front of it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from roadcam.protocol.events import Event, EvidenceBlob, EvidenceRef, iso_utc, uuid7
from roadcam.protocol.signing import sign
from roadcam.protocol.topics import DeviceTopics


class SignedEventSource:
    """Makes one device's events: seq from 1, each linked to the one before and signed."""

    def __init__(self, device: str, site: str, key: Ed25519PrivateKey):
        self.topics = DeviceTopics(site, device)
        self._key = key
        self._seq = 0
        self._prev: str | None = None

    def next_event(self, event_type: str = "plate.read", data: dict[str, Any] | None = None,
                   evidence: tuple[EvidenceBlob, ...] = (), time_ns: int | None = None) -> Event:
        """The device's next event, signed."""
        self._seq += 1
        time_ns = time.time_ns() if time_ns is None else time_ns
        unsigned = Event(
            id=uuid7(time_ns // 1_000_000), device=self.topics.device, site=self.topics.site,
            type=event_type, time=iso_utc(time_ns), seq=self._seq,
            clock={"synced": True, "error_ms": 1.0},
            data={"plate": f"TST{self._seq:05d}"} if data is None else data,
            evidence=[EvidenceRef(sha256=blob.sha256, kind=blob.kind, bytes=len(blob.data),
                                  media_type=blob.media_type) for blob in evidence],
            prev=self._prev)
        self._prev = unsigned.digest()
        return unsigned.model_copy(update={"sig": sign(self._key, unsigned.canonical_json())})

    def publish(self, client: mqtt.Client, event: Event) -> mqtt.MQTTMessageInfo:
        """Publish an event on its topic, QoS 1."""
        return client.publish(self.topics.event(event.type), event_payload(event), qos=1)

    def publish_evidence(self, client: mqtt.Client, blob: EvidenceBlob) -> mqtt.MQTTMessageInfo:
        """Publish an evidence file on its topic, QoS 1."""
        return client.publish(self.topics.evidence(blob.sha256), blob.data, qos=1)


def event_payload(event: Event) -> bytes:
    """An event as it travels over MQTT: its JSON envelope."""
    return json.dumps(event.model_dump(), ensure_ascii=False, separators=(",", ":")).encode()


def mqtt5_client(client_id: str, **kwargs: Any) -> mqtt.Client:
    """A paho MQTT 5 client with the version-2 callback API."""
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                       **kwargs)
