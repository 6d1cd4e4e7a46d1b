"""`craftkit events …`: engagement events from JSON Lines, all or nothing."""

from __future__ import annotations

from typing import IO

import click

from cli.context import Context, database_errors, fail, pass_ctx, plural
from cli.event_lines import EventFileError, parse_lines
from db import queries
from db.connection import connection
from db.errors import EventRejected


@click.group()
def events() -> None:
    """Engagement events."""


@events.command("record")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@pass_ctx
@database_errors
def events_record(obj: Context, source: IO[str]) -> None:
    """Record events from a JSON Lines FILE (or - for stdin), all or nothing.

    \b
    One event per line:
      {"renderId", "eventType", "actorKind", "createdAt", "id"?, "shareId"?,
       "sourceIp"?, "userAgent"?, "metadata"?}
    createdAt needs a timezone. An id already stored with the same content is skipped,
    so a file can be replayed; the same id with other content is an error.
    """
    try:
        parsed = parse_lines(source)
    except EventFileError as exc:
        fail(f"{source.name}: nothing recorded; fix these lines:\n{exc}")
    obj.open()
    with connection():
        try:
            result = queries.record_events(parsed)
        except EventRejected as exc:
            fail(f"{source.name}: nothing recorded; fix these lines:\n{exc}")
    click.echo(
        f"Recorded {plural(result.inserted, 'event')}, skipped {result.skipped} already stored"
    )
