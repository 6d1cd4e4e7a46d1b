"""Reading the two documents of a spec diff: a file, an http(s) URL or `git:REF:path`.

Every import from api/ that spec diff needs is in this module, so moving api/'s document layer
changes one line here. A document that does not load raises `SpecLoadError` with one readable
line: the source, a JSON pointer (or YAML line) and the problem.

OpenAPI 3.0 documents are rewritten into the JSON Schema 2020-12 they mean (`nullable`,
boolean `exclusiveMinimum`/`exclusiveMaximum`), so both sides of a comparison speak one dialect.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connexion.exceptions import InvalidSpecification
from openapi_spec_validator import (
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
)
from referencing.exceptions import Unresolvable

from api.openapi.spec import HTTP_METHODS, SWAGGER_2, parse_document, ref_sites
from api.openapi.validation import INTEGER_FORMATS

__all__ = ["HTTP_METHODS", "INTEGER_FORMATS", "Document", "SpecLoadError", "load", "pointer"]

VALIDATORS = {
    "3.0": OpenAPIV30SpecValidator,
    "3.1": OpenAPIV31SpecValidator,
    "3.2": OpenAPIV32SpecValidator,
}


class SpecLoadError(Exception):
    """A document that cannot be compared; `str()` is the one line to show."""


@dataclass(frozen=True)
class Document:
    """A loaded document: `raw` as written, `schema_root` in JSON Schema 2020-12 terms."""

    source: str
    version: str  # "3.0", "3.1" or "3.2"
    raw: Mapping[str, Any]
    schema_root: Mapping[str, Any]


def pointer(parts: Any) -> str:
    """The JSON pointer (RFC 6901) of a path of keys and indexes."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def read_text(source: str) -> str:
    """The text of `source`: `git:REF:path`, an http(s) URL, or a file path."""
    if source.startswith("git:"):
        ref, sep, path = source[4:].partition(":")
        if not sep or not ref or not path:
            raise SpecLoadError(f"{source}: expected git:REF:path (e.g. git:origin/main:api.yaml)")
        done = subprocess.run(
            ["git", "show", f"{ref}:{path}"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["git show failed"])[-1]
            raise SpecLoadError(f"{source}: {reason.removeprefix('fatal: ')}")
        return done.stdout
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=30) as response:
                data: bytes = response.read()
            return data.decode("utf-8")
        except (urllib.error.URLError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise SpecLoadError(f"{source}: cannot fetch: {getattr(exc, 'reason', exc)}") from None
    try:
        return pathlib.Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecLoadError(f"{source}: cannot read: {reason}") from None


def parse(source: str, text: str) -> dict[str, Any]:
    """The document as the mock and the server read it (api/openapi/spec.py), or one line."""
    try:
        return parse_document(text)
    except InvalidSpecification as exc:
        raise SpecLoadError(f"{source}: {exc}") from None


def check(source: str, document: dict[str, Any]) -> str:
    """The document's OpenAPI minor version, once openapi-spec-validator accepts it."""
    declared = str(document.get("openapi", ""))
    version = ".".join(declared.split(".")[:2])
    validator_class = VALIDATORS.get(version)
    if "openapi" not in document and "swagger" in document:
        raise SpecLoadError(f"{source}#/{SWAGGER_2.format(version=document['swagger'])}")
    if validator_class is None:
        raise SpecLoadError(
            f"{source}#/openapi: {declared or '(missing)'} is not supported; "
            "expected 3.0.x, 3.1.x or 3.2.x"
        )
    try:
        error = next(iter(validator_class(document).iter_errors()), None)
    except Unresolvable as exc:
        # A dangling `$ref`: the resolver's message dumps the whole document; say where it sits.
        target = str(getattr(exc, "ref", "") or "")
        site = next(ref_sites(document, target), None)
        where, written = "", target
        if site is not None:
            node: Any = document
            for part in site:
                node = node[part]
            where, written = pointer(site), node["$ref"]
        raise SpecLoadError(
            f"{source}#{where}: invalid OpenAPI {declared} document: "
            f"$ref {written!r} points to nothing"
        ) from None
    except Exception as exc:  # any other resolver failure, in its own words
        raise SpecLoadError(f"{source}: invalid OpenAPI {declared} document: {exc}") from None
    if error is not None:
        what = str(getattr(error, "message", error)).split("\n", 1)[0]
        where = pointer(getattr(error, "absolute_path", ()))
        raise SpecLoadError(f"{source}#{where}: invalid OpenAPI {declared} document: {what}")
    return version


def load(source: str) -> Document:
    """Read, parse and check one document; `SpecLoadError` says why not."""
    document = parse(source, read_text(source))
    version = check(source, document)
    # A JSON copy: YAML may have given dates (unquoted examples) or integer keys (statuses),
    # which neither JSON Schema nor jsonschema-rs takes; as text they mean what they say.
    as_json = json.loads(json.dumps(document, default=str))
    root = as_2020_12(as_json, oas30=version == "3.0")
    return Document(source=source, version=version, raw=document, schema_root=root)


def as_2020_12(node: Any, *, oas30: bool) -> Any:
    """The document's schemas as plain JSON Schema 2020-12, in place: OAS's `int32`/`int64`
    as the bounds they imply (as api/ validates them), and for 3.0 its own dialect."""
    if isinstance(node, list):
        return [as_2020_12(item, oas30=oas30) for item in node]
    if not isinstance(node, dict):
        return node
    for key, value in list(node.items()):
        node[key] = as_2020_12(value, oas30=oas30)
    declared_format = node.get("format")
    bounds = INTEGER_FORMATS.get(declared_format) if isinstance(declared_format, str) else None
    if bounds is not None and node.get("type") in ("integer", ["integer"]):
        node.setdefault("minimum", bounds[0])
        node.setdefault("maximum", bounds[1])
    if not oas30:
        return node
    if node.get("nullable") is True and "$ref" not in node:
        declared = node.get("type")
        if isinstance(declared, str):
            node["type"] = [declared, "null"]
        if isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(node.get(exclusive), bool) and node.pop(exclusive) and bound in node:
            node[exclusive] = node.pop(bound)
    return node
