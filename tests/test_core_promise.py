"""The core keeps its promise (issue 28 item 3).

- Importing any module of the appliance core loads no vision library (OpenCV), no hardware
  library (picamera2, gpiozero, pyserial), no inference runtime, and nothing of the plugins,
  the simulator, the collector or the HAL's backends (only the HAL's contracts, roadcam.hal.base).
- The core command line (appliance/cli.py) imports no plugin, simulator or hardware backend:
  plugins add their commands through ``roadcam_register_commands``; the simulator's ``simulate``
  and plate_capture's ``plate read`` arrive that way.
- A plugin's command appears in ``roadcam --help`` and runs.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

#: Top-level modules the core must not load when imported.
FORBIDDEN_LIBRARIES = ("cv2", "picamera2", "gpiozero", "serial", "lgpio", "ai_edge_litert", "tflite_runtime",
                       "tensorflow", "PIL")
#: roadcam packages the core must not load when imported.
FORBIDDEN_PACKAGES = ("roadcam.plugins", "roadcam.sim", "roadcam.collector", "roadcam.provisioning", "roadcam.tools")
#: The only parts of the HAL the core may load: the package and its contracts.
ALLOWED_HAL = {"roadcam.hal", "roadcam.hal.base"}

PROBE = """
import importlib, json, pkgutil, sys
import roadcam.appliance
for first in ("roadcam.appliance.runtime", "roadcam.appliance.tracking", "roadcam.appliance.cli"):
    importlib.import_module(first)
names = sorted(module.name for module in pkgutil.walk_packages(roadcam.appliance.__path__, "roadcam.appliance."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


def _env(**extra) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), **extra)


@pytest.fixture(scope="module")
def core_import():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                            cwd=TESTS, env=_env())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_importing_the_core_loads_no_vision_or_hardware_library(core_import):
    assert {"roadcam.appliance.runtime", "roadcam.appliance.tracking", "roadcam.appliance.cli",
            "roadcam.appliance.appearance"} <= set(core_import["imported"])
    loaded = {name.split(".")[0] for name in core_import["modules"]}
    assert sorted(loaded & set(FORBIDDEN_LIBRARIES)) == []


def test_importing_the_core_loads_no_plugin_simulator_or_hal_backend(core_import):
    roadcam = [name for name in core_import["modules"] if name.startswith("roadcam.")]
    assert [name for name in roadcam if name.startswith(tuple(p + "." for p in FORBIDDEN_PACKAGES))
            or name in FORBIDDEN_PACKAGES] == []
    assert sorted(name for name in roadcam if name.startswith("roadcam.hal") and name not in ALLOWED_HAL) == []


def _imports(tree: ast.AST, module: str) -> list[tuple[str, int, bool]]:
    """(absolute module, line, at module level) of every import in the tree of ``module``."""
    package = module.rsplit(".", 1)[0]
    top_level = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.append((base, node.lineno, id(node) in top_level))
    return found


def test_the_core_cli_imports_no_plugin_simulator_or_backend():
    """appliance/cli.py imports, anywhere in it (also inside a handler), nothing of the plugins,
    the simulator, the collector or the HAL but its hardware factory (for ``roadcam run``); at
    module level it imports nothing outside the standard library and the core."""
    tree = ast.parse((ROOT / "appliance" / "cli.py").read_text(encoding="utf-8"))
    imports = _imports(tree, "roadcam.appliance.cli")
    assert imports, "the AST walk found no import"
    wrong = [(name, line) for name, line, _ in imports
             if name.startswith(("roadcam.plugins", "roadcam.sim", "roadcam.collector", "roadcam.provisioning",
                                 "roadcam.tools", "plugins", "sim", "hal", "cv2", "gpiozero", "serial", "picamera2"))
             or (name.startswith("roadcam.hal") and name != "roadcam.hal.hardware")]
    assert wrong == []
    third_party_at_top = [(name, line) for name, line, top in imports if top and not name.startswith("roadcam.")
                          and name.split(".")[0] not in sys.stdlib_module_names]
    assert third_party_at_top == []


def test_shipped_commands_come_from_their_plugins():
    """``simulate`` is the simulator's (a command-line-only plugin, never loaded into a running
    appliance) and ``plate`` is plate_capture's; the core's own are run, config and events."""
    import argparse

    from roadcam.appliance import cli
    from roadcam.appliance.plugins import build_plugin_manager

    parser = cli._parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert {"run", "config", "events", "simulate", "plate"} <= set(commands.choices)
    owners = {}
    manager = build_plugin_manager(commands=True, environ={}, load_entry_points=False)
    for impl in manager.hook.roadcam_register_commands.get_hookimpls():
        sub = argparse.ArgumentParser().add_subparsers()
        impl.function(commands=sub)
        owners.update({name: impl.plugin_name for name in sub.choices})
    assert owners == {"simulate": "sim", "plate": "plate_capture", "fence": "fences", "install-units": "provisioning",
                      "provision": "provisioning", "calibrate": "provisioning", "selftest": "provisioning"}
    running = build_plugin_manager(environ={}, load_entry_points=False)
    assert running.get_plugin("sim") is None and running.get_plugin("plate_capture") is not None


def _roadcam(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "roadcam.appliance.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=TESTS, env=_env(**env))


def test_a_plugins_command_is_in_the_help_and_runs():
    """A plugin named in ROADCAM_PLUGINS adds ``greet``: it is listed by ``roadcam --help`` beside
    the core's and the shipped plugins' commands, runs with its own arguments and exit status, and
    its expected failure is one clear message and exit 2; without the plugin there is no ``greet``."""
    helped = _roadcam("--help", ROADCAM_PLUGINS="command_plugin")
    assert helped.returncode == 0, helped.stderr
    for command in ("run", "config", "events", "simulate", "plate", "greet"):
        assert f"    {command} " in helped.stdout or f"{{{command}" in helped.stdout or f",{command}" in helped.stdout
    assert "greet someone" in helped.stdout
    ran = _roadcam("greet", "site", "--shout", ROADCAM_PLUGINS="command_plugin")
    assert (ran.returncode, ran.stdout) == (0, "HELLO, SITE\n"), ran.stderr
    assert _roadcam("greet", "three", ROADCAM_PLUGINS="command_plugin").returncode == 3
    failed = _roadcam("greet", "--fail", ROADCAM_PLUGINS="command_plugin")
    assert (failed.returncode, failed.stderr.strip()) == (2, "roadcam: greet: told to fail")
    without = _roadcam("greet")
    assert without.returncode == 2 and "invalid choice: 'greet'" in without.stderr


def test_a_plugin_that_fails_to_add_its_commands_loses_only_its_own(monkeypatch, capsys):
    """A plugin whose command name is taken (``run``) is warned about; every other command remains."""
    from roadcam.appliance import cli
    from roadcam.appliance.hookspecs import hookimpl

    class Clashing:
        @hookimpl
        def roadcam_register_commands(self, commands):
            commands.add_parser("run")

    module = type(sys)("clashing_plugin")
    module.plugin = Clashing()
    monkeypatch.setitem(sys.modules, "clashing_plugin", module)
    monkeypatch.setenv("ROADCAM_PLUGINS", "clashing_plugin")
    assert cli.main(["config", "example"]) == 0
    captured = capsys.readouterr()
    assert "roadcam: warning: plugin clashing_plugin could not add its commands" in captured.err
    assert "device:" in captured.out


def test_a_plugin_module_that_cannot_be_loaded_is_one_message(monkeypatch, capsys):
    from roadcam.appliance import cli

    monkeypatch.setenv("ROADCAM_PLUGINS", "no_such_plugin_module")
    assert cli.main(["--help"]) == 2
    assert "plugin module 'no_such_plugin_module' cannot be loaded" in capsys.readouterr().err
