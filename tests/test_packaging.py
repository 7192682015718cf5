"""What ``pip install`` puts into site-packages: one top-level ``roadcam`` package holding
every folder of the repository that is a Python package (issue 28, item 1)."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def listed_packages() -> dict[str, Path]:
    """The packages setup.cfg installs, each with the folder it is made from."""
    options = configparser.ConfigParser()
    options.read(REPOSITORY / "setup.cfg")
    mapping = dict(line.split(" = ") for line in options["options"]["package_dir"].strip().splitlines())
    packages = {}
    for name in options["options"]["packages"].split():
        root = next(prefix for prefix in mapping if name == prefix or name.startswith(prefix + "."))
        packages[name] = REPOSITORY / mapping[root] / Path(*name[len(root):].split(".")[1:])
    return packages


def test_every_package_folder_is_installed_under_roadcam():
    tops = ("appliance", "hal", "sim", "plugins", "collector", "provisioning", "tools", "protocol", "common")
    folders = {path.parent for top in tops
               for path in (REPOSITORY / top).rglob("__init__.py")}
    assert {path for path in listed_packages().values()} == folders
    assert all(name.startswith("roadcam.") for name in listed_packages())


@pytest.mark.slow
def test_pip_install_puts_one_top_level_package(tmp_path):
    target = tmp_path / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(REPOSITORY)], check=True, cwd=tmp_path)
    top_level = {path.name for path in target.iterdir() if not path.name.endswith(".dist-info")}
    assert top_level - {"bin"} == {"roadcam"}  # bin/: the console scripts
    assert (target / "roadcam" / "collector" / "mosquitto" / "mosquitto.conf").is_file()
    assert (target / "roadcam" / "sim" / "scenarios" / "smoke.yaml").is_file()
    assert list((target / "roadcam" / "plugins" / "plate_capture" / "models").glob("*.tflite"))
