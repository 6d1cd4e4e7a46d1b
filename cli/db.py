"""`craftkit db …`: the database schema."""

from __future__ import annotations

import click

from cli.context import Context, database_errors, pass_ctx
from db.connection import redact


@click.group()
def db() -> None:
    """Database schema."""


@db.command("init")
@pass_ctx
@database_errors
def db_init(obj: Context) -> None:
    """Create every missing table and index (safe to run again)."""
    from db.migrations import init_schema

    obj.open()
    version = init_schema()
    click.echo(f"Schema ready (version {version}) at {redact(obj.settings.database_url)}")
