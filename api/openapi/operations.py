"""Each operation of a document compiled once: a router over its path templates and a checker
of requests and responses, with no framework in between.

The proxy checks real traffic with it (api/proxy/): Connexion's middleware stack costs more
than the whole proxy may add. (The server's compiled pipeline, api/openapi/pipeline.py, runs
Connexion's own validators and security instead, so that its answers stay Connexion's byte
for byte.)
`Operations(spec)` builds:

- a router matching the RAW path (`scope["raw_path"]`): a segment is split on `/` before it is
  decoded, so `%2F` is data inside a segment; a literal segment matches as written or decoded;
  templated segments (`{id}`, `{name}.json`) match one non-empty segment; concrete paths win
  over templated ones. Dot segments and `//` are not normalised: they match nothing unless a
  template says so. A bad percent-encoding (`%zz`, invalid UTF-8) in a parameter is a
  violation of that parameter, never an exception;
- per operation, `check_request()`: parameters (path, query, header, cookie; styles `simple`,
  `label`, `matrix`, `form`, `spaceDelimited`, `pipeDelimited`, `deepObject`; `explode`; `content`
  parameters as JSON), security (one of the requirements met: presence, and the shape of
  `Basic`/`Bearer` credentials), the request body (documented media type; JSON parsed and
  checked against its schema, urlencoded forms decoded and checked, multipart parsed for its
  part names);
- per operation, `check_response()`: the status documented (exact, `2XX`, `default`), the
  media type documented, the documented headers (required ones present, values against their
  schema) and the body against its schema.

The pieces live beside it: parameters.py (percent-decoding, query strings, headers, cookies,
parameter styles), security_schemes.py (credentials and their shapes), media.py (media types
and bodies). Every problem is an issue as api/openapi/validation.py writes them: `in` (path, query,
header, cookie, security, body; `response.status`, `response.header`, `response.content-type`,
`response.body` for the answer), `name` where a parameter or header is meant, `pointer` (a JSON
pointer into a body) and `message`. Schemas are compiled by validation.py's `compile_schema`
(JSON Schema 2020-12 through jsonschema-rs; 3.0's `nullable` through its OAS30 validator).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from api.openapi.media import Media, body_issues, media_map, media_type_of, pick_media
from api.openapi.parameters import (
    Headers,
    Parameter,
    Undecodable,
    coerce,
    compile_parameter,
    decode,
    decoded,
    header_values,
    parse_cookies,
    parse_query,
)
from api.openapi.security_schemes import Credential, compile_credential
from api.openapi.validation import Issue, SchemaCache, Validator, schema_issues

PARAM = re.compile(r"\{([^{}]+)\}")


class ResolvedSpec(Protocol):
    """What is read of a loaded document: api/openapi/spec.py's `OpenAPI31Specification`."""

    is_31: bool

    @property
    def spec(self) -> dict[str, Any]: ...

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]: ...

    def get_path_params(self, path: str) -> list[dict[str, Any]]: ...


# --- responses ------------------------------------------------------------------------------


@dataclass
class ResponseHeader:
    name: str
    required: bool
    schema: Mapping[str, Any] | None
    validator: Validator | None


@dataclass
class DocumentedResponse:
    status: str  # as the document writes it: "200", "2XX", "default"
    content: dict[str, Media]
    headers: list[ResponseHeader]


@dataclass
class ResponseCheck:
    """What `check_response` found: the documented status it fell under (None: none)."""

    documented: str | None
    issues: list[Issue]


# --- one operation --------------------------------------------------------------------------


@dataclass
class Operation:
    path: str  # the template as the document writes it
    method: str  # upper case
    operation_id: str | None
    parameters: list[Parameter]
    security: list[list[Credential]]  # alternatives; an empty one means none needed
    body_required: bool
    body_content: dict[str, Media] | None  # None: no requestBody documented
    responses: dict[str, DocumentedResponse]
    statuses: tuple[str, ...] = ()
    path_names: tuple[str, ...] = ()
    query_names: tuple[frozenset[str], tuple[str, ...]] | None = None  # filled on first use
    definition: Mapping[str, Any] = field(default_factory=dict)  # the resolved operation object

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    # -- requests --

    def check_request(
        self,
        path_values: Mapping[str, str],
        query_string: bytes,
        headers: Headers,
        body: bytes | None,
    ) -> list[Issue]:
        """Every problem of a request routed to this operation (`path_values`: raw segments)."""
        issues: list[Issue] = []
        header_map = header_values(headers)
        pairs, query_issues = parse_query(query_string)
        issues += query_issues
        query: dict[str, list[str]] = {}
        for name, value in pairs:
            query.setdefault(name, []).append(value)
        cookies = parse_cookies(header_map.get("cookie", []))
        for param in self.parameters:
            issues += self._check_parameter(param, path_values, query, header_map, cookies)
        for name in query:
            if not self._documented_query(name):
                issues.append(
                    {"in": "query", "name": name, "message": "query parameter not documented"}
                )
        if len(header_map.get("authorization", [])) > 1:
            issues.append(
                {
                    "in": "header",
                    "name": "Authorization",
                    "message": f"{len(header_map['authorization'])} Authorization headers: "
                    "which one counts is ambiguous",
                }
            )
        issues += self._check_security(header_map, query, cookies)
        issues += self._check_body(header_map, body)
        return issues

    def _check_parameter(
        self,
        param: Parameter,
        path_values: Mapping[str, str],
        query: dict[str, list[str]],
        headers: dict[str, list[str]],
        cookies: dict[str, str],
    ) -> list[Issue]:
        where, name = param.where, param.name
        raw: Any = None
        try:
            if where == "path":
                text = path_values.get(name)
                if text is not None:
                    raw = param.parse(text)
                    raw = decoded(raw)
            elif where == "query":
                raw = self._query_value(param, query)
            elif where == "header":
                values = headers.get(name.lower())
                if values:
                    raw = param.parse(", ".join(values))
            elif where == "cookie" and name in cookies:
                raw = decoded(param.parse(cookies[name]))
        except Undecodable as exc:
            return [{"in": where, "name": name, "message": str(exc)}]
        except orjson.JSONDecodeError as exc:
            return [{"in": where, "name": name, "message": f"not valid JSON: {exc}"}]
        if raw is None:
            if param.required:
                return [
                    {"in": where, "name": name, "message": f"missing required {where} parameter"}
                ]
            return []
        if param.validator is None or param.schema is None:
            return []
        value = raw if param.json_content else coerce(raw, param.schema)
        return schema_issues(param.validator, value, location=where, name=name)

    def _documented_query(self, name: str) -> bool:
        """Whether the operation documents query parameter `name` (as a parameter, a deepObject
        or exploded object's member, or an API key of its security)."""
        if self.query_names is None:
            names: set[str] = set()
            prefixes: list[str] = []
            for param in self.parameters:
                if param.where != "query":
                    continue
                names.add(param.name)
                if param.style == "deepObject":
                    prefixes.append(param.name + "[")
                elif param.kind == "object" and param.explode:
                    names |= set(((param.schema or {}).get("properties") or {}).keys())
                    if (param.schema or {}).get("additionalProperties") not in (None, False):
                        prefixes.append("")  # any name may be one of its members
            for alternative in self.security:
                names |= {c.name for c in alternative if c.where == "query"}
            self.query_names = (frozenset(names), tuple(prefixes))
        names_found, prefixes_found = self.query_names
        return name in names_found or any(name.startswith(p) for p in prefixes_found)

    @staticmethod
    def _query_value(param: Parameter, query: dict[str, list[str]]) -> Any:
        name = param.name
        if param.style == "deepObject":
            prefix = f"{name}["
            found = {
                key[len(prefix) : -1]: values[-1]
                for key, values in query.items()
                if key.startswith(prefix) and key.endswith("]")
            }
            return found or None
        if param.kind == "object" and param.explode and not param.json_content:
            properties = (param.schema or {}).get("properties") or {}
            found = {key: query[key][-1] for key in properties if key in query}
            return found or None
        values = query.get(name)
        if not values:
            return None
        if param.kind == "array" and param.explode and param.style == "form":
            return values
        return param.parse(values[-1])

    def _check_security(
        self, headers: dict[str, list[str]], query: dict[str, list[str]], cookies: dict[str, str]
    ) -> list[Issue]:
        if not self.security:
            return []
        problems: list[str] = []
        for alternative in self.security:
            missing = [p for c in alternative if (p := c.problem(headers, query, cookies))]
            if not missing:
                return []
            problems.append(" and ".join(missing))
        return [{"in": "security", "message": "; or ".join(problems)}]

    def _check_body(self, headers: dict[str, list[str]], body: bytes | None) -> list[Issue]:
        if not body:
            if self.body_required:
                return [{"in": "body", "pointer": "/", "message": "required request body missing"}]
            return []
        if self.body_content is None:
            return [
                {
                    "in": "body",
                    "pointer": "/",
                    "message": "a request body, where none is documented",
                }
            ]
        content_type = (headers.get("content-type") or [""])[0]
        media_type = media_type_of(content_type)
        key = pick_media(self.body_content, media_type)
        if key is None:
            documented = ", ".join(self.body_content) or "none"
            return [
                {
                    "in": "header",
                    "name": "Content-Type",
                    "message": f"{media_type or '(none)'} is not a documented request media type "
                    f"(documented: {documented})",
                }
            ]
        return body_issues(media_type, content_type, self.body_content[key], body, location="body")

    # -- responses --

    def documented_status(self, status: int) -> str | None:
        """The key of `responses` that `status` falls under: exact, `2XX`, then `default`."""
        exact = str(status)
        if exact in self.responses:
            return exact
        ranged = f"{exact[0]}XX"
        for key in (ranged, ranged.lower()):
            if key in self.responses:
                return key
        return "default" if "default" in self.responses else None

    def check_response(
        self, status: int, headers: Headers, body: bytes | None, *, head: bool = False
    ) -> ResponseCheck:
        """Every problem of an answer to this operation (`head`: answered to HEAD, no body)."""
        documented = self.documented_status(status)
        if documented is None:
            listed = ", ".join(self.statuses) or "none"
            message = f"status {status} is not documented (documented: {listed})"
            return ResponseCheck(None, [{"in": "response.status", "message": message}])
        return ResponseCheck(
            documented, self._check_against(self.responses[documented], status, headers, body, head)
        )

    def _check_against(
        self,
        response: DocumentedResponse,
        status: int,
        headers: Headers,
        body: bytes | None,
        head: bool,
    ) -> list[Issue]:
        documented = response.status
        header_map = header_values(headers)
        issues: list[Issue] = []
        for header in response.headers:
            values = header_map.get(header.name.lower())
            if not values:
                if header.required:
                    issues.append(
                        {
                            "in": "response.header",
                            "name": header.name,
                            "message": "missing required response header",
                        }
                    )
                continue
            if header.validator is not None and header.schema is not None:
                value = coerce(", ".join(values), header.schema)
                issues += schema_issues(
                    header.validator, value, location="response.header", name=header.name
                )
        if head or status in (204, 304) or 100 <= status < 200:
            return issues
        content_type = (header_map.get("content-type") or [""])[0]
        media_type = media_type_of(content_type)
        if not response.content:
            if body:
                issues.append(
                    {
                        "in": "response.body",
                        "pointer": "/",
                        "message": f"a body, where status {documented} documents none",
                    }
                )
            return issues
        key = pick_media(response.content, media_type)
        if key is None:
            documented_types = ", ".join(response.content)
            issues.append(
                {
                    "in": "response.content-type",
                    "message": f"{media_type or '(none)'} is not documented for status "
                    f"{documented} (documented: {documented_types})",
                }
            )
            return issues
        if not body:
            issues.append(
                {
                    "in": "response.body",
                    "pointer": "/",
                    "message": f"empty body, where status {documented} documents {key}",
                }
            )
            return issues
        issues += body_issues(
            media_type, content_type, response.content[key], body, location="response.body"
        )
        return issues


def _merged_parameters(
    path_params: list[dict[str, Any]], operation: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Path-item parameters overridden by the operation's own (same name and location)."""
    merged = {(p.get("name"), p.get("in")): p for p in path_params if isinstance(p, dict)}
    for param in operation.get("parameters") or []:
        if isinstance(param, dict):
            merged[(param.get("name"), param.get("in"))] = param
    return list(merged.values())


def compile_operation(
    spec: ResolvedSpec, path: str, method: str, operation: Mapping[str, Any], cache: SchemaCache
) -> Operation:
    document = spec.spec
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    requirements = operation.get("security", document.get("security")) or []
    security = [
        [compile_credential(name, schemes[name]) for name in requirement if name in schemes]
        for requirement in requirements
        if isinstance(requirement, Mapping)
    ]
    if any(not alternative for alternative in security):
        security = []  # `{}` among the alternatives: credentials are optional
    parameters = [
        compile_parameter(p, cache)
        for p in _merged_parameters(spec.get_path_params(path), operation)
        if p.get("in") in ("path", "query", "header", "cookie")
    ]
    # Accept, Content-Type and Authorization as header parameters are ignored (OAS 3.x).
    parameters = [
        p
        for p in parameters
        if not (
            p.where == "header" and p.name.lower() in ("accept", "content-type", "authorization")
        )
    ]
    request_body = operation.get("requestBody")
    body_content = None
    body_required = False
    if isinstance(request_body, Mapping):
        body_content = media_map(request_body.get("content") or {}, cache)
        body_required = bool(request_body.get("required"))
    responses: dict[str, DocumentedResponse] = {}
    for status, response in (operation.get("responses") or {}).items():
        if not isinstance(response, Mapping):
            continue
        headers = []
        for name, header in (response.get("headers") or {}).items():
            if not isinstance(header, Mapping) or name.lower() == "content-type":
                continue
            schema = header.get("schema")
            schema = schema if isinstance(schema, Mapping) else None
            headers.append(
                ResponseHeader(
                    name,
                    bool(header.get("required")),
                    schema,
                    cache.get(schema) if schema is not None else None,
                )
            )
        key = str(status)
        responses[key] = DocumentedResponse(
            key, media_map(response.get("content") or {}, cache), headers
        )
    return Operation(
        path=path,
        method=method.upper(),
        operation_id=operation.get("operationId"),
        parameters=parameters,
        security=security,
        body_required=body_required,
        body_content=body_content,
        responses=responses,
        statuses=tuple(responses),
        path_names=tuple(PARAM.findall(path)),
        definition=operation,
    )


# --- the router -----------------------------------------------------------------------------


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    templated: list[tuple[re.Pattern[str], tuple[str, ...], _Node]] = field(default_factory=list)
    methods: dict[str, Operation] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """Where a request lands: its operation and raw path values, or why there is none."""

    operation: Operation | None
    path_values: dict[str, str]
    allowed: tuple[str, ...] = ()  # the path's methods, when the path matched but not the method
    outside_base: bool = False  # the path is not under the document's base path

    @property
    def found(self) -> bool:
        return self.operation is not None


NOT_FOUND = Match(None, {})


def _segment_pattern(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    pattern = ""
    names = []
    for position, part in enumerate(PARAM.split(template)):
        if position % 2:
            names.append(part)
            pattern += "([^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(pattern), tuple(names)


class Operations:
    """Every operation of a document, compiled; `match()` routes a raw path to one."""

    def __init__(self, spec: ResolvedSpec, *, base_path: str = "") -> None:
        self.base_path = base_path.rstrip("/")
        self.cache = SchemaCache(oas30=not spec.is_31)
        self.all: list[Operation] = []
        self._root = _Node()
        for path, method, definition in spec.operations():
            operation = compile_operation(spec, path, method, definition, self.cache)
            self.all.append(operation)
            node = self._root
            for segment in path.split("/")[1:]:
                if "{" in segment:
                    pattern, names = _segment_pattern(segment)
                    for existing, _names, child in node.templated:
                        if existing.pattern == pattern.pattern:
                            node = child
                            break
                    else:
                        child = _Node()
                        node.templated.append((pattern, names, child))
                        node = child
                else:
                    node = node.literals.setdefault(segment, _Node())
            node.methods[operation.method] = operation
        # `{name}.json` before `{name}`: the more literal text, the earlier it is tried.
        self._sort(self._root)

    def _sort(self, node: _Node) -> None:
        node.templated.sort(key=lambda entry: -len(PARAM.sub("", entry[0].pattern)))
        for child in [*node.literals.values(), *(entry[2] for entry in node.templated)]:
            self._sort(child)

    def match(self, method: str, raw_path: bytes | str) -> Match:
        """Route `method` and the raw (undecoded) path; never raises on what a client sends."""
        path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else raw_path
        if self.base_path:
            if path == self.base_path:
                path = "/"
            elif path.startswith(self.base_path + "/"):
                path = path[len(self.base_path) :]
            else:
                return Match(None, {}, outside_base=True)
        if not path.startswith("/"):
            return NOT_FOUND
        found = self._walk(self._root, path.split("/")[1:], {})
        if found is None:
            return NOT_FOUND
        node, values = found
        operation = node.methods.get(method.upper())
        if operation is None and method.upper() == "HEAD":
            operation = node.methods.get("GET")
        if operation is None:
            return Match(None, values, allowed=tuple(node.methods))
        return Match(operation, values)

    def _walk(
        self, node: _Node, segments: list[str], values: dict[str, str]
    ) -> tuple[_Node, dict[str, str]] | None:
        if not segments:
            return (node, values) if node.methods else None
        segment, rest = segments[0], segments[1:]
        child = node.literals.get(segment)
        if child is None and "%" in segment:
            try:
                child = node.literals.get(decode(segment))
            except Undecodable:
                child = None
        if child is not None:
            found = self._walk(child, rest, values)
            if found is not None:
                return found
        if not segment:
            return None
        for pattern, names, templated in node.templated:
            matched = pattern.fullmatch(segment)
            if matched is None:
                continue
            found = self._walk(
                templated, rest, {**values, **dict(zip(names, matched.groups(), strict=True))}
            )
            if found is not None:
                return found
        return None

    def documented(self) -> Iterator[tuple[Operation, str]]:
        """(operation, documented status) for every response the document lists."""
        for operation in self.all:
            for status in operation.statuses:
                yield operation, status
