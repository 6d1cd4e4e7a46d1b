"""`create_app(settings)` builds the Connexion app; nothing is built or connected on import."""

from __future__ import annotations

import json
import logging
import pathlib
from typing import Any

import connexion
import starlette.exceptions
import werkzeug.exceptions
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from flask import Response

from api import errors
from api.config import Settings
from api.head import HeadAsGet
from api.openapi31 import OpenAPI31Specification, add_api
from api.resolver import OperationIdResolver
from api.routing import NoLineFeedInPaths, middlewares
from api.security import SECURITY_MAP
from db.connection import database, open_database

logger = logging.getLogger("craftkit")

# Routes served besides the contract's operations; contract tests check there are no others.
OPERATIONAL_ROUTES = ("/openapi.json", "/openapi.yaml", "/healthz")


def create_app(settings: Settings | None = None) -> connexion.FlaskApp:
    settings = settings or Settings.from_env()
    spec = OpenAPI31Specification.from_path(settings.spec_path)
    open_database(settings.database_url)

    app = connexion.FlaskApp(
        __name__,
        # No /static/<path> route: the app serves the contract's paths and OPERATIONAL_ROUTES only.
        server_args={"static_folder": None},
        swagger_ui_options=SwaggerUIOptions(serve_spec=False, swagger_ui=False),
        middlewares=middlewares(),
    )
    flask_app = app.app
    flask_app.config["RECENT_LIMIT"] = settings.recent_limit
    flask_app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's key order
    # The contract declares no OPTIONS; Flask's automatic answer would be an undocumented 200.
    flask_app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    flask_app.register_error_handler(werkzeug.exceptions.HTTPException, _reraise_http_error)
    flask_app.teardown_request(_close_database)

    add_api(
        app,
        spec,
        resolver=OperationIdResolver(),
        strict_validation=True,
        validate_responses=settings.validate_responses,
        security_map=SECURITY_MAP,
    )
    _add_operational_routes(app, spec, pathlib.Path(settings.spec_path))
    app.add_middleware(HeadAsGet, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(NoLineFeedInPaths, position=MiddlewarePosition.BEFORE_SWAGGER)
    errors.register(app)
    return app


def _close_database(_exc: BaseException | None) -> None:
    if not database.is_closed():
        database.close()


def _reraise_http_error(exc: werkzeug.exceptions.HTTPException) -> None:
    """Hand Flask's routing errors to the error module, keeping `Allow` (Connexion drops it)."""
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    raise starlette.exceptions.HTTPException(
        exc.code or 500, detail=exc.description, headers=headers
    )


def _add_operational_routes(
    app: connexion.FlaskApp, spec: OpenAPI31Specification, spec_path: pathlib.Path
) -> None:
    """The document as written: the YAML file's bytes, and the same document as JSON."""
    raw_yaml = spec_path.read_bytes()
    as_json = json.dumps(spec.raw, default=str)

    def openapi_json() -> Response:
        return Response(as_json, mimetype="application/json")

    def openapi_yaml() -> Response:
        return Response(raw_yaml, mimetype="application/yaml")

    def healthz() -> Any:
        database.connect(reuse_if_open=True)
        database.execute_sql("SELECT 1")
        return {"status": "ok"}

    app.add_url_rule("/openapi.json", "openapi_json", openapi_json, methods=["GET"])
    app.add_url_rule("/openapi.yaml", "openapi_yaml", openapi_yaml, methods=["GET"])
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
