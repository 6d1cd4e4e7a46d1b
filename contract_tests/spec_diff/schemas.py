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
from collections.abc import Callable, Mapping
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
        start: Any = (
            self.inline if self.inline is not None else {"$ref": "#" + (self.pointer or "")}
        )
        root = closure(self.document.schema_root, start)
        if self.inline is not None:
            root.update(self.inline)
        else:
            root["$ref"] = "#" + urllib.parse.quote(self.pointer or "", safe="/~")
        self._root = without_enums(root) if self.relaxed else root

    @cached_property
    def fingerprint(self) -> str | None:
        """The schema with every `$ref` written out (cycles numbered): equal, the same set."""
        start = self.inline if self.inline is not None else {"$ref": "#" + (self.pointer or "")}
        budget = [20_000]

        def expand(node: Any, stack: tuple[str, ...]) -> Any:
            budget[0] -= 1
            if budget[0] < 0:
                raise OverflowError
            if isinstance(node, list):
                return [expand(item, stack) for item in node]
            if not isinstance(node, dict):
                return node
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                if ref in stack:
                    return {"$cycle": len(stack) - stack.index(ref)}
                rest = {k: expand(v, stack) for k, v in node.items() if k != "$ref"}
                target = expand(lookup(self.document.schema_root, ref), (*stack, ref))
                return {"$expanded": target, **rest} if rest else target
            return {k: expand(v, stack) for k, v in node.items() if k not in ANNOTATIONS}

        try:
            return json.dumps(expand(start, ()), sort_keys=True, default=str)
        except (OverflowError, KeyError, IndexError, ValueError, TypeError, RecursionError):
            return None

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
        validator = self.validator  # a schema that does not compile raises, not "refuses"
        try:
            return bool(validator.is_valid(instance))
        except ValueError:  # not a JSON value
            return False

    def only_enum_errors(self, instance: Any) -> bool:
        errors = list(self.validator.iter_errors(instance))
        enum_kinds = (
            jsonschema_rs.ValidationErrorKind.Enum,
            jsonschema_rs.ValidationErrorKind.Constant,
        )
        return bool(errors) and all(isinstance(error.kind, enum_kinds) for error in errors)


ANNOTATIONS = {"description", "title", "example", "examples", "externalDocs", "xml", "$comment"}


def lookup(root: Any, ref: str) -> Any:
    node = root
    for raw in urllib.parse.unquote(ref[1:]).split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def closure(document: Mapping[str, Any], start: Any) -> dict[str, Any]:
    """The parts of `document` that `start`'s `$ref`s reach, at their own places: a small root
    to compile, instead of the whole document for every schema."""
    sparse: dict[str, Any] = {}
    seen: set[str] = set()
    pending = [start]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
            seen.add(ref)
            try:
                target = lookup(document, ref)
            except (KeyError, IndexError, ValueError, TypeError):
                target = None
            if target is not None:
                place = sparse
                parts = [
                    p.replace("~1", "/").replace("~0", "~")
                    for p in urllib.parse.unquote(ref[1:]).split("/")[1:]
                ]
                for part in parts[:-1]:
                    place = place.setdefault(part, {})
                    if not isinstance(place, dict):
                        break
                else:
                    place[parts[-1]] = target
                pending.append(target)
        pending.extend(value for key, value in node.items() if key != "$ref")
    return sparse


def without_enums(node: Any) -> Any:
    if isinstance(node, list):
        return [without_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: without_enums(value) for key, value in node.items() if key not in ("enum", "const")
    }


def contained(
    narrow: Side,
    wide: Side,
    *,
    enums_open: bool = False,
    real: Callable[[Any], bool] | None = None,
) -> Outcome:
    """Whether every value `narrow` admits, `wide` admits too.

    `real`: a further test a counter-example must pass (parameters: still refused once
    read from the wire).
    `enums_open` (responses): a counter-example refused only because `wide` lists no such enum
    value is reported with `only_enum`, and the search goes on for one that is not.
    """
    if narrow.fingerprint is not None and narrow.fingerprint == wide.fingerprint:
        return Outcome(True, "proved")
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
        if real is not None and not real(candidate):
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
        if real is not None and not real(candidate):
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
