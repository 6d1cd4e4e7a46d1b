"""Data at scale: summary latency against a render's event count, ingestion rate, partitions.

    .venv/bin/python -m bench.scale [--sizes 10,1000,100000,1000000] [--others 100000]

For SQLite (a temp file) and PostgreSQL (CRAFTKIT_BENCH_POSTGRES_URL, when set):
- ingestion: `craftkit events record` of a 1e6-line file (the largest size), in its own
  process, reporting events/s and the process's peak memory; the other sizes and the other
  renders' events are seeded the same way;
- summary p50 for one render with each event count, other renders' events present: the
  database work alone (`queries.render_engagement`, in-process) and the whole request
  (GET over ASGI through create_app, responses validated), rounds interleaved across sizes;
- the summary's database work against the same two SQL statements run raw on the cursor;
- on PostgreSQL, the hash-partitioned layout (db/partitioning.py) in a schema of its own:
  ingestion and summary p50 there, and the partitions one summary reads; dropped afterwards.
Writes bench/results-scale.md and bench/summary-latency.png (matplotlib, the `bench` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import peewee
from starlette.testclient import TestClient

from api.config import Settings
from api.server.app import create_app
from db import keys, queries
from db.connection import bind, connection, database_for
from db.migrations import recreate_schema
from db.partitioning import create_partitioned, drop_partitioned

ROOT = Path(__file__).resolve().parent.parent
RESULTS = "results-scale.md"
PLOT = "summary-latency.png"
TYPES = queries.EVENT_TYPES
CLI = [sys.executable, "-c", "from cli.main import main; main()"]


@dataclass
class Backend:
    name: str
    url: str
    renders: dict[int, str] = field(default_factory=dict)  # events -> render id
    headers: dict[str, str] = field(default_factory=dict)
    owner: queries.KeyOwner | None = None
    ingest: dict[str, float] = field(default_factory=dict)  # the largest file
    ingests: list[dict[str, float]] = field(default_factory=list)  # every file, smallest first
    db_p50: dict[int, float] = field(default_factory=dict)
    http_p50: dict[int, float] = field(default_factory=dict)
    raw: tuple[float, float] = (0.0, 0.0)  # (summary, raw statements) p50 seconds


def write_events(path: Path, renders: list[str], count: int, start: int = 0) -> None:
    """`count` JSON lines spread over `renders`: every type, a quarter through a share link,
    ids on every line, times spread over four weeks."""
    shares = {r: str(uuid.uuid5(uuid.UUID(r), "share")) for r in renders}
    with path.open("w") as out:
        for n in range(start, start + count):
            render = renders[n % len(renders)]
            out.write(
                json.dumps(
                    {
                        "id": f"ev_{n}",
                        "renderId": render,
                        "eventType": TYPES[n % len(TYPES)],
                        "actorKind": "recipient",
                        "createdAt": f"2026-06-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:"
                        f"{n // 60 % 60:02d}.{n % 1000:03d}Z",
                        "shareId": shares[render] if n % 4 == 0 else None,
                        "sourceIp": "203.0.113.7",
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
                        "metadata": {"n": n, "page": n % 9},
                    }
                )
                + "\n"
            )


def record(url: str, path: Path) -> dict[str, float]:
    """`craftkit events record PATH` in a child process: its rate, wall time and peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [*CLI, "--database-url", url, "events", "record", "--progress-every", "30", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    _, status, usage = os.wait4(child.pid, 0)
    out = child.stdout.read() if child.stdout else ""
    err = child.stderr.read() if child.stderr else ""
    if status != 0:
        raise SystemExit(f"events record failed: {err}")
    match = re.search(r"Recorded (\d+) events?.* in ([\d.]+) s \(([\d,]+) events/s\)", out)
    if not match:
        raise SystemExit(f"unexpected output: {out}")
    return {
        "events": int(match.group(1)),
        "seconds": float(match.group(2)),
        "rate": float(match.group(3).replace(",", "")),
        "wall": time.perf_counter() - started,
        "max_rss_mb": usage.ru_maxrss / 1024,
    }


def seed(backend: Backend, sizes: list[int], others: int, workdir: Path) -> None:
    """A project, a key, one render per size and ten other renders sharing `others` events."""
    bind(database_for(backend.url))
    recreate_schema()
    with connection():
        project = queries.create_project("scale")
        new = keys.generate_key("test")
        queries.store_api_key(project, "test", new.digest, new.display_prefix)
        backend.renders = {n: str(queries.create_render(project, "test").id) for n in sizes}
        other = [str(queries.create_render(project, "test").id) for _ in range(10)]
    backend.headers = {"Authorization": f"Bearer {new.plaintext}"}
    backend.owner = queries.KeyOwner(key_id=0, project_id=project.get_id(), mode="test")
    path = workdir / "events.jsonl"
    write_events(path, other, others, start=10_000_000)
    record(backend.url, path)
    for n in sorted(sizes):
        write_events(path, [backend.renders[n]], n)
        result = record(backend.url, path)
        backend.ingests.append(result)
        if n == max(sizes):
            backend.ingest = result
            print(f"{backend.name}: ingested {n:,} events at {result['rate']:,.0f}/s", flush=True)
    path.unlink()


def p50(timings: list[float]) -> float:
    return statistics.median(timings)


def measure(backend: Backend, rounds: int, calls: int, requests: int) -> None:
    """p50 of the summary's database work and of the whole request, per size, interleaved."""
    assert backend.owner is not None
    settings = Settings.from_env({}, database_url=backend.url, spec_path=str(ROOT / "openapi.yaml"))
    db_times: dict[int, list[float]] = {n: [] for n in backend.renders}
    http_times: dict[int, list[float]] = {n: [] for n in backend.renders}
    with TestClient(create_app(settings)) as client:
        for render in backend.renders.values():  # warm: validators, caches, connections
            for _ in range(10):
                client.get(f"/v1/renders/{render}/engagement", headers=backend.headers)
        for _ in range(rounds):
            for n, render in backend.renders.items():
                with connection():
                    queries.render_engagement(render, backend.owner, 20)  # warm
                    for _ in range(calls):
                        start = time.perf_counter()
                        queries.render_engagement(render, backend.owner, 20)
                        db_times[n].append(time.perf_counter() - start)
                path = f"/v1/renders/{render}/engagement"
                for _ in range(requests):
                    start = time.perf_counter()
                    response = client.get(path, headers=backend.headers)
                    http_times[n].append(time.perf_counter() - start)
                    if response.status_code != 200 or response.json()["total"] != n:
                        raise SystemExit(f"{backend.name}: bad answer {response.text[:200]}")
    backend.db_p50 = {n: p50(t) for n, t in db_times.items()}
    backend.http_p50 = {n: p50(t) for n, t in http_times.items()}


def raw_statements(backend: Backend, events: int, calls: int) -> None:
    """The summary's database work against its two SQL statements run on the bare cursor."""
    assert backend.owner is not None
    render = backend.renders[events]
    owner = backend.owner
    with connection() as db:
        hexed = uuid.UUID(render).hex
        counters_sql, first = queries.RENDER_COUNTERS.bind(
            db, render=hexed, project=owner.project_id, mode=owner.mode
        )
        recent_sql, second = queries.RECENT.bind(db, render=hexed, limit=20)
        cursor = db.cursor()

        def raw() -> None:
            cursor.execute(counters_sql, first)
            cursor.fetchall()
            cursor.execute(recent_sql, second)
            cursor.fetchall()

        fast, bare = [], []
        for _ in range(calls):
            start = time.perf_counter()
            queries.render_engagement(render, owner, 20)
            fast.append(time.perf_counter() - start)
            start = time.perf_counter()
            raw()
            bare.append(time.perf_counter() - start)
    backend.raw = (p50(fast), p50(bare))


def partitioned(url: str, workdir: Path, events: int, renders: int) -> dict[str, Any]:
    """The hash-partitioned layout in its own schema: ingestion, summary p50, partitions read."""
    schema = f"ck_bench_partitioned_{os.getpid()}"
    plain = database_for(url)
    assert isinstance(plain, peewee.PostgresqlDatabase)
    with plain.connection_context():
        drop_partitioned(plain, schema)
        create_partitioned(plain, schema, partitions=16)
    scoped = f"{url}?options={quote(f'-c search_path={schema}')}"
    try:
        bind(database_for(scoped))
        with connection():
            project = queries.create_project("partitioned")
            ids = [str(queries.create_render(project, "test").id) for _ in range(renders)]
        path = workdir / "partitioned.jsonl"
        write_events(path, ids, events)
        ingest = record(scoped, path)
        path.unlink()
        owner = queries.KeyOwner(key_id=0, project_id=project.get_id(), mode="test")
        timings = []
        with connection() as db:
            for n in range(2000):
                start = time.perf_counter()
                queries.render_engagement(ids[n % renders], owner, 20)
                timings.append(time.perf_counter() - start)
            plan = "\n".join(
                row[0]
                for row in db.execute_sql(
                    "EXPLAIN SELECT * FROM engagement_event WHERE render_id = %s "
                    "ORDER BY created_at_ms DESC, seq DESC LIMIT 20",
                    (ids[0],),
                )
            )
            spread = db.execute_sql(
                "SELECT count(DISTINCT tableoid) FROM engagement_event"
            ).fetchone()[0]
        return {
            "events": events,
            "renders": renders,
            "rate": ingest["rate"],
            "p50": p50(timings),
            "read": sorted(set(re.findall(r" on (engagement_event_p\d+)", plan))),
            "spread": spread,
        }
    finally:
        bind(None)
        with plain.connection_context():
            drop_partitioned(plain, schema)


def plot(backends: list[Backend], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return False
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for backend in backends:
        sizes = sorted(backend.db_p50)
        axis.plot(
            sizes,
            [backend.http_p50[n] * 1e3 for n in sizes],
            "o-",
            label=f"{backend.name}: whole request",
        )
        axis.plot(
            sizes,
            [backend.db_p50[n] * 1e3 for n in sizes],
            "s--",
            label=f"{backend.name}: database work",
        )
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("events on the render (others' events present)")
    axis.set_ylabel("p50 latency, ms (log)")
    axis.set_title("GET /v1/renders/{id}/engagement: latency against events")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def report(backends: list[Backend], parts: dict[str, Any] | None, args: Any, plotted: bool) -> str:
    sizes = sorted(backends[0].db_p50)
    small, large = sizes[0], sizes[-1]
    lines = [
        "# Benchmark: data at scale",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared), Python {platform.python_version()}: "
        f"`python -m bench.scale --sizes {args.sizes} --others {args.others}`.",
        "",
        "## Summary latency against events on one render",
        "",
        f"One render per size, plus {args.others:,} events on ten other renders. p50 over "
        f"{args.rounds} interleaved rounds: *database* is `queries.render_engagement` "
        f"in-process ({args.calls} calls a round), *request* is the whole GET over ASGI "
        f"through `create_app`, responses validated ({args.requests} a round).",
        "",
        "| backend | "
        + " | ".join(f"{n:,} events" for n in sizes)
        + f" | t({large:,})/t({small:,}) |",
        "| --- |" + " ---: |" * (len(sizes) + 1),
    ]
    for b in backends:
        for label, values in (("database", b.db_p50), ("request", b.http_p50)):
            lines.append(
                f"| {b.name}, {label} | "
                + " | ".join(f"{values[n] * 1e3:.3f} ms" for n in sizes)
                + f" | {values[large] / values[small]:.2f} |"
            )
    if plotted:
        lines += ["", f"![summary latency against events]({PLOT})"]
    lines += [
        "",
        "## Ingestion: `craftkit events record`",
        "",
        f"A {large:,}-line file (304 bytes a line) into a database already holding the other "
        "sizes; one process, one transaction; rate as the command reports it; peak RSS of "
        "the process, with the same for every smaller file: memory does not follow the "
        "file's length (SQLite's includes its 64 MB page cache while writing).",
        "",
        "| backend | events | seconds | events/s | peak RSS | peak RSS by file size |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for b in backends:
        i = b.ingest
        by_size = ", ".join(f"{int(r['events']):,}: {r['max_rss_mb']:.0f} MB" for r in b.ingests)
        lines.append(
            f"| {b.name} | {int(i['events']):,} | {i['seconds']:.1f} | {i['rate']:,.0f} | "
            f"{i['max_rss_mb']:.0f} MB | {by_size} |"
        )
    lines += [
        "",
        "## The summary's database work against its raw statements",
        "",
        f"A render with {args.raw_events:,} events: `queries.render_engagement` (statements "
        "built once by Peewee, rows as tuples) against the same two SQL "
        "statements executed and fetched on the bare DB-API cursor.",
        "",
        "| backend | summary p50 | raw statements p50 | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for b in backends:
        fast, bare = b.raw
        lines.append(
            f"| {b.name} | {fast * 1e6:.0f} µs | {bare * 1e6:.0f} µs | {fast / bare:.2f}x |"
        )
    if parts:
        lines += [
            "",
            "## PostgreSQL, hash-partitioned by render",
            "",
            f"db/partitioning.py's layout (16 partitions) in a schema of its own, dropped "
            f"afterwards: {parts['events']:,} events over {parts['renders']:,} renders, "
            f"ingested at {parts['rate']:,.0f} events/s; they landed in {parts['spread']} "
            f"partitions. Summary p50 over renders: {parts['p50'] * 1e6:.0f} µs. The plan "
            f"of `recent` reads {len(parts['read'])} partition(s): {', '.join(parts['read'])}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,1000,100000,1000000")
    parser.add_argument("--others", type=int, default=100_000, help="events on other renders")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=400, help="database calls per round")
    parser.add_argument("--requests", type=int, default=100, help="requests per round")
    parser.add_argument("--raw-events", type=int, default=1000)
    parser.add_argument("--partitioned-events", type=int, default=200_000)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent, help="where results go (bench/)"
    )
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")]
    if args.raw_events not in sizes:
        raise SystemExit("--raw-events must be one of --sizes")

    workdir = Path(tempfile.mkdtemp(prefix="craftkit-scale-"))
    backends = [Backend("SQLite", f"sqlite:///{workdir / 'scale.db'}")]
    postgres = os.environ.get("CRAFTKIT_BENCH_POSTGRES_URL")
    if postgres:
        backends.append(Backend("PostgreSQL", postgres))
    for backend in backends:
        seed(backend, sizes, args.others, workdir)
        measure(backend, args.rounds, args.calls, args.requests)
        raw_statements(backend, args.raw_events, args.calls * args.rounds)
    parts = partitioned(postgres, workdir, args.partitioned_events, 1000) if postgres else None
    plotted = plot(backends, args.output / PLOT)
    text = report(backends, parts, args, plotted)
    (args.output / RESULTS).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
