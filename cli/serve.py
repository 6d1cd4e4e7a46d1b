"""`craftkit serve`: the API under uvicorn."""

from __future__ import annotations

import os

import click
from connexion.exceptions import InvalidSpecification

from cli.context import Context, fail, pass_ctx
from db.connection import DatabaseUnavailable
from db.migrations import SchemaVersionMismatch


@click.command()
@click.option("--host", help="Address to bind (default: $CRAFTKIT_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: $CRAFTKIT_PORT or 8080).")
@click.option("--workers", type=int, help="Worker processes (default: $CRAFTKIT_WORKERS or 1).")
@click.option(
    "--no-init", is_flag=True, help="Do not create the schema in an empty database first."
)
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
    from db.migrations import check_schema, init_schema

    obj.open(check_schema=False)
    try:
        if no_init:
            check_schema()
        else:
            init_schema()
    except DatabaseUnavailable as exc:
        click.echo(f"warning: database unreachable ({exc}); requests will get 503", err=True)
    except SchemaVersionMismatch as exc:
        fail(f"not serving: {exc}")
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
