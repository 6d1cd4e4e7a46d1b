"""Handlers for the Renders tag."""

from __future__ import annotations

from typing import Any

import orjson

from db.connection import connection
from db.queries import EVENT_TYPES, StoredEvent, render_engagement
from handlers.context import current
from handlers.wire import iso_timestamp


def get_render_engagement(id: str, token_info: dict[str, Any]) -> dict[str, Any]:
    """getRenderEngagement: counts and recent events of one render the key may read."""
    with connection():
        engagement = render_engagement(id, token_info["owner"], current().recent_limit)
    counts = {event_type: engagement.counts.get(event_type, 0) for event_type in EVENT_TYPES}
    return {
        "counts": counts,
        "linkOpens": engagement.link_opens,
        "total": sum(counts.values()),
        "recent": [_event(event) for event in engagement.recent],
    }


def _event(event: StoredEvent) -> dict[str, Any]:
    return {
        "id": event.public_id,
        "eventType": event.event_type,
        "actorKind": event.actor_kind,
        "shareId": str(event.share_id) if event.share_id is not None else None,
        "sourceIp": event.source_ip,
        "userAgent": event.user_agent,
        "metadata": orjson.loads(event.metadata_json) if event.metadata_json is not None else None,
        "createdAt": iso_timestamp(event.created_at_ms),
    }
