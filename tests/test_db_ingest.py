"""db/ingest.py and db/counters.py: counters always equal a recount, even under concurrency."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from db import queries
from db.connection import connection
from db.counters import counters_of, recount
from db.errors import EventRejected
from db.models import LINK_OPEN, EngagementEvent
from tests.test_db_queries import varied_events


def recounted() -> dict[tuple[str, str], int]:
    """The counters a full recount writes in their place."""
    with connection():
        recount()
        return counters_of()


def test_counters_follow_every_write_and_a_replay_adds_nothing(tenant, make_render, record_events):
    render = make_render(tenant["project"])
    events = varied_events(render, 120, seed=5)
    first = record_events(events)
    with connection():
        after_first = counters_of()
    again = record_events(events)  # events with ids are skipped; the others are new
    with_ids = sum(1 for e in events if "id" in e)
    assert (again.inserted, again.skipped) == (first.inserted - with_ids, with_ids)
    with connection():
        counters = counters_of()
        total = sum(n for (_, kind), n in counters.items() if kind != LINK_OPEN)
        assert total == EngagementEvent.select().count() == first.inserted + again.inserted
        assert counters != after_first
    assert recounted() == counters


def test_recount_repairs_one_render_or_all(tenant, make_render, record_events, database_url):
    a, b = make_render(tenant["project"]), make_render(tenant["project"])
    record_events(varied_events(a, 40, seed=1) + varied_events(b, 40, seed=2))
    with connection() as db:
        right = counters_of()
        db.execute_sql("UPDATE event_counter SET count = count + 7")
        db.execute_sql("DELETE FROM event_counter WHERE kind = 'viewed'")
        assert counters_of() != right

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, ["--database-url", database_url, "db", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    assert f"Recounted render {a}" in cli("recount", "--render", a)
    with connection():
        fixed = counters_of()
    assert {k: n for k, n in fixed.items() if k[0] == uuid.UUID(a).hex} == {
        k: n for k, n in right.items() if k[0] == uuid.UUID(a).hex
    }
    assert fixed != right  # b is still wrong
    assert "Recounted every render" in cli("recount")
    with connection():
        assert counters_of() == right


def test_concurrent_ingesting_processes_leave_counters_equal_to_a_recount(
    tenant, make_render, database_url, tmp_path
):
    """Four processes record four files at once into the same renders; files overlap in ids
    (same content, in the same order), so some events are skipped by whoever comes second."""
    renders = [make_render(tenant["project"]) for _ in range(3)]
    shared = [
        {**e, "id": f"ev_shared_{n}"} for n, e in enumerate(varied_events(renders[0], 300, seed=9))
    ]
    files = []
    for p in range(4):
        own = [
            e
            for n, render in enumerate(renders)
            for e in varied_events(render, 400, seed=100 * p + n)
            if "id" not in e  # ids of varied_events repeat across files, with other content
        ]
        path = tmp_path / f"events-{p}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in [*shared, *own]))
        files.append((path, len(own)))
    command = [sys.executable, "-c", "from cli.main import main; main()"]
    workers = [
        subprocess.Popen(
            [*command, "--database-url", database_url, "events", "record", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        for path, _ in files
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    skipped = [int(n) for out, _ in outputs for n in re.findall(r"skipped (\d+)", out)]
    # every file but the first to commit skips the shared events
    assert len(skipped) == len(files) and sum(skipped) == 3 * len(shared)
    with connection():
        stored = EngagementEvent.select().count()
        counters = counters_of()
    assert stored == len(shared) + sum(own for _, own in files)
    assert sum(n for (_, kind), n in counters.items() if kind != LINK_OPEN) == stored
    assert recounted() == counters


def test_a_stream_reports_shape_and_reference_problems_together(tenant, make_render):
    render = make_render(tenant["project"])
    stream: list[Any] = [
        queries.NewEvent(
            line=1,
            render_id=uuid.UUID(render),
            event_type="viewed",
            actor_kind="system",
            created_at_ms=1,
        ),
        (2, "eventType: required"),
        queries.NewEvent(
            line=3,
            render_id=uuid.uuid4(),
            event_type="viewed",
            actor_kind="system",
            created_at_ms=1,
        ),
    ]
    with connection():
        with pytest.raises(EventRejected) as rejected:
            queries.record_events(stream)
        assert [line for line, _ in rejected.value.problems] == [2, 3]
        assert rejected.value.total == 2
        assert EngagementEvent.select().count() == 0
        assert counters_of() == {}
