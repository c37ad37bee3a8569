"""pydantic validation errors as one line per problem, each naming its field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

_UNION_TAGS = {
    "savings_share",
    "rate_card",
    "target",
    "fixed",
    "uniform",
    "triangular",
    "normal",
    "lognormal",
    "beta",
    "gamma",
    "str",
    "float",
    "list[float]",
    "constrained-float",
}


def format_loc(loc: tuple) -> str:
    """Render a pydantic error location as ``a.b[2].c`` (union tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (
            part in _UNION_TAGS or part.startswith("function-") or "[" in part
        ):
            continue
        else:
            out += ("." if out else "") + part
    return out


def _union_branch(loc: tuple) -> bool:
    return any(isinstance(p, str) and (p in _UNION_TAGS or "[" in p) for p in loc)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validation_problems(err: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem, each naming the field."""
    errors = err.errors(include_url=False)
    formatted = [format_loc(tuple(e["loc"])) for e in errors]
    branch_type = [
        _union_branch(e["loc"]) and e["type"] in ("float_type", "list_type") for e in errors
    ]
    # a field that takes a word or a number (``"staircase" | Probability``) reports that
    # the word is not the one expected even when the input was a number out of range
    branch_literal = [_union_branch(e["loc"]) and e["type"] == "literal_error" for e in errors]
    real = [not (t or lit) for t, lit in zip(branch_type, branch_literal, strict=True)]
    lines = []
    said = set()
    for e, loc, skip, lit in zip(errors, formatted, branch_type, branch_literal, strict=True):
        if lit and any(r and o == loc for o, r in zip(formatted, real, strict=True)):
            continue
        # a field that takes a number or a list reports a type error for the branch the
        # input did not take; keep only the other branch's (real) error
        if skip:
            if loc in said or any(
                not other_skip and (o.startswith(loc) or loc.startswith(o))
                for o, other_skip in zip(formatted, branch_type, strict=True)
            ):
                continue
            said.add(loc)
            e = dict(e, msg="Input should be a number or a list of numbers")
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] not in ("missing", "value_error") and "input" in e:
            msg += f" (got {_short(e['input'])})"
        for part in msg.split("\n"):
            head, sep, rest = part.partition(": ")
            if (
                loc
                and sep
                and head.replace(".", "").replace("_", "").isalnum()
                and (e["type"] == "value_error")
            ):
                lines.append(f"{loc}.{head}: {rest}")  # the validator named a sub-field
            else:
                lines.append(f"{loc}: {part}" if loc else part)
    return [_clip(line) for line in lines]


MAX_LINE = 300


def _clip(line: str) -> str:
    """A problem line no longer than MAX_LINE characters (a long input is not echoed)."""
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."
