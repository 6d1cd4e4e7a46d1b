"""craftkit proxy beside Prism's proxy, in front of the same fast upstream, in one run.

The upstream is a bare Starlette route answering the demo render's engagement with the bytes
craftkit serve sends for it (bench/reference.py's `bare_starlette`); wrk loads it directly,
through `craftkit proxy` (report mode: every request and answer checked) and through
`prism proxy` (Stoplight Prism, from npm, installed on first use into a cache directory
outside the repository: $CRAFTKIT_PRISM_DIR, default ~/.cache/craftkit-prism), round after
round so noise on a shared machine hits them alike:

  u  the upstream, direct
  p  craftkit proxy --upstream u
  q  prism proxy openapi.yaml u

Targets (issue 19): (p) adds at most 0.5 ms to the p50 with one connection, and serves at
least 3x (q)'s requests per second at 32 connections.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import reference, wrk
from bench.report import Section, spread, table
from bench.throughput import (
    CRAFTKIT,
    ROOT,
    SPEC,
    Server,
    _shown,
    seed_demo,
    started,
    wait_ready,
)

NAME = "proxy"
TITLE = "Validation proxy: craftkit proxy beside Prism's proxy (wrk)"
PRISM_PACKAGE = "@stoplight/prism-cli@5"
ADDED_P50_MS = 0.5
TIMES_PRISM = 3.0
# Seconds a request may take before wrk counts an error: Prism's p99 passes wrk's default 2 s
# on a busy machine, which would end the run rather than measure it.
WRK_TIMEOUT = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(NAME)
    group.add_argument("--proxy-rounds", type=int, default=3, help="rounds over the three")
    group.add_argument("--proxy-duration", type=int, default=10, help="seconds of -c32 a round")
    group.add_argument("--proxy-single", type=int, default=3, help="seconds of -c1 a round")
    group.add_argument("--proxy-warmup", type=int, default=3, help="seconds of load before")
    group.add_argument(
        "--no-prism", action="store_true", help="skip Prism (no npm needed; no ratio then)"
    )


def prism_executable() -> str:
    """Prism's CLI from the cache directory, installed there with npm when missing."""
    where = Path(os.environ.get("CRAFTKIT_PRISM_DIR", Path.home() / ".cache" / "craftkit-prism"))
    binary = where / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return str(binary)
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is missing: Prism comes from npm (or run with --no-prism)")
    where.mkdir(parents=True, exist_ok=True)
    print(f"installing {PRISM_PACKAGE} into {where}", file=sys.stderr)
    subprocess.run(
        [npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", PRISM_PACKAGE],
        check=True,
        timeout=600,
    )
    return str(binary)


def prism_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or "?"


def run(args: argparse.Namespace, out_dir: Path) -> Section:
    wrk.executable()
    prism = None if args.no_prism else prism_executable()
    with tempfile.TemporaryDirectory(prefix="craftkit-bench-proxy-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        database_url = f"sqlite:///{workdir / 'bench.db'}"
        path, key = seed_demo(workdir, database_url)
        serve = Server(
            "a", "craftkit serve", [str(CRAFTKIT), "--database-url", database_url, "serve"]
        )
        with started(serve, workdir, {}):
            body = wait_ready(serve, path, key)
        (workdir / "body.json").write_bytes(body)
        env = {reference.BODY_ENV: str(workdir / "body.json")}
        uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1"]
        upstream = Server(
            "u",
            "bare upstream (Starlette route), direct",
            [*uvicorn, "bench.reference:bare_starlette"],
        )
        stack.enter_context(started(upstream, workdir, env))
        wait_ready(upstream, path, key)
        chosen = [upstream]
        ours = Server(
            "p",
            "craftkit proxy (report mode), in front of (u)",
            [str(CRAFTKIT), "proxy", "--spec", str(SPEC), "--upstream", upstream.url],
            {"CRAFTKIT_LOG_LEVEL": "warning"},
        )
        chosen.append(ours)
        if prism is not None:
            chosen.append(
                Server(
                    "q",
                    f"Prism {prism_version(prism)} proxy, in front of (u)",
                    [prism, "proxy", "-h", "127.0.0.1", str(SPEC), upstream.url],
                )
            )
        for server in chosen[1:]:
            stack.enter_context(started(server, workdir, {**env, **server.env}))
        for server in chosen:
            server.body_matches = wait_ready(server, path, key) == body
        headers = {"Authorization": f"Bearer {key}"}
        for server in chosen:
            print(f"warm-up ({server.letter}) {server.name}", file=sys.stderr)
            wrk.run(
                server.url + path,
                threads=2,
                connections=32,
                seconds=args.proxy_warmup,
                headers=headers,
                timeout=WRK_TIMEOUT,
                allow_errors=True,
            )
        for round_number in range(1, args.proxy_rounds + 1):
            for server in chosen:
                loaded = wrk.run(
                    server.url + path,
                    threads=2,
                    connections=32,
                    seconds=args.proxy_duration,
                    headers=headers,
                    timeout=WRK_TIMEOUT,
                    allow_errors=True,
                )
                single = wrk.run(
                    server.url + path,
                    threads=1,
                    connections=1,
                    seconds=args.proxy_single,
                    headers=headers,
                    timeout=WRK_TIMEOUT,
                    allow_errors=True,
                )
                server.loaded.append(loaded)
                server.single.append(single)
                print(
                    f"round {round_number} ({server.letter}) {loaded.rate:,.0f} req/s, "
                    f"p50 at -c1 {single.p50 * 1000:.3f} ms",
                    file=sys.stderr,
                )
    return section(args, chosen)


def section(args: argparse.Namespace, chosen: list[Server]) -> Section:
    by_letter = {s.letter: s for s in chosen}
    direct = by_letter["u"]
    prism = by_letter.get("q")
    rows = []
    for s in chosen:
        added = (s.p50_single - direct.p50_single) * 1000 if s is not direct else 0.0
        rows.append(
            [
                f"({s.letter}) {s.name}",
                spread([r.rate for r in s.loaded]),
                spread([r.p50 for r in s.loaded], 1000, 2),
                spread([r.p99 for r in s.loaded], 1000, 2),
                spread([r.p50 for r in s.single], 1000, 3),
                "-" if s is direct else f"{added:+.3f}",
                f"{s.rate / prism.rate:.2f}x" if prism else "-",
                "yes" if s.body_matches else "**no**",
                str(sum(r.errors for r in [*s.loaded, *s.single])),
            ]
        )
    lines = [
        f"{args.proxy_rounds} rounds, each `wrk -t2 -c32 -d{args.proxy_duration:g}s` then "
        f"`wrk -t1 -c1 -d{args.proxy_single:g}s` per server in turn, after "
        f"{args.proxy_warmup:g} s of warm-up each; medians over rounds, range in brackets. "
        "The request is the demo render's engagement with its bearer key; the upstream (u) "
        "answers it with craftkit serve's bytes (checked through each proxy: last column). "
        "craftkit proxy runs in report mode, checking the request (route, path parameter, "
        "security) and the answer (status, media type, body against its 2020-12 schema); "
        "Prism's proxy validates too (its `sl-violations` header), with its defaults. "
        "Errors: socket errors and non-2xx answers wrk counted over every run (the run goes on).",
        "",
        *table(
            [
                "server",
                "req/s",
                "p50 ms",
                "p99 ms",
                "p50 ms, 1 conn",
                "p50 added, 1 conn (ms)",
                "req/s ÷ (q)",
                "same bytes",
                "errors",
            ],
            rows,
        ),
        "",
        *targets(by_letter),
        "",
        "Commands (ports vary per run):",
        "",
        "```sh",
        *(
            _shown([_readable(part, direct) for part in [*s.argv, "--port", "$PORT"]])
            for s in chosen
        ),
        _shown(
            wrk.command(
                "http://127.0.0.1:$PORT/v1/renders/$ID/engagement",
                threads=2,
                connections=32,
                seconds=args.proxy_duration,
                script=Path("summary.lua"),
                headers={"Authorization": "Bearer $KEY"},
                timeout=WRK_TIMEOUT,
            )
        ),
        "```",
    ]
    return Section(TITLE, lines)


def _readable(part: str, direct: Server) -> str:
    """A command-line word as a reader would type it: no paths of this machine."""
    if part == str(SPEC):
        return "openapi.yaml"
    if part == direct.url:
        return "http://127.0.0.1:$UPSTREAM"
    if part.endswith("/.bin/prism"):
        return "prism"
    return part


def targets(by_letter: dict[str, Server]) -> list[str]:
    """Issue 19's targets, met or missed, from this run's medians."""
    direct, ours = by_letter["u"], by_letter["p"]
    checks = [
        (
            "(p) p50 added with one connection, ms",
            (ours.p50_single - direct.p50_single) * 1000,
            ADDED_P50_MS,
            False,
        )
    ]
    if "q" in by_letter:
        checks.append(("(p) req/s ÷ (q) req/s", ours.rate / by_letter["q"].rate, TIMES_PRISM, True))
    rows = []
    for what, value, bound, higher in checks:
        met = value >= bound if higher else value <= bound
        verdict = "met" if met else f"**missed**: {value / bound:.2f}x the target"
        rows.append(
            [
                what,
                f"{value:.3f}" if not higher else f"{value:.2f}",
                f"{'≥' if higher else '≤'} {bound:g}",
                verdict,
            ]
        )
    return ["Targets (issue 19):", "", *table(["check", "this run", "target", "verdict"], rows)]


__all__ = ["NAME", "ROOT", "TITLE", "add_arguments", "run"]
