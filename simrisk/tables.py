"""Tables of results, independent of how they are shown.

A library function that has something to print returns :class:`Table` objects:
a title, columns with a *kind* (the unit a number is shown in), rows of raw
values and notes. The command line renders them with rich or as JSON, the
report as HTML; :func:`fmt` is the one place a number is formatted for its
unit.

Kinds: ``text``; ``pct`` (a share, shown as ``12.3 %``); ``pp`` (a difference of
shares, ``+1.2 pp``); ``mio`` (DKK, shown in mio. DKK: ``1.23``); ``mio_signed``
(``+1.23``); ``dkk`` (whole DKK with thousands separators); ``x`` (a multiple,
``1.05``); ``corr`` (a correlation, ``+0.12``); ``int`` (a count, ``12,345``);
``num`` (four significant digits; from 10,000 whole numbers with thousands
separators); ``index`` (a share of variance, ``0.12``);
``share3`` (a share with three decimals, ``0.465``); ``dev`` (a deviance, ``1.23``).
A cell may carry its own kind as a ``(value, kind)`` pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def fmt(value, kind: str | None) -> str:
    """A value as text for its kind."""
    if kind in (None, "text") or isinstance(value, str):
        return "" if value is None else str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "undef."
    if value == 0:
        value = 0.0 * value + 0.0  # a zero, never "-0.00"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "pp":
        return f"{100 * value:+.1f} pp"
    if kind == "mio":
        return f"{value / 1e6:,.2f}"
    if kind == "mio_signed":
        return f"{value / 1e6:+,.2f}"
    if kind == "dkk":
        return f"{value:,.0f}"
    if kind == "x":
        return f"{value:.2f}"
    if kind == "corr":
        return f"{value:+.2f}"
    if kind == "index":
        return f"{value:.2f}"
    if kind == "share3":
        return f"{value:.3f}"
    if kind == "dev":
        return f"{value:.2f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "num":
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    raise ValueError(f"unknown kind '{kind}'")


UNITS = {
    "pct": "fraction", "pp": "fraction (a difference)", "mio": "DKK", "mio_signed": "DKK",
    "dkk": "DKK", "x": "multiple", "int": "count",
}  # fmt: skip
"""The unit of a kind's raw value, as JSON gives it (a table shows ``mio`` in mio. DKK and
``pct`` in per cent; JSON keeps DKK and fractions). The kinds that only say how a number
is shown (``corr``, ``index``, ``share3``, ``num``, ``dev``: a correlation or a z-score,
weeks or a hazard ratio) have no unit here."""

_STEP = {"pct": 1e-3, "pp": 1e-3, "mio": 1e4, "mio_signed": 1e4, "dkk": 1.0, "int": 1.0,
         "x": 1e-2}  # fmt: skip


def fmt_bound(value: float, kind: str, up: bool) -> str:
    """A bound shown for its kind, rounded away from the side where it does not hold:
    up for a lower bound (``x ≥ …``), down for an upper one, so that the printed value
    itself meets the bound."""
    if not isinstance(value, float | int) or not math.isfinite(value) or value == 0:
        return fmt(value, kind)
    step = _STEP.get(kind)
    if step is None:  # four significant digits
        step = 10.0 ** (math.floor(math.log10(abs(value))) - 3)
    rounded = (math.ceil if up else math.floor)(value / step - (1e-9 if up else -1e-9)) * step
    return fmt(rounded, kind)


@dataclass
class Table:
    """A titled table: ``columns`` are (name, kind) pairs; ``lines`` renders it as
    label-value lines instead of a grid."""

    title: str
    columns: list[tuple[str, str | None]]
    rows: list[list] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: bool = False

    def add(self, *cells) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def cell_text(self, r: int, c: int) -> str:
        cell = self.rows[r][c]
        if isinstance(cell, tuple):
            return fmt(*cell)
        return fmt(cell, self.columns[c][1])

    def text_rows(self) -> list[list[str]]:
        return [
            [self.cell_text(r, c) for c in range(len(self.columns))] for r in range(len(self.rows))
        ]

    def as_dict(self) -> dict:
        """The table's raw values, for JSON, with ``units``: the unit of each column's raw
        values (:data:`UNITS`; DKK where the table shows mio. DKK, a fraction where it shows
        per cent). A row whose cells carry their own kind gives their unit as ``unit``."""
        names = [name or f"column_{i}" for i, (name, _) in enumerate(self.columns)]
        rows = []
        for row in self.rows:
            out = {
                n: (cell[0] if isinstance(cell, tuple) else cell)
                for n, cell in zip(names, row, strict=True)
            }
            own = {UNITS.get(cell[1]) for cell in row if isinstance(cell, tuple)}
            if len(own) == 1 and None not in own and "unit" not in out:
                out["unit"] = own.pop()
            rows.append(out)
        units = {n: UNITS[k] for n, (_, k) in zip(names, self.columns, strict=True) if k in UNITS}
        return {"title": self.title, "rows": rows, "units": units, "notes": list(self.notes)}


@dataclass
class Output:
    """What a command has to show: ``data`` (its JSON form), ``tables`` and plain
    ``lines`` for the terminal (stdout), and ``messages`` such as the files written
    (stderr, with or without JSON)."""

    data: dict
    tables: list[Table] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
