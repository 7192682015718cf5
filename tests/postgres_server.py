"""A throwaway PostgreSQL server for tests: its own data folder, listening only on a unix socket
in that folder, stopped and deleted afterwards.

The server programs come from the machine (``/usr/local/bin``, ``/usr/lib/postgresql/*/bin``,
``PATH``); when there are none and the tests run as root, Debian's ``postgresql`` package is
installed. ``initdb`` refuses to run as root, so as root the server runs as the ``postgres``
user (which that package creates), owning a folder under the system temp folder (or in memory,
:func:`memory_folder`) that it can reach.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SERVER_PROGRAMS = ("initdb", "pg_ctl")
#: Settings that trade durability for speed: the data is thrown away anyway.
FAST_SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                 "-c listen_addresses='' -c max_connections=20 -c shared_buffers=16MB")
SERVER_USER = "postgres"
_START_TIMEOUT_S = 30
_TERMINATE_WAIT_MS = 5000


class PostgresUnavailable(Exception):
    """No PostgreSQL server programs here and no way to install them."""


def find_server_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, newest PostgreSQL first, or None."""
    candidates = [Path("/usr/local/bin"),
                  *sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                          key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
                          reverse=True)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if all((folder / program).is_file() and os.access(folder / program, os.X_OK)
               for program in SERVER_PROGRAMS):
            return folder
    return None


def server_bin_or_install() -> Path:
    """The server programs' folder, installing Debian's postgresql package as root if needed."""
    found = find_server_bin()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise PostgresUnavailable("PostgreSQL server programs (initdb, pg_ctl) are not installed "
                                  "and the tests do not run as root to apt-get install postgresql")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=environment,
                   stdout=subprocess.DEVNULL)
    found = find_server_bin()
    if found is None:
        raise PostgresUnavailable("apt-get installed postgresql but initdb and pg_ctl are still "
                                  "not in /usr/lib/postgresql/*/bin")
    return found


class ThrowawayPostgres:
    """A running PostgreSQL in a temporary folder; :meth:`url` names a database on it."""

    def __init__(self, server_settings: str = FAST_SETTINGS, parent: str | None = None):
        """``server_settings``: the server's command-line options (the default trades durability
        for speed); ``parent``: the folder to make its folder in (default: the system temp
        folder; :func:`memory_folder` for speed)."""
        self.bin = server_bin_or_install()
        self.server_settings = server_settings
        self.root = Path(tempfile.mkdtemp(prefix="roadcam-pg-", dir=parent))
        self.data = self.root / "data"
        self.user = _server_user()
        self._started = False

    def start(self) -> ThrowawayPostgres:
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "roadcam", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", str(_START_TIMEOUT_S), "-o", f"-k {self.root} {self.server_settings}", "start")
        self._started = True
        return self

    def stop(self) -> None:
        try:
            if self._started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """A postgresql:// URL of ``database`` over the server's unix socket."""
        return f"postgresql://roadcam@/{database}?host={self.root}"

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its URL. From PostgreSQL 15 on it is copied as
        files (as before 15), not written through the WAL: the data is thrown away anyway
        (0.70 -> 0.47 s a database on the test machine)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            file_copy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0{file_copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending its connections: so a session's server does not pile up
        every test's files (deleting them all at the end took 14 to 40 s)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            force = " WITH (FORCE)" if admin.info.server_version >= 130000 else ""
            admin.execute(f'DROP DATABASE "{name}"{force}')

    def disconnect_clients(self, database: str) -> None:
        """End every connection to ``database``, as a server restart would, and wait for it."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid, %s) FROM pg_stat_activity "
                          "WHERE datname = %s", (_TERMINATE_WAIT_MS, database))

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin / program), *arguments]
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(command)} failed ({result.returncode}):\n"
                                      f"{result.stdout}{result.stderr}{self.log()}")


#: A server and one test's database take about 50 MB; a container's /dev/shm is often 64 MB.
MEMORY_FOLDER_MIN_FREE = 512 << 20


def memory_folder() -> str | None:
    """A folder in memory (/dev/shm) to run a throwaway server in, or None where there is none
    with :data:`MEMORY_FOLDER_MIN_FREE` free. Creating a test's database there took 0.04 s
    instead of 0.48 s on disk on the test machine."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK | os.X_OK)):
        return None
    usage = os.statvfs(shm)
    return str(shm) if usage.f_bavail * usage.f_frsize >= MEMORY_FOLDER_MIN_FREE else None


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: the postgres user (created if missing) as root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SERVER_USER], check=True)
        return pwd.getpwnam(SERVER_USER)
