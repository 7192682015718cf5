"""Who may import whom (issue 28 item 2), and that the collector runs without the device's libraries.

- ``roadcam.collector`` imports nothing of the device: not the appliance, its plugins, the HAL or
  the simulator. What both sides speak is ``roadcam.protocol``; shared helpers are ``roadcam.common``.
- The device (appliance, plugins, HAL, simulator) imports no collector code.
- ``roadcam.protocol`` and ``roadcam.common`` import neither side.
- A collector installed without the ``[device]`` extra (no OpenCV, numpy, gpiozero, pyserial,
  pluggy or TFLite runtime) imports every one of its modules and runs ``roadcam-collector --help``.
"""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
#: Folder → the package it installs as (setup.cfg's package_dir).
PACKAGES = {"appliance": "roadcam.appliance", "hal": "roadcam.hal", "sim": "roadcam.sim",
            "plugins": "roadcam.plugins", "collector": "roadcam.collector",
            "protocol": "roadcam.protocol", "common": "roadcam.common"}
DEVICE = ("roadcam.appliance", "roadcam.plugins", "roadcam.hal", "roadcam.sim")
SHARED = ("roadcam.protocol", "roadcam.common")
#: Top-level modules of the device's libraries (setup.cfg's [device] extra), blocked below.
DEVICE_LIBRARIES = ("cv2", "numpy", "gpiozero", "serial", "pluggy", "ai_edge_litert", "tflite_runtime",
                    "picamera2", "lgpio")


#: What a plain ``pip install roadcam`` (a collector) pulls in, and the import name of each
#: distribution of the [device] extra.
COLLECTOR_REQUIREMENTS = {"pydantic", "PyYAML", "paho-mqtt", "cryptography"}
DEVICE_IMPORT_NAMES = {"pluggy": "pluggy", "numpy": "numpy", "opencv-python-headless": "cv2",
                       "pyserial": "serial", "gpiozero": "gpiozero", "ai-edge-litert": "ai_edge_litert"}


def imported_modules(path: Path, folder: str) -> set[str]:
    """Every module a file imports (at any depth, also inside functions), relative imports resolved."""
    package = ".".join([PACKAGES[folder], *path.relative_to(REPOSITORY / folder).parent.parts])
    package_parts = package.split(".")  # ``from .x`` means the same in a module and an __init__.py
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[:len(package_parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            modules.add(module)
            modules.update(f"{module}.{alias.name}" for alias in node.names)  # from roadcam import collector
    return modules


def offences(folders: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for folder in folders:
        for path in sorted((REPOSITORY / folder).rglob("*.py")):
            for module in sorted(imported_modules(path, folder)):
                if any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden):
                    found.append(f"{path.relative_to(REPOSITORY)} imports {module}")
    return found


def test_the_collector_imports_nothing_of_the_device():
    assert offences(("collector",), DEVICE) == []


def test_the_device_imports_no_collector_code():
    assert offences(("appliance", "plugins", "hal", "sim"), ("roadcam.collector",)) == []


def test_protocol_and_common_import_neither_side():
    assert offences(("protocol", "common"), (*DEVICE, "roadcam.collector", "roadcam.provisioning",
                                             "roadcam.tools")) == []


def test_the_scan_sees_relative_and_nested_imports():
    """The rule tests would pass vacuously if the scan missed an import form."""
    probe = REPOSITORY / "collector" / "service.py"
    assert "roadcam.protocol.topics" in imported_modules(probe, "collector")
    assert "roadcam.collector.storage" in imported_modules(probe, "collector")  # from .storage import …
    assert "roadcam.common.errors" in imported_modules(REPOSITORY / "protocol" / "signing.py", "protocol")


def requirement_names(block: str) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", line.strip())[0] for line in block.strip().splitlines()}


def test_the_base_install_is_the_collector_and_the_device_libraries_are_an_extra():
    """The blocked run below stands for an install without [device] only if setup.cfg says so."""
    setup = configparser.ConfigParser()
    setup.read(REPOSITORY / "setup.cfg")
    assert requirement_names(setup["options"]["install_requires"]) == COLLECTOR_REQUIREMENTS
    device = requirement_names(setup["options.extras_require"]["device"])
    assert device == set(DEVICE_IMPORT_NAMES)
    assert set(DEVICE_IMPORT_NAMES.values()) <= set(DEVICE_LIBRARIES)


BLOCKED_RUN = textwrap.dedent('''
    import importlib, pkgutil, sys

    BLOCKED = {blocked!r}

    class Blocker:
        """Acts as if the [device] extra were not installed."""

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked: not installed without roadcam[device]")
            return None

    sys.meta_path.insert(0, Blocker())
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]

    import roadcam.collector, roadcam.common, roadcam.protocol
    for package in (roadcam.collector, roadcam.common, roadcam.protocol):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED
                    or name.startswith(("roadcam.appliance", "roadcam.plugins", "roadcam.hal", "roadcam.sim")))
    assert not loaded, loaded

    from roadcam.collector.cli import main
    try:
        code = main(["--help"])
    except SystemExit as exit:
        code = exit.code
    sys.exit(code)
''')


@pytest.mark.integration
def test_the_collector_runs_without_the_device_libraries():
    result = subprocess.run([sys.executable, "-c", BLOCKED_RUN.format(blocked=DEVICE_LIBRARIES)],
                            capture_output=True, text=True, timeout=120, cwd=REPOSITORY)
    assert result.returncode == 0, result.stderr
    assert "usage: roadcam-collector" in result.stdout


def test_the_blocker_does_block():
    """The run above proves something only if the blocker really stops an import."""
    probe = BLOCKED_RUN.split("import roadcam.collector")[0] + "import numpy\n"
    result = subprocess.run([sys.executable, "-c", probe.format(blocked=DEVICE_LIBRARIES)],
                            capture_output=True, text=True, timeout=60, cwd=REPOSITORY)
    assert result.returncode != 0 and "blocked" in result.stderr
