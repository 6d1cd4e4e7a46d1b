"""`craftkit serve`: the API under uvicorn."""

from __future__ import annotations

import logging
import os
import pathlib
from dataclasses import replace
from typing import Any

import click
from connexion.exceptions import InvalidSpecification

from api.config import APP_KINDS
from cli.context import Context, fail, listen_options, one_line, pass_ctx, setting_rule
from db.connection import DatabaseUnavailable
from db.migrations import SchemaVersionMismatch

PACKAGES = ("api", "handlers", "db", "cli")  # the code a --reload watches


@click.command()
@listen_options
@click.option(
    "--workers",
    type=int,
    callback=setting_rule("workers"),
    help="Worker processes, at least 1 (default: $CRAFTKIT_WORKERS or 1).",
)
@click.option(
    "--app",
    "app_kind",
    type=click.Choice(APP_KINDS),
    help="Connexion app: async or flask (default: $CRAFTKIT_APP or async).",
)
@click.option(
    "--no-init", is_flag=True, help="Do not create the schema in an empty database first."
)
@click.option(
    "--reload",
    is_flag=True,
    help="For development: restart when the code or the spec changes (one worker).",
)
@pass_ctx
def serve(
    obj: Context,
    host: str | None,
    port: int | None,
    workers: int | None,
    app_kind: str | None,
    no_init: bool,
    reload: bool,
) -> None:
    """Serve the API with uvicorn (the database must exist: `craftkit db init` makes it)."""
    from api.openapi.spec import OpenAPI31Specification
    from api.ops.metrics import multiprocess_dir
    from api.ops.request_log import configure_logging
    from api.server.app import create_app

    settings = replace(obj.settings, app=app_kind) if app_kind else obj.settings
    host = host or settings.host
    port = settings.port if port is None else port
    workers = settings.workers if workers is None else workers
    if reload and workers > 1:
        fail("--reload runs one worker; drop --workers (or CRAFTKIT_WORKERS) to use it")
    try:
        OpenAPI31Specification.from_path(settings.spec_path)  # a bad spec: one readable line
    except InvalidSpecification as exc:
        fail(f"{settings.spec_path}: {exc}")
    except OSError as exc:
        fail(f"cannot read the spec: {exc}")
    from db.migrations import check_schema, init_schema

    # Before create_app, which connects: a missing SQLite file is refused, never created.
    obj.open(check_schema=False)
    try:
        if no_init:
            check_schema()
        else:
            init_schema()
    except DatabaseUnavailable as exc:
        said = one_line(str(exc))
        click.echo(f"warning: database unreachable ({said}); requests will get 503", err=True)
    except SchemaVersionMismatch as exc:
        fail(f"not serving: {exc}")
    create_app(settings)  # fail now, in this process, rather than in every worker
    os.environ["DATABASE_URL"] = settings.database_url  # for worker processes
    os.environ["CRAFTKIT_APP"] = settings.app
    configure_logging(settings.log_format, settings.log_level)
    if reload:
        # watchfiles logs every batch of raw changes at info ("2 changes detected"), the
        # database's own files and the log included; uvicorn says which file made it restart.
        logging.getLogger("watchfiles").setLevel(logging.WARNING)
    kind = {"async": "AsyncApp", "flask": "FlaskApp"}[settings.app]
    click.echo(
        f"Serving {settings.spec_path} on http://{host}:{port} ({kind}, {workers} worker(s))"
    )
    from api.protocol import server

    with multiprocess_dir(workers):  # before any worker starts: metrics added up over workers
        server.run(
            server.bounded_config(
                "api.server.app:serve_app",
                host,
                port,
                head_timeout=settings.head_timeout,
                idle_timeout=settings.idle_timeout,
                factory=True,
                workers=workers,
                log_level=settings.log_level,
                log_config=None,  # api.ops.request_log's format, in every worker
                access_log=False,  # replaced by the request log (no raw paths or query strings)
                # In-flight requests end within one database timeout; then the worker exits.
                timeout_graceful_shutdown=int(settings.db_timeout) + 5,
                **(reload_options(settings.spec_path) if reload else {}),
            )
        )


def reload_options(spec_path: str) -> dict[str, Any]:
    """uvicorn's reloader on this project's packages and the spec, nothing else."""
    root = pathlib.Path(__file__).resolve().parent.parent
    spec = pathlib.Path(spec_path).resolve()
    return {
        "reload": True,
        "reload_dirs": [str(root / name) for name in PACKAGES] + [str(spec.parent)],
        "reload_includes": ["*.py", spec.name],
    }
