"""The one place the command line prints results: tables with rich, or JSON."""

from __future__ import annotations

import json
import sys

import click
import numpy as np
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from simrisk.tables import Output, Table

stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


_CONTROL = {c: f"\\x{c:02x}" for c in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0))}
del _CONTROL[ord("\n")], _CONTROL[ord("\t")]


def safe(text) -> str:
    """A string as it may reach a terminal: control characters (escape sequences) shown
    as ``\\xNN``, never acted on."""
    return str(text).translate(_CONTROL)


def finite(obj):
    """JSON-safe copy: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def table(t: Table) -> None:
    texts = t.text_rows()
    if t.lines:
        for row in texts:
            stdout.print(Text(f"{safe(row[0]):<36}{safe(row[1]):>12}"))
    else:
        rt = RichTable(title=Text(safe(t.title)) if t.title else None, title_justify="left")
        for c, (name, kind) in enumerate(t.columns):
            numeric = kind not in ("text",) or any(isinstance(r[c], tuple) for r in t.rows)
            rt.add_column(Text(safe(name)), justify="right" if numeric and c > 0 else "left")
        for row in texts:
            rt.add_row(*(Text(safe(cell)) for cell in row))
        stdout.print(rt)
    for note in t.notes:
        stdout.print(Text(safe(note)))


def emit(out: Output, as_json: bool = False) -> None:
    """Print a command's output: JSON of its data, or its tables and lines (stdout); its
    messages on stderr."""
    if as_json:
        click.echo(json.dumps(finite(out.data), indent=2, ensure_ascii=False))
    else:
        for t in out.tables:
            table(t)
        for line in out.lines:
            stdout.print(Text(safe(line)))
    for message in out.messages:
        stderr.print(Text(safe(message)))
