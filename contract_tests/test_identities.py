"""contract_tests/identities.py: credentials per scheme, who sent what, pasteable repros."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from contract_tests import identities
from contract_tests.identities import FOREIGN, OWNER

DOCUMENT = {
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer"},
            "basicAuth": {"type": "http", "scheme": "Basic"},  # case-insensitive, as in tictactoe
            "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
            "queryKey": {"$ref": "#/components/x-schemes/query"},
            "cookieKey": {"type": "apiKey", "in": "cookie", "name": "sid"},
            "oauth": {"type": "oauth2", "flows": {}},
            "tls": {"type": "mutualTLS"},
        },
        "x-schemes": {"query": {"type": "apiKey", "in": "query", "name": "key"}},
    }
}
SCHEMES = identities.security_schemes(DOCUMENT)
OWNER_ID = identities.identity(
    OWNER,
    bearer="tok-A",
    basic="alice:pa ss",
    api_keys={"X-API-KEY": "hk-A", "queryKey": "qkA", "sid": "ck-A"},
    headers={"X-Tenant": "t-A"},
)
FOREIGN_ID = identities.identity(
    FOREIGN, bearer="tok-B", api_keys={"x_api_key": "hk-B"}, headers={"X-Tenant": "t-B"}
)


def test_each_scheme_is_read_where_its_credential_goes() -> None:
    assert {name: (s.kind, s.location, s.parameter) for name, s in SCHEMES.items()} == {
        "bearerAuth": ("bearer", "header", "Authorization"),
        "basicAuth": ("basic", "header", "Authorization"),
        "headerKey": ("api_key", "header", "X-API-KEY"),
        "queryKey": ("api_key", "query", "key"),
        "cookieKey": ("api_key", "cookie", "sid"),
        "oauth": ("bearer", "header", "Authorization"),
        "tls": ("other", "header", "Authorization"),
    }


def test_schemathesis_gets_a_credential_per_scheme_it_fits() -> None:
    assert identities.auth_schemes(OWNER_ID, SCHEMES) == {
        "bearerAuth": {"bearer": "tok-A"},
        "basicAuth": {"username": "alice", "password": "pa ss"},
        "headerKey": {"api_key": "hk-A"},  # by its parameter's name
        "queryKey": {"api_key": "qkA"},  # by the scheme's name
        "cookieKey": {"api_key": "ck-A"},
        "oauth": {"bearer": "tok-A"},
    }
    # An identity with only a header key fits only that scheme (x_api_key = X-API-KEY).
    assert identities.auth_schemes(FOREIGN_ID, SCHEMES) == {
        "bearerAuth": {"bearer": "tok-B"},
        "headerKey": {"api_key": "hk-B"},
        "oauth": {"bearer": "tok-B"},
    }


def test_credentials_no_scheme_takes_are_named() -> None:
    only_bearer = {"bearerAuth": SCHEMES["bearerAuth"]}
    unused = identities.unused_credentials(OWNER_ID, only_bearer)
    assert "--auth (no http basic scheme)" in unused
    assert any(u.startswith("--api-key X-API-KEY=") for u in unused)
    assert identities.unused_credentials(OWNER_ID, SCHEMES) == []


def test_another_identity_replaces_the_credentials_of_a_requirement() -> None:
    headers = {"authorization": "Bearer tok-A", "X-Tenant": "t-A", "Accept": "x"}
    query: dict[str, str] = {}
    cookies: dict[str, str] = {}
    assert identities.apply(FOREIGN_ID, ["bearerAuth"], SCHEMES, headers, query, cookies)
    assert headers == {"Authorization": "Bearer tok-B", "X-Tenant": "t-B", "Accept": "x"}
    # A requirement the identity cannot meet leaves the request alone.
    assert not identities.apply(FOREIGN_ID, ["queryKey"], SCHEMES, headers, query, cookies)
    assert headers["Authorization"] == "Bearer tok-B" and query == {}
    requirements: list[dict[str, list[str]]] = [
        {"queryKey": []},
        {"headerKey": [], "bearerAuth": []},
    ]
    assert identities.satisfied_requirement(requirements, FOREIGN_ID, SCHEMES) == [
        "headerKey",
        "bearerAuth",
    ]
    assert identities.satisfied_requirement(requirements, OWNER_ID, SCHEMES) == ["queryKey"]
    assert identities.satisfied_requirement([{}], OWNER_ID, SCHEMES) is None


@pytest.mark.parametrize(
    ("headers", "url", "who"),
    [
        ({"Authorization": "Bearer tok-A"}, "http://h/x", OWNER),
        ({"Authorization": "Bearer tok-B"}, "http://h/x", FOREIGN),
        ({"Authorization": "Bearer SCHEMATHESIS-INVALID"}, "http://h/x", "invalid"),
        ({"authorization": identities.basic_header(OWNER_ID.basic)}, "http://h/x", OWNER),  # type: ignore[arg-type]
        ({}, "http://h/x?key=qkA", OWNER),
        ({"Cookie": "a=1; sid=ck-A"}, "http://h/x", OWNER),
        ({"X-API-KEY": "hk-B"}, "http://h/x", FOREIGN),
        ({"Accept": "*/*"}, "http://h/x?other=1", "none"),
    ],
)
def test_a_request_says_whose_credentials_it_carries(
    headers: dict[str, str], url: str, who: str
) -> None:
    assert identities.identify(headers, url, [OWNER_ID, FOREIGN_ID], SCHEMES) == who


def test_a_repro_names_every_secret_by_its_variable_and_pastes() -> None:
    curl = (
        "curl -X GET -H 'Authorization: Bearer tok-B' -H 'X-Tenant: t-A' "
        f"-H '{'Authorization: ' + identities.basic_header(OWNER_ID.basic)}' "  # type: ignore[arg-type]
        "-H 'Cookie: sid=ck-A' 'http://127.0.0.1:1/x?key=qkA&n=1'"
    )
    line = identities.reproducible(curl, [OWNER_ID, FOREIGN_ID])
    for secret in ("tok-B", "t-A", "ck-A", "qkA", "alice"):
        assert secret not in line, line
    assert '-H "Authorization: Bearer ${CRAFTKIT_CONTRACT_FOREIGN_BEARER}"' in line
    assert '-u "$CRAFTKIT_CONTRACT_AUTH"' in line
    assert '"http://127.0.0.1:1/x?key=${CRAFTKIT_CONTRACT_API_KEY_QUERYKEY}&n=1"' in line
    # With the variables set, the shell gives curl back the very words it was given.
    env = {
        "CRAFTKIT_CONTRACT_FOREIGN_BEARER": "tok-B",
        "CRAFTKIT_CONTRACT_HEADER_X_TENANT": "t-A",
        "CRAFTKIT_CONTRACT_AUTH": "alice:pa ss",
        "CRAFTKIT_CONTRACT_API_KEY_SID": "ck-A",
        "CRAFTKIT_CONTRACT_API_KEY_QUERYKEY": "qkA",
    }
    words = subprocess.run(
        ["bash", "-c", "printf '%s\\n' " + line.removeprefix("curl ")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    expected = shlex.split(curl.removeprefix("curl "))
    basic = expected.index("Authorization: " + identities.basic_header(OWNER_ID.basic))  # type: ignore[arg-type]
    expected[basic - 1 : basic + 1] = ["-u", "alice:pa ss"]
    assert words == expected


def test_a_secret_never_shows_in_a_repr() -> None:
    assert "tok-A" not in repr(OWNER_ID)
    assert "CRAFTKIT_CONTRACT_BEARER" in repr(OWNER_ID)
