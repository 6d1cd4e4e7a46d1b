"""A spec diff's verdicts as text, markdown (a pull-request comment), JSON or JUnit XML."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from contract_tests.spec_diff.operations import Finding, Report


def example_json(finding: Finding, limit: int | None = 400) -> str:
    """The counter-example as JSON; cut at `limit` characters for reading (JSON has it all)."""
    written = json.dumps(finding.example, ensure_ascii=False, sort_keys=True)
    if limit is not None and len(written) > limit:
        return written[:limit] + f"… ({len(written)} characters; --format json has it whole)"
    return written


def verdict(report: Report) -> str:
    if report.breaking:
        return "breaking"
    return "warning" if report.warnings else "compatible"


def summary(report: Report) -> str:
    return (
        f"{len(report.breaking)} breaking, {len(report.warnings)} warnings "
        f"({report.comparisons} schema comparisons, {report.proved} proved by reasoning, "
        f"{len(report.searched)} decided by search alone)"
    )


def text(report: Report) -> str:
    lines = [f"spec diff {report.base} -> {report.revision}: {verdict(report)}"]
    for finding in report.findings:
        lines.append(f"{finding.severity.upper()} {finding.operation} {finding.where}")
        lines.append(f"  {finding.reason} [{finding.kind}]")
        lines.append(f"  counter-example: {example_json(finding)}")
        lines.append(
            f"  base: {finding.base_pointer or '-'}  revision: {finding.revision_pointer or '-'}"
        )
    for note in report.searched[:10]:
        lines.append(f"note: no proof, no counter-example found: {note}")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def markdown(report: Report) -> str:
    icon = {"breaking": ":x:", "warning": ":warning:", "compatible": ":white_check_mark:"}
    lines = [
        f"### Spec diff: {icon[verdict(report)]} {verdict(report)}",
        "",
        f"`{report.base}` → `{report.revision}`: {summary(report)}.",
    ]
    if report.findings:
        lines += [
            "",
            "| | Operation | Where | Why | Counter-example |",
            "|---|---|---|---|---|",
        ]
        for finding in report.findings:
            cells = [
                icon[finding.severity],
                f"`{finding.operation}`",
                finding.where,
                f"{finding.reason} ({finding.kind})",
                f"`{example_json(finding)}`",
            ]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines += ["", "<details><summary>Schemas compared (JSON pointers)</summary>", ""]
        for finding in report.findings:
            lines.append(
                f"- `{finding.operation}` {finding.where}: base `{finding.base_pointer or '-'}`, "
                f"revision `{finding.revision_pointer or '-'}`"
            )
        lines += ["", "</details>"]
    if report.searched:
        lines += [
            "",
            "<details><summary>Decided by search alone (no proof, no counter-example)</summary>",
            "",
        ]
        lines += [f"- {note}" for note in report.searched]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    document: dict[str, Any] = {
        "base": report.base,
        "revision": report.revision,
        "verdict": verdict(report),
        "breaking": len(report.breaking),
        "warnings": len(report.warnings),
        "comparisons": report.comparisons,
        "proved": report.proved,
        "searched": report.searched,
        "findings": [
            {
                "severity": f.severity,
                "kind": f.kind,
                "operation": f.operation,
                "where": f.where,
                "reason": f.reason,
                "counterExample": f.example,
                "basePointer": f.base_pointer,
                "revisionPointer": f.revision_pointer,
                "how": f.how,
            }
            for f in report.findings
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def junit(report: Report) -> str:
    """One test case per finding (failed when breaking), or one passing case when none."""
    suite = ElementTree.Element(
        "testsuite",
        name="spec diff",
        tests=str(max(len(report.findings), 1)),
        failures=str(len(report.breaking)),
        errors="0",
        skipped=str(len(report.warnings)),
    )
    for finding in report.findings:
        case = ElementTree.SubElement(
            suite, "testcase", classname=finding.operation, name=f"{finding.where} [{finding.kind}]"
        )
        detail = (
            f"{finding.reason}\ncounter-example: {example_json(finding, None)}\n"
            f"base: {finding.base_pointer}\nrevision: {finding.revision_pointer}"
        )
        tag = "failure" if finding.severity == "breaking" else "skipped"
        element = ElementTree.SubElement(case, tag, message=finding.reason, type=finding.kind)
        element.text = detail
    if not report.findings:
        ElementTree.SubElement(suite, "testcase", classname="spec diff", name="compatible")
    suites = ElementTree.Element("testsuites")
    suites.append(suite)
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


FORMATS: dict[str, Callable[[Report], str]] = {
    "text": text,
    "markdown": markdown,
    "json": as_json,
    "junit": junit,
}
