"""The ``simrisk`` command line.

Each command parses its options, calls one job (:mod:`simrisk.jobs`) and prints
what it returns (:mod:`.render`). Tables go to stdout (or JSON with
``--json``); progress and messages to stderr. Exit codes: 0 success, 1 bad
input (one line per problem, no traceback, nothing written), 2 usage error.
"""

from __future__ import annotations

import click

from simrisk import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simrisk")
def main() -> None:
    """Monte Carlo risk engine for social impact investments."""


from simrisk.cli import analysis, batch, deal  # noqa: E402, F401  (registers the commands)

__all__ = ["main"]
