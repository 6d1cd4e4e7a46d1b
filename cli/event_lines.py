"""Engagement events from JSON Lines (the CLI's input), read and checked line by line.

One event per line, with the field names of a `recent` item plus `renderId`. Errors name the
line and the field; a file with any bad line is rejected whole (`read_events` streams, and
the writer rolls the file's transaction back; `parse_lines` reads a small batch at once).

The rules of a line (SECURITY.md, "Bounds"): at most `MAX_LINE_BYTES` of UTF-8 holding one JSON
object; `createdAt` a date-time with a zone whose UTC instant has a four-digit year (so the
server can always format what it stored); text without NUL or lone surrogates (PostgreSQL
refuses the first, every encoder the second); numbers finite (NaN is not JSON); metadata at
most `MAX_METADATA_BYTES` once encoded and `MAX_DEPTH` levels deep; integers within
±`MAX_SAFE_INTEGER`, what JSON readers carry exactly (a larger one would be served changed).
A file is read through `bounded_lines`, so an overlong line is refused at its first 64 KiB.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from db.queries import ACTOR_KINDS, EVENT_TYPES, NewEvent

REQUIRED = ("renderId", "eventType", "actorKind", "createdAt")
OPTIONAL = ("id", "shareId", "sourceIp", "userAgent", "metadata")
EVENT_ID = re.compile(r"ev_[A-Za-z0-9_-]{1,60}")  # fullmatch: "ev_x\n" is no id
MAX_ERRORS = 20
MAX_LINE_BYTES = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024
MAX_DEPTH = 32
MAX_SOURCE_IP = 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_CREATED_AT_MS = int((datetime(1, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()) * 1000
MAX_CREATED_AT_MS = (
    int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - EPOCH).total_seconds()) * 1000 + 999
)
NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")
MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8259 §6, I-JSON (RFC 7493 §2.2): exact in every reader
SAFE_INTEGER_DIGITS = len(str(MAX_SAFE_INTEGER))


class NonFinite(float):
    """NaN or ±Infinity as read from a line, kept so that the field holding it can be named."""


class UnsafeInteger:
    """An integer beyond ±(2^53-1) as read from a line (its digits, never converted: 5,000
    digits would trip Python's int conversion limit), kept so its field can be named."""

    def __init__(self, digits: str) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return (
            self.digits
            if len(self.digits) <= 24
            else f"{self.digits[:20]}… ({len(self.digits)} digits)"
        )


def _integer(digits: str) -> int | UnsafeInteger:
    if len(digits.lstrip("-")) <= SAFE_INTEGER_DIGITS:
        value = int(digits)
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
    return UnsafeInteger(digits)


def bounded_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a binary file, each read at most `MAX_LINE_BYTES` + 2 at a time: a longer
    line is yielded cut there (`parse_event` names it) and the rest of it skipped unread into
    memory, so a file with no newline costs 64 KiB, not its size."""
    while True:
        text = stream.readline(MAX_LINE_BYTES + 2)
        if not text:
            return
        yield text
        while not text.endswith(b"\n") and len(text) == MAX_LINE_BYTES + 2:
            text = stream.readline(MAX_LINE_BYTES)  # the rest of an overlong line
            if not text:
                return
            if text.endswith(b"\n"):
                break


class EventFileError(Exception):
    """One or more lines are bad; `errors` lists them as 'line N: field: why'."""

    def __init__(self, errors: list[str], more: int = 0) -> None:
        self.errors = errors
        tail = f"\n… and {more} more bad lines" if more else ""
        super().__init__("\n".join(errors) + tail)


def parse_lines(lines: Iterable[str | bytes]) -> list[NewEvent]:
    """Every event of the file, or EventFileError listing the bad lines (blank lines skipped).

    Lines may be bytes (a file opened in binary), decoded here so that bad UTF-8 names its line.
    """
    events: list[NewEvent] = []
    errors: list[str] = []
    bad_lines = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            events.append(parse_event(number, text))
        except ValueError as exc:
            bad_lines += 1
            if len(errors) < MAX_ERRORS:
                errors.append(f"line {number}: {exc}")
    if errors:
        raise EventFileError(errors, more=bad_lines - len(errors))
    return events


def read_events(lines: Iterable[str | bytes]) -> Iterator[NewEvent | tuple[int, str]]:
    """Each line's event, or (line, why) for a bad one, one at a time (blank lines skipped).

    The streaming form of `parse_lines`: the writer checks references as the events come and
    reports shape and reference problems together, in one pass. Lines may be bytes (a file
    opened in binary), decoded here so that bad UTF-8 names its line.
    """
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield parse_event(number, text)
        except ValueError as exc:
            yield number, str(exc)


def parse_event(line: int, text: str | bytes) -> NewEvent:
    if len(text) > MAX_LINE_BYTES:
        raise ValueError(f"longer than {MAX_LINE_BYTES} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid UTF-8 (byte {exc.start + 1})") from None
    text = text.rstrip("\r\n")  # else an error at the line's end is "line 2, column 1"
    try:
        data = json.loads(text, parse_constant=NonFinite, parse_int=_integer)
    except json.JSONDecodeError as exc:
        column = exc.pos + 1  # characters from the start of the line, counting from 1
        where = (
            f"at the end of the line (column {column})"
            if exc.pos >= len(text)
            else (f"at column {column}")
        )
        raise ValueError(f"not valid JSON ({exc.msg} {where})") from None
    except RecursionError:
        raise ValueError(f"not valid here: nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    problems = [f"{name}: required" for name in REQUIRED if name not in data]
    problems += [f"{name}: unknown field" for name in data if name not in REQUIRED + OPTIONAL]

    fields: dict[str, Any] = {}
    checks = {
        "renderId": lambda v: ("render_id", _uuid(v)),
        "eventType": lambda v: ("event_type", _choice(v, EVENT_TYPES)),
        "actorKind": lambda v: ("actor_kind", _choice(v, ACTOR_KINDS)),
        "createdAt": lambda v: ("created_at_ms", _timestamp_ms(v)),
        "id": lambda v: ("public_id", _event_id(v)),
        "shareId": lambda v: ("share_id", None if v is None else _uuid(v)),
        "sourceIp": lambda v: ("source_ip", None if v is None else _ip(v)),
        "userAgent": lambda v: ("user_agent", None if v is None else _text(v, 1000)),
        "metadata": lambda v: ("metadata_json", None if v is None else _metadata(v)),
    }
    for name, value in data.items():
        if name not in checks:
            continue  # reported above as an unknown field
        try:
            key, converted = checks[name](value)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        fields[key] = converted
    if problems:
        raise ValueError("; ".join(problems))
    return NewEvent(line=line, **fields)


def _metadata(value: Any) -> str:
    _check_value(value, 1)
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    if len(encoded.encode("utf-8")) > MAX_METADATA_BYTES:
        raise ValueError(f"larger than {MAX_METADATA_BYTES} bytes as JSON")
    return encoded


def _check_value(value: Any, depth: int) -> None:
    """Finite numbers, storable text, bounded depth, all the way down."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, NonFinite) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"{value!r} is not a finite number (JSON has no NaN or Infinity)")
    if isinstance(value, UnsafeInteger):
        raise ValueError(
            f"integer {value!r} is beyond ±(2^53-1) = ±{MAX_SAFE_INTEGER}, the largest a JSON "
            "reader carries exactly; send it as a string"
        )
    if isinstance(value, str):
        _storable(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _check_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1)


def _storable(text: str) -> str:
    found = NOT_TEXT.search(text)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
        raise ValueError(f"contains {what} at position {found.start()}")
    return text


def _uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID") from None


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _timestamp_ms(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    if len(value) < 11 or value[10] not in "Tt":
        found = "nothing" if len(value) < 11 else repr(value[10])
        raise ValueError(f"{value!r}: 'T' expected between date and time, found {found}")
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} must be a date-time with a timezone (Z or ±hh:mm)")
    try:
        ms = int((moment.replace(microsecond=0) - EPOCH).total_seconds()) * 1000
    except OverflowError:
        ms = MIN_CREATED_AT_MS - 1
    ms += moment.microsecond // 1000
    if not MIN_CREATED_AT_MS <= ms <= MAX_CREATED_AT_MS:
        raise ValueError(
            f"{value!r} is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z in UTC"
        )
    return ms


def _event_id(value: Any) -> str:
    if not isinstance(value, str) or not EVENT_ID.fullmatch(value):
        raise ValueError("must look like ev_ followed by 1-60 letters, digits, _ or -")
    return value


def _ip(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be an IP address string or null")
    if len(value) > MAX_SOURCE_IP or "%" in value:
        raise ValueError(f"{value[:MAX_SOURCE_IP]!r}… is not an IP address without a zone")
    return _canonical_ip(value)


@functools.lru_cache(maxsize=4096)
def _canonical_ip(value: str) -> str:
    """Cached: a file repeats a few addresses many times, and parsing one costs ~5 µs."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string or null")
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    return _storable(value)
