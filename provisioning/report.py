"""The commissioning report: one self-contained HTML file (pictures embedded) with the site's
identity and location, each camera's snapshot and calibration overlay, and every self-test check with its
result and what to fix; a PDF beside it when a converter is installed (wkhtmltopdf,
WeasyPrint, ``pip install roadcam[report]``, or a headless Chromium), else a line in the report
saying none was found.
"""

from __future__ import annotations

import base64
import html
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from roadcam.appliance.config import CoreConfig

from .selftest import SelftestResult

#: Converters tried in order: (program, arguments before input and output).
PDF_CONVERTERS = (("wkhtmltopdf", ["--quiet", "--enable-local-file-access"]), ("weasyprint", []))
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
STATUS_COLOUR = {"pass": "#1a7f37", "fail": "#cf222e", "skip": "#6e7781"}


def write_report(path: Path, config: CoreConfig, result: SelftestResult,
                 overlays: dict[str, np.ndarray]) -> Path | None:
    """Write the HTML report to ``path`` and, when a converter is found, the PDF beside it.
    Returns the PDF's path, or None when no converter is installed."""
    converter = pdf_converter()
    note = ("" if converter else "<p class=note>No PDF: no converter (wkhtmltopdf, weasyprint, chromium) is "
            "installed; print this page to PDF from a browser.</p>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(config, result, overlays, note), encoding="utf-8")
    if converter is None:
        return None
    pdf = path.with_suffix(".pdf")
    subprocess.run(converter(path, pdf), check=True, capture_output=True, timeout=120)
    return pdf


def render_html(config: CoreConfig, result: SelftestResult, overlays: dict[str, np.ndarray],
                note: str = "") -> str:
    verdict = "PASSED" if result.passed else "FAILED"
    rows = "".join(
        f"<tr><td>{html.escape(check.name)}</td>"
        f"<td style='color:{STATUS_COLOUR[check.status]};font-weight:bold'>{check.status.upper()}</td>"
        f"<td>{html.escape(check.detail)}</td><td>{html.escape(check.fix)}</td></tr>"
        for check in result.checks)
    pictures = "".join(
        f"<h2>Camera {html.escape(name)}</h2><figure>{_img(image)}<figcaption>snapshot</figcaption></figure>"
        + (f"<figure>{_img(overlays[name])}<figcaption>calibration: road-plane grid, marks, loops, fences"
           f"</figcaption></figure>" if name in overlays
           else "<p class=note>not calibrated yet (roadcam calibrate)</p>")
        for name, image in result.snapshots.items())
    location = config.device.location
    place = "" if location is None else (
        f"<tr><th>Location</th><td>{location.lat:.6f}, {location.lon:.6f}"
        f"{html.escape(' — ' + location.description) if location.description else ''}</td></tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Commissioning report {html.escape(config.device.id)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}
img{{max-width:100%}} figure{{display:inline-block;max-width:48%;margin:0 1% 1em 0}} .note{{color:#6e7781}}</style>
</head><body>
<h1>Commissioning report: {html.escape(config.device.id)} at {html.escape(config.device.site)} — {verdict}</h1>
<table><tr><th>Device</th><td>{html.escape(config.device.id)}</td></tr>
<tr><th>Site</th><td>{html.escape(config.device.site)}</td></tr>{place}
<tr><th>Made</th><td>{time.strftime('%Y-%m-%d %H:%M:%S %Z')}</td></tr></table>
{note}
<h2>Checks</h2>
<table><tr><th>Check</th><th>Result</th><th>Measured</th><th>What to fix</th></tr>{rows}</table>
{pictures}
</body></html>
"""


def _img(image: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", image)
    if not ok:
        return "<p class=note>(picture could not be encoded)</p>"
    return f"<img alt='' src='data:image/png;base64,{base64.b64encode(png.tobytes()).decode()}'>"


def pdf_converter():
    """A function (html, pdf) → command line, for the first converter installed (on PATH, or
    beside this Python: ``pip install roadcam[report]`` puts weasyprint there); None if none."""
    for program, options in PDF_CONVERTERS:
        found = shutil.which(program) or shutil.which(program, path=str(Path(sys.executable).parent))
        if found:
            return lambda source, target, found=found, options=options: [found, *options, str(source), str(target)]
    for program in CHROMIUM:
        found = shutil.which(program)
        if found:
            return lambda source, target, found=found: [found, "--headless", "--disable-gpu", "--no-sandbox",
                                                        f"--print-to-pdf={target}", source.resolve().as_uri()]
    return None
