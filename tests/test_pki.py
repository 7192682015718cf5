"""The test PKI: certificates chain to the right CA with the right names, the CRL lists exactly
the revoked devices, and the signing keys pair up."""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from roadcam.collector.pki import main, write_test_pki
from roadcam.protocol.signing import load_private_key, load_public_key, sign, verify


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def common_name(certificate) -> str:
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_clients_are_signed_by_their_ca_with_the_device_id_as_cn(tmp_path):
    pki = write_test_pki(tmp_path, devices=["tn-0001"], collectors=["collector-1"])
    ca = load(pki.ca)
    other_ca = load(tmp_path / "other-ca/ca.crt")
    for name in ("tn-0001", "collector-1"):
        certificate = load(pki.client(name)[0])
        assert common_name(certificate) == name
        certificate.verify_directly_issued_by(ca)
    foreign = load(pki.client("tn-0001", other_ca=True)[0])
    foreign.verify_directly_issued_by(other_ca)
    assert foreign.issuer != ca.subject


def test_the_server_certificate_names_the_loopback_addresses(tmp_path):
    pki = write_test_pki(tmp_path, devices=[], collectors=["collector-1"])
    names = load(pki.server_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}


def test_the_crl_lists_exactly_the_revoked_devices(tmp_path):
    pki = write_test_pki(tmp_path, devices=["tn-0001"], collectors=["collector-1"], revoked_devices=["tn-0666"])
    crl = x509.load_pem_x509_crl(pki.crl.read_bytes())
    assert crl.is_signature_valid(load(pki.ca).public_key())
    assert [entry.serial_number for entry in crl] == [load(pki.client("tn-0666")[0]).serial_number]


def test_signing_keys_pair_with_the_published_public_keys(tmp_path):
    pki = write_test_pki(tmp_path, devices=["tn-0001"], collectors=["collector-1"])
    for private, public in ((pki.signing_key("tn-0001"), pki.device_keys_dir / "tn-0001.pem"),
                            (pki.collector_signing_key, pki.collector_public_key)):
        assert verify(load_public_key(public), b"m", sign(load_private_key(private), b"m"))


def test_the_command_line_writes_a_pki(tmp_path, capsys):
    assert main([str(tmp_path), "--device", "tn-0001", "--revoked-device", "tn-0002"]) == 0
    assert (tmp_path / "clients/collector-1.crt").is_file()
    assert (tmp_path / "device-keys/tn-0002.pem").is_file()
