"""Schema comparison: reasoning proves what it can, the search finds what it cannot."""

from __future__ import annotations

from typing import Any

import pytest

from contract_tests.spec_diff.load import Document, as_2020_12
from contract_tests.spec_diff.schemas import Side, contained


def side(schema: dict[str, Any], *, oas30: bool = False) -> Side:
    root = as_2020_12({"components": {"schemas": {"S": schema}}}, oas30=oas30)
    document = Document("test", "3.0" if oas30 else "3.1", root, root)
    return Side(document, "/components/schemas/S")


@pytest.mark.parametrize(
    ("narrow", "wide"),
    [
        ({"type": ["string", "null"]}, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
        ({"type": "integer", "maximum": 5}, {"type": "integer", "maximum": 10}),
        ({"type": "string", "format": "uuid"}, {"type": "string"}),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, {"type": ["integer", "string"]}),
        ({"type": "array", "items": {"type": "integer"}}, {"type": "array"}),
    ],
)
def test_containment_is_proved(narrow: dict[str, Any], wide: dict[str, Any]) -> None:
    assert contained(side(narrow), side(wide)).how == "proved"


@pytest.mark.parametrize(
    ("narrow", "wide"),
    [
        ({"type": "integer", "maximum": 10}, {"type": "integer", "maximum": 5}),
        ({"type": "string"}, {"type": "string", "pattern": "^[a-z]+$"}),
        ({"type": "string"}, {"type": "string", "format": "date"}),
        ({"type": "object"}, {"type": "object", "required": ["a"]}),
        ({"type": "object"}, {"type": "object", "additionalProperties": False}),
        (
            {"type": "array", "items": {"type": "integer"}},
            {"type": "array", "items": {"type": "integer"}, "maxItems": 2},
        ),
        ({"type": "string", "nullable": True}, {"type": "string"}),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "unevaluatedProperties": False,
            },
        ),
    ],
)
def test_a_counter_example_is_found_and_true(narrow: dict[str, Any], wide: dict[str, Any]) -> None:
    outcome = contained(side(narrow, oas30=True), side(wide, oas30=True))
    assert not outcome.contained and outcome.how == "counter-example"
    assert side(narrow, oas30=True).accepts(outcome.example)
    assert not side(wide, oas30=True).accepts(outcome.example)
    assert contained(side(wide, oas30=True), side(narrow, oas30=True)).contained


HOUR = {"type": "string", "pattern": r"^([01]\d|2[0-3]):?([0-5]\d)$"}  # Museum's timeOpen


def hours(opens: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["date", "timeOpen", "timeClose"],
            "properties": {
                "date": {"type": "string", "format": "date"},
                "timeOpen": opens,
                "timeClose": HOUR,
            },
        },
    }


@pytest.mark.parametrize(
    ("narrow", "wide"),
    [
        (  # a property made nullable beside another whose pattern the search must meet
            {
                "type": "object",
                "required": ["t", "c"],
                "properties": {"t": {**HOUR, "type": ["string", "null"]}, "c": HOUR},
            },
            {"type": "object", "required": ["t", "c"], "properties": {"t": HOUR, "c": HOUR}},
        ),
        (hours({**HOUR, "type": ["string", "null"]}), hours(HOUR)),  # Museum's MuseumHours
    ],
)
def test_a_nullable_property_among_patterned_ones_is_found(
    narrow: dict[str, Any], wide: dict[str, Any]
) -> None:
    """Found by the boundary values, not left to a random search's luck (it missed these)."""
    outcome = contained(side(narrow), side(wide))
    assert outcome.how == "counter-example", outcome
    assert side(narrow).accepts(outcome.example) and not side(wide).accepts(outcome.example)


def test_recursive_schemas_compare() -> None:
    tree = {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/S"}}}
    bounded = {
        "type": "object",
        "properties": {
            "child": {"$ref": "#/components/schemas/S"},
            "n": {"type": "integer", "minimum": 0},
        },
    }
    assert contained(side(bounded), side(tree)).contained
    outcome = contained(side(tree), side(bounded))
    assert not outcome.contained and side(tree).accepts(outcome.example)


def test_an_enum_value_added_is_told_apart_from_other_widening() -> None:
    old = side({"type": "string", "enum": ["a", "b"]})
    assert contained(
        side({"type": "string", "enum": ["a", "b", "c"]}), old, enums_open=True
    ).only_enum
    # An enum lifted to its type is the same kind of change (an open set); null is not.
    assert contained(side({"type": "string"}), old, enums_open=True).only_enum
    widened = contained(side({"type": ["string", "null"]}), old, enums_open=True)
    assert not widened.contained and not widened.only_enum and widened.example is None


def test_an_undecided_pair_without_counter_example_is_compatible_by_search() -> None:
    outcome = contained(
        side({"type": "string", "pattern": "^[a-z]+$"}),
        side({"type": "string", "pattern": "^[a-z]*$"}),
    )
    assert outcome.contained and outcome.how in ("proved", "searched")


def test_only_the_loader_imports_from_api() -> None:
    """api/ is being reorganised: its imports stay in one module, load.py."""
    import ast
    from pathlib import Path

    package = Path(__file__).parent / "spec_diff"
    importers = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name == "api" or name.startswith("api.") for name in names):
                importers.add(path.name)
    assert importers == {"load.py"}
