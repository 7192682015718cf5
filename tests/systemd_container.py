"""A real systemd for the tests that need the service manager itself (tests/test_systemd_real.py):
``/lib/systemd/systemd --system`` as PID 1 of its own PID, mount and UTS namespaces (``unshare``),
on a root prepared by ``roadcam install-units --root`` (users, folders, the enabled units).

Nothing it does may reach the host. A systemd that boots the host's units runs
systemd-tmpfiles at sysinit, which empties the shared ``/tmp`` (learnt the hard way), so before
it starts the namespace gets:

- ``/etc``: a copy of the host's, with the installed units and users and no host unit enabled;
- ``/usr/lib/systemd/system``: only empty stand-ins for the targets roadcam.service orders
  against (nothing of sysinit runs: no tmpfiles, udev or journald), and no generators;
- its own ``/run``, ``/tmp``, ``/var/tmp`` and ``/var/log`` (tmpfs), ``/var/lib`` and ``/opt``
  (folders of the test's root), and its own host name.

A canary file in the host's ``/tmp`` must survive every run (:meth:`SystemdContainer.stop`
fails the test otherwise). The appliance runs from ``/opt/roadcam/.venv`` (the shipped units'
path): a venv on the system Python that reuses the checkout's packages, because the development
venv's interpreter lives under ``/root``, which the unit's ``ProtectHome=true`` hides, as it should.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

SYSTEMD = Path("/lib/systemd/systemd")
SYSTEM_PYTHON = Path("/usr/bin/python3")
#: The targets roadcam.service is ordered against or wanted by (DefaultDependencies included).
STAND_IN_TARGETS = ("sysinit.target", "basic.target", "shutdown.target", "network-online.target",
                    "time-sync.target", "multi-user.target")


def unavailable() -> str | None:
    """Why a real systemd cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root: unshare --mount and systemd as PID 1 need it"
    missing = [tool for tool in ("unshare", "nsenter", "systemctl") if shutil.which(tool) is None]
    missing += [str(path) for path in (SYSTEMD, SYSTEM_PYTHON) if not path.exists()]
    if missing:
        return f"not installed: {', '.join(missing)}"
    if sys.version_info[:2] != _system_python_version():
        return f"{SYSTEM_PYTHON} is not Python {sys.version_info[0]}.{sys.version_info[1]} (the checkout's packages)"
    return None


def _system_python_version() -> tuple[int, int]:
    out = subprocess.run([str(SYSTEM_PYTHON), "-c", "import sys; print(*sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


def prepare_root(root: Path) -> None:
    """``root``/etc (a copy of /etc, no host unit enabled), the stand-in targets, and the
    appliance's venv at ``root``/opt/roadcam/.venv."""
    shutil.copytree("/etc", root / "etc", symlinks=True)
    shutil.rmtree(root / "etc/systemd/system")
    (root / "etc/systemd/system").mkdir()
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    for target in STAND_IN_TARGETS:
        (units / target).write_text(f"[Unit]\nDescription=stand-in {target}\n")
    for folder in ("var/lib", "opt/roadcam"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    venv = root / "opt/roadcam/.venv"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = next(venv.glob("lib/python3*/site-packages"))
    checkout_packages = next(path for path in sys.path if path.endswith("site-packages") and Path(path).is_dir())
    # the checkout's packages, and its editable roadcam (the finder the dev venv's .pth installs)
    finder = next(Path(checkout_packages).glob("__editable___roadcam_*_finder.py")).stem
    (site_packages / "roadcam-checkout.pth").write_text(f"{checkout_packages}\nimport {finder}; {finder}.install()\n")
    for command, module in (("roadcam", "roadcam.appliance.cli"), ("roadcam-collector", "roadcam.collector.cli")):
        script = venv / "bin" / command
        script.write_text(f"#!{venv}/bin/python\nimport sys\nfrom {module} import main\nsys.exit(main())\n"
                          .replace(str(root), ""))
        script.chmod(0o755)


#: Run inside the new namespaces: private mounts, then exec systemd.
_SETUP = """
set -e
mount --bind "$ROOT/etc" /etc
mount --bind "$ROOT/usr/lib/systemd/system" /usr/lib/systemd/system
mount --bind "$ROOT/var/lib" /var/lib
mount --bind "$ROOT/opt" /opt
for folder in /usr/lib/systemd/system-generators /usr/lib/systemd/system-environment-generators \
              /run /tmp /var/tmp /var/log; do
    if [ -d "$folder" ]; then mount -t tmpfs tmpfs "$folder"; fi
done
exec /lib/systemd/systemd --system --log-target=console --unit=multi-user.target
"""


class SystemdContainer:
    """systemd on ``root`` (made by :func:`prepare_root` and ``install_units``)."""

    def __init__(self, root: Path):
        self.root = root
        self.log = root / "unshare.log"
        self.canary = Path("/tmp") / f"roadcam-systemd-canary-{uuid.uuid4().hex}"
        self._unshare: subprocess.Popen | None = None
        self.pid: int | None = None  # systemd's pid as the host sees it

    def start(self, timeout_s: float = 60) -> None:
        self.canary.write_text("the host's /tmp must outlive a test systemd\n")
        self._unshare = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--uts", "--mount-proc", "--propagation", "private",
             "/bin/sh", "-c", _SETUP],
            env={"ROOT": str(self.root), "container": "roadcam-test", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while self.pid is None:
            children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self._unshare.pid)], capture_output=True,
                                      text=True).stdout.split()
            if children:
                self.pid = int(children[0])
            elif self._unshare.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"systemd did not start: {self.log.read_text(errors='replace')}")
            else:
                time.sleep(0.1)
        while self.systemctl("show", "--property=Version").returncode != 0:  # until the manager answers
            if time.monotonic() > deadline:
                raise RuntimeError(f"systemd does not answer: {self.log.read_text(errors='replace')}")
            time.sleep(0.2)

    def systemctl(self, *args: str) -> subprocess.CompletedProcess:
        """``systemctl ARGS`` against this systemd."""
        assert self.pid is not None
        return subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "-u", "systemctl", *args],
                              capture_output=True, text=True, timeout=30)

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        done = self.systemctl("show", unit, *(f"--property={name}" for name in properties))
        shown = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        if set(shown) != set(properties):
            raise RuntimeError(f"systemctl show {unit}: {done.stdout} {done.stderr}")
        return shown

    def stop(self) -> None:
        """Kill the namespace (SIGKILL to its PID 1 ends every process in it), then check the
        host's /tmp kept the canary."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self._unshare is not None:
            self._unshare.wait(timeout=30)
        survived = self.canary.exists()
        self.canary.unlink(missing_ok=True)
        assert survived, "the test systemd removed a file from the host's /tmp"
