"""``roadcam run`` stops cleanly on SIGTERM and SIGINT whichever of its threads the kernel hands
the signal to (the kernel may pick any thread that does not block it; CPython runs the Python
handler only in the main thread, later).

This module is also the plugin that plays the kernel's part (``ROADCAM_PLUGINS=test_stop_signals``):
its health hook, which runs on the analysis thread, sends the signal named in the file
``ROADCAM_TEST_SIGNAL_FILE`` to that very thread (``pthread_kill``), once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from appliances import site_data

from roadcam.appliance.hookspecs import hookimpl
from roadcam.appliance.store import read_events

TESTS = Path(__file__).resolve().parent


class SignalTheAnalysisThread:
    @hookimpl
    def roadcam_collect_health(self, appliance):
        order = Path(os.environ["ROADCAM_TEST_SIGNAL_FILE"])
        if order.exists():
            signum = signal.Signals[order.read_text().strip()]
            order.unlink()
            signal.pthread_kill(threading.get_ident(), signum)
        return {}


plugin = SignalTheAnalysisThread()


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_handed_to_the_analysis_thread_stops_roadcam_run(tmp_path, signame):
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(site_data(tmp_path, loops=[{"name": "lane1", "pin": "GPIO5"}],
                                               health={"interval_s": 0.2})))
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(60)
    order = tmp_path / "signal"
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), ROADCAM_PLUGINS="test_stop_signals",
               ROADCAM_TEST_SIGNAL_FILE=str(order),
               PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-m", "roadcam.appliance.cli", "run", "--config", str(config)],
                               env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert notify.recv(4096).decode().startswith("READY=1")
        order.write_text(signame)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        notify.close()
    assert not order.exists(), "the analysis thread took the order"
    assert "Traceback" not in process.stderr.read()
    assert read_events(tmp_path / "events.db", types=["health"]), "what was stored before the signal stays"
