"""Schema-valid data for `Prefer: dynamic=true` and for responses without an example."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping
from typing import Any

from connexion.exceptions import ProblemException

from api.openapi31 import SchemaCache

logger = logging.getLogger("craftkit.mock")

MAX_DRAWS = 20


class Generator:
    """Schema-valid data from jsf, reproducible per seed, checked by the spec's validator.

    jsf draws from the global `random` module, Faker's shared generator and rstr's: they are
    seeded under a lock, and the global state is restored afterwards.
    """

    _lock = threading.Lock()

    def __init__(self, *, oas30: bool) -> None:
        self.oas30 = oas30

    def generate(self, schema: Mapping[str, Any], seed: int) -> Any:
        from jsf import JSF  # imported on first use: it pulls in Faker

        validator = SchemaCache.get(schema, oas30=self.oas30)
        for draw in range(MAX_DRAWS):
            with self._lock:
                value = self._draw(JSF, dict(schema), seed * MAX_DRAWS + draw)
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

    @staticmethod
    def _draw(jsf_class: Any, schema: dict[str, Any], seed: int) -> Any:
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
                return jsf_class(for_jsf(schema, random.Random(seed))).generate()
            except Exception as exc:  # jsf refuses some 2020-12 keywords; try another draw
                logger.debug("jsf could not generate (seed %d): %s", seed, exc)
                return _FAILED
        finally:
            random.setstate(state)


_FAILED = object()
MAP_KEYS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")


def for_jsf(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A copy of `schema` in which maps name a few keys, since jsf leaves them empty.

    jsf generates nothing for `additionalProperties` (a map such as `counts` would always be
    `{}`, and its `patternProperties` support fails), so some of the keys it allows are named
    as optional properties. Only subschema keywords are followed, to a bounded depth: resolved
    documents can be cyclic. The result is still checked against the original schema.
    """
    if not isinstance(schema, dict) or depth > 16:
        return schema
    copy = dict(schema)
    for key in SUBSCHEMA:
        if isinstance(copy.get(key), dict):
            copy[key] = for_jsf(copy[key], rng, depth + 1)
    for key in SUBSCHEMA_LISTS:
        if isinstance(copy.get(key), list):
            copy[key] = [for_jsf(item, rng, depth + 1) for item in copy[key]]
    for key in SUBSCHEMA_MAPS:
        if isinstance(copy.get(key), dict):
            copy[key] = {k: for_jsf(v, rng, depth + 1) for k, v in copy[key].items()}
    extra = copy.get("additionalProperties")
    if isinstance(extra, dict) and not copy.get("properties") and not copy.get("patternProperties"):
        copy["properties"] = {name: extra for name in rng.sample(MAP_KEYS, rng.randint(1, 4))}
    return copy
