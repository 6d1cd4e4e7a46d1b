"""Engagement as Peewee's model API computes it from the events, with no counters.

This is `db.queries.render_engagement` as it was before counters and built-once statements:
GROUP BY over the render's events, a second scan for link opens, model instances for
`recent`. Tests hold the fast path and the migrated counters to exactly what it returns.
"""

from __future__ import annotations

import peewee

from db import queries
from db.errors import RenderNotFound
from db.models import EngagementEvent, Render


def reference_engagement(
    render_id: str, owner: queries.KeyOwner, recent_limit: int
) -> queries.Engagement:
    render = Render.get_or_none(
        (Render.id == render_id)
        & (Render.project == owner.project_id)
        & (Render.mode == owner.mode)
    )
    if render is None:
        raise RenderNotFound()
    by_type = (
        EngagementEvent.select(EngagementEvent.event_type, peewee.fn.COUNT(EngagementEvent.seq))
        .where(EngagementEvent.render == render.id)
        .group_by(EngagementEvent.event_type)
        .tuples()
    )
    link_opens = (
        EngagementEvent.select()
        .where(
            (EngagementEvent.render == render.id)
            & (EngagementEvent.event_type == "viewed")
            & EngagementEvent.share.is_null(False)
        )
        .count()
    )
    recent = (
        EngagementEvent.select()
        .where(EngagementEvent.render == render.id)
        .order_by(EngagementEvent.created_at_ms.desc(), EngagementEvent.seq.desc())
        .limit(recent_limit)
    )
    return queries.Engagement(
        counts={event_type: int(count) for event_type, count in by_type},
        link_opens=link_opens,
        recent=[
            queries.StoredEvent(
                public_id=e.public_id,
                event_type=e.event_type,
                actor_kind=e.actor_kind,
                share_id=str(e.share_id) if e.share_id is not None else None,
                source_ip=e.source_ip,
                user_agent=e.user_agent,
                metadata_json=e.metadata_json,
                created_at_ms=e.created_at_ms,
            )
            for e in recent
        ],
    )
