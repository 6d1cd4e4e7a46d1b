"""Schema-valid data for `Prefer: dynamic=true` and for responses without an example."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connexion.exceptions import ProblemException

from api.openapi.validation import SchemaCache

logger = logging.getLogger("craftkit.mock")

MAX_DRAWS = 20


class Generator:
    """Schema-valid data from jsf, reproducible per seed, checked by the spec's validator.

    jsf draws from the global `random` module, Faker's shared generator and rstr's: they are
    seeded under a lock, and the global state is restored afterwards.
    """

    _lock = threading.Lock()

    def __init__(self, schemas: SchemaCache) -> None:
        self.schemas = schemas  # the spec's compiled validators

    @property
    def oas30(self) -> bool:
        return self.schemas.oas30

    def generate(self, schema: Mapping[str, Any], seed: int, hint: Any = None) -> Any:
        """A value valid against `schema`; `hint` (the response's example) names map keys."""
        from jsf import JSF  # imported on first use: it pulls in Faker

        validator = self.schemas.get(schema)
        for draw in range(MAX_DRAWS):
            with self._lock:
                value = self._draw(JSF, dict(schema), seed * MAX_DRAWS + draw, hint)
            if value is _FAILED:
                continue
            error = next(iter(validator.iter_errors(value)), None)
            if error is None:
                return value
            logger.debug("draw %d of seed %d is not valid, drawing again: %s", draw, seed, error)
        raise ProblemException(
            status=500,
            title="Internal Server Error",
            detail=f"Could not generate data valid against the schema in {MAX_DRAWS} draws.",
        )

    def checked(self, schema: Mapping[str, Any], value: Any, operation: str) -> Any:
        """`value` (a hook's result) if it is still valid against `schema`, else a 500."""
        error = next(iter(self.schemas.get(schema).iter_errors(value)), None)
        if error is None:
            return value
        raise ProblemException(
            status=500,
            title="Internal Server Error",
            detail=f"The mock's hook for {operation} made the body invalid: {error.message}",
        )

    @staticmethod
    def _draw(jsf_class: Any, schema: dict[str, Any], seed: int, hint: Any) -> Any:
        import faker
        import rstr

        state = random.getstate()
        try:
            random.seed(seed)
            faker.Faker.seed(seed)
            rstr_random = getattr(rstr._default_instance, "_random", None)
            if rstr_random is not None:
                rstr_random.seed(seed)
            try:
                return jsf_class(for_jsf(schema, random.Random(seed), hint=hint)).generate()
            except Exception as exc:  # jsf refuses some 2020-12 keywords; try another draw
                logger.debug("jsf could not generate (seed %d): %s", seed, exc)
                return _FAILED
        finally:
            random.setstate(state)


_FAILED = object()
CLOCK_FORMATS = ("date-time", "date")
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
MAP_KEYS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")


def for_jsf(schema: Any, rng: random.Random, depth: int = 0, hint: Any = None) -> Any:
    """A copy of `schema` in which maps name keys, since jsf leaves them empty.

    jsf generates nothing for `additionalProperties` (a map such as `counts` would always be
    `{}`, and its `patternProperties` support fails), so keys it allows are named as
    properties: the keys of the example at the same place when there is one (all of them, so
    `counts` has the event types a frontend expects), else a few placeholder names. Dates and
    times are drawn from `rng` (Faker's follow the clock, and a seed must replay). Only
    subschema keywords are followed, to a bounded depth: resolved documents can be cyclic. The
    result is still checked against the original schema.
    """
    if not isinstance(schema, dict) or depth > 16:
        return schema
    copy = dict(schema)
    item_hint = hint[0] if isinstance(hint, list) and hint else None
    for key in SUBSCHEMA:
        if isinstance(copy.get(key), dict):
            copy[key] = for_jsf(copy[key], rng, depth + 1, item_hint if key == "items" else None)
    for key in SUBSCHEMA_LISTS:
        if isinstance(copy.get(key), list):
            copy[key] = [for_jsf(item, rng, depth + 1, hint) for item in copy[key]]
    for key in SUBSCHEMA_MAPS:
        if isinstance(copy.get(key), dict):
            copy[key] = {
                k: for_jsf(v, rng, depth + 1, _at(hint, k) if key == "properties" else None)
                for k, v in copy[key].items()
            }
    if isinstance(copy.get("allOf"), list) and all(isinstance(p, dict) for p in copy["allOf"]):
        copy = merged_all_of(copy)
    if copy.get("type") == "string" and copy.get("format") in CLOCK_FORMATS and "enum" not in copy:
        copy["enum"] = [_moment(rng, copy["format"]) for _ in range(12)]
    extra = copy.get("additionalProperties")
    if isinstance(extra, dict) and not copy.get("properties") and not copy.get("patternProperties"):
        if isinstance(hint, dict) and hint:
            copy["properties"] = {name: for_jsf(extra, rng, depth + 1) for name in hint}
            copy["required"] = sorted(set(copy.get("required") or []) | set(hint))
        else:
            names = rng.sample(MAP_KEYS, rng.randint(1, 4))
            copy["properties"] = {name: extra for name in names}
    return copy


def merged_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """`allOf` parts folded into one schema: jsf draws each part on its own, so a `Pet` that is
    `allOf: [NewPet, {required: [id]}]` never had its `id` (petstore-expanded's 500).
    Properties and `required` are united; other keywords are kept from the first that says
    them. The draw is validated against the original schema all the same."""
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    for part in schema["allOf"]:
        if isinstance(part.get("allOf"), list):
            part = merged_all_of(part)
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**value, **(merged.get("properties") or {})}
            elif key == "required" and isinstance(value, list):
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _moment(rng: random.Random, fmt: str) -> str:
    """A time in 2026 from `rng`: Faker's times follow the clock, so a seed would not replay."""
    moment = YEAR_START + timedelta(milliseconds=rng.randrange(366 * 24 * 3600 * 1000))
    if fmt == "date":
        return moment.date().isoformat()
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _at(hint: Any, key: str) -> Any:
    return hint.get(key) if isinstance(hint, dict) else None
