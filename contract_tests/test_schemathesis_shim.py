"""Each Schemathesis internal the engine uses, as the shim expects it: fails loudly on upgrade.

The full runs (test_schemathesis.py, test_broken_variants.py) exercise them end to end; this
names the one that moved, with what the engine needs of it.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import schemathesis

from contract_tests import schemathesis_shim as shim
from tests.support import ROOT


def parameters(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_the_tested_schemathesis_version():
    major, minor = (int(part) for part in schemathesis.SCHEMATHESIS_VERSION.split(".")[:2])
    assert (major, minor) == (4, 32), "pyproject.toml pins >=4.32,<4.33: re-check the shim"


def test_send_probe_replays_a_case_within_a_check():
    assert parameters(shim.send_probe) == ["ctx", "parent", "probe"]


def test_the_engine_runs_a_schema_and_yields_these_events():
    assert parameters(shim.from_schema) == ["schema"]
    names = ("ScenarioFinished", "FuzzScenarioFinished", "NonFatalError", "FatalError")
    for name in (*names, "PhaseStarted", "PhaseFinished"):
        assert isinstance(getattr(shim.events, name, None), type), f"events.{name} is gone"


# What engine.py reads off the events (and their recorders): internal dataclasses.
EVENT_FIELDS = {
    "PhaseEvent": {"phase"},
    "PhaseFinished": {"phase", "status"},
    "ScenarioFinished": {"recorder"},
    "FuzzScenarioFinished": {"recorder"},
    "NonFatalError": {"label", "info"},
    "FatalError": {"exception"},
}


@pytest.mark.parametrize(("name", "fields"), sorted(EVENT_FIELDS.items()))
def test_the_engine_reads_these_fields_of_each_event(name: str, fields: set[str]) -> None:
    have = {field.name for field in dataclasses.fields(getattr(shim.events, name))}
    assert fields <= have, f"events.{name} lost {fields - have}: engine.py reads them"


def test_a_recorder_holds_checks_and_interactions_by_case():
    from schemathesis.engine import recorder

    needs = {
        recorder.ScenarioRecorder: {"label", "checks", "interactions"},
        recorder.CheckNode: {"name", "failure_info"},
        recorder.CheckFailureInfo: {"code_sample", "failure"},
        recorder.Interaction: {"response"},
    }
    for cls, fields in needs.items():
        have = {field.name for field in dataclasses.fields(cls)}
        assert fields <= have, f"{cls.__name__} lost {fields - have}: engine.py _collect reads them"


@pytest.mark.parametrize("location", ["path", "header", "query"])
def test_case_metadata_says_how_each_part_was_generated(location: str) -> None:
    schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
    operation = next(iter(schema.get_all_operations())).ok()  # type: ignore[union-attr]
    case = operation.Case(path_parameters={"id": "x"})
    # A case built by hand has no generation metadata: every part counts as valid.
    assert shim.generated_positive(case, location)
    assert not shim.generated_negative(case)
    assert shim.phase_and_mode(case) == ("check", "-")
    assert shim.ParameterLocation(location).value == location


def test_a_loader_error_is_what_a_document_schemathesis_cannot_read_raises(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.1.0\npaths: [\n")
    with pytest.raises(shim.LoaderError) as raised:
        schemathesis.openapi.from_path(bad)
    assert raised.value.message  # what the CLI prints, first line


def test_operations_are_ok_or_err_results_with_labels(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n"
        "  /ok:\n    get:\n      responses: {'200': {description: ok}}\n"
        "  /gone:\n    get:\n      responses: {'200': {$ref: '#/components/responses/x'}}\n"
    )
    schema = schemathesis.openapi.from_path(spec)
    assert shim.operation_labels(schema) == {"GET /ok"}
    assert shim.operation_errors(schema) == ["GET /gone: Unresolvable reference in the schema"]
    assert shim.operation_labels(schema.include(name=["GET /ok"])) == {"GET /ok"}


def test_schemathesis_reads_openapi_3_2_and_its_query_method() -> None:
    """3.2 goes through Schemathesis as it is (docs/contract-testing.md says so)."""
    schema = schemathesis.openapi.from_path(ROOT / "tests/data/specs/oai-3.2-query-example.yaml")
    assert shim.operation_labels(schema) == {"QUERY /flights/search"}
