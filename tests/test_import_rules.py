"""The layering of docs/architecture.md, enforced: who may import whom, read with `ast`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

# (package or module prefix, module prefixes it must not import, prefixes allowed all the same)
SERVER_ONLY = ("api.server",)
RULES: list[tuple[str, set[str], set[str]]] = [
    ("db", {"api", "handlers", "cli", "contract_tests", "connexion", "flask", "starlette"}, set()),
    ("handlers", {"api", "cli", "connexion", "flask", "starlette", "werkzeug"}, set()),
    # The document and validation layer: nothing else of the project.
    ("api.openapi", {"api", "db", "handlers", "cli", "contract_tests"}, {"api.openapi"}),
    # Before the app: no app, no database, no operator layer.
    ("api.protocol", {"db", "handlers", "api.ops", "api.mock", "api.proxy", *SERVER_ONLY}, set()),
    # Around any app: no app, no database.
    ("api.ops", {"db", "handlers", "api.mock", "api.proxy", *SERVER_ONLY}, set()),
    # Tools that serve any spec: no database, no handlers, nothing of the server's own.
    ("api.mock", {"db", "handlers", "peewee", "playhouse", "api.proxy", *SERVER_ONLY}, set()),
    ("api.proxy", {"db", "handlers", "peewee", "playhouse", *SERVER_ONLY}, set()),
    ("api", {"cli", "contract_tests"}, set()),
    # Nothing imports the server's app but the CLI, the bench and tests.
    ("db", {"api.server.app"}, set()),
    ("handlers", {"api.server.app"}, set()),
    ("contract_tests", {"api.server.app"}, set()),
]
# The shared modules api.mock loads through: they must stay free of db/ and the server too.
MOCK_DEPENDENCIES = [
    "api.assembly",
    "api.config",
    "api.errors",
    "api.security",
]


def _under(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def imported(path: Path) -> set[str]:
    """Every module name `path` imports, at any depth (lazy imports inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def violations(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        module = module_name(path)
        for prefix, forbidden, allowed in RULES:
            if not _under(module, {prefix}):
                continue
            if module in MOCK_DEPENDENCIES and prefix == "api":
                forbidden = forbidden | {"db", "handlers", *SERVER_ONLY}
            for name in sorted(imported(path)):
                if _under(name, forbidden) and not _under(name, allowed):
                    found.append(f"{module} imports {name}")
    return found


# Library internals live in one shim module each (docs/architecture.md); these modules are the
# libraries' public API, anything else of theirs is internal.
PUBLIC_MODULES = {
    "connexion": {
        "connexion",
        "connexion.exceptions",
        "connexion.lifecycle",
        "connexion.middleware",  # MiddlewarePosition
        "connexion.options",
        "connexion.resolver",
        "connexion.security",  # the handler classes of `security_map`
        "connexion.validators",  # the classes of `validator_map`
    },
    "schemathesis": {"schemathesis", "schemathesis.checks", "schemathesis.config"},
    # run, Config and Server (all three re-exported by `uvicorn`); uvicorn.protocols and the
    # rest are internal: api/protocol/uvicorn_shim.py subclasses the httptools protocol.
    "uvicorn": {"uvicorn", "uvicorn.config"},
}
# Internal names that public modules re-export, and internal attributes read or overridden.
INTERNAL_NAMES = {"NO_VALUE", "ConnexionMiddleware", "RoutingMiddleware", "MediaTypeDict", "API"}
INTERNAL_METHODS = {
    "_validate_spec",
    "_resolve_func",
    "_get_verify_func",
    "get_tokeninfo_func",
    "_validate",
    "_parse",
    "make_operation",
    "send_400_response",
    "_unsupported_upgrade_warning",
    "on_response_complete",
}
INTERNAL_ATTRIBUTES = INTERNAL_METHODS | {
    "_schema",
    "_nullable",
    "_scope",
    "middleware_stack",
    "_middleware_app",
    "api_cls",
    "_fn",
    "default_middlewares",
    "apis",
    "middlewares",
    "response_complete",
}
# The shims, and the tests that check each internal's shape there.
SHIMS = {
    "api.openapi.connexion_shim",
    "tests.test_connexion_shim",
    "contract_tests.schemathesis_shim",
    "contract_tests.test_schemathesis_shim",
    "api.protocol.uvicorn_shim",
    "tests.test_uvicorn_shim",
}


def library_internals(paths: list[Path]) -> list[str]:
    """Every use of a Connexion, Schemathesis or uvicorn internal outside the shims."""
    found = []
    for path in paths:
        module = module_name(path)
        if module in SHIMS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[tuple[str, str | None]] = []
            if isinstance(node, ast.Import):
                names = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [(node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Attribute) and node.attr in INTERNAL_ATTRIBUTES:
                found.append(f"{module} uses .{node.attr}")
            elif (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name in INTERNAL_METHODS
            ):
                found.append(f"{module} overrides {node.name}")
            for imported_module, name in names:
                public = PUBLIC_MODULES.get(imported_module.split(".")[0])
                if public is None:
                    continue
                if imported_module not in public or name in INTERNAL_NAMES:
                    found.append(
                        f"{module} imports {imported_module}" + (f".{name}" if name else "")
                    )
    return found


def all_python_files() -> list[Path]:
    return [
        p
        for folder in ("api", "db", "handlers", "cli", "contract_tests", "tests", "bench")
        for p in (ROOT / folder).rglob("*.py")
    ]


def package_files() -> list[Path]:
    return [
        p
        for package in ("api", "db", "handlers", "cli", "contract_tests")
        for p in (ROOT / package).rglob("*.py")
        # The contract suite's tests, fixtures and broken servers build the server in-process,
        # as tests do.
        if not (package == "contract_tests" and p.name.startswith(("test_", "conftest", "broken")))
    ]


def test_every_package_keeps_its_import_rules():
    assert package_files(), "no files found: the checker would pass on nothing"
    assert violations(package_files()) == []


@pytest.mark.parametrize(
    ("where", "line", "expected"),
    [
        ("db/bad.py", "from api.config import Settings", "db.bad imports api.config"),
        ("handlers/bad.py", "import flask", "handlers.bad imports flask"),
        ("handlers/bad.py", "from starlette.requests import Request", "starlette.requests"),
        ("api/mock/bad.py", "from db.connection import database", "db.connection"),
        ("api/errors.py", "import db.errors", "api.errors imports db.errors"),
        ("api/assembly.py", "from api.server import dbwork", "api.assembly imports api.server"),
        ("api/bad.py", "from cli.main import main", "api.bad imports cli.main"),
        ("api/openapi/bad.py", "from api.errors import envelope", "api.openapi.bad imports api"),
        ("api/openapi/bad.py", "import api.protocol.bounds", "imports api.protocol.bounds"),
        ("api/protocol/bad.py", "from api.server.app import create_app", "imports api.server.app"),
        ("api/ops/bad.py", "from db.connection import bound", "api.ops.bad imports db"),
        ("api/mock/bad.py", "from handlers.renders import x", "api.mock.bad imports handlers"),
        (
            "api/mock/bad.py",
            "from api.server.dbwork import DatabaseWork",
            "imports api.server.dbwork",
        ),
        ("api/proxy/bad.py", "import db.queries", "api.proxy.bad imports db.queries"),
        ("api/proxy/bad.py", "from handlers.renders import x", "imports handlers.renders"),
        (
            "contract_tests/bad.py",
            "from api.server.app import create_app",
            "imports api.server.app",
        ),
        ("handlers/bad.py", "import api.server.app", "handlers.bad imports api.server.app"),
    ],
)
def test_a_forbidden_import_would_be_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, line: str, expected: str
) -> None:
    bad = tmp_path / where
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(f"def f():\n    {line}\n")  # lazy imports count too
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert any(expected in v for v in violations([bad]))


def test_a_layer_may_import_itself_and_what_is_below_it(tmp_path: Path) -> None:
    fine = tmp_path / "api" / "openapi" / "fine.py"
    fine.parent.mkdir(parents=True)
    fine.write_text("from api.openapi.validation import SchemaCache\nimport yaml\n")
    below = tmp_path / "api" / "mock" / "fine.py"
    below.parent.mkdir(parents=True)
    below.write_text("from api.openapi.spec import load_document\nfrom api import errors\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys.modules[__name__], "ROOT", tmp_path)
        assert violations([fine, below]) == []


def test_library_internals_are_used_only_in_their_shims():
    files = all_python_files()
    modules = {module_name(p) for p in files}
    assert {"api.openapi.connexion_shim", "api.protocol.uvicorn_shim"} <= modules, (
        "a shim was not found"
    )
    assert library_internals(files) == []


@pytest.mark.parametrize(
    ("where", "code", "expected"),
    [
        ("api/bad.py", "from connexion.spec import OpenAPISpecification", "imports connexion.spec"),
        ("api/bad.py", "from connexion.security import NO_VALUE", "connexion.security.NO_VALUE"),
        ("api/mock/bad.py", "import connexion.middleware.main", "connexion.middleware.main"),
        ("tests/test_bad.py", "return app.middleware.apis", "tests.test_bad uses .apis"),
        ("api/bad.py", "def _get_verify_func(self, f): pass", "overrides _get_verify_func"),
        ("cli/bad.py", "from schemathesis.engine import events", "schemathesis.engine"),
        ("contract_tests/bad.py", "import schemathesis.specs.openapi", "schemathesis.specs"),
        (
            "api/bad.py",
            "from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol",
            "imports uvicorn.protocols.http.httptools_impl.HttpToolsProtocol",
        ),
        ("bench/bad.py", "import uvicorn.protocols.http.h11_impl", "uvicorn.protocols.http"),
        ("cli/bad.py", "from uvicorn.server import ServerState", "uvicorn.server.ServerState"),
        ("api/bad.py", "def send_400_response(self, msg): pass", "overrides send_400_response"),
        ("tests/test_bad.py", "return app.cycle.response_complete", "uses .response_complete"),
    ],
)
def test_a_library_internal_outside_its_shim_would_be_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: str, expected: str
) -> None:
    bad = tmp_path / where
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(f"def f(app):\n    {code}\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert any(expected in v for v in library_internals([bad]))
    public = tmp_path / "fine.py"
    public.write_text(
        "from connexion.exceptions import ProblemException\nimport schemathesis\n"
        "import uvicorn\nfrom uvicorn.config import Config\n"
    )
    assert library_internals([public]) == []


def test_the_mock_loads_no_database_layer():
    """In a fresh interpreter: importing the mock (and building one) loads no peewee."""
    code = (
        "import sys\n"
        "from api.mock import MockOptions, create_mock_app\n"
        f"create_mock_app(MockOptions(spec_path={str(ROOT / 'openapi.yaml')!r}))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('peewee', 'db'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_server_does_load_it():
    """The same probe sees peewee when it is there: the check above can fail."""
    code = "import sys\nimport api.server.app\nprint('peewee' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.stdout.strip() == "True", done.stderr
