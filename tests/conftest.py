"""Shared fixtures."""

import pytest

from collector.local_broker import Broker
from collector.pki import write_test_pki

#: The bench appliance's device id (tests/appliances.py).
DEVICE = "tn-test"


@pytest.fixture
def broker(tmp_path):
    """A real Mosquitto on a free loopback port, plain MQTT, no ACL; stopped after the test.
    Build :class:`broker.Broker` yourself for persistence, an ACL or TLS."""
    with Broker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def pki(tmp_path):
    """A test PKI with certificates and signing keys for the bench device and collector-1."""
    return write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=["collector-1"])
