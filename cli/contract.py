"""`craftkit contract-test`: a contract suite against a running server, over HTTP, for any spec.

The same engine and `schemathesis.toml` as the in-process suite (`contract_tests/engine.py`).
The contract is `--spec` (a file or URL, OpenAPI 3.0/3.1/3.2; default this repo's
`openapi.yaml`), not whatever the server claims to serve. Schemathesis comes with the
`contract` extra, so the engine is imported only when the command runs.

Exit status, for CI: 0 passed, 1 failures found (a failed check, an error that stopped
requests, a documented response never produced unless --allow-gaps), 2 usage or load error
(one line, no traceback).
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any, NoReturn

import click

from cli.context import unwritable

PREFIX = "CRAFTKIT_CONTRACT_"


def stop(message: str) -> NoReturn:
    """A usage or load error: one line on stderr, exit 2."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(2)


def pairs(values: tuple[str, ...], separator: str, option: str) -> dict[str, str]:
    """`NAME=VALUE` (or `Name: value`) option values as a dict; exit 2 on a malformed one."""
    out: dict[str, str] = {}
    for value in values:
        name, found, rest = value.partition(separator)
        if not found or not name.strip():
            shape = "NAME=VALUE" if separator == "=" else "'Name: value'"
            stop(f"{option} expects {shape}, got {value.split(separator)[0][:40]!r}…")
        out[name.strip()] = rest.strip() if separator == ":" else rest
    return out


def from_environment(prefix: str, *, header: bool = False) -> dict[str, str]:
    """CRAFTKIT_CONTRACT_API_KEY_<NAME>=VALUE variables (HEADER_: `_` in NAME read as `-`)."""
    found = {}
    for variable, value in os.environ.items():
        if variable.startswith(prefix) and len(variable) > len(prefix) and value:
            name = variable[len(prefix) :]
            found[name.replace("_", "-") if header else name] = value
    return found


def identity_options(side: str) -> list[Any]:
    """The credential options of one identity: the owner's, or (side "foreign") the other's."""
    flag = "--foreign-" if side else "--"
    var = PREFIX + ("FOREIGN_" if side else "")
    who = "the foreign identity's " if side else ""
    return [
        click.option(
            f"{flag}bearer",
            f"{side}bearer",
            envvar=f"{var}BEARER",
            metavar="TOKEN",
            help=f"{who.capitalize() or 'A '}bearer token, sent to operations secured by an http "
            f"bearer, oauth2 or openIdConnect scheme (or ${var}BEARER).",
        ),
        click.option(
            f"{flag}key",
            f"{side}key",
            envvar=f"{var}KEY",
            metavar="TOKEN",
            help=f"This repo's name for {who or 'a '}bearer token: a project API key "
            f"(or ${var}KEY).",
        ),
        click.option(
            f"{flag}auth",
            f"{side}auth",
            envvar=f"{var}AUTH",
            metavar="USER:PASS",
            help=f"HTTP basic credentials for {who}http basic schemes (or ${var}AUTH).",
        ),
        click.option(
            f"{flag}api-key",
            f"{side}api_keys",
            multiple=True,
            metavar="NAME=VALUE",
            help=f"{who.capitalize() or 'An '}API key for the apiKey scheme NAME (its name "
            f"in the spec, or its header/query/cookie name); repeatable (or ${var}API_KEY_NAME).",
        ),
        click.option(
            f"{flag}header",
            f"{side}headers",
            multiple=True,
            metavar="'NAME: VALUE'",
            help=f"A header sent with every request{' as the foreign identity' if side else ''}; "
            f"repeatable (or ${var}HEADER_NAME, `_` read as `-`).",
        ),
    ]


def with_options(options: list[Any]) -> Any:
    def decorate(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.command("contract-test")
@click.option(
    "--spec",
    envvar="CRAFTKIT_SPEC",
    metavar="FILE|URL",
    help="OpenAPI 3.0, 3.1 or 3.2 document to test against (default: $CRAFTKIT_SPEC, else "
    "this repo's openapi.yaml).",
)
@click.option(
    "--url",
    required=True,
    metavar="URL",
    help="Base URL of the server, with its base path (http://host:8080/v1): operations are "
    "called under it, whatever the spec's `servers` say.",
)
@with_options(identity_options(""))
@with_options(identity_options("foreign_"))
@click.option(
    "--path-param",
    "path_params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value of path parameter NAME that names an existing resource; repeat for more. "
    "Valid cases use these most of the time, so that a 200 can be reached.",
)
@click.option(
    "--render-id",
    "render_ids",
    multiple=True,
    metavar="UUID",
    help="This repo's contract: a render the --key can read (the same as --path-param id=UUID). "
    "`craftkit renders list --project P` shows them.",
)
@click.option(
    "--operation",
    "operations",
    multiple=True,
    metavar="'METHOD /path'",
    help="Test only this operation, as the spec writes its path ('GET /pets/{petId}'); "
    "repeatable (default: every operation).",
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    help="Where to write the JUnit XML report (default: [reports.junit] path of the config).",
)
@click.option(
    "--report",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="Report format on stdout: text, or Markdown (tables, for a pull-request comment).",
)
@click.option(
    "--skip-check",
    "skip_checks",
    multiple=True,
    metavar="CHECK",
    help="Turn a check off for this run, e.g. use_after_free against a server that keeps no "
    "state; repeatable. The report lists the checks that ran.",
)
@click.option(
    "--max-examples",
    type=int,
    envvar="CRAFTKIT_CONTRACT_MAX_EXAMPLES",
    help="Override generation.max-examples (or $CRAFTKIT_CONTRACT_MAX_EXAMPLES).",
)
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
    spec: str | None,
    url: str,
    path_params: tuple[str, ...],
    render_ids: tuple[str, ...],
    operations: tuple[str, ...],
    junit: pathlib.Path | None,
    report: str,
    skip_checks: tuple[str, ...],
    max_examples: int | None,
    seed: int | None,
    allow_gaps: bool,
    config_path: pathlib.Path | None,
    **credential_options: Any,
) -> None:
    """Check a running server against an OpenAPI document with Schemathesis.

    Every phase (examples, coverage, fuzzing, stateful via links) and check runs. Credentials
    go only to operations whose security scheme takes them, and are never printed: each
    failure's curl line reads them from the environment variables named in the options'
    help ($CRAFTKIT_CONTRACT_BEARER, $CRAFTKIT_CONTRACT_API_KEY_<NAME>, …).

    Progress goes to stderr, a line per phase; the report to stdout (operations x statuses,
    documented responses produced, failures with curl); JUnit XML has one test case per
    operation and check. With a foreign identity (--foreign-…), every successful read of a
    resource named by its path is replayed as that identity and must be refused.

    Exit 0 pass, 1 failures found (or a documented response never produced, unless
    --allow-gaps), 2 usage or load error.
    """
    try:
        import schemathesis

        from contract_tests import documents
        from contract_tests import engine as contract
    except ImportError as exc:
        stop(
            f"{exc.name or 'schemathesis'} is missing: install the contract extra "
            "(pip install 'craftkit-engagement[contract]', or pip install -e '.[contract]')"
        )

    known = contract.BUILTIN_CHECKS + contract.CUSTOM_CHECKS
    for check in skip_checks:
        if check not in known:
            stop(f"--skip-check {check}: no such check (the checks: {', '.join(known)})")
    source = spec or str(contract.SPEC_PATH)
    try:
        document = documents.read_source(source)
    except documents.DocumentError as exc:
        stop(str(exc))
    credentials = build_credentials(credential_options, document)
    steering: dict[str, list[str]] = {"id": list(render_ids)} if render_ids else {}
    for value in path_params:  # a name repeated: every value, in order
        ((name, given),) = pairs((value,), "=", "--path-param").items()
        steering.setdefault(name, []).append(given)
    ours = document == contract.our_contract()
    base_url = url.rstrip("/")
    unreachable = contract.unreachable(base_url)
    if unreachable:
        stop(unreachable)
    from schemathesis.config import ConfigError

    try:
        config = contract.load_config(
            credentials,
            document,
            config_path=config_path or contract.CONFIG_PATH,
            max_examples=max_examples,
            base_url=base_url,
            seed=seed,
            skip_checks=skip_checks,
        )
    except (ConfigError, ValueError) as exc:  # a password that is not latin-1, a bad --config
        stop(f"the settings do not load: {str(exc).splitlines()[0]}")
    junit = junit or contract.junit_path(config)
    problem = unwritable(junit)
    if problem is not None:
        stop(f"--junit: {problem}")
    schema = load_schema(schemathesis, contract, source, config, operations)
    notes(credentials, document, steering, ours)
    click.echo(f"Testing {base_url} against {source}", err=True)
    result = contract.run_contract(
        schema,
        credentials,
        path_params=steering,
        document=document,
        junit=junit,
        progress=lambda line: click.echo(f"  {line}", err=True),
        allow_gaps=allow_gaps,
        skip_checks=skip_checks,
    )
    if ours:
        problem = contract.served_document_problem(base_url)
        if problem is not None:
            result.errors.append(problem)
    gaps = contract.coverage_gaps(result)
    failed_on_gaps = bool(gaps) and not allow_gaps and result.ok
    if report == "markdown":
        click.echo(contract.markdown(result, source=source, url=base_url, allow_gaps=allow_gaps))
    else:
        click.echo(contract.summary(result))
        click.echo(f"JUnit report: {junit}")
        if failed_on_gaps:
            click.echo(f"FAILED: {len(gaps)} documented responses never produced (see Gaps above).")
            hint = contract.gap_hint(result)
            if hint:
                click.echo(hint)
    if not result.ok or failed_on_gaps:
        raise SystemExit(1)


def build_credentials(options: Mapping[str, Any], document: Mapping[str, Any]) -> Any:
    """The owner's and the foreign identity's credentials from options and the environment."""
    from contract_tests import engine as contract
    from contract_tests import identities

    made = []
    for side, name in (("", identities.OWNER), ("foreign_", identities.FOREIGN)):
        var = PREFIX + ("FOREIGN_" if side else "")
        bearer, key = options[f"{side}bearer"], options[f"{side}key"]
        if bearer and key:
            stop(f"--{side.replace('_', '-')}bearer and --{side.replace('_', '-')}key are one "
                 "credential: give one")  # fmt: skip
        api_keys = {
            **from_environment(f"{var}API_KEY_"),
            **pairs(options[f"{side}api_keys"], "=", f"--{side.replace('_', '-')}api-key"),
        }
        headers = {
            **from_environment(f"{var}HEADER_", header=True),
            **pairs(options[f"{side}headers"], ":", f"--{side.replace('_', '-')}header"),
        }
        auth = options[f"{side}auth"]
        if auth and ":" not in auth:
            stop(f"--{side.replace('_', '-')}auth expects USER:PASS")
        made.append(
            identities.identity(
                name,
                bearer=bearer or key,
                bearer_variable=f"{var}KEY" if key else None,
                basic=auth,
                api_keys=api_keys,
                headers=headers,
            )
        )
    owner, foreign = made
    schemes = identities.security_schemes(document)
    for who in (owner, foreign):
        for name in who.api_keys:
            if not identities.api_key_for_name(name, schemes):
                known = [s.name for s in schemes.values() if s.kind == "api_key"]
                stop(
                    f"--api-key {name}=…: the spec has no apiKey scheme or parameter of that "
                    f"name (its apiKey schemes: {', '.join(known) or 'none'})"
                )
    return contract.Credentials(owner, None if foreign.empty else foreign)


def notes(
    credentials: Any, document: Mapping[str, Any], steering: Mapping[str, Any], ours: bool
) -> None:
    """What the run will not do with what it was given, on stderr before it starts."""
    from contract_tests import identities
    from contract_tests.documents import Document

    schemes = identities.security_schemes(document)
    for unused in identities.unused_credentials(credentials.owner, schemes):
        click.echo(f"note: {unused}: not sent", err=True)
    if schemes and credentials.owner.empty:
        click.echo(
            "note: no credentials given: secured operations are called without any", err=True
        )
    if ours and "id" not in steering:
        click.echo(
            "note: no --render-id: a generated id is never a stored render, so no 200 will be "
            "checked and the run fails on that gap unless --allow-gaps is given",
            err=True,
        )
    elif not ours and Document(document).path_parameter_types() and not steering:
        click.echo(
            "note: no --path-param: generated ids rarely name existing resources "
            "(links and the stateful phase may still reach them)",
            err=True,
        )
    if credentials.foreign is None:
        click.echo("note: no --foreign-… identity: cross-tenant reads are not probed", err=True)


def label(operation: str) -> str:
    """'get  /pets/{petId}' as Schemathesis labels it: 'GET /pets/{petId}'."""
    method, _, path = operation.strip().partition(" ")
    return f"{method.upper()} {path.strip()}"


def load_schema(
    schemathesis: Any, contract: Any, source: str, config: Any, operations: tuple[str, ...]
) -> Any:
    """Schemathesis' schema of the document (only `operations`, if given); exit 2 with one
    line if it cannot be tested."""
    from contract_tests.documents import is_url
    from contract_tests.schemathesis_shim import LoaderError, operation_errors, operation_labels

    try:
        if is_url(source):
            schema = schemathesis.openapi.from_url(source, config=config)
        else:
            schema = schemathesis.openapi.from_path(source, config=config)
    except (LoaderError, OSError) as exc:
        message = str(getattr(exc, "message", None) or exc).strip().splitlines()
        stop(f"{source}: {message[0] if message else type(exc).__name__}")
    if operations:
        wanted = [label(operation) for operation in operations]
        missing = sorted(set(wanted) - operation_labels(schema))
        if missing:
            stop(f"--operation {missing[0]!r}: no such operation in {source}")
        schema = schema.include(name=wanted)
    problems = operation_errors(schema)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        stop(f"{source}: {problems[0]}{more}")
    return schema
