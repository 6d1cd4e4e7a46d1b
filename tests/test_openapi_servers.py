"""`api.openapi.servers`: the base path a document's operations live under."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from api.openapi.servers import base_path, join, server_url, strip
from tests.support import ROOT

SPECS = ROOT / "tests" / "data" / "specs"


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (None, ""),
        ([], ""),
        ([{"url": "/"}], ""),
        ([{"url": "https://api.example.com"}], ""),
        ([{"url": "https://api.example.com/"}], ""),
        ([{"url": "https://api.example.com/v2"}], "/v2"),
        ([{"url": "https://api.example.com/v2/"}], "/v2"),
        ([{"url": "http://h:8080//a//b/"}], "/a/b"),
        ([{"url": "/api/v3"}], "/api/v3"),
        ([{"url": "api/v3"}], "/api/v3"),
        ([{"url": "//cdn.example.com/x"}], "/x"),
        ([{"url": "https://h/caf%C3%A9"}], "/caf%C3%A9"),
        ([{"url": "https://h/v1"}, {"url": "https://h/v2"}], "/v1"),
        (
            [
                {
                    "url": "{scheme}://developer.uspto.gov/ds-api",
                    "variables": {"scheme": {"default": "https", "enum": ["https", "http"]}},
                }
            ],
            "/ds-api",
        ),
        (
            [
                {
                    "url": "https://{name}.example.com:{port}/{basePath}",
                    "variables": {
                        "name": {"default": "demo"},
                        "port": {"default": "443"},
                        "basePath": {"default": "v2"},
                    },
                }
            ],
            "/v2",
        ),
        ([{"url": "https://h/{version}/api"}], "/api"),  # no default: left out, not a crash
    ],
)
def test_base_path(servers: Any, expected: str) -> None:
    document = {} if servers is None else {"servers": servers}
    assert base_path(document) == expected


def test_server_variables_take_their_defaults() -> None:
    server = {"url": "{s}://h/{v}", "variables": {"s": {"default": "http"}, "v": {"default": "x"}}}
    assert server_url(server) == "http://h/x"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("oai-3.0-petstore.yaml", "/v1"),
        ("oai-3.0-petstore-expanded.yaml", "/v2"),
        ("oai-3.0-uspto.yaml", "/ds-api"),
        ("redocly-museum.yaml", "/_mock/docs/openapi/museum-api"),
        ("swagger-petstore3.yaml", "/api/v3"),
        ("readme-3.0-server-variables.yaml", "/v2"),
        ("oai-3.1-tictactoe.yaml", ""),
    ],
)
def test_the_corpus_base_paths(name: str, expected: str) -> None:
    assert base_path(yaml.safe_load((SPECS / name).read_text())) == expected


def test_join_and_strip() -> None:
    assert join("", "/pets") == "/pets"
    assert join("/v2", "/pets") == "/v2/pets"
    assert join("/v2", "/") == "/v2"
    assert strip("/v2", "/v2/pets") == "/pets"
    assert strip("/v2", "/v2") == "/"
    assert strip("/v2", "/v20/pets") is None
    assert strip("/v2", "/pets") is None
    assert strip("", "/pets") == "/pets"
