"""Latency of GET /v1/renders/{id}/engagement, in-process over ASGI, configurations side by side.

No sockets, no server process: what the app itself costs per request on a render with many
events, for SQLite and (when CRAFTKIT_BENCH_POSTGRES_URL is set) PostgreSQL, on both app kinds.
Each round runs every configuration once, in turn, so machine noise hits them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient
from starlette.types import Message

from api.config import Settings
from api.server.app import create_app
from bench.report import Section, spread, table
from cli.event_lines import parse_lines
from db import keys, queries
from db.connection import bind, connection, database_for
from db.migrations import recreate_schema

ROOT = Path(__file__).resolve().parent.parent
NAME = "inprocess"
TITLE = "In-process latency (no HTTP server)"
EVENT_TYPES = list(queries.EVENT_TYPES)


@dataclass
class Config:
    name: str
    database_url: str
    validate_responses: bool
    app: str = "async"
    pipeline: str = "compiled"
    db_on_loop: bool = True
    client: TestClient | None = None
    headers: dict[str, str] | None = None
    path: str = ""


def seed(database_url: str, events: int) -> tuple[dict[str, str], str]:
    """One project, key and render holding `events` events (a quarter via share links)."""
    bind(database_for(database_url))
    recreate_schema()
    with connection():
        project = queries.create_project("bench")
        new = keys.generate_key("test")
        queries.store_api_key(project, "test", new.digest, new.display_prefix)
        render = str(queries.create_render(project, "test").id)
    share = str(uuid.uuid4())
    lines = (
        json.dumps(
            {
                "renderId": render,
                "eventType": EVENT_TYPES[n % len(EVENT_TYPES)],
                "actorKind": "recipient",
                "createdAt": f"2026-06-{1 + n % 28:02d}T{n % 24:02d}:00:00.{n % 1000:03d}Z",
                "shareId": share if n % 4 == 0 else None,
                "sourceIp": "203.0.113.7",
                "userAgent": "Mozilla/5.0",
                "metadata": {"n": n},
            }
        )
        for n in range(events)
    )
    with connection():
        queries.record_events(parse_lines(lines))
    return {"Authorization": f"Bearer {new.plaintext}"}, f"/v1/renders/{render}/engagement"


def run_round(config: Config, requests: int) -> list[float]:
    """Per-request seconds for `requests` sequential calls of the app itself.

    The app is called as an ASGI app on the test client's event loop (started, lifespan run),
    one call per request, so the figures are the app's own: the test client's per-request
    thread hop and its request and response objects (about 4 ms here, more than the app) are
    not in them.
    """
    assert config.client is not None and config.client.portal is not None
    return list(config.client.portal.call(_timed, config, requests))


async def _timed(config: Config, requests: int) -> list[float]:
    assert config.client is not None and config.headers is not None
    app = config.client.app
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": config.path,
        "raw_path": config.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in config.headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "extensions": {},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    timings = []
    for _ in range(requests):
        sent.clear()
        start = time.perf_counter()
        await app({**scope, "extensions": {}}, receive, send)
        timings.append(time.perf_counter() - start)
        if sent[0]["status"] != 200:
            raise SystemExit(f"{config.name}: got {sent[0]['status']} {sent[1:]!r:.300}")
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--inprocess-requests", type=int, default=300, help="requests per round")
    group.add_argument("--inprocess-rounds", type=int, default=3)
    group.add_argument("--events", type=int, default=5000, help="events stored on the render")


def run(args: argparse.Namespace, out_dir: Path) -> Section:
    requests, rounds = args.inprocess_requests, args.inprocess_rounds
    workdir = Path(tempfile.mkdtemp(prefix="craftkit-bench-"))
    sqlite_url = f"sqlite:///{workdir / 'bench.db'}"
    configs = [
        Config("sqlite, AsyncApp, responses validated (default)", sqlite_url, True),
        Config("sqlite, AsyncApp, responses not validated", sqlite_url, False),
        Config(
            "sqlite, AsyncApp, Connexion's stack (CRAFTKIT_PIPELINE=connexion)",
            sqlite_url,
            True,
            pipeline="connexion",
        ),
        Config("sqlite, FlaskApp, responses validated", sqlite_url, True, "flask"),
    ]
    postgres_url = os.environ.get("CRAFTKIT_BENCH_POSTGRES_URL")
    if postgres_url:
        configs.append(Config("postgresql, AsyncApp, responses validated", postgres_url, True))
        configs.append(
            Config(
                "postgresql, AsyncApp, psycopg2 in threads (CRAFTKIT_DB_ON_LOOP=0)",
                postgres_url,
                True,
                db_on_loop=False,
            )
        )
        configs.append(
            Config("postgresql, FlaskApp, responses validated", postgres_url, True, "flask")
        )

    seeded: dict[str, tuple[dict[str, str], str]] = {}
    for config in configs:
        if config.database_url not in seeded:
            seeded[config.database_url] = seed(config.database_url, args.events)
        config.headers, config.path = seeded[config.database_url]
        settings = Settings.from_env(
            {},
            database_url=config.database_url,
            validate_responses=config.validate_responses,
            app=config.app,
            pipeline=config.pipeline,
            db_on_loop=config.db_on_loop,
            spec_path=str(ROOT / "openapi.yaml"),
        )
        config.client = TestClient(create_app(settings)).__enter__()
        run_round(config, 20)  # warm-up

    medians: dict[str, list[float]] = {c.name: [] for c in configs}
    tails: dict[str, list[float]] = {c.name: [] for c in configs}
    try:
        for _ in range(rounds):
            for config in configs:
                timings = run_round(config, requests)
                medians[config.name].append(statistics.median(timings))
                tails[config.name].append(p95(timings))
    finally:
        for config in configs:
            assert config.client is not None
            config.client.__exit__(None, None, None)

    base = statistics.median(medians[configs[0].name])
    rows = []
    for config in configs:
        median = statistics.median(medians[config.name])
        rows.append(
            [
                config.name,
                spread(medians[config.name], 1000, 2),
                spread(tails[config.name], 1000, 2),
                f"{1 / median:.0f}",
                f"{median / base:.2f}x",
            ]
        )
    lines = [
        f"In-process: the app called as an ASGI app on its started event loop (no sockets, no "
        f"test client), one request at a time; a "
        f"render with {args.events} events, `recent` = 20; {rounds} interleaved rounds of "
        f"{requests} requests. Medians over rounds (range in brackets); ratios against the "
        "first row. PostgreSQL rows appear when CRAFTKIT_BENCH_POSTGRES_URL is set.",
        "",
        *table(["configuration", "median ms", "p95 ms", "req/s (1 client)", "vs default"], rows),
    ]
    return Section(TITLE, lines)
