"""What a handler needs from the app that serves it, without knowing the web framework.

api/protocol/middleware.py sets it around each request (a context variable, so it follows the
request into the thread pool where handlers run); tests may set it directly with `using()`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class HandlerContext:
    recent_limit: int = 20  # how many events `recent` lists


_current: contextvars.ContextVar[HandlerContext] = contextvars.ContextVar(
    "craftkit_handler_context",
    default=HandlerContext(),  # noqa: B039  # frozen: the shared default cannot be mutated
)


def current() -> HandlerContext:
    return _current.get()


@contextmanager
def using(context: HandlerContext) -> Iterator[HandlerContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
