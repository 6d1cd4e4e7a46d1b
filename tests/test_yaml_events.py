"""api/openapi/yaml_events.py builds exactly what PyYAML's safe loader builds (dates as written).

Compared value by value, types and key order included, on every document of the corpus (where
the fast way must be the one taken) and on YAML's odd corners, where it either gives the same
or hands over to PyYAML (`Unusual`), whose result or error is then the answer.
"""

from __future__ import annotations

import pytest
import yaml
from connexion.exceptions import InvalidSpecification

from api.openapi import yaml_events
from api.openapi.spec import DocumentLoader, parse_document
from tests.support import ROOT

SPECS = ROOT / "tests" / "data" / "specs"
DOCUMENTS = sorted(
    [p for p in SPECS.iterdir() if p.suffix in (".yaml", ".yml", ".json")] + [ROOT / "openapi.yaml"]
)


def same(a: object, b: object) -> bool:
    """Equal, with the same types and key order all the way down (1 == 1.0 == True is not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)  # NaN


def pyyaml(text: str) -> object:
    return yaml.load(text, Loader=DocumentLoader)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_every_corpus_document_loads_the_fast_way_as_pyyaml_loads_it(path):
    text = path.read_text(encoding="utf-8")
    assert same(yaml_events.load(text, DocumentLoader), pyyaml(text))


def test_the_comparison_sees_a_difference():
    assert not same({"a": 1}, {"a": 1.0}) and not same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not same({"a": [True]}, {"a": [1]}) and same(
        {"a": [float("nan")]}, {"a": [float("nan")]}
    )


CASES = {
    "YAML 1.1 booleans and nulls": "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: ~\ng: null\nh:\n",
    "numbers": "a: 017\nb: 0x1F\nc: 1_000\nd: 1:20\ne: .inf\nf: -.Inf\ng: .nan\nh: 1e3\n"
    "i: 1.0e+3\nj: 0b101\nk: +12\nl: 0900\nm: 0o17\nn: 123456789012345678901234567890\n",
    "dates as written": "a: 2020-01-01\nb: 2020-01-01T10:00:00Z\nc: 2001-12-14 21:59:43.10 -5\n",
    "keys that are not strings": "200:\n  a: 1\n1.5: b\nnull: c\ntrue: d\n2020-01-01: e\n",
    "anchors and aliases": "a: &x {k: [1, &y two]}\nb: *x\nc: *y\nd: [*x, *y]\n",
    "duplicate keys": "a: 1\nb: 2\na: 3\n",
    "core tags": "a: !!str 123\nb: !!int '7'\nc: !!float '1'\nd: !!map {x: 1}\ne: !!seq [1]\n",
    "styles": "a: |\n  one\n  two\nb: >\n  folded\n  text\nc: 'it''s'\nd: \"\\u00e9\\t\"\n",
    "json": '{"openapi": "3.1.0", "a": [1, 2.5, true, null, "x"], "b": {"c": 1e400}}',
    "byte order mark": "\ufeffa: 1\n",
    "merge keys": "base: &b {k: 1}\nc:\n  <<: *b\n  m: 2\n",
    "other tags": "a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: !!omap [x: 1, y: 2]\n",
    "a list at the top": "- 1\n- 2\n",
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_odd_corners_load_as_pyyaml_loads_them(text):
    expected = pyyaml(text)
    try:
        built = yaml_events.load(text, DocumentLoader)
    except yaml_events.Unusual:
        built = pyyaml(text)  # what parse_document does
    assert same(built, expected)
    if isinstance(expected, dict):
        assert same(parse_document(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        CASES["merge keys"],
        CASES["other tags"],
        "a: &x 1\nb: &x 2\n",
        "? [a, b]\n: 1\n",
        "a: &r [1, *r]\n",
    ],
)
def test_what_is_not_handled_is_handed_to_pyyaml(text):
    with pytest.raises(yaml_events.Unusual):
        yaml_events.load(text, DocumentLoader)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openapi: 3.1.0\ninfo: [unclosed\n", "not valid YAML or JSON: expected ',' or ']'"),
        ("a: 1\n\tb: 2\n", "not valid YAML or JSON: found character '\\t' that cannot start any"),
        ("a: =\n", "could not determine a constructor for the tag 'tag:yaml.org,2002:value'"),
        ("a: 1\n---\nb: 2\n", "but found another document"),
        ("a: &x 1\nb: &x 2\n", "second occurrence at line 2, column 4"),
        ("? [a, b]\n: 1\n", "found unhashable key"),
        ("", "not an OpenAPI document"),
    ],
)
def test_errors_keep_pyyaml_s_words_and_where(text, expected):
    with pytest.raises(InvalidSpecification) as caught:
        parse_document(text)
    assert expected in str(caught.value)
    if "YAML" in expected:
        assert " at line " in str(caught.value)
