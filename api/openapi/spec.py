"""OpenAPI 3.1 on stock Connexion 3.3: how a document is loaded, checked and registered.

Connexion 3.3 checks documents against the 3.0 meta-schema (so it refuses `openapi: 3.1.0`) and
validates with JSON Schema Draft 4. This module changes how a document is loaded and registered:

- `OpenAPI31Specification`, a spec class that validates the document with
  openapi-spec-validator (3.1, or 3.0 for older documents) and loads YAML without Connexion's
  Jinja pass, so the document is used exactly as written; it owns the compiled-schema cache.
- `add_api()` registers it on an app with our validators (api/openapi/validation.py), bypassing
  Connexion's `add_api`, which would re-parse it as 3.0; on an AsyncApp, each operation's
  view is decorated once, not on every request as Connexion 3.3 does (`decorate_views_once`).

The Connexion internals these need are in api/openapi/connexion_shim.py (`Specification`,
`register_api`, `decorate_views_once`).
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import yaml
from connexion.exceptions import (
    InvalidSpecification,
)
from openapi_spec_validator import validate as validate_document
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from api.openapi.connexion_shim import Specification, decorate_views_once, register_api
from api.openapi.validation import SchemaCache, validator_map

logger = logging.getLogger("craftkit.openapi")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# --- the document ---------------------------------------------------------------------------


def load_document(path: str | pathlib.Path) -> dict[str, Any]:
    """Parse a YAML or JSON document as written (no templating, unlike Connexion's loader)."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidSpecification(f"not valid YAML or JSON: {problem}{where}") from None
    if not isinstance(document, dict):
        raise InvalidSpecification("not an OpenAPI document (top level is not a map)")
    return document


class OpenAPI31Specification(Specification):
    """Connexion's OpenAPI 3 spec class, validated as 3.1 (or 3.0) by openapi-spec-validator."""

    @classmethod
    def check_document(cls, spec: dict[str, Any]) -> None:
        version = str(spec.get("openapi", ""))
        if not (version.startswith("3.1.") or version.startswith("3.0.")):
            raise InvalidSpecification(
                f"openapi: {version or '(missing)'} is not supported; expected 3.1.x or 3.0.x"
            )
        try:
            validate_document(spec)
        except OpenAPIValidationError as exc:
            # The validator's messages end with a dump of the whole instance: keep the sentence.
            what = exc.message.split("\n", 1)[0]
            where = " > ".join(str(part) for part in exc.absolute_path)
            raise InvalidSpecification(
                f"Invalid OpenAPI {version} document: {what}" + (f" (at {where})" if where else "")
            ) from exc

    @property
    def is_31(self) -> bool:
        return str(self.raw.get("openapi", "")).startswith("3.1.")

    @cached_property
    def schemas(self) -> SchemaCache:
        """This document's compiled validators, filled by `add_api` before the app starts."""
        return SchemaCache(oas30=not self.is_31)

    @classmethod
    def from_path(cls, path: str | pathlib.Path) -> OpenAPI31Specification:
        document = load_document(path)
        return cls(document, base_uri=f"{pathlib.Path(path).resolve().parent}/")

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(path, method, resolved operation) for every operation in the document."""
        for path, item in self.spec.get("paths", {}).items():
            for method in HTTP_METHODS:
                if isinstance(item.get(method), dict):
                    yield path, method, item[method]


def add_api(app: Any, spec: OpenAPI31Specification, **options: Any) -> None:
    """Register `spec` on a Connexion app, as `app.add_api` does for the documents it loads.

    Connexion's own `add_api` re-parses its argument with its 3.0-only `Specification.load`;
    this hands it the already validated 3.1 spec object instead.
    """
    spec.schemas.warm(spec)
    decorate_views_once(app)
    register_api(app, spec, validator_map=validator_map(spec.schemas), **options)
