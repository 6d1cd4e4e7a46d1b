"""Paths with a line feed answer 404 before routing.

Connexion 3.3 mounts each API on a Starlette `Mount`, whose `(?P<path>.*)` does not match a
line feed, while Flask's router does: `/v1/renders/a%0Ab/engagement` reached the handler with
no operation context and failed with a 500 (found by the contract tests). No route of the
contract can contain one, so such a path names nothing.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send


class NoLineFeedInPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "\n" in scope["path"]:
            raise HTTPException(404)  # the error module's "No route matches" envelope
        await self.app(scope, receive, send)
