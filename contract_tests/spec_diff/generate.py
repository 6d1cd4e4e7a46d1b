"""Instances to try against two schemas: boundary values first, then a hypothesis search.

Both produce *candidates*: whether one is valid is only ever decided by the compiled
validators (contract_tests/spec_diff/schemas.py), so this module can be generous and simple.
It knows the JSON Schema 2020-12 keywords a contract uses: `$ref` (inside its own root),
`allOf`/`anyOf`/`oneOf`, `type` lists, `const`/`enum`, numeric and length bounds, `pattern`,
`format`, `required`, `properties`/`additionalProperties`, `items`/`prefixItems`. The
boundaries of the *other* schema are passed as hints: a lowered `maximum` is found by trying
the old one.

hypothesis-jsonschema is not used: it is not installed here, and it covers drafts up to
2019-09 (no `prefixItems`, no 2020-12 `$defs`/`$ref` siblings); this generator only needs to
propose values, not to be exact.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

try:  # Python's own regular expression parser (`sre_parse` before 3.11, deprecated since)
    from re import _parser as regex_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as regex_parser

TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
FORMAT_SAMPLES = {
    "uuid": ["5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"],
    "date-time": ["2026-06-21T10:10:00Z", "2026-06-21T10:10:00.000+02:00"],
    "date": ["2026-06-21"],
    "time": ["10:10:00Z"],
    "email": ["someone@example.com"],
    "uri": ["https://example.com/a"],
    "uri-reference": ["/a/b", "https://example.com/a"],
    "ipv4": ["203.0.113.4"],
    "ipv6": ["2001:db8::1"],
    "hostname": ["example.com"],
    "duration": ["P1D"],
}
GENERIC: list[Any] = [None, True, 0, 1, -1, 0.5, "", "a", "A1-", [], {}]
PER_NODE = 60  # candidates kept per schema node
MAX_DEPTH = 5


@dataclass
class Hints:
    """Constants of the other schema worth trying here."""

    numbers: set[float] = field(default_factory=set)
    strings: list[str] = field(default_factory=list)
    lengths: set[int] = field(default_factory=set)
    names: list[str] = field(default_factory=list)


def hints(*roots: Any) -> Hints:
    found = Hints()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    found.numbers.add(value)
            elif key in ("minLength", "maxLength", "minItems", "maxItems") and isinstance(
                value, int
            ):
                found.lengths.add(value)
            elif key in ("enum", "const", "examples", "example", "default"):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and item not in found.strings:
                        found.strings.append(item)
                    elif isinstance(item, int | float) and not isinstance(item, bool):
                        found.numbers.add(item)
            elif key == "properties" and isinstance(value, dict):
                found.names.extend(name for name in value if name not in found.names)
            elif key == "required" and isinstance(value, list):
                found.names.extend(
                    name for name in value if isinstance(name, str) and name not in found.names
                )
            walk(value)

    for root in roots:
        walk(root)
    found.strings = found.strings[:30]
    found.names = found.names[:30]
    return found


class Schemas:
    """Schema nodes of one root, `$ref`s resolved (local pointers only)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return True
        node: Any = self.root
        for raw in urllib.parse.unquote(ref[1:]).split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return True
        return node

    def flat(self, schema: Any, depth: int) -> Any:
        """`schema` with its `$ref` and `allOf` folded in (shallowly; the validator decides)."""
        if not isinstance(schema, dict):
            return schema
        if "$ref" not in schema and "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k not in ("$ref", "allOf")}
        parts = []
        if "$ref" in schema and depth < MAX_DEPTH:
            parts.append(self.flat(self.resolve(schema["$ref"]), depth + 1))
        parts.extend(self.flat(part, depth + 1) for part in schema.get("allOf", []))
        for part in parts:
            if part is False:
                return False
            if not isinstance(part, dict):
                continue
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**value, **merged.get("properties", {})}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = sorted({*merged.get("required", []), *value})
                elif key in ("anyOf", "oneOf") and key in merged:
                    merged.setdefault("allOf", []).append({key: value})
                else:
                    merged.setdefault(key, value)
        return merged


def types_of(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if t in TYPES]
    inferred = []
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        inferred.append("object")
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        inferred.append("array")
    if any(k in schema for k in ("pattern", "minLength", "maxLength", "format")):
        inferred.append("string")
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        inferred.append("number")
    return inferred or list(TYPES)


def numbers(schema: Mapping[str, Any], hint: Hints, integer: bool) -> list[Any]:
    points: list[float] = [0, 1, -1, *sorted(hint.numbers)]
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        value = schema.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            points.append(value)
    found: list[Any] = []
    for point in points:
        for delta in (0, 1, -1) if integer else (0, 1, -1, 0.5, -0.5):
            value = point + delta
            if integer:
                value = int(value) if float(value).is_integer() else None
            elif isinstance(value, float) and value.is_integer():
                value = value + 0.25 if delta else value
            if value is not None and value not in found:
                found.append(value)
    return found


# The first character a regex class admits, by category (`\d`, `\w`, `\s` and negations).
CATEGORY_SAMPLES = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_WORD": "a",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_NOT_WORD": "-",
    "CATEGORY_NOT_SPACE": "a",
}


def _shortest(items: Any) -> str:
    """The shortest string a parsed regex (Python's `re` parser's items) is written for:
    first branches, first class members, minimum repetitions. ValueError where unsure."""
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_member(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            out.append(_shortest(sub) * low)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            out.append(_shortest(arg[-1]))
        elif name == "BRANCH":
            out.append(_shortest(arg[1][0]))
        elif name != "AT":  # anchors add nothing; back-references, look-arounds: unsure
            raise ValueError(name)
    return "".join(out)


def _class_member(members: Any) -> str:
    op, arg = members[0]
    name = str(op)
    if name == "LITERAL":
        return chr(arg)
    if name == "RANGE":
        return chr(arg[0])
    if name == "CATEGORY" and str(arg) in CATEGORY_SAMPLES:
        return CATEGORY_SAMPLES[str(arg)]
    raise ValueError(name)  # a negated class and the like


@functools.lru_cache(maxsize=512)
def pattern_sample(pattern: str) -> str | None:
    """A short string `pattern` matches, so that an object's other properties can be valid
    while one is varied (a random search rarely met a pattern beside a format); None where
    Python's `re` cannot tell (ECMA-only syntax, look-arounds)."""
    try:
        sample = _shortest(regex_parser.parse(pattern))
        return sample if re.search(pattern, sample) else None
    except (ValueError, re.error, TypeError, IndexError, OverflowError):
        return None


def strings(schema: Mapping[str, Any], hint: Hints) -> list[Any]:
    found: list[Any] = []
    if isinstance(schema.get("pattern"), str):
        sample = pattern_sample(schema["pattern"])
        if sample is not None:
            found.append(sample)
    declared = schema.get("format")
    if isinstance(declared, str):
        found.extend(FORMAT_SAMPLES.get(declared, []))
    found.extend(hint.strings)
    found.extend(["", "a"])
    lengths = {0, 1, 2, 5, *hint.lengths}
    for key in ("minLength", "maxLength"):
        if isinstance(schema.get(key), int):
            lengths.update({schema[key], schema[key] + 1, max(schema[key] - 1, 0)})
    found.extend("a" * n for n in sorted(lengths) if n <= 300)
    found.extend(["A", "a b", "0", "-", "Z9"])
    for samples in FORMAT_SAMPLES.values():
        found.extend(samples)
    return found


class Boundaries:
    """Deterministic candidates, simplest first."""

    def __init__(self, root: Mapping[str, Any], hint: Hints) -> None:
        self.schemas = Schemas(root)
        self.hint = hint

    def of(self, schema: Any, depth: int = 0) -> list[Any]:
        schema = self.schemas.flat(schema, depth)
        if schema is False:
            return []
        if schema is True or not isinstance(schema, dict) or depth > MAX_DEPTH:
            return [*GENERIC, *self.hint.strings[:5]]
        if "const" in schema:
            return [schema["const"]]
        if isinstance(schema.get("enum"), list):
            return list(schema["enum"])
        found: list[Any] = []
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                rest = {k: v for k, v in schema.items() if k != key}
                for branch in schema[key]:
                    branch_schema = {**rest, **branch} if isinstance(branch, dict) else branch
                    found.extend(self.of(branch_schema, depth + 1)[:PER_NODE])
                return unique(found)[:PER_NODE]
        # Types taken in turn, so that `null` beside `string` is tried early, not after
        # every string.
        per_type = [self.of_type(kind, schema, depth) for kind in types_of(schema)]
        found.extend(interleave(per_type))
        for key in ("examples", "example", "default"):
            if key in schema:
                found.extend(
                    schema[key]
                    if key == "examples" and isinstance(schema[key], list)
                    else [schema[key]]
                )
        return unique(found)[: PER_NODE * 2]

    def of_type(self, kind: str, schema: Mapping[str, Any], depth: int) -> list[Any]:
        if kind == "null":
            return [None]
        if kind == "boolean":
            return [True, False]
        if kind in ("integer", "number"):
            return numbers(schema, self.hint, kind == "integer")
        if kind == "string":
            return strings(schema, self.hint)
        if kind == "array":
            return self.arrays(schema, depth)
        return self.objects(schema, depth)

    def arrays(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        prefix = [self.of(item, depth + 1)[:1] or [None] for item in schema.get("prefixItems", [])]
        head = [values[0] for values in prefix]
        items = schema.get("items", True)
        item_values = self.of(items, depth + 1)[:PER_NODE] if items is not False else []
        found: list[Any] = [head] if head or not item_values else [[]]
        found.append([])
        low = schema.get("minItems", 0)
        high = schema.get("maxItems")
        filler = item_values[0] if item_values else None
        sizes = {low, low + 1, max(low - 1, 0), *self.hint.lengths}
        sizes |= {n + 1 for n in self.hint.lengths}
        if isinstance(high, int):
            sizes |= {high, high + 1}
        for n in sorted(sizes):
            if isinstance(n, int) and n <= 1000:  # past an old maxItems of 1000, search
                found.append([*head, *[filler] * max(n - len(head), 0)])
        for value in item_values:
            found.append([*head, value])
        for values in prefix:  # each prefix position varied
            found.extend([*head[:1], v] for v in values[1:4])
        return found

    def objects(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        properties = schema.get("properties") or {}
        required = [name for name in schema.get("required", []) if isinstance(name, str)]
        values = {name: self.of(properties.get(name, True), depth + 1) for name in properties}
        for name in required:
            values.setdefault(name, self.of(True, depth + 1))
        base = {name: values[name][0] for name in required if values[name]}
        found: list[Any] = [dict(base)]
        everything = {**base, **{n: v[0] for n, v in values.items() if v}}
        found.append(everything)
        for name in required:  # each required property missing
            found.append({k: v for k, v in base.items() if k != name})
        for name, candidates in values.items():  # each property absent from base, added
            if name not in base and candidates:
                found.append({**base, name: candidates[0]})
        # Each property varied alone, the properties taken in turn: the early (most telling)
        # values of every property come before the long tail of any one.
        found.extend(
            interleave(
                [
                    [{**base, name: value} for value in candidates[1:PER_NODE]]
                    for name, candidates in values.items()
                ]
            )
        )
        extra = schema.get("additionalProperties", True)
        extra_values = self.of(extra, depth + 1)[:8] if extra is not False else GENERIC[:3]
        for name in [*self.hint.names, "extra"]:
            if name not in properties:
                found.extend({**base, name: value} for value in extra_values[:4])
        low = schema.get("minProperties")
        if isinstance(low, int) and low <= 20:
            found.append({**everything, **{f"p{i}": 1 for i in range(low)}})
        return found


def interleave(lists: list[list[Any]]) -> list[Any]:
    """The first of each list, then the second of each, and so on."""
    return [
        value
        for values in itertools.zip_longest(*lists, fillvalue=_NOTHING)
        for value in values
        if value is not _NOTHING
    ]


_NOTHING = object()


def unique(values: list[Any]) -> list[Any]:
    seen: set[str] = set()
    kept = []
    for value in values:
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def instances(root: Mapping[str, Any], *, hints: Hints) -> Iterator[Any]:
    """Boundary candidates for the schema `root` (a document with a top-level `$ref`)."""
    yield from unique(Boundaries(root, hints).of(root))


# --- the random search ---------------------------------------------------------------------


def strategy(schemas: Schemas, schema: Any, hint: Hints, depth: int = 0) -> st.SearchStrategy[Any]:
    """A hypothesis strategy proposing instances of `schema` (not all of them valid)."""
    schema = schemas.flat(schema, depth)
    if schema is False:
        return st.nothing()
    anything = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
        ),
        max_leaves=4,
    )
    if schema is True or not isinstance(schema, dict) or depth > MAX_DEPTH:
        return anything
    if "const" in schema:
        return st.just(schema["const"])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            rest = {k: v for k, v in schema.items() if k != key}
            return st.one_of(
                [
                    strategy(schemas, {**rest, **b} if isinstance(b, dict) else b, hint, depth + 1)
                    for b in schema[key]
                ]
            )
    options = [typed(schemas, kind, schema, hint, depth) for kind in types_of(schema)]
    return st.one_of(options)


def typed(
    schemas: Schemas, kind: str, schema: Mapping[str, Any], hint: Hints, depth: int
) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        edges = st.sampled_from(numbers(schema, hint, kind == "integer"))
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        low = low if isinstance(low, int | float) and not isinstance(low, bool) else None
        high = high if isinstance(high, int | float) and not isinstance(high, bool) else None
        if kind == "integer":
            ints = st.integers(
                None if low is None else int(low) - 1, None if high is None else int(high) + 1
            )
            return edges | ints
        return edges | st.floats(
            allow_nan=False, allow_infinity=False, min_value=low, max_value=high
        )
    if kind == "string":
        options = [st.sampled_from(strings(schema, hint)), st.text(max_size=12)]
        if isinstance(schema.get("pattern"), str):
            # An ECMA-only construct Python's re does not know: no pattern-driven proposals.
            with contextlib.suppress(Exception):
                options.insert(0, st.from_regex(schema["pattern"]))
        return st.one_of(options)
    if kind == "array":
        items = strategy(schemas, schema.get("items", True), hint, depth + 1)
        low = schema.get("minItems", 0) if isinstance(schema.get("minItems", 0), int) else 0
        return st.lists(items, min_size=low, max_size=low + 3)
    properties = schema.get("properties") or {}
    required = [n for n in schema.get("required", []) if isinstance(n, str)]
    fixed = {n: strategy(schemas, properties.get(n, True), hint, depth + 1) for n in required}
    optional = {
        n: strategy(schemas, s, hint, depth + 1) for n, s in properties.items() if n not in fixed
    }
    if schema.get("additionalProperties", True) is not False:
        for name in [*hint.names[:5], "extra"]:
            if name not in fixed and name not in optional:
                optional[name] = strategy(
                    schemas, schema.get("additionalProperties", True), hint, depth + 1
                )
    return st.fixed_dictionaries(fixed, optional=optional)


def search(
    root: Mapping[str, Any], wanted: Callable[[Any], bool], *, hint: Hints, budget: int = 150
) -> tuple[bool, Any]:
    """(True, the simplest proposal for `root` that `wanted` accepts), else (False, None)."""
    schemas = Schemas(root)
    proposals = strategy(schemas, root, hint)
    try:
        return True, find(
            proposals,
            wanted,
            settings=settings(
                max_examples=budget,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                deadline=None,
            ),
        )
    except (NoSuchExample, Unsatisfiable):
        return False, None
