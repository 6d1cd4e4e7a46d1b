"""One walk over what a resolved spec documents: responses, their media types and examples.

Used by the mock (which example to send, which ones break their schema), the contract engine
(which statuses and examples a run must produce) and the static checks (every example valid
against its schema). It reads Connexion's resolved document (`spec.spec`), so `$ref`s are
already followed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class ResolvedSpec(Protocol):
    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]: ...


@dataclass(frozen=True)
class Example:
    """One documented example: `source` says where it sits ("example", "example 'name'",
    "schema example"); `name` is the named example's key, if it is one."""

    source: str
    value: Any
    name: str | None = None

    @property
    def from_schema(self) -> bool:
        return self.source == "schema example"


@dataclass(frozen=True)
class DocumentedResponse:
    """One response of one operation for one media type (`media_type` None: no content)."""

    path: str
    method: str
    status: str
    media_type: str | None
    schema: Mapping[str, Any] | None
    examples: tuple[Example, ...]

    @property
    def operation(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def where(self, example: Example) -> str:
        return f"{self.operation} {self.status} {self.media_type} {example.source}"


def media_examples(media: Mapping[str, Any]) -> list[Example]:
    """A media type's examples, in the order the mock prefers them: its `example`, its named
    `examples` (those with a `value`), then its schema's first `examples` item or `example`."""
    found: list[Example] = []
    if "example" in media:
        found.append(Example("example", media["example"]))
    for name, named in (media.get("examples") or {}).items():
        if isinstance(named, Mapping) and "value" in named:
            found.append(Example(f"example {name!r}", named["value"], name))
    schema = media.get("schema")
    if isinstance(schema, Mapping):
        if schema.get("examples"):
            found.append(Example("schema example", schema["examples"][0]))
        elif "example" in schema:
            found.append(Example("schema example", schema["example"]))
    return found


def operation_responses(
    path: str, method: str, operation: Mapping[str, Any]
) -> Iterator[DocumentedResponse]:
    """Every documented response of one resolved operation, per media type."""
    for status, response in (operation.get("responses") or {}).items():
        content = response.get("content") or {}
        if not content:
            yield DocumentedResponse(path, method, str(status), None, None, ())
        for media_type, media in content.items():
            schema = media.get("schema")
            yield DocumentedResponse(
                path,
                method,
                str(status),
                media_type,
                schema if isinstance(schema, Mapping) else None,
                tuple(media_examples(media)),
            )


def documented_responses(spec: ResolvedSpec) -> Iterator[DocumentedResponse]:
    """Every documented response of every operation of `spec`."""
    for path, method, operation in spec.operations():
        yield from operation_responses(path, method, operation)
