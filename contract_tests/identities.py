"""Who a contract run calls the API as: credentials per security scheme, never printed.

An `Identity` holds what a user of another API has: a bearer token, a `user:pass` for HTTP
basic, API keys by scheme (or parameter) name, and extra headers. `auth_schemes()` turns it
into Schemathesis' OpenAPI-aware `[auth.openapi.<scheme>]` settings, so a credential is sent
only to operations whose `security` names a scheme it fits (an operation that needs none gets
none). The cross-tenant replay puts another identity on a request (`apply`), a request's
credentials are told apart (`identify`), and every secret in a curl line becomes the
environment variable it is read from (`reproducible`), so a repro pastes and prints no secret.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

OWNER, FOREIGN = "owner", "foreign"
PREFIX = "CRAFTKIT_CONTRACT_"


@dataclass(frozen=True)
class Secret:
    """A credential's value and the environment variable a repro reads it from."""

    value: str
    variable: str

    def __repr__(self) -> str:  # never in a traceback or a log line
        return f"Secret(${self.variable})"


def variable_name(*parts: str) -> str:
    """CRAFTKIT_CONTRACT_API_KEY_X_API_KEY for ("API_KEY", "X-Api-Key")."""
    return PREFIX + "_".join(normal(p) for p in parts)


@dataclass(frozen=True)
class Identity:
    """One caller of the API. `foreign` marks the second identity of the cross-tenant replay."""

    name: str = OWNER
    bearer: Secret | None = None
    basic: Secret | None = None  # "user:pass"
    api_keys: Mapping[str, Secret] = field(default_factory=dict)  # scheme or parameter name
    headers: Mapping[str, Secret] = field(default_factory=dict)  # sent on every request

    @property
    def empty(self) -> bool:
        return not (self.bearer or self.basic or self.api_keys or self.headers)

    def secrets(self) -> Iterator[Secret]:
        yield from (s for s in (self.bearer, self.basic) if s is not None)
        yield from self.api_keys.values()
        yield from self.headers.values()


def identity(
    name: str,
    *,
    bearer: str | None = None,
    bearer_variable: str | None = None,
    basic: str | None = None,
    api_keys: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Identity:
    """An identity from option values; each secret named after its variable (FOREIGN_ for B)."""
    side = "FOREIGN_" if name == FOREIGN else ""
    return Identity(
        name=name,
        bearer=Secret(bearer, bearer_variable or f"{PREFIX}{side}BEARER") if bearer else None,
        basic=Secret(basic, f"{PREFIX}{side}AUTH") if basic else None,
        api_keys={
            k: Secret(v, variable_name(f"{side}API_KEY", k)) for k, v in (api_keys or {}).items()
        },
        headers={
            k: Secret(v, variable_name(f"{side}HEADER", k)) for k, v in (headers or {}).items()
        },
    )


# --- the spec's security schemes ------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    """A security scheme as far as credentials go: where its credential is sent."""

    name: str
    kind: str  # bearer (http bearer, oauth2, openIdConnect), basic, api_key, other
    location: str = "header"  # header, query, cookie
    parameter: str = "Authorization"


def security_schemes(document: Mapping[str, Any]) -> dict[str, Scheme]:
    """The document's `components.securitySchemes` (local $refs followed), by name."""
    raw = (document.get("components") or {}).get("securitySchemes") or {}
    schemes = {}
    for name, definition in raw.items():
        definition = _resolve(document, definition)
        kind, location, parameter = "other", "header", "Authorization"
        scheme_type = definition.get("type")
        if scheme_type == "http":
            kind = {"bearer": "bearer", "basic": "basic"}.get(
                str(definition.get("scheme", "")).lower(), "other"
            )
        elif scheme_type in ("oauth2", "openIdConnect"):
            kind = "bearer"
        elif scheme_type == "apiKey":
            kind = "api_key"
            location, parameter = str(definition.get("in")), str(definition.get("name"))
        schemes[name] = Scheme(name, kind, location, parameter)
    return schemes


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    for _ in range(10):
        if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
            return node
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        node = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
    return node


def normal(name: str) -> str:
    """A name as an environment variable spells it: `X-Api-Key` and `X_API_KEY` are one."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def api_key_for(scheme: Scheme, who: Identity) -> Secret | None:
    """The identity's API key for an apiKey scheme, by scheme name or parameter name."""
    wanted = {normal(scheme.name), normal(scheme.parameter)}
    return next((s for k, s in who.api_keys.items() if normal(k) in wanted), None)


def api_key_for_name(name: str, schemes: Mapping[str, Scheme]) -> Scheme | None:
    """The apiKey scheme an `--api-key NAME=…` is for: NAME is its name or its parameter's."""
    return next(
        (
            s
            for s in schemes.values()
            if s.kind == "api_key" and normal(name) in (normal(s.name), normal(s.parameter))
        ),
        None,
    )


def credential_for(scheme: Scheme, who: Identity) -> Secret | None:
    if scheme.kind == "bearer":
        return who.bearer
    if scheme.kind == "basic":
        return who.basic
    if scheme.kind == "api_key":
        return api_key_for(scheme, who)
    return None


def auth_schemes(who: Identity, schemes: Mapping[str, Scheme]) -> dict[str, dict[str, str]]:
    """`[auth.openapi.<scheme>]` settings: the identity's credential for each scheme it fits."""
    out: dict[str, dict[str, str]] = {}
    for name, scheme in schemes.items():
        secret = credential_for(scheme, who)
        if secret is None:
            continue
        if scheme.kind == "bearer":
            out[name] = {"bearer": secret.value}
        elif scheme.kind == "basic":
            user, _, password = secret.value.partition(":")
            out[name] = {"username": user, "password": password}
        else:
            out[name] = {"api_key": secret.value}
    return out


def unused_credentials(who: Identity, schemes: Mapping[str, Scheme]) -> list[str]:
    """Options given that no security scheme of the document takes (said, then not sent)."""
    kinds = {s.kind for s in schemes.values()}
    unused = []
    if who.bearer and "bearer" not in kinds:
        unused.append("a bearer token (no http bearer, oauth2 or openIdConnect scheme)")
    if who.basic and "basic" not in kinds:
        unused.append("--auth (no http basic scheme)")
    for key in who.api_keys:
        if api_key_for_name(key, schemes) is None:
            unused.append(f"--api-key {key}=… (no apiKey scheme or parameter of that name)")
    return unused


# --- requests -------------------------------------------------------------------------------


def basic_header(secret: Secret) -> str:
    return "Basic " + base64.b64encode(secret.value.encode("latin-1")).decode()


def slot_value(scheme: Scheme, secret: Secret) -> str:
    """What the request carries for a scheme: the header value, or the key itself."""
    if scheme.kind == "bearer":
        return f"Bearer {secret.value}"
    if scheme.kind == "basic":
        return basic_header(secret)
    return secret.value


def apply(
    who: Identity,
    scheme_names: list[str],
    schemes: Mapping[str, Scheme],
    headers: MutableMapping[str, Any],
    query: MutableMapping[str, Any],
    cookies: MutableMapping[str, Any],
) -> bool:
    """Put `who`'s credentials for these schemes (and its extra headers) on a request's parts.

    False, and nothing changed, if `who` lacks a credential one of the schemes needs.
    """
    pending = []
    for name in scheme_names:
        scheme = schemes.get(name)
        secret = credential_for(scheme, who) if scheme else None
        if scheme is None or secret is None:
            return False
        pending.append((scheme, secret))
    for scheme, secret in pending:
        target = {"header": headers, "query": query, "cookie": cookies}.get(scheme.location)
        if target is not None:
            _drop(target, scheme.parameter)
            target[scheme.parameter] = slot_value(scheme, secret)
    for name, secret in who.headers.items():
        _drop(headers, name)
        headers[name] = secret.value
    return True


def _drop(container: MutableMapping[str, Any], name: str) -> None:
    for key in [k for k in container if k.lower() == name.lower()]:
        del container[key]


def satisfied_requirement(
    requirements: Sequence[Mapping[str, Any]], who: Identity, schemes: Mapping[str, Scheme]
) -> list[str] | None:
    """The first security requirement `who` can meet (Schemathesis applies that one)."""
    for requirement in requirements:
        names = list(requirement)
        if names and all(
            n in schemes and credential_for(schemes[n], who) is not None for n in names
        ):
            return names
    return None


def identify(
    headers: Mapping[str, str],
    url: str,
    identities: list[Identity],
    schemes: Mapping[str, Scheme],
) -> str:
    """Whose credentials a sent request carries: an identity's name, "invalid" or "none"."""
    lowered = {k.lower(): v for k, v in headers.items()}
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    jar: SimpleCookie = SimpleCookie()
    jar.load(lowered.get("cookie", ""))
    cookies = {k: m.value for k, m in jar.items()}
    sent = {}
    for scheme in schemes.values():
        if scheme.kind == "other":
            continue
        where = {"header": lowered, "query": query, "cookie": cookies}.get(scheme.location, {})
        key = scheme.parameter.lower() if scheme.location == "header" else scheme.parameter
        if key in where:
            sent[scheme.name] = where[key]
    if not sent and "authorization" in lowered:
        sent[""] = lowered["authorization"]
    if not sent:
        return "none"
    for who in identities:
        for name, value in sent.items():
            known = schemes.get(name)
            if known is None:
                if who.bearer and value == f"Bearer {who.bearer.value}":
                    return who.name
                continue
            secret = credential_for(known, who)
            if secret is not None and value == slot_value(known, secret):
                return who.name
    return "invalid"


# --- curl lines -----------------------------------------------------------------------------


def reproducible(curl: str, identities: list[Identity], others: Mapping[str, str] = {}) -> str:
    """The curl line with every secret replaced by its variable: it pastes, and prints none.

    `others` maps further values (refused keys a test sends) to variable names. A basic
    credential becomes `-u "$VAR"`; everything else stays where it was, double-quoted.
    """
    first, _, warnings = curl.partition("\n")
    try:
        words = shlex.split(first)
    except ValueError:
        return curl
    replacements: list[tuple[str, str]] = []
    basics: dict[str, str] = {}
    for who in identities:
        if who.basic is not None:
            basics[f"Authorization: {basic_header(who.basic)}"] = who.basic.variable
        for secret in who.secrets():
            replacements += _forms(secret.value, secret.variable)
    for value, variable in others.items():
        replacements += _forms(value, variable)
    replacements.sort(key=lambda pair: -len(pair[0]))
    out: list[str] = []
    for word in words:
        if word in basics:
            if out and out[-1] == "-H":
                out[-1] = "-u"
            out.append(f'"${basics[word]}"')
            continue
        if not any(value in word for value, _ in replacements):
            out.append(shlex.quote(word))
            continue
        escaped = re.sub(r'([\\"$`])', r"\\\1", word)
        for value, variable in replacements:
            escaped = escaped.replace(re.sub(r'([\\"$`])', r"\\\1", value), f"${{{variable}}}")
        out.append(f'"{escaped}"')
    line = " ".join(out)
    return line + ("\n" + warnings if warnings else "")


def _forms(value: str, variable: str) -> list[tuple[str, str]]:
    """A value as written, and as a URL query or path would carry it."""
    if not value:
        return []
    forms = dict.fromkeys((value, quote(value, safe=""), quote_plus(value)))
    return [(form, variable) for form in forms]
