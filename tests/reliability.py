"""Support for the reliability tests: envelope asserts and `craftkit serve` as a live process."""

from __future__ import annotations

import json
import os
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

CRAFTKIT = str(Path(sys.executable).with_name("craftkit"))
# Statuses the server may answer; 2xx only on the contract's operation and operational routes.
ENVELOPE_STATUSES = {400, 401, 404, 405, 413, 414, 431, 503}
SMALL = 2048  # an error answer never needs more bytes than this


def assert_envelope(response: httpx.Response, status: int, code: str | None = None) -> dict:
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def craftkit(
    db_url: str, *args: str, check: bool = True, **kwargs: Any
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [CRAFTKIT, "--database-url", db_url, *args],
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
class LiveServer:
    url: str
    process: subprocess.Popen
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def live_serve(
    db_url: str, workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[LiveServer]:
    """`craftkit serve` on a free loopback port, waited for via /livez; stopped after."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRAFTKIT_", "DATABASE_"))}
    full_env = {**clean, **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CRAFTKIT, "--database-url", db_url, "serve", "--port", str(port), *args],
            cwd=workdir,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log, full_env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"craftkit serve exited:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"craftkit serve did not start:\n{server.output()}")
            time.sleep(0.1)
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
