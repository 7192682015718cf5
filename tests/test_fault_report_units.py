"""The fault report's systemd timer and service (issue 26 item 3): ``systemd-analyze verify``
passes on them (and fails on a timer whose service is missing), the timer fires at 07:00 and
19:00 local time and nothing else, the service is sandboxed like the collector, and its very
command line mails the report. Skipped only when systemd-analyze is not installed."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import pytest
from smtp_server import SmtpServer
from test_systemd_units import (
    ANALYZE,
    VENV_BIN,
    exposure,
    pi_root,  # noqa: F401 (the fixture: a root with systemd's and roadcam's units)
    unit_settings,
)

from roadcam.provisioning.units import SHIPPED_BIN_DIR, SHIPPED_UNITS, render_unit

pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")

SERVICE = "roadcam-collector-fault-report.service"
TIMER = "roadcam-collector-fault-report.timer"


def verify(root, *units: str) -> subprocess.CompletedProcess:
    return subprocess.run([ANALYZE, "verify", f"--root={root}", *units], capture_output=True, text=True,
                          timeout=120)


def test_the_report_units_pass_verify_and_a_broken_timer_does_not(pi_root, tmp_path):  # noqa: F811
    result = verify(pi_root, SERVICE, TIMER)
    assert (result.returncode, result.stderr.strip()) == (0, "")
    root = tmp_path / "root"
    shutil.copytree(pi_root, root, symlinks=True)
    installed = root / "etc/systemd/system" / TIMER
    installed.write_text(installed.read_text().replace("07,19:00:00", "07,25:00:00"))  # no hour 25
    broken = verify(root, TIMER)
    assert broken.returncode != 0 and "Failed to parse calendar specification" in broken.stderr


def test_the_timer_fires_at_7_and_19_local_time():
    timer = unit_settings(SHIPPED_UNITS / TIMER)
    assert timer["Timer.Unit"] == [SERVICE] and timer["Timer.Persistent"] == ["true"]
    assert timer["Install.WantedBy"] == ["timers.target"]
    (calendar,) = timer["Timer.OnCalendar"]
    result = subprocess.run([ANALYZE, "calendar", "--iterations=6", "--base-time=2026-12-04 12:00:00 UTC",
                             calendar], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, TZ="Asia/Taipei", SYSTEMD_COLORS="0"))
    assert result.returncode == 0, result.stderr
    local = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+) CST", result.stdout)
    assert local == ["2026-12-05 07:00:00", "2026-12-05 19:00:00", "2026-12-06 07:00:00",
                     "2026-12-06 19:00:00", "2026-12-07 07:00:00", "2026-12-07 19:00:00"]


def test_the_report_service_is_sandboxed_like_the_collector():
    service = unit_settings(SHIPPED_UNITS / SERVICE)
    assert service["Service.Type"] == ["oneshot"] and service["Service.User"] == ["roadcam-collector"]
    assert exposure(SHIPPED_UNITS / SERVICE) <= 2.0


def test_the_services_command_line_mails_the_report(tmp_path, pki):
    (line,) = unit_settings(SHIPPED_UNITS / SERVICE)["Service.ExecStart"]
    command = shlex.split(render_unit(line, str(VENV_BIN)))
    assert command[0] == f"{VENV_BIN}/roadcam-collector" and line.startswith(SHIPPED_BIN_DIR)
    config = tmp_path / "collector.yaml"
    with SmtpServer() as smtp:
        config.write_text(f"storage:\n  database: {tmp_path / 'collector.db'}\n  evidence_dir: {tmp_path / 'ev'}\n"
                          f"device_keys_dir: {pki.device_keys_dir}\nreport:\n  mail:\n    host: 127.0.0.1\n"
                          f"    port: {smtp.port}\n    starttls: false\n    from: roadcam@collector.example\n"
                          f"    to: [faults@city.example]\n")
        command[command.index("/etc/roadcam/collector.yaml")] = str(config)
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    (mail,) = smtp.received
    assert "device.never_seen:tn-test" in mail.message.get_body(("plain",)).get_content()
