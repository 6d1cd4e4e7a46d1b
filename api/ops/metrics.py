"""Prometheus metrics at `/metrics`, correct with several uvicorn workers.

prometheus-client does the work. With several workers each process counts on its own, so
`craftkit serve --workers N` points `PROMETHEUS_MULTIPROC_DIR` at a private temporary directory
before any worker starts (`multiprocess_dir(N)`); every worker then writes its counts to files
there and whichever worker answers `/metrics` adds them all up (prometheus-client's
multiprocess mode). One worker needs no files: without the variable (one worker, tests, an
embedding application) the process's own registry is served, with prometheus-client's process
and platform metrics, and counting a request is an addition in memory rather than a write to
a memory-mapped file with a check of the process id (a sixth of the telemetry's time per
request, bench/results.md). A `PROMETHEUS_MULTIPROC_DIR` set by whoever runs the server is
always used, so `craftkit events record` can count into it.

The metrics are process-wide by nature, so they are created once per process, on first use.
Labels are bounded: the operationId (or the operational route's template, or `-` for a path
that matched nothing, never a raw path), the status code, the kind of validation failure and
the database error's class name.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pathlib
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.protocol.middleware import send_whole

if TYPE_CHECKING:  # imported at first use: prometheus-client reads the environment on import
    from prometheus_client import Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
VALIDATION_KINDS = ("request", "response")


@dataclass(frozen=True)
class Metrics:
    requests: Counter
    duration: Histogram
    validation_failures: Counter
    database_errors: Counter
    events_ingested: Counter


@functools.cache
def metrics() -> Metrics:
    """This process's metrics, created on first use (after `PROMETHEUS_MULTIPROC_DIR` is set)."""
    from prometheus_client import Counter, Histogram

    path = os.environ.get(MULTIPROC_ENV)
    if path:
        # Counters and histograms need no clean-up; this drops the worker's live gauges, if
        # any are added later, when the worker exits.
        atexit.register(_mark_process_dead, os.getpid(), path)
    return Metrics(
        requests=Counter(
            "craftkit_requests",
            "HTTP requests answered, by operationId (or operational route) and status.",
            ["operation", "status"],
        ),
        duration=Histogram(
            "craftkit_request_duration_seconds",
            "Time to answer a request, by operationId (or operational route).",
            ["operation"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ),
        validation_failures=Counter(
            "craftkit_validation_failures",
            "Requests refused by the contract (kind=request) and responses that broke it "
            "(kind=response, answered as 500).",
            ["kind"],
        ),
        database_errors=Counter(
            "craftkit_database_errors",
            "Database errors answered as 503, by exception class.",
            ["error"],
        ),
        events_ingested=Counter(
            "craftkit_events_ingested",
            "Engagement events stored by this process (ingestion).",
        ),
    )


def _mark_process_dead(pid: int, path: str) -> None:
    """prometheus-client's clean-up, given the directory it was started with.

    With one worker, uvicorn runs in the `craftkit serve` process itself, and
    `multiprocess_dir()` has unset the variable (and removed the directory) by the time
    atexit runs: `mark_process_dead(pid)` then read None and printed a TypeError at every
    Ctrl-C. With the path it was started with, a removed directory just has no files.
    """
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, path)


def count_validation_failure(kind: str) -> None:
    if kind not in VALIDATION_KINDS:
        raise ValueError(f"validation failure kind must be one of {VALIDATION_KINDS}, got {kind}")
    metrics().validation_failures.labels(kind=kind).inc()


def count_database_error(exc: BaseException) -> None:
    metrics().database_errors.labels(error=type(exc).__name__).inc()


def count_events_ingested(count: int) -> None:
    metrics().events_ingested.inc(count)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of every metric, added up over workers in multiprocess mode."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
    )

    metrics()  # so that a fresh process exposes its metric families at zero
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        registry = CollectorRegistry()
        registry.register(WorkerFiles(path))
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class WorkerFiles:
    """prometheus-client's MultiProcessCollector, minus a race it loses.

    A worker creates its file empty and fills its header a moment later; a scrape in between
    made MultiProcessCollector fail (`struct.error`, a 500 from /metrics; seen in the README
    test). Empty files are left out, and a file caught half-written is read again.
    """

    def __init__(self, path: str) -> None:
        self.path = pathlib.Path(path)

    def collect(self) -> Any:
        from prometheus_client.multiprocess import MultiProcessCollector

        for attempt in range(5):
            try:
                files = [str(f) for f in self.path.glob("*.db") if f.stat().st_size > 0]
                return MultiProcessCollector.merge(files, accumulate=True)
            except (struct.error, ValueError, FileNotFoundError):
                if attempt == 4:
                    raise
                time.sleep(0.01)
        return []


@contextlib.contextmanager
def multiprocess_dir(workers: int) -> Iterator[str | None]:
    """For several `workers`, a private directory for their metric files, set in the
    environment and removed after; for one, none (its own registry counts everything).

    An existing `PROMETHEUS_MULTIPROC_DIR` (set by whoever runs the server) is kept and left
    alone: it is theirs to clean.
    """
    existing = os.environ.get(MULTIPROC_ENV)
    if existing:
        yield existing
        return
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix="craftkit-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


class MetricsEndpoint:
    """Answers `GET /metrics` (and HEAD); other methods get the 405 envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != METRICS_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        body, content_type = exposition()
        await send_whole(
            send,
            200,
            body,
            content_type,
            [(b"cache-control", b"no-store")],
            head=scope["method"] == "HEAD",
        )
