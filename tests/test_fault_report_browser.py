"""The mailed fault report as a reader sees it (issue 26: "rendered HTML is checked in a headless
browser"): ``roadcam-collector report faults --mail`` sends a known history's report through the
local SMTP server (STARTTLS, login), the HTML part is taken from the mail as received and
rendered in headless Chromium (Debian's, which ``scripts/test-browser.sh`` installs for
``scripts/test.sh``). The DOM after rendering must list exactly the injected faults and the
right availability figures, every one of them laid out visibly (a box of non-zero size, as its
rendered text, ids and figures unbroken on one line), a critical row drawn in the critical
colour, and the screenshot must not be blank.

Without Chromium the test fails under ``CI=true`` (a browser that silently went missing must not
turn the check off) and is skipped elsewhere, naming the reason.
"""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from smtp_server import SmtpServer
from test_fault_report import HOUR_NS, T0, add_report_section, stored_history

from roadcam.collector.cli import main as collector_cli
from roadcam.collector.pki import write_test_pki
from roadcam.protocol.events import iso_utc

pytestmark = pytest.mark.integration

#: The page size the report is rendered at (a mail client's reading pane, tall enough for all).
WINDOW = (1280, 1400)
#: Chromium's flags: headless, no sandbox (CI runs as root), nothing fetched or stored outside
#: the test's own profile folder.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}")
#: The critical rows' background (``tr.critical td`` in the report's style), as the browser reports it.
CRITICAL_BACKGROUND = "rgb(253, 224, 224)"

#: Added to a copy of the page before rendering (the report itself has no script): writes what the
#: browser laid out, each table row's cells as rendered text with their box and background, into
#: an element that ``--dump-dom`` then shows.
PROBE = """<script>
window.addEventListener("load", () => {
  const lines = td => {  // the text lines a cell is laid out on
    const range = document.createRange();
    range.selectNodeContents(td);
    return new Set([...range.getClientRects()].map(box => Math.round(box.top))).size;
  };
  const tables = [...document.querySelectorAll("h2")].map(h => {
    const table = h.nextElementSibling;
    return {heading: h.innerText, rows: table && table.tagName === "TABLE" ? [...table.rows].map(tr => ({
      cells: [...tr.cells].map(td => td.innerText),
      lines: [...tr.cells].map(lines),
      visible: [...tr.cells].every(td => td.getBoundingClientRect().width > 0 && td.getBoundingClientRect().height > 0),
      background: tr.cells.length ? getComputedStyle(tr.cells[0]).backgroundColor : ""})) : []};
  });
  const out = document.createElement("pre");
  out.id = "rendered";
  out.textContent = JSON.stringify({tables, text: document.body.innerText});
  document.body.appendChild(out);
});
</script>"""


def render(chromium: str, page: Path, profile: Path, *args: str) -> str:
    """Run Chromium on ``page`` with ``args`` (``--dump-dom`` or ``--screenshot=FILE``); its stdout."""
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


class _Rendered(HTMLParser):
    """The text of ``<pre id="rendered">`` in a dumped DOM."""

    def __init__(self, dom: str):
        super().__init__(convert_charrefs=True)
        self.inside, self.text = False, ""
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or (tag == "pre" and ("id", "rendered") in attrs)

    def handle_endtag(self, tag):
        self.inside = self.inside and tag != "pre"

    def handle_data(self, data):
        if self.inside:
            self.text += data


def rendered_text(dom: str) -> dict:
    """The layout :data:`PROBE` wrote into a dumped DOM: its tables and the page's text."""
    return json.loads(_Rendered(dom).text)


def rendered_table(layout: dict, prefix: str) -> list[dict]:
    """The rendered rows of the table under the heading starting with ``prefix``: each a dict of
    column -> cell text, plus ``visible``, ``background`` and ``lines`` (column -> text lines)."""
    (found,) = [table for table in layout["tables"] if table["heading"].startswith(prefix)]
    header, *rows = found["rows"]
    assert header["visible"], f"the header of {found['heading']!r} is not laid out"
    return [{**dict(zip(header["cells"], row["cells"])), "visible": row["visible"], "background": row["background"],
             "lines": dict(zip(header["cells"], row["lines"]))} for row in rows]


def test_the_mailed_html_report_renders_the_injected_faults_and_availability(tmp_path, chromium, capsys):
    pki = write_test_pki(tmp_path / "pki", devices=["tn-0001", "tn-0002", "tn-0003"], collectors=["collector-1"])
    stored_history(tmp_path, pki).close()  # the injected faults, offline spans and restarts (test_fault_report)
    config = tmp_path / "collector.yaml"
    config.write_text(f"storage:\n  database: {tmp_path / 'collector.db'}\n  evidence_dir: {tmp_path / 'evidence'}\n"
                      f"device_keys_dir: {pki.device_keys_dir}\n")
    password_file = tmp_path / "smtp.password"
    password_file.write_text("s3cret\n")
    with SmtpServer(cert=pki.server_cert, key=pki.server_key, require_tls=True, login=("reports", "s3cret")) as smtp:
        add_report_section(config, smtp, pki, password_file)
        assert collector_cli(["report", "faults", "--config", str(config), "--mail", "--since", iso_utc(T0),
                              "--until", iso_utc(T0 + 12 * HOUR_NS)]) == 0
    assert "mailed the fault report" in capsys.readouterr().out
    (mail,) = smtp.received
    page = tmp_path / "mailed.html"
    page.write_text(mail.message.get_body(("html",)).get_content(), encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "\n</body>"), encoding="utf-8")

    layout = rendered_text(render(chromium, probed, tmp_path / "profile", "--dump-dom"))
    current = rendered_table(layout, "Faults active")
    assert [(row["severity"], row["device"], row["fault"], row["ended"]) for row in current] == [
        ("critical", "tn-0003", "device.never_seen:tn-0003", "active"),
        ("major", "tn-0001", "camera.blurred:north", "active")]
    period = rendered_table(layout, "Faults during")
    assert [(row["severity"], row["device"], row["fault"]) for row in period] == [
        ("critical", "tn-0001", "camera.dark:north"), ("major", "tn-0001", "camera.blurred:north"),
        ("critical", "tn-0001", "device.offline:tn-0001"), ("critical", "tn-0001", "loop.stuck_on:L1"),
        ("critical", "tn-0001", "camera.unavailable:south")]
    assert [(row["fault"], row["duration"]) for row in period if row["fault"] != "camera.blurred:north"] == [
        ("camera.dark:north", "01:00:00"), ("device.offline:tn-0001", "01:00:00"),
        ("loop.stuck_on:L1", "01:00:00"), ("camera.unavailable:south", "01:00:00")]
    devices = rendered_table(layout, "Devices")
    # tn-0001: 3.5 h of 12 h offline or under a critical fault; tn-0002 observed 6 h, all fine
    assert [(row["device"], row["availability"], row["unavailable"], row["observed"]) for row in devices] == [
        ("tn-0001", "70.83 %", "03:30:00", "12:00:00"), ("tn-0002", "100.00 %", "00:00:00", "06:00:00"),
        ("tn-0003", "n/a", "-", "-")]
    for row in current + period + devices:
        assert row["visible"], f"{row} is not laid out"
        # ids, times and figures each on one line (a device id broken at its hyphen reads as two)
        broken = {column: count for column, count in row["lines"].items() if column != "message" and count != 1}
        assert broken == {}, row
    assert {row["fault"]: row["background"] for row in current}["device.never_seen:tn-0003"] == CRITICAL_BACKGROUND
    assert "Network availability: 80.56 %" in layout["text"]
    assert "Availability: the share of the period" in layout["text"]

    # the mail's page as it is (no probe): a screenshot with the report drawn on it
    shot = tmp_path / "report.png"
    render(chromium, page, tmp_path / "profile", f"--screenshot={shot}")
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (WINDOW[1], WINDOW[0]), f"no screenshot of {WINDOW}"
    inked = np.count_nonzero(image.min(axis=2) < 128) / image.shape[0] / image.shape[1]
    critical = np.count_nonzero(np.all(image == (224, 224, 253), axis=2))  # BGR of the critical rows
    assert float(image.std()) > 10 and inked > 0.005, f"blank screenshot (std {image.std():.1f}, ink {inked:.4f})"
    assert critical > 1000, f"no critical row drawn ({critical} px of its colour)"
    print(f"rendered: {len(current)} active, {len(period)} in the period, {len(devices)} devices; "
          f"screenshot ink {inked:.1%}, critical-row pixels {critical}")
