"""cli/events.py: `craftkit events record`, every bad line named, all or nothing."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from starlette.testclient import TestClient

from api.server.app import create_app
from db.connection import connection
from db.models import Share
from tests.support import ROOT, event_count, failed, line, ok


def test_events_record_stores_a_file_and_replays_idempotently(cli, acme, tmp_path, settings):
    share = str(uuid.uuid4())
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(
            [
                line(acme["render"], id="ev_a1", shareId=share, metadata={"page": 2}),
                "",
                line(acme["render"], id="ev_a2", eventType="downloaded", metadata=[1, "x"]),
                line(acme["render"], eventType="printed", actorKind="partner"),
            ]
        )
        + "\n"
    )
    assert "Recorded 3 events, skipped 0" in ok(cli("events", "record", str(path)))
    path.write_text(line(acme["render"], id="ev_a1", shareId=share, metadata={"page": 2}) + "\n")
    assert "Recorded 0 events, skipped 1" in ok(cli("events", "record", str(path)))
    assert event_count() == 3
    with connection():
        assert Share.select().count() == 1

    key = ok(cli("keys", "create", "--project", "acme")).strip()
    with TestClient(create_app(settings)) as client:
        body = client.get(
            f"/v1/renders/{acme['render']}/engagement",
            headers={"Authorization": f"Bearer {key}"},
        ).json()
    assert body["counts"]["viewed"] == 1 and body["linkOpens"] == 1
    assert body["counts"]["downloaded"] == 1 and body["counts"]["printed"] == 1
    assert {e["id"] for e in body["recent"]} >= {"ev_a1", "ev_a2"}


def test_events_record_reports_progress_as_plain_lines_when_not_on_a_terminal(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line(acme["render"]) + "\n" for _ in range(2500)))
    result = cli("events", "record", "--progress-every", "0", str(path))
    summary = ok(result)
    progress = [text for text in result.stderr.splitlines() if text.startswith("… ")]
    shape = r"… [\d,]+ lines \(\d+% of the file\), [\d,]+ lines/s"
    assert progress and all(re.fullmatch(shape, text) for text in progress), result.stderr
    assert [text.split()[1] for text in progress] == ["1,000", "2,000"]
    assert "\x1b[" not in result.stderr  # no terminal escapes in a log
    assert re.search(
        r"Recorded 2500 events, skipped 0 already stored, rejected 0 lines, in [\d.]+ s "
        r"\([\d,]+ events/s\)",
        summary,
    )
    quiet = cli("events", "record", str(path))  # every 5 s by default: none for a small file
    assert "… " not in quiet.stderr and ok(quiet)


def test_events_record_reads_stdin(cli, acme):
    result = cli("events", "record", "-", input=line(acme["render"]) + "\n")
    assert "Recorded 1 event," in ok(result)
    assert event_count() == 1


def test_bad_lines_are_named_and_nothing_is_written(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(
            [
                line(acme["render"], id="ev_ok"),
                line(acme["render"], eventType="teleported"),
                "{not json",
                line(acme["render"], createdAt="2026-06-21T10:00:00"),
                json.dumps({"renderId": acme["render"], "colour": "red"}),
            ]
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "nothing recorded" in message
    assert "line 2: eventType: 'teleported' is not one of" in message
    assert "line 3: not valid JSON" in message
    assert "line 4: createdAt:" in message and "timezone" in message
    assert "line 5: eventType: required" in message and "colour: unknown field" in message
    assert "line 1" not in message
    assert event_count() == 0


def test_a_rejected_event_rolls_back_the_whole_batch(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        "\n".join(
            [
                line(acme["render"], id="ev_first"),
                line(acme["render"], id="ev_second"),
                line(str(uuid.uuid4()), id="ev_third"),
            ]
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "line 3: renderId" in message and "does not exist" in message
    assert event_count() == 0


def test_same_id_with_other_content_is_an_error(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(line(acme["render"], id="ev_x") + "\n")
    ok(cli("events", "record", str(path)))
    path.write_text(
        line(acme["render"], id="ev_new")
        + "\n"
        + line(acme["render"], id="ev_x", eventType="downloaded")
        + "\n"
    )
    message = failed(cli("events", "record", str(path)))
    assert f"line 2: id ev_x of render {acme['render']} is already stored with other content" in (
        message
    )
    assert event_count() == 1  # ev_new was not written either

    path.write_text(
        line(acme["render"], id="ev_y") + "\n" + line(acme["render"], id="ev_y", sourceIp="::1")
    )
    assert f"line 2: id ev_y of render {acme['render']} appears on line 1 with other content" in (
        failed(cli("events", "record", str(path)))
    )
    assert event_count() == 1

    # The same, batches apart: the earlier copy is found in the database, in this transaction.
    filler = [line(acme["render"]) for _ in range(600)]
    first, again = line(acme["render"], id="ev_z"), line(acme["render"], id="ev_z", sourceIp="::1")
    path.write_text("\n".join([first, *filler, again]) + "\n")
    assert (
        f"line 602: id ev_z of render {acme['render']} appears earlier in this file with other "
        "content" in failed(cli("events", "record", str(path)))
    )
    assert event_count() == 1


def test_missing_file_is_a_usage_error(cli, tmp_path):
    result = cli("events", "record", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "No such file or directory" in result.stderr


def test_every_problem_of_a_line_is_named_at_once(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        json.dumps(
            {
                "renderId": "not-a-uuid",
                "eventType": "viewed",
                "actorKind": "robot",
                "createdAt": "2026-06-21T10:00:00Z",
                "extra": 1,
            }
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "extra: unknown field" in message
    assert "renderId: 'not-a-uuid' is not a UUID" in message
    assert "actorKind: 'robot' is not one of" in message


def test_every_stored_state_conflict_is_named_at_once(cli, acme, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(line(acme["render"], id="ev_1") + "\n")
    ok(cli("events", "record", str(path)))
    path.write_text(
        "\n".join(
            [
                line(str(uuid.uuid4())),
                line(acme["render"], id="ev_1", eventType="printed"),
                line(acme["render"], id="ev_dup"),
                line(acme["render"], id="ev_dup", eventType="printed"),
                line(acme["render"], id="ev_fine"),
            ]
        )
    )
    message = failed(cli("events", "record", str(path)))
    assert "line 1: renderId" in message and "does not exist" in message
    render = acme["render"]
    assert f"line 2: id ev_1 of render {render} is already stored with other content" in message
    assert f"line 4: id ev_dup of render {render} appears on line 3 with other content" in message
    assert "line 5" not in message
    assert event_count() == 1


def test_the_readme_events_line_records_on_the_demo_database_and_replays(cli, tmp_path):
    readme = (ROOT / "README.md").read_text()
    sample = re.search(r"```json\n(\{.+\})\n```", readme)
    assert sample, "README shows an events line"
    ok(cli("demo"))
    path = tmp_path / "readme.jsonl"
    path.write_text(sample.group(1) + "\n")
    assert "Recorded 1 event, skipped 0" in ok(cli("events", "record", str(path)))
    assert "Recorded 0 events, skipped 1" in ok(cli("events", "record", str(path)))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"renderId": "x" "eventType": "viewed"}', "Expecting ',' delimiter at column 18"),
        (
            '{"renderId": "x",',
            "Expecting property name enclosed in double quotes at the end of the line (column 18)",
        ),
        ('{"renderId": ', "Expecting value at the end of the line (column 14)"),
    ],
)
def test_json_errors_name_the_column_of_the_line(cli, acme, tmp_path, text, where):
    path = tmp_path / "events.jsonl"
    path.write_text(line(acme["render"]) + "\n" + text + "\n" + line(acme["render"]) + "\n")
    message = failed(cli("events", "record", str(path)))
    assert f"line 2: not valid JSON ({where})" in message


def test_a_huge_line_is_refused_before_it_is_buffered(cli, acme, tmp_path):
    """20 MB with no newline: refused at its first 64 KiB, never read into memory whole."""
    import tracemalloc

    source = tmp_path / "huge.jsonl"
    with source.open("wb") as out:
        chunk = b"x" * (1024 * 1024)
        for _ in range(20):
            out.write(chunk)
    tracemalloc.start()
    try:
        result = cli("events", "record", str(source))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "line 1: longer than 65536 bytes" in failed(result)
    assert peak < 4 * 1024 * 1024, peak  # the line is 20 MB; a bounded read holds ~64 KiB
    assert event_count() == 0


def test_a_long_line_between_good_ones_is_named_and_the_next_line_counted(cli, acme, tmp_path):
    render = acme["render"]
    source = tmp_path / "events.jsonl"
    long_line = line(render, userAgent="x" * 70_000)
    source.write_text("\n".join([line(render), long_line, line(render), '{"bad"']) + "\n")
    message = failed(cli("events", "record", str(source)))
    assert "line 2: longer than 65536 bytes" in message
    assert "line 4: not valid JSON" in message
    assert "line 3" not in message
    assert event_count() == 0
