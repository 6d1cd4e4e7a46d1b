"""`make mock-compare`: the corpus checks of tests/test_mock_corpus.py against craftkit's mock
and against Prism (npm `@stoplight/prism-cli`), side by side, into docs/mock.md.

    python -m bench.mock_compare [--prism PATH] [--only NAME,...] [--no-write]

Every operation of every spec in tests/data/specs/ is called as a browser frontend calls it
(tests/mock_checks.py: preflight, documented status, documented media type, schema-valid body,
CORS on the answer), through the spec's `servers` base path and at the root. craftkit's mock
is the ASGI app `craftkit mock` serves, called in process; Prism runs as `prism mock SPEC` on
a free loopback port. Prism is installed by the Makefile target into ~/.cache/craftkit-prism,
never into the repository, and `make test` never needs it.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from tests import mock_checks
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "tests" / "data" / "specs"
DOC = ROOT / "docs" / "mock.md"
PRISM = Path.home() / ".cache" / "craftkit-prism" / "node_modules" / ".bin" / "prism"
BEGIN, END = "<!-- mock-compare: begin -->", "<!-- mock-compare: end -->"


def craftkit_results(path: Path) -> tuple[list[mock_checks.Result], str]:
    from starlette.testclient import TestClient

    from api.mock import MockOptions, create_mock_app
    from api.openapi.spec import OpenAPI31Specification

    spec = OpenAPI31Specification.from_path(path)
    client = TestClient(create_mock_app(MockOptions(spec_path=str(path))))
    return mock_checks.run(spec, client), ""


@contextmanager
def prism(prism_bin: Path, path: Path, log: Path) -> Iterator[str | None]:
    """`prism mock` on a free port; yields its URL, or None (its last line in `log`) if it
    did not start within 60 s."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(prism_bin), "mock", "-h", "127.0.0.1", "-p", str(port), str(path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        started = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(url + "/", timeout=2)
                started = True
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url if started else None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def last_error(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    wanted = [ln for ln in lines if re.search(r"error|fatal|invalid", ln, re.I)] or lines
    text = re.sub(r"\x1b\[[0-9;]*m", "", wanted[-1] if wanted else "no output")
    return " ".join(text.split())[:160]


def prism_results(prism_bin: Path, path: Path, log: Path) -> tuple[list[mock_checks.Result], str]:
    from api.openapi.spec import OpenAPI31Specification

    spec = OpenAPI31Specification.from_path(path)
    with prism(prism_bin, path, log) as url:
        if url is None:
            return [], f"did not start: {last_error(log)}"
        with httpx.Client(base_url=url, timeout=30) as client:
            return mock_checks.run(spec, client), ""


def summary(results: list[mock_checks.Result], note: str, calls: int) -> str:
    if note:
        return f"0/{calls} (did not start)"
    passed = sum(1 for r in results if r.ok)
    return f"{passed}/{len(results)}"


def main_failures(results: list[mock_checks.Result]) -> str:
    counts = collections.Counter(c for r in results for c in r.failures)
    if not counts:
        return ""
    first = next(r for r in results if r.failures)
    check, why = next(iter(first.failures.items()))
    where = f"{first.call.operation} via {first.call.via}"
    failed = ", ".join(f"{c} {n}" for c, n in counts.most_common())
    return f"{failed}. E.g. {where}: {check}: {' '.join(why.split())[:140]}"


def table(rows: list[tuple[str, str, int, str, str, str, str]]) -> str:
    lines = [
        "| spec | OpenAPI | calls | craftkit mock | Prism | what failed (craftkit; Prism) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, version, calls, ours, theirs, our_fail, their_fail in rows:
        failed = "; ".join(
            x
            for x in (our_fail and f"craftkit: {our_fail}", their_fail and f"Prism: {their_fail}")
            if x
        )
        cell = failed.replace("|", "\\|")
        lines.append(f"| {name} | {version} | {calls} | {ours} | {theirs} | {cell} |")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc = head + BEGIN + "\n" + text + "\n" + END + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + BEGIN + "\n" + text + "\n" + END + "\n"
    DOC.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prism", type=Path, default=Path(os.environ.get("PRISM", PRISM)))
    parser.add_argument("--only", default="", help="comma-separated spec file names")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit docs/mock.md")
    parser.add_argument("--logs", type=Path, default=ROOT / "reports" / "mock-compare")
    args = parser.parse_args()
    if not args.prism.exists():
        raise SystemExit(f"Prism is not installed at {args.prism}: run `make mock-compare`")
    logging.disable(logging.WARNING)  # Twilio's invalid examples, warned at start
    args.logs.mkdir(parents=True, exist_ok=True)
    manifest = yaml.safe_load((SPECS / "manifest.yaml").read_text())["specs"]
    only = {n for n in args.only.split(",") if n}
    version = subprocess.run(
        [str(args.prism), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    rows = []
    totals = {"craftkit": [0, 0], "prism": [0, 0]}
    for entry in manifest:
        name = entry["file"]
        if only and name not in only:
            continue
        path = SPECS / name
        ours, our_note = craftkit_results(path)
        theirs, their_note = prism_results(args.prism, path, args.logs / f"{name}.log")
        calls = len(ours)
        for key, results in (("craftkit", ours), ("prism", theirs)):
            totals[key][0] += sum(1 for r in results if r.ok)
            totals[key][1] += calls
        rows.append(
            (
                name,
                str(entry["openapi"]),
                calls,
                summary(ours, our_note, calls),
                summary(theirs, their_note, calls),
                main_failures(ours),
                their_note or main_failures(theirs),
            )
        )
        print(f"{name}: craftkit {rows[-1][3]}, Prism {rows[-1][4]}", flush=True)
    checks = ", ".join(mock_checks.CHECKS)
    text = "\n".join(
        [
            f"Calls that passed every check ({checks}), per spec; Prism {version}, "
            f"run by `make mock-compare` on {time.strftime('%Y-%m-%d')}.",
            "",
            table(rows),
            "",
            f"In all: craftkit mock {totals['craftkit'][0]}/{totals['craftkit'][1]} calls, "
            f"Prism {totals['prism'][0]}/{totals['prism'][1]}.",
        ]
    )
    print(text)
    if not args.no_write and not only:
        write_doc(text)


if __name__ == "__main__":
    main()
