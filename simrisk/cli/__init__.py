"""The ``simrisk`` command line.

Each command parses its options, calls one job (:mod:`simrisk.jobs`) and prints
what it returns (:mod:`.render`). Tables go to stdout (or JSON with
``--json``); progress and messages to stderr. Exit codes: 0 success, 1 bad
input (one line per problem, no traceback, nothing written), 2 usage error.
"""

from __future__ import annotations

from typing import NoReturn

import click

from simrisk import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simrisk")
def main() -> None:
    """Monte Carlo risk engine for social impact investments."""


from simrisk.cli import analysis, batch, deal  # noqa: E402, F401  (registers the commands)


def entry() -> None:
    """The ``simrisk`` command (:func:`run_command`), ended by :func:`end`."""
    end(run_command())


def run_command() -> int:
    """Run the command line and return its exit code. SIGTERM is handled like Ctrl-C, so
    that a half-written output is removed; either ends with one line and exit code 130,
    no traceback. The request is kept (:mod:`simrisk.interrupt`), so that one raised where
    it is swallowed (numba compiling) still stops the run at the next chunk or before the
    output is written."""
    import logging
    import signal

    from simrisk import interrupt

    signal.signal(signal.SIGTERM, interrupt.request)
    signal.signal(signal.SIGINT, interrupt.request)
    try:
        main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("error: interrupted; nothing was left half-written", err=True)
        return 130
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)  # dask's workers say nothing while shutting down
        click.echo("error: interrupted; nothing was left half-written", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


def end(code: int) -> NoReturn:
    """End the process with exit code ``code`` once the command is done, without the
    interpreter's teardown: after a run, freeing numba's and LLVM's objects one by one
    took a quarter to a third of a second, as long again as a small run's work
    (``benchmarks/README.md``). What the usual exit does that matters still happens:
    the exit handlers run (a compile helper is stopped, logging is flushed) and the
    standard streams are flushed. Every file a command writes is closed (and renamed
    into place) before the command returns. Where another thread is still alive, or a
    stream cannot be flushed (a closed pipe), the process ends the usual way."""
    import atexit
    import os
    import sys
    import threading

    if threading.active_count() == 1:
        try:
            _flush(sys.stdout, sys.stderr)
            atexit._run_exitfuncs()
            _flush(sys.stdout, sys.stderr)
        except (OSError, ValueError):  # the usual exit reports it as it always has
            pass
        else:
            os._exit(code)
    raise SystemExit(code)


def _flush(*streams) -> None:
    for f in streams:
        if f is not None:
            f.flush()


__all__ = ["end", "entry", "main", "run_command"]
