"""Every operation of a spec called as a browser frontend calls a mock, and what to check.

Shared by tests/test_mock_corpus.py (craftkit's mock, in process) and bench/mock_compare.py
(craftkit's mock and Prism, live over HTTP): the same requests, the same checks, so the table
in docs/mock.md compares like with like. For each operation a valid request is built from the
spec (path, required query, header and cookie parameters from their examples or generated
from their schemas, credentials for the first security alternative, the required body), sent
through the `servers` base path and, when there is one, at the root too; then:

- `preflight`: the browser's CORS preflight (Origin, Access-Control-Request-Method and the
  non-safelisted headers the call sends) is allowed: 2xx, the origin, the method and every
  header allowed;
- `status`: the answer's status is documented for the operation (a 2xx one when any 2xx is
  documented; 200 or 204 where the operation documents no response);
- `media type`: its Content-Type is one the response documents (none: no body);
- `body`: the body is valid against that media type's schema;
- `cors`: the answer carries Access-Control-Allow-Origin, so the page can read it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from api.mock.documented_errors import response_for
from api.mock.generate import Generator
from api.openapi.servers import base_path, join
from api.openapi.spec import OpenAPI31Specification
from api.openapi.walk import media_examples

ORIGIN = "http://localhost:5173"
CHECKS = ("preflight", "status", "media type", "body", "cors")
# Headers a browser sends without a preflight asking for them (the CORS safelist).
SAFELISTED = {"accept", "accept-language", "content-language", "cookie", "origin"}
SIMPLE_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
TOKEN = "ck_test_corpus"


@dataclass
class Call:
    """One browser request for one operation."""

    operation: str  # "GET /pets/{id}"
    method: str
    path: str  # with the base path when `via` is "base path"
    via: str  # "base path" or "root"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    responses: Mapping[str, Any] = field(default_factory=dict)

    def url(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")

    def preflight_headers(self) -> list[str]:
        """The headers a browser lists in Access-Control-Request-Headers for this call."""
        names = []
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in SAFELISTED:
                continue
            if lower == "content-type" and value.split(";")[0].strip() in SIMPLE_TYPES:
                continue
            names.append(lower)
        return sorted(names)


@dataclass
class Result:
    call: Call
    failures: dict[str, str]  # check -> why, for the checks that failed

    @property
    def ok(self) -> bool:
        return not self.failures


class Builder:
    """Valid values for a spec's parameters and bodies: an example that validates, else data
    generated from the schema (craftkit's generator, checked by the spec's own validator)."""

    def __init__(self, spec: OpenAPI31Specification) -> None:
        self.spec = spec
        self.generator = Generator(spec.schemas)

    def valid(self, schema: Any, value: Any) -> bool:
        if not isinstance(schema, Mapping):
            return True
        return next(iter(self.spec.schemas.get(schema).iter_errors(value)), None) is None

    def value(self, holder: Mapping[str, Any], schema: Any) -> Any:
        candidates = [e.value for e in media_examples(holder)]
        if isinstance(schema, Mapping):
            candidates += [schema.get("default")] if "default" in schema else []
            candidates += list(schema.get("enum") or [])[:1]
        for candidate in candidates:
            if self.valid(schema, candidate):
                return candidate
        if not isinstance(schema, Mapping):
            return "x"
        return self.generator.generate(schema, 0)


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(text(v) for v in value)  # style: simple / form, explode false
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def parameters(spec: OpenAPI31Specification, path: str, operation: Mapping[str, Any]) -> list:
    declared: dict[tuple[str, str], Any] = {}
    for param in [*spec.get_path_params(path), *(operation.get("parameters") or [])]:
        if isinstance(param, Mapping):
            declared[(param.get("in", ""), param.get("name", ""))] = param
    return list(declared.values())


def credentials(spec: OpenAPI31Specification, operation: Mapping[str, Any], call: Call) -> None:
    requirements = operation.get("security", spec.spec.get("security")) or []
    if not requirements or any(not r for r in requirements):
        return  # none, or optional
    schemes = (spec.spec.get("components") or {}).get("securitySchemes") or {}
    for name in requirements[0]:
        scheme = schemes.get(name) or {}
        kind = scheme.get("type")
        if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
            user = base64.b64encode(f"corpus:{TOKEN}".encode()).decode()
            call.headers["Authorization"] = f"Basic {user}"
        elif kind in ("http", "oauth2", "openIdConnect"):
            call.headers["Authorization"] = f"Bearer {TOKEN}"
        elif kind == "apiKey":
            where, key = scheme.get("in"), scheme.get("name", "")
            if where == "header":
                call.headers[key] = TOKEN
            elif where == "query":
                call.query.append((key, TOKEN))
            elif where == "cookie":
                cookie = call.headers.get("Cookie")
                call.headers["Cookie"] = (cookie + "; " if cookie else "") + f"{key}={TOKEN}"


def body(builder: Builder, request_body: Mapping[str, Any], call: Call) -> None:
    content = request_body.get("content") or {}
    if not content:
        return
    media_type = next(iter(content))
    media = content[media_type] or {}
    schema = media.get("schema")
    base = media_type.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json") or base == "*/*":
        call.headers["Content-Type"] = "application/json" if base == "*/*" else media_type
        call.content = json.dumps(builder.value(media, schema)).encode()
    elif base == "application/x-www-form-urlencoded":
        value = builder.value(media, schema)
        pairs = [(k, text(v)) for k, v in (value or {}).items()] if isinstance(value, dict) else []
        call.headers["Content-Type"] = media_type
        call.content = urlencode(pairs).encode()
    elif base.startswith("multipart/"):
        value = builder.value(media, schema)
        fields = value if isinstance(value, dict) else {}
        files = {
            k: ("f.bin", v.encode() if isinstance(v, str) else text(v).encode())
            for k, v in fields.items()
        }
        request = httpx.Request("POST", "http://x/", files=files or {"file": ("f.bin", b"x")})
        call.headers["Content-Type"] = request.headers["content-type"]
        call.content = request.read()
    elif base.startswith("text/"):
        call.headers["Content-Type"] = media_type
        call.content = text(builder.value(media, schema)).encode()
    else:  # application/octet-stream, image/png, application/xml...
        call.headers["Content-Type"] = media_type if "*" not in media_type else "image/png"
        call.content = b"\x89PNG\r\n\x1a\n" if "image" in base else b"corpus bytes"


def calls(spec: OpenAPI31Specification) -> Iterator[Call]:
    """One call per operation through the base path, and one at the root if there is one."""
    builder = Builder(spec)
    base = base_path(spec.raw)
    for path, method, operation in spec.operations():
        params = parameters(spec, path, operation)
        concrete = path
        template = Call(f"{method.upper()} {path}", method.upper(), path, "root")
        for param in params:
            where, name = param.get("in"), param.get("name", "")
            if where != "path" and not param.get("required"):
                continue
            value = text(builder.value(param, param.get("schema")))
            if where == "path":
                concrete = concrete.replace("{" + name + "}", quote(value, safe=""))
            elif where == "query":
                template.query.append((name, value))
            elif where == "header" and name.lower() not in ("accept", "content-type"):
                template.headers[name] = value
            elif where == "cookie":
                cookie = template.headers.get("Cookie")
                template.headers["Cookie"] = (cookie + "; " if cookie else "") + f"{name}={value}"
        credentials(spec, operation, template)
        request_body = operation.get("requestBody")
        if isinstance(request_body, Mapping) and request_body.get("required"):
            body(builder, request_body, template)
        template.headers.setdefault("Origin", ORIGIN)
        template.responses = operation.get("responses") or {}
        vias = [("base path", join(base, concrete))] if base else []
        vias.append(("root", concrete))
        for via, url in vias:
            yield Call(
                template.operation,
                template.method,
                url,
                via,
                list(template.query),
                dict(template.headers),
                template.content,
                template.responses,
            )


def media_matches(documented: str, sent: str) -> bool:
    documented = documented.split(";")[0].strip().lower()
    sent = sent.split(";")[0].strip().lower()
    if documented in ("*/*", sent):
        return True
    if documented.endswith("/*"):
        return sent.startswith(documented[:-1])
    return False


def check(spec: OpenAPI31Specification, client: httpx.Client, call: Call) -> Result:
    failures: dict[str, str] = {}
    asked = call.preflight_headers()
    preflight_request = {"Origin": ORIGIN, "Access-Control-Request-Method": call.method}
    if asked:
        preflight_request["Access-Control-Request-Headers"] = ", ".join(asked)
    try:
        preflight = client.options(call.url(), headers=preflight_request)
        failures.update(preflight_failures(preflight, call.method, asked))
        response = client.request(
            call.method, call.url(), headers=call.headers, content=call.content
        )
    except httpx.HTTPError as exc:  # Prism dropping the connection, say
        return Result(call, {name: f"no answer: {exc}" for name in CHECKS})
    failures.update(answer_failures(spec, call, response))
    return Result(call, failures)


def preflight_failures(response: httpx.Response, method: str, asked: list[str]) -> dict[str, str]:
    if not 200 <= response.status_code < 300:
        return {"preflight": f"{response.status_code} {response.text[:120]}"}
    headers = response.headers
    origin = headers.get("access-control-allow-origin")
    if origin not in ("*", ORIGIN):
        return {"preflight": f"Access-Control-Allow-Origin: {origin}"}
    methods = [
        m.strip().upper() for m in headers.get("access-control-allow-methods", "").split(",")
    ]
    if "*" not in methods and method not in methods:
        return {"preflight": f"{method} not in Access-Control-Allow-Methods: {methods}"}
    allowed = {
        h.strip().lower() for h in headers.get("access-control-allow-headers", "").split(",")
    }
    missing = [h for h in asked if h not in allowed and "*" not in allowed]
    if missing:
        return {"preflight": f"headers not allowed: {', '.join(missing)}"}
    return {}


def answer_failures(
    spec: OpenAPI31Specification, call: Call, response: httpx.Response
) -> dict[str, str]:
    failures: dict[str, str] = {}
    status = response.status_code
    said = f"{status} {response.headers.get('content-type', '')} {response.text[:160]!r}"
    if response.headers.get("access-control-allow-origin") not in ("*", ORIGIN):
        failures["cors"] = "no Access-Control-Allow-Origin"
    responses = call.responses
    if not responses:
        if status not in (200, 204):
            failures["status"] = f"no response documented, answered {said}"
        return failures
    documented = response_for(responses, status)
    successes = [k for k in responses if re.fullmatch(r"2(\d\d|XX)", str(k).upper())]
    if documented is None or (successes and not 200 <= status < 300):
        failures["status"] = f"answered {said}; documented: {', '.join(map(str, responses))}"
        return failures
    content = documented.get("content") or {}
    sent = response.headers.get("content-type")
    if not content:
        if response.content:
            failures["media type"] = f"no content documented, answered {said}"
        return failures
    matched = next((m for m in content if sent and media_matches(m, sent)), None)
    if matched is None:
        failures["media type"] = f"answered {sent!r}; documented: {', '.join(content)}"
        return failures
    schema = (content[matched] or {}).get("schema")
    if not isinstance(schema, Mapping):
        return failures
    base = (sent or "").split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        try:
            value = response.json()
        except ValueError:
            failures["body"] = f"not JSON: {response.text[:120]!r}"
            return failures
    elif base.startswith("text/"):
        value = response.text
    else:
        return failures  # bytes: nothing to validate against a JSON Schema
    errors = list(spec.schemas.get(schema).iter_errors(value))
    if errors:
        error = errors[0]
        where = "/" + "/".join(map(str, error.path))
        failures["body"] = f"{where}: {error.message[:160]}"
    return failures


def run(spec: OpenAPI31Specification, client: httpx.Client) -> list[Result]:
    return [check(spec, client, call) for call in calls(spec)]
