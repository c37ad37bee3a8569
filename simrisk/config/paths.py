"""The path grammar for deal fields: ``effect.job_entry[2]``,
``economics.benefits.sygedagpenge.indexation``, ``programme.phases[*].dropout``.

A path is a dotted list of keys with ``[i]`` indices; ``[*]`` (in stress changes)
matches every element of a list or every key of a table. Paths are resolved on
the deal as dumped by alias (``model_dump(by_alias=True)``), so they use the deal
file's own names.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

RENAMED = {"program": "programme"}
"""Old first components of a path that are still accepted (with a warning at loading)."""


def tokens(path: str, wildcard: bool = False) -> tuple:
    """``effect.job_entry[2]`` -> ``('effect', 'job_entry', 2)``; ``[*]`` -> ``'*'`` if
    ``wildcard``. Raises ValueError for a malformed path."""
    parts: list = []
    for chunk in path.split("."):
        if not chunk:
            raise ValueError(f"empty component in path '{path}'")
        name, bracket, rest = chunk.partition("[")
        if "]" in name:
            raise ValueError(f"unmatched ']' in path '{path}'")
        if name:
            parts.append(name)
        while bracket:
            idx, closed, rest = rest.partition("]")
            if not closed:
                raise ValueError(f"unclosed '[' in path '{path}'")
            if wildcard and idx == "*":
                parts.append("*")
            elif idx.isascii() and idx.isdigit():
                parts.append(int(idx))
            else:
                raise ValueError(f"bad index '[{idx}]' in path '{path}'")
            if rest and not rest.startswith("["):
                raise ValueError(f"'{rest}' after an index in path '{path}'")
            bracket, rest = rest[:1], rest[1:]
    if not parts:
        raise ValueError(f"empty path '{path}'")
    if parts[0] in RENAMED:
        parts[0] = RENAMED[parts[0]]
    return tuple(parts)


def parse_path(path: str) -> tuple:
    """A concrete path (no wildcards) as a tuple of keys and indices."""
    return tokens(path)


def path_text(path: tuple) -> str:
    """The inverse of :func:`parse_path`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def get_path(data: Any, path: tuple) -> Any:
    """The value at ``path``; KeyError if there is none."""
    for part in path:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                raise KeyError(part)
        elif not isinstance(data, dict) or part not in data:
            raise KeyError(part)
        data = data[part]
    return data


def set_path(data: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def is_real(dumped: dict, path: tuple) -> bool:
    """Whether ``path`` names a real-valued (float) leaf of the dumped deal."""
    try:
        value = get_path(dumped, path)
    except KeyError:
        return False
    return isinstance(value, float)


def expand(path: str, dumped: dict) -> list[tuple]:
    """Concrete paths matching ``path`` (``[*]`` matches every element or key)."""
    found: list[tuple] = []

    def walk(node, rest, prefix):
        if not rest:
            found.append(tuple(prefix))
            return
        head, tail = rest[0], rest[1:]
        if head == "*":
            keys = (
                range(len(node))
                if isinstance(node, list)
                else (list(node) if isinstance(node, dict) else [])
            )
            for k in keys:
                walk(node[k], tail, prefix + [k])
        elif isinstance(head, int):
            if isinstance(node, list) and head < len(node):
                walk(node[head], tail, prefix + [head])
        elif isinstance(node, dict) and head in node and node[head] is not None:
            walk(node[head], tail, prefix + [head])

    try:
        parts = tokens(path, wildcard=True)
    except ValueError:
        raise ValueError(f"bad path '{path}'") from None
    walk(dumped, parts, [])
    return found


def not_real(path: str, dumped: dict, where: str = "the deal") -> str:
    """Why ``path`` names no real-valued field of ``dumped`` (``where`` names it): what is
    there instead, or where the path leaves the deal."""
    head = f"'{path}' names no real-valued field of {where}"
    try:
        parts = tokens(path, wildcard=True)
    except ValueError:
        return f"bad path '{path}'"
    found = expand(path, dumped)
    if found:
        value = get_path(dumped, found[0])
        shown = path_text(found[0])
        if value is None:
            what = "not set in it"
        elif isinstance(value, bool):
            what = "a switch (true or false)"
        elif isinstance(value, str):
            what = "text"
        elif isinstance(value, int):
            what = "a whole number; only real-valued fields vary"
        elif isinstance(value, dt.date):
            what = "a date"
        elif isinstance(value, dict):
            what = "a table; name one of its numbers"
        else:
            what = "a list; name an element ([0]) or every element ([*])"
        return f"{head}: {shown} is {what}"
    node, at = dumped, []
    for part in parts:
        if part == "*":
            break
        if isinstance(part, int):
            if not isinstance(node, list):
                return f"{head}: {path_text(tuple(at)) or 'the deal'} is not a list"
            if part >= len(node):
                last = f" ([0] to [{len(node) - 1}])" if node else ""
                return f"{head}: {path_text(tuple(at))} has {len(node)} element(s){last}"
            node, at = node[part], [*at, part]
        elif isinstance(node, dict) and node.get(part) is not None:
            node, at = node[part], [*at, part]
        else:
            inside = path_text(tuple(at)) or "the deal's top level"
            return f"{head}: there is no '{part}' in {inside}"
    return head


def scenario_independent(path: tuple) -> str:
    """Why a leaf cannot vary by scenario ('' if it can)."""
    if path[:2] == ("labour", "calendar"):
        return (
            "calendar shocks are the same in every scenario; vary "
            "labour.job_entry_multiplier, or use a stress point's 'calendar'"
        )
    if path[0] in ("uncertainty", "stress"):
        return f"the {path[0]} section cannot itself be varied"
    return ""
