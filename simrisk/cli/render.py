"""The one place the command line prints results: tables with rich, or JSON."""

from __future__ import annotations

import json
import sys

import click
import numpy as np
from rich.console import Console
from rich.table import Table as RichTable

from simrisk.tables import Output, Table

stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


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
            stdout.print(f"{row[0]:<36}{row[1]:>12}")
    else:
        rt = RichTable(title=t.title or None, title_justify="left")
        for c, (name, kind) in enumerate(t.columns):
            numeric = kind not in ("text",) or any(isinstance(r[c], tuple) for r in t.rows)
            rt.add_column(name, justify="right" if numeric and c > 0 else "left")
        for row in texts:
            rt.add_row(*row)
        stdout.print(rt)
    for note in t.notes:
        stdout.print(note)


def emit(out: Output, as_json: bool = False) -> None:
    """Print a command's output: JSON of its data, or its tables and lines."""
    if as_json:
        click.echo(json.dumps(finite(out.data), indent=2, ensure_ascii=False))
        return
    for t in out.tables:
        table(t)
    for line in out.lines:
        stdout.print(line)
