"""cli/progress.py: a bar with count and rate on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import re

from cli.progress import Progress


def test_a_terminal_gets_a_bar_with_count_bytes_and_rate():
    stream = io.StringIO()
    progress = Progress(stream, total_bytes=3000, position=lambda: 1500, terminal=True)
    assert list(progress.track(range(3000), step=1000)) == list(range(3000))
    shown = stream.getvalue()
    assert "\x1b[" in shown  # drawn, and redrawn, in place
    assert re.search(r"1\.5/3\.0 kB.*3,000 lines, [\d,]+/s", shown)


def test_elsewhere_plain_lines_at_most_every_interval():
    stream = io.StringIO()
    every_step = Progress(stream, total_bytes=None, position=lambda: 0, terminal=False, every=0)
    list(every_step.track(range(2500), step=1000))
    assert [line.split(" lines")[0] for line in stream.getvalue().splitlines()] == [
        "… 1,000",
        "… 2,000",
    ]
    assert "\x1b[" not in stream.getvalue()

    quiet = io.StringIO()
    hourly = Progress(quiet, total_bytes=None, position=lambda: 0, terminal=False, every=3600)
    list(hourly.track(range(5000), step=1000))
    assert quiet.getvalue() == ""
