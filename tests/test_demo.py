"""cli/demo.py: `craftkit demo` writes its key file safely: mode 600, never through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support import craftkit


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
