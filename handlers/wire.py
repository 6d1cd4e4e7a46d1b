"""The contract's wire format for values stored otherwise (timestamps as epoch milliseconds)."""

from __future__ import annotations

import time

_ISO = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z".format
# The contract's date-time has a four-digit year: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999


def iso_timestamp(ms: int) -> str:
    """UTC ISO 8601 with milliseconds and Z, as the contract's examples show.

    Formatted from `time.gmtime`'s fields: half the time of formatting a `datetime`, and this
    runs for every event of every answer. An instant outside years 1-9999 raises
    OverflowError: it has no four-digit year (ingestion refuses it; an older row may hold one).
    """
    if not MIN_MS <= ms <= MAX_MS:
        raise OverflowError(f"{ms} ms is outside years 1-9999")
    t = time.gmtime(ms // 1000)
    return _ISO(t[0], t[1], t[2], t[3], t[4], t[5], ms % 1000)
