"""The mock's map of a spec's paths: where they are served (the base path, the root) and what
each declares (methods, operations, the request headers those use).

Operations live under the path of the first `servers` URL (api/openapi/servers.py), or
`--base-path`; the mock routes them at the root internally, so a request under the base path
has it stripped (`/v2/pets` -> `/pets`) by `BasePath` before anything else looks at it. A
request at the root is served too when that is unambiguous: when no path of the spec itself
starts with the base path (then `/v2/x` could mean the spec's `/v2/x` or `/x` under `/v2`).
The document, the UI and `/metrics` answer both ways.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from api.mock.credentials import DESCRIBED_PREFIX
from api.openapi.servers import strip

# Headers a page may always send: content negotiation, the body's type, the mock's Prefer.
ALWAYS_ALLOWED = ("accept", "accept-language", "content-language", "content-type", "prefer")
# Routes outside the spec, answered at the root and under the base path alike.
FIXED_PREFIXES = ("/openapi.json", "/openapi.yaml", "/ui", "/docs", "/metrics")


@dataclass
class PathEntry:
    """One path of the spec: its pattern, its operations by method, the headers they use."""

    template: str
    pattern: re.Pattern[str]
    operations: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # "GET" -> op
    headers: set[str] = field(default_factory=set)  # lower case
    parameters: list[Any] = field(default_factory=list)  # the path item's own

    @property
    def declared(self) -> tuple[str, ...]:
        """The methods the path declares, HEAD after GET (answered as GET)."""
        methods = list(self.operations)
        if "GET" in methods and "HEAD" not in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
        return tuple(methods)

    @property
    def preflight_methods(self) -> tuple[str, ...]:
        """What a preflight allows: the declared methods, HEAD and OPTIONS."""
        methods = list(self.declared)
        methods += [m for m in ("HEAD", "OPTIONS") if m not in methods]
        return tuple(methods)


def template_pattern(template: str) -> re.Pattern[str]:
    """`/pets/{id}.json` -> a pattern matching one non-empty segment per `{name}`."""
    return re.compile(
        "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
    )


def scheme_headers(scheme: Mapping[str, Any]) -> list[str]:
    """The request header a security scheme is sent in, if it is one."""
    kind = scheme.get("type")
    if kind in ("http", "oauth2", "openIdConnect"):
        return ["authorization"]
    if kind == "apiKey" and scheme.get("in") == "header" and scheme.get("name"):
        return [str(scheme["name"]).lower()]
    return []


class PathTable:
    """The spec's paths, matched concrete first (OpenAPI's rule), and the base path."""

    def __init__(
        self,
        resolved: Mapping[str, Any],
        operations: Iterable[tuple[str, str, Mapping[str, Any]]],
        base: str = "",
    ) -> None:
        self.base = base  # as written in the spec, percent-encoded: for URLs and raw_path
        self.path_base = unquote(base)  # as ASGI gives `scope["path"]`, decoded
        schemes = (resolved.get("components") or {}).get("securitySchemes") or {}
        paths = resolved.get("paths") or {}
        entries: dict[str, PathEntry] = {}
        for path, method, operation in operations:
            entry = entries.get(path)
            if entry is None:
                entry = entries[path] = PathEntry(path, template_pattern(path))
            entry.operations[method.upper()] = operation
            item = paths.get(path) or {}
            entry.parameters = list(item.get("parameters") or [])
            for param in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
                if isinstance(param, Mapping) and param.get("in") == "header":
                    entry.headers.add(str(param.get("name", "")).lower())
            requirements = operation.get("security", resolved.get("security")) or []
            for requirement in requirements:
                for name in requirement or {}:
                    entry.headers.update(scheme_headers(schemes.get(name) or {}))
        self.schemes = schemes
        self.security = resolved.get("security")
        self.entries = sorted(entries.values(), key=lambda e: e.template.count("{"))
        # At the root too, unless a path of the spec is itself under the base path.
        self.root_too = not base or all(
            strip(self.path_base, e.template) is None for e in self.entries
        )

    def match(self, path: str) -> PathEntry | None:
        """The entry of a root-level path (`/pets/7`), if the spec has one."""
        for entry in self.entries:
            if entry.pattern.fullmatch(path):
                return entry
        return None

    def resolve(self, path: str) -> str | None:
        """Where a request path is served internally: stripped of the base path, as is at the
        root when that is served, or None when it is outside both."""
        stripped = strip(self.path_base, path)
        if stripped is not None:
            return stripped
        if self.root_too or path.startswith(FIXED_PREFIXES):
            return path
        return None

    def entry(self, request_path: str) -> PathEntry | None:
        resolved = self.resolve(request_path)
        return None if resolved is None else self.match(resolved)

    def credentials(self, operation: Mapping[str, Any]) -> tuple[list[str], str]:
        """curl options and query string for the credentials of the operation's first
        security alternative."""
        requirements = operation.get("security", self.security) or []
        options: list[str] = []
        query = ""
        if not requirements or any(not r for r in requirements):
            return options, query
        for name in requirements[0]:
            scheme = self.schemes.get(name) or {}
            token = example_token(scheme)
            kind = scheme.get("type")
            if kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
                options += ["-u", f"user:{token}"]
            elif kind in ("http", "oauth2", "openIdConnect"):
                options += ["-H", shlex.quote(f"Authorization: Bearer {token}")]
            elif kind == "apiKey" and scheme.get("in") == "header":
                options += ["-H", shlex.quote(f"{scheme.get('name')}: {token}")]
            elif kind == "apiKey" and scheme.get("in") == "cookie":
                options += ["-b", shlex.quote(f"{scheme.get('name')}={token}")]
            elif kind == "apiKey" and scheme.get("in") == "query":
                query += ("&" if query else "?") + f"{scheme.get('name')}={token}"
        return options, query

    def credentials_asked(self, operation: Mapping[str, Any]) -> tuple[str, str] | None:
        """(what to send, `WWW-Authenticate`) for a 401 where no usable credentials came,
        naming what the operation's security asks for; None where only bearer tokens do (the
        error envelope's "Missing Bearer token." says it)."""
        alternatives: list[str] = []
        challenges: list[str] = []
        for requirement in operation.get("security", self.security) or []:
            parts = []
            for name in requirement or {}:
                what, challenge = scheme_asks(self.schemes.get(name) or {})
                if what:
                    parts.append(what)
                if challenge and challenge not in challenges:
                    challenges.append(challenge)
            if parts:
                alternatives.append(" and ".join(parts))
        if not alternatives or all(a == BEARER_ASKED for a in alternatives):
            return None
        message = f"Missing or malformed credentials: send {' or '.join(alternatives)}."
        return message, ", ".join(challenges)

    def allowed_headers(self, request_path: str) -> tuple[str, ...]:
        entry = self.entry(request_path)
        return tuple(sorted({*ALWAYS_ALLOWED, *(entry.headers if entry else ())}))


BEARER_ASKED = "a bearer token (Authorization: Bearer …)"


def scheme_asks(scheme: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """What a security scheme asks a client to send, and its `WWW-Authenticate` challenge.

    An API key has no registered challenge: `ApiKey` with where it goes says it (RFC 9110
    wants one on every 401). mutualTLS asks for nothing HTTP can carry.
    """
    kind = scheme.get("type")
    if kind == "http":
        name = str(scheme.get("scheme", "")).lower()
        if name == "basic":
            return "HTTP basic credentials (Authorization: Basic …)", 'Basic realm="mock"'
        if name != "bearer":
            return f"Authorization: {name.capitalize()} …", name.capitalize()
    if kind in ("http", "oauth2", "openIdConnect"):
        return BEARER_ASKED, "Bearer"
    if kind == "apiKey":
        where, name = str(scheme.get("in", "")), str(scheme.get("name", ""))
        place = "query parameter" if where == "query" else where
        return f"an API key in the {place} {name!r}", f'ApiKey in="{where}", name="{name}"'
    return None, None


def example_token(scheme: Mapping[str, Any]) -> str:
    """A token of the shape the scheme's description gives (`ck_test_…`), else any."""
    prefixes = DESCRIBED_PREFIX.findall(str(scheme.get("description", "")))
    return (prefixes[-1] if prefixes else "mock-") + "example"


class BasePath:
    """Requests under the base path are served as at the root; those outside it, when the root
    is not served, get the 404 envelope (from `not_found`, an ASGI app)."""

    def __init__(self, app: ASGIApp, table: PathTable, not_found: ASGIApp) -> None:
        self.app = app
        self.table = table
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.table.base:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        resolved = self.table.resolve(path)
        if resolved is None:
            await self.not_found(scope, receive, send)
            return
        if resolved != path:
            base = self.table.base
            scope = dict(scope)
            scope["path"] = resolved
            raw = scope.get("raw_path")
            if isinstance(raw, bytes) and raw.startswith(base.encode()):
                scope["raw_path"] = raw[len(base) :] or b"/"
            # The UI page links its assets and "Try it out" under root_path. Starlette strips a
            # root_path prefix from paths again: not set where the stripped path still has it.
            if strip(self.table.path_base, resolved) is None:
                scope["root_path"] = scope.get("root_path", "") + self.table.path_base
        await self.app(scope, receive, send)
