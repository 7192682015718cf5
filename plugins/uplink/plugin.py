"""Wiring: the config section, the uplink's start and stop, its observer and health hooks."""

from __future__ import annotations

from roadcam.appliance.commands import CommandGate, VersionFile
from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.uplink import Uplink
from roadcam.appliance.uplink_config import UplinkConfig
from roadcam.common.errors import RoadcamError
from roadcam.protocol.signing import load_public_key

from .handlers import CommandHandlers


class UplinkHooks:
    """The running uplink's hooks: new events nudge it, its figures join the health event, and
    it stops before the store closes."""

    def __init__(self, uplink: Uplink):
        self.uplink = uplink

    @hookimpl
    def roadcam_event(self, event):
        self.uplink.observe(event)

    @hookimpl
    def roadcam_collect_health(self, appliance):
        return {"uplink": self.uplink.figures()}

    @hookimpl
    def roadcam_unconfigure(self, appliance):
        self.uplink.stop()


def build_uplink(appliance, config: UplinkConfig) -> Uplink:
    """An uplink for this appliance, with its command gate. Raises a RoadcamError naming the
    file at fault when a key, certificate or the command version file cannot be read."""
    collector_key = load_public_key(config.collector_key_file) if config.collector_key_file else None
    versions_path = config.command_state_file or appliance.config.storage.database.with_name("command-versions.json")
    gate = CommandGate(collector_key, VersionFile(versions_path), device=appliance.config.device.id,
                       max_age_ns=int(config.command_max_age_s * 1e9))
    return Uplink(appliance, config, gate)


class UplinkPlugin:
    """Module-level entry: declares the section; on configure registers the command handlers
    and, when enabled, starts the uplink. A broken uplink setup is a fault, not a stop: the
    appliance keeps recording into the outbox."""

    @hookimpl
    def roadcam_config_section(self):
        return "uplink", UplinkConfig

    @hookimpl
    def roadcam_configure(self, appliance):
        config = appliance.config.section("uplink")
        appliance.plugin_manager.register(CommandHandlers(appliance, config), name="uplink.commands")
        if not config.enabled:
            return
        try:
            uplink = build_uplink(appliance, config)
        except RoadcamError as exc:
            appliance.raise_fault("uplink.config", "uplink", str(exc))
            return
        appliance.plugin_manager.register(UplinkHooks(uplink), name="uplink.link")
        uplink.start()


plugin = UplinkPlugin()
