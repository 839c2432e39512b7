"""The one error a user's config mistake produces: every problem, each with its config path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a stack's config, at a path such as `fleet:clusters[2].managedBy`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """Raised with all problems at once, so a user fixes the config in one pass."""

    def __init__(self, problems: Iterable[Problem], source: str = "stack config") -> None:
        self.problems = tuple(sorted(set(problems)))
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        header = f"{self.source}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])
