"""Prometheus metrics: what is counted, the /metrics text format, and several workers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from api.ops import metrics
from api.server.app import create_app
from tests.support import CRAFTKIT, live_serve

RENDERS = "/v1/renders/{}/engagement"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer, parsed as Prometheus parses it."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_are_counted_by_operation_and_status(
    client: TestClient, tenant: dict[str, Any], make_render: Callable[..., str]
) -> None:
    ok = {"operation": "getRenderEngagement", "status": "200"}
    missing = {"operation": "getRenderEngagement", "status": "404"}
    before = (sample("craftkit_requests_total", **ok), sample("craftkit_requests_total", **missing))
    timed = sample("craftkit_request_duration_seconds_count", operation="getRenderEngagement")
    render_id = make_render(tenant["project"])
    for _ in range(3):
        assert client.get(RENDERS.format(render_id), headers=tenant["headers"]).status_code == 200
    client.get(RENDERS.format(uuid.uuid4()), headers=tenant["headers"])
    assert sample("craftkit_requests_total", **ok) == before[0] + 3
    assert sample("craftkit_requests_total", **missing) == before[1] + 1
    assert (
        sample("craftkit_request_duration_seconds_count", operation="getRenderEngagement")
        == timed + 4
    )


def test_operational_routes_and_unknown_paths_have_bounded_labels(client: TestClient) -> None:
    unknown = {"operation": "-", "status": "404"}
    before = sample("craftkit_requests_total", **unknown)
    client.get(f"/no/such/{uuid.uuid4()}")
    client.get("/healthz")
    assert sample("craftkit_requests_total", **unknown) == before + 1
    assert sample("craftkit_requests_total", operation="/healthz", status="200") >= 1


def test_validation_failures_by_kind(client: TestClient, tenant: dict[str, Any]) -> None:
    before = sample("craftkit_validation_failures_total", kind="request")
    answer = client.get(RENDERS.format("not-a-uuid"), headers=tenant["headers"])
    assert answer.status_code == 404  # a malformed id names no render, refused by the contract
    client.get(RENDERS.format(uuid.uuid4()) + "?unknown=1", headers=tenant["headers"])  # ignored
    assert sample("craftkit_validation_failures_total", kind="request") == before + 1


def test_a_response_that_breaks_the_contract_is_counted(
    settings: Any, tenant: dict[str, Any], make_render: Callable[..., str], monkeypatch: Any
) -> None:
    import handlers.renders

    def get_render_engagement(id: str, **_: Any) -> Any:  # a handler with a bug
        return {"total": -1}, 200

    get_render_engagement.__module__ = handlers.renders.__name__  # the resolver's rule
    monkeypatch.setattr(handlers.renders, "get_render_engagement", get_render_engagement)
    app = create_app(settings)
    before = sample("craftkit_validation_failures_total", kind="response")
    with TestClient(app) as client:
        answer = client.get(
            RENDERS.format(make_render(tenant["project"])), headers=tenant["headers"]
        )
    assert answer.status_code == 500
    assert sample("craftkit_validation_failures_total", kind="response") == before + 1


def test_database_errors_are_counted_by_class(tmp_path: Path, settings: Any) -> None:
    broken = settings.__class__.from_env(
        {}, database_url=f"sqlite:///{tmp_path}/missing-dir/x.db", spec_path=settings.spec_path
    )
    before = sample("craftkit_database_errors_total", error="OperationalError")
    with TestClient(create_app(broken)) as client:
        answer = client.get(
            RENDERS.format(uuid.uuid4()), headers={"Authorization": "Bearer ck_test_" + "a" * 32}
        )
    assert answer.status_code == 503
    assert sample("craftkit_database_errors_total", error="OperationalError") == before + 1


def test_events_ingested_counter() -> None:
    before = sample("craftkit_events_ingested_total")
    metrics.count_events_ingested(5)
    assert sample("craftkit_events_ingested_total") == before + 5


def test_an_unknown_validation_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="got parameters"):
        metrics.count_validation_failure("parameters")


def test_metrics_endpoint_serves_the_text_format(client: TestClient) -> None:
    client.get("/healthz")
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = scraped(answer.text)
    assert samples[("craftkit_requests_total", (("operation", "/healthz"), ("status", "200")))] >= 1
    assert client.head("/metrics").content == b""
    refused = client.post("/metrics")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    assert refused.json()["error"]["code"] == "method_not_allowed"


def test_two_workers_count_together_and_clean_up(tmp_path: Path) -> None:
    """`craftkit serve --workers 2`: /metrics from either worker adds up both workers' counts."""
    subprocess.run(
        [str(CRAFTKIT), "demo"], cwd=tmp_path, check=True, capture_output=True, timeout=60
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch), "CRAFTKIT_LOG_FORMAT": "json"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with live_serve("--workers", "2", cwd=tmp_path, env=env) as server:
        (metrics_dir,) = scratch.iterdir()
        assert metrics_dir.name.startswith("craftkit-metrics-")
        # A new connection each time, until both workers have answered (the kernel picks).
        sent = 0
        while len(list(metrics_dir.glob("counter_*.db"))) < 2 and sent < 300:
            assert httpx.get(server.url + RENDERS.format(uuid.uuid4())).status_code == 401
            sent += 1
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2, "one worker took every request"
        totals = set()
        for _ in range(6):  # either worker may answer /metrics: both count every request
            samples = scraped(httpx.get(server.url + "/metrics").text)
            key = (
                "craftkit_requests_total",
                (("operation", "getRenderEngagement"), ("status", "401")),
            )
            totals.add(samples[key])
    assert totals == {float(sent)}
    assert list(scratch.iterdir()) == []  # the metrics directory is removed on exit


def test_one_worker_counts_in_its_own_memory(tmp_path: Path) -> None:
    """`craftkit serve` with one worker writes no metric files: its own registry counts."""
    subprocess.run(
        [str(CRAFTKIT), "demo"], cwd=tmp_path, check=True, capture_output=True, timeout=60
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with live_serve(cwd=tmp_path, env={"TMPDIR": str(scratch)}) as server:
        for _ in range(3):
            assert httpx.get(server.url + RENDERS.format(uuid.uuid4())).status_code == 401
        text = httpx.get(server.url + "/metrics").text
        assert list(scratch.iterdir()) == []  # no craftkit-metrics-* directory
    samples = scraped(text)
    key = (
        "craftkit_requests_total",
        (("operation", "getRenderEngagement"), ("status", "401")),
    )
    assert samples[key] == 3.0
    assert any(name.startswith("process_") for name, _ in samples)  # a one-process registry


def test_events_recorded_into_a_servers_metrics_directory_are_counted(tmp_path: Path) -> None:
    """`events record` with the server's PROMETHEUS_MULTIPROC_DIR: /metrics adds them up."""
    import json as jsonlib

    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    url = f"sqlite:///{tmp_path / 'craftkit.db'}"
    subprocess.run([str(CRAFTKIT), "--database-url", url, "demo"], check=True, capture_output=True)
    event = {
        "renderId": "5f0c6a52-4d0e-4b8a-9a57-1d3c2e7b9f10",
        "eventType": "printed",
        "actorKind": "recipient",
        "createdAt": "2026-06-21T10:10:00Z",
    }
    lines = "\n".join(jsonlib.dumps({**event, "id": f"ev_m{n}"}) for n in range(3)) + "\n"
    recorded = subprocess.run(
        [str(CRAFTKIT), "--database-url", url, "events", "record", "-"],
        input=lines, env=env, text=True, capture_output=True, check=True,
    )  # fmt: skip
    assert "Recorded 3 events" in recorded.stdout
    scrape = "from api.ops.metrics import exposition; print(exposition()[0].decode())"
    exposed = subprocess.run(
        [sys.executable, "-c", scrape],
        env=env, text=True, capture_output=True, check=True,
    )  # fmt: skip
    assert scraped(exposed.stdout)[("craftkit_events_ingested_total", ())] == 3.0


def test_a_worker_file_not_yet_written_does_not_break_a_scrape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker creates its file empty, then writes it: a scrape in between once got a 500."""
    from prometheus_client.multiprocess import MultiProcessCollector

    (tmp_path / "counter_4242.db").write_bytes(b"")
    with pytest.raises(Exception):  # noqa: B017 - what prometheus-client alone does
        MultiProcessCollector.merge([str(tmp_path / "counter_4242.db")])
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain") and b"craftkit_" not in body
