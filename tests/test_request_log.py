"""Structured request logs: one line per request, request ids, no paths or keys, JSON or text."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.ops.request_log import REQUEST_ID, configure_logging, resolve_format
from api.server.app import create_app

RENDERS = "/v1/renders/{}/engagement"


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every record logged during the test, as the parsed JSON lines `craftkit serve` writes."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    configure_logging("json", "info", stream=stream)
    # httpx logs the test client's own requests (with their URLs): not the server's lines.
    yield lambda: [
        parsed
        for line in stream.getvalue().splitlines()
        if (parsed := json.loads(line))["logger"] != "httpx"
    ]
    for handler in [h for h in root.handlers if getattr(h, "craftkit", False)]:
        root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def request_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "craftkit.request"]


def test_one_json_line_per_request_with_the_route_template_never_the_path(
    client: TestClient, tenant: dict[str, Any], make_render: Callable[..., str], log_lines: Any
) -> None:
    render_id = make_render(tenant["project"])
    answer = client.get(RENDERS.format(render_id), headers=tenant["headers"])
    assert answer.status_code == 200
    (line,) = request_lines(log_lines())
    assert line["request_id"] == answer.headers["x-request-id"]
    assert line["method"] == "GET"
    assert line["route"] == "/v1/renders/{id}/engagement"
    assert line["operation"] == "getRenderEngagement"  # from Connexion's scope (connexion_shim)
    assert line["status"] == 200
    assert line["project"] == str(tenant["project"].id)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["time"].endswith("Z") and line["level"] == "info"


def test_the_query_string_the_raw_path_and_the_key_are_never_logged(
    client: TestClient, tenant: dict[str, Any], log_lines: Any
) -> None:
    render_id = str(uuid.uuid4())
    for query in ("", f"?access_token={tenant['key']}"):
        client.get(RENDERS.format(render_id) + query, headers=tenant["headers"])
    client.get(f"/no/such/{render_id}")
    text = json.dumps(log_lines())
    assert render_id not in text and tenant["key"] not in text and "access_token" not in text
    routes = [(line["route"], line["status"]) for line in request_lines(log_lines())]
    assert routes == [
        ("/v1/renders/{id}/engagement", 404),
        ("/v1/renders/{id}/engagement", 404),  # the query string is ignored, and not logged
        ("-", 404),  # matched no route: the path is not repeated
    ]


# A fixed UUID, not uuid4(): pytest-xdist's workers must each collect the same test ids.
@pytest.mark.parametrize(
    "given", ["a", "req-1.2_3", "x" * 128, "f9b28e9f-0c65-40a9-9302-4639a5719f8b"]
)
def test_a_well_formed_request_id_is_echoed_and_logged(
    client: TestClient, log_lines: Any, given: str
) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": given})
    assert answer.headers["x-request-id"] == given
    assert request_lines(log_lines())[0]["request_id"] == given


@pytest.mark.parametrize("given", ["", "x" * 129, "two words", "<script>", "a/b", "ü"])
def test_a_malformed_request_id_is_replaced(client: TestClient, log_lines: Any, given: str) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": given.encode("utf-8")})
    echoed = answer.headers["x-request-id"]
    assert echoed != given and uuid.UUID(echoed)
    assert request_lines(log_lines())[0]["request_id"] == echoed


def test_the_request_id_pattern() -> None:
    assert REQUEST_ID.fullmatch("abc") and not REQUEST_ID.fullmatch("abc\n")


def test_a_database_error_is_one_line_with_the_request_id(
    tmp_path: Any, log_lines: Any, settings: Any
) -> None:
    """A database that cannot be opened: the 503 is logged on one line, with the request's id."""
    broken = settings.__class__.from_env(
        {}, database_url=f"sqlite:///{tmp_path}/missing-dir/x.db", spec_path=settings.spec_path
    )
    render_id = str(uuid.uuid4())
    with TestClient(create_app(broken)) as client:
        answer = client.get(
            RENDERS.format(render_id),
            headers={"Authorization": "Bearer ck_test_" + "a" * 32, "X-Request-ID": "db-down-1"},
        )
    assert answer.status_code == 503
    lines = log_lines()
    errors = [line for line in lines if line["level"] == "error"]
    assert errors, lines
    assert all(line["request_id"] == "db-down-1" for line in errors)
    assert errors[0]["message"] == (
        "database unavailable: OperationalError: unable to open database file"
    )
    assert render_id not in json.dumps(lines)  # error lines name no path either
    assert request_lines(lines)[0]["status"] == 503


def test_a_traceback_is_folded_into_the_json_line(log_lines: Any) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("craftkit.test").exception("it failed")
    (line,) = [line for line in log_lines() if line["logger"] == "craftkit.test"]
    assert line["error"] == "RuntimeError: boom"
    assert line["exc"].startswith("Traceback") and "raise RuntimeError" in line["exc"]


def test_text_on_a_terminal_json_otherwise() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", Terminal()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("json", Terminal()) == "json"
    with pytest.raises(ValueError, match="got 'xml'"):
        resolve_format("xml", io.StringIO())


def test_the_text_format_reads_as_a_sentence(
    client: TestClient, tenant: dict[str, Any], make_render: Callable[..., str]
) -> None:
    stream = io.StringIO()
    configure_logging("text", "info", stream=stream)
    try:
        render_id = make_render(tenant["project"])
        headers = {**tenant["headers"], "X-Request-ID": "txt-1"}
        client.get(RENDERS.format(render_id), headers=headers)
    finally:
        configure_logging("json", "warning", stream=io.StringIO())
    (line,) = [line for line in stream.getvalue().splitlines() if "craftkit.request" in line]
    assert "GET /v1/renders/{id}/engagement -> 200 in " in line
    assert f"project={tenant['project'].id}" in line and line.endswith("[txt-1]")
    assert render_id not in line


def test_asyncapp_logs_the_same_line(
    settings: Any, tenant: dict[str, Any], make_render: Callable[..., str], log_lines: Any
) -> None:
    """Pure ASGI: under Connexion's AsyncApp the operation and project are found the same way."""
    import connexion

    render_id = make_render(tenant["project"])
    with TestClient(create_app(settings, app_class=connexion.AsyncApp)) as client:
        answer = client.get(RENDERS.format(render_id), headers=tenant["headers"])
    assert answer.status_code == 200
    (line,) = request_lines(log_lines())
    assert (line["operation"], line["route"], line["project"]) == (
        "getRenderEngagement",
        "/v1/renders/{id}/engagement",
        str(tenant["project"].id),
    )
    assert line["request_id"] == answer.headers["x-request-id"]


class Kept(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_request_line_is_a_full_log_record_and_obeys_the_loggers_level(
    client: TestClient, tenant: dict[str, Any], make_render: Callable[..., str]
) -> None:
    """The request line skips `logger.info`'s machinery (log_request), not what it produces."""
    logger = logging.getLogger("craftkit.request")
    kept, level = Kept(), logger.level
    logger.addHandler(kept)
    try:
        logger.setLevel(logging.INFO)
        path = RENDERS.format(make_render(tenant["project"]))
        client.get(path, headers=tenant["headers"])
        client.get(path, headers=tenant["headers"])
        logger.setLevel(logging.WARNING)
        client.get(path, headers=tenant["headers"])
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
    assert len(kept.records) == 2  # the third request, at WARNING, wrote no line
    made = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "request", (), None)
    for record in kept.records:
        assert set(vars(made)) | {"fields"} <= set(vars(record))  # handlers may add more
        assert (record.name, record.levelno, record.getMessage()) == (
            "craftkit.request",
            logging.INFO,
            "request",
        )
        assert record.fields["route"] == "/v1/renders/{id}/engagement"  # type: ignore[attr-defined]
    first, second = kept.records
    assert first.created <= second.created and first.fields is not second.fields  # type: ignore[attr-defined]
    assert (
        abs(
            second.relativeCreated - first.relativeCreated - 1000 * (second.created - first.created)
        )
        < 1
    )


def test_a_new_request_id_is_a_canonical_random_uuid():
    """`new_request_id()` formats os.urandom's bytes itself: every id must still read back as
    the same version-4, RFC 4122 UUID, and none repeat."""
    import uuid

    from api.ops.request_log import new_request_id

    made = [new_request_id() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    for text in made[:2_000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # Every variant digit turns up (8, 9, a, b): the two variant bits are set, the rest random.
    assert {text[19] for text in made} == set("89ab")
