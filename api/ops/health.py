"""`/livez` and `/readyz` (and `/healthz`, its older name), answered before routing.

- `/livez`: the process answers; it never touches the database, so a probe does not restart
  a server whose database is the sick part.
- `/readyz`: the app's readiness check passes (for the server: the database answers within the
  bound and holds the current schema); otherwise the check raises, and the app's error mapping
  answers the 503 envelope naming the problem (with `Retry-After`), so a load balancer stops
  sending.

Both are plain ASGI, not framework routes: they answer while every worker thread waits on a
hung database.
"""

from __future__ import annotations

from collections.abc import Callable

from anyio import to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.protocol.middleware import send_whole

LIVE = "/livez"
READY = ("/readyz", "/healthz")
ROUTES = (LIVE, *READY)
OK = b'{"status":"ok"}'


class Health:
    """`ready` runs in a worker thread and raises an error the app maps to a 503 when not ready."""

    def __init__(self, app: ASGIApp, ready: Callable[[], None]) -> None:
        self.app = app
        self.ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ROUTES:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":  # HEAD arrives here as GET (api/protocol/middleware.py)
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        if scope["path"] in READY:
            await to_thread.run_sync(self.ready)
        await send_whole(send, 200, OK, "application/json", [(b"cache-control", b"no-store")])
