"""What every command shares: errors as one line each, the terminal UI, shared options."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from simrisk.cli.render import safe, stderr
from simrisk.errors import ConfigError
from simrisk.jobs import UI
from simrisk.resources import MAX_SCENARIOS

MAX_WORKERS = 256


class BadInput(click.ClickException):
    """Bad input: printed as one line per problem, exit code 1."""

    exit_code = 1

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))

    def show(self, file=None) -> None:
        for line in self.problems:
            click.echo(f"error: {safe(line)}", err=True)


@contextmanager
def bad_input():
    """Turn input errors into :class:`BadInput` (exit 1, no traceback): bad files and
    options, files that cannot be read or written, a run too large for the memory."""
    try:
        yield
    except ConfigError as exc:
        raise BadInput(exc.problems) from None
    except (FileNotFoundError, FileExistsError, ValueError, OSError, OverflowError) as exc:
        raise BadInput([str(exc)]) from None
    except MemoryError:
        raise BadInput(
            ["out of memory: use fewer scenarios (-n), fewer threads (--threads) or no --detail"]
        ) from None


class Interrupted(click.ClickException):
    """Ctrl-C or SIGTERM: one line, exit code 130; what was being written is removed."""

    exit_code = 130

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


class TerminalUI(UI):
    """Messages on stderr; a progress bar only when stderr is a terminal."""

    def log(self, message: str) -> None:
        click.echo(safe(message), err=True)

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[int], None]]:
        if not sys.stderr.isatty():
            yield lambda k: None
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeRemainingColumn(),
            console=stderr,
            transient=True,
        ) as bar:
            task = bar.add_task("run", total=total)
            yield lambda k: bar.advance(task, k)


ui = TerminalUI()

# --------------------------------------------------------------------- shared options
deal_argument = click.argument("deal", type=click.Path(dir_okay=False))

seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=None,
    help="Random seed (drawn, printed and stored when omitted).",
)
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1, max=1024),
    default=None,
    help="Threads (default: all cores); chunks of scenarios run concurrently, one per "
    "thread. Results do not depend on it.",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace an existing output.")


def json_option(what: str = "the summary"):
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


def scenarios_option(default: int | None, minimum: int = 1, help: str = "Number of scenarios."):
    return click.option(
        "-n",
        "--scenarios",
        type=click.IntRange(min=minimum, max=MAX_SCENARIOS),
        default=default,
        show_default=default is not None,
        help=help,
    )


def output_option(help: str, required: bool = False):
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        default=None,
        required=required,
        help=help,
    )


def chunk_option(help: str = "Scenarios per chunk. Results do not depend on it."):
    return click.option(
        "--chunk", type=click.IntRange(min=1, max=1_000_000), default=None, help=help
    )


def backend_options(f):
    f = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Run the chunks on an existing dask.distributed scheduler (tcp://host:8786).",
    )(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=1, max=MAX_WORKERS),
        default=None,
        help="Run the chunks on an embedded dask LocalCluster with this many worker "
        "processes. Results do not depend on it.",
    )(f)
    return f
