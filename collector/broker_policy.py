"""The broker's access policy, rendered from the device registry.

The policy is a file for Mosquitto's dynamic-security plugin (see
``collector/mosquitto/mosquitto.conf`` for why not an ``acl_file``): the shipped base
(``collector/mosquitto/dynamic-security.json``: everything denied by default, the collectors'
role and the collector identities) plus, for each device enrolled in the registry
(:mod:`roadcam.collector.device_keys`), a client named by its device id (its certificate's CN) with a
role of its own:

- write ``status``, ``health``, ``events``, ``events/<type>``, ``evidence/<sha256>`` and
  ``cmd/<name>/result`` under ``roadcam/v1/<site>/<device>/``, its enrolled site only;
- subscribe to and receive its ``ack`` and ``cmd/<name>`` there, and the hotlist.

Per-device roles, because neither the plugin of Mosquitto 2.0 nor an ACL pattern can name a
device's site (patterns substitute only the username and the client id). A device enrolled
without a site is *unbound*: its role names any site (``+``), as the old ACL did; the render
lists such devices so they can be bound. A certificate whose CN is neither a device nor a
collector gets nothing (the plugin defers, and the broker denies what nobody grants).

``roadcam-collector broker-policy`` writes the file; the broker reads it when it starts. An
enrolment made while the broker runs is also applied to it live (:mod:`roadcam.collector.broker_admin`,
as the base policy's ``broker-admin`` client), and the plugin writes its file again with it, so
a cold start and the running broker agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from roadcam.common.errors import ConfigError
from roadcam.protocol.topics import HOTLIST, DeviceTopics

from .device_keys import DeviceKeys

#: A site level matching every site: what an unbound device's topics name.
ANY_SITE = "+"


@dataclass(frozen=True)
class Policy:
    """A rendered policy: the plugin's document, the devices it lets in, and those of them
    enrolled without a site."""

    document: dict[str, Any]
    devices: tuple[str, ...]
    unbound: tuple[str, ...]


def base_policy(path: Path | None = None) -> dict[str, Any]:
    """The base document: ``path``, or the shipped ``collector/mosquitto/dynamic-security.json``."""
    try:
        text = (Path(path).read_text() if path is not None
                else (resources.files("roadcam.collector") / "mosquitto" / "dynamic-security.json").read_text())
        document = json.loads(text)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path or 'the shipped dynamic-security.json'}: cannot read the base "
                          f"broker policy ({error})") from error
    if not isinstance(document, dict) or not all(
            isinstance(document.get(key), list) for key in ("clients", "groups", "roles")):
        raise ConfigError(f"{path}: a broker policy is a JSON object with clients, groups and roles lists")
    return document


def render_policy(registry: DeviceKeys, base: dict[str, Any]) -> Policy:
    """``base`` plus a client and a role for every device enrolled in ``registry``."""
    clients, device_roles, unbound = [], [], []
    for enrolment in registry.enrolments():
        if enrolment.site is None:
            unbound.append(enrolment.device)
        client, role = device_entries(enrolment.device, enrolment.site, base)
        clients.append(client)
        device_roles.append(role)
    document = {**base, "clients": [*base["clients"], *clients], "roles": [*base["roles"], *device_roles]}
    return Policy(document=document, devices=tuple(client["username"] for client in clients),
                  unbound=tuple(unbound))


def device_entries(device: str, site: str | None, base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plugin's client and role of one device enrolled at ``site`` (None: unbound, any site).
    ConfigError when the device would take the name of a client or role of ``base`` (a device
    called ``collector-1`` must never get, or take over, a collector's identity)."""
    check_device_name(device, base)
    role = device_role(device)
    site = site or ANY_SITE
    return ({"username": device, "textname": f"roadcam device at {site}", "roles": [{"rolename": role}]},
            {"rolename": role, "acls": device_acls(DeviceTopics(site, device))})


def device_role(device: str) -> str:
    """The name of the role of its own that every device gets."""
    return f"roadcam-device-{device}"


def check_device_name(device: str, base: dict[str, Any]) -> None:
    """ConfigError when ``device`` or its role has the name of a client or role of ``base``."""
    if (device in {client.get("username") for client in base["clients"]}
            or device_role(device) in {role.get("rolename") for role in base["roles"]}):
        raise ConfigError(f"device {device!r} has the name of a client or role of the base broker "
                          "policy: rename one of them")


def device_acls(topics: DeviceTopics) -> list[dict[str, Any]]:
    """What one device may do, as the plugin's ACL entries."""
    sends = [topics.status, topics.health, topics.event_batch, topics.event("#"),
             topics.evidence("#"), topics.command_result("+")]
    reads = [topics.ack, topics.command("+"), HOTLIST]
    return ([_allow("publishClientSend", topic) for topic in sends]
            + [_allow(kind, topic) for topic in reads for kind in ("subscribePattern", "publishClientReceive")])


def write_policy(path: Path, policy: Policy) -> None:
    """Write the policy document to ``path`` whole (a temporary file renamed into place), so a
    broker starting meanwhile reads the old policy or the new one, never half of one."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(policy.document, indent=2) + "\n")
    os.replace(temporary, path)


def _allow(acl_type: str, topic: str) -> dict[str, Any]:
    return {"acltype": acl_type, "topic": topic, "priority": 0, "allow": True}
