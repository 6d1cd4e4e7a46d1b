"""Handlers for the Renders tag."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from db.connection import connection
from db.queries import (
    EVENT_TYPES,
    Engagement,
    StoredEvent,
    render_engagement,
    render_engagement_on_loop,
)
from handlers.context import current, on_loop
from handlers.wire import iso_timestamp

logger = logging.getLogger("craftkit.handlers")


# One tenant's data: a shared cache must never keep it (RFC 9111 §5.2.2.5).
NO_STORE = {"Cache-Control": "no-store"}


async def _get_render_engagement_on_loop(
    id: str, token_info: dict[str, Any]
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """getRenderEngagement with PostgreSQL on the event loop (db/postgres_loop.py)."""
    engagement = await render_engagement_on_loop(id, token_info["owner"], current().recent_limit)
    return _summary(engagement), 200, NO_STORE


@on_loop(_get_render_engagement_on_loop)
def get_render_engagement(
    id: str, token_info: dict[str, Any]
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """getRenderEngagement: counts and recent events of one render the key may read."""
    with connection():
        engagement = render_engagement(id, token_info["owner"], current().recent_limit)
    return _summary(engagement), 200, NO_STORE


def _summary(engagement: Engagement) -> dict[str, Any]:
    counts = {event_type: engagement.counts.get(event_type, 0) for event_type in EVENT_TYPES}
    return {
        "counts": counts,
        "linkOpens": engagement.link_opens,
        "total": sum(counts.values()),
        "recent": [shown for event in engagement.recent if (shown := _event(event)) is not None],
    }


def _event(event: StoredEvent) -> dict[str, Any] | None:
    """The event as the contract shows it, or None (logged) for a row that cannot be shown.

    Ingestion refuses such rows, but one written by an older version or by hand (a createdAt
    past year 9999, NaN in metadata, which orjson refuses) must cost that row, not every read
    of its render.
    """
    metadata = event.metadata_json
    try:
        return {
            "id": event.public_id,
            "eventType": event.event_type,
            "actorKind": event.actor_kind,
            "shareId": event.share_id,
            "sourceIp": event.source_ip,
            "userAgent": event.user_agent,
            "metadata": None if metadata is None else orjson.loads(metadata),
            "createdAt": iso_timestamp(event.created_at_ms),
        }
    except (ValueError, OverflowError) as exc:  # orjson.JSONDecodeError is a ValueError
        logger.warning("event %s cannot be shown, left out of recent: %s", event.public_id, exc)
        return None
