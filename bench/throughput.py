"""Throughput and latency over HTTP, craftkit beside the frameworks it competes with, in one run.

Every server is a separate uvicorn process on a free 127.0.0.1 port, started and stopped here,
answering the same request with the same bytes (the demo render's answer as craftkit serves
it); wrk loads each in turn, round after round, so noise on the shared machine hits them alike:

  a  craftkit serve, default settings (one worker, SQLite, the demo render)
  b  craftkit serve with CRAFTKIT_APP=flask (skipped, with a note, where the setting is absent)
  c  stock Connexion 3.3 FlaskApp, its own validators, responses validated (a 3.0 copy of the
     contract, made in memory: Connexion refuses 3.1)
  d  stock Connexion AsyncApp, async handler, responses not validated: the framework's floor
  e  a bare Starlette route returning the bytes
  f  craftkit serve --workers 2
  g  FastAPI, `async def`, stdlib sqlite3 on the same file: the same statements, a pydantic
     response model (bench/fastapi_reference.py)
  h  the same with a `def` endpoint, in FastAPI's thread pool
  i  FastAPI returning the fixed answer through the same response model (no database)
  p  craftkit serve on PostgreSQL (`--postgres-url`, seeded with `craftkit demo`): its reads
     on the event loop through psycopg 3 (db/postgres_loop.py, the default)
  r  the same with CRAFTKIT_DB_ON_LOOP=0: psycopg2 in the thread pool
  q  FastAPI, `async def`, psycopg 3's connection pool on that PostgreSQL database

(p), (r) and (q) run when PostgreSQL answers at --postgres-url (the database is created if missing);
otherwise the report says why they were left out. Each round runs `wrk -t2 -c32` for --duration
seconds and `wrk -t1 -c1` for --single seconds per server; the table gives the median over
rounds and the range, and issue 22's targets are checked against this run's medians.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import profile, reference, spec30, wrk
from bench.report import Section, spread, table

NAME = "throughput"
TITLE = "Throughput and latency over HTTP (wrk)"
ROOT = Path(__file__).resolve().parent.parent
CRAFTKIT = Path(sys.executable).parent / "craftkit"
SPEC = ROOT / "openapi.yaml"
FIGURE = "throughput.png"
BASES = ("c", "d", "g")  # every row's ratios are to these
SERVERS = "abcdefghipqr"
ON_POSTGRES = "pqr"  # the servers that need --postgres-url
POSTGRES_ENV = "CRAFTKIT_BENCH_POSTGRES_URL"  # the inprocess section's PostgreSQL too
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/craftkit_bench"
SHOWN_POSTGRES = "$POSTGRES_URL"  # in the report: a URL may hold a password


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--rounds", type=int, default=3, help="rounds over every server")
    group.add_argument("--duration", type=int, default=10, help="seconds of -c32 per round")
    group.add_argument("--single", type=int, default=3, help="seconds of -c1 per round")
    group.add_argument("--warmup", type=int, default=3, help="seconds of load before round 1")
    group.add_argument("--servers", default=SERVERS, help="which servers, by letter")
    group.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_ENV, POSTGRES_URL),
        help=f"PostgreSQL for (p), (q) and (r), created if missing (default: ${POSTGRES_ENV} or "
        f"{POSTGRES_URL}; '' leaves them out)",
    )
    group.add_argument(
        "--profile", type=int, default=8, help="seconds of py-spy on (a) under load (0: none)"
    )


@dataclass
class Server:
    letter: str
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    key: str = ""  # the bearer key its database knows (its own demo's)
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    body_matches: bool = False
    loaded: list[wrk.Result] = field(default_factory=list)  # -c32, one per round
    single: list[wrk.Result] = field(default_factory=list)  # -c1, one per round

    @property
    def ours(self) -> bool:
        return self.name.startswith("craftkit")

    @property
    def rate(self) -> float:
        return statistics.median(r.rate for r in self.loaded)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99 for r in self.loaded)

    @property
    def p50_single(self) -> float:
        return statistics.median(r.p50 for r in self.single)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_setting() -> tuple[bool, str]:
    """(whether this build has CRAFTKIT_APP, its default app kind)."""
    from dataclasses import fields

    from api.config import Settings

    for f in fields(Settings):
        if f.metadata.get("env") == "CRAFTKIT_APP":
            return True, str(f.default)
    return False, "flask"


def seed_demo(workdir: Path, url: str) -> tuple[str, str]:
    """`craftkit demo` into the database at `url`: (request path, key).

    The demo is the same render and events wherever it is seeded (and seeding again adds
    nothing), so every database answers the same bytes."""
    done = subprocess.run(
        [str(CRAFTKIT), "--database-url", url, "demo"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Bearer (\S+)' \S+?(/v1/renders/[0-9a-f-]+/engagement)", done.stdout)
    if found is None:
        raise SystemExit(f"craftkit demo printed no curl line:\n{done.stdout}{done.stderr}")
    return found.group(2), found.group(1)


def postgres_ready(url: str) -> tuple[bool, str]:
    """(whether (p), (q) and (r) can run on `url`, the server's version or why not), creating the
    database if the server answers without it."""
    if not url:
        return False, "--postgres-url is empty"
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        return False, "psycopg 3 is not installed (`pip install -e '.[bench]'`)"

    def version(conn: psycopg.Connection[Any]) -> str:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return True, version(conn)
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            return False, f"PostgreSQL did not answer ({_first_line(exc)})"
    name = str(psycopg.conninfo.conninfo_to_dict(url).get("dbname"))
    try:
        admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", file=sys.stderr)
            return True, version(conn)
    except psycopg.Error as exc:
        return False, f"could not create database {name} ({_first_line(exc)})"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def servers(
    database_url: str, has_app_setting: bool, default_app: str, postgres_url: str = ""
) -> list[Server]:
    """Every server this build can run; (p), (q) and (r) only given `postgres_url`."""
    serve = [str(CRAFTKIT), "--database-url", database_url, "serve"]
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1"]
    kind = {"async": "AsyncApp", "flask": "FlaskApp"}.get(default_app, default_app)
    on_sqlite = {reference.DATABASE_ENV: database_url}
    found = [
        Server("a", f"craftkit serve ({kind}, default)", serve),
        Server(
            "c",
            "stock Connexion FlaskApp, responses validated",
            [*uvicorn, "bench.reference:stock_flask"],
        ),
        Server(
            "d",
            "stock Connexion AsyncApp, async handler (floor)",
            [*uvicorn, "bench.reference:stock_async"],
        ),
        Server("e", "bare Starlette route", [*uvicorn, "bench.reference:bare_starlette"]),
        Server("f", f"craftkit serve --workers 2 ({kind})", [*serve, "--workers", "2"]),
        Server(
            "g",
            "FastAPI, async def, sqlite3",
            [*uvicorn, "bench.fastapi_reference:fastapi_sqlite"],
            on_sqlite,
        ),
        Server(
            "h",
            "FastAPI, def (thread pool), sqlite3",
            [*uvicorn, "bench.fastapi_reference:fastapi_sqlite_threads"],
            on_sqlite,
        ),
        Server(
            "i",
            "FastAPI, fixed answer via response model",
            [*uvicorn, "bench.fastapi_reference:fastapi_fixed"],
        ),
    ]
    if postgres_url:
        found += [
            Server(
                "p",
                f"craftkit serve on PostgreSQL ({kind})",
                [str(CRAFTKIT), "--database-url", postgres_url, "serve"],
            ),
            Server(
                "r",
                f"craftkit serve on PostgreSQL, psycopg2 in threads ({kind})",
                [str(CRAFTKIT), "--database-url", postgres_url, "serve"],
                {"CRAFTKIT_DB_ON_LOOP": "0"},
            ),
            Server(
                "q",
                "FastAPI, async def, psycopg 3 pool, PostgreSQL",
                [*uvicorn, "bench.fastapi_reference:fastapi_postgres"],
                {reference.DATABASE_ENV: postgres_url},
            ),
        ]
    if has_app_setting and default_app != "flask":
        found.insert(
            1, Server("b", "craftkit serve, CRAFTKIT_APP=flask", serve, {"CRAFTKIT_APP": "flask"})
        )
    return found


@contextmanager
def started(server: Server, workdir: Path, env: dict[str, str]) -> Iterator[Server]:
    """Run `server` on a free port in its own process group; always stopped on the way out."""
    port = free_port()
    argv = [*server.argv, "--port", str(port)]
    server.log = workdir / f"server-{server.letter}.log"
    with server.log.open("wb") as out:
        server.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, **server.env},
            start_new_session=True,  # its own group: --workers children stop with it
        )
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        stop(server.process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def fetch(url: str, key: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return bytes(answer.read())


def wait_ready(server: Server, path: str, key: str, timeout: float = 90) -> bytes:
    """The first 200 answer's body, once the server is up; SystemExit with its log if never."""
    assert server.process is not None and server.log is not None
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise SystemExit(f"({server.letter}) exited:\n{server.log.read_text()[-3000:]}")
        try:
            return fetch(server.url + path, key)
        except urllib.error.HTTPError as exc:
            raise SystemExit(
                f"({server.letter}) answered {exc.code}: {exc.read()[:500]!r}\n"
                f"{server.log.read_text()[-3000:]}"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"({server.letter}) did not answer:\n{server.log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)


def bearer(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key}"}


def run(args: argparse.Namespace, out_dir: Path) -> Section:
    wrk.executable()  # fail first, with the install hint, if wrk is missing
    has_app_setting, default_app = app_setting()
    postgres: tuple[bool, str] | None = None  # (ready, version or why not), when asked for
    if any(letter in args.servers for letter in ON_POSTGRES):
        postgres = postgres_ready(args.postgres_url)
    with tempfile.TemporaryDirectory(prefix="craftkit-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        database_url = f"sqlite:///{workdir / 'bench.db'}"
        path, key = seed_demo(workdir, database_url)
        postgres_url = args.postgres_url if postgres and postgres[0] else ""
        postgres_key = seed_demo(workdir, postgres_url)[1] if postgres_url else ""
        all_servers = servers(database_url, has_app_setting, default_app, postgres_url)
        chosen = [s for s in all_servers if s.letter in args.servers or s.letter == "a"]
        for server in chosen:
            server.key = postgres_key if server.letter in ON_POSTGRES else key
        craftkit = chosen[0]
        stack.enter_context(started(craftkit, workdir, {}))
        body = wait_ready(craftkit, path, key)
        craftkit.body_matches = True
        (workdir / "body.json").write_bytes(body)
        spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
        (workdir / "openapi30.yaml").write_text(yaml.safe_dump(spec30.to_openapi30(spec)))
        env = {
            reference.BODY_ENV: str(workdir / "body.json"),
            reference.SPEC30_ENV: str(workdir / "openapi30.yaml"),
            reference.KEY_ENV: key,
        }
        for server in chosen[1:]:
            stack.enter_context(started(server, workdir, env))
        for server in chosen[1:]:
            server.body_matches = wait_ready(server, path, server.key) == body
        for server in chosen:
            print(f"warm-up ({server.letter}) {server.name}", file=sys.stderr)
            wrk.run(
                server.url + path,
                threads=2,
                connections=32,
                seconds=args.warmup,
                headers=bearer(server),
            )
        for round_number in range(1, args.rounds + 1):
            for server in chosen:
                loaded = wrk.run(
                    server.url + path,
                    threads=2,
                    connections=32,
                    seconds=args.duration,
                    headers=bearer(server),
                )
                single = wrk.run(
                    server.url + path,
                    threads=1,
                    connections=1,
                    seconds=args.single,
                    headers=bearer(server),
                )
                server.loaded.append(loaded)
                server.single.append(single)
                print(
                    f"round {round_number} ({server.letter}) {loaded.rate:,.0f} req/s, "
                    f"p99 {loaded.p99 * 1000:.1f} ms, p50 at -c1 {single.p50 * 1000:.2f} ms",
                    file=sys.stderr,
                )
        profiled: list[profile.Row] = []
        if args.profile and profile.available() and craftkit.process is not None:
            print(f"profiling (a) for {args.profile} s under load", file=sys.stderr)
            profiled = profile.where_time_goes(
                craftkit.process.pid,
                args.profile,
                lambda: wrk.run(
                    craftkit.url + path,
                    threads=2,
                    connections=32,
                    seconds=args.profile,
                    headers=bearer(craftkit),
                    # Only the samples count here: a request py-spy's pauses held past wrk's
                    # 2 s timeout on a busy machine must not end the run.
                    allow_errors=True,
                ),
            )
    return section(args, chosen, has_app_setting, default_app, out_dir, profiled, postgres)


def section(
    args: argparse.Namespace,
    chosen: list[Server],
    has_app_setting: bool,
    default_app: str,
    out_dir: Path,
    profiled: list[profile.Row] | None = None,
    postgres: tuple[bool, str] | None = None,
) -> Section:
    by_letter = {s.letter: s for s in chosen}
    rows = []
    for s in chosen:
        ratios = [f"{s.rate / by_letter[b].rate:.2f}x" if b in by_letter else "-" for b in BASES]
        p99_ratio = f"{s.p99 / by_letter['g'].p99:.2f}x" if "g" in by_letter else "-"
        rows.append(
            [
                f"({s.letter}) {s.name}",
                spread([r.rate for r in s.loaded]),
                spread([r.p50 for r in s.loaded], 1000, 1),
                spread([r.p99 for r in s.loaded], 1000, 1),
                spread([r.p50 for r in s.single], 1000, 2),
                *ratios,
                p99_ratio,
                "yes" if s.body_matches else "**no**",
            ]
        )
    lines = [
        f"One uvicorn worker per server unless said otherwise; {args.rounds} rounds, each "
        f"`wrk -t2 -c32 -d{args.duration:g}s` then `wrk -t1 -c1 -d{args.single:g}s` per server "
        f"in turn, after {args.warmup:g} s of warm-up each. Medians over rounds, range in "
        "brackets. The request is the demo render's engagement (`craftkit demo`, 60 events); "
        "every server answers it with the same bytes (checked: last column).",
        "",
        "Every server runs under the same uvicorn settings: its defaults, `--loop auto --http "
        "auto` (uvloop and httptools, installed by connexion[uvicorn] through "
        "uvicorn[standard]: versions above), log level info; craftkit serve's httptools "
        "protocol is api/protocol/uvicorn_shim.py's subclass, which bounds the request head. "
        "Each logs every request: the references (Connexion, Starlette, FastAPI) with "
        "uvicorn's access log, on by default at log level info, into the server's log file; "
        "craftkit serve with its request log (api/ops/request_log.py, one JSON line a request) "
        "in its place. Only (f) adds a worker.",
        "",
        "The FastAPI references (bench/fastapi_reference.py) are what a FastAPI user would "
        "write: a pydantic response model mirroring the contract's EngagementSummary, the "
        "bearer key looked up by its SHA-256 digest, then the render's counters with the "
        "tenant check and its newest 20 events, by hand-written SQL on the file (g, h) or "
        "database (q) craftkit serves. (g) keeps one sqlite3 connection on the event loop, "
        "(h) one per thread of FastAPI's pool, (q) a psycopg_pool of 8 (craftkit's pool size), "
        "in autocommit as Peewee runs craftkit's; (i) returns the fixed answer, parsed once, "
        "through the same model. They look the key up on every request; craftkit trusts a key "
        "it has found for CRAFTKIT_KEY_CACHE_SECONDS (1 s by default).",
        "",
    ]
    if postgres is not None:
        ready, what = postgres
        lines += [
            f"(p), (r) and (q) on PostgreSQL {what} at `{SHOWN_POSTGRES}` (`--postgres-url`), "
            "seeded with the same `craftkit demo`, one worker and at most 8 connections each, "
            "as (q). (p) reads on the event loop through psycopg 3 (db/postgres_loop.py: the "
            "key lookup, then the summary's two statements in one round trip, prepared by "
            "psycopg after five runs on a connection); (r) through Peewee and psycopg2 in the "
            "thread pool (CRAFTKIT_DB_ON_LOOP=0)."
            if ready
            else f"(p), (r) and (q) left out: {what}.",
            "",
        ]
    lines += [
        *table(
            [
                "server",
                "req/s",
                "p50 ms",
                "p99 ms",
                "p50 ms, 1 conn",
                *(f"req/s ÷ ({b})" for b in BASES),
                "p99 ÷ (g)",
                "same bytes",
            ],
            rows,
        ),
        "",
    ]
    if not has_app_setting:
        lines += [
            "(b) skipped: this build has no CRAFTKIT_APP setting; `craftkit serve` builds a "
            "FlaskApp, so (a) *is* the FlaskApp configuration.",
            "",
        ]
    lines += targets(by_letter)
    if profiled:
        lines += [
            "",
            f"Where (a)'s time goes under the same load (py-spy, {args.profile} s of "
            "`wrk -t2 -c32`, samples of every thread; *self* is the innermost frame's "
            "component, *inclusive* any frame's; bench/profile.py). Read it beside any missed "
            "target above: the floor (d) spends nothing on validating responses, keys, the "
            "database or shaping an answer, and (e) nothing on Connexion either.",
            "",
            *table(
                ["component", "self %", "inclusive %"],
                [[name, f"{own:.1f}", f"{through:.1f}"] for name, own, through in profiled],
            ),
        ]
    seeded = ["sqlite:///$TMP/bench.db"]
    if any(letter in by_letter for letter in ON_POSTGRES):
        seeded.append(SHOWN_POSTGRES)
    lines += [
        "",
        f"![Throughput of each server against the references]({FIGURE})",
        "",
        "Commands (ports vary per run; the wrk script only prints a JSON summary from wrk's "
        "`done` hook):",
        "",
        "```sh",
        *(f"craftkit --database-url {url} demo" for url in seeded),
        *(_shown([*s.argv, "--port", "$PORT"]) + _shown_env(s) for s in chosen),
        _shown(
            wrk.command(
                "http://127.0.0.1:$PORT/v1/renders/$ID/engagement",
                threads=2,
                connections=32,
                seconds=args.duration,
                script=Path("summary.lua"),
                headers={"Authorization": "Bearer $KEY"},
            )
        ),
        "```",
    ]
    figures = []
    try:
        from bench import plot
    except ImportError:  # matplotlib is in the bench extra
        lines.append("\n(No figure: matplotlib is not installed; `pip install -e '.[bench]'`.)")
    else:
        bars = [
            plot.Bar(f"({s.letter}) {s.name}", s.letter, [r.rate for r in s.loaded], s.ours)
            for s in chosen
        ]
        figures.append(plot.throughput(bars, out_dir / FIGURE))
    return Section(TITLE, lines, figures)


def _shown_part(part: str) -> str:
    """A word of a command or a setting as a reader would type it: program names, not this
    machine's paths; $VARIABLES for temporary files and database URLs (which may hold a
    password)."""
    if part == sys.executable:
        return "python"
    if part.startswith("/") and Path(part).name in ("craftkit", "wrk"):
        return Path(part).name
    if part.startswith("sqlite:///"):
        return "sqlite:///$TMP/bench.db"
    if part.startswith(("postgres://", "postgresql://")):
        return SHOWN_POSTGRES
    return part


def _shown(argv: list[str]) -> str:
    """argv as a reader would type it (`_shown_part`), quoted for a shell."""
    shown = []
    for part in map(_shown_part, argv):
        if "$" not in part:
            part = shlex.quote(part)
        elif " " in part:
            part = f'"{part}"'  # double quotes: the shell still expands $KEY
        shown.append(part)
    return " ".join(shown)


def _shown_env(server: Server) -> str:
    return "".join(f"  # with {k}={_shown_part(v)}" for k, v in server.env.items())


def targets(by_letter: dict[str, Server]) -> list[str]:
    """Each target of issue 22, met or missed by how much, from this run's medians; then the
    figures it asks to see without a target. Targets whose servers did not run are left out."""
    # (what, value, bound or None for a figure without a target, higher is better)
    checks: list[tuple[str, float, float | None, bool]] = []
    a = by_letter["a"]

    def over(x: str, y: str) -> float:
        return by_letter[x].rate / by_letter[y].rate

    if "g" in by_letter:
        checks.append(("(a) req/s ÷ (g)", over("a", "g"), 1.0, True))
    if "d" in by_letter:
        checks.append(("(a) req/s ÷ (d)", over("a", "d"), 1.1, True))
    if "g" in by_letter:
        checks.append(("(a) p99 ÷ (g) p99", a.p99 / by_letter["g"].p99, 1.0, False))
    checks.append(("(a) p50 with one connection, ms", a.p50_single * 1000, 0.4, False))
    # What the references reach on this machine, beside the 0.4 ms bound.
    for letter in "gid":
        if letter in by_letter:
            p50 = by_letter[letter].p50_single * 1000
            checks.append((f"({letter}) p50 with one connection, ms", p50, None, False))
    if "p" in by_letter and "q" in by_letter:
        checks.append(("(p) req/s ÷ (q)", over("p", "q"), 1.0, True))
    if "p" in by_letter:
        checks.append(("(p) req/s ÷ (a): PostgreSQL over SQLite", over("p", "a"), None, True))
    if "p" in by_letter and "r" in by_letter:
        checks.append(("(p) req/s ÷ (r): on the loop over threads", over("p", "r"), None, True))
    if "h" in by_letter:
        checks.append(("(a) req/s ÷ (h)", over("a", "h"), None, True))
    if "f" in by_letter:
        checks.append(("(f) req/s ÷ (a)", over("f", "a"), None, True))
    rows = []
    for what, value, bound, higher in checks:
        if bound is None:
            rows.append([what, f"{value:.2f}", "-", "reported"])
            continue
        met = value >= bound if higher else value <= bound
        verdict = "met" if met else f"**missed**: {value / bound:.2f}x the target"
        rows.append([what, f"{value:.2f}", f"{'≥' if higher else '≤'} {bound:g}", verdict])
    return ["Targets (issue 22):", "", *table(["check", "this run", "target", "verdict"], rows)]
