"""`craftkit contract-test`: the contract suite against a running server, over HTTP.

The same engine and `schemathesis.toml` as the in-process suite (`contract_tests/engine.py`);
the contract is this repo's `openapi.yaml`, not whatever the server claims to serve (that is
checked too). Schemathesis comes with the `contract` extra, so the engine is imported only
when the command runs.
"""

from __future__ import annotations

import pathlib

import click


@click.command("contract-test")
@click.option("--url", required=True, metavar="URL", help="Base URL of the server to test.")
@click.option(
    "--key", required=True, envvar="CRAFTKIT_CONTRACT_KEY", help="An API key the server accepts."
)
@click.option(
    "--foreign-key",
    envvar="CRAFTKIT_CONTRACT_FOREIGN_KEY",
    help="A key of another project, for cross-tenant probes.",
)
@click.option(
    "--render-id",
    "render_ids",
    multiple=True,
    metavar="UUID",
    help="A render the --key can read; repeat for more. Needed in practice: without one no "
    "request can get a 200, so its body is never checked and the run fails on that gap "
    "(unless --allow-gaps). `craftkit renders list --project P` shows them.",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    help="Where to write the JUnit XML report (default: [reports.junit] path of the config).",
)
@click.option("--max-examples", type=int, help="Override generation.max-examples.")
@click.option(
    "--seed", type=int, help="Override the config's seed (same seed and data, same cases)."
)
@click.option(
    "--allow-gaps",
    is_flag=True,
    help="Pass even if a documented status or example was never produced (default: fail).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    help="Schemathesis settings (default: the schemathesis.toml the in-process suite uses).",
)
def contract_test(
    url: str,
    key: str,
    foreign_key: str | None,
    render_ids: tuple[str, ...],
    junit: pathlib.Path | None,
    max_examples: int | None,
    seed: int | None,
    allow_gaps: bool,
    config_path: pathlib.Path | None,
) -> None:
    """Check a running server against openapi.yaml with Schemathesis; exit 1 on any failure.

    Progress goes to stderr, a line per phase; the report to stdout, with a curl line per
    failure that reads the keys from $CRAFTKIT_CONTRACT_KEY and
    $CRAFTKIT_CONTRACT_FOREIGN_KEY; JUnit XML has one test case per operation and check.

    A run that never produced a documented response (say, no 200 because the key was refused
    or no --render-id named a render it can read) fails too, unless --allow-gaps is given:
    its body was never checked.
    """
    try:
        import schemathesis

        from contract_tests import engine as contract
    except ImportError as exc:
        raise click.ClickException(
            f"{exc.name or 'schemathesis'} is missing: install the contract extra "
            "(pip install 'craftkit-engagement[contract]', or pip install -e '.[contract]')"
        ) from exc

    credentials = contract.Credentials(key=key, foreign_key=foreign_key or None)
    if not render_ids:
        click.echo(
            "note: no --render-id: a generated id is never a stored render, so no 200 will be "
            "checked and the run fails on that gap unless --allow-gaps is given",
            err=True,
        )
    if not foreign_key:
        click.echo("note: no --foreign-key: cross-tenant reads are not probed", err=True)
    base_url = url.rstrip("/")
    with contract.prepared_config(
        credentials,
        config_path=config_path or contract.CONFIG_PATH,
        max_examples=max_examples,
        base_url=base_url,
        seed=seed,
    ) as config:
        junit = junit or contract.junit_path(config)
        schema = schemathesis.openapi.from_path(contract.SPEC_PATH, config=config)
        click.echo(f"Testing {base_url} against {contract.SPEC_PATH.name}", err=True)
        result = contract.run_contract(
            schema,
            credentials,
            render_ids=render_ids,
            junit=junit,
            progress=lambda line: click.echo(f"  {line}", err=True),
            allow_gaps=allow_gaps,
        )
    problem = contract.served_document_problem(base_url)
    if problem is not None:
        result.errors.append(problem)
    click.echo(contract.summary(result))
    click.echo(f"JUnit report: {junit}")
    if not result.ok:
        raise SystemExit(1)
    gaps = contract.coverage_gaps(result)
    if gaps and not allow_gaps:
        click.echo(f"FAILED: {len(gaps)} documented responses never produced (see Gaps above).")
        hint = contract.gap_hint(result)
        if hint:
            click.echo(hint)
        raise SystemExit(1)
