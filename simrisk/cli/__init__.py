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


def entry() -> None:
    """The ``simrisk`` command: SIGTERM is handled like Ctrl-C, so that a half-written
    output is removed; either ends with one line and exit code 130, no traceback. The
    request is kept (:mod:`simrisk.interrupt`), so that one raised where it is swallowed
    (numba compiling) still stops the run at the next chunk or before the output is
    written."""
    import logging
    import signal

    from simrisk import interrupt

    signal.signal(signal.SIGTERM, interrupt.request)
    signal.signal(signal.SIGINT, interrupt.request)
    try:
        main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        click.echo("error: interrupted; nothing was left half-written", err=True)
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)  # dask's workers say nothing while shutting down
        click.echo("error: interrupted; nothing was left half-written", err=True)
        raise SystemExit(130) from None
    except click.exceptions.Exit as exc:
        raise SystemExit(exc.exit_code) from None


__all__ = ["entry", "main"]
