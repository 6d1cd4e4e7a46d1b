"""`craftkit projects …`."""

from __future__ import annotations

import click

from cli.context import Context, database_errors, fail, pass_ctx
from db import queries
from db.connection import connection
from db.errors import Conflict


@click.group()
def projects() -> None:
    """Projects own API keys and renders."""


@projects.command("create")
@click.argument("name")
@pass_ctx
@database_errors
def projects_create(obj: Context, name: str) -> None:
    """Create a project called NAME (names identify projects in the other commands)."""
    name = name.strip()
    if not name:
        fail("NAME must not be empty")
    obj.open()
    with connection():
        try:
            queries.create_project(name)
        except Conflict as exc:
            fail(str(exc))
    click.echo(f"Created project {name!r}")
