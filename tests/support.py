"""What several test modules share: paths, ports, envelope checks, a live `craftkit mock` and a
live `craftkit serve`."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from click.testing import Result

from db.connection import connection
from db.models import EngagementEvent

ROOT = Path(__file__).resolve().parent.parent
CRAFTKIT = Path(sys.executable).parent / "craftkit"
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())


@functools.cache
def postgres_url_for_tests() -> str | None:
    """CRAFTKIT_TEST_POSTGRES_URL; under pytest-xdist, a database of this worker's own beside it.

    Database tests recreate the schema of the database they use, so two workers on one database
    would drop each other's tables: worker gw0 gets `<database>_gw0`, dropped and created anew
    when its session starts (the URL's user must be allowed to CREATE DATABASE).
    """
    url = os.environ.get("CRAFTKIT_TEST_POSTGRES_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    import psycopg2
    from psycopg2 import sql

    address, mark, query = url.partition("?")
    base, _, name = address.rpartition("/")
    own = f"{name}_{worker}"
    conn = psycopg2.connect(url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            for statement in ("DROP DATABASE IF EXISTS {} WITH (FORCE)", "CREATE DATABASE {}"):
                cursor.execute(sql.SQL(statement).format(sql.Identifier(own)))
    finally:
        conn.close()
    return f"{base}/{own}{mark}{query}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def url(render_id: str) -> str:
    return f"/v1/renders/{render_id}/engagement"


def event(render_id: str, **fields: Any) -> dict[str, Any]:
    """An event as a JSON Lines object (the CLI's format), with the required fields filled."""
    return {
        "renderId": render_id,
        "eventType": "viewed",
        "actorKind": "recipient",
        "createdAt": "2026-06-21T10:00:00Z",
        **fields,
    }


def assert_envelope(resp: Any, status: int, code: str, message: str | None = None) -> dict:
    """The contract's error envelope, with `status` and `code`; returns its `error` object."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if message is not None:
        assert body["error"]["message"] == message
    return body["error"]


@dataclass
class LiveMock:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


# --- `craftkit mock` run for real, as a user runs it: a subprocess on a free loopback port ---


@contextmanager
def live_mock(*args: str, cwd: Path, timeout: float = 30) -> Iterator[LiveMock]:
    """Start `craftkit mock ARGS` and wait until it answers; stop it (and its reloader) after."""
    port = free_port()
    log = cwd / f"mock-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CRAFTKIT), "mock", "--port", str(port), *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so a --watch worker stops with it
            env={**os.environ, "CRAFTKIT_LOG_LEVEL": "info"},
        )
    server = LiveMock(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"craftkit mock exited:\n{server.output()}")
            try:
                httpx.get(f"{server.url}/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"craftkit mock did not start:\n{server.output()}"
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class LiveServer:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def live_serve(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[LiveServer]:
    """Start `craftkit serve ARGS` in `cwd` and wait for /healthz; stop it (and its workers)."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CRAFTKIT), "serve", "--port", str(port), *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so that its workers stop with it
            env={**os.environ, **(env or {})},
        )
    server = LiveServer(f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_up(process, server.url, "/healthz", timeout, server.output)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- `craftkit serve` run for real, and the strict envelope of the reliability tests ----------

# Statuses the server may answer; 2xx only on the contract's operation and operational routes.
ENVELOPE_STATUSES = {400, 401, 404, 405, 413, 414, 431, 503}
SMALL = 2048  # an error answer never needs more bytes than this


def assert_small_envelope(response: Any, status: int, code: str | None = None) -> dict:
    """The contract's error envelope, small, JSON, with no redirect and no traceback."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/json", response.headers
    assert "location" not in response.headers
    assert len(response.content) <= SMALL, len(response.content)
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    assert "Traceback" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def craftkit(
    db_url: str, *args: str, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(CRAFTKIT), "--database-url", db_url, *args],
        capture_output=True,
        text=True,
        timeout=kwargs.pop("timeout", 120),
        check=False,
        **kwargs,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


@dataclass
class ServedDatabase:
    url: str
    process: subprocess.Popen
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve_database(
    db_url: str, workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[ServedDatabase]:
    """`craftkit serve` of `db_url` on a free loopback port, waited for via /livez; then stopped."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRAFTKIT_", "DATABASE_"))}
    full_env = {**clean, **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CRAFTKIT), "--database-url", db_url, "serve", "--port", str(port), *args],
            cwd=workdir,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ServedDatabase(f"http://127.0.0.1:{port}", process, log, full_env)
    try:
        _wait_until_up(process, server.url, "/livez", timeout, server.output)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def raw_request(url: str, request: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are (no client normalising the path or headers); return the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def cli_without(
    module: str, error: str, args: list[str], tmp_path: Path, *, also: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """The CLI run for real with `module` (and the modules `also` names) made unimportable
    (its import raises `error`), as on an install without the extra that brings it."""
    for name in (module, *also):
        blocker = tmp_path / name
        blocker.mkdir()
        (blocker / "__init__.py").write_text(f"raise {error}\n")
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=60,
        check=False,
    )


# --- the `craftkit` CLI's results (tests/test_cli_*.py) ------------------------------------

UUID_LINE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def failed(result: Result) -> str:
    """A clean failure: exit code 1 and a message, never a traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.stderr


def event_count() -> int:
    with connection():
        return EngagementEvent.select().count()


def line(render: str, **fields: Any) -> str:
    return json.dumps(
        {
            "renderId": render,
            "eventType": "viewed",
            "actorKind": "recipient",
            "createdAt": "2026-06-21T10:00:00.000Z",
            **fields,
        }
    )


def _wait_until_up(
    process: subprocess.Popen[bytes], url: str, probe: str, timeout: float, output: Any
) -> None:
    """Poll `probe` until it answers 200; fail with the server's output if it exits or stalls."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"craftkit serve exited:\n{output()}")
        try:
            if httpx.get(f"{url}{probe}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"craftkit serve did not start:\n{output()}")
        time.sleep(0.1)
