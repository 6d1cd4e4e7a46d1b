"""The servers craftkit is measured against, as uvicorn factories serving craftkit's own answer.

Each one answers `GET /v1/renders/{id}/engagement` with the exact bytes craftkit served for the
demo render (read from the file named by `BODY_ENV`), so every server on the bench sends the
same answer and the comparison is of the request path alone. The handlers return a framework
response holding those bytes (Connexion would otherwise serialise them anew, as its JSON):

- `stock_flask` (c): stock Connexion 3.3 FlaskApp, its own (Draft 4) validators, responses
  validated, on a 3.0 copy of the contract (Connexion refuses 3.1; see `spec30.py`);
- `stock_async` (d): stock Connexion AsyncApp, an async handler, responses not validated: the
  framework's floor;
- `bare_starlette` (e): one Starlette route returning the bytes, no validation, no security.

(c) and (d) check the bearer token the stock way, with the 3.0 copy's `x-bearerInfoFunc`
naming `token_info` below: a comparison of strings, no database. The FastAPI references, which
read the database as craftkit does, are in `fastapi_reference.py` (only they need FastAPI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import connexion
import flask
from connexion.lifecycle import ConnexionResponse
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY_ENV = "CRAFTKIT_BENCH_BODY"  # file holding craftkit's answer, byte for byte
SPEC30_ENV = "CRAFTKIT_BENCH_SPEC30"  # the 3.0 copy of the contract written by the bench
KEY_ENV = "CRAFTKIT_BENCH_KEY"  # the one bearer token (c) and (d) accept
DATABASE_ENV = "CRAFTKIT_BENCH_DATABASE_URL"  # the FastAPI references' database
PATH = "/v1/renders/{id}/engagement"


def _body() -> bytes:
    return Path(os.environ[BODY_ENV]).read_bytes()


def token_info(token: str) -> dict[str, Any] | None:
    """The stock security check's info function (named by the 3.0 copy's x-bearerInfoFunc)."""
    return {"sub": "bench"} if token == os.environ[KEY_ENV] else None


def _no_ui() -> SwaggerUIOptions:
    return SwaggerUIOptions(swagger_ui=False, serve_spec=False)


def stock_flask() -> connexion.FlaskApp:
    """(c) Connexion's FlaskApp as its documentation shows it, responses validated."""
    body = _body()

    def get_render_engagement(id: str) -> flask.Response:
        return flask.Response(body, mimetype="application/json")

    app = connexion.FlaskApp(__name__, swagger_ui_options=_no_ui())
    app.add_api(
        os.environ[SPEC30_ENV],
        resolver=Resolver(lambda _operation_id: get_render_engagement),
        validate_responses=True,
    )
    return app


def stock_async() -> connexion.AsyncApp:
    """(d) Connexion's AsyncApp with an async handler and no response validation."""
    body = _body()

    async def get_render_engagement(id: str) -> ConnexionResponse:
        return ConnexionResponse(status_code=200, content_type="application/json", body=body)

    app = connexion.AsyncApp(__name__, swagger_ui_options=_no_ui())
    app.add_api(
        os.environ[SPEC30_ENV],
        resolver=Resolver(lambda _operation_id: get_render_engagement),
        validate_responses=False,
    )
    return app


def bare_starlette() -> Starlette:
    """(e) A Starlette route returning the bytes: what uvicorn and ASGI cost by themselves."""
    body = _body()

    async def engagement(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route(PATH, engagement, methods=["GET"])])
