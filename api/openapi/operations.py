"""Each operation of a document compiled once: a router over its path templates and a checker
of requests and responses, with no framework in between.

The proxy checks real traffic with it (api/proxy/), and a compiled request pipeline for the
server can (issue 22): Connexion's middleware stack costs more than the whole proxy may add.
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

Every problem is an issue as api/openapi/validation.py writes them: `in` (path, query,
header, cookie, security, body; `response.status`, `response.header`, `response.content-type`,
`response.body` for the answer), `name` where a parameter or header is meant, `pointer` (a JSON
pointer into a body) and `message`. Schemas are compiled by validation.py's `compile_schema`
(JSON Schema 2020-12 through jsonschema-rs; 3.0's `nullable` through its OAS30 validator).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

import orjson

from api.openapi.validation import Issue, SchemaCache, Validator, coerce_scalar, schema_issues

Headers = Sequence[tuple[bytes, bytes]]  # as ASGI gives them: names lower-case, order kept
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
PARAM = re.compile(r"\{([^{}]+)\}")
TOKEN68 = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


class ResolvedSpec(Protocol):
    """What is read of a loaded document: api/openapi/spec.py's `OpenAPI31Specification`."""

    is_31: bool

    @property
    def spec(self) -> dict[str, Any]: ...

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]: ...

    def get_path_params(self, path: str) -> list[dict[str, Any]]: ...


class Undecodable(ValueError):
    """A percent-encoded value that is not valid percent-encoding or not UTF-8."""


def decode(raw: str, *, plus: bool = False) -> str:
    """Percent-decode strictly: `%zz` and bytes that are not UTF-8 raise `Undecodable`."""
    if plus:
        raw = raw.replace("+", " ")
    if "%" not in raw:
        return raw
    if BAD_ESCAPE.search(raw):
        raise Undecodable(f"invalid percent-encoding in {raw!r}")
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise Undecodable(f"percent-encoded bytes that are not UTF-8 in {raw!r}") from None


def media_type_of(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def pick_media(documented: Mapping[str, Any], media_type: str) -> str | None:
    """The documented content key `media_type` falls under: exact, then `type/*`, then `*/*`."""
    lowered = {key.split(";", 1)[0].strip().lower(): key for key in documented}
    if media_type in lowered:
        return lowered[media_type]
    wildcard = media_type.split("/", 1)[0] + "/*"
    if wildcard in lowered:
        return lowered[wildcard]
    return lowered.get("*/*")


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return [str(t) for t in declared]
    if declared:
        return [str(declared)]
    for key in ("allOf", "oneOf", "anyOf"):  # a `$ref`-ed type behind a combinator
        for part in schema.get(key) or ():
            if isinstance(part, Mapping) and part.get("type"):
                return _types(part)
    return []


def coerce(raw: Any, schema: Mapping[str, Any]) -> Any:
    """A parsed parameter (string, list of strings, map of strings) as the JSON value the
    schema asks for; what does not parse stays a string and the schema check reports it."""
    if isinstance(raw, list):
        items = schema.get("items")
        items = items if isinstance(items, Mapping) else {}
        return [coerce_scalar(value, items) for value in raw]
    if isinstance(raw, dict):
        properties = schema.get("properties") or {}
        return {
            key: coerce_scalar(value, properties.get(key) or {})
            if isinstance(value, str)
            else value
            for key, value in raw.items()
        }
    return coerce_scalar(raw, schema)


# --- parameters -----------------------------------------------------------------------------


@dataclass
class Parameter:
    name: str
    where: str  # path, query, header, cookie
    required: bool
    style: str
    explode: bool
    kind: str  # "array", "object" or "scalar": how the raw text is split
    schema: Mapping[str, Any] | None
    validator: Validator | None
    json_content: bool = False  # a `content: application/json` parameter

    def parse(self, raw: str) -> Any:
        """The text of one path/header/cookie value, or a non-exploded query value, split as
        its style says (values still undecoded where the caller decodes them)."""
        if self.json_content:
            return orjson.loads(raw)
        if self.where == "path":
            if self.style == "label" and raw.startswith("."):
                raw = raw[1:]
                separator = "." if self.explode else ","
            elif self.style == "matrix" and raw.startswith(";"):
                raw = raw[1:]
                prefix = f"{self.name}="
                if self.kind == "array" and self.explode:
                    return [part.removeprefix(prefix) for part in raw.split(";")]
                raw = raw.removeprefix(prefix)
                separator = ";" if self.explode else ","
            else:
                separator = ","
        else:
            separator = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(self.style, ",")
        if self.kind == "array":
            return raw.split(separator) if raw else []
        if self.kind == "object":
            parts = raw.split(separator) if raw else []
            if self.explode and all("=" in part for part in parts):
                return dict(part.split("=", 1) for part in parts)
            return dict(zip(parts[::2], parts[1::2], strict=False))
        return raw


def _parameter(param: Mapping[str, Any], cache: SchemaCache) -> Parameter:
    where = str(param.get("in"))
    schema = param.get("schema")
    json_content = False
    if not isinstance(schema, Mapping):
        content = param.get("content") or {}
        media = next(iter(content.items()), None)
        schema = None
        if media is not None and isinstance(media[1], Mapping):
            schema = media[1].get("schema") if isinstance(media[1].get("schema"), Mapping) else None
            json_content = is_json(media_type_of(media[0]))
    default_style = {"query": "form", "cookie": "form"}.get(where, "simple")
    style = str(param.get("style") or default_style)
    types = _types(schema) if schema is not None else []
    kind = "array" if "array" in types else "object" if "object" in types else "scalar"
    return Parameter(
        name=str(param.get("name")),
        where=where,
        required=bool(param.get("required")) or where == "path",
        style=style,
        explode=bool(param.get("explode", style == "form")),
        kind=kind,
        schema=schema,
        validator=cache.get(schema) if schema is not None else None,
        json_content=json_content,
    )


def parse_query(query_string: bytes) -> tuple[list[tuple[str, str]], list[Issue]]:
    """(name, value) pairs of a query string, decoded (`+` is a space); pairs that cannot be
    decoded are issues, kept undecoded."""
    pairs: list[tuple[str, str]] = []
    issues: list[Issue] = []
    if not query_string:
        return pairs, issues
    text = query_string.decode("latin-1")
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            name = decode(name, plus=True)
        except Undecodable as exc:
            issues.append({"in": "query", "name": name, "message": str(exc)})
        try:
            value = decode(value, plus=True)
        except Undecodable as exc:
            issues.append({"in": "query", "name": name, "message": str(exc)})
        pairs.append((name, value))
    return pairs, issues


def header_values(headers: Headers) -> dict[str, list[str]]:
    """Header values by lower-case name, in the order sent (latin-1, as HTTP/1.1 carries them)."""
    found: dict[str, list[str]] = {}
    for name, value in headers:
        found.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return found


def parse_cookies(values: list[str]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for value in values:
        for part in value.split(";"):
            name, sep, text = part.strip().partition("=")
            if sep:
                cookies.setdefault(name, text)
    return cookies


# --- security -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """One security scheme of a requirement: where its credential goes and its shape."""

    scheme: str  # the scheme's name in components.securitySchemes
    kind: str  # apiKey, http, oauth2, openIdConnect, mutualTLS
    where: str  # header, query, cookie ("header" for http/oauth2/openIdConnect)
    name: str  # the header, query or cookie name
    auth_scheme: str | None  # `bearer`, `basic`, … for http (and bearer for oauth2/openIdConnect)

    def describe(self) -> str:
        if self.kind == "mutualTLS":
            return f"a client certificate ({self.scheme})"
        if self.auth_scheme:
            return f"{self.auth_scheme.capitalize()} credentials in {self.name} ({self.scheme})"
        return f"{self.where} {self.name!r} ({self.scheme})"

    def problem(
        self, headers: dict[str, list[str]], query: dict[str, list[str]], cookies: dict[str, str]
    ) -> str | None:
        """Why this credential is missing or malformed, or None when it is there."""
        if self.kind == "mutualTLS":
            return None  # the TLS layer's business, invisible here
        if self.where == "query":
            values = query.get(self.name, [])
        elif self.where == "cookie":
            values = [cookies[self.name]] if self.name in cookies else []
        else:
            values = headers.get(self.name.lower(), [])
        if not values or not values[0]:
            return f"missing: {self.describe()}"
        if not self.auth_scheme:
            return None
        scheme, _, token = values[0].strip().partition(" ")
        if scheme.lower() != self.auth_scheme.lower():
            return f"{self.name} does not use the {self.auth_scheme.capitalize()} scheme"
        token = token.strip()
        if not token:
            return f"{self.name} has no {self.auth_scheme.capitalize()} credentials"
        if self.auth_scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return f"{self.name}: Basic credentials are not base64 of UTF-8 text"
            if ":" not in decoded:
                return f"{self.name}: Basic credentials have no ':' between user and password"
        elif self.auth_scheme.lower() == "bearer" and not TOKEN68.match(token):
            return f"{self.name}: the Bearer token has characters a token cannot have"
        return None


def _credential(name: str, scheme: Mapping[str, Any]) -> Credential:
    kind = str(scheme.get("type"))
    if kind == "apiKey":
        return Credential(name, kind, str(scheme.get("in")), str(scheme.get("name")), None)
    if kind == "http":
        return Credential(name, kind, "header", "Authorization", str(scheme.get("scheme", "")))
    if kind in ("oauth2", "openIdConnect"):
        return Credential(name, kind, "header", "Authorization", "bearer")
    return Credential(name, kind, "header", "", None)


# --- bodies ---------------------------------------------------------------------------------


@dataclass
class Media:
    """One documented media type: its schema's validator (None: any content of that type)."""

    key: str
    schema: Mapping[str, Any] | None
    validator: Validator | None


def _media_map(content: Mapping[str, Any], cache: SchemaCache) -> dict[str, Media]:
    found = {}
    for key, media in (content or {}).items():
        schema = media.get("schema") if isinstance(media, Mapping) else None
        schema = schema if isinstance(schema, Mapping) else None
        found[key] = Media(key, schema, cache.get(schema) if schema is not None else None)
    return found


def parse_form(body: bytes, schema: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[Issue]]:
    """An urlencoded body as an object, arrays where the schema's property is one."""
    pairs, issues = parse_query(body)
    for issue in issues:
        issue["in"] = "body"
    properties = (schema or {}).get("properties") or {}
    form: dict[str, Any] = {}
    for name, value in pairs:
        prop = properties.get(name) or {}
        if "array" in _types(prop):
            form.setdefault(name, []).append(value)
        else:
            form[name] = value
    return coerce(form, schema or {}), issues


def multipart_names(body: bytes, content_type: str) -> list[str]:
    """The part names of a multipart/form-data body; ValueError when it does not parse."""
    boundary = None
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise ValueError("multipart body without a boundary parameter")
    delimiter = b"--" + boundary.encode("latin-1")
    if delimiter + b"--" not in body:
        raise ValueError("multipart body without its closing delimiter")
    names = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head = part.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        found = re.search(r'content-disposition:[^\r\n]*\bname="([^"]*)"', head, re.IGNORECASE)
        if found is None:
            raise ValueError("a multipart part without a Content-Disposition name")
        names.append(found.group(1))
    return names


def body_issues(
    media_type: str,
    content_type: str,
    media: Media,
    body: bytes,
    *,
    location: str,
) -> list[Issue]:
    """What is wrong with `body` as `media`: unparseable, or against its schema."""
    if is_json(media_type) or (media.key.endswith("json") and media_type.endswith("json")):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return [{"in": location, "pointer": "/", "message": f"not valid JSON: {exc}"}]
        if media.validator is None:
            return []
        return _pointed(schema_issues(media.validator, value, location=location))
    if media_type == "application/x-www-form-urlencoded":
        form, issues = parse_form(body, media.schema)
        for issue in issues:
            issue["in"] = location
        if media.validator is not None:
            issues += _pointed(schema_issues(media.validator, form, location=location))
        return issues
    if media_type.startswith("multipart/"):
        try:
            names = multipart_names(body, content_type)
        except ValueError as exc:
            return [{"in": location, "pointer": "/", "message": str(exc)}]
        required = (media.schema or {}).get("required") or []
        return [
            {"in": location, "pointer": f"/{name}", "message": f"required part {name!r} missing"}
            for name in required
            if name not in names
        ]
    return []  # other media types: documented, not parsed


def _pointed(issues: list[Issue]) -> list[Issue]:
    """Body issues always carry a pointer, `/` for the whole body."""
    for issue in issues:
        issue.setdefault("pointer", "/")
    return issues


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
                    raw = _decoded(raw)
            elif where == "query":
                raw = self._query_value(param, query)
            elif where == "header":
                values = headers.get(name.lower())
                if values:
                    raw = param.parse(", ".join(values))
            elif where == "cookie" and name in cookies:
                raw = _decoded(param.parse(cookies[name]))
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

    def error_shape(self) -> DocumentedResponse | None:
        """The first documented client-error response with content (`4xx`, `4XX`, `default`):
        the shape this operation's errors take."""
        for key in [*sorted(k for k in self.responses if k.startswith("4")), "default"]:
            response = self.responses.get(key)
            if response is not None and response.content:
                return response
        return None

    def check_error_shape(self, status: int, headers: Headers, body: bytes | None) -> list[Issue]:
        """An undocumented 4xx answer (to a request that broke the contract) checked against
        the operation's documented error shape, if it has one."""
        shape = self.error_shape()
        if shape is None:
            return []
        issues = self._check_against(shape, status, headers, body, False, headers_too=False)
        for issue in issues:
            issue["message"] += f" (checked against the error shape documented for {shape.status})"
        return issues

    def _check_against(
        self,
        response: DocumentedResponse,
        status: int,
        headers: Headers,
        body: bytes | None,
        head: bool,
        *,
        headers_too: bool = True,
    ) -> list[Issue]:
        documented = response.status
        header_map = header_values(headers)
        issues: list[Issue] = []
        for header in response.headers if headers_too else ():
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


def _decoded(raw: Any) -> Any:
    if isinstance(raw, list):
        return [decode(value) for value in raw]
    if isinstance(raw, dict):
        return {decode(key): decode(value) for key, value in raw.items()}
    return decode(raw) if isinstance(raw, str) else raw


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
        [_credential(name, schemes[name]) for name in requirement if name in schemes]
        for requirement in requirements
        if isinstance(requirement, Mapping)
    ]
    if any(not alternative for alternative in security):
        security = []  # `{}` among the alternatives: credentials are optional
    parameters = [
        _parameter(p, cache)
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
        body_content = _media_map(request_body.get("content") or {}, cache)
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
            key, _media_map(response.get("content") or {}, cache), headers
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
