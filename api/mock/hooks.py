"""Per-operation hooks: generated data made to agree with itself where a schema cannot say so.

A JSON Schema can say that `total` is an integer, not that it is the sum of `counts`; jsf
draws each field on its own, so dynamic data was valid and still nonsense (a total of 6,749
beside counts adding up to 34,000). A hook gets a generated body (already valid) and the
seeded random source of that answer and returns the body to send, which is validated again.
Hooks are keyed by operationId; a spec whose operations have no hook is served as generated.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

Hook = Callable[[Any, random.Random], Any]


def engagement_summary(body: Any, rng: random.Random) -> Any:
    """getRenderEngagement: counts not negative, total their sum, linkOpens at most the views
    (they are viewed events from a shared link), `recent` newest first and no longer than the
    total."""
    if not isinstance(body, dict) or not isinstance(body.get("counts"), dict):
        return body
    counts = {kind: abs(n) for kind, n in body["counts"].items() if isinstance(n, int)}
    body["counts"] = counts
    body["total"] = sum(counts.values())
    if isinstance(body.get("linkOpens"), int):
        body["linkOpens"] = rng.randint(0, counts.get("viewed", 0))
    recent = body.get("recent")
    if isinstance(recent, list):
        recent.sort(key=lambda event: str(event.get("createdAt", "")), reverse=True)
        del recent[body["total"] :]
    return body


HOOKS: Mapping[str, Hook] = {"getRenderEngagement": engagement_summary}
