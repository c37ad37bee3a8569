"""The one error type for bad input: a file or option that cannot be used as given."""

from __future__ import annotations


class ConfigError(Exception):
    """An input (deal, targets, stress, sweep or fund file, or an option) is invalid.

    ``problems`` holds one line per problem, each naming the field it is about.
    """

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))
