"""Handlers for the Renders tag."""

from __future__ import annotations

from typing import Any

from flask import current_app

from db.queries import engagement_summary


def get_render_engagement(id: str, token_info: dict[str, Any]) -> dict[str, Any]:
    """getRenderEngagement: counts and recent events of one render the key may read."""
    return engagement_summary(id, token_info["owner"], current_app.config["RECENT_LIMIT"])
