"""Soak: mixed hostile traffic on `craftkit serve --workers 2` (PostgreSQL) while events ingest.

    python -m bench.soak [--seconds 30] [--connections 64] [--events 100000] [--database-url URL]

64 connections send, for a bounded time and count, a mix of valid reads, invalid ids and query
parameters, missing and wrong keys, another tenant's reads and odd paths, on loopback only.
Meanwhile another process (`craftkit events record`, in batches) ingests events. It checks:
no 5xx; every answer has a status the mix allows and a body valid against the contract (the
EngagementSummary schema for 200, the Error envelope otherwise); and, once ingestion is done,
the renders' `total` equals the events sent. It prints the figures and exits 1 on any failure.

Without --database-url it starts a private PostgreSQL (tests/private_postgres.py) and removes it
after; a given database must be empty and is initialised with `craftkit db init`.
Raw asyncio streams, not an HTTP client: the soak must send paths a client would normalise
(`//v1/…`), and one keep-alive connection per worker keeps the client's CPU small on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS31Validator

ROOT = Path(__file__).resolve().parent.parent
CRAFTKIT = str(Path(sys.executable).with_name("craftkit"))
BATCH = 5_000
MAX_REQUESTS = 2_000_000  # a count bound besides the time bound


def _validators() -> dict[str, OAS31Validator]:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    return {
        name: OAS31Validator({"$ref": f"#/components/schemas/{name}", **spec})
        for name in ("EngagementSummary", "Error")
    }


def _craftkit(url: str, *args: str) -> str:
    done = subprocess.run(
        [CRAFTKIT, "--database-url", url, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"craftkit {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Fixture:
    key: str
    foreign_key: str
    renders: list[str]
    foreign_render: str


def seed(url: str) -> Fixture:
    _craftkit(url, "db", "init")
    _craftkit(url, "projects", "create", "own")
    _craftkit(url, "projects", "create", "foreign")
    key = _craftkit(url, "keys", "create", "--project", "own")
    foreign_key = _craftkit(url, "keys", "create", "--project", "foreign")
    renders = [_craftkit(url, "renders", "create", "--project", "own") for _ in range(4)]
    foreign_render = _craftkit(url, "renders", "create", "--project", "foreign")
    return Fixture(key, foreign_key, renders, foreign_render)


# --- the mix -----------------------------------------------------------------------------


def requests_mix(fx: Fixture) -> list[tuple[str, str, dict[str, str], set[int]]]:
    """(kind, target, headers, statuses allowed) — one of each is drawn at random per request."""
    own = {"Authorization": f"Bearer {fx.key}"}
    foreign = {"Authorization": f"Bearer {fx.foreign_key}"}
    r = fx.renders[0]
    mix = [(f"valid {i}", f"/v1/renders/{rid}/engagement", own, {200}) for i, rid in
           enumerate(fx.renders)]  # fmt: skip
    mix += [
        ("valid uppercase", f"/v1/renders/{r.upper()}/engagement", own, {200}),
        ("invalid id", "/v1/renders/not-a-uuid/engagement", own, {404}),  # names no render
        ("unknown query", f"/v1/renders/{r}/engagement?page=2", own, {200}),  # ignored
        ("no key", f"/v1/renders/{r}/engagement", {}, {401}),
        (
            "wrong key",
            f"/v1/renders/{r}/engagement",
            {"Authorization": "Bearer ck_test_" + "A" * 32},
            {401},
        ),
        ("malformed key", f"/v1/renders/{r}/engagement", {"Authorization": "Bearer x"}, {401}),
        ("foreign read", f"/v1/renders/{r}/engagement", foreign, {404}),
        ("foreign render", f"/v1/renders/{fx.foreign_render}/engagement", own, {404}),
        ("missing render", f"/v1/renders/{uuid.uuid4()}/engagement", own, {404}),
        ("doubled slash", f"//v1/renders/{r}/engagement", {}, {404}),
        ("unknown path", "/v1/nothing", own, {404}),
        ("livez", "/livez", {}, {200}),
    ]
    return mix


@dataclass
class Tally:
    statuses: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    requests: int = 0

    def fail(self, message: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(message)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return int(status_line.split()[1]), headers, body


def _check(
    tally: Tally,
    validators: dict[str, OAS31Validator],
    kind: str,
    allowed: set[int],
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    tally.statuses[status] += 1
    tally.kinds[kind] += 1
    if status not in allowed:
        tally.fail(f"{kind}: status {status} not in {sorted(allowed)}: {body[:200]!r}")
        return
    if headers.get("content-type") != "application/json":
        tally.fail(f"{kind}: content-type {headers.get('content-type')!r}")
        return
    try:
        document = json.loads(body)
    except ValueError:
        tally.fail(f"{kind}: body is not JSON: {body[:200]!r}")
        return
    if kind == "livez":
        return
    schema = "EngagementSummary" if status == 200 else "Error"
    errors = list(validators[schema].iter_errors(document))
    if errors:
        tally.fail(f"{kind}: {status} body breaks {schema}: {errors[0].message}")


async def _worker(
    port: int, fx: Fixture, deadline: float, tally: Tally, rng: random.Random, validators: Any
) -> None:
    mix = requests_mix(fx)
    reader = writer = None
    while time.monotonic() < deadline and tally.requests < MAX_REQUESTS:
        kind, target, headers, allowed = rng.choice(mix)
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert reader is not None
        lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        started = time.monotonic()
        try:
            writer.write(request)
            await writer.drain()
            status, response_headers, body = await asyncio.wait_for(_read_response(reader), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            tally.fail(f"{kind}: connection error {exc!r}")
            writer.close()
            reader = writer = None
            continue
        tally.requests += 1
        tally.latencies.append(time.monotonic() - started)
        _check(tally, validators, kind, allowed, status, response_headers, body)
        if response_headers.get("connection", "").lower() == "close":
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _load(port: int, fx: Fixture, seconds: float, connections: int) -> Tally:
    tally = Tally()
    validators = _validators()
    deadline = time.monotonic() + seconds
    rng = random.Random(8)
    await asyncio.gather(
        *(
            _worker(port, fx, deadline, tally, random.Random(rng.random()), validators)
            for _ in range(connections)
        )
    )
    return tally


# --- ingestion and the server ----------------------------------------------------------------


def _ingest(url: str, fx: Fixture, events: int, workdir: Path, report: dict[str, Any]) -> None:
    """Another process records `events` events, in batches, across the own project's renders."""
    started = time.monotonic()
    sent = 0
    try:
        for batch_start in range(0, events, BATCH):
            path = workdir / f"batch-{batch_start}.jsonl"
            with path.open("w") as out:
                for n in range(batch_start, min(batch_start + BATCH, events)):
                    out.write(
                        json.dumps(
                            {
                                "renderId": fx.renders[n % len(fx.renders)],
                                "id": f"ev_soak_{n}",
                                "eventType": ("viewed", "downloaded", "printed")[n % 3],
                                "actorKind": "recipient",
                                "createdAt": f"2026-06-{1 + n % 28:02d}T10:00:00.{n % 1000:03d}Z",
                                "metadata": {"n": n},
                            }
                        )
                        + "\n"
                    )
            _craftkit(url, "events", "record", str(path))
            sent += min(BATCH, events - batch_start)
    except Exception as exc:
        report["error"] = str(exc)
    report["sent"] = sent
    report["seconds"] = time.monotonic() - started


def _serve(url: str, port: int, workdir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRAFTKIT_", "DATABASE_"))}
    env["CRAFTKIT_LOG_LEVEL"] = "warning"  # no access log line per request
    log = (workdir / "serve.log").open("wb")
    return subprocess.Popen(
        [CRAFTKIT, "--database-url", url, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_live(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("craftkit serve exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("craftkit serve did not become ready")


def _totals(port: int, fx: Fixture) -> int:
    import httpx

    total = 0
    for render in fx.renders:
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/renders/{render}/engagement",
            headers={"Authorization": f"Bearer {fx.key}"},
            timeout=30,
        )
        response.raise_for_status()
        total += response.json()["total"]
    return total


@dataclass
class SoakResult:
    tally: Tally
    seconds: float
    events_sent: int
    events_stored: int
    ingest_seconds: float
    ingest_error: str | None

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.tally.statuses.items() if status >= 500)

    @property
    def ok(self) -> bool:
        return (
            not self.tally.failures
            and self.server_errors == 0
            and self.ingest_error is None
            and self.events_sent == self.events_stored
        )

    def summary(self) -> str:
        lat = sorted(self.tally.latencies) or [0.0]
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.tally.statuses.items()))
        lines = [
            f"requests: {self.tally.requests} in {self.seconds:.1f} s "
            f"({self.tally.requests / self.seconds:.0f}/s), p50 {p50 * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms",
            f"statuses: {statuses}; 5xx: {self.server_errors}",
            f"non-conforming or unexpected answers: {len(self.tally.failures)}",
            f"events: sent {self.events_sent}, stored {self.events_stored} "
            f"(ingested in {self.ingest_seconds:.1f} s)"
            + (f"; ingest failed: {self.ingest_error}" if self.ingest_error else ""),
        ]
        lines += [f"  {failure}" for failure in self.tally.failures[:10]]
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


def run_soak(
    database_url: str, seconds: float = 30, connections: int = 64, events: int = 100_000
) -> SoakResult:
    """Seed `database_url` (empty), serve it, load it and ingest at once; return the figures."""
    fx = seed(database_url)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="craftkit-soak-") as tmp:
        workdir = Path(tmp)
        server = _serve(database_url, port, workdir)
        try:
            _wait_live(port, server)
            report: dict[str, Any] = {}
            ingester = threading.Thread(
                target=_ingest, args=(database_url, fx, events, workdir, report), daemon=True
            )
            started = time.monotonic()
            ingester.start()
            tally = asyncio.run(_load(port, fx, seconds, connections))
            elapsed = time.monotonic() - started
            ingester.join(timeout=600)
            stored = _totals(port, fx)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    return SoakResult(
        tally=tally,
        seconds=elapsed,
        events_sent=report.get("sent", 0),
        events_stored=stored,
        ingest_seconds=report.get("seconds", 0.0),
        ingest_error=report.get("error"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: private)")
    args = parser.parse_args(argv)
    if args.database_url:
        result = run_soak(args.database_url, args.seconds, args.connections, args.events)
    else:
        sys.path.insert(0, str(ROOT))
        from tests.private_postgres import PrivatePostgres, unavailable_reason

        reason = unavailable_reason()
        if reason:
            print(f"cannot start a private PostgreSQL: {reason}", file=sys.stderr)
            return 2
        server = PrivatePostgres()
        try:
            result = run_soak(server.url, args.seconds, args.connections, args.events)
        finally:
            server.destroy()
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
