"""api/protocol/deadline.py: past its deadline a request gets the 503 envelope at once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from api.protocol.deadline import RequestDeadline

SCOPE = {"type": "http", "method": "GET", "path": "/v1/renders/x/engagement", "headers": []}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _call(app: Any) -> tuple[list[dict[str, Any]], float]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.monotonic()
    await app(dict(SCOPE), _receive, send)
    return sent, time.monotonic() - started


async def _answer(send: Any, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_a_quick_request_is_answered_by_the_app_and_its_timer_is_cancelled() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _answer(send)

    async def run() -> tuple[list[dict[str, Any]], int]:
        sent, _ = await _call(RequestDeadline(app, 0.05))
        await asyncio.sleep(0.1)  # a timer left armed would fire (and send) here
        return sent, len(asyncio.all_tasks())

    sent, tasks = asyncio.run(run())
    assert [m.get("status") for m in sent] == [200, None]
    assert tasks == 1  # no 503 task was started


def test_a_late_request_gets_the_503_envelope_and_its_own_answer_is_dropped() -> None:
    ended = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(10)  # a database that never answers
        finally:
            await asyncio.sleep(0.05)  # its thread finishing (api/server/dbwork.py waits for it)
            await _answer(send)  # too late: dropped
            ended.append(True)

    sent, seconds = asyncio.run(_call(RequestDeadline(app, 0.1)))
    assert [m.get("status") for m in sent] == [503, None]
    headers = dict(sent[0]["headers"])
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"retry-after"] == b"5"
    body = json.loads(sent[1]["body"])
    assert body["error"]["code"] == "service_unavailable"
    assert ended == [True]  # the request ran to its end before the middleware returned
    assert seconds < 5


def test_a_request_that_has_started_answering_is_not_cut_off() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.2)  # past the deadline, mid-answer
        await send({"type": "http.response.body", "body": b"{}"})

    sent, _ = asyncio.run(_call(RequestDeadline(app, 0.05)))
    assert [m.get("status") for m in sent] == [200, None]


def test_a_cancellation_from_outside_is_not_swallowed() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(10)

    async def run() -> None:
        task = asyncio.ensure_future(_call(RequestDeadline(app, 5)))
        await asyncio.sleep(0.05)
        task.cancel()  # the server stopping
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())


def test_a_late_request_that_fails_after_its_503_is_not_raised_again() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("the database connection broke") from None

    sent, _ = asyncio.run(_call(RequestDeadline(app, 0.05)))
    assert [m.get("status") for m in sent] == [503, None]


def test_a_stop_arriving_after_the_deadline_fired_is_not_swallowed() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.2)  # its thread finishing, while the server stops

    async def run() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        task = asyncio.ensure_future(RequestDeadline(app, 0.05)(dict(SCOPE), _receive, send))
        await asyncio.sleep(0.15)  # the deadline has fired and its 503 gone out
        assert [m.get("status") for m in sent] == [503, None]
        task.cancel()  # then the server stops
        await task
        return sent

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())
