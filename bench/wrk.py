"""wrk, run for a bounded time against one URL, its summary read back as numbers.

wrk's Lua `done` hook prints one JSON line (requests, errors, latency percentiles in µs), so
nothing depends on the layout of wrk's human-readable report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MARKER = "WRK_SUMMARY "
DONE_HOOK = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    "MARKER", summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
""".replace("MARKER", MARKER)
INSTALL_HINT = "wrk is missing: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu)."


class WrkError(RuntimeError):
    """wrk could not run, or the server answered something other than 2xx/3xx."""


@dataclass(frozen=True)
class Result:
    """One wrk run: throughput and latency percentiles (seconds)."""

    requests: int
    seconds: float
    p50: float
    p99: float
    errors: int  # socket errors and non-2xx/3xx answers together

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def executable() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkError(INSTALL_HINT)
    return found


def command(
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: int,
    script: Path,
    headers: dict[str, str],
    timeout: int | None = None,
) -> list[str]:
    """The wrk command line, as run and as printed in the report (`timeout`: seconds a
    request may take before wrk counts it as an error; wrk's default is 2)."""
    argv = [executable(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script)]
    if timeout is not None:
        argv.append(f"--timeout={timeout}s")
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    return [*argv, url]


def parse(output: str) -> Result:
    """The summary the `done` hook printed; WrkError if there is none."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line.removeprefix(MARKER))
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return Result(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50=data["p50_us"] / 1e6,
                p99=data["p99_us"] / 1e6,
                errors=errors,
            )
    raise WrkError(f"wrk printed no summary:\n{output[-2000:]}")


def run(
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: int,
    headers: dict[str, str],
    timeout: int | None = None,
    allow_errors: bool = False,
) -> Result:
    """Load `url` for `seconds`; WrkError if none was answered, or if any request failed or was
    not answered 2xx/3xx (unless `allow_errors`: then they are counted in the result)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(DONE_HOOK)
        script = Path(handle.name)
    try:
        argv = command(
            url,
            threads=threads,
            connections=connections,
            seconds=seconds,
            script=script,
            headers=headers,
            timeout=timeout,
        )
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
    finally:
        script.unlink(missing_ok=True)
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    result = parse(done.stdout)
    if not result.requests:
        # wrk reports latencies of 0 when no request finished (one still in flight at the end
        # is no error to it): a p50 of 0 ms would pass any latency target.
        raise WrkError(f"no request was answered within {seconds} s:\n{done.stdout}")
    if result.errors and not allow_errors:
        raise WrkError(f"{result.errors} of {result.requests} requests failed:\n{done.stdout}")
    return result
