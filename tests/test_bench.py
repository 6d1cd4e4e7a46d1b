"""The benchmark's parts: the 3.0 copy, the reference servers, wrk's summary, the report.

Speed itself is never asserted here; these check that the bench compares like with like.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from bench import plot, reference, report, spec30, wrk
from bench.throughput import Server, targets
from tests.conftest import ROOT

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


def measured(letter: str, rates: list[float], p99: float = 0.05, p50: float = 0.001) -> Server:
    server = Server(letter, f"server {letter}", [])
    server.loaded = [wrk.Result(int(r * 10), 10.0, 0.01, p99, 0) for r in rates]
    server.single = [wrk.Result(100, 1.0, p50, p50, 0) for _ in rates]
    return server


def test_targets_say_met_or_by_how_much_missed():
    servers = {
        "a": measured("a", [900, 950, 1000]),
        "c": measured("c", [200, 210, 220]),
        "d": measured("d", [1500, 1500, 1600], p99=0.02),
        "f": measured("f", [1000, 1100, 1200]),
    }
    text = "\n".join(targets(servers))
    assert "| (a) req/s ÷ (c) | 4.52 | ≥ 3 | met |" in text
    assert "| (a) req/s ÷ (d) | 0.63 | ≥ 0.6 | met |" in text
    assert "| (a) p99 ÷ (d) p99 | 2.50 | ≤ 1.5 | **missed**: 1.67x the target |" in text
    assert "| (f) req/s ÷ (a) | 1.16 | ≥ 1.6 | **missed**: 0.72x the target |" in text


def test_spread_is_median_and_range():
    assert report.spread([3.0, 1.0, 2.0]) == "2 (1-3)"
    assert report.spread([0.0012], 1000, 2) == "1.20"


def test_the_throughput_figure_is_drawn(tmp_path):
    bars = [
        plot.Bar("(a) craftkit", "a", [900, 1000], True),
        plot.Bar("(c) stock", "c", [200, 220], False),
        plot.Bar("(d) floor", "d", [1500, 1600], False),
    ]
    path = plot.throughput(bars, tmp_path / "t.png")
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make wrk)")
def test_make_bench_runs_end_to_end_briefly(tmp_path: Any):
    """Two servers, one short round: the harness starts, loads, reports and stops them."""
    out = tmp_path / "results.md"
    args = ["--only", "throughput", "--servers", "ae", "--rounds", "1", "--duration", "1"]
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
