"""Bodies as documented: which documented media type a `Content-Type` falls under, and what is
wrong with a body of it (JSON parsed and checked against its schema, urlencoded forms decoded
and checked, multipart parsed for its required parts; other media types documented, not
parsed). Every issue of a body has a JSON pointer, `/` for the whole body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from api.openapi.parameters import coerce, parse_query, schema_types
from api.openapi.validation import Issue, SchemaCache, Validator, schema_issues


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


@dataclass
class Media:
    """One documented media type: its schema's validator (None: any content of that type)."""

    key: str
    schema: Mapping[str, Any] | None
    validator: Validator | None


def media_map(content: Mapping[str, Any], cache: SchemaCache) -> dict[str, Media]:
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
        if "array" in schema_types(prop):
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
