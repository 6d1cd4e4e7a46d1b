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
    """Events of a batch cannot be stored; nothing of the batch is.

    `problems`: (line, why), possibly only the first ones; `total`: how many there were."""

    SHOWN = 20

    def __init__(self, problems: list[tuple[int, str]], total: int | None = None) -> None:
        self.problems = problems
        self.total = len(problems) if total is None else total
        lines = [f"line {line}: {why}" for line, why in problems[: self.SHOWN]]
        if self.total > len(lines):
            lines.append(f"… and {self.total - len(lines)} more")
        super().__init__("\n".join(lines))
