"""OpenAPI 3.1 (and 3.0, 3.2) on stock Connexion 3.3: how a document is loaded and checked.

Connexion 3.3 checks documents against the 3.0 meta-schema (so it refuses `openapi: 3.1.0`) and
validates with JSON Schema Draft 4. This module changes how a document is loaded and registered:

- `OpenAPI31Specification`, a spec class that validates the document with
  openapi-spec-validator (3.0, 3.1 or 3.2, as the document says; its Rust port first, whose
  "valid" is taken, a refusal checked again by the original for its verdict and words) and
  loads YAML without Connexion's Jinja pass (from libyaml's events: api/openapi/yaml_events.py),
  so the document is used exactly as written (dates as the strings written); it owns the
  compiled-schema cache. 3.2 documents are read with 3.1's JSON Schema 2020-12 semantics;
  `operations()` walks their `query` and `additionalOperations` too.
- `add_api()` registers it on an app with our validators (api/openapi/validation.py), bypassing
  Connexion's `add_api`, which would re-parse it as 3.0; on an AsyncApp, each operation's
  view is decorated once, not on every request as Connexion 3.3 does (`decorate_views_once`).

The Connexion internals these need are in api/openapi/connexion_shim.py (`Specification`,
`register_api`, `decorate_views_once`).
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

import yaml
from connexion.exceptions import (
    InvalidSpecification,
)
from openapi_spec_validator import validate as validate_document
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from openapi_spec_validator_rs import validate as validate_document_fast
from referencing.exceptions import Unresolvable

from api.openapi import yaml_events
from api.openapi.connexion_shim import Specification, decorate_views_once, register_api
from api.openapi.validation import SchemaCache, validator_map

logger = logging.getLogger("craftkit.openapi")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# OpenAPI 3.2: the QUERY method is a fixed field; any other method sits in `additionalOperations`.
HTTP_METHODS_32 = (*HTTP_METHODS, "query")
SUPPORTED = ("3.0.", "3.1.", "3.2.")
# `swagger: "2.0"` documents have no `openapi` field: "openapi: (missing)" said nothing.
SWAGGER_2 = (
    "swagger: {version} (OpenAPI 2) is not supported; convert it to OpenAPI 3 "
    "(3.0.x, 3.1.x or 3.2.x) first"
)


class DocumentLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader (libyaml's when built: a 1.5 MB spec in 0.5 s, not 3 s; its events
    built straight into data, api/openapi/yaml_events.py, 0.1 s), with timestamps kept as
    the strings written.

    `example: 2026-06-15` is a date object for YAML 1.1 but a string for JSON Schema (and in
    the document's JSON twin): as a date it matched no `type: string` and broke JSON output.
    """


class ExplainingLoader(yaml.SafeLoader):
    """The pure-Python twin of `DocumentLoader`, used to word a YAML error: its messages say
    more than libyaml's ("expected the node content, but found '<stream end>'")."""


DocumentLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
ExplainingLoader.add_constructor(  # type: ignore[type-var]  # types-PyYAML's bound on _L
    "tag:yaml.org,2002:timestamp", ExplainingLoader.construct_yaml_str
)


def json_pointer(parts: Iterable[Any]) -> str:
    """RFC 6901: `#/paths/~1pets/get`, as `$ref`s write it."""
    return "#" + "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _at(document: Any, parts: Iterable[Any]) -> Any:
    for part in parts:
        document = document[part]
    return document


def ref_sites(node: Any, target: str, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where in `node` a `$ref` to `target` (`/components/…` or `#/components/…`) sits."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and target and (ref == target or ref.endswith("#" + target)):
            yield at
        for key, value in node.items():
            yield from ref_sites(value, target, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from ref_sites(value, target, (*at, index))


# --- the document ---------------------------------------------------------------------------


def load_document(path: str | pathlib.Path) -> dict[str, Any]:
    """Parse a YAML or JSON document as written (no templating, unlike Connexion's loader)."""
    return parse_document(pathlib.Path(path).read_text(encoding="utf-8"))


def parse_document(text: str) -> dict[str, Any]:
    """`load_document` for text already read."""
    try:
        document = yaml_events.load(text, DocumentLoader)  # 5 times faster, the same values
    except (yaml_events.Unusual, yaml.YAMLError):
        document = _load_with_pyyaml(text)  # anything else, and every error: PyYAML's words
    if not isinstance(document, dict):
        raise InvalidSpecification("not an OpenAPI document (top level is not a map)")
    return document


def _load_with_pyyaml(text: str) -> Any:
    try:
        try:
            return yaml.load(text, Loader=DocumentLoader)
        except yaml.YAMLError:
            return yaml.load(text, Loader=ExplainingLoader)  # raises again, with its words
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidSpecification(f"not valid YAML or JSON: {problem}{where}") from None


def found_valid_fast(spec: dict[str, Any]) -> bool:
    """openapi-spec-validator-rs's verdict, 15-20 times faster than openapi-spec-validator's:
    True when it finds the document valid.

    Its refusal, or any failure of its own, is checked again by openapi-spec-validator, the
    reference, whose verdict and message stand (their wording differs).
    """
    try:
        validate_document_fast(spec)
    except Exception:
        return False
    return True


class OpenAPI31Specification(Specification):
    """Connexion's OpenAPI 3 spec class, validated as 3.1 (or 3.0) by openapi-spec-validator."""

    @classmethod
    def check_document(cls, spec: dict[str, Any]) -> None:
        version = str(spec.get("openapi", ""))
        if "openapi" not in spec and "swagger" in spec:
            raise InvalidSpecification(SWAGGER_2.format(version=spec["swagger"]))
        if not version.startswith(SUPPORTED):
            raise InvalidSpecification(
                f"openapi: {version or '(missing)'} is not supported; "
                "expected 3.2.x, 3.1.x or 3.0.x"
            )
        if found_valid_fast(spec):
            return
        try:
            validate_document(spec)  # the 3.0, 3.1 or 3.2 validator, by the `openapi` field
        except OpenAPIValidationError as exc:
            # The validator's messages end with a dump of the whole instance: keep the sentence.
            what = exc.message.split("\n", 1)[0]
            pointer = json_pointer(exc.absolute_path)
            where = f" at {pointer}" if pointer != "#" else ""
            raise InvalidSpecification(
                f"Invalid OpenAPI {version} document{where}: {what}"
            ) from exc
        except Unresolvable as exc:
            # A dangling `$ref`: its message dumps the whole document; say where the ref sits.
            target = str(getattr(exc, "ref", "") or "")
            site = next(ref_sites(spec, target), None)
            where, written = "", target
            if site is not None:
                where, written = f" at {json_pointer(site)}", _at(spec, site)["$ref"]
            raise InvalidSpecification(
                f"Invalid OpenAPI {version} document{where}: $ref {written!r} points to nothing"
            ) from None

    @property
    def is_31(self) -> bool:
        """JSON Schema 2020-12 semantics: 3.1 and 3.2 documents (3.0 has its own dialect)."""
        return str(self.raw.get("openapi", "")).startswith(("3.1.", "3.2."))

    @property
    def is_32(self) -> bool:
        return str(self.raw.get("openapi", "")).startswith("3.2.")

    @cached_property
    def schemas(self) -> SchemaCache:
        """This document's compiled validators, filled by `add_api` before the app starts."""
        return SchemaCache(oas30=not self.is_31)

    @classmethod
    def from_path(cls, path: str | pathlib.Path) -> OpenAPI31Specification:
        document = load_document(path)
        return cls(document, base_uri=f"{pathlib.Path(path).resolve().parent}/")

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(path, method, resolved operation) for every operation in the document.

        Methods are lower case; in a 3.2 document they include `query` and those of
        `additionalOperations` (`COPY` is yielded as `copy`).
        """
        for path, item in (self.spec.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            for method in HTTP_METHODS_32 if self.is_32 else HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    yield path, method, item[method]
            if self.is_32:
                for method, operation in (item.get("additionalOperations") or {}).items():
                    if isinstance(operation, dict):
                        yield path, str(method).lower(), operation


def add_api(app: Any, spec: OpenAPI31Specification, **options: Any) -> None:
    """Register `spec` on a Connexion app, as `app.add_api` does for the documents it loads.

    Connexion's own `add_api` re-parses its argument with its 3.0-only `Specification.load`;
    this hands it the already validated 3.1 spec object instead.
    """
    spec.schemas.warm(spec)
    decorate_views_once(app)
    register_api(app, spec, validator_map=validator_map(spec.schemas), **options)
