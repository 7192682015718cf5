"""A local Mosquitto process on a free loopback port, for the tests and the demo bench.

Usage::

    broker = Broker(tmp_path / "broker", persistence=True, acl="topic readwrite #")
    broker.start()          # returns once the broker accepts connections
    broker.host, broker.port
    broker.kill()           # SIGKILL: no goodbye, no final save (what a power cut does)
    broker.start()          # the same port and config again
    broker.stop()           # SIGTERM and wait; also what the ``broker`` fixture does at teardown

Options (all keyword-only):

- ``persistence``: keep sessions and queued messages in ``directory/mosquitto.db``;
  ``autosave_interval_s`` sets how often Mosquitto saves it (its default is 1800 s);
- ``acl``: the text of an ACL file (Mosquitto syntax; anonymous clients get the rules that come
  before any ``user`` line; ``%c`` is the client id); without it every client may do anything;
- ``tls``: a :class:`BrokerTLS` with the CA, server certificate and key; the listener then speaks
  TLS only, and requires a client certificate when ``require_certificate`` is set.

The broker logs to ``directory/mosquitto.log`` (read it with :meth:`Broker.log` when a test
fails). Needs ``/usr/sbin/mosquitto`` (Mosquitto 2.0).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .broker_policy import base_policy, render_policy, write_policy
from .device_keys import DeviceKeys

MOSQUITTO = Path(os.environ.get("ROADCAM_TEST_MOSQUITTO", "/usr/sbin/mosquitto"))
#: The dynamic-security plugin as the shipped config names it.
SHIPPED_DYNAMIC_SECURITY = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
_START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BrokerTLS:
    """Files for a TLS listener."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Broker:
    """One Mosquitto process; see the module docstring."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, *, persistence: bool = False, autosave_interval_s: int | None = None,
                 acl: str | None = None, tls: BrokerTLS | None = None, port: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(self.host)
        self.config_file = self.directory / "mosquitto.conf"
        self.config_file.write_text(self._config_text(persistence, autosave_interval_s, acl, tls))
        self._process: subprocess.Popen | None = None

    def _config_text(self, persistence: bool, autosave_interval_s: int | None, acl: str | None,
                     tls: BrokerTLS | None) -> str:
        lines = [f"listener {self.port} {self.host}", "allow_anonymous true",
                 f"log_dest file {self.directory / 'mosquitto.log'}", "log_type all",
                 f"persistence {'true' if persistence else 'false'}",
                 f"persistence_location {self.directory}/"]
        if os.geteuid() == 0:  # as root, Mosquitto would switch to the "mosquitto" user and lose the temp dir
            lines.append("user root")
        if autosave_interval_s is not None:
            lines.append(f"autosave_interval {autosave_interval_s}")
        if acl is not None:
            acl_file = self.directory / "acl"
            acl_file.write_text(acl.strip() + "\n")
            lines.append(f"acl_file {acl_file}")
        if tls is not None:
            lines += [f"cafile {tls.ca_file}", f"certfile {tls.cert_file}", f"keyfile {tls.key_file}",
                      f"require_certificate {'true' if tls.require_certificate else 'false'}"]
            if tls.require_certificate:
                lines.append("use_identity_as_username true")
        return "\n".join(lines) + "\n"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the broker (again, on the same port) and wait until it accepts connections."""
        if self.running:
            raise RuntimeError("the broker is already running")
        self._process = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config_file)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start: {self._process.stderr.read().decode()}\n{self.log()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {_START_TIMEOUT_S} s\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the broker and reap it (no-op when it is not running)."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM the broker (it saves its persistence file) and wait for it."""
        self._end(signal.SIGTERM)

    def _end(self, signum: int) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signum)
            self._process.wait(timeout=10)
        self._process.stderr.close()
        self._process = None

    def log(self) -> str:
        """The broker's log so far."""
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def production_config(broker: Broker, pki_root: Path) -> str:
    """The shipped ``collector/mosquitto/mosquitto.conf`` with its port, certificate paths and
    persistence folder pointed at ``broker``'s folder and a test PKI under ``pki_root``
    (:func:`roadcam.collector.pki.write_test_pki`), and its access policy rendered from that PKI's device
    registry with the shipped base (:mod:`roadcam.collector.broker_policy`) into ``broker``'s folder: the
    production policy, run locally. Enrolling more devices takes a new config and a restart,
    as in production."""
    policy_file = broker.directory / "dynamic-security.json"
    write_policy(policy_file, render_policy(DeviceKeys(Path(pki_root) / "device-keys"), base_policy()))
    text = (resources.files("roadcam.collector") / "mosquitto" / "mosquitto.conf").read_text()
    text = text.replace("listener 8883", f"listener {broker.port} {broker.host}")
    text = text.replace(f"plugin {SHIPPED_DYNAMIC_SECURITY}", f"plugin {dynamic_security_plugin()}")
    text = text.replace("/etc/mosquitto/roadcam/dynamic-security.json", str(policy_file))
    text = text.replace("/etc/mosquitto/roadcam/", f"{pki_root}/")
    text = text.replace("/var/lib/mosquitto/", f"{broker.directory}/")
    text += f"log_dest file {broker.directory / 'mosquitto.log'}\n"
    if os.geteuid() == 0:
        text += "user root\n"
    return text


def production_broker(directory: Path, pki_root: Path) -> Broker:
    """A broker (not started) in ``directory`` running :func:`production_config` with the test
    PKI under ``pki_root``: what the tests and the demo use to run the shipped policy."""
    broker = Broker(directory)
    broker.config_file.write_text(production_config(broker, pki_root))
    return broker


def dynamic_security_plugin() -> Path:
    """This machine's Mosquitto dynamic-security plugin (the shipped config names Debian's amd64 path)."""
    for candidate in (Path(SHIPPED_DYNAMIC_SECURITY), *sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so")),
                      Path("/usr/lib/mosquitto_dynamic_security.so"),
                      Path("/usr/local/lib/mosquitto_dynamic_security.so")):
        if candidate.is_file():
            return candidate
    raise RuntimeError("no mosquitto_dynamic_security.so on this machine: install Mosquitto 2.0 "
                       "(Debian's mosquitto package ships it)")
