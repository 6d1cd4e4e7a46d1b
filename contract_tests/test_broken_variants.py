"""A suite that passes a broken server is worthless: each broken variant must be caught."""

from __future__ import annotations

from typing import Any

import pytest

import handlers.renders
from contract_tests import engine as contract
from contract_tests.broken import VARIANTS
from db import queries
from db.models import Render

# Enough to find each fault, small enough for `make test`; the seed keeps runs repeatable.
MAX_EXAMPLES = 40


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_broken_response_is_caught(name: str, app: Any, credentials: Any, run_suite: Any) -> None:
    build, catchers = VARIANTS[name]
    result = run_suite(build(app, credentials.key), max_examples=MAX_EXAMPLES)
    assert not result.ok, f"{name}: not caught\n{contract.summary(result)}"
    print(f"{name}: caught by {sorted(result.caught_by)}")
    assert result.caught_by & catchers, f"{name}: caught by {sorted(result.caught_by)} only"


def test_a_foreign_render_served_with_200_is_caught(
    app: Any, run_suite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tenancy taken out of the query: any valid key reads any render (on either path the
    handler reads by: Peewee, or PostgreSQL on the event loop)."""
    real, real_on_loop = queries.render_engagement, queries.render_engagement_on_loop

    def owners(render_id: str, owner: queries.KeyOwner) -> queries.KeyOwner:
        render = Render.get_or_none(Render.id == render_id)
        if render is None:
            return owner
        return queries.KeyOwner(owner.key_id, render.project_id, render.mode)  # type: ignore[attr-defined]

    def leaky(render_id: str, owner: queries.KeyOwner, recent_limit: int) -> queries.Engagement:
        return real(render_id, owners(render_id, owner), recent_limit)

    async def leaky_on_loop(
        render_id: str, owner: queries.KeyOwner, recent_limit: int
    ) -> queries.Engagement:
        return await real_on_loop(render_id, owners(render_id, owner), recent_limit)

    monkeypatch.setattr(handlers.renders, "render_engagement", leaky)
    monkeypatch.setattr(handlers.renders, "render_engagement_on_loop", leaky_on_loop)
    result = run_suite(app, max_examples=MAX_EXAMPLES)
    assert not result.ok, contract.summary(result)
    print(f"foreign render served with 200: caught by {sorted(result.caught_by)}")
    assert "cross_tenant_read" in result.caught_by
