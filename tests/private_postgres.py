"""A private PostgreSQL 15 for fault tests: its own data directory, port and processes.

Fault tests stop and freeze the database they talk to, so they must never use the shared server
on 5432. This module runs `initdb` and `pg_ctl` from the PostgreSQL binaries into a temporary
directory, as a non-root user (PostgreSQL refuses to run as root; CI runs tests as root, so the
system user `craftkit-pg` is created when missing). pytest-postgresql does the same but starts
its server as the current user, which fails as root; this is the few lines we need.

Absent binaries skip the tests that use it, with the reason, unless
CRAFTKIT_REQUIRE_PRIVATE_POSTGRES=1 (CI sets it), which turns that into a failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(os.environ.get("CRAFTKIT_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "craftkit-pg"
REQUIRED = os.environ.get("CRAFTKIT_REQUIRE_PRIVATE_POSTGRES") == "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as: `craftkit-pg` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(USER)


class PrivatePostgres:
    """One PostgreSQL cluster in a temporary directory, on a free loopback port."""

    def __init__(self) -> None:
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="craftkit-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = _free_port()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> None:
        user = self.user

        def drop_privileges() -> None:
            if user is not None:
                os.setgid(user.pw_gid)
                os.setgroups([])
                os.setuid(user.pw_uid)

        done = subprocess.run(
            [str(BIN / tool), *args],
            preexec_fn=drop_privileges,  # no threads yet matter: fork then exec
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off -c max_connections=200"
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self.thaw()
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.url, connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, …)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return []
        postmaster = int(pid_file.read_text().split()[0])
        found = [postmaster]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == postmaster:
                found.append(int(entry.name))
        return found

    def freeze(self) -> None:
        """SIGSTOP every process: connections stay open, nothing answers (a hung server)."""
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        try:
            if self.is_running():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def unavailable_reason() -> str | None:
    if not (BIN / "initdb").exists() or not (BIN / "pg_ctl").exists():
        return f"PostgreSQL binaries not found in {BIN} (set CRAFTKIT_PG_BIN)"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[postgres]')"
    return None


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster for the session; each test leaves it running and thawed."""
    reason = unavailable_reason()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"CRAFTKIT_REQUIRE_PRIVATE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.destroy()
