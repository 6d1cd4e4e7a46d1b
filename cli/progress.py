"""Progress of a long command: a rich bar on a terminal, plain periodic lines otherwise.

Logs and CI capture stderr as text, where a redrawn bar is noise; there a line every few
seconds says how far the command got and how fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

T = TypeVar("T")


class Progress:
    """Counts items of a stream and shows how far through `total_bytes` the reading is."""

    def __init__(
        self,
        stream: IO[str],
        *,
        total_bytes: int | None,
        position: Callable[[], int],
        terminal: bool,
        every: float = 5.0,
        noun: str = "lines",
    ) -> None:
        self.stream = stream
        self.total = total_bytes
        self.position = position  # () -> bytes read so far
        self.terminal = terminal
        self.every = every
        self.noun = noun
        self.count = 0
        self.started = time.monotonic()
        self._last_line = self.started
        self._bar: Any = None

    def track(self, items: Iterable[T], step: int = 1000) -> Iterator[T]:
        """Yield `items` unchanged, updating the display every `step` of them."""
        self._open()
        try:
            for item in items:
                yield item
                self.count += 1
                if self.count % step == 0:
                    self._update()
        finally:
            self._close()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.count / elapsed if elapsed > 0 else 0.0

    def _open(self) -> None:
        if not self.terminal:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[count]:,} {task.fields[noun]}, {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream, force_terminal=True),  # isatty() was checked
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(
            "recording", total=self.total, count=0, noun=self.noun, rate=0.0
        )

    def _update(self) -> None:
        if self._bar is not None:
            self._bar.update(
                self._task, completed=self.position(), count=self.count, rate=self.rate()
            )
            return
        now = time.monotonic()
        if now - self._last_line >= self.every:
            self._last_line = now
            self._line()

    def _line(self) -> None:
        done = ""
        if self.total:
            done = f" ({min(100.0, 100 * self.position() / self.total):.0f}% of the file)"
        self.stream.write(f"… {self.count:,} {self.noun}{done}, {self.rate():,.0f} {self.noun}/s\n")
        self.stream.flush()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
