"""`craftkit projects …`."""

from __future__ import annotations

import click

from cli.context import Context, database_errors, fail, pass_ctx
from cli.table import echo_rows, json_option
from db import queries
from db.connection import connection
from db.errors import Conflict
from handlers.wire import iso_timestamp


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


@projects.command("list")
@json_option
@pass_ctx
@database_errors
def projects_list(obj: Context, as_json: bool) -> None:
    """List projects: name, created, renders, active (unrevoked) keys."""
    obj.open()
    with connection():
        rows = queries.list_projects()
    echo_rows(
        [
            {
                "name": row.name,
                "created": iso_timestamp(row.created_at_ms),
                "renders": row.renders,
                "activeKeys": row.active_keys,
            }
            for row in rows
        ],
        ["name", "created", "renders", "activeKeys"],
        as_json,
    )
