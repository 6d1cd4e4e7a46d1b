"""api/openapi/json_views.py: the AsyncApp answers dicts itself, byte for byte as Connexion."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

from api.openapi.json_views import json_view, single_json_media_type
from api.server.app import create_app
from tests.support import url


@pytest.mark.parametrize(
    ("media_types", "expected"),
    [
        (["application/json"], "application/json"),
        (["application/json", "application/json"], "application/json"),
        (["application/problem+json"], "application/problem+json"),
        (["application/json; charset=utf-8"], "application/json; charset=utf-8"),
        (["text/plain"], None),
        (["application/json", "text/plain"], None),
        ([], None),
    ],
)
def test_only_a_single_json_media_type_is_answered_here(
    media_types: list[str], expected: str | None
) -> None:
    assert single_json_media_type(media_types) == expected


def _run(view: Any) -> Any:
    return asyncio.run(view())


def test_a_dict_becomes_the_json_response_and_anything_else_is_left_to_connexion() -> None:
    async def handler() -> Any:
        return {"b": 1, "a": [1.5, None, "é"]}

    answer = _run(json_view(handler, lambda: ["application/json"], orjson.dumps))
    assert isinstance(answer, Response)
    assert answer.body == '{"b":1,"a":[1.5,null,"é"]}'.encode()  # compact, keys as written
    assert answer.headers["content-type"] == "application/json"
    assert answer.status_code == 200

    async def created() -> Any:
        return {"id": 1}, 201

    assert _run(json_view(created, lambda: ["application/json"], orjson.dumps)) == ({"id": 1}, 201)
    assert _run(json_view(handler, lambda: ["text/csv"], orjson.dumps)) == {
        "b": 1,
        "a": [1.5, None, "é"],
    }


def test_connexion_still_reads_the_handlers_parameters() -> None:
    async def handler(id: str, token_info: dict[str, Any]) -> Any:
        return {"id": id}

    import inspect

    view = json_view(handler, lambda: ["application/json"], orjson.dumps)
    assert list(inspect.signature(view).parameters) == ["id", "token_info"]
    assert inspect.unwrap(view) is handler


def test_the_async_app_answers_what_connexions_own_decorator_answers(
    settings: Any, tenant: dict[str, Any], make_render: Any, record_events: Any
) -> None:
    """The FlaskApp still goes through Connexion's response decorator: same bytes, same type."""
    from tests.support import event

    render = make_render(tenant["project"])
    record_events([event(render, id=f"ev_{n}", metadata={"n": n}) for n in range(25)])
    answers = []
    for kind in ("async", "flask"):
        from dataclasses import replace

        with TestClient(create_app(replace(settings, app=kind))) as client:
            answers.append(client.get(url(render), headers=tenant["headers"]))
    mine, connexions = answers
    assert mine.status_code == connexions.status_code == 200
    assert mine.content == connexions.content
    assert mine.headers["content-type"] == connexions.headers["content-type"]
    assert mine.headers["content-length"] == connexions.headers["content-length"]
