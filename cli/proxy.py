"""`craftkit proxy`: real traffic checked against a contract, with a coverage record for CI."""

from __future__ import annotations

import logging
import pathlib
import signal
import sys
from typing import Any

import click

from cli.context import Context, listen_options, pass_ctx, unwritable, write_report


class LoadError(click.ClickException):
    """A spec or option the proxy cannot start with: one line, exit 2."""

    exit_code = 2


class Stopped(Exception):
    """SIGTERM, re-raised by uvicorn once it has shut down: time to write the record."""


@click.command("proxy")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False),
    help="OpenAPI 3.0/3.1/3.2 document (default: $CRAFTKIT_SPEC, else this repo's openapi.yaml).",
)
@click.option(
    "--upstream", required=True, metavar="URL", help="Where requests go: http://host:port."
)
@listen_options
@click.option(
    "--mode",
    type=click.Choice(["report", "enforce"]),
    default="report",
    show_default=True,
    help="report: answers unchanged, violations in a Contract-Violations header and the log; "
    "enforce: invalid requests refused, invalid answers replaced by a 502.",
)
@click.option(
    "--upstream-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the upstream's answer before a 504.",
)
@click.option(
    "--report-path",
    default="/__craftkit/report",
    show_default=True,
    help="GET this path for the record so far (JSON); the files below are written then too.",
)
@click.option(
    "--junit", "junit_file", type=click.Path(dir_okay=False), help="Write JUnit XML here."
)
@click.option(
    "--report-json", "json_file", type=click.Path(dir_okay=False), help="Write the record as JSON."
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0, 100),
    default=0.0,
    help="Exit 1 when fewer than this percentage of documented responses were exercised.",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=0),
    default=10 * 1024 * 1024,
    show_default=True,
    help="Bytes of a request body accepted (413 past it); larger answers pass unchecked.",
)
@pass_ctx
def proxy(
    obj: Context,
    spec_path: str | None,
    upstream: str,
    host: str | None,
    port: int | None,
    mode: str,
    upstream_timeout: float,
    report_path: str,
    junit_file: str | None,
    json_file: str | None,
    min_coverage: float,
    max_body: int,
) -> None:
    """Forward every request to --upstream unchanged, checking it and its answer against the
    spec. On exit (Ctrl-C, SIGTERM) it writes --junit and --report-json, prints the coverage
    table and exits 1 if any exchange violated the contract or coverage is under
    --min-coverage.
    """
    from api.proxy.app import ProxyOptions
    from api.proxy.upstream import Upstream

    settings = obj.settings
    try:
        target = Upstream.parse(upstream)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--upstream") from None
    if not report_path.startswith("/"):
        raise click.BadParameter("must start with /", param_hint="--report-path")
    spec = pathlib.Path(spec_path or settings.spec_path).resolve()
    files = ReportFiles(junit_file, json_file)
    options = ProxyOptions(
        upstream=target,
        mode=mode,
        upstream_timeout=upstream_timeout,
        report_path=report_path,
        max_body=max_body,
    )
    app = load(spec, options, files.write_on_report)
    operations = app.operations
    if operations.match("GET", report_path).found:
        raise LoadError(
            f"{spec}: the spec has an operation at {report_path}; choose another --report-path"
        )
    files.check()
    configure_logging()
    host = host or settings.host
    port = port or settings.port
    click.echo(
        f"Proxying http://{host}:{port} -> {upstream} ({mode} mode, {spec.name}, "
        f"{len(operations.all)} operations; record at {report_path})",
        err=True,
    )
    from api.protocol.uvicorn_shim import ProxyHttpToolsProtocol

    ProxyHttpToolsProtocol.tunnel = app.tunnel()  # WebSocket upgrades, byte for byte
    previous = signal.signal(signal.SIGTERM, _stopped)
    from api.protocol import server

    config = proxy_config(
        app,
        host,
        port,
        head_timeout=settings.head_timeout,
        idle_timeout=settings.idle_timeout,
        log_level=settings.log_level,
    )
    try:
        server.run(config)
    except (KeyboardInterrupt, Stopped):
        pass  # uvicorn has shut down and re-raised the signal: the record is complete
    finally:
        signal.signal(signal.SIGTERM, previous)
    unwritten = files.write(app.record)
    click.echo(app.record.table(), err=True)
    coverage = app.record.coverage()["responses"]["percent"]
    failed = list(unwritten)
    if app.record.violations:
        failed.append(f"{app.record.violations} violations")
    if coverage < min_coverage:
        failed.append(f"coverage {coverage:g}% is under --min-coverage {min_coverage:g}%")
    if failed:
        click.echo("craftkit proxy: " + "; ".join(failed), err=True)
        sys.exit(1)


def _stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def load(spec: pathlib.Path, options: Any, on_report: Any) -> Any:
    """The proxy app for `spec`; LoadError (exit 2) with one readable line if it cannot load."""
    from connexion.exceptions import InvalidSpecification

    from api.proxy.app import create_proxy_app

    try:
        app, _operations = create_proxy_app(spec, options, on_report=on_report)
    except InvalidSpecification as exc:
        raise LoadError(f"{spec}: {' '.join(str(exc).split())}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"cannot read {spec}: {exc}") from None
    return app


class ReportFiles:
    """--junit and --report-json, written on exit and at each GET of the report path.

    Each is tried before the proxy listens, so a path it cannot write is a usage error at
    start, not a traceback after a session whose record is then lost."""

    def __init__(self, junit: str | None, json: str | None) -> None:
        self.paths = {
            flag: pathlib.Path(value)
            for flag, value in (("--junit", junit), ("--report-json", json))
            if value
        }

    def check(self) -> None:
        """Make each file's folder and the file (empty if new); BadParameter if it can't be."""
        for flag, path in self.paths.items():
            problem = unwritable(path)
            if problem is not None:
                raise click.BadParameter(problem, param_hint=flag)

    def write(self, record: Any) -> list[str]:
        """Write every file it can; one line for each it could not (the others are kept)."""
        texts = {"--junit": record.junit, "--report-json": lambda: record.json().decode()}
        failed = []
        for flag, path in self.paths.items():
            problem = write_report(path, texts[flag]())
            if problem is not None:
                failed.append(f"{flag}: {problem}")
        return failed

    def write_on_report(self, record: Any) -> None:
        """At a GET of the report path: the JSON answer goes out whatever the files do."""
        for problem in self.write(record):
            logging.getLogger("craftkit.proxy").warning("craftkit proxy: %s", problem)


def configure_logging() -> None:
    """One JSON line per violation on stderr (the `craftkit.proxy` logger)."""
    logger = logging.getLogger("craftkit.proxy")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def proxy_config(
    app: Any, host: str, port: int, *, head_timeout: float, idle_timeout: float, **options: Any
) -> Any:
    """serve's bounded uvicorn config (api/protocol/server.py), with the proxy's protocol
    (request bodies read, the target as received) and the upstream's own Date header passed
    through."""
    from api.protocol import server
    from api.protocol.uvicorn_shim import PROXY_PROTOCOL

    return server.bounded_config(
        app,
        host,
        port,
        head_timeout=head_timeout,
        idle_timeout=idle_timeout,
        takes_bodies=True,
        http=PROXY_PROTOCOL,
        date_header=False,
        access_log=False,
        log_config=None,
        lifespan="on",
        proxy_headers=False,  # the client's X-Forwarded-* go upstream as sent, not obeyed
        **options,
    )
