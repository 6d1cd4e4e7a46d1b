"""cli/demo.py: `craftkit demo` prints a curl that works and writes its key file safely: mode
600, never through a symlink."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.server.app import create_app
from db import keys
from tests.support import craftkit, event_count, ok


@pytest.fixture
def demo_db(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "craftkit.db"
    return f"sqlite:///{path}", path.with_name("craftkit.db.demo-key")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_key_file_is_created_with_mode_600(demo_db: tuple[str, Path]) -> None:
    url, key_file = demo_db
    out = craftkit(url, "demo").stdout
    assert _mode(key_file) == 0o600
    assert key_file.read_text().strip() in out


def test_an_existing_644_file_is_replaced_with_mode_600(demo_db: tuple[str, Path]) -> None:
    url, key_file = demo_db
    key_file.write_text("ck_test_not-a-stored-key\n")
    key_file.chmod(0o644)
    out = craftkit(url, "demo").stdout
    assert _mode(key_file) == 0o600
    assert key_file.read_text().strip() in out


def test_a_reused_key_in_a_644_file_is_tightened_to_600(demo_db: tuple[str, Path]) -> None:
    url, key_file = demo_db
    craftkit(url, "demo")
    key = key_file.read_text()
    key_file.chmod(0o644)
    craftkit(url, "demo")
    assert _mode(key_file) == 0o600 and key_file.read_text() == key


def test_a_symlink_is_replaced_and_its_target_untouched(
    demo_db: tuple[str, Path], tmp_path: Path
) -> None:
    url, key_file = demo_db
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    target.chmod(0o644)
    os.symlink(target, key_file)
    craftkit(url, "demo")
    assert not key_file.is_symlink()
    assert _mode(key_file) == 0o600
    assert key_file.read_text().startswith("ck_test_")
    assert target.read_text() == "precious\n" and _mode(target) == 0o644


def demo_curl(output: str) -> tuple[str, str]:
    match = re.search(r"curl -s -H 'Authorization: Bearer (\S+)' (\S+)", output)
    assert match, output
    return match.group(1), match.group(2)


def test_demo_prints_a_curl_that_works_and_reuses_it_when_run_again(cli, settings):
    first = ok(cli("demo"))
    assert "60 new events" in first
    key, url = demo_curl(first)
    assert url.startswith("http://127.0.0.1:8080/v1/renders/")

    second = ok(cli("demo"))
    assert "0 new events" in second
    assert demo_curl(second) == (key, url)
    assert event_count() == 60

    path = url.removeprefix("http://127.0.0.1:8080")
    with TestClient(create_app(settings)) as client:
        resp = client.get(path, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 60 == sum(body["counts"].values())
    assert all(body["counts"][t] > 0 for t in body["counts"])
    assert 0 < body["linkOpens"] < body["counts"]["viewed"]
    assert len(body["recent"]) == 20


def test_demo_mints_a_new_key_when_the_saved_one_was_revoked(cli, database_url):
    key, _ = demo_curl(ok(cli("demo")))
    ok(cli("keys", "revoke", key))
    new_key, _ = demo_curl(ok(cli("demo")))
    assert new_key != key
    assert keys.key_mode(new_key) == "test"
