"""operationId → handler: `getRenderEngagement` is `get_render_engagement` in `handlers/`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from typing import Any

from connexion.exceptions import ResolverError
from connexion.resolver import Resolution, Resolver

import handlers


def snake_case(operation_id: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", operation_id).lower()


def handler_functions() -> dict[str, Callable[..., Any]]:
    """Every public function of every module in `handlers/`, by name."""
    found: dict[str, Callable[..., Any]] = {}
    for module_info in pkgutil.iter_modules(handlers.__path__):
        module = importlib.import_module(f"handlers.{module_info.name}")
        for name, value in vars(module).items():
            if not inspect.isfunction(value) or name.startswith("_"):
                continue
            if value.__module__ == module.__name__:  # defined there, not imported
                found[name] = value
    return found


Wrap = Callable[[Callable[..., Any], Any], Callable[..., Any]]  # (handler, operation) -> view


class OperationIdResolver(Resolver):
    """Resolves each operationId to the handler named for it, failing start-up if there is none.

    `wrap`, if given, turns each handler into the view Connexion calls, given Connexion's
    operation (api/server/app.py: the AsyncApp's views run through the app's database policy and
    answer JSON themselves).
    """

    def __init__(self, wrap: Wrap | None = None) -> None:
        self._functions = handler_functions()
        self._wrap = wrap
        super().__init__(function_resolver=self._function)

    def resolve(self, operation: Any) -> Resolution:
        resolution = super().resolve(operation)
        if self._wrap is not None:
            resolution.function = self._wrap(resolution.function, operation)
        return resolution

    def _function(self, operation_id: str) -> Callable[..., Any]:
        name = snake_case(operation_id)
        try:
            return self._functions[name]
        except KeyError:
            raise ResolverError(
                f"operationId {operation_id!r} has no handler: define {name}() in handlers/"
            ) from None
