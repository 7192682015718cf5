"""Shared fixtures."""

import os
import shutil
import uuid
from pathlib import Path

import pytest
from postgres_server import PostgresUnavailable, ThrowawayPostgres, memory_folder

from roadcam.collector.local_broker import Broker
from roadcam.collector.pki import write_test_pki
from roadcam.sim import SimRoad, load_scenario

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


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL for the whole session (tests/postgres_server.py), in memory where
    the machine has /dev/shm; each test gets its own database on it (:func:`postgres_url`).
    Skipped where there is none."""
    try:
        server = ThrowawayPostgres(parent=memory_folder())
    except PostgresUnavailable as error:
        pytest.skip(str(error))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a new, empty database on the session's PostgreSQL, dropped after the test."""
    name = f"t_{uuid.uuid4().hex}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def sim_vehicle():
    """A frame of the smoke scenario (its shipped seed, not used in training) with a car whose
    plate is drawn at least 20 px wide: (image, vehicle box, plate box), and the road."""
    road = SimRoad.from_scenario(load_scenario("smoke").model_copy(update={"duration_s": 12.0}))
    road.skip_frames(60)
    while (frame := road.advance_frame()) is not None:
        for truth in road.truth.vehicles.values():
            plate = truth.plate_boxes.get(frame.index)
            box = truth.boxes.get(frame.index)
            if truth.kind == "car" and plate and box and plate[4] == 1.0 and box[4] > 0.9 and plate[2] - plate[0] >= 20:
                return frame.image, box[:4], plate[:4], road
        road.skip_frames(4)
    pytest.fail("no car with a legible plate in the first 12 s of the smoke scenario")


@pytest.fixture
def pty_pair():
    """(master fd, slave path): the test plays the device on the master side."""
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


@pytest.fixture
def chromium() -> str:
    """The Chromium binary; missing: a failure under CI, a skip elsewhere."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        reason = ("headless Chromium is not installed (/usr/bin/chromium): scripts/test.sh installs it "
                  "through scripts/test-browser.sh (apt-get install chromium, as root)")
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI=true and {reason}; the rendered fault report cannot be checked")
        pytest.skip(reason)
    return found
