"""The central office sends commands and hotlists with ``roadcam-collector command`` and
``roadcam-collector hotlist``: signed, versioned from the collector database, delivered through a
real Mosquitto to a real appliance, whose stored ``command.result`` the command waits for."""

from __future__ import annotations

import json

import pytest
import yaml
from appliances import stored
from conftest import DEVICE
from test_delivery import start_collector
from uplink_doubles import uplink_appliance, wait_until

from roadcam.collector.cli import main as collector_main

pytestmark = pytest.mark.integration


@pytest.fixture
def central(tmp_path, broker, pki):
    """A serving collector (SQLite) with a signing key, and its config file for the CLI."""
    collector, storage = start_collector(tmp_path, broker, pki)
    yield tmp_path / "collector.yaml", storage
    collector.stop()
    storage.close()


@pytest.fixture
def device(tmp_path, broker, pki, central):
    """The bench appliance, online through the uplink, known to the collector's registry."""
    (tmp_path / "device").mkdir()
    appliance = uplink_appliance(tmp_path / "device", broker, signing_key_file=str(pki.signing_key(DEVICE)),
                                 collector_key_file=str(pki.collector_public_key))
    appliance.start()
    _, storage = central
    wait_until(lambda: any(record.device == DEVICE and record.online for record in storage.devices()),
               what="the device online in the registry")
    yield appliance
    appliance.shutdown()


def test_a_command_reaches_the_device_and_its_stored_result_is_printed(tmp_path, central, device, capsys):
    config, _ = central
    assert collector_main(["command", DEVICE, "run_diagnostics", "--config", str(config), "--wait", "20"]) == 0
    printed = capsys.readouterr().out
    assert "sent run_diagnostics version" in printed
    result = json.loads(printed[printed.index("{"):])
    assert result["ok"] is True and "uptime_s" in result["health"]
    [answer] = stored(tmp_path / "device", "command.result")
    assert answer.data["command"] == "run_diagnostics" and str(answer.data["version"]) in printed


def test_versions_rise_per_command_so_the_device_accepts_each_new_one(tmp_path, central, device, capsys):
    config, storage = central
    for _ in range(2):
        assert collector_main(["command", DEVICE, "run_diagnostics", "--config", str(config), "--wait", "20"]) == 0
    versions = [event.data["version"] for event in stored(tmp_path / "device", "command.result")]
    assert len(versions) == 2 and versions[0] < versions[1] == storage.command_version("run_diagnostics")
    assert not stored(tmp_path / "device", "security.refused")


def test_a_full_hotlist_then_a_change_are_applied_on_the_device(tmp_path, central, device, capsys):
    config, storage = central
    listed = tmp_path / "hotlist.yaml"
    listed.write_text(yaml.safe_dump([{"plate": "ABC-1234", "reason": "stolen", "priority": 1},
                                      {"plate": "XYZ-987", "reason": "wanted"}]))
    assert collector_main(["hotlist", "publish", str(listed), "--config", str(config)]) == 0
    added = tmp_path / "added.yaml"
    added.write_text(yaml.safe_dump([{"plate": "KLM-5067", "reason": "wanted", "note": "case 42"}]))
    assert collector_main(["hotlist", "change", "--add", str(added), "--remove", "XYZ-987",
                           "--config", str(config)]) == 0
    wait_until(lambda: len(stored(tmp_path / "device", "command.result")) == 2, what="both hotlist results")
    first, second = [event.data for event in stored(tmp_path / "device", "command.result")]
    assert first["result"] == {"ok": True, "version": first["version"], "entries": 2}
    assert second["result"] == {"ok": True, "version": storage.command_version("hotlist"), "entries": 2}
    saved = json.loads((tmp_path / "device" / "hotlist.json").read_text())
    assert sorted(entry["plate"] for entry in saved["entries"]) == ["ABC-1234", "KLM-5067"]


def test_a_hotlist_the_devices_would_refuse_is_not_sent(tmp_path, central, capsys):
    config, storage = central
    listed = tmp_path / "hotlist.yaml"
    listed.write_text(yaml.safe_dump([{"plate": "ABC-1234", "reason": "stolen"},
                                      {"plate": "XYZ-987", "reason": "late"}]))
    assert collector_main(["hotlist", "publish", str(listed), "--config", str(config)]) == 2
    assert "entry 2: entry XYZ-987: reason must be one of stolen, wanted, other" in capsys.readouterr().err
    assert storage.command_version("hotlist") == 0


def test_an_unknown_device_and_a_missing_signing_key_are_clear_errors(tmp_path, central, capsys):
    config, _ = central
    assert collector_main(["command", "tn-nobody", "snapshot", "--config", str(config)]) == 2
    assert "device 'tn-nobody' has never reported to this collector" in capsys.readouterr().err
    unsigned = tmp_path / "unsigned.yaml"
    unsigned.write_text("\n".join(line for line in config.read_text().splitlines()
                                  if not line.startswith("signing_key")))
    assert collector_main(["command", DEVICE, "snapshot", "--config", str(unsigned), "--site", "tn-bench"]) == 2
    assert "signing_key: set the collector's Ed25519 private key" in capsys.readouterr().err
