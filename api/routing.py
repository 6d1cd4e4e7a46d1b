"""Connexion's routing without Starlette's trailing-slash redirects.

Starlette routers answer `/v1/renders/{id}/engagement/` with a bodiless 307 to the path without
the slash: an undocumented response outside the error envelope. The contract declares exact
paths, so a stray slash is an unknown path (404 envelope) like any other. `middlewares()` is
Connexion's default stack with its routing middleware swapped for this one.
"""

from __future__ import annotations

from typing import Any

from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.routing import RoutingMiddleware
from starlette.routing import Mount, Router
from starlette.types import ASGIApp


class ExactPathRouting(RoutingMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.router.redirect_slashes = False

    def add_api(self, *args: Any, **kwargs: Any) -> None:
        super().add_api(*args, **kwargs)
        for route in self.router.routes:  # one Mount per API, holding that API's router
            if isinstance(route, Mount) and isinstance(route.app, Router):
                route.app.redirect_slashes = False


def middlewares() -> list[Any]:
    """A new list per app: Connexion's `add_middleware` inserts into the list it was given."""
    return [
        ExactPathRouting if middleware is RoutingMiddleware else middleware
        for middleware in ConnexionMiddleware.default_middlewares
    ]
