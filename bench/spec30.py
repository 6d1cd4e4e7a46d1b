"""A 3.0 copy of the contract for stock Connexion, which refuses `openapi: 3.1.0`.

Made in memory from the verbatim document and written to a temporary file; the contract itself
is never touched. Only the 3.1 constructs this kind of document uses are translated, each to its
3.0 spelling; anything else 3.1-only is refused rather than silently changed, so the reference
servers validate what the contract says:

- `type: [T, 'null']` → `type: T, nullable: true` (a list without null, or of several types
  besides null, has no 3.0 spelling and is refused);
- `const: v` → `enum: [v]`;
- numeric `exclusiveMinimum`/`exclusiveMaximum` → `minimum`/`maximum` plus the 3.0 boolean.

The copy also names a bearer info function (`x-bearerInfoFunc`), because stock Connexion checks
a bearer token only through one; the bench's is `bench.reference.token_info`.
"""

from __future__ import annotations

import copy
from typing import Any

TOKEN_INFO = "bench.reference.token_info"
UNSUPPORTED = (
    "prefixItems",
    "$defs",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
)
# Maps whose keys are names chosen by the author (a property called `const` is not a keyword).
NAME_MAPS = (
    "paths",
    "properties",
    "patternProperties",
    "schemas",
    "responses",
    "parameters",
    "securitySchemes",
    "content",
    "headers",
    "requestBodies",
    "links",
    "callbacks",
)
VERBATIM = ("example", "examples")  # data, not schemas


class Not30(ValueError):
    """The document uses a 3.1 construct this translation does not know how to write in 3.0."""


def to_openapi30(document: dict[str, Any], *, token_info: str = TOKEN_INFO) -> dict[str, Any]:
    """A 3.0.3 copy of a 3.1 `document`; the argument is left as it was."""
    copied = copy.deepcopy(document)
    copied["openapi"] = "3.0.3"
    copied.pop("jsonSchemaDialect", None)
    copied.pop("webhooks", None)
    copied.get("info", {}).pop("summary", None)
    copied.get("info", {}).get("license", {}).pop("identifier", None)
    for scheme in copied.get("components", {}).get("securitySchemes", {}).values():
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            scheme["x-bearerInfoFunc"] = token_info
    return _translate(copied, "")


def _translate(node: Any, where: str, *, names: bool = False) -> Any:
    """Translate a schema (or any node holding schemas); `names` marks a map of names to nodes."""
    if isinstance(node, list):
        return [_translate(item, f"{where}/{n}") for n, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if names:
            out[key] = _translate(value, f"{where}/{key}")
        elif key in VERBATIM:
            out[key] = value
        elif key in UNSUPPORTED:
            raise Not30(f"{where}/{key}: no OpenAPI 3.0 spelling")
        else:
            out[key] = _translate(value, f"{where}/{key}", names=key in NAME_MAPS)
    if names:
        return out
    kinds = out.get("type")
    if isinstance(kinds, list):
        others = [k for k in kinds if k != "null"]
        if len(others) != 1:
            raise Not30(f"{where}/type: {kinds} has no OpenAPI 3.0 spelling")
        out["type"] = others[0]
        if len(kinds) > 1:
            out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(exclusive)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound] = value
            out[exclusive] = True
    return out
