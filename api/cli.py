"""`craftkit`: serve the API and manage its data (click, as Flask's own CLI uses)."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import click
import peewee
from connexion.exceptions import InvalidSpecification

from api import keys
from api.config import Settings
from db import queries
from db.connection import (
    DatabaseConfigError,
    DatabaseUnavailable,
    connection,
    open_database,
    redact,
)
from db.errors import Conflict, EventRejected, NotFound

MODE = click.Choice(["test", "live"])


class Context:
    """Settings for every command; the database is opened only by commands that use it."""

    def __init__(self, database_url: str | None) -> None:
        overrides = {"database_url": database_url} if database_url else {}
        try:
            self.settings = Settings.from_env(None, **overrides)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc

    def open(self) -> None:
        try:
            open_database(self.settings.database_url)
        except DatabaseConfigError as exc:
            fail(str(exc))


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str) -> None:
    raise click.ClickException(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    metavar="URL",
    help="Database URL (default: $DATABASE_URL, else sqlite:///craftkit.db).",
)
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """Craftkit engagement API: a contract-first server for openapi.yaml."""
    ctx.obj = Context(database_url)


def _database_errors(func: Any) -> Any:
    """Report an unreachable or uninitialised database as one readable line, not a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DatabaseUnavailable, peewee.OperationalError, peewee.ProgrammingError) as exc:
            fail(f"database error: {exc} (is it running, and was `craftkit db init` run?)")

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


# --- serve ----------------------------------------------------------------------------------


@main.command()
@click.option("--host", help="Address to bind (default: $CRAFTKIT_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: $CRAFTKIT_PORT or 8080).")
@click.option("--workers", type=int, help="Worker processes (default: $CRAFTKIT_WORKERS or 1).")
@click.option("--no-init", is_flag=True, help="Do not create missing tables before serving.")
@pass_ctx
def serve(
    obj: Context, host: str | None, port: int | None, workers: int | None, no_init: bool
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    from api.app import create_app

    settings = obj.settings
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    if not no_init:
        from db.migrations import init_schema

        obj.open()
        try:
            init_schema()
        except DatabaseUnavailable as exc:
            click.echo(f"warning: database unreachable ({exc}); requests will get 503", err=True)
    try:
        create_app(settings)  # fail now, with one readable line, if the spec is bad
    except InvalidSpecification as exc:
        fail(f"{settings.spec_path}: {exc}")
    except OSError as exc:
        fail(f"cannot read the spec: {exc}")
    os.environ["DATABASE_URL"] = settings.database_url  # for worker processes
    click.echo(f"Serving {settings.spec_path} on http://{host}:{port} ({workers} worker(s))")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
    )


# --- db -------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("init")
@pass_ctx
@_database_errors
def db_init(obj: Context) -> None:
    """Create every missing table and index (safe to run again)."""
    from db.migrations import init_schema

    obj.open()
    version = init_schema()
    click.echo(f"Schema ready (version {version}) at {redact(obj.settings.database_url)}")


# --- projects -------------------------------------------------------------------------------


@main.group()
def projects() -> None:
    """Projects own API keys and renders."""


@projects.command("create")
@click.argument("name")
@pass_ctx
@_database_errors
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


# --- keys -----------------------------------------------------------------------------------


@main.group("keys")
def keys_group() -> None:
    """Bearer API keys (only their digests are stored)."""


@keys_group.command("create")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--mode", type=MODE, default="test", show_default=True)
@pass_ctx
@_database_errors
def keys_create(obj: Context, project_name: str, mode: str) -> None:
    """Create a key and print it once; it cannot be shown again."""
    obj.open()
    with connection():
        project = _project(project_name)
        new = keys.generate_key(mode)
        queries.store_api_key(project, mode, new.digest, new.display_prefix)
    click.echo(new.plaintext)
    click.echo(
        f"Created {mode} key {new.display_prefix}… for {project_name!r}; store it now, "
        "it is not shown again.",
        err=True,
    )


@keys_group.command("revoke")
@click.argument("key_or_prefix")
@pass_ctx
@_database_errors
def keys_revoke(obj: Context, key_or_prefix: str) -> None:
    """Revoke a key, named by the key itself or its display prefix (from `keys list`)."""
    obj.open()
    with connection():
        try:
            if keys.key_mode(key_or_prefix):
                key, revoked = queries.revoke_key(digest=keys.digest(key_or_prefix))
            else:
                key, revoked = queries.revoke_key(display_prefix=key_or_prefix.rstrip("…"))
        except NotFound as exc:
            fail(str(exc))
    if revoked:
        click.echo(f"Revoked {key.display_prefix}…")
    elif key.revoked_at_ms is not None:
        when = queries.format_ms(key.revoked_at_ms)
        click.echo(f"{key.display_prefix}… was already revoked at {when}; nothing changed")


@keys_group.command("list")
@click.option("--project", "project_name", required=True, help="Project name.")
@pass_ctx
@_database_errors
def keys_list(obj: Context, project_name: str) -> None:
    """List a project's keys: display prefix, mode, created, revoked (never the key)."""
    obj.open()
    with connection():
        rows = queries.list_keys(_project(project_name))
    click.echo(f"{'PREFIX':<20} {'MODE':<5} {'CREATED':<25} REVOKED")
    for key in rows:
        revoked = queries.format_ms(key.revoked_at_ms) if key.revoked_at_ms else "-"
        click.echo(
            f"{key.display_prefix + '…':<20} {key.mode:<5} "
            f"{queries.format_ms(key.created_at_ms):<25} {revoked}"
        )


# --- renders and events ---------------------------------------------------------------------


@main.group()
def renders() -> None:
    """Renders (rendered PDFs) whose engagement is tracked."""


@renders.command("create")
@click.option("--project", "project_name", required=True, help="Project name.")
@click.option("--mode", type=MODE, default="test", show_default=True)
@pass_ctx
@_database_errors
def renders_create(obj: Context, project_name: str, mode: str) -> None:
    """Create a render and print its UUID."""
    obj.open()
    with connection():
        render = queries.create_render(_project(project_name), mode)
    click.echo(str(render.id))


@main.group()
def events() -> None:
    """Engagement events."""


@events.command("record")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@pass_ctx
@_database_errors
def events_record(obj: Context, source: IO[str]) -> None:
    """Record events from a JSON Lines FILE (or - for stdin), all or nothing.

    \b
    One event per line:
      {"renderId", "eventType", "actorKind", "createdAt", "id"?, "shareId"?,
       "sourceIp"?, "userAgent"?, "metadata"?}
    createdAt needs a timezone. An id already stored with the same content is skipped,
    so a file can be replayed; the same id with other content is an error.
    """
    from api.event_lines import EventFileError, parse_lines

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
        f"Recorded {_plural(result.inserted, 'event')}, skipped {result.skipped} already stored"
    )


# --- demo -----------------------------------------------------------------------------------


@main.command()
@click.option("--base-url", default=None, help="URL the printed curl should call.")
@pass_ctx
@_database_errors
def demo(obj: Context, base_url: str | None) -> None:
    """Seed a demo project, test key and render with events; print a curl that works."""
    from api.demo import key_file_for, seed_demo
    from db.migrations import init_schema

    obj.open()
    init_schema()
    result = seed_demo(key_file_for(obj.settings.database_url))
    base_url = base_url or f"http://{obj.settings.host}:{obj.settings.port}"
    click.echo(f"Demo ready: render {result.render_id}, {result.events_added} new events.")
    click.echo("Try:")
    click.echo(
        f"  curl -s -H 'Authorization: Bearer {result.key}' "
        f"{base_url}/v1/renders/{result.render_id}/engagement"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _project(name: str) -> Any:
    try:
        return queries.get_project(name)
    except NotFound as exc:
        fail(str(exc))


# Commands defined in their own modules register themselves on `main` when imported.
from api import cli_contract, cli_mock  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
