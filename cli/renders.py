"""`craftkit renders …`."""

from __future__ import annotations

import click

from cli.context import MODE, Context, database_errors, pass_ctx, project
from cli.table import echo_rows, json_option
from db import queries
from db.connection import connection
from handlers.wire import iso_timestamp


@click.group()
def renders() -> None:
    """Renders (rendered PDFs) whose engagement is tracked."""


@renders.command("create")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--mode", type=MODE, default="test", show_default=True)
@pass_ctx
@database_errors
def renders_create(obj: Context, project_name: str, mode: str) -> None:
    """Create a render and print its UUID."""
    obj.open()
    with connection():
        render = queries.create_render(project(project_name), mode)
    click.echo(str(render.id))


@renders.command("list")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--mode", type=MODE, help="Only renders of this mode (default: both).")
@json_option
@pass_ctx
@database_errors
def renders_list(obj: Context, project_name: str, mode: str | None, as_json: bool) -> None:
    """List a project's renders: id, mode, created (oldest first)."""
    obj.open()
    with connection():
        rows = queries.list_renders(project(project_name), mode)
    echo_rows(
        [
            {"id": str(r.id), "mode": r.mode, "created": iso_timestamp(r.created_at_ms)}
            for r in rows
        ],
        ["id", "mode", "created"],
        as_json,
    )
