"""Publishing signed commands and hotlists to the devices.

The wire format and its signing are :mod:`roadcam.protocol.commands`.
"""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt

from roadcam.protocol.topics import HOTLIST, DeviceTopics


def publish_command(client: mqtt.Client, topics: DeviceTopics, payload: dict[str, Any]
                    ) -> mqtt.MQTTMessageInfo:
    """Send a signed command to one device (QoS 1, not retained)."""
    return client.publish(topics.command(payload["name"]), json.dumps(payload), qos=1)


def publish_hotlist(client: mqtt.Client, payload: dict[str, Any]) -> mqtt.MQTTMessageInfo:
    """Publish a signed hotlist to every device (QoS 1, retained, so a device that connects
    later gets the current one)."""
    return client.publish(HOTLIST, json.dumps(payload), qos=1, retain=True)
