"""Commands of many deals: sweep and portfolio."""

from __future__ import annotations

import click

from simrisk.cli import main
from simrisk.cli.common import (
    backend_options,
    bad_input,
    chunk_option,
    json_option,
    output_option,
    overwrite_option,
    scenarios_option,
    seed_option,
    ui,
)
from simrisk.cli.render import emit


def _job():
    """The jobs of these commands, imported when one runs (they import xarray, which
    ``simrisk run`` does without)."""
    from simrisk.jobs import batch

    return batch


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--grid",
    multiple=True,
    metavar="PATH=v1,v2",
    help="Full-factorial grid of set values; repeatable (with deal files only).",
)
@click.option(
    "--stress-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Named stress points (with deal files only).",
)
@scenarios_option(None, help="Scenarios per deal and point (default: the sweep file's, or 1,000).")
@seed_option
@chunk_option("Scenarios per chunk (unit of work and of resume). Results do not depend on it.")
@output_option("NetCDF file to write (default: SWEEP name + .nc, or sweep.nc).")
@backend_options
@click.option(
    "--resume",
    is_flag=True,
    help="Reuse the chunks of an interrupted run (and its seed, if no seed is given).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output (and chunks).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "netcdf", "zarr"]),
    default="auto",
    show_default=True,
    help="auto: Zarr for a .zarr output or a result over 2 GiB (where zarr is installed), "
    "else NetCDF.",
)
@json_option("the table")
def sweep(
    files, grid, stress_file, scenarios, seed, chunk, output, workers, scheduler, resume,
    overwrite, fmt, as_json,
) -> None:  # fmt: skip
    """Many deals x stress points x scenarios as one job: FILES is one sweep file, or deal
    files with --grid / --stress-file. Writes per-scenario metrics (deal, stress,
    scenario) to NetCDF or Zarr; finished chunks are kept in OUTPUT.chunks/ until the end."""
    with bad_input():
        out = _job().sweep(
            list(files), grid=list(grid), stress_file=stress_file, scenarios=scenarios,
            seed=seed, chunk=chunk, output=output, workers=workers, scheduler=scheduler,
            resume=resume, overwrite=overwrite, fmt=fmt, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@click.argument("fund", type=click.Path(dir_okay=False))
@scenarios_option(None, help="Scenarios of the fund (default: the fund file's).")
@seed_option
@chunk_option()
@output_option("NetCDF file to write.")
@backend_options
@overwrite_option
@json_option()
def portfolio(fund, scenarios, seed, chunk, output, workers, scheduler, overwrite, as_json):
    """A fund of deals linked by a shared labour-market factor: the fund's return
    distribution, P(fund loss), each deal's contribution, and the diversification benefit
    against independent deals."""
    with bad_input():
        out = _job().portfolio(
            fund, scenarios=scenarios, seed=seed, chunk=chunk, output=output, workers=workers,
            scheduler=scheduler, overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)
