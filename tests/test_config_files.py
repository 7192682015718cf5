"""`roadcam config check` reads the key and certificate files the uplink section names (issue 22,
item 9): a file that is missing, unreadable or not what its field needs is a problem with its
line and field path, exit status 2, never a config that checks ok and fails at run time."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import DEVICE

from roadcam.appliance.cli import main
from roadcam.collector.pki import write_test_pki


def site(tmp_path: Path, **uplink: Path) -> Path:
    """A site config whose uplink section names these files (line 5 onwards, one per line)."""
    lines = "".join(f"  {field}: {value}\n" for field, value in uplink.items())
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent(f"""\
        device: {{id: {DEVICE}, site: tn-bench}}
        storage: {{database: {tmp_path / 'events.db'}, evidence_dir: {tmp_path / 'evidence'}}}
        gpio: {{pin_factory: mock}}
        uplink:
        """) + lines)
    return path


def check(path: Path, capsys) -> tuple[int, list[str]]:
    status = main(["config", "check", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, [line.strip() for line in captured.err.splitlines()[1:]]


def test_the_right_files_check_ok(tmp_path, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=[])
    cert, key = pki.client(DEVICE)
    path = site(tmp_path, signing_key_file=pki.signing_key(DEVICE), collector_key_file=pki.collector_public_key,
                tls=f"{{ca_file: {pki.ca}, cert_file: {cert}, key_file: {key}}}")
    assert main(["config", "check", str(path)]) == 0
    assert "ok — device" in capsys.readouterr().out


def test_a_signing_key_that_is_not_a_key_is_refused_with_its_line(tmp_path, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=[])
    not_a_key = tmp_path / "notes.pem"
    not_a_key.write_text("remember to enroll the device\n")
    path = site(tmp_path, collector_key_file=pki.collector_public_key, signing_key_file=not_a_key)
    status, problems = check(path, capsys)
    assert status == 2
    assert problems == [f"{path}:6: uplink.signing_key_file: {not_a_key} is not an Ed25519 private key "
                        "(PEM): Unable to load PEM file"]


def test_every_wrong_key_file_is_listed(tmp_path, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=[])
    missing = tmp_path / "missing.pem"
    path = site(tmp_path,
                signing_key_file=pki.collector_public_key,  # a public key where the private one belongs
                collector_key_file=pki.signing_key(DEVICE),  # and the other way round
                command_state_file=missing)  # not read: it is written by the appliance
    status, problems = check(path, capsys)
    assert status == 2
    assert problems == [
        f"{path}:5: uplink.signing_key_file: {pki.collector_public_key} is not an Ed25519 private key (PEM): "
        "Valid PEM but no BEGIN/END delimiters for a private key found",
        f"{path}:6: uplink.collector_key_file: {pki.signing_key(DEVICE)} is not an Ed25519 public key (PEM): "
        "Valid PEM but no BEGIN PUBLIC KEY/END PUBLIC KEY delimiters"]


def test_an_rsa_or_ec_key_is_not_an_ed25519_key(tmp_path, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=[])
    _, tls_key = pki.client(DEVICE)
    path = site(tmp_path, signing_key_file=tls_key)
    status, problems = check(path, capsys)
    assert status == 2
    assert problems == [f"{path}:5: uplink.signing_key_file: {tls_key} is not an Ed25519 private key (PEM): "
                        "it holds a key of type ECPrivateKey"]


def test_missing_or_mismatched_tls_files_are_refused(tmp_path, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE, "tn-other"], collectors=[])
    cert, _ = pki.client(DEVICE)
    _, other_key = pki.client("tn-other")
    path = site(tmp_path, tls=f"{{ca_file: {tmp_path / 'nope.crt'}, cert_file: {cert}, key_file: {other_key}}}")
    status, problems = check(path, capsys)
    assert status == 2
    assert problems == [
        f"{path}:5: uplink.tls.ca_file: cannot read {tmp_path / 'nope.crt'}: No such file or directory",
    ]
    path = site(tmp_path, tls=f"{{ca_file: {pki.ca}, cert_file: {cert}, key_file: {other_key}}}")
    status, problems = check(path, capsys)
    assert status == 2
    assert problems == [f"{path}:5: uplink.tls: key_file {other_key} is not the key of the certificate in "
                        f"cert_file {cert}"]
