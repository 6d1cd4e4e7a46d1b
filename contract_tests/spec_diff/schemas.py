"""Does every value one schema admits still pass another? Reasoning first, then a search.

The reasoning is jsonschema-rs's canonical schema algebra (`canonicalize`, `covers`,
`subtract`, `satisfiability`): it proves containment, or reduces the question to the schema of
the values one side admits and the other refuses. When it proves containment the change is
compatible. Otherwise instances are searched for (contract_tests/spec_diff/generate.py), first
from that difference schema, then from the wider side with the narrower side's constants as
hints, and each candidate is checked with both sides' compiled validators: a counter-example is
only ever an instance one validator accepts and the other refuses.

Schemas are addressed by their JSON pointer inside their document, compiled as
`{"$ref": "#<pointer>", ...document}`, so `$ref`s (recursive ones too) resolve as written.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import jsonschema_rs

from contract_tests.spec_diff import generate
from contract_tests.spec_diff.load import Document

Proof = Literal["proved", "counter-example", "searched"]


@dataclass(frozen=True)
class Outcome:
    """`contained`: every value of the narrower side passes the wider; else `example` is one
    that does not (verified with both validators). `how`: proved by reasoning, a
    counter-example found, or no counter-example found by the search (`searched`)."""

    contained: bool
    how: Proof
    example: Any = None
    only_enum: bool = False  # the example is refused only for an enum/const value


@dataclass
class Side:
    """One schema of one document: compiled once, canonicalized once."""

    document: Document
    pointer: str | None  # None: an ad-hoc schema, given as `inline`
    inline: Mapping[str, Any] | None = None
    relaxed: bool = False  # enum/const dropped: what a client that ignores enums accepts
    _root: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        base: Any = self.document.schema_root
        if self.relaxed:
            base = without_enums(base)
        root = {key: value for key, value in base.items() if key not in ("$ref", "$id")}
        if self.inline is not None:
            root.update({key: value for key, value in self.inline.items()})
            root.pop("$id", None)
        else:
            root["$ref"] = "#" + urllib.parse.quote(self.pointer or "", safe="/~")
        self._root = root

    @property
    def root(self) -> dict[str, Any]:
        return self._root

    @cached_property
    def validator(self) -> Any:
        return jsonschema_rs.validator_for(self._root, validate_formats=True)

    @cached_property
    def canonical(self) -> Any:
        return jsonschema_rs.canonicalize(self._root, validate_formats=True)

    def accepts(self, instance: Any) -> bool:
        try:
            return bool(self.validator.is_valid(instance))
        except ValueError:
            return False

    def only_enum_errors(self, instance: Any) -> bool:
        errors = list(self.validator.iter_errors(instance))
        enum_kinds = (
            jsonschema_rs.ValidationErrorKind.Enum,
            jsonschema_rs.ValidationErrorKind.Constant,
        )
        return bool(errors) and all(isinstance(error.kind, enum_kinds) for error in errors)


def without_enums(node: Any) -> Any:
    if isinstance(node, list):
        return [without_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: without_enums(value) for key, value in node.items() if key not in ("enum", "const")
    }


def contained(narrow: Side, wide: Side, *, enums_open: bool = False) -> Outcome:
    """Whether every value `narrow` admits, `wide` admits too.

    `enums_open` (responses): a counter-example refused only because `wide` lists no such enum
    value is reported with `only_enum`, and the search goes on for one that is not.
    """
    try:
        if str(wide.canonical.covers(narrow.canonical)) == "yes":
            return Outcome(True, "proved")
        difference = narrow.canonical.subtract(wide.canonical)
        if str(difference.satisfiability()) == "no":
            return Outcome(True, "proved")
        difference_schema = difference.to_json_schema()
    except Exception:  # the algebra gives up on some schemas (an odd regex, say): search
        difference_schema = None

    enum_only: Any = None
    for candidate in search(narrow, wide, difference_schema):
        if not narrow.accepts(candidate) or wide.accepts(candidate):
            continue
        if enums_open and wide.only_enum_errors(candidate):
            if enum_only is None:
                enum_only = candidate
            continue
        return Outcome(False, "counter-example", candidate)
    hint = generate.hints(wide.root, narrow.root)

    def refuted(candidate: Any) -> bool:
        if not narrow.accepts(candidate) or wide.accepts(candidate):
            return False
        return not (enums_open and wide.only_enum_errors(candidate))

    found, candidate = generate.search(narrow.root, refuted, hint=hint)
    if found:
        return Outcome(False, "counter-example", candidate)
    if enum_only is not None:
        return Outcome(False, "counter-example", enum_only, only_enum=True)
    return Outcome(True, "searched")


def search(narrow: Side, wide: Side, difference: Any) -> Any:
    """Candidates, most promising first: from the difference schema, then from `narrow`."""
    hints = generate.hints(wide.root, narrow.root)
    if isinstance(difference, Mapping):
        yield from generate.instances(difference, hints=hints)
    yield from generate.instances(narrow.root, hints=hints)


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
