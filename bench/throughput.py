"""Throughput and latency over HTTP, craftkit beside the framework it extends, in one run.

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

Each round runs `wrk -t2 -c32` for --duration seconds and `wrk -t1 -c1` for --single seconds
per server; the table gives the median over rounds and the range.
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

import yaml

from bench import profile, reference, spec30, wrk
from bench.report import Section, spread, table

NAME = "throughput"
TITLE = "Throughput and latency over HTTP (wrk)"
ROOT = Path(__file__).resolve().parent.parent
CRAFTKIT = Path(sys.executable).parent / "craftkit"
SPEC = ROOT / "openapi.yaml"
FIGURE = "throughput.png"
BASES = ("c", "d")  # every row's ratios are to these two


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--rounds", type=int, default=3, help="rounds over every server")
    group.add_argument("--duration", type=int, default=10, help="seconds of -c32 per round")
    group.add_argument("--single", type=int, default=3, help="seconds of -c1 per round")
    group.add_argument("--warmup", type=int, default=3, help="seconds of load before round 1")
    group.add_argument("--servers", default="abcdef", help="which servers, by letter")
    group.add_argument(
        "--profile", type=int, default=8, help="seconds of py-spy on (a) under load (0: none)"
    )


@dataclass
class Server:
    letter: str
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
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


def seed_demo(workdir: Path) -> tuple[str, str, str]:
    """`craftkit demo` into a new SQLite file: (database URL, request path, key)."""
    url = f"sqlite:///{workdir / 'bench.db'}"
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
    return url, found.group(2), found.group(1)


def servers(database_url: str, has_app_setting: bool, default_app: str) -> list[Server]:
    serve = [str(CRAFTKIT), "--database-url", database_url, "serve"]
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1"]
    kind = {"async": "AsyncApp", "flask": "FlaskApp"}.get(default_app, default_app)
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


def run(args: argparse.Namespace, out_dir: Path) -> Section:
    wrk.executable()  # fail first, with the install hint, if wrk is missing
    has_app_setting, default_app = app_setting()
    with tempfile.TemporaryDirectory(prefix="craftkit-bench-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        database_url, path, key = seed_demo(workdir)
        all_servers = servers(database_url, has_app_setting, default_app)
        chosen = [s for s in all_servers if s.letter in args.servers or s.letter == "a"]
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
            server.body_matches = wait_ready(server, path, key) == body
        headers = {"Authorization": f"Bearer {key}"}
        for server in chosen:
            print(f"warm-up ({server.letter}) {server.name}", file=sys.stderr)
            wrk.run(
                server.url + path, threads=2, connections=32, seconds=args.warmup, headers=headers
            )
        for round_number in range(1, args.rounds + 1):
            for server in chosen:
                loaded = wrk.run(
                    server.url + path,
                    threads=2,
                    connections=32,
                    seconds=args.duration,
                    headers=headers,
                )
                single = wrk.run(
                    server.url + path,
                    threads=1,
                    connections=1,
                    seconds=args.single,
                    headers=headers,
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
                    headers=headers,
                ),
            )
    return section(args, chosen, has_app_setting, default_app, out_dir, profiled)


def section(
    args: argparse.Namespace,
    chosen: list[Server],
    has_app_setting: bool,
    default_app: str,
    out_dir: Path,
    profiled: list[profile.Row] | None = None,
) -> Section:
    by_letter = {s.letter: s for s in chosen}
    rows = []
    for s in chosen:
        ratios = [f"{s.rate / by_letter[b].rate:.2f}x" if b in by_letter else "-" for b in BASES]
        p99_ratio = f"{s.p99 / by_letter['d'].p99:.2f}x" if "d" in by_letter else "-"
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
        "Each logs "
        "every request: the "
        "references with uvicorn's access log, craftkit serve with its request log "
        "(api/ops/request_log.py, one JSON line a request) in its place. Only (f) adds a worker.",
        "",
        *table(
            [
                "server",
                "req/s",
                "p50 ms",
                "p99 ms",
                "p50 ms, 1 conn",
                "req/s ÷ (c)",
                "req/s ÷ (d)",
                "p99 ÷ (d)",
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
    lines += [
        "",
        f"![Throughput of each server against the references]({FIGURE})",
        "",
        "Commands (ports vary per run; the wrk script only prints a JSON summary from wrk's "
        "`done` hook):",
        "",
        "```sh",
        "craftkit --database-url sqlite:///$TMP/bench.db demo",
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
            plot.Bar(
                f"({s.letter}) {s.name}", s.letter, [r.rate for r in s.loaded], s.letter in "abf"
            )
            for s in chosen
        ]
        figures.append(plot.throughput(bars, out_dir / FIGURE))
    return Section(TITLE, lines, figures)


def _shown(argv: list[str]) -> str:
    """argv as a reader would type it: program names, not this machine's paths; $VARIABLES."""
    shown = []
    for part in argv:
        if part == sys.executable:
            part = "python"
        elif part.startswith("/") and Path(part).name in ("craftkit", "wrk"):
            part = Path(part).name
        elif part.startswith("sqlite:///"):
            part = "sqlite:///$TMP/bench.db"
        if "$" not in part:
            part = shlex.quote(part)
        elif " " in part:
            part = f'"{part}"'  # double quotes: the shell still expands $KEY
        shown.append(part)
    return " ".join(shown)


def _shown_env(server: Server) -> str:
    return "".join(f"  # with {k}={v}" for k, v in server.env.items())


def targets(by_letter: dict[str, Server]) -> list[str]:
    """Each target of issue 9, met or missed by how much, from this run's medians."""
    checks: list[tuple[str, float, float, bool]] = []  # (what, value, bound, higher is better)
    a = by_letter["a"]
    if "c" in by_letter:
        checks.append(("(a) req/s ÷ (c)", a.rate / by_letter["c"].rate, 3.0, True))
    if "d" in by_letter:
        d = by_letter["d"]
        checks.append(("(a) req/s ÷ (d)", a.rate / d.rate, 0.6, True))
        checks.append(("(a) p99 ÷ (d) p99", a.p99 / d.p99, 1.5, False))
    checks.append(("(a) p50 with one connection, ms", a.p50_single * 1000, 2.0, False))
    if "f" in by_letter:
        checks.append(("(f) req/s ÷ (a)", by_letter["f"].rate / a.rate, 1.6, True))
    rows = []
    for what, value, bound, higher in checks:
        met = value >= bound if higher else value <= bound
        verdict = "met" if met else f"**missed**: {value / bound:.2f}x the target"
        rows.append([what, f"{value:.2f}", f"{'≥' if higher else '≤'} {bound:g}", verdict])
    return ["Targets (issue 9):", "", *table(["check", "this run", "target", "verdict"], rows)]
