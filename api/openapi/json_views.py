"""Handlers' dicts and lists as JSON responses, built where the view is made (AsyncApp).

Connexion's response decorator works out, on every request, what a handler's result is, which
media type the operation produces and how to serialise it (about 20 µs of an engagement
request). For an operation whose responses declare exactly one JSON media type the answer is
known when the view is built: the jsonifier's bytes (orjson, api/assembly.py) under that media
type, status 200. A view from `json_view` returns that Starlette response itself, which
Connexion passes through as it is; any other result (a tuple, a response, None) still goes
to Connexion. Response validation reads the answer itself (Connexion's middleware as it is
sent, or api/openapi/pipeline.py's checks on the response it holds), so it checks these answers
exactly as before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from starlette.responses import Response


def single_json_media_type(media_types: list[str]) -> str | None:
    """The one media type an operation produces if it is JSON (`…/json` or `…+json`)."""
    kinds = set(media_types)
    if len(kinds) != 1:
        return None
    (only,) = kinds
    essence = only.split(";", 1)[0].strip().lower()
    return only if essence.endswith(("/json", "+json")) else None


def json_view(
    view: Callable[..., Any],
    media_types: Callable[[], list[str]],
    dumps: Callable[[Any], bytes],
) -> Callable[..., Any]:
    """`view` (a coroutine function) answering its dicts and lists as JSON written by `dumps`
    (the app's jsonifier), when the media types `media_types()` gives are a single JSON one
    (asked at the first call: Connexion knows them only after resolving the handler)."""
    chosen: list[str | None] = []

    @functools.wraps(view)  # Connexion reads the handler's parameters through __wrapped__
    async def answer(*args: Any, **kwargs: Any) -> Any:
        result = await view(*args, **kwargs)
        status, headers = 200, None
        if type(result) is tuple and len(result) == 3:  # (body, status, headers), as Connexion
            result, status, headers = result
        if type(result) is dict or type(result) is list:
            if not chosen:
                chosen.append(single_json_media_type(media_types()))
            if chosen[0] is not None:
                return Response(dumps(result), status, headers, media_type=chosen[0])
        return result if headers is None else (result, status, headers)

    answer.__signature__ = inspect.signature(view)  # type: ignore[attr-defined]
    return answer
