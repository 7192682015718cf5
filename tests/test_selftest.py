"""``roadcam selftest`` (issue 27 item 3): every part of a bench site checked through the HAL:
a camera (a recorded road), signal-head lamps and loops toggled by the simulator on gpiozero's
mock pins and seen through their edge callbacks, a loop:// serial link, the real broker over TLS
with the device certificate, the kernel clock, the disk; then the commissioning report in HTML
with the snapshot, the calibration overlay and every check. Faults show as failed checks with
what to fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from test_calibrate import IMAGE, ROAD, road_picture
from videos import write_video

from roadcam.appliance.cli import main
from roadcam.appliance.clock import Clock
from roadcam.collector.local_broker import free_port, production_broker
from roadcam.collector.pki import write_test_pki
from roadcam.provisioning.report import pdf_converter

DEVICE = "tn-0042"


def site_data(tmp_path: Path, video: Path, **uplink) -> dict:
    return {
        "device": {"id": DEVICE, "site": "tn-bench",
                   "location": {"lat": 22.99, "lon": 120.25, "description": "Yongkang bench"}},
        "storage": {"database": str(tmp_path / "events.db"), "evidence_dir": str(tmp_path / "evidence")},
        "gpio": {"pin_factory": "mock"},
        "cameras": [{"name": "north", "source": {"type": "opencv", "url": str(video)},
                     "calibration": {"image_points": [list(p) for p in IMAGE],
                                     "road_points": [list(p) for p in ROAD]}}],
        "signals": [{"head": "main", "red": "GPIO17", "amber": "GPIO27", "green": "GPIO22"}],
        "loops": [{"name": "lane1", "pin": "GPIO5", "lane": 1, "position_m": 5.0},
                  {"name": "lane2", "pin": "GPIO6", "lane": 2, "position_m": 5.0}],
        "serial": [{"name": "controller", "port": "loop://", "baudrate": 9600}],
        "diagnostics": {"disk_free_min_mb": 1},
        "uplink": {"enabled": bool(uplink), **uplink},
    }


def write_site(tmp_path: Path, data: dict) -> Path:
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(data))
    return config


def checks_of(output: str) -> dict[str, str]:
    """``check name → PASS/FAIL/SKIP`` from the command's output lines."""
    return {match.group(2): match.group(1) for match in re.finditer(r"^(PASS|FAIL|SKIP)\s+(.+?) — ", output, re.M)}


@pytest.mark.slow
@pytest.mark.integration
def test_a_bench_site_passes_every_check_and_gets_its_report(tmp_path, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=["collector-1"])
    cert, key = pki.client(DEVICE)
    video = write_video(tmp_path / "road.avi", [road_picture()] * 30, fps=10)
    config = write_site(tmp_path, site_data(tmp_path, video, host="127.0.0.1", port=0,
                                            tls={"ca_file": str(pki.ca), "cert_file": str(cert),
                                                 "key_file": str(key)}))
    with production_broker(tmp_path / "broker", pki.root) as broker:
        data = yaml.safe_load(config.read_text())
        data["uplink"]["port"] = broker.port
        config.write_text(yaml.safe_dump(data))
        code = main(["selftest", "--config", str(config), "--simulate-inputs", "--input-timeout", "5",
                     "--report", str(tmp_path / "report/commissioning.html")])
    output = capsys.readouterr().out
    checks = checks_of(output)
    synced = Clock().state().synced
    assert checks.pop("clock") == ("PASS" if synced else "FAIL")
    assert checks == {
        "camera north: frames": "PASS", "camera north: exposure": "PASS", "camera north: focus": "PASS",
        "lamp main:red": "PASS", "lamp main:amber": "PASS", "lamp main:green": "PASS",
        "loop lane1": "PASS", "loop lane2": "PASS", "serial controller": "PASS", "broker": "PASS", "disk": "PASS",
        "camera north: calibration": "PASS"}, output
    assert code == (0 if synced else 1)
    report = (tmp_path / "report/commissioning.html").read_text()
    assert f"{DEVICE} at tn-bench" in report and "22.990000, 120.250000 — Yongkang bench" in report
    for name in [*checks, "clock"]:
        assert name in report
    images = re.findall(r"data:image/png;base64,", report)
    assert len(images) == 2  # the snapshot and the calibration overlay
    pdf = tmp_path / "report/commissioning.pdf"
    if pdf_converter() is None:  # the [report] extra (weasyprint) or wkhtmltopdf/chromium not installed
        assert "No PDF: no converter" in report and not pdf.exists()
    else:
        assert pdf.read_bytes().startswith(b"%PDF") and "No PDF" not in report


def test_faults_fail_their_checks_with_what_to_fix(tmp_path, capsys):
    """A dark camera, a defocused one, inputs nobody toggles, an unreachable broker, a disk path
    that is a file: each its own failed check, each with a fix; the report still written."""
    dark = write_video(tmp_path / "dark.avi", [road_picture() // 12] * 10, fps=10)
    soft = write_video(tmp_path / "soft.avi", [cv2.GaussianBlur(road_picture(), (31, 31), 0)] * 10, fps=10)
    pki = write_test_pki(tmp_path / "pki", devices=[DEVICE], collectors=[])
    cert, key = pki.client(DEVICE)
    data = site_data(tmp_path, dark, host="127.0.0.1", port=free_port(),
                     tls={"ca_file": str(pki.ca), "cert_file": str(cert), "key_file": str(key)})
    data["cameras"].append({"name": "south", "source": {"type": "opencv", "url": str(soft)}})
    (tmp_path / "evidence").write_text("not a folder")
    data["storage"]["evidence_dir"] = str(tmp_path / "evidence")
    config = write_site(tmp_path, data)
    code = main(["selftest", "--config", str(config), "--input-timeout", "0.2", "--camera-frames", "5",
                 "--report", str(tmp_path / "report.html")])
    output = capsys.readouterr().out
    checks = checks_of(output)
    assert code == 1
    for name in ("camera north: exposure", "camera south: focus", "lamp main:red", "loop lane1", "broker", "disk"):
        assert checks[name] == "FAIL", output
    assert checks["camera north: focus"] == "SKIP" and checks["camera south: exposure"] == "PASS"
    assert "light the red lamp of head main (pin GPIO17)" in output  # the technician was asked
    assert "uncover the lens" in output and "focus the lens" in output
    assert "cannot reach the broker" in output
    assert "FAIL" in (tmp_path / "report.html").read_text()


def test_simulated_inputs_are_refused_on_real_pins(tmp_path, capsys):
    video = write_video(tmp_path / "road.avi", [np.zeros((48, 64, 3), np.uint8)] * 2, fps=10)
    data = site_data(tmp_path, video)
    data["gpio"]["pin_factory"] = "lgpio"
    config = write_site(tmp_path, data)
    assert main(["selftest", "--config", str(config), "--simulate-inputs"]) == 2
    assert "--simulate-inputs: only on gpio.pin_factory: mock" in capsys.readouterr().err
