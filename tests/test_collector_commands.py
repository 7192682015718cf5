"""Signed, versioned commands: what a device can verify and what it must refuse."""

from __future__ import annotations

import json

import pytest

from roadcam.collector.pki import write_test_pki
from roadcam.protocol.commands import sign_command, signed_bytes, verify_command
from roadcam.protocol.signing import load_private_key, load_public_key


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    pki = write_test_pki(tmp_path_factory.mktemp("pki"), devices=["tn-0001"], collectors=["collector-1"])
    return load_private_key(pki.collector_signing_key), load_public_key(pki.collector_public_key)


def test_a_signed_command_has_the_five_fields_and_verifies(keys):
    private, public = keys
    payload = sign_command(private, "hotlist", {"mode": "full", "plates": ["ABC1234"]}, version=7,
                           device="*", issued_at_ns=1_790_000_000_000_000_000)
    assert set(payload) == {"name", "device", "version", "issued_at", "body", "sig"}
    assert payload["issued_at"] == "2026-09-21T14:13:20.000000Z"
    assert verify_command(public, json.loads(json.dumps(payload)))


def test_the_signature_covers_canonical_json_of_everything_but_sig(keys):
    private, _ = keys
    payload = sign_command(private, "snapshot", {"camera": "main"}, version=1, device="tn-0001")
    expected = json.dumps({k: v for k, v in payload.items() if k != "sig"}, sort_keys=True,
                          separators=(",", ":")).encode()
    assert signed_bytes(payload) == expected


@pytest.mark.parametrize("change", [
    {"version": 8}, {"name": "config"}, {"device": "tn-0002"}, {"body": {"mode": "full", "plates": []}},
    {"issued_at": "2030-01-01T00:00:00.000000Z"}, {"sig": None}, {"version": "7"}, {"extra": 1},
])
def test_an_altered_or_malformed_command_is_refused(keys, change):
    private, public = keys
    payload = sign_command(private, "hotlist", {"mode": "full", "plates": ["ABC1234"]}, version=7, device="*")
    assert not verify_command(public, {**payload, **change})


def test_a_command_signed_by_another_key_is_refused(keys, tmp_path):
    _, public = keys
    stranger = write_test_pki(tmp_path, devices=[], collectors=["collector-1"])
    payload = sign_command(load_private_key(stranger.collector_signing_key), "run_diagnostics", {}, version=1,
                           device="tn-0001")
    assert not verify_command(public, payload)


def test_version_zero_is_refused_at_signing(keys):
    with pytest.raises(ValueError, match="version"):
        sign_command(keys[0], "hotlist", {}, version=0, device="*")
