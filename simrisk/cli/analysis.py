"""Commands that ask questions of one deal: stress, sensitivity, solve, calibrate."""

from __future__ import annotations

import math

import click

from simrisk.cli import main
from simrisk.cli.common import (
    bad_input,
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
from simrisk.errors import ConfigError


def _job():
    """The jobs of these commands, imported when one runs (they import scipy.stats and
    scipy.optimize, slow to import, which ``simrisk run`` does without)."""
    from simrisk.jobs import analysis

    return analysis


def goal_options(f):
    """The goals of solve and region, as options."""
    for opt in reversed(_GOAL_OPTIONS):
        f = opt(f)
    return f


_GOAL_OPTIONS = [
    click.option(
        "--irr-hurdle",
        type=float,
        default=None,
        help="Goal: P(investor IRR >= hurdle) >= --irr-prob.",
    ),
    click.option(
        "--irr-prob",
        type=click.FloatRange(0, 1),
        default=0.5,
        show_default=True,
        help="With --irr-hurdle: the least share of futures (0-1) whose IRR must reach the hurdle "
        "(0.5: the median IRR reaches it).",
    ),
    click.option(
        "--max-municipal-loss",
        type=click.FloatRange(0, 1),
        default=None,
        help="Goal: P(municipal net < 0) <= this.",
    ),
    click.option(
        "--max-investor-loss",
        type=click.FloatRange(0, 1),
        default=None,
        help="Goal: P(investor loss) <= this.",
    ),
    click.option("--breakeven", is_flag=True, help="Goal: the investor's median profit >= 0."),
]


def goals_from(irr_hurdle, irr_prob, max_municipal_loss, max_investor_loss, breakeven):
    """The goals the options state."""
    from simrisk.analysis.solve import Goal

    goals = []
    shares = {"--irr-prob": irr_prob, "--max-municipal-loss": max_municipal_loss,
              "--max-investor-loss": max_investor_loss}  # fmt: skip
    bad = _job().hurdle_problems(irr_hurdle, "--irr-hurdle")
    bad += [f"{k}: {v:g} is not a share from 0 to 1" for k, v in shares.items()
            if v is not None and not math.isfinite(v)]  # fmt: skip
    if bad:
        raise ConfigError("goals", bad)
    if irr_hurdle is not None:
        goals.append(Goal("p_irr_at_least", irr_prob, irr_hurdle))
    if max_municipal_loss is not None:
        goals.append(Goal("p_municipal_loss_at_most", max_municipal_loss))
    if max_investor_loss is not None:
        goals.append(Goal("p_investor_loss_at_most", max_investor_loss))
    if breakeven:
        goals.append(Goal("median_profit_at_least", 0.0))
    return goals


@main.command()
@deal_argument
@scenarios_option(5000, 2, "Scenarios per stress point (the same ones at every point).")
@seed_option
@output_option("NetCDF file with a stress dimension (default: DEAL name + _stress.nc).")
@click.option(
    "--stress-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file of [[stress]] points (default: the deal's, else a standard set).",
)
@click.option(
    "--grid",
    multiple=True,
    metavar="PATH=v1,v2,...",
    help="Full factorial over set values; repeatable.",
)
@threads_option
@overwrite_option
@json_option("the table")
def stress(deal, scenarios, seed, output, stress_file, grid, threads, overwrite, as_json) -> None:
    """Stress-test DEAL: named stress points or a grid, on common random numbers."""
    with bad_input():
        out = _job().stress(
            deal, scenarios, seed, output, stress_file=stress_file, grid=list(grid),
            threads=threads, overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@deal_argument
@click.option(
    "--method",
    type=click.Choice(["sobol", "tornado"]),
    default="sobol",
    show_default=True,
    help="sobol: variance-based indices of every input (first order and total); tornado: "
    "each input at its 10th and 90th percentile, the others at their medians.",
)
@scenarios_option(
    1024,
    8,
    "Sobol: base sample size (runs = n x (parameters + 2)); tornado: scenarios per point.",
)
@click.option(
    "--outer",
    type=click.IntRange(min=2),
    default=200,
    show_default=True,
    help="Parameter draws for the variance split.",
)
@click.option(
    "--inner",
    type=click.IntRange(min=2),
    default=20,
    show_default=True,
    help="Cohort realisations per parameter draw for the variance split.",
)
@click.option(
    "--output-metric",
    "outputs",
    multiple=True,
    default=("investor_irr", "investor_moic", "investor_loss", "municipal_net"),
    show_default=True,
    help="Outputs to analyse; repeatable.",
)
@seed_option
@output_option("NetCDF file (default: DEAL name + _sensitivity.nc).")
@threads_option
@overwrite_option
@json_option("the tables")
def sensitivity(
    deal, method, scenarios, outer, inner, outputs, seed, output, threads, overwrite, as_json
) -> None:
    """Which uncertain parameter drives DEAL's results: Sobol indices or a tornado, and the
    split of variance between parameters and the cohort's own randomness."""
    with bad_input():
        out = _job().sensitivity(
            deal, method, scenarios, outer, inner, list(outputs), seed, output,
            threads=threads, overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@deal_argument
@click.option(
    "--vary",
    "path",
    required=True,
    metavar="PATH",
    help="The term or assumption to solve for, e.g. contract.mechanisms[0].share.",
)
@click.option("--range", "bounds", required=True, metavar="LOW,HIGH", help="Interval to search.")
@goal_options
@scenarios_option(5000, 10, "Scenarios at each value tried (the same ones at every value).")
@seed_option
@output_option("NetCDF file of every value tried, each goal's measure there and the answer.")
@threads_option
@overwrite_option
@json_option("the answer")
def solve(
    deal, path, bounds, irr_hurdle, irr_prob, max_municipal_loss, max_investor_loss, breakeven,
    scenarios, seed, output, threads, overwrite, as_json,
) -> None:  # fmt: skip
    """Find the values of one term of DEAL (or assumption) that meet the stated goals.

    Says for each goal on which side of its crossing it holds (X ≥ or X ≤ the crossing),
    and where every goal holds at once."""
    with bad_input():
        goals = goals_from(irr_hurdle, irr_prob, max_municipal_loss, max_investor_loss, breakeven)
        out = _job().solve(
            deal, path, bounds, goals, scenarios, seed, output, threads=threads,
            overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@deal_argument
@click.option(
    "--vary",
    "vary",
    multiple=True,
    required=True,
    metavar="PATH=LOW,HIGH",
    help="A term (or assumption) and its range; give exactly two.",
)
@click.option(
    "--points",
    type=click.IntRange(2, 50),
    default=9,
    show_default=True,
    help="Values of each term: a grid of POINTS x POINTS.",
)
@goal_options
@scenarios_option(1000, 10, "Scenarios at each grid point (the same ones at every point).")
@seed_option
@output_option("NetCDF file (default: DEAL name + _region.nc).")
@threads_option
@overwrite_option
@json_option("the map")
def region(
    deal, vary, points, irr_hurdle, irr_prob, max_municipal_loss, max_investor_loss, breakeven,
    scenarios, seed, output, threads, overwrite, as_json,
) -> None:  # fmt: skip
    """The terms both sides can sign: where every goal holds on a grid of two terms of
    DEAL, each party's goals marked, and the best point (the largest smallest margin)."""
    with bad_input():
        goals = goals_from(irr_hurdle, irr_prob, max_municipal_loss, max_investor_loss, breakeven)
        out = _job().region(
            deal, list(vary), points, goals, scenarios, seed, output, threads=threads,
            overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@deal_argument
@click.option(
    "--vary",
    "path",
    required=True,
    metavar="PATH",
    help="The term or assumption to vary, e.g. contract.mechanisms[0].share.",
)
@click.option("--range", "bounds", required=True, metavar="LOW,HIGH", help="Values to cover.")
@click.option(
    "--points",
    type=click.IntRange(2, 200),
    default=11,
    show_default=True,
    help="Evenly spaced values from LOW to HIGH (the deal's own value is added).",
)
@click.option(
    "--hurdle",
    type=float,
    default=None,
    help="The investor's hurdle IRR (0.05 for 5 %) [default: the deal's discount rate].",
)
@scenarios_option(2000, 10, "Scenarios at each value (the same ones at every value).")
@seed_option
@output_option("NetCDF file (default: DEAL name + _acceptability.nc).")
@threads_option
@overwrite_option
@json_option("the curves")
def acceptability(
    deal, path, bounds, points, hurdle, scenarios, seed, output, threads, overwrite, as_json
) -> None:
    """Acceptability curves: P(investor IRR ≥ hurdle) and P(municipal net ≥ 0) against one
    term of DEAL, both parties on common random numbers."""
    with bad_input():
        out = _job().acceptability(
            deal, path, bounds, points, scenarios, seed, output, hurdle=hurdle,
            threads=threads, overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@deal_argument
@click.option(
    "--targets",
    "targets_path",
    type=click.Path(dir_okay=False),
    help="TOML file of targets and free parameters (default: the deal's own [calibration] "
    "and the endpoints its [[evidence]] lists under 'calibrate').",
)
@output_option("Calibrated deal file to write.", required=True)
@click.option(
    "--method",
    type=click.Choice(["smc", "point"]),
    default="smc",
    show_default=True,
    help="smc: posterior draws by sequential Monte Carlo, written to the posterior file the "
    "calibrated deal names; point: a deviance-minimising point fit.",
)
@click.option(
    "--posterior",
    type=click.Path(dir_okay=False),
    help="Posterior file to write with --method smc [default: posteriors/<OUTPUT name>.toml "
    "beside OUTPUT].",
)
@click.option(
    "--particles",
    type=click.IntRange(50, 100_000),
    default=500,
    show_default=True,
    help="Particles of the sequential Monte Carlo (the posterior draws written).",
)
@scenarios_option(
    None,
    1,
    "Scenarios per evaluation, the same ones every time [default: with --method smc, "
    "enough for about 4,000 simulated citizens; with point, 200].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=20240201,
    show_default=True,
    help="Seed of the common random numbers and of the sampler.",
)
@click.option(
    "--propagate",
    is_flag=True,
    help="With --method point: write the fit's approximate uncertainty (marginal normals "
    "from the inverse Hessian) into the uncertainty section.",
)
@overwrite_option
@json_option("the fit")
def calibrate(
    deal, targets_path, output, method, posterior, particles, scenarios, seed, propagate,
    overwrite, as_json,
) -> None:  # fmt: skip
    """Fit free parameters of DEAL to observed outcomes and write a calibrated deal."""
    with bad_input():
        out = _job().calibrate(
            deal, targets_path, output, scenarios, seed, method=method, particles=particles,
            posterior=posterior, propagate=propagate, overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)


@main.command()
@deal_argument
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Evidence file to check against (repeatable) [default: the deal's [[evidence]]]; "
    "a file the deal does not bind maps control arms to the counterfactual and "
    "intervention arms to the treatment arm.",
)
@click.option(
    "--draws",
    type=click.IntRange(10, 10_000),
    default=100,
    show_default=True,
    help="Parameter draws (as 'run' draws them, the calibration posterior included).",
)
@click.option(
    "--replicates",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Scenarios simulated per parameter draw.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=1,
    show_default=True,
    help="Seed of the draws and of the simulation.",
)
@output_option("NetCDF file of the table (for 'simrisk report').")
@threads_option
@overwrite_option
@json_option("the table")
def check(deal, evidence, draws, replicates, seed, output, threads, overwrite, as_json) -> None:
    """Predicted against observed: every endpoint of DEAL's evidence, with z-scores."""
    with bad_input():
        out = _job().check(
            deal, list(evidence), draws, replicates, seed, output, threads=threads,
            overwrite=overwrite, ui=ui,
        )  # fmt: skip
    emit(out, as_json)
