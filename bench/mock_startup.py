"""How long `craftkit mock` takes to start on a large spec: `python -m bench.mock_startup`.

The spec is generated from a real one: Twilio's API (tests/data/specs/twilio-api-v2010.yaml,
1.5 MB, 197 operations), its paths repeated under renamed prefixes (`/2010-04-01` ->
`/copy1-04-01`, …, operationIds suffixed) until the document passes 5 MB. Two figures:
building the app in process (load, validate, resolve, compile every schema, check every
example), and `craftkit mock --spec …` run as a user runs it, from the command to its first
answer; each on a first start and on the same bytes again (the mock's spec cache,
api/mock/spec_cache.py, kept in a temporary directory here). The figures are written in
docs/mock.md by hand; tests never time anything.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
TWILIO = ROOT / "tests" / "data" / "specs" / "twilio-api-v2010.yaml"
TARGET = 5_000_000


def large_spec(out: Path, target: int = TARGET, source: Path = TWILIO) -> int:
    """Write a spec of at least `target` bytes made of `source`'s operations; return its size
    and number of operations."""
    document: dict[str, Any] = yaml.load(source.read_text(), Loader=yaml.CSafeLoader)
    original = document["paths"]
    size = len(source.read_bytes())
    copies = 1
    while size * copies < target * 1.05:
        copies += 1
    paths: dict[str, Any] = dict(original)
    for n in range(1, copies):
        for path, item in original.items():
            renamed = copy.deepcopy(item)
            for value in renamed.values():
                if isinstance(value, dict) and "operationId" in value:
                    value["operationId"] = f"{value['operationId']}Copy{n}"
            paths[path.replace("/2010-04-01", f"/copy{n}-04-01", 1)] = renamed
    document["paths"] = paths
    out.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    return sum(1 for item in paths.values() for key in item if key in ("get", "post", "delete"))


def in_process(spec: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to build the app: CPU time is what the figure would be on
    an idle core, wall time what it was on this (possibly shared) machine."""
    from api.mock import MockOptions, create_mock_app

    logging.getLogger("craftkit.mock").disabled = True  # Twilio's examples, warned per copy
    started, cpu = time.perf_counter(), time.process_time()
    create_mock_app(MockOptions(spec_path=str(spec)))
    return time.perf_counter() - started, time.process_time() - cpu


def live(spec: Path, port: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of `craftkit mock`) from the command to its first answer."""
    craftkit = Path(sys.executable).parent / "craftkit"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(craftkit), "mock", "--spec", str(spec), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = started + 120
        wall = None
        while time.perf_counter() < deadline and wall is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
                wall = time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.05)
        if wall is None:
            raise RuntimeError("craftkit mock did not answer within 120 s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Until it stopped, not until it answered: the little it did after its first answer.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from tests.support import free_port

    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "twilio-x4.yaml"
        operations = large_spec(spec)
        megabytes = spec.stat().st_size / 1e6
        print(f"spec: {megabytes:.1f} MB, {operations} operations (from {TWILIO.name})")
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        cache = Path(folder) / "cache"
        os.environ["CRAFTKIT_SPEC_CACHE"] = str(cache)  # the mock's spec cache, here only
        for run in range(args.runs):
            for state in ("first start", "same bytes again"):
                if state == "first start":
                    shutil.rmtree(cache, ignore_errors=True)
                built, built_cpu = in_process(spec)
                if state == "first start":
                    shutil.rmtree(cache, ignore_errors=True)
                answered, answered_cpu = live(spec, free_port())
                print(
                    f"run {run + 1}, {state}: app built in {built:.2f} s ({built_cpu:.2f} s "
                    f"CPU); `craftkit mock` answering after {answered:.2f} s "
                    f"({answered_cpu:.2f} s CPU)"
                )


if __name__ == "__main__":
    main()
