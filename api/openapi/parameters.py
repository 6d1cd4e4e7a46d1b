"""Parameters as a request carries them: percent-decoding that never raises anything but
`Undecodable`, query strings, headers and cookies read as sent, and each parameter's style
(`simple`, `label`, `matrix`, `form`, `spaceDelimited`, `pipeDelimited`, `deepObject`,
`explode`) turned into the JSON value its schema checks (api/openapi/operations.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from api.openapi.validation import Issue, SchemaCache, Validator, coerce_scalar

Headers = Sequence[tuple[bytes, bytes]]  # as ASGI gives them: names lower-case, order kept
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


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


def schema_types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return [str(t) for t in declared]
    if declared:
        return [str(declared)]
    for key in ("allOf", "oneOf", "anyOf"):  # a `$ref`-ed type behind a combinator
        for part in schema.get(key) or ():
            if isinstance(part, Mapping) and part.get("type"):
                return schema_types(part)
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


def compile_parameter(param: Mapping[str, Any], cache: SchemaCache) -> Parameter:
    where = str(param.get("in"))
    schema = param.get("schema")
    json_content = False
    if not isinstance(schema, Mapping):
        content = param.get("content") or {}
        media = next(iter(content.items()), None)
        schema = None
        if media is not None and isinstance(media[1], Mapping):
            schema = media[1].get("schema") if isinstance(media[1].get("schema"), Mapping) else None
            json_content = _json(media[0])
    default_style = {"query": "form", "cookie": "form"}.get(where, "simple")
    style = str(param.get("style") or default_style)
    types = schema_types(schema) if schema is not None else []
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


def decoded(raw: Any) -> Any:
    if isinstance(raw, list):
        return [decode(value) for value in raw]
    if isinstance(raw, dict):
        return {decode(key): decode(value) for key, value in raw.items()}
    return decode(raw) if isinstance(raw, str) else raw


def _json(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")
