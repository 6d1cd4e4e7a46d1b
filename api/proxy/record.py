"""What the traffic covered and broke: per operation x documented status, for CI.

Every exchange lands in one case: the operation and the documented status its answer fell
under (`200`, `2XX`, `default`), or an undocumented status, or a request no operation matches,
or (enforce mode) a request refused before it reached the upstream. From the cases come the
coverage table ("14 of 22 documented responses exercised"), `--report-json`, and `--junit`:
a test case per operation x documented status, failing with the request, the answer and the
violations, skipped when the traffic never produced it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson

from api.openapi.operations import Operations
from api.openapi.validation import Issue

KEPT_FAILURES = 5  # examples kept per case; the count covers them all
NO_OPERATION = "(no operation matches)"


@dataclass
class Exchange:
    """One request and its answer, as the record keeps a failing one."""

    method: str
    target: str
    status: int
    request_issues: list[Issue]
    response_issues: list[Issue]
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: str = ""

    @property
    def issues(self) -> list[Issue]:
        return [*self.request_issues, *self.response_issues]

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": {"method": self.method, "target": self.target},
            "response": {"status": self.status},
            "violations": [
                *({"side": "request", **issue} for issue in self.request_issues),
                *({"side": "response", **issue} for issue in self.response_issues),
            ],
        }


@dataclass
class Case:
    operation: str
    status: str
    documented: bool
    seen: int = 0
    failed: int = 0
    failures: list[Exchange] = field(default_factory=list)

    def add(self, exchange: Exchange) -> None:
        self.seen += 1
        if exchange.issues:
            self.failed += 1
            if len(self.failures) < KEPT_FAILURES:
                self.failures.append(exchange)


def describe(issue: Issue) -> str:
    """`response.body /counts/viewed: "3" is not of type "integer"`, one line."""
    where = issue["in"]
    if "name" in issue:
        where += f" {issue['name']}"
    if issue.get("pointer") not in (None, "/"):
        where += f" {issue['pointer']}"
    return f"{where}: {issue['message']}"


class Record:
    """Every case of a document, filled by the exchanges the proxy sees (thread-safe)."""

    def __init__(self, operations: Operations) -> None:
        self.started = time.time()
        self.cases: dict[tuple[str, str], Case] = {}
        self.operation_names = [operation.name for operation in operations.all]
        for operation, status in operations.documented():
            self.cases[(operation.name, status)] = Case(operation.name, status, True)
        self.requests = 0
        self.violations = 0
        self.websockets = 0
        self._lock = threading.Lock()

    def add(self, operation: str | None, documented: str | None, exchange: Exchange) -> None:
        """One exchange: `documented` is the status key its answer fell under (None: none)."""
        name = operation or NO_OPERATION
        if operation is None:
            key = (name, "-")
        elif documented is None:
            key = (name, f"{exchange.status} (undocumented)")
        else:
            key = (name, documented)
        with self._lock:
            self.requests += 1
            self.violations += len(exchange.issues)
            case = self.cases.get(key)
            if case is None:
                case = self.cases[key] = Case(key[0], key[1], False)
            case.add(exchange)

    def refused(self, operation: str, exchange: Exchange) -> None:
        """Enforce mode: a request answered by the proxy, never forwarded."""
        self.add(operation, "refused request", exchange)
        self.cases[(operation, "refused request")].documented = False

    def upgraded(self) -> None:
        with self._lock:
            self.websockets += 1

    # -- figures --

    def documented_cases(self) -> list[Case]:
        return [case for case in self.cases.values() if case.documented]

    def coverage(self) -> dict[str, Any]:
        documented = self.documented_cases()
        exercised = [case for case in documented if case.seen]
        seen_operations = {case.operation for case in self.cases.values() if case.seen}
        operations = [name for name in self.operation_names if name in seen_operations]
        total = len(documented)
        return {
            "responses": {
                "exercised": len(exercised),
                "documented": total,
                "percent": round(100 * len(exercised) / total, 1) if total else 100.0,
            },
            "operations": {
                "exercised": len(operations),
                "documented": len(self.operation_names),
                "never": [n for n in self.operation_names if n not in seen_operations],
            },
            "never_seen": [
                f"{case.operation} {case.status}" for case in documented if not case.seen
            ],
        }

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            cases = list(self.cases.values())
            return {
                "requests": self.requests,
                "violations": self.violations,
                "websocket_upgrades": self.websockets,
                "coverage": self.coverage(),
                "cases": [
                    {
                        "operation": case.operation,
                        "status": case.status,
                        "documented": case.documented,
                        "seen": case.seen,
                        "failed": case.failed,
                        "failures": [failure.as_dict() for failure in case.failures],
                    }
                    for case in cases
                ],
            }

    def json(self) -> bytes:
        return orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2)

    def table(self) -> str:
        """The coverage table, as `craftkit proxy` prints it on exit."""
        with self._lock:
            cases = sorted(self.cases.values(), key=lambda c: (c.operation, c.status))
            coverage = self.coverage()
        rows = [("operation", "status", "seen", "violating", "")]
        for case in cases:
            mark = "" if case.documented else "not documented"
            if case.documented and not case.seen:
                mark = "never seen"
            rows.append((case.operation, case.status, str(case.seen), str(case.failed), mark))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
        ]
        responses, operations = coverage["responses"], coverage["operations"]
        lines.append(
            f"coverage: {responses['exercised']} of {responses['documented']} documented "
            f"responses exercised ({responses['percent']:g}%), {operations['exercised']} of "
            f"{operations['documented']} operations; {self.requests} requests, "
            f"{self.violations} violations, {self.websockets} WebSocket upgrades"
        )
        return "\n".join(lines)

    def junit(self) -> str:
        """JUnit XML: a test case per operation x status; never seen ones are skipped."""
        with self._lock:
            cases = list(self.cases.values())
        failures = sum(1 for case in cases if case.failed)
        skipped = sum(1 for case in cases if case.documented and not case.seen)
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<testsuites name="craftkit proxy" tests="{len(cases)}" failures="{failures}">',
            f'<testsuite name="craftkit proxy" tests="{len(cases)}" failures="{failures}" '
            f'skipped="{skipped}" errors="0">',
        ]
        for case in cases:
            name = quoteattr(case.status)
            classname = quoteattr(case.operation)
            out.append(f"<testcase classname={classname} name={name}>")
            if case.failed:
                message = f"{case.failed} of {case.seen} exchanges violate the contract"
                out.append(f"<failure message={quoteattr(message)}>")
                out.append(escape(_failure_text(case.failures)))
                out.append("</failure>")
            elif not case.seen and case.documented:
                out.append('<skipped message="never exercised by the traffic"/>')
            out.append("</testcase>")
        out += ["</testsuite>", "</testsuites>", ""]
        return "\n".join(out)


def _failure_text(failures: Iterable[Exchange]) -> str:
    blocks = []
    for exchange in failures:
        lines = [f"{exchange.method} {exchange.target}"]
        lines += [f"{name}: {value}" for name, value in exchange.request_headers]
        lines.append(f"-> {exchange.status}")
        lines += [f"{name}: {value}" for name, value in exchange.response_headers]
        if exchange.response_body:
            lines.append(exchange.response_body)
        lines += [f"  {side}: {describe(issue)}" for side, issue in _sided(exchange)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _sided(exchange: Exchange) -> Iterable[tuple[str, Issue]]:
    for issue in exchange.request_issues:
        yield "request", issue
    for issue in exchange.response_issues:
        yield "response", issue
