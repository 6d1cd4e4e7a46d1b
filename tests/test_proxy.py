"""craftkit proxy against an upstream that records what it receives: forwarding unchanged,
refusals in the envelope, report and enforce modes, 502/504, the record and its reports."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from tests.proxy_support import answer_bytes, proxied, recording_upstream, served
from tests.support import ROOT, assert_envelope, free_port
from tests.support import raw_request as raw
from tests.test_guards import HOSTILE

SPEC = ROOT / "openapi.yaml"
RENDER = "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10"
PATH = f"/v1/renders/{RENDER}/engagement"
GOOD = json.dumps(
    {"counts": {"viewed": 1}, "linkOpens": 0, "total": 1, "recent": []},
    separators=(",", ":"),
).encode()
KEY = b"Bearer ck_test_" + b"a" * 32


def good(request: bytes) -> bytes:
    answer = answer_bytes(200, GOOD)
    return answer[: -len(GOOD)] if request.startswith(b"HEAD ") else answer


def head_of(request: bytes) -> list[bytes]:
    return request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


# --- forwarded unchanged ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        PATH.encode(),
        b"/v1/renders/%zz/engagement",
        b"/v1/renders/../renders/" + RENDER.encode() + b"/engagement",
        b"//v1/renders/" + RENDER.encode() + b"/engagement",
        b"/v1//renders/x/engagement",
        b"/v1/renders/a%2Fb/engagement?x=%zz&x=2&&y",
        b"/v1/renders/" + RENDER.encode() + b"/./engagement",
        b"/nowhere%00?q",
    ],
)
def test_targets_and_headers_go_upstream_byte_for_byte(target: bytes) -> None:
    headers = [
        b"host: example.test",
        b"authorization: " + KEY,
        b"x-dup: 1",
        b"accept: */*",
        b"x-dup: 2",
        b"authorization: Bearer second",
    ]
    with recording_upstream(good) as upstream, proxied(SPEC, upstream.url) as (url, _app):
        request = b"GET " + target + b" HTTP/1.1\r\n" + b"\r\n".join(headers)
        answer = raw(url, request + b"\r\nconnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    [received] = upstream.received
    lines = head_of(received)
    assert lines[0] == b"GET " + target + b" HTTP/1.1"
    assert lines[1 : 1 + len(headers)] == headers  # order and duplicates kept
    assert b"connection: close" not in lines  # hop-by-hop
    assert lines[1 + len(headers) :] == [
        b"x-forwarded-for: 127.0.0.1",
        b"x-forwarded-proto: http",
        b"x-forwarded-host: example.test",
    ]


def test_hop_by_hop_headers_are_dropped_and_bodies_forwarded() -> None:
    body = b'{"a": 1}'
    with recording_upstream(good) as upstream, proxied(SPEC, upstream.url) as (url, _app):
        chunked = (
            b"POST /anywhere HTTP/1.1\r\nhost: h\r\nconnection: close, x-private\r\n"
            b"x-private: secret\r\nkeep-alive: 5\r\nte: trailers\r\nupgrade: h2c\r\n"
            b"transfer-encoding: chunked\r\nx-kept: yes\r\n\r\n"
            b"3\r\n" + body[:3] + b"\r\n5\r\n" + body[3:] + b"\r\n0\r\n\r\n"
        )
        answer = raw(url, chunked)
    assert answer.startswith(b"HTTP/1.1 200")
    [received] = upstream.received
    lines = head_of(received)
    names = [line.split(b":")[0] for line in lines[1:]]
    for dropped in (b"connection", b"x-private", b"keep-alive", b"te", b"upgrade"):
        assert dropped not in names
    assert b"transfer-encoding" not in names
    assert b"content-length: 8" in lines and b"x-kept: yes" in lines
    assert received.endswith(b"\r\n\r\n" + body)


def test_the_answer_comes_back_unchanged_with_no_violations() -> None:
    with recording_upstream(good) as upstream, proxied(SPEC, upstream.url) as (url, app):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    assert response.status_code == 200
    assert response.content == GOOD
    assert response.headers["x-upstream"] == "yes"
    assert "contract-violations" not in response.headers
    assert app.record.violations == 0


def test_upstream_connections_are_kept_alive_and_reused() -> None:
    with (
        recording_upstream(good) as upstream,
        proxied(SPEC, upstream.url) as (url, _app),
        httpx.Client() as client,
    ):
        for method in ("GET", "HEAD", "GET", "GET", "HEAD", "GET"):
            response = client.request(method, url + PATH, headers={"Authorization": KEY.decode()})
            assert response.status_code == 200
            assert response.content == (GOOD if method == "GET" else b"")
    assert len(upstream.received) == 6
    assert upstream.connections == 1


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET http://elsewhere.test/v1/x HTTP/1.1\r\nhost: elsewhere.test\r\n", 400),
        (b"CONNECT elsewhere.test:443 HTTP/1.1\r\nhost: elsewhere.test:443\r\n", 400),
        (b"OPTIONS * HTTP/1.1\r\nhost: h\r\n", 400),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nhost: h\r\n", 414),
        (b"GET / HTTP/1.1\r\nhost: h\r\nx-pad: " + b"x" * 9000 + b"\r\n", 431),
    ],
)
def test_what_is_not_forwarded_is_refused_in_the_envelope(
    request_bytes: bytes, status: int
) -> None:
    with recording_upstream(good) as upstream, proxied(SPEC, upstream.url) as (url, _app):
        answer = raw(url, request_bytes + b"connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 %d" % status), answer
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert set(body) == {"error"} and body["error"]["message"]
    assert upstream.received == []


def test_a_body_over_the_bound_is_refused_not_forwarded() -> None:
    with (
        recording_upstream(good) as upstream,
        proxied(SPEC, upstream.url, max_body=10) as (url, _app),
    ):
        response = httpx.post(url + "/x", content=b"x" * 11)
    assert_envelope(response, 413, "payload_too_large")
    assert upstream.received == []


def test_an_answer_over_the_bound_streams_through_unchecked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        recording_upstream(broken) as upstream,
        proxied(SPEC, upstream.url, max_body=10) as (url, app),
    ):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    assert response.status_code == 200
    assert response.content == GOOD.replace(b'"viewed":1', b'"viewed":"1"')  # all of it
    assert "contract-violations" not in response.headers
    assert app.record.violations == 0 and app.record.requests == 1
    assert "larger than 10 bytes, not checked" in caplog.text


# --- upstream trouble ------------------------------------------------------------------------


def test_upstream_down_is_a_502_envelope() -> None:
    with proxied(SPEC, f"http://127.0.0.1:{free_port()}") as (url, _app):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    error = assert_envelope(response, 502, "bad_gateway")
    assert "cannot be reached" in error["message"]


def test_upstream_slow_is_a_504_envelope_after_the_timeout() -> None:
    with (
        recording_upstream(lambda _request: None) as upstream,
        proxied(SPEC, upstream.url, timeout=0.3) as (url, _app),
    ):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()}, timeout=10)
    error = assert_envelope(response, 504, "gateway_timeout")
    assert "0.3 s" in error["message"]


def test_a_body_delimited_by_the_close_is_read_whole() -> None:
    def unframed(_request: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n" + GOOD

    with recording_upstream(unframed) as upstream, proxied(SPEC, upstream.url) as (url, app):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    assert response.status_code == 200 and response.content == GOOD
    assert response.headers["content-length"] == str(len(GOOD))
    assert app.record.violations == 0


def test_an_answer_that_is_not_http_is_a_502() -> None:
    with (
        recording_upstream(lambda _request: b"SSH-2.0-OpenSSH\r\n\r\n") as upstream,
        proxied(SPEC, upstream.url) as (url, _app),
    ):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    assert_envelope(response, 502, "bad_gateway")


# --- report and enforce ----------------------------------------------------------------------


def broken(_request: bytes) -> bytes:
    return answer_bytes(200, GOOD.replace(b'"viewed":1', b'"viewed":"1"'))


def unparseable(_request: bytes) -> bytes:
    return answer_bytes(200, b'{"counts": ')


def test_report_mode_passes_the_answer_with_a_violations_header(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with recording_upstream(broken) as upstream, proxied(SPEC, upstream.url) as (url, app):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    assert response.status_code == 200
    assert response.content == GOOD.replace(b'"viewed":1', b'"viewed":"1"')
    assert response.headers["contract-violations"] == (
        '1; response.body /counts/viewed: "1" is not of type "integer"'
    )
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "craftkit.proxy"]
    assert lines == [
        {
            "event": "contract_violation",
            "mode": "report",
            "operation": "GET /v1/renders/{id}/engagement",
            "operationId": "getRenderEngagement",
            "method": "GET",
            "target": PATH,
            "status": 200,
            "side": "response",
            "in": "response.body",
            "pointer": "/counts/viewed",
            "message": '"1" is not of type "integer"',
        }
    ]
    assert app.record.violations == 1


def test_an_unparseable_body_is_a_violation_not_a_crash() -> None:
    with recording_upstream(unparseable) as upstream, proxied(SPEC, upstream.url) as (url, _app):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
        enforced = None
    assert response.status_code == 200 and response.content == b'{"counts": '
    assert "not valid JSON" in response.headers["contract-violations"]
    with (
        recording_upstream(unparseable) as upstream,
        proxied(SPEC, upstream.url, mode="enforce") as (url, _app),
    ):
        enforced = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    error = assert_envelope(enforced, 502, "bad_gateway")
    assert "not valid JSON" in error["issues"][0]["message"]


def test_enforce_mode_refuses_an_invalid_request_without_forwarding_it() -> None:
    with (
        recording_upstream(good) as upstream,
        proxied(SPEC, upstream.url, mode="enforce") as (url, app),
    ):
        bad_id = httpx.get(
            url + "/v1/renders/not-a-uuid/engagement", headers={"Authorization": KEY.decode()}
        )
        no_key = httpx.get(url + PATH)
        unknown = httpx.get(url + "/v2/elsewhere")
        wrong_method = httpx.delete(url + PATH, headers={"Authorization": KEY.decode()})
        fine = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    error = assert_envelope(bad_id, 400, "invalid_request")
    assert error["issues"] == [
        {"in": "path", "name": "id", "message": '"not-a-uuid" is not a valid uuid'}
    ]
    assert assert_envelope(no_key, 400, "invalid_request")["issues"][0]["in"] == "security"
    assert_envelope(unknown, 404, "not_found")
    assert_envelope(wrong_method, 405, "method_not_allowed")
    assert fine.status_code == 200
    assert len(upstream.received) == 1  # only the valid request reached the upstream
    refused = app.record.cases[("GET /v1/renders/{id}/engagement", "refused request")]
    assert refused.seen == 2 and not refused.documented


def test_enforce_mode_replaces_an_invalid_answer_with_a_502_listing_it() -> None:
    with (
        recording_upstream(broken) as upstream,
        proxied(SPEC, upstream.url, mode="enforce") as (url, _app),
    ):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    error = assert_envelope(response, 502, "bad_gateway")
    assert error["issues"] == [
        {
            "side": "response",
            "in": "response.body",
            "pointer": "/counts/viewed",
            "message": '"1" is not of type "integer"',
        }
    ]


def test_undocumented_status_and_ignored_credentials_are_violations() -> None:
    def teapot(_request: bytes) -> bytes:
        return answer_bytes(418, b"{}")

    with recording_upstream(teapot) as upstream, proxied(SPEC, upstream.url) as (url, _app):
        response = httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
    assert "status 418 is not documented" in response.headers["contract-violations"]
    with recording_upstream(good) as upstream, proxied(SPEC, upstream.url) as (url, _app):
        response = httpx.get(url + PATH)  # no credentials, yet 200
    violations = response.headers["contract-violations"]
    assert violations.startswith("2; security: missing")
    assert "status 200 answered a request that lacks the required credentials" in violations


def test_an_undocumented_refusal_of_an_invalid_request_is_a_violation() -> None:
    """As stock status_code_conformance: a malformed id answered 400 where the operation
    documents 404 is the server's drift, even though the request broke the contract."""
    envelope = b'{"error": {"code": "bad_request", "message": "malformed id"}}'
    target = "/v1/renders/not-a-uuid/engagement"
    headers = {"Authorization": KEY.decode()}
    for status, violation in ((400, True), (404, False)):

        def refuse(_request: bytes, status: int = status) -> bytes:
            return answer_bytes(status, envelope.replace(b"bad_request", b"not_found"))

        with recording_upstream(refuse) as upstream, proxied(SPEC, upstream.url) as (url, _):
            response = httpx.get(url + target, headers=headers)
        violations = response.headers["contract-violations"]
        assert violations.startswith(f"{1 + violation}; path id: ")  # the request's own
        assert ("status 400 is not documented (documented: 200, 401, 404)" in violations) is (
            violation
        ), violations


def test_default_documents_the_statuses_it_covers_and_their_shape() -> None:
    """oai-3.0-petstore documents errors only as `default` (its Error schema): any status is
    documented there, and the body must still take that shape."""
    spec = ROOT / "tests" / "data" / "specs" / "oai-3.0-petstore.yaml"
    for body, violation in ((b'{"code": 400, "message": "no"}', False), (b'{"no": 1}', True)):

        def refuse(_request: bytes, body: bytes = body) -> bytes:
            return answer_bytes(400, body)

        with recording_upstream(refuse) as upstream, proxied(spec, upstream.url) as (url, _):
            response = httpx.get(url + "/v1/pets/1")
        violations = response.headers.get("contract-violations", "")
        assert "not documented" not in violations
        assert ("response.body" in violations) is violation, violations


# --- the record ------------------------------------------------------------------------------


def test_the_report_path_gives_coverage_and_the_junit_lists_every_case() -> None:
    def by_path(request: bytes) -> bytes:
        if b"/engagement" in request.split(b"\r\n", 1)[0] and b"authorization" in request:
            return answer_bytes(200, GOOD)
        return answer_bytes(404, b'{"error": {"code": "not_found", "message": "no"}}')

    with recording_upstream(by_path) as upstream, proxied(SPEC, upstream.url) as (url, app):
        httpx.get(url + PATH, headers={"Authorization": KEY.decode()})
        httpx.get(url + "/v1/renders/" + str(uuid.uuid4()) + "/missing")
        report = httpx.get(url + "/__craftkit/report").json()
    assert report["requests"] == 2
    assert report["coverage"]["responses"] == {"exercised": 1, "documented": 3, "percent": 33.3}
    assert report["coverage"]["never_seen"] == [
        "GET /v1/renders/{id}/engagement 401",
        "GET /v1/renders/{id}/engagement 404",
    ]
    unmatched = [c for c in report["cases"] if c["operation"] == "(no operation matches)"]
    assert unmatched[0]["failed"] == 1
    suite = ElementTree.fromstring(app.record.junit()).find("testsuite")
    assert suite is not None
    cases = {(c.get("classname"), c.get("name")): c for c in suite.findall("testcase")}
    assert cases[("GET /v1/renders/{id}/engagement", "200")].find("failure") is None
    assert cases[("GET /v1/renders/{id}/engagement", "401")].find("skipped") is not None
    failure = cases[("(no operation matches)", "-")].find("failure")
    assert failure is not None and "no operation of the document matches" in str(failure.text)
    assert suite.get("failures") == "1" and suite.get("skipped") == "2"


def test_secrets_are_masked_in_the_record() -> None:
    with recording_upstream(broken) as upstream, proxied(SPEC, upstream.url) as (url, app):
        httpx.get(url + PATH, headers={"Authorization": KEY.decode(), "Cookie": "sid=s3cret"})
    junit = app.record.junit()
    assert "ck_test_" not in junit and "s3cret" not in junit
    assert "authorization: (masked)" in junit


# --- WebSocket upgrades ------------------------------------------------------------------------


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A WebSocket upstream saying back what it gets, and the path it was asked for."""
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": scope["raw_path"].decode()})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": "echo " + message.get("text", "")})


def test_websocket_upgrades_are_tunnelled_and_counted() -> None:
    from websockets.sync.client import connect

    with served(echo, ws="websockets") as upstream, proxied(SPEC, upstream) as (url, _app):
        ws_url = url.replace("http://", "ws://") + "/live/%zz/feed"
        with connect(ws_url, open_timeout=10) as socket:
            assert socket.recv(timeout=10) == "/live/%zz/feed"
            socket.send("hello")
            assert socket.recv(timeout=10) == "echo hello"
        report = httpx.get(url + "/__craftkit/report").json()
    assert report["websocket_upgrades"] == 1
    assert report["violations"] == 0  # not validated: what follows the upgrade is not HTTP


def test_a_websocket_tunnel_outlives_the_idle_and_head_timeouts() -> None:
    """The tunnel is no HTTP request: the protocol's idle timer (armed at connect) and head
    timer must not close it."""
    from websockets.sync.client import connect

    with (
        served(echo, ws="websockets") as upstream,
        proxied(SPEC, upstream, idle_timeout=0.5, head_timeout=0.5) as (url, _app),
        connect(url.replace("http://", "ws://") + "/live/feed", open_timeout=10) as socket,
    ):
        assert socket.recv(timeout=10) == "/live/feed"
        time.sleep(1.5)  # three idle timeouts with nothing sent either way
        socket.send("still there")
        assert socket.recv(timeout=10) == "echo still there"


def test_a_websocket_upgrade_to_a_down_upstream_is_a_502() -> None:
    with proxied(SPEC, f"http://127.0.0.1:{free_port()}") as (url, _app):
        answer = raw(
            url,
            b"GET /live HTTP/1.1\r\nhost: h\r\nconnection: upgrade\r\nupgrade: websocket\r\n"
            b"sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
    assert answer.startswith(b"HTTP/1.1 502"), answer
    assert b'"code":"bad_gateway"' in answer


# --- the server's hostile-request table, through the proxy -------------------------------------


@pytest.mark.parametrize("row", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_each_hostile_request_is_forwarded_byte_for_byte_or_refused(row: tuple) -> None:
    _label, path, kwargs, with_key, _status, _code = row
    target = path.replace("{R}", RENDER).replace("{KEY}", "ck_test_k").encode()
    method = kwargs.get("method", "GET").encode()
    body = kwargs.get("content", b"")
    headers = [b"host: h"]
    if with_key:
        headers.append(b"authorization: " + KEY)
    headers += [f"{k.lower()}: {v}".encode() for k, v in kwargs.get("headers", {}).items()]
    if body:
        headers.append(b"content-length: %d" % len(body))
    request = method + b" " + target + b" HTTP/1.1\r\n" + b"\r\n".join(headers)
    with recording_upstream(good) as upstream, proxied(SPEC, upstream.url) as (url, _app):
        answer = raw(url, request + b"\r\nconnection: close\r\n\r\n" + body)
    status = int(answer.split(b" ", 2)[1])
    if upstream.received:
        [received] = upstream.received
        lines = head_of(received)
        assert lines[0] == method + b" " + target + b" HTTP/1.1"
        assert lines[1 : 1 + len(headers)] == headers
        assert received.endswith(b"\r\n\r\n" + body)
        assert status == 200  # the upstream's answer, whatever the proxy thought of it
    else:  # refused by the bounds the proxy shares with serve, in the envelope
        assert status in (414, 431), answer[:300]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] in (
            "uri_too_long",
            "headers_too_large",
        )
