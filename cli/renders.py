"""`craftkit renders …`."""

from __future__ import annotations

import click

from cli.context import MODE, Context, database_errors, pass_ctx, project
from db import queries
from db.connection import connection


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
