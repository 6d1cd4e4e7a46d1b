"""Contract tests with Schemathesis 4: one engine for the in-process suite and for live servers.

`run_contract()` loads `schemathesis.toml`, adds the run's credentials as an `[auth.wfc]`
document with two identities (`owner`, and `foreign`: a key of another project), steers
generation towards stored renders, drives Schemathesis' own engine (examples, coverage,
fuzzing and stateful phases, every check) and returns what happened: every exchange, every
failure with a curl line, the documented statuses and examples seen and never seen.

The engine is Schemathesis'; what is written here is the part it does not do: the
operations x statuses table, the per-operation coverage of documented responses, the
cross-tenant replay check, and steering towards ids that exist.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import tempfile
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
from api.openapi.spec import OpenAPI31Specification
from api.openapi.walk import documented_responses as walk_responses
from contract_tests.schemathesis_shim import (
    events,
    from_schema,
    generated_positive,
    phase_and_mode,
    send_probe,
)

CONFIG_PATH = shipped_file("schemathesis.toml")
SPEC_PATH = shipped_file("openapi.yaml")
# Where a run's credentials hang on its schema object, for the checks: a check gets only
# (ctx, response, case), and finds them through case.operation.schema.
CREDENTIALS_ATTR = "craftkit_credentials"
DEFAULT_JUNIT = pathlib.Path("reports/contract-junit.xml")
OWNER, FOREIGN = "owner", "foreign"

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
    """The key the run reads with, and optionally a key of another project (cross-tenant probes)."""

    key: str
    foreign_key: str | None = None
    other_keys: tuple[str, ...] = ()  # revoked or unknown keys that generated cases may send


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


def wfc_document(credentials: Credentials) -> dict[str, Any]:
    """Web Fuzzing Commons auth document: the identities Schemathesis may send requests as."""
    users = [(OWNER, credentials.key)]
    if credentials.foreign_key:
        users.append((FOREIGN, credentials.foreign_key))
    return {
        "schemaVersion": "1.0",
        "auth": [
            {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {key}"}]}
            for name, key in users
        ],
    }


def load_config(
    credentials: Credentials,
    workdir: pathlib.Path,
    *,
    config_path: pathlib.Path = CONFIG_PATH,
    max_examples: int | None = None,
    base_url: str | None = None,
    seed: int | None = None,
) -> SchemathesisConfig:
    """`schemathesis.toml` plus this run's credentials (kept out of the file: they are secrets)."""
    data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    auth_file = workdir / "wfc-auth.json"
    auth_file.write_text(json.dumps(wfc_document(credentials)), encoding="utf-8")
    auth_file.chmod(0o600)
    wfc: dict[str, Any] = {"path": str(auth_file), "user": OWNER}
    if credentials.foreign_key:
        wfc["peers"] = [OWNER, FOREIGN]  # identities that must not see each other's objects
    data["auth"] = {"wfc": wfc}
    if max_examples is not None:
        data.setdefault("generation", {})["max-examples"] = max_examples
    if base_url is not None:
        data["base-url"] = base_url
    if seed is not None:
        data["seed"] = seed
    # Schemathesis writes `Authorization: [Filtered]` in its curl lines, which cannot be pasted;
    # the engine puts the keys' environment variables there itself (`reproducible`).
    data.setdefault("output", {}).setdefault("sanitization", {})["enabled"] = False
    return SchemathesisConfig.from_dict(data, base_dir=str(config_path.parent))


KEY_VARIABLES = {OWNER: "CRAFTKIT_CONTRACT_KEY", FOREIGN: "CRAFTKIT_CONTRACT_FOREIGN_KEY"}


def reproducible(curl: str, credentials: Credentials) -> str:
    """A curl line to paste: each known key replaced by its variable, in double quotes."""
    keys = [(credentials.key, KEY_VARIABLES[OWNER])]
    if credentials.foreign_key:
        keys.append((credentials.foreign_key, KEY_VARIABLES[FOREIGN]))
    keys += [(key, "CRAFTKIT_CONTRACT_OTHER_KEY") for key in credentials.other_keys]
    for key, variable in keys:
        curl = curl.replace(
            f"'Authorization: Bearer {key}'", f'"Authorization: Bearer ${variable}"'
        )
        curl = curl.replace(key, f"${{{variable}}}")
    return curl


def junit_path(config: SchemathesisConfig) -> pathlib.Path:
    """Where the config's `[reports.junit]` says the JUnit report goes."""
    if config.reports.junit.path is not None:
        return pathlib.Path(config.reports.junit.path)
    return DEFAULT_JUNIT


# --- steering -------------------------------------------------------------------------------


def steer(schema: Any, render_ids: Sequence[str], credentials: Credentials) -> None:
    """Make valid cases name stored renders, and send other keys, often.

    A random UUID almost never exists, so most valid cases take an id from the pool (the
    owner's renders, another project's, another mode's, missing ones; repeat an id to weigh
    it more). Some are sent with the foreign project's key or a revoked or unknown one.
    Only valid parts are steered: a negative id must stay invalid, or `negative_data_rejection`
    would rightly complain that valid data was sent as invalid.
    """
    pool: list[str | None] = [*render_ids, None]  # None: keep the generated id
    other_keys: list[str | None] = [None] * 6  # None: keep the owner's key
    if credentials.foreign_key:
        other_keys += [credentials.foreign_key] * 2
    other_keys += credentials.other_keys

    def flatmap_case(_context: Any, case: Any) -> Any:
        if "id" not in (case.path_parameters or {}):
            return st.just(case)
        ids = st.sampled_from(pool) if generated_positive(case, "path") else st.none()
        # Only a credential Schemathesis set from the auth config is swapped for another
        # deliberate one; a negative (generated) Authorization header stays as generated.
        keys = st.sampled_from(other_keys) if generated_positive(case, "header") else st.none()

        def steered(choice: tuple[str | None, str | None]) -> Any:
            render_id, key = choice
            if render_id is not None:
                case.path_parameters["id"] = render_id
            if key is not None and "Authorization" in case.headers:
                case.headers["Authorization"] = f"Bearer {key}"
            return case

        return st.tuples(ids, keys).map(steered)

    schema.hooks.register_hook_with_name(flatmap_case, "flatmap_case")


@schemathesis.check
def cross_tenant_read(ctx: Any, response: Any, case: Any) -> bool | None:
    """A render one project reads must answer 404 to the other project's key.

    Schemathesis' `object_level_authorization` learns who owns what from create and list
    operations; this contract has neither, so every successful read is replayed here with the
    other identity's key. Two projects never own the same render, so both reading it is a leak.
    """
    credentials = getattr(case.operation.schema, CREDENTIALS_ATTR, None)
    if credentials is None or credentials.foreign_key is None:
        return None
    if case.method.upper() != "GET" or not 200 <= response.status_code < 300:
        return None
    sent = response.request.headers.get("Authorization", "")
    keys = {f"Bearer {credentials.key}": credentials.foreign_key}
    keys[f"Bearer {credentials.foreign_key}"] = credentials.key
    other = keys.get(sent)
    if other is None:
        return None
    probe = case.derive()
    probe.headers["Authorization"] = f"Bearer {other}"
    peer = send_probe(ctx, case, probe)
    if peer.status_code != 404:
        raise AssertionError(
            f"Both projects' keys read {case.formatted_path}: the other key got "
            f"{peer.status_code}, expected 404 (a render belongs to one project)."
        )
    return None


# --- the run --------------------------------------------------------------------------------


@contextlib.contextmanager
def prepared_config(credentials: Credentials, **options: Any) -> Iterator[SchemathesisConfig]:
    with tempfile.TemporaryDirectory(prefix="craftkit-contract-") as workdir:
        yield load_config(credentials, pathlib.Path(workdir), **options)


def run_contract(
    schema: Any,
    credentials: Credentials,
    *,
    render_ids: Sequence[str] = (),
    junit: pathlib.Path | None = None,
    progress: Callable[[str], None] | None = None,
    allow_gaps: bool = False,
) -> ContractResult:
    """Run every phase and check of `schema` (loaded with its config); collect what happened.

    `progress` gets a line as each phase starts and ends, with its requests and failures.
    """
    result = ContractResult(checks=BUILTIN_CHECKS + CUSTOM_CHECKS, seed=schema.config.seed)
    result.documented = documented_responses(OpenAPI31Specification(schema.raw_schema))
    steer(schema, render_ids, credentials)
    setattr(schema, CREDENTIALS_ATTR, credentials)
    keys = {
        f"Bearer {credentials.key}": OWNER,
        **({f"Bearer {credentials.foreign_key}": FOREIGN} if credentials.foreign_key else {}),
    }

    def after_call(_context: Any, case: Any, response: Any) -> None:
        result.exchanges.append(_exchange(case, response, keys))

    schema.hooks.register_hook_with_name(after_call, "after_call")
    started = time.monotonic()
    phase = PhaseProgress(result, progress)
    try:
        for event in from_schema(schema).execute():
            phase.update(event)
            _collect(event, result, credentials)
    finally:
        delattr(schema, CREDENTIALS_ATTR)
        result.elapsed = time.monotonic() - started
        if junit is not None:
            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_text(junit_xml(result, allow_gaps=allow_gaps), encoding="utf-8")
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


def _exchange(case: Any, response: Any, keys: Mapping[str, str]) -> Exchange:
    phase, mode = phase_and_mode(case)
    sent = response.request.headers.get("Authorization")
    key = "none" if sent is None else keys.get(sent, "invalid")
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


def _collect(event: Any, result: ContractResult, credentials: Credentials) -> None:
    if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
        recorder = event.recorder
        for case_id, checks in recorder.checks.items():
            for check in checks:
                info = check.failure_info
                if info is None:
                    continue
                interaction = recorder.interactions.get(case_id)
                response = interaction.response if interaction is not None else None
                result.findings.append(
                    Finding(
                        operation=info.failure.operation or recorder.label,
                        check=check.name,
                        code=info.failure.code,
                        title=info.failure.title,
                        message=info.failure.message,
                        curl=reproducible(info.code_sample, credentials),
                        status=response.status_code if response is not None else None,
                    )
                )
    elif isinstance(event, events.NonFatalError):
        result.errors.append(f"{event.label}: {event.info.format()}")
    elif isinstance(event, events.FatalError):
        result.errors.append(f"fatal: {event.exception!r}")


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


def documented_responses(spec: OpenAPI31Specification) -> dict[str, dict[str, list[Any]]]:
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


def coverage_report(result: ContractResult) -> list[str]:
    """Per operation, each documented status and example: produced (how often) or never seen."""
    lines = ["Documented responses produced:"]
    seen = result.statuses()
    for operation, statuses in sorted(result.documented.items()):
        lines.append(f"  {operation}")
        for status, examples in statuses.items():
            count = seen.get(operation, Counter()).get(int(status), 0)
            produced = f"produced {plural(count, 'time')}" if count else "NEVER PRODUCED"
            cells = [f"{status}: {produced}"]
            for n, example in enumerate(examples, 1):
                cells.append(f"example {n} " + _example_state(result, operation, status, example))
            lines.append("    " + "; ".join(cells))
    return lines


def coverage_gaps(result: ContractResult) -> list[str]:
    """Documented statuses and response examples this run never produced."""
    gaps = []
    seen = result.statuses()
    for operation, statuses in result.documented.items():
        for status, examples in statuses.items():
            if int(status) not in seen.get(operation, Counter()):
                gaps.append(f"{operation}: documented status {status} never produced")
            for n, example in enumerate(examples, 1):
                if _example_state(result, operation, status, example) == "never seen":
                    gaps.append(f"{operation}: example {n} of {status} never produced")
    return gaps


def _example_state(result: ContractResult, operation: str, status: str, example: Any) -> str:
    bodies = [
        e.body for e in result.exchanges if e.operation == operation and str(e.status) == status
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
    documented = {s for op in result.documented.values() for s in op}
    heads = [f"{s}{'' if str(s) in documented else '*'}" for s in statuses]
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
    if owner and all(e.status == 401 for e in owner):
        return "hint: every valid request with --key got 401: does the server accept that key?"
    return "hint: no 200 at all: pass --render-id with a render the key can read"


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.check, finding.operation, finding.title), finding)
    return list(seen.values())
