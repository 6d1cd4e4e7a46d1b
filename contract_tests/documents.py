"""The document a contract run tests: read from a file or URL, checked, and what it documents.

Schemathesis loads the document (3.0, 3.1, and 3.2: 4.32 reads `openapi: 3.2.0` and the
`query` method, though not `additionalOperations`); this module first reads it itself, so that a
document that does not load is one readable line (which file, what, where) instead of a loader
traceback, and then reads what the engine needs of it without Connexion's 3.0/3.1-only spec
class: the responses and examples each operation documents (`Document`, walked by
api/openapi/walk.py) and each operation's security requirements.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connexion.exceptions import InvalidSpecification

from api.openapi.spec import parse_document

SUPPORTED = ("3.0.", "3.1.", "3.2.")
# The fixed methods of a Path Item; 3.2 adds `query` (additionalOperations are not tested:
# Schemathesis 4.32 does not generate them).
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")


class DocumentError(Exception):
    """A document that cannot be tested: the message is the one line the user sees."""


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def read_source(source: str, timeout: float = 30) -> dict[str, Any]:
    """The document at `source` (a path or an http(s) URL), parsed; else DocumentError."""
    if is_url(source):
        import requests

        try:
            response = requests.get(source, timeout=timeout)
        except requests.RequestException as exc:
            raise DocumentError(f"{source}: could not fetch the document ({exc})") from None
        if response.status_code != 200:
            raise DocumentError(f"{source}: fetching the document got HTTP {response.status_code}")
        text = response.text
    else:
        path = pathlib.Path(source)
        if not path.is_file():
            raise DocumentError(f"{source}: no such file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(f"{source}: cannot be read ({exc})") from None
    return parse(text, source)


def parse(text: str, source: str) -> dict[str, Any]:
    """The document as the mock and the server read it (api/openapi/spec.py), or one line."""
    try:
        document = parse_document(text)
    except InvalidSpecification as exc:
        raise DocumentError(f"{source}: {exc}") from None
    version = document.get("openapi")
    if not str(version or "").startswith(SUPPORTED):
        found = (
            f"openapi: {version}"
            if version is not None
            else f"swagger: {document['swagger']}"
            if "swagger" in document
            else "no `openapi` field"
        )
        raise DocumentError(f"{source}: {found} is not supported; expected OpenAPI 3.0, 3.1 or 3.2")
    if not isinstance(document.get("paths") or {}, dict):
        raise DocumentError(f"{source}: `paths` is not a map")
    return document


@dataclass(frozen=True)
class Document:
    """A raw document with its local `$ref`s followed where the engine reads it."""

    raw: Mapping[str, Any]

    def resolve(self, node: Any, depth: int = 0) -> Any:
        """`node` with a local `$ref` followed (recursively, for responses and examples)."""
        for _ in range(16):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                break
            node = self.pointer(node["$ref"])
        if depth > 6:
            return node
        if isinstance(node, Mapping):
            return {k: self.resolve(v, depth + 1) if k != "schema" else v for k, v in node.items()}
        return node

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            return {}  # an external document: its examples are not counted
        node: Any = self.raw
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part) if isinstance(node, Mapping) else None
        return node if node is not None else {}

    def path_items(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for path, item in (self.raw.get("paths") or {}).items():
            item = self.resolve_shallow(item)
            if isinstance(item, Mapping):
                yield path, item

    def resolve_shallow(self, node: Any) -> Any:
        for _ in range(16):
            if not (isinstance(node, Mapping) and isinstance(node.get("$ref"), str)):
                return node
            node = self.pointer(node["$ref"])
        return node

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(path, method, operation with its responses resolved): api/openapi/walk.py's input."""
        for path, item in self.path_items():
            for method in METHODS:
                operation = item.get(method)
                if isinstance(operation, Mapping):
                    responses = self.resolve(operation.get("responses") or {})
                    yield path, method, {**operation, "responses": responses}

    def security(self, path: str, method: str) -> list[Mapping[str, Any]]:
        """The operation's security requirements (its own, else the document's); [] if none."""
        for where, item in self.path_items():
            if where == path:
                operation = item.get(method.lower()) or {}
                requirements = operation.get("security", self.raw.get("security"))
                return [r for r in requirements or [] if isinstance(r, Mapping)]
        return []

    def responses(self, path: str, method: str) -> Mapping[str, Any]:
        """The responses an operation documents (empty when it has no `responses`)."""
        for where, item in self.path_items():
            if where == path:
                operation = item.get(method.lower()) or {}
                return operation.get("responses") or {}
        return {}

    def path_parameter_types(self) -> dict[str, set[str]]:
        """Every path parameter the document declares, by name: its schema's `type`s."""
        types: dict[str, set[str]] = {}
        for _path, item in self.path_items():
            declared = list(item.get("parameters") or [])
            for method in METHODS:
                if isinstance(item.get(method), Mapping):
                    declared += item[method].get("parameters") or []
            for parameter in declared:
                parameter = self.resolve_shallow(parameter)
                if isinstance(parameter, Mapping) and parameter.get("in") == "path":
                    schema = self.resolve_shallow(parameter.get("schema") or {})
                    kind = schema.get("type") if isinstance(schema, Mapping) else None
                    kinds = kind if isinstance(kind, list) else [kind] if kind else []
                    types.setdefault(str(parameter.get("name")), set()).update(map(str, kinds))
        return types
