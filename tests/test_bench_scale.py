"""bench/scale.py at toy sizes, so that `make bench`'s data-scale part cannot rot unnoticed.

Only that it runs and reports what it measured; the figures themselves mean nothing at these
sizes (speed is judged in `make bench`, never in tests).
"""

from __future__ import annotations

import importlib.util
import re

from bench import scale
from tests.conftest import POSTGRES_URL


def test_the_scale_bench_runs_and_writes_its_report(tmp_path, monkeypatch):
    if POSTGRES_URL:
        monkeypatch.setenv("CRAFTKIT_BENCH_POSTGRES_URL", POSTGRES_URL)
    else:
        monkeypatch.delenv("CRAFTKIT_BENCH_POSTGRES_URL", raising=False)
    scale.main(
        [
            "--sizes=10,100",
            "--others=30",
            "--rounds=1",
            "--calls=3",
            "--requests=2",
            "--raw-events=100",
            "--partitioned-events=50",
            f"--output={tmp_path}",
        ]
    )
    report = (tmp_path / scale.RESULTS).read_text()
    if importlib.util.find_spec("matplotlib"):  # the `bench` extra; make bench installs it
        assert (tmp_path / scale.PLOT).stat().st_size > 0
    assert re.search(r"\| SQLite, database \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+ \|", report)
    assert re.search(r"\| SQLite \| 100 \| [\d.]+ \| [\d,]+ \| \d+ MB \| 10: \d+ MB, 100: ", report)
    if POSTGRES_URL:
        assert "| PostgreSQL, request |" in report
        assert re.search(r"reads 1 partition\(s\): engagement_event_p\d+", report)
