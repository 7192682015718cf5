"""roadcam.service under a real systemd (issue 27 item 4: "a test under systemd where the machine
allows it"): ``roadcam install-units --root`` prepares a root (user, folders, the unit enabled),
systemd boots it as PID 1 of its own namespaces (tests/systemd_container.py), the shipped unit
runs ``roadcam run`` with all of its sandboxing, and a SIGSTOP of the appliance is caught by the
watchdog, which aborts it and restarts it (Restart=always) with every event stored before still
there. tests/test_systemd_watchdog.py tests the same notify logic without systemd.

A drop-in shortens the shipped WatchdogSec=30 and RestartSec=5 to :data:`WATCHDOG_S` and
:data:`RESTART_S`, as a technician's ``systemctl edit`` would: the appliance pings every
WatchdogSec/2 of whatever systemd hands it (WATCHDOG_USEC), so the abort and the restart show the
same at 10 s as at 30 s, some 25 s sooner.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from systemd_container import SystemdContainer, prepare_root, unavailable
from test_systemd_units import unit_settings

from roadcam.appliance.store import read_events
from roadcam.provisioning.units import SHIPPED_UNITS, install_units

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(unavailable() is not None, reason=f"no real systemd here: {unavailable()}")]

UNIT = "roadcam.service"
#: The drop-in's WatchdogSec: well under the shipped one, and still 5 s between the analysis
#: thread's pings, which a loaded machine keeps.
WATCHDOG_S = 10
RESTART_S = 1
assert int(unit_settings(SHIPPED_UNITS / UNIT)["Service.WatchdogSec"][0]) > WATCHDOG_S


def wait_for(condition, timeout_s: float, what: str, container: SystemdContainer):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            status = container.systemctl("status", "--no-pager", UNIT).stdout
            raise AssertionError(f"{what} within {timeout_s:g} s\n{status}\n"
                                 f"{container.log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.5)


def stored_seqs(root: Path) -> list[int]:
    """The seq of every event in the appliance's store (its StateDirectory, /var/lib/roadcam)."""
    database = root / "var/lib/roadcam/events.db"
    if not database.exists():
        return []
    return [event.seq for event in read_events(database, limit=100_000)]


@pytest.fixture
def container(tmp_path):
    root = tmp_path / "pi"
    root.mkdir()
    prepare_root(root)
    installed = install_units(root)  # what `roadcam install-units --root` does, with the real tools
    assert installed.enabled == [UNIT]
    drop_in = root / "etc/systemd/system" / f"{UNIT}.d"
    drop_in.mkdir()
    (drop_in / "test-timing.conf").write_text(f"[Service]\nWatchdogSec={WATCHDOG_S}\nRestartSec={RESTART_S}\n")
    config = root / "etc/roadcam/site.yaml"
    config.write_text(yaml.safe_dump({
        "device": {"id": "tn-systemd", "site": "tn-bench"}, "gpio": {"pin_factory": "mock"},
        "loops": [{"name": "lane1", "pin": "GPIO5"}], "health": {"interval_s": 0.5}}))
    roadcam_gid = next(int(line.split(":")[2]) for line in (root / "etc/group").read_text().splitlines()
                       if line.startswith("roadcam:"))
    os.chown(config, 0, roadcam_gid)
    config.chmod(0o640)
    container = SystemdContainer(root)
    container.start()
    try:
        yield container
    finally:
        container.stop()


def test_the_watchdog_restarts_a_stopped_appliance_without_losing_events(container):
    root = container.root
    wait_for(lambda: container.show(UNIT, "ActiveState")["ActiveState"] == "active", 90,
             "roadcam.service did not become active (Type=notify: READY=1)", container)
    first = container.show(UNIT, "MainPID", "NRestarts", "User", "WatchdogUSec", "RestartUSec")
    assert first["NRestarts"] == "0" and first["User"] == "roadcam"
    assert (first["WatchdogUSec"], first["RestartUSec"]) == (f"{WATCHDOG_S}s", f"{RESTART_S}s")  # the drop-in
    wait_for(lambda: len(stored_seqs(root)) >= 3, 60, "no events stored", container)

    stopped_at = time.monotonic()
    assert container.systemctl("kill", "--signal=SIGSTOP", UNIT).returncode == 0
    before = stored_seqs(root)
    # systemd's own record: in the RestartSec between the abort and the new start, Result=watchdog
    wait_for(lambda: container.show(UNIT, "Result")["Result"] == "watchdog", WATCHDOG_S + 15,
             "the watchdog did not fire", container)
    aborted_s = time.monotonic() - stopped_at
    restarted = wait_for(lambda: (lambda now: now if now["NRestarts"] == "1" and now["ActiveState"] == "active"
                                  else None)(container.show(UNIT, "MainPID", "NRestarts", "ActiveState")),
                         RESTART_S + 60, "not restarted", container)
    restarted_s = time.monotonic() - stopped_at
    assert restarted["MainPID"] != first["MainPID"]
    assert aborted_s <= WATCHDOG_S + 2, aborted_s  # within WatchdogSec of the last ping (polled every 0.5 s)
    wait_for(lambda: len(stored_seqs(root)) > len(before) + 2, 60, "no events stored after the restart",
             container)
    after = stored_seqs(root)
    assert set(before) <= set(after) and after == sorted(after)
    assert after == list(range(after[0], after[0] + len(after)))  # no event lost: the seqs run on unbroken
    print(f"watchdog: SIGSTOP -> aborted in {aborted_s:.1f} s, running again in {restarted_s:.1f} s "
          f"(WatchdogSec={WATCHDOG_S}, RestartSec={RESTART_S}); "
          f"{len(before)} events before, {len(after)} after")
