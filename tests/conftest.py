"""Shared fixtures."""

import pytest

from collector.local_broker import Broker


@pytest.fixture
def broker(tmp_path):
    """A real Mosquitto on a free loopback port, plain MQTT, no ACL; stopped after the test.
    Build :class:`broker.Broker` yourself for persistence, an ACL or TLS."""
    with Broker(tmp_path / "broker") as running:
        yield running
