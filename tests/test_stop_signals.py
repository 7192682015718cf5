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
import threading
from pathlib import Path

import pytest
from appliances import roadcam_run

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
    order = tmp_path / "signal"
    with roadcam_run(tmp_path, health_interval_s=0.2, ROADCAM_PLUGINS="test_stop_signals",
                     ROADCAM_TEST_SIGNAL_FILE=str(order),
                     PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])) as (process, notify):
        notify.settimeout(60)
        assert notify.recv(4096).decode().startswith("READY=1")
        order.write_text(signame)
        assert process.wait(timeout=20) == 0
    assert not order.exists(), "the analysis thread took the order"
    assert "Traceback" not in process.stderr.read()
    assert read_events(tmp_path / "events.db", types=["health"]), "what was stored before the signal stays"
