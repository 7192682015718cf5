"""MQTT topic names, in one place for the device and the collector.

``roadcam/v1/{site}/{device}/…`` per device; ``roadcam/v1/hotlist`` for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "roadcam/v1"
HOTLIST = f"{ROOT}/hotlist"
#: The shared-subscription group the collectors join, so several split the load.
COLLECTOR_GROUP = "collectors"


@dataclass(frozen=True)
class DeviceTopics:
    """Every topic of one device."""

    site: str
    device: str

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.site}/{self.device}"

    @property
    def status(self) -> str:
        """Retained ``online``/``offline``; the last will says ``offline``."""
        return f"{self.base}/status"

    @property
    def health(self) -> str:
        """Retained latest health summary."""
        return f"{self.base}/health"

    @property
    def ack(self) -> str:
        """Collector → device: ``{"seq": N, "digest": D}``, stored the chain up to the event N
        whose digest is D (:mod:`roadcam.protocol.acks`)."""
        return f"{self.base}/ack"

    def event(self, event_type: str) -> str:
        """One event of type ``event_type`` (JSON envelope)."""
        return f"{self.base}/events/{event_type}"

    @property
    def event_batch(self) -> str:
        """Several events of this device in one message (JSON lines, see
        :mod:`roadcam.protocol.event_batches`); what a backlog drains as."""
        return f"{self.base}/events"

    def evidence(self, sha256: str) -> str:
        return f"{self.base}/evidence/{sha256}"

    def command(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    def command_result(self, name: str) -> str:
        return f"{self.base}/cmd/{name}/result"


def parse_device_topic(topic: str) -> tuple[str, str, str]:
    """(site, device, rest) of a per-device topic; ValueError for any other topic."""
    parts = topic.split("/", 4)
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != ROOT or not parts[2] or not parts[3]:
        raise ValueError(f"not a roadcam device topic: {topic!r}")
    return parts[2], parts[3], parts[4]
