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
    assert (target / "roadcam" / "provisioning" / "systemd" / "roadcam.service").is_file()


@pytest.mark.slow
def test_install_units_takes_the_units_from_the_installed_package(tmp_path):
    """``roadcam install-units`` run from a ``pip install`` (no checkout on its path: ``-S``
    skips the venv's editable finder, the dependencies come from the venv's site-packages)
    writes the units shipped in the package, and only those."""
    target = tmp_path / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(REPOSITORY)], check=True, cwd=tmp_path)
    shipped = target / "roadcam" / "provisioning" / "systemd"
    (shipped / "roadcam.service").write_text((shipped / "roadcam.service").read_text() + "# installed copy\n")
    site_packages = next(path for path in sys.path if path.endswith("site-packages") and Path(path).is_dir())
    environment = {"PYTHONPATH": f"{target}:{site_packages}", "PATH": "/usr/bin:/bin"}

    def installed_python(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-S", *args], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path, env=environment)

    where = installed_python("-c", "import roadcam.provisioning.units as u; print(u.SHIPPED_UNITS)")
    assert where.stdout.strip() == str(shipped), where.stderr
    root = tmp_path / "pi"
    done = installed_python("-m", "roadcam.appliance.cli", "install-units", "--root", str(root), "--no-apply",
                            "--bin-dir", "/usr/local/bin")
    assert done.returncode == 0, done.stderr
    service = (root / "etc/systemd/system/roadcam.service").read_text()
    assert service.endswith("# installed copy\n") and "ExecStart=/usr/local/bin/roadcam run" in service
    assert [path.name for path in (root / "etc/systemd/system").iterdir()] == ["roadcam.service"]  # a device's
    assert (root / "etc/sysusers.d/roadcam.conf").read_text() == (shipped / "roadcam.sysusers.conf").read_text()
