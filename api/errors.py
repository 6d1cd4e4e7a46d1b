"""One place that turns every error into the contract's envelope.

`{"error": {"code", "message", "issues"?}}` with `Content-Type: application/json`, whatever
raised it: Connexion's validation and security problems, Starlette's routing errors (unknown
path, wrong method), anything unexpected, and the domain errors an app maps with
`register(app, {ErrorClass: handler})`: the server maps db/'s errors to `not_found` and
`unavailable` (api/server/app.py); this module imports no db/, so the mock loads no database layer.
Headers that matter to clients (`Allow`, `WWW-Authenticate`, `Retry-After`) are kept.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from connexion.exceptions import NonConformingResponse, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from api.openapi.validation import RequestValidationProblem
from api.ops import metrics
from api.security import InvalidApiKey

logger = logging.getLogger("craftkit.errors")

CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}
MESSAGES = {
    401: "Missing Bearer token.",
    403: "Forbidden.",
    404: "Not found.",
    500: "Internal server error.",
    503: "The database is unavailable; try again later.",
}
RETRY_AFTER = "5"  # seconds: about one database timeout
KEPT_HEADERS = ("allow", "www-authenticate", "retry-after")


def envelope(
    status: int,
    message: str,
    *,
    code: str | None = None,
    issues: Any = None,
    headers: dict[str, str] | None = None,
) -> ConnexionResponse:
    code = code or CODES.get(status, f"http_{status}")
    error: dict[str, Any] = {"code": code, "message": message}
    if issues is not None:
        error["issues"] = issues
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return ConnexionResponse(
        status_code=status,
        mimetype="application/json",
        content_type="application/json",
        body=orjson.dumps({"error": error}),
        headers=headers,
    )


def _kept(headers: Any) -> dict[str, str]:
    return {k: v for k, v in dict(headers or {}).items() if k.lower() in KEPT_HEADERS}


def not_found(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """A domain "not found": the exception's message is written for the client."""
    return envelope(404, str(exc))


def problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion's validation and security problems (its ProblemException family)."""
    assert isinstance(exc, ProblemException)
    if isinstance(exc, NonConformingResponse):
        # The handler produced something the contract does not allow: our bug, not the client's.
        # The response validator has logged the details with the operationId.
        metrics.count_validation_failure("response")
        return envelope(500, MESSAGES[500])
    status = exc.status
    if status >= 500:
        logger.error("%s answered %s: %r", request.method, status, exc)
        return envelope(status, MESSAGES.get(status, MESSAGES[500]))
    if status in (400, 415):
        metrics.count_validation_failure("request")
    if isinstance(exc, RequestValidationProblem):
        return envelope(400, str(exc.detail), issues=exc.issues)
    if isinstance(exc, InvalidApiKey):
        return envelope(401, exc.detail, headers={"WWW-Authenticate": exc.challenge})
    message = MESSAGES.get(status) or str(exc.detail or exc.title)
    if status == 400 or status == 415:
        message = str(exc.detail or exc.title)
    return envelope(status, message, headers=_kept(exc.headers))


def path_not_found(message: str) -> Handler:
    """A handler for request validation problems: when every problem is in the path (a
    malformed id), the request names no resource, so it is the 404 `message`, the same answer
    as for a missing one (RFC 9110 §15.5.5; operations document 404, rarely 400); any other
    problem is the 400."""

    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, RequestValidationProblem)
        if exc.issues and all(issue.get("in") == "path" for issue in exc.issues):
            metrics.count_validation_failure("request")  # refused by the contract all the same
            return envelope(404, message)
        return problem(request, exc)

    return handle


def http_exception(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Starlette's routing errors: unknown path (404), method not allowed (405), and the like."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    headers = _kept(exc.headers)
    if status == 404:
        return envelope(404, f"No route matches {request.url.path}.")
    if status == 405:
        allowed = headers.get("Allow") or headers.get("allow") or ""
        return envelope(
            405,
            f"Method {request.method} is not allowed here; allowed: {allowed or 'none'}.",
            headers=headers,
        )
    if status >= 500:
        logger.error("%s answered %s: %r", request.method, status, exc)
        return envelope(status, MESSAGES.get(status, MESSAGES[500]))
    return envelope(status, str(exc.detail), headers=headers)


# Error logs name no path (it may hold a tenant's ids): the request log's line with the same
# request id says which route it was.


def unavailable(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """A backend (the database) cannot be reached: 503, try again, details only in the log.

    An exception with a `public_message` (the health check's "schema missing") says why.
    """
    cause = exc.__cause__ or exc
    metrics.count_database_error(cause)  # the driver's class, whether wrapped or not
    message = " ".join(str(cause).split())  # one line, whatever the driver printed
    logger.error("database unavailable: %s: %s", type(cause).__name__, message)
    public = getattr(exc, "public_message", None) or MESSAGES[503]
    return envelope(503, public, headers={"Retry-After": RETRY_AFTER})


def unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    logger.error(
        "unhandled error on %s: %s: %s", request.method, type(exc).__name__, exc, exc_info=exc
    )
    return envelope(500, MESSAGES[500])


Handler = Callable[[ConnexionRequest, Exception], ConnexionResponse]

HANDLERS: dict[type[Exception], Handler] = {
    ProblemException: problem,
    HTTPException: http_exception,
    Exception: unexpected,
}


def register(app: Any, domain: Mapping[type[Exception], Handler] | None = None) -> None:
    """Install every handler, and the app's own domain errors, on a FlaskApp or AsyncApp.

    Starlette picks a handler by the exception's class hierarchy, so the order is irrelevant.
    Each is installed as a coroutine: Connexion runs a plain function in the thread pool, so
    while a hung database held every pool thread, even a 401 or a 404 waited for one.
    """
    for exc_class, handler in {**HANDLERS, **(domain or {})}.items():
        app.add_error_handler(exc_class, _on_the_event_loop(handler))


def _on_the_event_loop(handler: Handler) -> Any:
    """`handler` as a coroutine function; it only builds a small response, so it never blocks."""

    @functools.wraps(handler)
    async def run(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        return handler(request, exc)

    return run
