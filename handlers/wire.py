"""The contract's wire format for values stored otherwise (timestamps as epoch milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_timestamp(ms: int) -> str:
    """UTC ISO 8601 with milliseconds and Z, as the contract's examples show."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
