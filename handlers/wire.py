"""The contract's wire format for values stored otherwise (timestamps as epoch milliseconds)."""

from __future__ import annotations

import datetime
import functools

# The contract's date-time has a four-digit year: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999
DAY_MS = 86_400_000
_EPOCH = datetime.date(1970, 1, 1).toordinal()
# The text of every minute of a day, second and millisecond: 2,500 short strings.
_HOUR_MINUTE = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
_SECOND = [f"{s:02d}." for s in range(60)]
_MILLISECOND = [f"{ms:03d}Z" for ms in range(1000)]


@functools.lru_cache(maxsize=4096)
def _date(day: int) -> str:
    """`YYYY-MM-DDT` of a day counted from 1970-01-01 (events of a render share a few days)."""
    date = datetime.date.fromordinal(_EPOCH + day)
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}T"


def iso_timestamp(ms: int) -> str:
    """UTC ISO 8601 with milliseconds and Z, as the contract's examples show.

    This runs for every event of every answer, so it is put together from precomputed pieces:
    a fifth of the time of formatting `time.gmtime`'s fields, and a tenth of a `datetime`'s
    (tests/test_handlers.py checks it against `datetime` over the whole range). An instant
    outside years 1-9999 raises OverflowError: it has no four-digit year (ingestion refuses
    it; an older row may hold one).
    """
    if not MIN_MS <= ms <= MAX_MS:
        raise OverflowError(f"{ms} ms is outside years 1-9999")
    day, rest = divmod(ms, DAY_MS)
    minute, second, millisecond = rest // 60_000, rest // 1000 % 60, rest % 1000
    return f"{_date(day)}{_HOUR_MINUTE[minute]}{_SECOND[second]}{_MILLISECOND[millisecond]}"
