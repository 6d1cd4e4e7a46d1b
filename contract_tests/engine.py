"""Contract tests with Schemathesis 4: one engine for the in-process suite and for live servers,
for this repo's contract and for any OpenAPI 3.0/3.1/3.2 document.

`run_contract()` loads `schemathesis.toml`, adds the run's credentials per security scheme
(`[auth.openapi.<scheme>]`, contract_tests/identities.py), steers generation towards
resources that exist (`--path-param`), drives Schemathesis' own engine (examples, coverage,
fuzzing and stateful phases, every check) and returns what happened: every exchange, every
failure with a curl line, the documented statuses and examples seen and never seen.

The engine is Schemathesis'; what is written here is the part it does not do: the
operations x statuses table, the per-operation coverage of documented responses, the
cross-tenant replay check (a resource read as one identity must not be readable as
another), steering towards ids that exist, and the reports (text, Markdown, JUnit).
"""

from __future__ import annotations

import contextlib
import pathlib
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from api.config import shipped_file
from api.openapi.walk import ResolvedSpec
from api.openapi.walk import documented_responses as walk_responses
from contract_tests import identities
from contract_tests.documents import Document
from contract_tests.identities import FOREIGN, OWNER, Identity, Scheme
from contract_tests.schemathesis_shim import (
    events,
    from_schema,
    generated_positive,
    operation_labels,
    phase_and_mode,
    send_probe,
)

CONFIG_PATH = shipped_file("schemathesis.toml")
SPEC_PATH = shipped_file("openapi.yaml")
# Where a run's context (credentials, document) hangs on its schema object, for the checks: a
# check gets only (ctx, response, case), and finds it through case.operation.schema.
CONTEXT_ATTR = "craftkit_run"
DEFAULT_JUNIT = pathlib.Path("reports/contract-junit.xml")

# Every check Schemathesis 4.32 ships, plus ours.
BUILTIN_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
)
CUSTOM_CHECKS = ("cross_tenant_read",)


@dataclass(frozen=True)
class Credentials:
    """Who the run calls the API as: the owner, optionally a foreign identity (cross-tenant
    replay), and bearer tokens the server must refuse (revoked or unknown keys that steered
    cases may send instead of the owner's)."""

    owner: Identity = field(default_factory=Identity)
    foreign: Identity | None = None
    other_keys: tuple[str, ...] = ()

    @classmethod
    def from_keys(
        cls, key: str, foreign_key: str | None = None, other_keys: tuple[str, ...] = ()
    ) -> Credentials:
        """This repo's contract: a project's bearer key, and another project's."""
        owner = identities.identity(OWNER, bearer=key, bearer_variable=KEY_VARIABLES[OWNER])
        foreign = (
            identities.identity(FOREIGN, bearer=foreign_key, bearer_variable=KEY_VARIABLES[FOREIGN])
            if foreign_key
            else None
        )
        return cls(owner, foreign, other_keys)

    @property
    def key(self) -> str:
        """The owner's bearer token (this repo's contract: the project's API key)."""
        return self.owner.bearer.value if self.owner.bearer else ""

    @property
    def identities(self) -> list[Identity]:
        return [self.owner, *([self.foreign] if self.foreign else [])]

    def variables(self) -> dict[str, str]:
        """Refused keys a steered case may send, and the variable a repro names each by."""
        return {key: f"{KEY_VARIABLES['other']}_{n}" for n, key in enumerate(self.other_keys, 1)}


KEY_VARIABLES = {
    OWNER: "CRAFTKIT_CONTRACT_KEY",
    FOREIGN: "CRAFTKIT_CONTRACT_FOREIGN_KEY",
    "other": "CRAFTKIT_CONTRACT_OTHER_KEY",
}


@dataclass
class Exchange:
    """One request the run sent and the status it got."""

    operation: str
    method: str
    path: str
    status: int
    phase: str
    mode: str
    key: str  # which credentials: owner, foreign, invalid, none
    body: Any = None


@dataclass
class Finding:
    """One failed check, with what it takes to reproduce it."""

    operation: str
    check: str
    code: str
    title: str
    message: str
    curl: str
    status: int | None


@dataclass
class ContractResult:
    """Everything a run produced, for the summary, the coverage report and the tests."""

    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what did not run, and why (not a failure)
    checks: tuple[str, ...] = ()
    seed: int | None = None
    elapsed: float = 0.0
    documented: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.errors

    @property
    def caught_by(self) -> set[str]:
        return {finding.check for finding in self.findings}

    def statuses(self) -> dict[str, Counter[int]]:
        table: dict[str, Counter[int]] = {}
        for exchange in self.exchanges:
            table.setdefault(exchange.operation, Counter())[exchange.status] += 1
        return table


# --- configuration --------------------------------------------------------------------------


def load_config(
    credentials: Credentials,
    document: Mapping[str, Any],
    *,
    config_path: pathlib.Path = CONFIG_PATH,
    max_examples: int | None = None,
    base_url: str | None = None,
    seed: int | None = None,
    skip_checks: Sequence[str] = (),
) -> SchemathesisConfig:
    """`schemathesis.toml` plus this run's credentials (kept out of the file: they are secrets).

    `skip_checks` turns checks off for this run (a stateless stand-in cannot honour a DELETE).

    The owner's credentials go in as `[auth.openapi.<scheme>]`, one per security scheme of the
    document they fit, so Schemathesis sends them only to operations that require that scheme;
    extra `--header`s go to every request.
    """
    data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    schemes = identities.security_schemes(document)
    auth = identities.auth_schemes(credentials.owner, schemes)
    if auth:
        data["auth"] = {"openapi": auth}
    if credentials.owner.headers:
        data["headers"] = {k: s.value for k, s in credentials.owner.headers.items()}
    if max_examples is not None:
        data.setdefault("generation", {})["max-examples"] = max_examples
    if base_url is not None:
        data["base-url"] = base_url
    if seed is not None:
        data["seed"] = seed
    for check in skip_checks:
        data.setdefault("checks", {}).setdefault(check, {})["enabled"] = False
    # Schemathesis writes `Authorization: [Filtered]` in its curl lines, which cannot be pasted;
    # the engine puts the secrets' environment variables there itself (`reproducible`).
    data.setdefault("output", {}).setdefault("sanitization", {})["enabled"] = False
    return SchemathesisConfig.from_dict(data, base_dir=str(config_path.parent))


def junit_path(config: SchemathesisConfig) -> pathlib.Path:
    """Where the config's `[reports.junit]` says the JUnit report goes."""
    if config.reports.junit.path is not None:
        return pathlib.Path(config.reports.junit.path)
    return DEFAULT_JUNIT


@dataclass
class RunContext:
    """What the checks and hooks of one run need: who calls, and the document's schemes."""

    credentials: Credentials
    document: Document
    schemes: dict[str, Scheme]
    # The replay's request per case id, as curl: a cross-tenant failure is reproduced by it.
    probe_curls: dict[str, str] = field(default_factory=dict)
    # What the other identity's read may get: any refusal, but exactly 404 on this repo's
    # contract (a render of another project does not exist for a key, README "Errors").
    refusals: tuple[int, ...] = (401, 403, 404)

    def reproducible(self, curl: str) -> str:
        return identities.reproducible(
            curl, self.credentials.identities, self.credentials.variables()
        )

    def owner_requirement(self, path: str, method: str) -> list[str] | None:
        """The security schemes the owner's credentials are sent under for an operation."""
        requirements = self.document.security(path, method)
        return identities.satisfied_requirement(requirements, self.credentials.owner, self.schemes)


# --- steering -------------------------------------------------------------------------------


def path_pools(values: Mapping[str, Sequence[str]], document: Document) -> dict[str, list[Any]]:
    """`--path-param` values per name, as the parameter's declared type (an integer id as int)."""
    types = document.path_parameter_types()
    pools: dict[str, list[Any]] = {}
    for name, given in values.items():
        pool: list[Any] = []
        for value in given:
            pool.append(_typed(value, types.get(name, set())))
        pools[name] = pool
    return pools


def _typed(value: str, types: set[str]) -> Any:
    if "integer" in types:
        with contextlib.suppress(ValueError):
            return int(value)
    if "number" in types:
        with contextlib.suppress(ValueError):
            return float(value)
    return value


def steer(schema: Any, pools: Mapping[str, Sequence[Any]], run: RunContext) -> None:
    """Make valid cases name resources that exist, and send other credentials, often.

    A generated id almost never exists, so most valid cases take a path parameter from its
    `--path-param` pool (repeat a value to weigh it more; None keeps the generated one). Some
    are sent as the foreign identity, or with a bearer token the server must refuse.
    Only valid parts are steered: a negative id must stay invalid, or `negative_data_rejection`
    would rightly complain that valid data was sent as invalid.
    """
    credentials = run.credentials
    swaps: list[Identity | str | None] = [None] * 6  # None: keep the owner's credentials
    if credentials.foreign:
        swaps += [credentials.foreign] * 2
    swaps += list(credentials.other_keys)

    def flatmap_case(_context: Any, case: Any) -> Any:
        names = [n for n in (case.path_parameters or {}) if n in pools]
        positive_path = generated_positive(case, "path")
        requirement = run.owner_requirement(case.operation.path, case.method)
        swappable = requirement is not None and generated_positive(case, "header")
        if not (names and positive_path) and not (swappable and len(swaps) > 6):
            return st.just(case)
        values = st.tuples(
            *(st.sampled_from([*pools[n], None]) if positive_path else st.none() for n in names)
        )
        who = st.sampled_from(swaps) if swappable else st.none()

        def steered(choice: tuple[tuple[Any, ...], Identity | str | None]) -> Any:
            chosen, swap = choice
            for name, value in zip(names, chosen, strict=True):
                if value is not None:
                    case.path_parameters[name] = value
            if swap is not None and requirement is not None:
                _swap_credentials(case, swap, requirement, run)
            return case

        return st.tuples(values, who).map(steered)

    schema.hooks.register_hook_with_name(flatmap_case, "flatmap_case")


def _swap_credentials(
    case: Any, swap: Identity | str, requirement: list[str], run: RunContext
) -> None:
    """Send the case as another identity, or with a refused bearer token, if the owner's
    credentials are on it (a negative case may have had them removed on purpose)."""
    headers = case.headers if case.headers is not None else {}
    owner_sent = identities.identify(
        headers, "", [run.credentials.owner], {n: run.schemes[n] for n in requirement}
    )
    if owner_sent != OWNER:
        return
    if isinstance(swap, Identity):
        query = case.query if case.query is not None else {}
        cookies = case.cookies if case.cookies is not None else {}
        if identities.apply(swap, requirement, run.schemes, headers, query, cookies):
            case.headers, case.query, case.cookies = headers, query, cookies
    elif "Authorization" in headers:
        headers["Authorization"] = f"Bearer {swap}"


@schemathesis.check
def cross_tenant_read(ctx: Any, response: Any, case: Any) -> bool | None:
    """A resource read as one identity must not be readable as the other.

    Schemathesis' `object_level_authorization` learns who owns what from create and list
    operations, which many contracts (this repo's among them) lack; so every successful GET of
    a resource named by its path (an operation with path parameters and a security
    requirement) is replayed here as the other identity, with the same parameters, and must be
    refused (401, 403 or 404; on this repo's contract exactly 404, as a render of another
    project does not exist for a key). List and public operations are not replayed: both identities
    may rightly read them. The replay's curl line is the failure's repro.
    """
    run = getattr(case.operation.schema, CONTEXT_ATTR, None)
    if run is None or run.credentials.foreign is None:
        return None
    if case.method.upper() != "GET" or not 200 <= response.status_code < 300:
        return None
    if not case.path_parameters:
        return None
    requirement = run.owner_requirement(case.operation.path, case.method)
    if requirement is None:
        return None
    owner, foreign = run.credentials.owner, run.credentials.foreign
    request = response.request
    sent = identities.identify(request.headers, request.url, [owner, foreign], run.schemes)
    other = {OWNER: foreign, FOREIGN: owner}.get(sent)
    if other is None:
        return None
    probe = case.derive()
    probe.headers = dict(probe.headers or {})
    probe.query = dict(probe.query or {})
    probe.cookies = dict(probe.cookies or {})
    if not identities.apply(
        other, requirement, run.schemes, probe.headers, probe.query, probe.cookies
    ):
        return None
    peer = send_probe(ctx, case, probe)
    if peer.status_code not in run.refusals:
        run.probe_curls[case.id] = run.reproducible(probe.as_curl_command())
        expected = ", ".join(map(str, run.refusals))
        raise AssertionError(
            f"{case.formatted_path} was read as {sent} ({response.status_code}) and again as "
            f"{other.name} ({peer.status_code}); expected {expected} for {other.name} "
            "(a resource belongs to one identity). Reproduce shows the second read."
        )
    return None


# --- the run --------------------------------------------------------------------------------


@contextlib.contextmanager
def prepared_config(
    credentials: Credentials, document: Mapping[str, Any], **options: Any
) -> Iterator[SchemathesisConfig]:
    yield load_config(credentials, document, **options)


def run_contract(
    schema: Any,
    credentials: Credentials,
    *,
    path_params: Mapping[str, Sequence[str]] | None = None,
    render_ids: Sequence[str] = (),
    document: Mapping[str, Any] | None = None,
    junit: pathlib.Path | None = None,
    progress: Callable[[str], None] | None = None,
    allow_gaps: bool = False,
    skip_checks: Sequence[str] = (),
) -> ContractResult:
    """Run every phase and check of `schema` (loaded with its config); collect what happened.

    `path_params` steers path parameters by name to existing resources; `render_ids` is
    `{"id": render_ids}`, this repo's contract's name for it. `document` is the raw document
    (default: the schema's own). `progress` gets a line as each phase starts and ends.
    """
    doc = Document(document if document is not None else schema.raw_schema)
    run = RunContext(credentials, doc, identities.security_schemes(doc.raw))
    if doc.raw == our_contract():
        run.refusals = (404,)
    skipped = set(skip_checks)
    checks = tuple(c for c in BUILTIN_CHECKS + CUSTOM_CHECKS if c not in skipped)
    result = ContractResult(checks=checks, seed=schema.config.seed)
    tested = operation_labels(schema)  # `--operation` may have narrowed the run
    result.documented = {k: v for k, v in documented_responses(doc).items() if k in tested}
    pools = {**({"id": list(render_ids)} if render_ids else {}), **(path_params or {})}
    steer(schema, path_pools(pools, doc), run)
    setattr(schema, CONTEXT_ATTR, run)

    def after_call(_context: Any, case: Any, response: Any) -> None:
        result.exchanges.append(_exchange(case, response, run))

    schema.hooks.register_hook_with_name(after_call, "after_call")
    started = time.monotonic()
    phase = PhaseProgress(result, progress)
    try:
        for event in from_schema(schema).execute():
            phase.update(event)
            _collect(event, result, run)
    finally:
        delattr(schema, CONTEXT_ATTR)
        result.elapsed = time.monotonic() - started
        if junit is not None:
            try:
                junit.parent.mkdir(parents=True, exist_ok=True)
                junit.write_text(junit_xml(result, allow_gaps=allow_gaps), encoding="utf-8")
            except OSError as exc:  # the run's findings still reach the report, and fail it
                result.errors.append(f"cannot write the JUnit report {junit}: {exc.strerror}")
    return result


TEST_PHASES = ("examples", "coverage", "fuzzing", "stateful")


class PhaseProgress:
    """Turns the engine's phase events into lines: what runs, and what it did."""

    def __init__(self, result: ContractResult, out: Callable[[str], None] | None) -> None:
        self.result = result
        self.out = out
        self.started = 0.0
        self.requests = 0
        self.findings = 0

    def update(self, event: Any) -> None:
        if self.out is None:
            return
        name = str(event.phase.name.value) if isinstance(event, events.PhaseEvent) else ""
        if name not in TEST_PHASES:  # probing, schema analysis: no requests of their own
            return
        if isinstance(event, events.PhaseStarted):
            self.started = time.monotonic()
            self.requests, self.findings = len(self.result.exchanges), len(self.result.findings)
            self.out(f"{name} phase: started")
        elif isinstance(event, events.PhaseFinished):
            status = str(getattr(event.status, "name", event.status)).lower()
            if status == "skip":
                self.out(f"{name} phase: skipped (nothing to run)")
                return
            requests = len(self.result.exchanges) - self.requests
            failed = len(self.result.findings) - self.findings
            self.out(
                f"{name} phase: {plural(requests, 'request')}, "
                f"{plural(failed, 'failed check')} in {time.monotonic() - self.started:.1f}s"
            )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _exchange(case: Any, response: Any, run: RunContext) -> Exchange:
    phase, mode = phase_and_mode(case)
    request = response.request
    key = identities.identify(request.headers, request.url, run.credentials.identities, run.schemes)
    try:
        body = response.json()
    except ValueError:
        body = None
    return Exchange(
        operation=case.operation.label,
        method=str(response.request.method),
        path=case.formatted_path,
        status=response.status_code,
        phase=phase,
        mode=mode,
        key=key,
        body=body,
    )


def _collect(event: Any, result: ContractResult, run: RunContext) -> None:
    if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
        recorder = event.recorder
        for case_id, checks in recorder.checks.items():
            for check in checks:
                info = check.failure_info
                if info is None:
                    continue
                interaction = recorder.interactions.get(case_id)
                response = interaction.response if interaction is not None else None
                curl = run.reproducible(info.code_sample)
                if check.name == "cross_tenant_read" and case_id in run.probe_curls:
                    curl = run.probe_curls[case_id]  # the second identity's read
                result.findings.append(
                    Finding(
                        operation=info.failure.operation or recorder.label,
                        check=check.name,
                        code=info.failure.code,
                        title=info.failure.title,
                        message=info.failure.message,
                        curl=curl,
                        status=response.status_code if response is not None else None,
                    )
                )
    elif isinstance(event, events.NonFatalError):
        text = event.info.format()
        if "excluded by filters" in text:  # `--operation` left out every linked operation
            result.notes.append(f"{event.label}: skipped, the linked operations are not tested")
        else:
            result.errors.append(f"{event.label}: {text}")
    elif isinstance(event, events.FatalError):
        result.errors.append(f"fatal: {event.exception!r}")


def our_contract() -> dict[str, Any]:
    """This repo's contract, parsed: a run against it also checks the served /openapi.json."""
    import yaml

    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def unreachable(base_url: str) -> str | None:
    """Why nothing answers at `base_url` (a usage error, not a failure of the contract)."""
    import requests

    if not base_url.startswith(("http://", "https://")):
        return f"--url {base_url}: not a URL (expected http://host:port/base-path)"
    try:
        requests.get(base_url, timeout=10)
    except requests.exceptions.InvalidURL as exc:
        return f"--url {base_url}: not a valid URL ({exc})"
    except requests.RequestException as exc:
        reason = type(exc).__name__
        return f"--url {base_url}: nothing answers there ({reason})"
    return None


def served_document_problem(base_url: str, spec_path: pathlib.Path = SPEC_PATH) -> str | None:
    """Why the server's /openapi.json is not the contract file, or None when it is."""
    import requests
    import yaml

    expected = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    url = base_url.rstrip("/") + "/openapi.json"
    try:
        response = requests.get(url, timeout=10)
        served = response.json()
    except (requests.RequestException, ValueError) as exc:
        return f"{url}: could not read the served document ({exc})"
    if response.status_code != 200 or served != expected:
        return f"{url}: the served document differs from {spec_path.name}"
    return None


# --- what the spec documents ----------------------------------------------------------------


def documented_responses(spec: ResolvedSpec) -> dict[str, dict[str, list[Any]]]:
    """{operation label: {status: [documented example bodies]}}: the examples a run must meet.

    Only the examples written on the responses count; a schema's own example documents the
    schema, not a response this server must produce.
    """
    out: dict[str, dict[str, list[Any]]] = {}
    for response in walk_responses(spec):
        examples = out.setdefault(response.operation, {}).setdefault(response.status, [])
        examples += [e.value for e in response.examples if not e.from_schema]
    return out


# --- reports --------------------------------------------------------------------------------


def covers(documented: Mapping[str, Any], key: str, code: int) -> bool:
    """Whether the documented response `key` ("200", "4XX", "default") covers status `code`.

    A range covers the codes of its class not documented one by one; `default` covers every
    code neither documented nor in a documented range (OpenAPI's precedence).
    """
    explicit = {k for k in documented if k.isdigit()}
    ranges = {k[0] for k in documented if len(k) == 3 and k[1:].upper() == "XX"}
    if key.isdigit():
        return int(key) == code
    if str(code) in explicit:
        return False
    if key.upper().endswith("XX"):
        return str(code)[0] == key[0]
    return key == "default" and str(code)[0] not in ranges


def produced_count(result: ContractResult, operation: str, key: str) -> int:
    documented = result.documented.get(operation, {})
    seen = result.statuses().get(operation, Counter())
    return sum(n for code, n in seen.items() if covers(documented, key, code))


def coverage_report(result: ContractResult) -> list[str]:
    """Per operation, each documented status and example: produced (how often) or never seen."""
    lines = ["Documented responses produced:"]
    for operation, statuses in sorted(result.documented.items()):
        lines.append(f"  {operation}")
        if not statuses:
            lines.append("    (no responses documented)")
        for status, examples in statuses.items():
            count = produced_count(result, operation, status)
            produced = f"produced {plural(count, 'time')}" if count else "NEVER PRODUCED"
            if status == "default" and not count:
                produced = "not produced (default: any other status)"
            cells = [f"{status}: {produced}"]
            for n, example in enumerate(examples, 1):
                cells.append(f"example {n} " + _example_state(result, operation, status, example))
            lines.append("    " + "; ".join(cells))
    return lines


def coverage_gaps(result: ContractResult) -> list[str]:
    """Documented statuses and response examples this run never produced."""
    gaps = []
    for operation, statuses in result.documented.items():
        for status, examples in statuses.items():
            if status == "default":  # documents the other statuses; none has to occur
                continue
            if not produced_count(result, operation, status):
                gaps.append(f"{operation}: documented status {status} never produced")
            for n, example in enumerate(examples, 1):
                if _example_state(result, operation, status, example) == "never seen":
                    gaps.append(f"{operation}: example {n} of {status} never produced")
    # An operation that took none of the owner's valid requests was never tested past its door.
    refused: dict[str, set[bool]] = {}
    for e in result.exchanges:
        if e.key == OWNER and e.mode == "positive":
            refused.setdefault(e.operation, set()).add(e.status in (401, 403))
    for operation, outcomes in sorted(refused.items()):
        documented = result.documented.get(operation, {})
        success = not documented or any(k[0] == "2" or k == "default" for k in documented)
        if outcomes == {True} and success:  # (an operation documenting only a 401 is kept to)
            gaps.append(f"{operation}: every valid request with the given credentials was refused")
    return gaps


def _example_state(result: ContractResult, operation: str, status: str, example: Any) -> str:
    documented = result.documented.get(operation, {})
    bodies = [
        e.body
        for e in result.exchanges
        if e.operation == operation and covers(documented, status, e.status)
    ]
    if any(body == example for body in bodies):
        return "seen verbatim"
    if any(_same_shape(example, body) for body in bodies):
        return "seen (same shape, other data)"
    return "never seen"


def _same_shape(example: Any, body: Any) -> bool:
    """Whether `body` has the example's shape: the same keys, recursively, and list items alike.

    Values are data (counts, ids, times): an example documents what a response looks like.
    """
    if isinstance(example, dict):
        return (
            isinstance(body, dict)
            and set(example) == set(body)
            and all(_same_shape(example[k], body[k]) for k in example)
        )
    if isinstance(example, list):
        if not isinstance(body, list) or bool(body) != bool(example):
            return False
        return not example or any(_same_shape(example[0], item) for item in body)
    return example is None or body is not None


def summary(result: ContractResult) -> str:
    """A readable report: operations x statuses, credentials, coverage, failures with curl."""
    lines = [
        f"Contract run: {len(result.exchanges)} requests in {result.elapsed:.1f}s "
        f"(seed {result.seed}: the same seed and data send the same cases)"
    ]
    lines.append(f"Checks on ({len(result.checks)}): {', '.join(result.checks)}")
    lines += ["", *status_table(result), ""]
    total = len(result.exchanges) or 1
    by_status = Counter(e.status for e in result.exchanges)
    lines.append(
        "Share of responses: "
        + ", ".join(f"{s} {n / total:.0%}" for s, n in sorted(by_status.items()))
    )
    keys = Counter(e.key for e in result.exchanges)
    lines.append("Credentials sent: " + ", ".join(f"{k} {n}" for k, n in keys.most_common()))
    phases = Counter(e.phase for e in result.exchanges)
    lines.append("Phases: " + ", ".join(f"{p} {n}" for p, n in phases.most_common()))
    lines += ["", *coverage_report(result)]
    gaps = coverage_gaps(result)
    lines.append("Gaps: " + ("none" if not gaps else ""))
    lines += [f"  {gap}" for gap in gaps]
    if result.notes:
        lines += ["", "Notes:", *(f"  {note}" for note in result.notes)]
    if result.errors:
        lines += ["", f"Errors ({len(result.errors)}):", *(f"  {e}" for e in result.errors)]
    lines.append("")
    if not result.findings and result.errors:
        lines.append(
            f"No check failed, but {len(result.errors)} errors stopped requests: not a pass."
        )
    elif not result.findings:
        lines.append("No failures.")
    else:
        distinct = _unique(result.findings)
        lines.append(f"Failures: {len(result.findings)} failed checks, {len(distinct)} distinct")
        for n, finding in enumerate(distinct, 1):
            lines.append(f"{n}. [{finding.check}] {finding.operation}: {finding.title}")
            lines += [f"     {line}" for line in finding.message.splitlines() if line.strip()]
            lines.append(f"   Reproduce: {finding.curl}")
    return "\n".join(lines)


def markdown(result: ContractResult, *, source: str, url: str, allow_gaps: bool = False) -> str:
    """The report as Markdown, for a pull-request comment: verdict, tables, failures, gaps."""
    gaps = coverage_gaps(result)
    distinct = _unique(result.findings)
    passed = result.ok and (allow_gaps or not gaps)
    verdict = "✅ passed" if passed else "❌ failed"
    lines = [
        f"### Contract test {verdict}",
        "",
        f"`{source}` against `{url}`: {plural(len(result.exchanges), 'request')} in "
        f"{result.elapsed:.1f}s, {plural(len(distinct), 'distinct failure')}, "
        f"{plural(len(gaps), 'gap')}{' (allowed)' if gaps and allow_gaps else ''}, "
        f"{plural(len(result.errors), 'error')} (seed {result.seed}).",
        "",
    ]
    table = result.statuses()
    codes = sorted({s for counter in table.values() for s in counter})
    lines.append("| Operation | " + " | ".join(str(c) for c in codes) + " |")
    lines.append("| --- |" + " ---: |" * len(codes))
    for operation, counter in sorted(table.items()):
        documented = result.documented.get(operation, {})
        cells = []
        for code in codes:
            count = counter.get(code, 0)
            mark = "" if not count or any(covers(documented, k, code) for k in documented) else "*"
            cells.append(f"{count}{mark}" if count else "")
        lines.append(f"| `{operation}` | " + " | ".join(cells) + " |")
    lines += ["", "\\* a status the operation does not document.", ""]
    if distinct:
        lines += ["#### Failures", ""]
        for n, finding in enumerate(distinct, 1):
            lines.append(f"{n}. **`{finding.check}`** `{finding.operation}`: {finding.title}")
            message = [line for line in finding.message.splitlines() if line.strip()]
            if message:
                lines += ["", "   ```", *(f"   {line}" for line in message[:20]), "   ```"]
            lines += ["", "   ```sh", f"   {finding.curl.splitlines()[0]}", "   ```", ""]
    if gaps:
        lines += ["#### Documented responses never produced", ""]
        lines += [f"- `{gap}`" for gap in gaps]
        lines.append("")
    if result.errors:
        lines += ["#### Errors", ""]
        lines += [f"- {error.splitlines()[0]}" for error in result.errors]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def junit_xml(result: ContractResult, *, allow_gaps: bool = False) -> str:
    """JUnit XML with one test case per operation and check, so a CI dashboard names what failed.

    Schemathesis' own writer makes one case per operation (every check in it). Besides the
    checks: per operation, "documented responses produced" (a failure for a gap unless gaps
    are allowed, then skipped), and one error case per error that stopped requests.
    """
    from xml.etree import ElementTree

    suite = ElementTree.Element("testsuite", name="craftkit contract", time=f"{result.elapsed:.3f}")
    operations = sorted(set(result.documented) | {e.operation for e in result.exchanges})
    gaps = coverage_gaps(result)
    counts = Counter[str]()
    for operation in operations:
        for check in result.checks:
            case = ElementTree.SubElement(suite, "testcase", classname=operation, name=check)
            counts["tests"] += 1
            found = _unique(
                [f for f in result.findings if f.operation == operation and f.check == check]
            )
            if found:
                counts["failures"] += 1
                failure = ElementTree.SubElement(
                    case, "failure", type=check, message="; ".join(f.title for f in found)
                )
                failure.text = "\n\n".join(
                    f"{f.title}\n{f.message}\nReproduce: {f.curl}" for f in found
                )
        case = ElementTree.SubElement(
            suite, "testcase", classname=operation, name="documented responses produced"
        )
        counts["tests"] += 1
        missing = [gap for gap in gaps if gap.startswith(f"{operation}: ")]
        if missing:
            text = "\n".join(missing)
            if allow_gaps:
                counts["skipped"] += 1
                ElementTree.SubElement(case, "skipped", message="gaps allowed").text = text
            else:
                counts["failures"] += 1
                failure = ElementTree.SubElement(
                    case, "failure", type="coverage", message=f"{len(missing)} never produced"
                )
                failure.text = text
    for n, error in enumerate(result.errors, 1):
        case = ElementTree.SubElement(suite, "testcase", classname="run", name=f"error {n}")
        counts["tests"] += 1
        counts["errors"] += 1
        ElementTree.SubElement(case, "error", message=error.splitlines()[0][:200]).text = error
    for name in ("tests", "failures", "errors", "skipped"):
        suite.set(name, str(counts[name]))
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def status_table(result: ContractResult) -> list[str]:
    """Operations down, status codes across; `*` marks a status the operation does not document."""
    table = result.statuses()
    statuses = sorted({s for counter in table.values() for s in counter})
    undocumented = {
        code
        for operation, counter in table.items()
        for code in counter
        if not any(
            covers(result.documented.get(operation, {}), k, code)
            for k in result.documented.get(operation, {})
        )
    }
    heads = [f"{s}{'*' if s in undocumented else ''}" for s in statuses]
    width = max([len("Operation"), *(len(op) for op in table)])
    lines = ["  ".join([f"{'Operation':<{width}}", *(f"{h:>5}" for h in heads)])]
    for operation, counter in sorted(table.items()):
        cells = [f"{counter.get(s, 0):>5}" for s in statuses]
        lines.append("  ".join([f"{operation:<{width}}", *cells]))
    starred = [h for h in heads if h.endswith("*")]
    if starred:
        reasons = {
            "400*": "400, a request the contract calls invalid",
            "405*": "405, a method it does not declare",
        }
        lines.append(
            "* not in the contract: " + "; ".join(reasons.get(h, h.rstrip("*")) for h in starred)
        )
    return lines


def gap_hint(result: ContractResult) -> str | None:
    """Why a live run produced no 200, when the exchanges say so."""
    if any(e.status == 200 for e in result.exchanges):
        return None
    owner = [e for e in result.exchanges if e.key == OWNER and e.mode == "positive"]
    if owner and all(e.status in (401, 403) for e in owner):
        return (
            "hint: every valid request with the given credentials was refused (401/403): "
            "does the server accept them?"
        )
    return (
        "hint: no 200 at all: pass --path-param NAME=VALUE with ids of resources that exist "
        "(--render-id for this repo's contract)"
    )


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.check, finding.operation, finding.title), finding)
    return list(seen.values())
