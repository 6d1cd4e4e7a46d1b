"""Pairing two documents' operations and deciding each change at the wire level.

A request is what a client sends: parameters, security and a body; the new contract must
accept every request the old one did. A response is what a client receives: every response
the new contract allows must have been allowed. Operations pair by method and path template,
parameter names left out (`/a/{id}` and `/a/{key}` are one path); path parameters pair by
position, headers by case-insensitive name.

Each parameter is compared as the request's map of that parameter (absent or a value), so one
comparison covers a new required parameter, a narrower schema and an old optional one dropped;
a parameter the old contract did not know is one old clients never send.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema_rs

from contract_tests.spec_diff.load import HTTP_METHODS, Document, pointer
from contract_tests.spec_diff.schemas import Outcome, Side, contained

Severity = Literal["breaking", "warning"]
IGNORED_HEADERS = {"accept", "content-type", "authorization"}  # OAS: described elsewhere


@dataclass(frozen=True)
class Finding:
    """One change that can break a client, with the instance that shows it."""

    severity: Severity
    kind: str
    operation: str
    where: str
    reason: str
    example: Any
    base_pointer: str | None
    revision_pointer: str | None
    how: str  # "counter-example" (verified with both validators) or "structural"


@dataclass
class Report:
    base: str
    revision: str
    findings: list[Finding] = field(default_factory=list)
    comparisons: int = 0
    proved: int = 0
    searched: list[str] = field(default_factory=list)  # undecided by reasoning, none found

    @property
    def breaking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "breaking"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


@dataclass(frozen=True)
class Node:
    """A resolved object of a document and the pointer where it is written."""

    value: Any
    at: str


class Resolver:
    def __init__(self, document: Document) -> None:
        self.document = document

    def at(self, where: str) -> Any:
        node: Any = self.document.schema_root
        for raw in where.split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def follow(self, value: Any, where: str) -> Node:
        """`value` with its `$ref`s (to this document) followed."""
        for _ in range(20):
            if not (isinstance(value, Mapping) and isinstance(value.get("$ref"), str)):
                break
            ref = value["$ref"]
            if not ref.startswith("#"):
                break
            where = ref[1:]
            try:
                value = self.at(where)
            except (KeyError, IndexError, ValueError, TypeError):
                break
        return Node(value, where)


@dataclass
class Operation:
    method: str
    path: str
    at: str
    value: Mapping[str, Any]
    path_item: Node

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


TEMPLATE = re.compile(r"\{[^}/]*\}")


def template(path: str) -> str:
    return TEMPLATE.sub("{}", path)


def operations(document: Document, resolver: Resolver) -> dict[tuple[str, str], Operation]:
    found = {}
    for path, item in (document.schema_root.get("paths") or {}).items():
        item_node = resolver.follow(item, pointer(["paths", path]))
        if not isinstance(item_node.value, Mapping):
            continue
        for method in (*HTTP_METHODS, "query"):  # QUERY: OpenAPI 3.2
            value = item_node.value.get(method)
            if isinstance(value, Mapping):
                at = f"{item_node.at}/{method}"
                found[(method, template(path))] = Operation(method, path, at, value, item_node)
        for method, value in (item_node.value.get("additionalOperations") or {}).items():
            if isinstance(value, Mapping):  # 3.2: any other method, by its own name
                at = f"{item_node.at}/additionalOperations/{escape(method)}"
                found[(method.lower(), template(path))] = Operation(
                    method.lower(), path, at, value, item_node
                )
    return found


def diff(base: Document, revision: Document) -> Report:
    """Every breaking change and warning between two documents."""
    report = Report(base.source, revision.source)
    old_resolver, new_resolver = Resolver(base), Resolver(revision)
    old_ops, new_ops = operations(base, old_resolver), operations(revision, new_resolver)
    for key, old in old_ops.items():
        new = new_ops.get(key)
        if new is None:
            report.findings.append(
                Finding(
                    "breaking",
                    "operation-removed",
                    old.label,
                    "operation",
                    "the operation is gone: every call to it fails",
                    {"method": old.method.upper(), "path": old.path},
                    "#" + old.at,
                    None,
                    "structural",
                )
            )
            continue
        pair = Pair(report, base, revision, old_resolver, new_resolver, old, new)
        pair.compare()
    return report


@dataclass
class Pair:
    """One operation in both documents."""

    report: Report
    base: Document
    revision: Document
    old_resolver: Resolver
    new_resolver: Resolver
    old: Operation
    new: Operation

    def compare(self) -> None:
        self.parameters()
        self.security()
        self.request_body()
        self.responses()

    # --- findings --------------------------------------------------------------------------

    def add(
        self,
        severity: Severity,
        kind: str,
        where: str,
        reason: str,
        example: Any,
        base_at: str | None,
        revision_at: str | None,
        how: str = "structural",
    ) -> None:
        self.report.findings.append(
            Finding(
                severity,
                kind,
                self.new.label,
                where,
                reason,
                example,
                None if base_at is None else "#" + base_at,
                None if revision_at is None else "#" + revision_at,
                how,
            )
        )

    def check(
        self,
        narrow: Side,
        wide: Side,
        *,
        enums_open: bool = False,
        real: Callable[[Any], bool] | None = None,
    ) -> Outcome:
        self.report.comparisons += 1
        try:
            outcome = contained(narrow, wide, enums_open=enums_open, real=real)
        except (ValueError, jsonschema_rs.ValidationError) as exc:  # a schema that won't compile
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.report.searched.append(f"{self.new.label}: not compared ({first})")
            return Outcome(True, "searched")
        if outcome.how == "proved":
            self.report.proved += 1
        return outcome

    def note_search(self, outcome: Outcome, where: str) -> None:
        if outcome.how == "searched":
            self.report.searched.append(f"{self.new.label} {where}")

    # --- parameters ------------------------------------------------------------------------

    def parameter_map(
        self, operation: Operation, resolver: Resolver
    ) -> dict[tuple[str, str], Node]:
        merged: dict[tuple[str, str], Node] = {}
        names = TEMPLATE.findall(operation.path)
        sources = [
            (operation.path_item.value.get("parameters") or [], operation.path_item.at),
            (operation.value.get("parameters") or [], operation.at),
        ]
        for parameters, at in sources:
            for index, raw in enumerate(parameters):
                node = resolver.follow(raw, f"{at}/parameters/{index}")
                value = node.value
                if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
                    continue
                where = str(value.get("in"))
                name = value["name"]
                if where == "header":
                    name = name.lower()
                    if name in IGNORED_HEADERS:
                        continue
                if where == "path" and "{" + name + "}" in names:
                    name = str(names.index("{" + name + "}"))
                merged[(where, name)] = node
        return merged

    @staticmethod
    def schema_at(node: Node) -> str | None:
        value = node.value
        if "schema" in value:
            return f"{node.at}/schema"
        for media_type in value.get("content") or {}:
            escaped = media_type.replace("~", "~0").replace("/", "~1")
            return f"{node.at}/content/{escaped}/schema"
        return None

    def parameter_side(self, document: Document, key: str, node: Node | None, *, old: bool) -> Side:
        """The request's map of one parameter: present with a valid value, or absent."""
        if node is None:  # old clients never send it; the new server ignores it
            schema: dict[str, Any] = {"type": "object", "properties": {key: False}} if old else {}
            return Side(document, None, schema)
        at = self.schema_at(node)
        value_schema: Any = {"$ref": "#" + urllib.parse.quote(at, safe="/~")} if at else True
        schema = {"type": "object", "properties": {key: value_schema}}
        if node.value.get("required") or node.value.get("in") == "path":
            schema["required"] = [key]
        return Side(document, None, schema)

    def parameters(self) -> None:
        old_params = self.parameter_map(self.old, self.old_resolver)
        new_params = self.parameter_map(self.new, self.new_resolver)
        for key in sorted(old_params.keys() | new_params.keys()):
            old_node, new_node = old_params.get(key), new_params.get(key)
            shown = (new_node or old_node).value["name"]  # type: ignore[union-attr]
            where = f"{key[0]} parameter {shown}"
            old_side = self.parameter_side(self.base, shown, old_node, old=True)
            new_side = self.parameter_side(self.revision, shown, new_node, old=False)
            wire = functools.partial(
                refused_on_the_wire, name=shown, new=new_side, in_path=key[0] == "path"
            )
            outcome = self.check(old_side, new_side, real=wire)
            self.note_search(outcome, where)
            if outcome.contained:
                continue
            if old_node is None or (shown not in outcome.example):
                kind = "parameter-required"
                reason = f"{where} is now required: a request without it is refused"
            else:
                kind = "parameter-narrowed"
                reason = (
                    f"{where}: {json.dumps(outcome.example[shown])} was accepted and is now refused"
                )
            self.add(
                "breaking",
                kind,
                where,
                reason,
                outcome.example,
                self.schema_at(old_node) if old_node else None,
                self.schema_at(new_node) if new_node else None,
                "counter-example",
            )

    # --- security --------------------------------------------------------------------------

    @staticmethod
    def alternatives(document: Document, operation: Operation) -> list[dict[str, set[str]]]:
        """The operation's security alternatives, each scheme named with its definition."""
        raw = operation.value.get("security", document.schema_root.get("security"))
        schemes = (document.schema_root.get("components") or {}).get("securitySchemes") or {}
        if not raw:
            return [{}]
        found = []
        for requirement in raw:
            alternative = {}
            for name, scopes in (requirement or {}).items():
                definition = {
                    k: v for k, v in (schemes.get(name) or {}).items() if k != "description"
                }
                key = f"{name} {json.dumps(definition, sort_keys=True, default=str)}"
                alternative[key] = set(scopes or [])
            found.append(alternative)
        return found

    def security(self) -> None:
        old = self.alternatives(self.base, self.old)
        new = self.alternatives(self.revision, self.new)
        for alternative in old:
            satisfied = any(
                all(k in alternative and scopes <= alternative[k] for k, scopes in needed.items())
                for needed in new
            )
            if satisfied:
                continue
            credentials = {k.split(" ", 1)[0]: sorted(v) for k, v in alternative.items()}
            self.add(
                "breaking",
                "security-stricter",
                "security",
                "a client authenticated as the old contract allowed is refused: "
                + (", ".join(credentials) or "anonymous")
                + " no longer suffices",
                {"credentials": credentials},
                f"{self.old.at}/security" if "security" in self.old.value else "/security",
                f"{self.new.at}/security" if "security" in self.new.value else "/security",
            )
            return

    # --- request body ----------------------------------------------------------------------

    def body(self, operation: Operation, resolver: Resolver) -> Node | None:
        raw = operation.value.get("requestBody")
        if raw is None:
            return None
        return resolver.follow(raw, f"{operation.at}/requestBody")

    def request_body(self) -> None:
        old, new = self.body(self.old, self.old_resolver), self.body(self.new, self.new_resolver)
        if new is None:
            if old is not None:
                self.add(
                    "breaking",
                    "request-body-removed",
                    "request body",
                    "the request body is no longer documented: a client sending one may be refused",
                    {"body": "any"},
                    old.at,
                    None,
                )
            return
        old_required = bool(old and old.value.get("required"))
        if new.value.get("required") and not old_required:
            self.add(
                "breaking",
                "request-body-required",
                "request body",
                "the request body is now required: a request without one is refused",
                {"body": None},
                old.at if old else None,
                new.at,
            )
        if old is None:
            return
        new_content = new.value.get("content") or {}
        for media_type in old.value.get("content") or {}:
            old_at = f"{old.at}/content/{escape(media_type)}"
            matched = match_media_type(media_type, new_content)
            where = f"request body {media_type}"
            if matched is None:
                self.add(
                    "breaking",
                    "request-media-type-removed",
                    where,
                    f"{media_type} is no longer accepted",
                    {"Content-Type": media_type},
                    old_at,
                    None,
                )
                continue
            new_at = f"{new.at}/content/{escape(matched)}"
            narrow = self.media_side(self.base, self.old_resolver, old_at)
            wide = self.media_side(self.revision, self.new_resolver, new_at)
            outcome = self.check(narrow, wide)
            self.note_search(outcome, where)
            if not outcome.contained:
                self.add(
                    "breaking",
                    "request-body-narrowed",
                    where,
                    "a body the old contract accepted is refused",
                    outcome.example,
                    f"{old_at}/schema",
                    f"{new_at}/schema",
                    "counter-example",
                )

    @staticmethod
    def media_side(document: Document, resolver: Resolver, at: str) -> Side:
        media = resolver.at(at)
        if isinstance(media, Mapping) and "schema" in media:
            return Side(document, f"{at}/schema")
        return Side(document, None, {})

    # --- responses -------------------------------------------------------------------------

    def responses(self) -> None:
        old_all = self.old.value.get("responses") or {}
        new_all = self.new.value.get("responses") or {}
        for status, raw in old_all.items():
            old = self.old_resolver.follow(raw, f"{self.old.at}/responses/{escape(str(status))}")
            covering = covering_status(str(status), new_all)
            if covering is None:
                if str(status).startswith("2"):
                    self.add(
                        "breaking",
                        "response-status-removed",
                        f"response {status}",
                        f"the success status {status} is no longer documented",
                        {"status": str(status)},
                        old.at,
                        None,
                    )
                continue
            new = self.new_resolver.follow(
                new_all[covering], f"{self.new.at}/responses/{escape(covering)}"
            )
            self.response(str(status), old, new)
        for status, raw in new_all.items():
            if str(status) in map(str, old_all):
                continue
            covering = covering_status(str(status), old_all)
            new = self.new_resolver.follow(raw, f"{self.new.at}/responses/{escape(str(status))}")
            if covering is None:
                self.add(
                    "warning",
                    "response-status-added",
                    f"response {status}",
                    f"a new status {status}: clients that handle only the documented ones may fail",
                    {"status": str(status)},
                    None,
                    new.at,
                )
                continue
            old = self.old_resolver.follow(
                old_all[covering], f"{self.old.at}/responses/{escape(covering)}"
            )
            self.response(str(status), old, new)

    def response(self, status: str, old: Node, new: Node) -> None:
        self.response_headers(status, old, new)
        old_content = (old.value or {}).get("content") or {}
        new_content = (new.value or {}).get("content") or {}
        for media_type in old_content:
            old_at = f"{old.at}/content/{escape(media_type)}"
            matched = match_media_type(media_type, new_content)
            where = f"response {status} {media_type}"
            if matched is None:
                self.add(
                    "breaking",
                    "response-media-type-removed",
                    where,
                    f"{media_type} is no longer answered: a client that asks for it gets none",
                    {"Accept": media_type},
                    old_at,
                    None,
                )
                continue
            new_at = f"{new.at}/content/{escape(matched)}"
            narrow = self.media_side(self.revision, self.new_resolver, new_at)
            wide = self.media_side(self.base, self.old_resolver, old_at)
            outcome = self.check(narrow, wide, enums_open=True)
            self.note_search(outcome, where)
            if outcome.contained:
                continue
            if outcome.only_enum:
                self.add(
                    "warning",
                    "response-enum-widened",
                    where,
                    "an enum value the old contract did not list can be answered: "
                    "clients assuming a closed set may fail",
                    outcome.example,
                    f"{old_at}/schema",
                    f"{new_at}/schema",
                    "counter-example",
                )
                continue
            self.add(
                "breaking",
                "response-widened",
                where,
                "an answer the new contract allows was not allowed: old clients may not read it",
                outcome.example,
                f"{old_at}/schema",
                f"{new_at}/schema",
                "counter-example",
            )

    def headers(self, response: Node, resolver: Resolver) -> dict[str, Node]:
        found = {}
        for name, raw in ((response.value or {}).get("headers") or {}).items():
            if name.lower() == "content-type":  # OAS: ignored, the media type says it
                continue
            found[name.lower()] = resolver.follow(raw, f"{response.at}/headers/{escape(name)}")
        return found

    def response_headers(self, status: str, old: Node, new: Node) -> None:
        """A header old clients may rely on: still sent when it was required, and no value
        they did not expect."""
        old_headers = self.headers(old, self.old_resolver)
        new_headers = self.headers(new, self.new_resolver)
        for name, old_header in old_headers.items():
            where = f"response {status} header {name}"
            new_header = new_headers.get(name)
            if new_header is None or (
                old_header.value.get("required") and not new_header.value.get("required")
            ):
                if old_header.value.get("required"):
                    self.add(
                        "breaking",
                        "response-header-removed",
                        where,
                        f"the required header {name} may no longer be sent",
                        {"headers": {}},
                        old_header.at,
                        None if new_header is None else new_header.at,
                    )
                continue
            old_at, new_at = self.schema_at(old_header), self.schema_at(new_header)
            if old_at is None or new_at is None:
                continue
            outcome = self.check(Side(self.revision, new_at), Side(self.base, old_at))
            self.note_search(outcome, where)
            if not outcome.contained:
                self.add(
                    "breaking",
                    "response-header-widened",
                    where,
                    f"a value of {name} the old contract did not allow can be sent",
                    outcome.example,
                    old_at,
                    new_at,
                    "counter-example",
                )


def readings(value: Any) -> list[Any]:
    """What a server may make of a scalar parameter sent as text: the text, or the JSON it
    spells (`7`, `true`, `1.5`), as servers coerce by the schema's type."""
    if isinstance(value, bool | int | float) or value is None:
        text = json.dumps(value)
    elif isinstance(value, str):
        text = value
    else:
        return [value]  # arrays and objects: their serialisation style is not modelled
    found: list[Any] = [text]
    try:
        parsed = json.loads(text)
    except ValueError:
        return found
    if not isinstance(parsed, str):
        found.append(parsed)
    return found


def refused_on_the_wire(example: Any, name: str, new: Side, in_path: bool = False) -> bool:
    """A parameter counter-example counts only if the new contract refuses every reading of
    it: an integer `7` accepted before is the text "7" that a `type: string` accepts now. A
    path parameter's value must fill its segment: an empty one routes to no operation."""
    if not isinstance(example, Mapping) or name not in example:
        return True
    if in_path and example[name] in ("", [], {}):
        return False
    return not any(new.accepts({**example, name: value}) for value in readings(example[name]))


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def media_key(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def match_media_type(media_type: str, content: Mapping[str, Any]) -> str | None:
    """The entry of `content` serving `media_type`: itself, else `type/*`, else `*/*`."""
    wanted = media_key(media_type)
    by_key = {media_key(key): key for key in content}
    for candidate in (wanted, wanted.split("/", 1)[0] + "/*", "*/*"):
        if candidate in by_key:
            return by_key[candidate]
    return None


def covering_status(status: str, responses: Mapping[Any, Any]) -> str | None:
    """The response of `responses` that documents `status`: itself, its `NXX` range, default."""
    keys = {str(key).upper(): str(key) for key in responses}
    for candidate in (status.upper(), status[:1] + "XX"):
        if candidate in keys:
            return keys[candidate]
    if status.upper() != "DEFAULT" and not status.startswith("2") and "DEFAULT" in keys:
        return keys["DEFAULT"]
    return None


def findings(report: Report) -> Iterator[Finding]:
    yield from report.findings
