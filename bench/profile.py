"""Where a server's time goes under load: py-spy samples, summed by component.

The throughput section calls `where_time_goes` for `craftkit serve` while wrk loads it, so
that bench/results.md can say, when a target is missed, what the time was spent on. py-spy
(the bench extra) samples the running process without changing it; each sample's innermost
frame is counted for the component its file belongs to (self time; a frame of Python's own
modules, such as re or inspect, counts for the nearest caller that is not one), and every
component the stack passes through for the inclusive column.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# (component, what a frame's "function (path:line)" contains); the first match wins. py-spy
# writes paths relative to where they were imported from: "(db/queries.py:12)".
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "validation (api/openapi/validation.py, jsonschema-rs)",
        ("(api/openapi/validation.py", "(jsonschema_rs"),
    ),
    ("key check (api/server/app.py KeyLookup, db/keys.py)", ("KeyLookup", "(db/keys.py")),
    ("database (db/, Peewee, sqlite3, psycopg2)", ("(db/", "(peewee", "(playhouse/", "(sqlite3/")),
    ("where statements run (api/server/dbwork.py)", ("(api/server/dbwork.py",)),
    ("handler: shaping the answer (handlers/)", ("(handlers/",)),
    ("JSON (orjson)", ("orjson",)),
    (
        "request log and metrics (api/ops/: telemetry, request_log, metrics; prometheus-client)",
        (
            "(api/ops/telemetry.py",
            "(api/ops/request_log.py",
            "(api/ops/metrics.py",
            "(prometheus_client/",
        ),
    ),
    ("our middleware and wiring (api/)", ("(api/",)),
    ("Connexion (routing, decorators, validation plumbing)", ("(connexion/", "(werkzeug/")),
    ("Starlette", ("(starlette/",)),
    ("uvicorn and the HTTP parser", ("(uvicorn/", "(httptools", "(h11/")),
    ("logging (the request log's or uvicorn's access log's lines)", ("(logging/",)),
    ("asyncio event loop", ("(asyncio/", "(anyio/", "(selectors.py")),
)
OTHER = "Python itself, no caller of ours or a library's (threads, native frames)"
Row = tuple[str, float, float]  # (component, self %, inclusive %)


def available() -> bool:
    return _py_spy() is not None


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def component(frame: str) -> str:
    for name, needles in COMPONENTS:
        if any(needle in frame for needle in needles):
            return name
    return OTHER


def summarise(raw: str) -> list[Row]:
    """Self and inclusive share per component from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    through: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        samples = int(count)
        total += samples
        # Python's own modules (re, typing, inspect…) are charged to the code that called them
        named = [component(frame) for frame in frames]
        own[next((name for name in reversed(named) if name != OTHER), OTHER)] += samples
        for name in set(named) - {OTHER}:
            through[name] += samples
    if not total:
        return []
    names = set(own) | set(through)
    return sorted(
        ((name, 100 * own[name] / total, 100 * through[name] / total) for name in names),
        key=lambda row: -row[1],
    )


def where_time_goes(pid: int, seconds: int, load: Callable[[], object]) -> list[Row]:
    """Sample process `pid` (and its children) for `seconds` while `load()` runs."""
    py_spy = _py_spy()
    if py_spy is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.txt"
        argv = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--duration"]
        argv += [str(seconds), "--rate", "200", "--format", "raw", "--output", str(out)]
        sampler = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            load()
        finally:
            _, errors = sampler.communicate(timeout=seconds + 30)
        if not out.exists():
            print(f"py-spy failed: {errors.decode(errors='replace')[-500:]}", file=sys.stderr)
            return []
        return summarise(out.read_text())
