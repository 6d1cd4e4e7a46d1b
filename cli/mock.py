"""`craftkit mock`: the contract served from its examples, for frontend work before a backend."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import sys
import tempfile
from typing import Any

import click

from api.config import check
from cli.context import Context, listen_options, pass_ctx


class SpecError(click.ClickException):
    """A spec (or --keys file) that cannot be loaded: a usage error, exit 2, one line."""

    exit_code = 2


@click.command("mock")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False),
    help="OpenAPI 3.2, 3.1 or 3.0 document (default: $CRAFTKIT_SPEC, else this repo's "
    "openapi.yaml).",
)
@click.option(
    "--base-path",
    metavar="PATH",
    help="Serve the operations under PATH ('/' for the root) instead of the path of the "
    "spec's first servers URL.",
)
@listen_options
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(exists=True, dir_okay=False),
    help="File of valid bearer tokens, one a line (default: tokens of the described shape).",
)
@click.option(
    "--token-pattern",
    metavar="REGEX",
    help="Shape every token must match in full (default: from the security scheme's "
    "description, e.g. ck_live_…/ck_test_… for this contract).",
)
@click.option(
    "--any-token", is_flag=True, help="Accept any token without spaces, whatever its shape."
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    callback=lambda _ctx, _param, value: origins_rule(value),
    help="Origin allowed to call from a browser; repeatable (default: any origin).",
)
@click.option(
    "--delay", "delay_ms", type=click.IntRange(min=0), default=0, help="Delay every answer (ms)."
)
@click.option(
    "--watch", is_flag=True, help="Reload when the spec file (or the --keys file) changes."
)
@pass_ctx
def mock(
    obj: Context,
    spec_path: str | None,
    base_path: str | None,
    host: str | None,
    port: int | None,
    keys_file: str | None,
    token_pattern: str | None,
    any_token: bool,
    cors_origins: tuple[str, ...],
    delay_ms: int,
    watch: bool,
) -> None:
    """Serve every operation of a spec from its examples: no database, CORS on.

    Tokens must have the shape the spec's security scheme describes (ck_live_…/ck_test_…
    here), as on the real server; --any-token accepts any, --keys only those listed.

    \b
    Choose the answer per request with a Prefer header (or Prism's query parameters):
      Prefer: code=404          the example of another documented status  (?__code=404)
      Prefer: example=NAME      a named example                           (?__example=NAME)
      Prefer: dynamic=true      data generated from the schema            (?__dynamic=true)
      Prefer: seed=7            with dynamic=true, the same data every time (?__seed=7)
    """
    from api.mock import (
        OPTIONS_ENV,
        SPEC_PROBLEMS,
        MockOptions,
        configure_logging,
        create_mock_app,
        spec_problem,
    )
    from api.protocol import server

    settings = obj.settings
    spec = pathlib.Path(spec_path or settings.spec_path).resolve()
    options = MockOptions(
        spec_path=str(spec),
        keys_file=str(pathlib.Path(keys_file).resolve()) if keys_file else None,
        cors_origins=cors_origins or ("*",),
        delay_ms=delay_ms,
        token_pattern=token_pattern,
        any_token=any_token,
        base_path=base_path,
    )
    if token_pattern and any_token:
        raise click.UsageError("--token-pattern and --any-token contradict each other")
    if token_pattern:
        from api.mock.credentials import pattern_shape

        try:
            pattern_shape(token_pattern)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--token-pattern") from None
    logger = configure_logging()
    # With --watch, the worker builds the app again and logs its warnings: say them once.
    logger.disabled = watch
    try:
        app = create_mock_app(options)  # fail now, with a readable message, if the spec is bad
    except SPEC_PROBLEMS as exc:
        raise SpecError(spec_problem(exc, str(spec))) from None
    finally:
        logger.disabled = False
    # Removed when the command ends (TemporaryDirectory's finalizer), uvicorn's reloader too.
    last_good = tempfile.TemporaryDirectory(prefix="craftkit-mock-") if watch else None
    if last_good is not None:
        copy = pathlib.Path(last_good.name) / spec.name
        shutil.copyfile(spec, copy)  # served while an edit does not load
        options = dataclasses.replace(options, last_good=str(copy))
    os.environ[OPTIONS_ENV] = options.to_env()  # for uvicorn's factory, also after a reload
    host = host or settings.host
    port = port or settings.port
    click.echo(
        f"Mocking {spec} on http://{host}:{port} (CORS: {', '.join(options.cors_origins)}"
        + (", watching the spec" if watch else "")
        + ")"
    )
    for line in start_up_lines(app, f"http://{host}:{port}"):
        click.echo(line)
    sys.stdout.flush()  # before uvicorn blocks: the lines are read from pipes and logs too
    # The same bounded protocol as serve (head and idle timeouts, concurrency limit); the
    # documents it serves may take request bodies.
    server.run(
        server.bounded_config(
            "api.mock:app_from_env" if watch else app,
            host,
            port,
            head_timeout=settings.head_timeout,
            idle_timeout=settings.idle_timeout,
            takes_bodies=True,
            factory=watch,
            log_level=settings.log_level,
            access_log=False,  # the mock logs its own line per call, with the example it chose
            **(watch_options(spec, options.keys_file) if watch else {}),
        )
    )


def origins_rule(origins: tuple[str, ...]) -> tuple[str, ...]:
    """`--cors-origin` by `CRAFTKIT_CORS_ORIGINS`' rule: a browser's Origin is a scheme and
    host, so `http://localhost:5173/` (a copied address) would have refused every preflight."""
    problem = check("cors_origins", ",".join(origins)) if origins else None
    if problem is not None:
        raise click.BadParameter(problem)
    return origins


def start_up_lines(app: Any, origin: str) -> list[str]:
    """Where the operations live (the base path), and one call to try."""
    from api.mock.app import example_call

    base, curl = example_call(app, origin)
    lines = [f"Operations under {origin}{base}/  (Swagger UI: {origin}{base}/ui)"]
    if curl:
        lines.append(f"Try: {curl}")
    return lines


def watch_options(spec: pathlib.Path, keys_file: str | None) -> dict[str, Any]:
    """uvicorn's reload, for the spec and the `--keys` file only.

    uvicorn watches `*.py` in every reload directory unless it is excluded, and matches
    includes by name: a file of the same name in a subdirectory would reload too.
    """
    watched = [spec, *([pathlib.Path(keys_file)] if keys_file else [])]
    return {
        "reload": True,
        "reload_dirs": sorted({str(path.parent) for path in watched}),
        "reload_includes": [path.name for path in watched],
        "reload_excludes": ["*.py"],
    }
