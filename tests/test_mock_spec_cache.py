"""api/mock/spec_cache.py: a document loaded and validated before is read back parsed; edited
bytes, an invalid document or a broken cache entry never stand in for the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from connexion.exceptions import InvalidSpecification

from api.mock import spec_cache
from api.mock.app import MockSpecification, ValidatedBefore
from tests.support import ROOT

PETSTORE = ROOT / "tests" / "data" / "specs" / "oai-3.0-petstore.yaml"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(spec_cache.ENV, str(folder))
    return folder


def test_a_second_load_of_the_same_bytes_comes_from_the_cache(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "petstore.yaml"
    spec.write_bytes(PETSTORE.read_bytes())
    first = MockSpecification.from_path(spec)
    assert type(first) is MockSpecification and len(list(cache.iterdir())) == 1
    second = MockSpecification.from_path(spec)
    assert type(second) is ValidatedBefore
    assert second.raw == first.raw and second.spec == first.spec
    # Edited bytes are another entry: read and validated again, here refused.
    spec.write_text(PETSTORE.read_text().replace("openapi: 3.0.0", "openapi: 9.9.9"))
    with pytest.raises(InvalidSpecification, match=r"9\.9\.9 is not supported"):
        MockSpecification.from_path(spec)
    assert len(list(cache.iterdir())) == 1  # an invalid document is never stored


def test_a_broken_entry_is_skipped(cache: Path) -> None:
    MockSpecification.from_path(PETSTORE)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not marshal data")
    assert type(MockSpecification.from_path(PETSTORE)) is MockSpecification


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(spec_cache.ENV, "off")
    assert spec_cache.directory() is None
    MockSpecification.from_path(PETSTORE)
    assert type(MockSpecification.from_path(PETSTORE)) is MockSpecification


def test_only_the_newest_entries_are_kept(cache: Path) -> None:
    for n in range(spec_cache.KEEP + 3):
        spec_cache.store(f"document {n}".encode(), {"n": n})
    assert len(list(cache.iterdir())) == spec_cache.KEEP
    assert spec_cache.load(f"document {spec_cache.KEEP + 2}".encode()) == {"n": spec_cache.KEEP + 2}
