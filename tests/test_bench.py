"""The benchmark's parts: the 3.0 copy, the reference servers, wrk's summary, the report.

Speed itself is never asserted here; these check that the bench compares like with like. The
FastAPI references need the fastapi package (and psycopg_pool on PostgreSQL), in the test
extra; without them those tests skip.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from api.server.app import create_app
from bench import plot, reference, report, spec30, throughput, wrk
from bench.throughput import Server, targets
from cli.demo import DEMO_PROJECT, DEMO_RENDER_ID
from db import queries
from db.connection import connection
from tests.conftest import ROOT
from tests.support import ok

CONTRACT = yaml.safe_load((ROOT / "openapi.yaml").read_text())
PATH = "/v1/renders/5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10/engagement"
KEY = "ck_test_bench"
BODY = json.dumps(
    CONTRACT["paths"]["/v1/renders/{id}/engagement"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["example"],
    separators=(",", ":"),
).encode()


# --- the 3.0 copy ---------------------------------------------------------------------------


def test_the_30_copy_is_a_valid_30_document_and_the_contract_is_untouched():
    before = copy.deepcopy(CONTRACT)
    copied = spec30.to_openapi30(CONTRACT)
    assert before == CONTRACT
    assert copied["openapi"] == "3.0.3"
    validate(copied)  # raises on an invalid 3.0 document
    item = copied["components"]["schemas"]["EngagementSummary"]["properties"]["recent"]["items"]
    assert item["properties"]["shareId"] == {"type": "string", "nullable": True}
    assert copied["components"]["securitySchemes"]["bearerApiKey"]["x-bearerInfoFunc"] == (
        "bench.reference.token_info"
    )


def test_31_keywords_get_their_30_spelling_and_names_are_left_alone():
    schema = {
        "type": "object",
        "properties": {
            "const": {"const": 3},
            "n": {"type": "number", "exclusiveMinimum": 0},
            "type": {"type": ["integer", "null"]},
        },
        "example": {"type": ["a", "b"]},
    }
    out = spec30._translate(schema, "")
    assert out["properties"]["const"] == {"enum": [3]}
    assert out["properties"]["n"] == {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    assert out["properties"]["type"] == {"type": "integer", "nullable": True}
    assert out["example"] == {"type": ["a", "b"]}  # data, not a schema


@pytest.mark.parametrize(
    "schema",
    [
        {"type": ["string", "integer"]},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"$defs": {"a": {}}},
    ],
)
def test_31_constructs_without_a_30_spelling_are_refused(schema):
    with pytest.raises(spec30.Not30):
        spec30._translate(schema, "")


# --- the reference servers ------------------------------------------------------------------


@pytest.fixture
def reference_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    body = tmp_path / "body.json"
    body.write_bytes(BODY)
    spec = tmp_path / "openapi30.yaml"
    spec.write_text(yaml.safe_dump(spec30.to_openapi30(CONTRACT)))
    monkeypatch.setenv(reference.BODY_ENV, str(body))
    monkeypatch.setenv(reference.SPEC30_ENV, str(spec))
    monkeypatch.setenv(reference.KEY_ENV, KEY)
    return body


@pytest.mark.parametrize("factory", ["stock_flask", "stock_async", "bare_starlette"])
def test_every_reference_server_sends_the_same_bytes(reference_env, factory):
    with TestClient(getattr(reference, factory)()) as client:
        resp = client.get(PATH, headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 200
    assert resp.content == BODY
    assert resp.headers["content-type"] == "application/json"


@pytest.mark.parametrize("factory", ["stock_flask", "stock_async"])
def test_stock_connexion_checks_the_token(reference_env, factory):
    with TestClient(getattr(reference, factory)()) as client:
        wrong_key = client.get(PATH, headers={"Authorization": "Bearer ck_test_other"})
        no_key = client.get(PATH)
    assert wrong_key.status_code == no_key.status_code == 401


def test_stock_flask_validates_responses_and_the_floor_does_not(reference_env):
    reference_env.write_bytes(json.dumps({"counts": {}}).encode())  # no linkOpens, total, recent
    headers = {"Authorization": f"Bearer {KEY}"}
    with TestClient(reference.stock_flask(), raise_server_exceptions=False) as client:
        assert client.get(PATH, headers=headers).status_code == 500
    with TestClient(reference.stock_async()) as client:
        assert client.get(PATH, headers=headers).status_code == 200


# --- the FastAPI references -----------------------------------------------------------------


@pytest.fixture
def fastapi_reference() -> ModuleType:
    pytest.importorskip("fastapi")
    from bench import fastapi_reference

    return fastapi_reference


def test_the_fastapi_references_answer_craftkits_bytes_and_its_401_and_404(
    backend, database_url, settings, cli, make_render, fastapi_reference, monkeypatch
):
    """On the demo, as the bench seeds it: the same bytes, the key and the tenant checked."""
    key = re.search(r"Bearer (\S+)'", ok(cli("demo"))).group(1)  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {key}"}
    with connection():
        demo = queries.get_project(DEMO_PROJECT)
    no_events = make_render(demo, "test")  # its counters: one row of NULLs (the LEFT JOIN)
    elsewhere = [make_render(), make_render(demo, "live"), str(uuid.uuid4())]
    paths = [f"/v1/renders/{render}/engagement" for render in (DEMO_RENDER_ID, no_events)]
    with TestClient(create_app(settings)) as craftkit:
        served = [craftkit.get(path, headers=headers) for path in paths]
    assert [answer.status_code for answer in served] == [200, 200]
    monkeypatch.setenv(reference.DATABASE_ENV, database_url)
    if backend == "sqlite":
        factories = ["fastapi_sqlite", "fastapi_sqlite_threads"]
    else:
        pytest.importorskip("psycopg_pool")
        factories = ["fastapi_postgres"]
    for name in factories:
        with TestClient(getattr(fastapi_reference, name)()) as client:
            for path, craftkits in zip(paths, served, strict=True):
                answer = client.get(path, headers=headers)
                assert (answer.status_code, answer.content) == (200, craftkits.content), name
            wrong = {"Authorization": f"Bearer ck_test_{'x' * 32}"}
            assert client.get(paths[0], headers=wrong).status_code == 401, name
            assert client.get(paths[0]).status_code == 401, name
            for render in elsewhere:
                answer = client.get(f"/v1/renders/{render}/engagement", headers=headers)
                assert answer.status_code == 404, (name, render)
                assert answer.json()["error"]["code"] == "not_found"


def test_the_fixed_fastapi_reference_answers_through_its_response_model(
    reference_env, fastapi_reference
):
    with TestClient(fastapi_reference.fastapi_fixed()) as client:
        answer = client.get(PATH)
    assert (answer.status_code, answer.content) == (200, BODY)
    assert answer.headers["content-type"] == "application/json"
    reference_env.write_bytes(json.dumps({"counts": {}}).encode())  # no linkOpens, total, recent
    app = fastapi_reference.fastapi_fixed()
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get(PATH).status_code == 500  # the model refused the answer


def test_the_fastapi_timestamps_are_craftkits():
    pytest.importorskip("fastapi")
    from bench.fastapi_reference import created_at
    from handlers.wire import MAX_MS, MIN_MS, iso_timestamp

    for ms in (MIN_MS, -1, 0, 1, 1_781_942_400_261, 1_781_942_400_999, MAX_MS):
        assert created_at(ms) == iso_timestamp(ms)


# --- wrk and the report ---------------------------------------------------------------------


def summary_line(**changes: int) -> str:
    data = {
        "requests": 5000,
        "duration_us": 10_000_000,
        "bytes": 1,
        "connect": 0,
        "read": 0,
        "write": 0,
        "status": 0,
        "timeout": 0,
        "p50_us": 1500,
        "p99_us": 9000,
        "max_us": 12000,
    }
    return "Running 10s test\n" + wrk.MARKER + json.dumps({**data, **changes}) + "\n"


def test_wrk_summary_is_read_from_the_done_hook():
    result = wrk.parse(summary_line())
    assert (result.rate, result.p50, result.p99, result.errors) == (500, 0.0015, 0.009, 0)
    assert wrk.parse(summary_line(status=3, timeout=1)).errors == 4
    with pytest.raises(wrk.WrkError):
        wrk.parse("Running 10s test\n  Latency 1ms\n")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make wrk)")
def test_a_wrk_run_in_which_nothing_was_answered_is_an_error_not_a_0_ms_p50():
    import socket

    with socket.socket() as silent:  # connections wait in its backlog, never answered
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with pytest.raises(wrk.WrkError, match="no request was answered"):
            wrk.run(url, threads=1, connections=1, seconds=1, headers={}, allow_errors=True)


def measured(letter: str, rates: list[float], p99: float = 0.05, p50: float = 0.001) -> Server:
    server = Server(letter, f"server {letter}", [])
    server.loaded = [wrk.Result(int(r * 10), 10.0, 0.01, p99, 0) for r in rates]
    server.single = [wrk.Result(100, 1.0, p50, p50, 0) for _ in rates]
    return server


def test_targets_are_issue_22s_met_or_by_how_much_missed():
    servers = {
        "a": measured("a", [1000, 1100, 1200], p99=0.05, p50=0.001),
        "d": measured("d", [1050, 1050, 1050]),
        "g": measured("g", [1000, 1000, 1000], p99=0.04),
        "h": measured("h", [550, 550, 550]),
        "p": measured("p", [500, 500, 500]),
        "q": measured("q", [600, 600, 600]),
    }
    text = "\n".join(targets(servers))
    assert "Targets (issue 22):" in text
    assert "| (a) req/s ÷ (g) | 1.10 | ≥ 1 | met |" in text
    assert "| (a) req/s ÷ (d) | 1.05 | ≥ 1.1 | **missed**: 0.95x the target |" in text
    assert "| (a) p99 ÷ (g) p99 | 1.25 | ≤ 1 | **missed**: 1.25x the target |" in text
    assert (
        "| (a) p50 with one connection, ms | 1.00 | ≤ 0.4 | **missed**: 2.50x the target |" in text
    )
    assert "| (p) req/s ÷ (q) | 0.83 | ≥ 1 | **missed**: 0.83x the target |" in text
    assert "| (p) req/s ÷ (a): PostgreSQL over SQLite | 0.45 | - | reported |" in text
    assert "| (a) req/s ÷ (h) | 2.00 | - | reported |" in text
    assert "| (g) p50 with one connection, ms | 1.00 | - | reported |" in text
    assert "(i) p50" not in text  # (i) did not run


def test_targets_of_servers_not_run_are_left_out():
    text = "\n".join(targets({"a": measured("a", [1000], p50=0.0003)}))
    assert "| (a) p50 with one connection, ms | 0.30 | ≤ 0.4 | met |" in text
    assert "(g)" not in text and "(d)" not in text and "(p)" not in text


def test_the_section_names_postgresql_by_a_variable_and_says_why_it_was_left_out(tmp_path):
    import argparse

    secret = "postgresql://bench:s3cret@db.internal:5432/craftkit_bench"
    servers = {letter: measured(letter, [1000]) for letter in "agpq"}
    servers["p"].argv = ["/x/.venv/bin/craftkit", "--database-url", secret, "serve"]
    servers["q"].env = {"CRAFTKIT_BENCH_DATABASE_URL": secret}
    args = argparse.Namespace(rounds=1, duration=1, single=1, warmup=1, profile=0)
    text = "\n".join(
        throughput.section(args, list(servers.values()), True, "async", tmp_path).lines
    )
    assert "s3cret" not in text and "db.internal" not in text
    assert "craftkit --database-url $POSTGRES_URL serve --port $PORT" in text
    assert "# with CRAFTKIT_BENCH_DATABASE_URL=$POSTGRES_URL" in text
    assert "craftkit --database-url $POSTGRES_URL demo" in text
    assert "| req/s ÷ (c) | req/s ÷ (d) | req/s ÷ (g) | p99 ÷ (g) |" in text
    why = (False, "PostgreSQL did not answer (connection refused)")
    left_out = throughput.section(args, [servers["a"]], True, "async", tmp_path, None, why)
    assert "(p), (r) and (q) left out: PostgreSQL did not answer (connection refused)." in (
        left_out.lines
    )


def test_spread_is_median_and_range():
    assert report.spread([3.0, 1.0, 2.0]) == "2 (1-3)"
    assert report.spread([0.0012], 1000, 2) == "1.20"


def test_the_throughput_figure_is_drawn(tmp_path):
    bars = [
        plot.Bar("(a) craftkit", "a", [900, 1000], True),
        plot.Bar("(c) stock", "c", [200, 220], False),
        plot.Bar("(g) FastAPI", "g", [1200, 1300], False),
        plot.Bar("(d) floor", "d", [1500, 1600], False),
    ]
    path = plot.throughput(bars, tmp_path / "t.png")
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make wrk)")
def test_make_bench_runs_end_to_end_briefly(tmp_path: Any):
    """Three servers, one short round: the harness starts, loads, reports and stops them."""
    pytest.importorskip("fastapi")
    out = tmp_path / "results.md"
    args = ["--only", "throughput", "--servers", "aeg", "--rounds", "1", "--duration", "1"]
    args += ["--single", "1", "--warmup", "1", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # the servers' command lines name it
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert "| (a) craftkit serve" in text and "| (e) bare Starlette route" in text
    assert "| (g) FastAPI, async def, sqlite3 |" in text
    assert "**no**" not in text  # every server sent the same bytes
    assert (tmp_path / "throughput.png").exists()
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert leftover.stdout == ""  # every server it started is gone


def test_a_profile_is_summed_by_component():
    from bench.profile import OTHER, summarise

    raw = "\n".join(
        [
            "<module> (craftkit:8);run (uvicorn/main.py:1);run (db/prepared.py:57) 5",
            "<module> (craftkit:8);run (uvicorn/main.py:1);iso_timestamp (handlers/wire.py:16) 2",
            "<module> (craftkit:8);sub (re/__init__.py:185) 1",
            "run (uvicorn/main.py:1);decorate (connexion/decorators/main.py:77);sub (re/x.py:1) 2",
            "not a sample line",
        ]
    )
    rows = {name: (own, through) for name, own, through in summarise(raw)}
    assert rows["database (db/, Peewee, sqlite3, psycopg2)"] == (50.0, 50.0)
    assert rows["handler: shaping the answer (handlers/)"] == (20.0, 20.0)
    assert rows["Connexion (routing, decorators, validation plumbing)"] == (20.0, 20.0)  # its re
    assert rows["uvicorn and the HTTP parser"] == (0.0, 90.0)
    assert rows[OTHER] == (10.0, 0.0)
    assert summarise("") == []


def test_the_proxy_targets_say_met_or_by_how_much_missed():
    from bench import proxy

    servers = {
        "u": measured("u", [4000, 4100, 4200], p50=0.0001),
        "p": measured("p", [2000, 2100, 2200], p50=0.0004),
        "q": measured("q", [500, 600, 700], p50=0.002),
    }
    text = "\n".join(proxy.targets(servers))
    assert "| (p) p50 added with one connection, ms | 0.300 | ≤ 0.5 | met |" in text
    assert "| (p) req/s ÷ (q) req/s | 3.50 | ≥ 3 | met |" in text
    servers["p"] = measured("p", [1000, 1000, 1000], p50=0.0011)
    text = "\n".join(proxy.targets(servers))
    assert "| 1.000 | ≤ 0.5 | **missed**: 2.00x the target |" in text
    assert "| 1.67 | ≥ 3 | **missed**: 0.56x the target |" in text


def test_the_proxy_section_shows_commands_without_this_machines_paths():
    import argparse

    from bench import proxy

    servers = [
        measured("u", [4000], p50=0.0001),
        measured("p", [2000], p50=0.0004),
        measured("q", [500], p50=0.002),
    ]
    servers[0].url = "http://127.0.0.1:4321"
    servers[1].argv = [
        "/x/.venv/bin/craftkit",
        "proxy",
        "--spec",
        str(proxy.SPEC),
        "--upstream",
        servers[0].url,
    ]
    servers[2].argv = [
        "/home/me/.cache/craftkit-prism/node_modules/.bin/prism",
        "proxy",
        str(proxy.SPEC),
        servers[0].url,
    ]
    args = argparse.Namespace(proxy_rounds=1, proxy_duration=8, proxy_single=3, proxy_warmup=2)
    text = "\n".join(proxy.section(args, servers).lines)
    assert (
        "craftkit proxy --spec openapi.yaml --upstream http://127.0.0.1:$UPSTREAM --port $PORT"
        in text
    )
    assert "prism proxy openapi.yaml http://127.0.0.1:$UPSTREAM --port $PORT" in text
    assert "/home/me" not in text and str(ROOT) not in text
