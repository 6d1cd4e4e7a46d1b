"""A request waits at most `seconds` for its answer to start; past that, 503 with Retry-After.

Each database statement is bounded already (db/deadline.py), but a request can also queue for
a pooled connection or a worker thread behind others that wait on a hung database; this
bounds the whole wait. It is the outermost middleware: the late request is cancelled, keeps its
own database context (connection, pool slot) until its worker thread is done, within its own
statement bound, and whatever it sends then is dropped, while the 503 goes out at once. Being
outside Connexion's error handling, it writes the 503 envelope itself.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.protocol.middleware import send_whole

# Written as errors.envelope writes every other envelope (compact orjson).
BODY = orjson.dumps({"error": {"code": errors.CODES[503], "message": errors.MESSAGES[503]}})


class RequestDeadline:
    """The deadline is a timer on the request's own task, not a second task and a wait: those
    cost a tenth of a request (bench/results.md); the timer costs a heap push."""

    def __init__(self, app: ASGIApp, seconds: float | None) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.seconds:
            await self.app(scope, receive, send)
            return
        started = False
        answered: asyncio.Task[None] | None = None  # the 503, sent beside the late request

        async def send_unless_late(message: Message) -> None:
            nonlocal started
            if answered is not None:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        request = asyncio.current_task()
        assert request is not None

        def too_late() -> None:
            nonlocal answered
            if started:
                return
            # The 503 goes out now, from its own task: the request ends only once its worker
            # thread is done with the database (api/server/dbwork.py), within its statement bound.
            answered = asyncio.ensure_future(self._unavailable(scope, send))
            request.cancel()

        timer = asyncio.get_running_loop().call_later(self.seconds, too_late)
        try:
            await self.app(scope, receive, send_unless_late)
        except asyncio.CancelledError:
            # Ours is the one cancellation to take back; any other (the server stopping,
            # before or after the deadline) goes on up.
            if answered is None or request.uncancel() > 0:
                raise
        except Exception:
            if answered is None:
                raise
            # The late request failed after its 503 was sent (its error was logged there).
        finally:
            timer.cancel()
            if answered is not None:
                await answered  # before returning: uvicorn would answer a 500 of its own

    async def _unavailable(self, scope: Scope, send: Send) -> None:
        errors.logger.error(
            "unavailable on %s %s: no answer within %g s",
            scope["method"],
            scope["path"],
            self.seconds,
        )
        await send_whole(
            send, 503, BODY, "application/json", [(b"retry-after", errors.RETRY_AFTER.encode())]
        )
