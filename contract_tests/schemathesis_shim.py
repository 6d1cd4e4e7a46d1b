"""Every Schemathesis internal the contract engine uses, in one place (tested by
test_schemathesis_shim.py; tests/test_import_rules.py keeps them out of other modules).

Schemathesis' public API (`schemathesis.openapi.from_*`, `schemathesis.check`,
`schemathesis.checks`, `SchemathesisConfig`) covers loading, configuring and checking; running
every phase while collecting events and replaying a case as another identity have no public
entry point in 4.32 (the JUnit report is written by the engine: Schemathesis' writer makes one
test case per operation, where CI wants one per operation and check). pyproject.toml pins
`schemathesis>=4.32,<4.33`: the range these were tested on; test_schemathesis_shim.py
fails loudly if one moves.
"""

from __future__ import annotations

from typing import Any

# Which parts of a case were generated as valid data (case.meta.components is keyed by it).
from schemathesis.core.parameters import ParameterLocation

# The engine that runs every phase and yields events (what `st run` drives).
from schemathesis.engine import events, from_schema

# What `schemathesis.openapi.from_path`/`from_url` raise for a document they cannot load.
from schemathesis.errors import LoaderError

# How Schemathesis' own auth checks replay a case as another identity (recorded, on the
# run's transport): used by the cross-tenant check.
from schemathesis.specs.openapi._auth_retry import send_probe

__all__ = [
    "LoaderError",
    "events",
    "from_schema",
    "generated_positive",
    "operation_errors",
    "operation_labels",
    "phase_and_mode",
    "send_probe",
]


def generated_positive(case: Any, location: str) -> bool:
    """Whether Schemathesis generated this part of the case (path, header…) as valid data."""
    component = case.meta.components.get(ParameterLocation(location)) if case.meta else None
    return component is None or bool(component.mode.is_positive)


def generated_negative(case: Any) -> bool:
    """Whether the case as a whole was generated as invalid data."""
    return case.meta is not None and bool(case.meta.generation.mode.is_negative)


def phase_and_mode(case: Any) -> tuple[str, str]:
    """(phase name, generation mode) of a case; ("check", "-") for a case a check derived."""
    meta = case.meta
    if meta is None:
        return "check", "-"
    return str(meta.phase.name.value), str(meta.generation.mode.value)


def operation_errors(schema: Any) -> list[str]:
    """Why operations of a loaded schema cannot be tested (a dangling $ref…), one line each.

    `get_all_operations()` yields a Result per operation: `Ok` or `Err(error)`.
    """
    problems = []
    for result in schema.get_all_operations():
        error = getattr(result, "err", None)
        if callable(error) and type(result).__name__ == "Err":
            exc = error()
            where = getattr(exc, "path", None), getattr(exc, "method", None)
            label = f"{str(where[1]).upper()} {where[0]}: " if all(where) else ""
            message = str(getattr(exc, "message", None) or exc).strip().splitlines()
            problems.append(label + (message[0] if message else type(exc).__name__))
    return problems


def operation_labels(schema: Any) -> set[str]:
    """Labels ("GET /pets/{petId}") of the operations a (possibly filtered) schema tests."""
    return {
        result.ok().label for result in schema.get_all_operations() if type(result).__name__ == "Ok"
    }
