"""`craftkit db …`: the database schema."""

from __future__ import annotations

import uuid

import click

from cli.context import Context, database_errors, fail, pass_ctx, plural
from db.connection import connection, redact
from db.migrations import SchemaVersionMismatch


@click.group()
def db() -> None:
    """Database schema."""


@db.command("init")
@pass_ctx
@database_errors
def db_init(obj: Context) -> None:
    """Create the schema in an empty database (on a current one, nothing happens)."""
    from db.migrations import init_schema

    obj.open(create=True, check_schema=False)
    try:
        version = init_schema()
    except SchemaVersionMismatch as exc:
        fail(str(exc))
    click.echo(f"Schema ready (version {version}) at {redact(obj.settings.database_url)}")


@db.command("migrate")
@pass_ctx
@database_errors
def db_migrate(obj: Context) -> None:
    """Bring the schema to this version of craftkit, step by step (safe to run again)."""
    from db.migrations import SCHEMA_VERSION, migrate_schema

    obj.open(check_schema=False)

    def step(version: int, what: str) -> None:
        click.echo(f"Migrating to version {version}: {what}", err=True)

    try:
        applied = migrate_schema(on_step=step)
    except SchemaVersionMismatch as exc:
        fail(str(exc))
    where = redact(obj.settings.database_url)
    if applied:
        click.echo(f"Schema migrated to version {SCHEMA_VERSION} at {where}")
    else:
        click.echo(f"Schema already at version {SCHEMA_VERSION} at {where}; nothing to do")


@db.command("recount")
@click.option("--render", "render_id", type=click.UUID, help="Only this render (default: all).")
@pass_ctx
@database_errors
def db_recount(obj: Context, render_id: uuid.UUID | None) -> None:
    """Rebuild the event counters from the events (summaries read the counters)."""
    from db.counters import recount

    obj.open()
    with connection():
        rows = recount(render_id)
    scope = f"render {render_id}" if render_id else "every render"
    click.echo(f"Recounted {scope}: {plural(rows, 'counter')} written")
