"""`craftkit spec diff BASE REVISION`: does a new version of a contract break its clients?

Exit 0 when compatible, 1 when a change is breaking (or a warning, with --fail-on warning),
2 when a document does not load. The engine (contract_tests/spec_diff/) needs hypothesis, from
the `contract` extra, so it is imported only when the command runs.
"""

from __future__ import annotations

import pathlib

import click

from cli.context import unwritable


class Unloadable(click.ClickException):
    """A document that does not load: exit 2, since 1 means "breaking"."""

    exit_code = 2


@click.group("spec")
def spec() -> None:
    """Work with OpenAPI documents (any 3.0, 3.1 or 3.2 contract, not only this repo's)."""


@spec.command("diff")
@click.argument("base")
@click.argument("revision")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "markdown", "json", "junit"]),
    default="text",
    show_default=True,
    help="markdown suits a pull-request comment; junit a CI test report.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["breaking", "warning"]),
    default="breaking",
    show_default=True,
    help="Exit 1 on breaking changes only, or on warnings too.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    help="Write the report to this file instead of stdout (the verdict line still goes to stderr).",
)
def diff(
    base: str, revision: str, output_format: str, fail_on: str, output: pathlib.Path | None
) -> None:
    """Compare two versions of an OpenAPI document: BASE (what clients were built against)
    and REVISION (the proposed one), each a file, an http(s) URL or git:REF:path.

    A change is breaking when a request BASE allows is refused under REVISION, or a response
    REVISION allows was not allowed by BASE; each comes with a counter-example. A value added
    to a response enum, or a new response status, is a warning.

    \b
    In CI, on a pull request:
      craftkit spec diff git:origin/main:openapi.yaml openapi.yaml --format markdown
    """
    try:
        from contract_tests.spec_diff import load as loading
        from contract_tests.spec_diff.operations import diff as compare
        from contract_tests.spec_diff.report import FORMATS, summary, verdict
    except ImportError as exc:
        raise Unloadable(
            f"{exc.name or 'hypothesis'} is missing: install the contract extra "
            "(pip install 'craftkit-engagement[contract]')"
        ) from exc

    problem = None if output is None else unwritable(output)
    if problem is not None:  # before the diff, which may take a while, not after it
        raise click.BadParameter(problem, param_hint="--output")
    try:
        documents = [loading.load(source) for source in (base, revision)]
    except loading.SpecLoadError as exc:
        raise Unloadable(str(exc)) from None
    report = compare(*documents)
    written = FORMATS[output_format](report)
    if output is None:
        click.echo(written, nl=False)
    else:
        output.write_text(written, encoding="utf-8")
        click.echo(f"{verdict(report)}: {summary(report)}; report in {output}", err=True)
    if report.breaking or (fail_on == "warning" and report.warnings):
        raise SystemExit(1)
