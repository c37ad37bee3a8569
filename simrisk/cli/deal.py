"""Commands on one deal and its results: run, validate, summary, report."""

from __future__ import annotations

import click

from simrisk.cli import main
from simrisk.cli.common import (
    bad_input,
    chunk_option,
    deal_argument,
    json_option,
    output_option,
    overwrite_option,
    scenarios_option,
    seed_option,
    threads_option,
    ui,
)
from simrisk.cli.render import emit
from simrisk.jobs import deal as job


@main.command()
@deal_argument
@scenarios_option(10_000)
@seed_option
@output_option("NetCDF file to write (default: DEAL name with .nc in the working directory).")
@threads_option
@chunk_option("Scenarios per kernel call. Results do not depend on it.")
@overwrite_option
@json_option()
@click.option("--detail", is_flag=True, help="Keep weekly series per scenario in the output.")
def run(deal, scenarios, seed, output, threads, chunk, overwrite, as_json, detail) -> None:
    """Simulate DEAL (a TOML deal file) and write the results to NetCDF."""
    with bad_input():
        out = job.run(
            deal, scenarios, seed, output, threads=threads, chunk=chunk, overwrite=overwrite,
            detail=detail, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@deal_argument
def validate(deal) -> None:
    """Check DEAL without simulating: every problem, one per line. An evidence or targets
    file given instead is checked as one."""
    with bad_input():
        out = job.validate(deal, ui=ui)
    emit(out)


@main.command()
@click.argument("result", type=click.Path(dir_okay=False))
@json_option()
@click.option(
    "--drivers",
    is_flag=True,
    help="Also rank the uncertain parameters by their rank correlation with the "
    "investor's profit and the municipal net.",
)
def summary(result, as_json, drivers) -> None:
    """Print the headline table of a results file."""
    with bad_input():
        out = job.summarise(result, drivers)
    emit(out, as_json)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the figures and report.html.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "pdf", "svg"]),
    default="png",
    show_default=True,
    help="Format of the figure files (the page embeds PNG).",
)
def report(files, out_dir, fmt) -> None:
    """Figures and a self-contained HTML page from RESULT.nc [STRESS.nc] [SENSITIVITY.nc].

    The stress and sensitivity files are recognised by their contents, in any order.
    """
    with bad_input():
        out = job.make_report(list(files), out_dir, fmt)
    emit(out)
