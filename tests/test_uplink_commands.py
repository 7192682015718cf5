"""Commands: the gate refuses unsigned, altered, replayed, older, stale, misaddressed and deeply
nested ones (with a security event) and judges the retained hotlist by its version alone; valid
ones run on the analysis thread and are answered on their result topic; the run_diagnostics,
snapshot and config_update handlers."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import yaml
from appliances import build_appliance, site_data, stored
from uplink_doubles import TOPICS, FakeCollector, uplink_appliance, wait_until, write_key_pair

from roadcam.appliance.commands import CommandGate, VersionFile
from roadcam.appliance.site import load_site
from roadcam.common.errors import CommandRefused
from roadcam.hal.base import Frame
from roadcam.protocol.commands import sign_command
from roadcam.protocol.signing import load_public_key

NOW_NS = 1_800_000_000 * 10**9


def command(key, version, *, name="run_diagnostics", issued_at_ns=NOW_NS, args=None, device=TOPICS.device) -> bytes:
    return json.dumps(sign_command(key, name, args or {}, version, device=device, issued_at_ns=issued_at_ns)).encode()


@pytest.fixture
def keys(tmp_path):
    collector_key, _, public_file = write_key_pair(tmp_path, "collector")
    return collector_key, public_file


def gate(tmp_path, public_file) -> CommandGate:
    return CommandGate(load_public_key(public_file), VersionFile(tmp_path / "versions.json"), device=TOPICS.device,
                       max_age_ns=300 * 10**9)


def refusal(gate_, payload: bytes, name="run_diagnostics") -> str:
    with pytest.raises(CommandRefused) as caught:
        gate_.admit(name, payload, NOW_NS)
    return caught.value.reason


def test_a_signed_newer_command_passes_the_gate(tmp_path, keys):
    collector_key, public_file = keys
    admitted = gate(tmp_path, public_file).admit("snapshot", command(collector_key, 1, name="snapshot",
                                                                     args={"camera": "north"}), NOW_NS)
    assert (admitted.name, admitted.version, admitted.args) == ("snapshot", 1, {"camera": "north"})


def test_unsigned_altered_and_malformed_commands_are_refused(tmp_path, keys):
    collector_key, public_file = keys
    checker = gate(tmp_path, public_file)
    signed = json.loads(command(collector_key, 5))
    unsigned = {key: value for key, value in signed.items() if key != "sig"}
    assert refusal(checker, json.dumps(unsigned).encode()) == "unsigned"
    altered = {**signed, "body": {"reboot": True}}
    assert refusal(checker, json.dumps(altered).encode()).startswith("bad signature")
    impostor, _, _ = write_key_pair(tmp_path, "impostor")
    assert refusal(checker, command(impostor, 6)).startswith("bad signature")
    assert refusal(checker, command(collector_key, 8), name="config_update").startswith("signed for the command")
    assert refusal(checker, command(collector_key, 9, device="tn-other")).startswith("addressed to device 'tn-other'")
    assert refusal(checker, command(collector_key, 9, device="*")).startswith("addressed to device '*'")
    assert refusal(checker, json.dumps({**signed, "extra": 1}).encode()).startswith("malformed")
    assert refusal(checker, b"not json").startswith("malformed")
    assert refusal(checker, b"[" * 100_000).startswith("malformed: nested 100000 levels deep")


def test_replayed_older_and_stale_commands_are_refused_even_after_a_restart(tmp_path, keys):
    collector_key, public_file = keys
    gate(tmp_path, public_file).admit("run_diagnostics", command(collector_key, 10), NOW_NS)
    restarted = gate(tmp_path, public_file)
    assert refusal(restarted, command(collector_key, 10)).startswith("replayed or older")
    assert refusal(restarted, command(collector_key, 9)).startswith("replayed or older")
    assert refusal(restarted, command(collector_key, 11, issued_at_ns=NOW_NS - 301 * 10**9)).startswith("too old")
    assert refusal(restarted, command(collector_key, 12, issued_at_ns=NOW_NS + 301 * 10**9)).startswith("too old")
    restarted.admit("run_diagnostics", command(collector_key, 13), NOW_NS)
    restarted.admit("snapshot", command(collector_key, 1, name="snapshot"), NOW_NS)  # versions count per name


def test_the_retained_hotlist_is_judged_by_its_version_not_its_age(tmp_path, keys):
    collector_key, public_file = keys
    month_ago_ns = NOW_NS - 30 * 86_400 * 10**9
    full = {"kind": "full", "entries": []}
    hotlist = command(collector_key, 7, name="hotlist", device="*", issued_at_ns=month_ago_ns, args=full)
    assert gate(tmp_path, public_file).admit("hotlist", hotlist, NOW_NS).version == 7
    restarted = gate(tmp_path, public_file)
    assert restarted.admit("hotlist", hotlist, NOW_NS).repeat  # handed on quietly, not refused
    older = command(collector_key, 6, name="hotlist", device="*", args=full)
    assert refusal(restarted, older, name="hotlist").startswith("replayed or older")
    forged = {**json.loads(hotlist), "body": {"kind": "full", "entries": [{"plate": "ABC-1234"}]}}
    assert refusal(restarted, json.dumps(forged).encode(), name="hotlist").startswith("bad signature")
    assert refusal(restarted, command(collector_key, 1, issued_at_ns=month_ago_ns)).startswith("too old")


@pytest.mark.integration
def test_a_valid_command_is_answered_and_bad_ones_are_stored_as_security_events(tmp_path, broker, keys):
    collector_key, public_file = keys
    collector = FakeCollector(broker)
    appliance = uplink_appliance(tmp_path, broker, collector_key_file=str(public_file))
    appliance.start()
    result_topic = TOPICS.command_result("run_diagnostics")
    try:
        wait_until(lambda: collector.latest(TOPICS.status) == b"online", what="status online")
        now_ns = appliance.clock.wall_ns()
        collector.publish(TOPICS.command("run_diagnostics"), command(collector_key, 1, issued_at_ns=now_ns))
        wait_until(lambda: collector.latest(result_topic) is not None, what="the command result")
        answer = json.loads(collector.latest(result_topic))
        assert answer["version"] == 1 and answer["result"]["ok"] is True
        assert "uptime_s" in answer["result"]["health"] and "uplink" in answer["result"]["health"]
        collector.publish(TOPICS.command("run_diagnostics"), command(collector_key, 1, issued_at_ns=now_ns))
        wait_until(lambda: len(collector.messages[result_topic]) == 2, what="the replay's answer")
        assert json.loads(collector.latest(result_topic))["result"]["error"].startswith("refused: replayed")
    finally:
        appliance.shutdown()
        collector.close()
    security = stored(tmp_path, "security.refused")
    assert [(event.data["command"], event.data["version"]) for event in security] == [("run_diagnostics", 1)]
    assert [event.data["command"] for event in stored(tmp_path, "command.result")] == ["run_diagnostics"]


@pytest.mark.integration
def test_without_a_collector_key_every_command_is_refused(tmp_path, broker, keys):
    collector_key, _ = keys
    collector = FakeCollector(broker)
    appliance = uplink_appliance(tmp_path, broker)
    appliance.start()
    try:
        wait_until(lambda: collector.latest(TOPICS.status) == b"online", what="status online")
        collector.publish(TOPICS.command("snapshot"), command(collector_key, 1, name="snapshot",
                                                              issued_at_ns=appliance.clock.wall_ns()))
        wait_until(lambda: stored(tmp_path, "security.refused"), what="the security event")
    finally:
        appliance.shutdown()
        collector.close()
    assert "no collector key" in stored(tmp_path, "security.refused")[0].data["reason"]


def test_enqueued_commands_run_on_the_analysis_thread_and_are_refused_once_stopping(tmp_path):
    appliance = build_appliance(tmp_path)
    appliance.start()
    answered = threading.Event()
    seen = {}

    def reply(result):
        seen.update(result=result, thread=threading.current_thread().name)
        answered.set()

    try:
        appliance.enqueue_command("snapshot", {"camera": "north"}, reply)
        assert answered.wait(5)
    finally:
        appliance.shutdown()
    assert seen["thread"] == "analysis" and seen["result"]["ok"] is False
    late = []
    appliance.enqueue_command("run_diagnostics", {}, late.append)
    assert late and late[0]["ok"] is False and "stopping" in late[0]["error"]


def test_snapshot_stores_the_latest_frame_as_jpeg_evidence(tmp_path):
    appliance = build_appliance(tmp_path)
    appliance.start()
    try:
        handlers = appliance.plugin_manager.get_plugin("uplink.commands")
        image = np.full((48, 64, 3), 128, np.uint8)
        handlers.roadcam_analyze(frame=Frame("north", 7, time.time_ns(), time.monotonic_ns(), image),
                                 tracks=[], signals={})
        result = appliance.command("snapshot", {"camera": "north"})
        missing = appliance.command("snapshot", {"camera": "south"})
        evidence = appliance.store.read_evidence(result["sha256"])
    finally:
        appliance.shutdown()
    assert result["ok"] is True and evidence[:2] == b"\xff\xd8"
    assert missing == {"ok": False, "error": "no frame from camera 'south'; cameras with frames: north"}
    (snapshot,) = stored(tmp_path, "snapshot")
    assert snapshot.data == {"camera": "north", "frame_index": 7} and snapshot.evidence[0].sha256 == result["sha256"]


def test_config_update_validates_and_stages_the_new_config_atomically(tmp_path):
    staged = tmp_path / "staged" / "site.next.yaml"
    appliance = build_appliance(tmp_path, uplink={"staged_config_file": str(staged)})
    appliance.start()
    try:
        new_config = site_data(tmp_path, health={"interval_s": 30})
        good = appliance.command("config_update", {"config": new_config})
        bad = appliance.command("config_update", {"config": {**new_config, "health": {"interval_s": -1}}})
        foreign = appliance.command("config_update",
                                    {"config": {**new_config, "device": {"id": "tn-9", "site": "x-1"}}})
    finally:
        appliance.shutdown()
    assert good == {"ok": True, "staged": str(staged), "restart_required": True, "restarting": True, "trial_s": 60.0}
    config, _ = load_site(staged)
    assert config.health.interval_s == 30
    assert bad["ok"] is False and bad["errors"][0].startswith("config_update: health.interval_s")
    assert foreign["ok"] is False and "tn-9" in foreign["errors"][0]
    assert yaml.safe_load(staged.read_text())["health"] == {"interval_s": 30}
