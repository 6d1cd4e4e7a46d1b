"""`craftkit events …`: engagement events from JSON Lines, all or nothing, streamed."""

from __future__ import annotations

import io
import os
import stat
import sys
import time
from collections.abc import Callable
from typing import IO

import click

from api.ops.metrics import MULTIPROC_ENV, count_events_ingested
from cli.context import Context, database_errors, fail, pass_ctx, plural
from cli.event_lines import bounded_lines, read_events
from cli.progress import Progress
from db import queries
from db.connection import connection
from db.errors import EventRejected


@click.group()
def events() -> None:
    """Engagement events."""


@events.command("record")
@click.argument("source", type=click.File("rb"))  # bytes: bad UTF-8 is named by its line
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="When stderr is not a terminal: a progress line this often (a terminal gets a bar).",
)
@pass_ctx
@database_errors
def events_record(obj: Context, source: IO[bytes], progress_every: float) -> None:
    """Record events from a JSON Lines FILE (or - for stdin), all or nothing.

    \b
    One event per line:
      {"renderId", "eventType", "actorKind", "createdAt", "id"?, "shareId"?,
       "sourceIp"?, "userAgent"?, "metadata"?}
    createdAt needs a timezone. An id already stored for its render with the same content is
    skipped, so a file can be replayed; the same id with other content is an error. The file
    is read and written in one pass and one transaction, whatever its length; every bad line
    is reported, and then nothing is written.
    """
    obj.open()
    progress = Progress(
        sys.stderr,
        total_bytes=_size(source),
        position=_position(source),
        terminal=sys.stderr.isatty(),
        every=progress_every,
    )
    with connection():
        try:
            result = queries.record_events(progress.track(read_events(bounded_lines(source))))
        except EventRejected as exc:
            fail(
                f"{source.name}: nothing recorded; {plural(exc.total, 'line')} rejected, "
                f"fix these:\n{exc}"
            )
    elapsed = time.monotonic() - progress.started
    rate = (result.inserted + result.skipped) / elapsed if elapsed > 0 else 0.0
    if os.environ.get(MULTIPROC_ENV):  # a server's metrics directory: its /metrics counts these
        count_events_ingested(result.inserted)
    click.echo(
        f"Recorded {plural(result.inserted, 'event')}, skipped {result.skipped} already stored, "
        f"rejected 0 lines, in {elapsed:.1f} s ({rate:,.0f} events/s)"
    )


def _size(source: IO[bytes]) -> int | None:
    """The file's size in bytes, when it is a regular file (not stdin or a pipe)."""
    try:
        status = os.fstat(source.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _position(source: IO[bytes]) -> Callable[[], int]:
    """() -> bytes read so far (to within a read-ahead buffer), or 0 when unknown."""
    raw = getattr(source, "buffer", source)
    return lambda: 0 if raw.closed else int(raw.tell())
