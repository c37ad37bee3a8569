"""Commands on one deal and its results: run, validate, summary, report; compare (several
results files side by side)."""

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
from simrisk.jobs import compare as compare_job
from simrisk.jobs import deal as job


@main.command()
@deal_argument
@scenarios_option(10_000)
@seed_option
@output_option("NetCDF file to write (default: DEAL name with .nc in the working directory).")
@threads_option
@chunk_option(
    "Scenarios per kernel call (at most; fewer for a very large cohort). Results do not "
    "depend on it."
)
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
@click.argument("deal", metavar="FILE", type=click.Path(dir_okay=False))
def validate(deal) -> None:
    """Check FILE without simulating: every problem, one per line. FILE is a deal file, or
    an evidence, targets, sweep, fund or stress file, checked as the command that takes it
    checks it before running. What a stress file's paths name is checked against a deal
    when the file is used: 'simrisk stress DEAL --stress-file FILE'."""
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
    """Figures and a self-contained HTML page from RESULT.nc and the files of other
    commands on the same deal.

    FILES: the results of 'simrisk run', and any of the files of stress, sensitivity,
    check, acceptability, region and voi, one of each, recognised by their contents, in
    any order.
    """
    with bad_input():
        out = job.make_report(list(files), out_dir, fmt)
    emit(out)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Also write compare.html (one self-contained page: the table, the verdict and the "
    "figure) and the figure file into this directory.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "pdf", "svg"]),
    default="png",
    show_default=True,
    help="Format of the figure file (the page embeds PNG).",
)
@json_option("the table, the verdict and the files written")
def compare(files, out_dir, fmt, as_json) -> None:
    """Put two or more results files of 'simrisk run' side by side: several deals, or
    contract variants of one deal.

    Prints one table (a row per headline metric, a column per file, and which file is
    better on that row for the investor or the municipality) and a few sentences on
    which file is best for whom: for the investor by P(investor loss), then the median
    profit; for the municipality by P(municipal net < 0), then the median net. Columns
    are named by deal, or by file when the files are of one deal. With -o, also a page
    with the distributions of investor IRR, investor profit and municipal net on
    common axes.

    Example: simrisk compare a.nc b.nc -o comparison
    """
    with bad_input():
        out = compare_job.compare(list(files), out_dir, fmt)
    emit(out, as_json)


@main.command()
@click.argument("result", type=click.Path(dir_okay=False))
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="NAME=PATH,PATH",
    help="Also the value of knowing these inputs together; repeatable.",
)
@output_option("NetCDF file of the values (for 'simrisk report').")
@overwrite_option
@json_option("the values")
def voi(result, groups, output, overwrite, as_json) -> None:
    """The value of information from RESULT.nc: what knowing each uncertain input, a group
    of them or all of them (EVPPI), or how the deal turns out, the cohort's own luck
    included (EVPI), before signing is worth to the investor and to the municipality, in
    DKK, by a nonparametric regression on the run's own sample."""
    with bad_input():
        out = job.value_of_information(result, list(groups), output, overwrite)
    emit(out, as_json)
