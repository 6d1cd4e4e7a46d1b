"""Small domain errors raised by queries; api/errors.py maps them to the contract's envelope."""


class NotFound(Exception):
    """Something asked for by name or id does not exist (for the caller)."""


class RenderNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Render not found.")


class ProjectNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"No project named {name!r}.")


class KeyNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No API key matches {ref!r}.")


class Conflict(Exception):
    """A write that contradicts what is stored (a duplicate name, a reused id)."""


class EventRejected(Exception):
    """An event of a batch cannot be stored; `line` says which one, nothing of the batch is."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message
