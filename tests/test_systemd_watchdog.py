"""The systemd watchdog (issue 27): ``roadcam run`` feeds it only while its analysis loop is
alive, so a hung loop is killed and restarted within WatchdogSec, and nothing stored is lost.

PID 1 here is not systemd, so the test plays its part with the same protocol: a real unix
datagram socket as ``NOTIFY_SOCKET``, ``WATCHDOG_USEC``/``WATCHDOG_PID`` in the environment of
``roadcam run`` started as a subprocess, and on a missed ping what systemd does (SIGABRT, then
SIGCONT so a stopped process takes it), then a new start (Restart=always).

This module is also the plugin that hangs the analysis loop (``ROADCAM_PLUGINS=test_systemd_watchdog``):
its health hook, which runs on the analysis thread, blocks while the file named in
``ROADCAM_TEST_HANG_FILE`` exists; the process and its other threads stay up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.sdnotify import Notifier
from roadcam.appliance.store import read_events

TESTS = Path(__file__).resolve().parent
#: The test unit's WatchdogSec: short, but long enough that a loaded machine still pings in time.
WATCHDOG_S = 2.0


class HangWhileFileExists:
    @hookimpl
    def roadcam_collect_health(self, appliance):
        hang_file = Path(os.environ["ROADCAM_TEST_HANG_FILE"])
        while hang_file.exists():
            time.sleep(0.05)
        return {"hang_test": {"hung": False}}


plugin = HangWhileFileExists()


class Systemd:
    """The manager's side of the notify protocol for one service: the socket, and the
    watchdog's rule (no WATCHDOG=1 for WatchdogSec: SIGABRT + SIGCONT)."""

    def __init__(self, folder: Path):
        self.path = folder / "notify.sock"
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(self.path))
        self.process: subprocess.Popen | None = None

    def start(self, config: Path, log: Path, **extra_env: str) -> None:
        """ExecStart: ``roadcam run`` with NOTIFY_SOCKET, WATCHDOG_USEC and (once its pid is
        known, as systemd sets it in the child) WATCHDOG_PID; waits for READY=1."""
        env = dict(os.environ, NOTIFY_SOCKET=str(self.path), WATCHDOG_USEC=str(int(WATCHDOG_S * 1e6)),
                   PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), **extra_env)
        # systemd sets WATCHDOG_PID to the main pid: exec through a shell that knows its own pid
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', sys.executable, "-m", "roadcam.appliance.cli",
             "run", "--config", str(config)], env=env, stderr=log.open("ab"))
        assert self.next_message(timeout_s=60).startswith("READY=1")

    def next_message(self, timeout_s: float) -> str:
        self.socket.settimeout(timeout_s)
        return self.socket.recv(4096).decode()

    def watch(self, seconds: float) -> int:
        """Watch the service for ``seconds`` as systemd would. Returns the pings received; if
        WatchdogSec passes without one, aborts the service (SIGABRT, SIGCONT), waits for it to
        end and returns -1."""
        pings = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                message = self.next_message(timeout_s=WATCHDOG_S)
            except TimeoutError:
                assert self.process is not None and self.process.poll() is None, "it ended on its own"
                self.process.send_signal(signal.SIGABRT)
                self.process.send_signal(signal.SIGCONT)
                self.process.wait(timeout=30)
                return -1
            pings += message.split("\n").count("WATCHDOG=1")
        return pings

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.send_signal(signal.SIGCONT)
            try:
                self.process.wait(timeout=20)
            finally:
                self.process.kill()
        self.socket.close()


@pytest.fixture
def site(tmp_path) -> Path:
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump({
        "device": {"id": "tn-watchdog", "site": "tn-bench"},
        "storage": {"database": str(tmp_path / "events.db"), "evidence_dir": str(tmp_path / "evidence")},
        "gpio": {"pin_factory": "mock"},
        "loops": [{"name": "lane1", "pin": "GPIO5"}],
        "health": {"interval_s": 0.2},
    }))
    return config


def health_seqs(tmp_path: Path) -> list[int]:
    return [event.seq for event in read_events(tmp_path / "events.db", limit=100_000, types=["health"])]


def hung_then_restarted(tmp_path: Path, site: Path, hang, **env: str) -> tuple[list[int], list[int]]:
    """Start, check the pings, hang it with ``hang(process)``, let the watchdog act, restart.
    Returns the health events stored before the hang, and after the restart."""
    systemd = Systemd(tmp_path)
    try:
        systemd.start(site, tmp_path / "roadcam.log", **env)
        assert systemd.watch(2 * WATCHDOG_S) >= 2  # fed every WatchdogSec/2 while alive
        hang(systemd.process)
        before = health_seqs(tmp_path)
        assert before, "no event was stored before the hang"
        assert systemd.watch(10 * WATCHDOG_S) == -1  # no ping within WatchdogSec: aborted
        assert systemd.process.returncode == -signal.SIGABRT
        for path in tmp_path.glob("hang"):
            path.unlink()
        systemd.start(site, tmp_path / "roadcam.log", **env)  # Restart=always
        assert systemd.watch(WATCHDOG_S) >= 1
    finally:
        systemd.stop()
    return before, health_seqs(tmp_path)


@pytest.mark.slow
@pytest.mark.integration
def test_a_stopped_appliance_is_aborted_and_restarted_without_losing_events(tmp_path, site):
    before, after = hung_then_restarted(tmp_path, site, lambda process: process.send_signal(signal.SIGSTOP))
    assert set(before) <= set(after)
    assert len(after) > len(before) and after == sorted(after)


@pytest.mark.slow
@pytest.mark.integration
def test_a_hung_analysis_loop_stops_the_pings_though_the_process_lives(tmp_path, site):
    """Only the analysis loop feeds the watchdog: blocking it in a plugin hook (every other
    thread running) is enough for the watchdog to fire."""
    hang_file = tmp_path / "hang"

    def hang(process):
        hang_file.touch()
        time.sleep(0.5)  # let the health hook enter the hang
        assert process.poll() is None

    before, after = hung_then_restarted(tmp_path, site, hang, ROADCAM_PLUGINS="test_systemd_watchdog",
                                        ROADCAM_TEST_HANG_FILE=str(hang_file))
    assert set(before) <= set(after) and len(after) > len(before)


def test_only_the_watched_process_feeds_the_watchdog():
    """A child that inherited the environment (WATCHDOG_PID names its parent) sends no pings."""
    environ = {"NOTIFY_SOCKET": "/run/notify", "WATCHDOG_USEC": "30000000"}
    assert Notifier({**environ, "WATCHDOG_PID": str(os.getpid())}).watchdog_interval_s == 15.0
    assert Notifier({**environ, "WATCHDOG_PID": str(os.getpid() + 1)}).watchdog_interval_s is None
    assert Notifier(environ).watchdog_interval_s == 15.0
    assert Notifier({"WATCHDOG_USEC": "30000000"}).enabled is False
