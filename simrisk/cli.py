"""The ``simrisk`` command line: thin wrappers around engine, results and report code.

Tables go to stdout (or JSON with ``--json``); progress and messages to stderr.
Exit codes: 0 success, 1 bad input (one line per problem, no traceback, nothing
written), 2 usage error.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from contextlib import contextmanager

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from simrisk import __version__
from simrisk.config import ConfigError, DealConfig, load_deal

stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class BadInput(click.ClickException):
    """Bad input: printed as one line per problem, exit code 1."""

    exit_code = 1

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))

    def show(self, file=None) -> None:
        for line in self.problems:
            click.echo(f"error: {line}", err=True)


@contextmanager
def bad_input():
    """Turn input errors into :class:`BadInput` (exit 1, no traceback)."""
    try:
        yield
    except ConfigError as exc:
        raise BadInput(exc.problems) from None
    except (FileNotFoundError, FileExistsError, ValueError, OSError) as exc:
        raise BadInput([str(exc)]) from None


def _load(path: str) -> tuple[DealConfig, str]:
    with bad_input():
        return load_deal(path)


def _fmt(value: float, kind: str) -> str:
    if value != value:  # NaN
        return "n/a"
    if value in (float("inf"), float("-inf")):
        return "undef."
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "x":
        return f"{value:.2f}"
    return f"{value / 1e6:,.2f}"


def _finite(obj):
    """JSON-safe copy: NaN and infinities become null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def print_summary(summ: dict, as_json: bool) -> None:
    """The headline table (or JSON) on stdout."""
    if as_json:
        click.echo(json.dumps(_finite(summ), indent=2, ensure_ascii=False))
        return
    table = Table(
        title=f"{summ['deal']} — {summ['n_scenarios']:,} scenarios, seed {summ['seed']}",
        title_justify="left",
    )
    table.add_column("metric")
    for col in ("mean", "P5", "P50", "P95"):
        table.add_column(col, justify="right")
    for row in summ["rows"]:
        label = row["label"] + (" (mio. DKK)" if row["kind"] == "dkk" else "")
        table.add_row(label, *(_fmt(row[k], row["kind"]) for k in ("mean", "p5", "p50", "p95")))
    stdout.print(table)
    lines = [
        ("P(investor loss)", f"{100 * summ['p_investor_loss']:.1f} %"),
        ("P(municipal net < 0)", f"{100 * summ['p_municipal_net_negative']:.1f} %"),
        (
            "P(payments > true public savings)",
            f"{100 * summ['p_payments_exceed_public_savings']:.1f} %",
        ),
        ("Municipal VaR 95 % (mio. DKK)", _fmt(summ["municipal_var95"], "dkk")),
        ("Municipal CVaR 95 % (mio. DKK)", _fmt(summ["municipal_cvar95"], "dkk")),
        ("Mean deadweight share of payments", f"{100 * summ['mean_deadweight_share']:.1f} %"),
    ]
    for label, value in lines:
        stdout.print(f"{label:<36}{value:>12}")
    odd = {k: v for k, v in summ["irr_status_counts"].items() if k != "ok" and v}
    if odd:
        stdout.print(
            "IRR undefined or conventional in: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in odd.items())
            + " (total loss = -100 %; 'undef.' quantiles fall among undefined IRRs, ranked"
            " by the investor's profit; the mean is over defined IRRs)"
        )


seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=None,
    help="Random seed (drawn, printed and stored when omitted).",
)
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads (default: all cores); chunks of scenarios run concurrently, one per "
    "thread. Results do not depend on it.",
)


def _exists(output: str) -> str:
    return f"--output: {output} exists (use --overwrite to replace it)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simrisk")
def main() -> None:
    """Monte Carlo risk engine for social impact investments."""


@main.command()
@click.argument("deal", type=click.Path(dir_okay=False))
@click.option(
    "-n",
    "--scenarios",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Number of scenarios.",
)
@seed_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="NetCDF file to write (default: DEAL name with .nc beside the working dir).",
)
@threads_option
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=None,
    help="Scenarios per kernel call. Results do not depend on it.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--detail", is_flag=True, help="Keep weekly series per scenario in the output.")
def run(deal, scenarios, seed, output, threads, chunk, overwrite, as_json, detail) -> None:
    """Simulate DEAL (a TOML deal file) and write the results to NetCDF."""
    from simrisk import engine, results

    cfg, text = _load(deal)
    if output is None:
        output = os.path.splitext(os.path.basename(deal))[0] + ".nc"
    if os.path.exists(output) and not overwrite:
        raise BadInput([_exists(output)])
    seed = _seed(seed)
    _threads(threads)
    with _progress(scenarios) as advance:
        raw = engine.run(
            cfg, seed, scenarios, detail=detail, chunk=chunk or engine.CHUNK, progress=advance
        )
    ds = results.build_dataset(cfg, raw, seed, text)
    with bad_input():
        results.write_netcdf(ds, output, overwrite=overwrite)
    click.echo(f"wrote {output}", err=True)
    print_summary(results.summary(ds), as_json)


@contextmanager
def _progress(total: int):
    """A progress bar on stderr when it is a terminal; a no-op otherwise."""
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


@main.command()
@click.argument("deal", type=click.Path(dir_okay=False))
def validate(deal) -> None:
    """Check DEAL without simulating: every problem, one per line."""
    cfg, _ = _load(deal)
    n_unc = len(cfg.uncertainty.parameters)
    click.echo(
        f"{deal}: ok — {cfg.deal.name}; {cfg.cohort.size} citizens, "
        f"{len(cfg.program.phases)} phases, {cfg.deal.horizon_weeks} weeks, "
        f"{len(cfg.contract.mechanisms)} payment mechanism(s), {n_unc} uncertain parameter(s)"
    )


@main.command()
@click.argument("result", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--drivers",
    is_flag=True,
    help="Also rank the uncertain parameters by their rank correlation with the "
    "investor's profit and the municipal net.",
)
def summary(result, as_json, drivers) -> None:
    """Print the headline table of a results file."""
    from simrisk import results

    with bad_input():
        ds = results.open_results(result)
    summ = results.summary(ds)
    if drivers:
        summ["drivers"] = results.drivers(ds)
    print_summary(summ, as_json)
    if drivers and not as_json:
        table = Table(title="Drivers (Spearman rank correlation)", title_justify="left")
        table.add_column("parameter")
        table.add_column("investor profit", justify="right")
        table.add_column("municipal net", justify="right")
        for row in summ["drivers"]:
            table.add_row(
                row["parameter"], f"{row['investor_profit']:+.2f}", f"{row['municipal_net']:+.2f}"
            )
        stdout.print(table)


@main.command()
@click.argument("deal", type=click.Path(dir_okay=False))
@click.option(
    "--targets",
    "targets_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="TOML file of observed outcomes and free parameters.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Calibrated deal file to write.",
)
@click.option(
    "-n",
    "--scenarios",
    type=click.IntRange(min=10),
    default=200,
    show_default=True,
    help="Scenarios per evaluation (the same ones every time).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=20240201,
    show_default=True,
    help="Seed of the common random numbers.",
)
@click.option(
    "--propagate",
    is_flag=True,
    help="Write the fitted parameters' uncertainty into the uncertainty section.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON.")
def calibrate(deal, targets_path, output, scenarios, seed, propagate, overwrite, as_json) -> None:
    """Fit free parameters of DEAL to observed outcomes and write a calibrated deal."""
    from simrisk.analysis import calibrate as cal
    from simrisk.results import atomic_write_text

    cfg, text = _load(deal)
    if os.path.exists(output) and not overwrite:
        raise BadInput([_exists(output)])
    with bad_input():
        tg = cal.load_targets(targets_path, cfg)
    fit = cal.calibrate(cfg, tg, scenarios, seed, propagate)
    with bad_input():
        notes: list[str] = []
        new_text = cal.write_calibrated(text, fit, tg, targets_path, propagate, notes)
        cal.calibrated_config(new_text, output)
        atomic_write_text(output, new_text)
    click.echo(f"wrote {output}", err=True)
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    sds = np.sqrt(np.diag(fit.covariance)) if fit.covariance is not None else None
    if as_json:
        click.echo(
            json.dumps(
                _finite(
                    {
                        "deal": cfg.deal.name,
                        "targets": tg.name,
                        "table": fit.table,
                        "parameters": [
                            {
                                "path": p,
                                "start": float(s),
                                "estimate": float(e),
                                "sd": None if sds is None else float(sds[i]),
                            }
                            for i, (p, s, e) in enumerate(
                                zip(fit.names, fit.start, fit.estimate, strict=True)
                            )
                        ],
                        "deviance": fit.loss,
                        "df": fit.df,
                        "p_value": fit.p_value,
                        "evaluations": fit.evaluations,
                    }
                ),
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"{cfg.deal.name} — fit to {tg.name}", title_justify="left")
    for col in ("target", "arm", "observed", "fitted", "MC SE", "deviance"):
        table.add_column(col, justify="left" if col in ("target", "arm") else "right")
    for r in fit.table:
        table.add_row(
            r["target"],
            r["arm"],
            f"{r['observed']:.3f}",
            f"{r['fitted']:.3f}",
            f"{r['mc_se']:.3f}",
            f"{r['deviance']:.2f}",
        )
    stdout.print(table)
    for i, (p, s, e) in enumerate(zip(fit.names, fit.start, fit.estimate, strict=True)):
        sd = f" ± {sds[i]:.3g}" if sds is not None else ""
        stdout.print(f"{p}: {s:.4g} -> {e:.4g}{sd}")
    gof = f"deviance {fit.loss:.2f} on {fit.df} df"
    if fit.df > 0:
        gof += f", p = {fit.p_value:.3f}"
    stdout.print(f"goodness of fit: {gof} ({fit.evaluations} evaluations)")
    if propagate and fit.covariance is None:
        click.echo(
            "warning: the Hessian was not positive definite; no uncertainty written", err=True
        )


@main.command()
@click.argument("deal", type=click.Path(dir_okay=False))
@click.option(
    "-n",
    "--scenarios",
    type=click.IntRange(min=2),
    default=5000,
    show_default=True,
    help="Scenarios per stress point (the same ones at every point).",
)
@seed_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="NetCDF file with a stress dimension (default: DEAL name + _stress.nc).",
)
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
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def stress(deal, scenarios, seed, output, stress_file, grid, threads, overwrite, as_json) -> None:
    """Stress-test DEAL: named stress points or a grid, on common random numbers."""
    from simrisk import results
    from simrisk.analysis import stress as stress_mod

    cfg, text = _load(deal)
    if output is None:
        output = os.path.splitext(os.path.basename(deal))[0] + "_stress.nc"
    if os.path.exists(output) and not overwrite:
        raise BadInput([_exists(output)])
    with bad_input():
        if grid:
            points = stress_mod.parse_grid(list(grid))
        elif stress_file:
            points = stress_mod.load_stress_file(stress_file)
        else:
            points = cfg.stress or stress_mod.default_stresses(cfg)
        prepared = stress_mod.prepare(cfg, points, "--grid" if grid else "stress")
    seed = _seed(seed)
    _threads(threads)
    with _progress(scenarios * len(prepared)) as advance:
        metrics = stress_mod.run_stress(cfg, prepared, seed, scenarios, progress=advance)
    ds = stress_mod.build_dataset(cfg, prepared, metrics, seed, text)
    with bad_input():
        results.write_netcdf(ds, output, overwrite=overwrite)
    click.echo(f"wrote {output}", err=True)
    rows = stress_mod.table(prepared, metrics)
    if as_json:
        click.echo(
            json.dumps(
                _finite(
                    {"deal": cfg.deal.name, "seed": seed, "n_scenarios": scenarios, "points": rows}
                ),
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table(
        title=f"{cfg.deal.name} — stress test, {scenarios:,} scenarios per point, seed {seed}",
        title_justify="left",
    )
    table.add_column("stress", min_width=30, overflow="fold")
    table.add_column("P(inv. loss)", justify="right")
    table.add_column("MOIC", justify="right")
    table.add_column("inv. profit (mio.)", justify="right")
    table.add_column("Δ profit ± SE", justify="right")
    table.add_column("mun. net (mio.)", justify="right")
    table.add_column("Δ net ± SE", justify="right")
    table.add_column("P(net < 0)", justify="right")
    for r in rows:
        table.add_row(
            r["stress"],
            f"{100 * r['investor_loss']:.1f} %",
            f"{r['investor_moic']:.2f}",
            f"{r['investor_profit'] / 1e6:.2f}",
            f"{r['investor_profit_diff'] / 1e6:+.2f} ± {r['investor_profit_diff_se'] / 1e6:.2f}",
            f"{r['municipal_net'] / 1e6:.2f}",
            f"{r['municipal_net_diff'] / 1e6:+.2f} ± {r['municipal_net_diff_se'] / 1e6:.2f}",
            f"{100 * r['municipal_loss']:.1f} %",
        )
    stdout.print(table)


@main.command()
@click.argument("deal", type=click.Path(dir_okay=False))
@click.option(
    "--method", type=click.Choice(["sobol", "tornado"]), default="sobol", show_default=True
)
@click.option(
    "-n",
    "--scenarios",
    type=click.IntRange(min=8),
    default=1024,
    show_default=True,
    help="Sobol: base sample size (runs = n x (parameters + 2)); tornado: scenarios per point.",
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
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="NetCDF file (default: DEAL name + _sensitivity.nc).",
)
@threads_option
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the tables as JSON.")
def sensitivity(
    deal, method, scenarios, outer, inner, outputs, seed, output, threads, overwrite, as_json
) -> None:
    """Which uncertain parameter drives DEAL's results: Sobol indices or a tornado, and the
    split of variance between parameters and the cohort's own randomness."""
    from simrisk import results
    from simrisk.analysis import sensitivity as sa

    cfg, text = _load(deal)
    outputs = list(dict.fromkeys(outputs))
    if output is None:
        output = os.path.splitext(os.path.basename(deal))[0] + "_sensitivity.nc"
    if os.path.exists(output) and not overwrite:
        raise BadInput([_exists(output)])
    with bad_input():
        sa.require(cfg, outputs)
    seed = _seed(seed)
    _threads(threads)
    names = [p.path for p in cfg.uncertainty.parameters]
    d = len(names)
    runs = scenarios * (d + 2) if method == "sobol" else scenarios * (2 * d + 1)
    with _progress(runs + outer * inner) as advance:
        res: dict = {"labels": {}}
        if method == "sobol":
            idx, _ = sa.sobol(cfg, scenarios, seed, outputs, progress=advance)
            for k, label in (
                ("first", "first-order Sobol index"),
                ("total", "total Sobol index"),
                ("first_lo", "first-order index, 2.5 % bootstrap"),
                ("first_hi", "first-order index, 97.5 % bootstrap"),
                ("total_lo", "total index, 2.5 % bootstrap"),
                ("total_hi", "total index, 97.5 % bootstrap"),
            ):
                res[f"sobol_{k}"] = (("output", "parameter"), idx[k])
                res["labels"][f"sobol_{k}"] = label
        else:
            low, high, base, pct = sa.tornado(cfg, scenarios, seed, outputs, progress=advance)
            res["tornado_low"] = (("output", "parameter"), low)
            res["tornado_high"] = (("output", "parameter"), high)
            res["tornado_base"] = (("output",), base)
            res["labels"].update(
                {
                    "tornado_low": "mean with the parameter at its 10th percentile",
                    "tornado_high": "mean with the parameter at its 90th percentile",
                    "tornado_base": "mean with every parameter at its median",
                }
            )
        total, par, coh = sa.variance_split(cfg, outer, inner, seed, outputs, progress=advance)
        res["variance_total"] = (("output",), total)
        res["variance_share"] = (("output", "component"), np.stack([par, coh], axis=1))
        res["labels"].update(
            {
                "variance_total": "total variance over scenarios",
                "variance_share": "share of variance: parameters vs cohort",
            }
        )
    ds = sa.build_dataset(
        cfg,
        method,
        outputs,
        names,
        res,
        seed,
        text,
        {"scenarios": scenarios, "outer": outer, "inner": inner},
    )
    with bad_input():
        results.write_netcdf(ds, output, overwrite=overwrite)
    click.echo(f"wrote {output}", err=True)
    if as_json:
        out = {k: ds[k].values.tolist() for k in ds.data_vars}
        out.update({"outputs": outputs, "parameters": names, "method": method, "seed": seed})
        click.echo(json.dumps(_finite(out), indent=2, ensure_ascii=False))
        return
    for o, oname in enumerate(outputs):
        table = Table(
            title=f"{cfg.deal.name} — {oname}: {sa.OUTPUTS.get(oname, oname)}", title_justify="left"
        )
        table.add_column("parameter", min_width=30, overflow="fold")
        if method == "sobol":
            for col in ("first order [95 % CI]", "total [95 % CI]"):
                table.add_column(col, justify="right")
            order = np.argsort(-ds["sobol_total"].values[o])
            for i in order:
                f, t = ds["sobol_first"].values[o, i], ds["sobol_total"].values[o, i]
                table.add_row(
                    names[i],
                    f"{f:.2f} [{ds['sobol_first_lo'].values[o, i]:.2f}, "
                    f"{ds['sobol_first_hi'].values[o, i]:.2f}]",
                    f"{t:.2f} [{ds['sobol_total_lo'].values[o, i]:.2f}, "
                    f"{ds['sobol_total_hi'].values[o, i]:.2f}]",
                )
        else:
            for col in ("at P10", "at P90", "swing"):
                table.add_column(col, justify="right")
            lo, hi = ds["tornado_low"].values[o], ds["tornado_high"].values[o]
            for i in np.argsort(-np.abs(hi - lo)):
                table.add_row(names[i], f"{lo[i]:.4g}", f"{hi[i]:.4g}", f"{hi[i] - lo[i]:+.4g}")
        stdout.print(table)
        share = ds["variance_share"].values[o]
        stdout.print(
            f"variance from parameters {100 * share[0]:.0f} %, from the cohort's own "
            f"randomness {100 * share[1]:.0f} % ({outer} x {inner} nested runs)"
        )


@main.command()
@click.argument("deal", type=click.Path(dir_okay=False))
@click.option(
    "--vary",
    "path",
    required=True,
    metavar="PATH",
    help="The term or assumption to solve for, e.g. contract.mechanisms[0].share.",
)
@click.option("--range", "bounds", required=True, metavar="LOW,HIGH", help="Interval to search.")
@click.option(
    "--irr-hurdle", type=float, default=None, help="Goal: P(investor IRR >= hurdle) >= --irr-prob."
)
@click.option("--irr-prob", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option(
    "--max-municipal-loss",
    type=click.FloatRange(0, 1),
    default=None,
    help="Goal: P(municipal net < 0) <= this.",
)
@click.option(
    "--max-investor-loss",
    type=click.FloatRange(0, 1),
    default=None,
    help="Goal: P(investor loss) <= this.",
)
@click.option("--breakeven", is_flag=True, help="Goal: the investor's median profit >= 0.")
@click.option("-n", "--scenarios", type=click.IntRange(min=10), default=5000, show_default=True)
@seed_option
@threads_option
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
def solve(
    deal,
    path,
    bounds,
    irr_hurdle,
    irr_prob,
    max_municipal_loss,
    max_investor_loss,
    breakeven,
    scenarios,
    seed,
    threads,
    as_json,
) -> None:
    """Find the values of one term of DEAL (or assumption) that meet the stated goals."""
    from simrisk.analysis import solve as sv

    cfg, _ = _load(deal)
    try:
        low, high = (float(v) for v in bounds.split(","))
    except ValueError:
        raise BadInput([f"--range: '{bounds}' is not LOW,HIGH"]) from None
    goals = []
    if irr_hurdle is not None:
        goals.append(sv.Goal("p_irr_at_least", irr_prob, irr_hurdle))
    if max_municipal_loss is not None:
        goals.append(sv.Goal("p_municipal_loss_at_most", max_municipal_loss))
    if max_investor_loss is not None:
        goals.append(sv.Goal("p_investor_loss_at_most", max_investor_loss))
    if breakeven:
        goals.append(sv.Goal("median_profit_at_least", 0.0))
    if not goals:
        raise BadInput(
            [
                "goals: give at least one of --irr-hurdle, --max-municipal-loss, "
                "--max-investor-loss, --breakeven"
            ]
        )
    seed = _seed(seed)
    _threads(threads)
    with bad_input():
        sol = sv.solve(cfg, path, low, high, goals, scenarios, seed)
    if as_json:
        click.echo(
            json.dumps(
                _finite(
                    {
                        "deal": cfg.deal.name,
                        "vary": path,
                        "range": [low, high],
                        "seed": seed,
                        "n_scenarios": scenarios,
                        "goals": [
                            {"goal": g.describe(), "crossing": c, "value_at_best": v}
                            for g, c, v in zip(goals, sol.crossings, sol.best_values, strict=True)
                        ],
                        "feasible": list(sol.feasible) if sol.feasible else None,
                        "best": sol.best,
                        "evaluations": sol.evaluations,
                        "notes": sol.notes,
                    }
                ),
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table(
        title=f"{cfg.deal.name} — solve for {path} in [{low:g}, {high:g}]", title_justify="left"
    )
    for col in ("goal", "crossing", f"value at {sol.best:.4g}", "met"):
        table.add_column(col, justify="left" if col == "goal" else "right")
    for g, c, v in zip(goals, sol.crossings, sol.best_values, strict=True):
        ok = (v <= g.level) if g.kind.endswith("at_most") else (v >= g.level)
        table.add_row(
            g.describe(), "-" if c is None else f"{c:.4g}", f"{v:.4g}", "yes" if ok else "no"
        )
    stdout.print(table)
    if sol.feasible:
        stdout.print(
            f"every goal holds for {path} in [{sol.feasible[0]:.4g}, "
            f"{sol.feasible[1]:.4g}] ({scenarios:,} scenarios, seed {seed}, "
            f"{sol.evaluations} evaluations)"
        )
    else:
        stdout.print(
            f"no value of {path} in [{low:g}, {high:g}] meets every goal; the closest "
            f"is {sol.best:.4g} (values above)"
        )
    for note in sol.notes:
        click.echo(f"note: {note}", err=True)


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
    import xarray as xr

    from simrisk import report as rep

    result = stress_file = sens_file = None
    problems = []
    for f in files:
        if not os.path.exists(f):
            problems.append(f"{f}: no such file")
            continue
        try:
            with xr.open_dataset(f) as ds:
                dims = set(ds.dims)
        except Exception as exc:  # any unreadable file is bad input
            problems.append(f"{f}: not a readable NetCDF file ({exc})")
            continue
        if "stress" in dims:
            stress_file = f
        elif "output" in dims:
            sens_file = f
        elif "scenario" in dims:
            result = f
        else:
            problems.append(f"{f}: not a simrisk results, stress or sensitivity file")
    if result is None and not problems:
        problems.append("RESULT: give a results file written by 'simrisk run'")
    if problems:
        raise BadInput(problems)
    with bad_input():
        written = rep.write_report(result, out_dir, stress_file, sens_file, fmt)
    for path in written:
        click.echo(str(path))


# --------------------------------------------------------------------------- sweep, portfolio
def _backend_options(f):
    f = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Run the chunks on an existing dask.distributed scheduler (tcp://host:8786).",
    )(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Run the chunks on an embedded dask LocalCluster with this many worker "
        "processes. Results do not depend on it.",
    )(f)
    return f


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
@click.option(
    "-n", "--scenarios", type=click.IntRange(min=1), default=None, help="Scenarios per point."
)
@seed_option
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=None,
    help="Scenarios per chunk (unit of work and of resume). Results do not depend on it.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="NetCDF file to write (default: SWEEP name + .nc, or sweep.nc).",
)
@_backend_options
@click.option("--resume", is_flag=True, help="Reuse the chunks of an interrupted run.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (and chunks).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "netcdf", "zarr"]),
    default="auto",
    show_default=True,
    help="auto: Zarr for a .zarr output or a result over 2 GiB, else NetCDF.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def sweep(
    files,
    grid,
    stress_file,
    scenarios,
    seed,
    chunk,
    output,
    workers,
    scheduler,
    resume,
    overwrite,
    fmt,
    as_json,
) -> None:
    """Many deals x stress points x scenarios as one job: FILES is one sweep file, or deal
    files with --grid / --stress-file. Writes per-scenario metrics (deal, stress,
    scenario) to NetCDF or Zarr; finished chunks are kept in OUTPUT.chunks/ until the end."""
    import shutil

    from simrisk import results
    from simrisk.analysis import stress as stress_mod
    from simrisk.analysis import sweep as sw
    from simrisk.distributed import backend_from_options

    problems = []
    sweep_files = [f for f in files if sw.is_sweep_file(f)]
    if sweep_files:
        if len(files) > 1:
            problems.append("FILES: give one sweep file, or deal files only")
        if grid:
            problems.append("--grid: not with a sweep file (put the grid in it)")
        if stress_file:
            problems.append("--stress-file: not with a sweep file (put [[stress]] in it)")
        if problems:
            raise BadInput(problems)
        with bad_input():
            sf = sw.load_sweep_file(files[0])
            points = sw.grid_points(sf.grid) + list(sf.stress)
        deal_paths = sf.deals
        scenarios = scenarios or sf.scenarios
        seed = seed if seed is not None else sf.seed
        chunk = chunk or sf.chunk
        default_out = os.path.splitext(os.path.basename(files[0]))[0] + ".nc"
    else:
        if grid and stress_file:
            raise BadInput(["--grid, --stress-file: give one of them, not both"])
        with bad_input():
            points = (
                stress_mod.parse_grid(list(grid))
                if grid
                else stress_mod.load_stress_file(stress_file)
                if stress_file
                else []
            )
        deal_paths = list(files)
        scenarios = scenarios or sw.DEFAULT_SCENARIOS
        chunk = chunk or _engine_chunk()
        default_out = "sweep.nc"
    if workers is not None and scheduler is not None:
        problems.append("--workers, --scheduler: give one of them, not both")
    output = output or default_out
    chunk_dir = output + ".chunks"
    if os.path.exists(output) and not overwrite:
        problems.append(_exists(output))
    if os.path.exists(chunk_dir) and not resume and not overwrite:
        problems.append(
            f"--resume: {chunk_dir} holds the chunks of an interrupted run (use --resume to "
            "reuse them or --overwrite to discard them)"
        )
    if problems:
        raise BadInput(problems)
    with bad_input():
        plan = sw.build(deal_paths, points, 0, scenarios, chunk)
    plan.seed = _seed(seed)
    if overwrite and not resume and os.path.exists(chunk_dir):
        shutil.rmtree(chunk_dir)
    with bad_input():
        backend = backend_from_options(workers, scheduler)
    n_chunks = len({s.key for _, s in sw.plan(plan)})
    click.echo(
        f"{len(plan.deals)} deal(s) x {len(plan.stress_names)} stress point(s) x "
        f"{scenarios:,} scenarios in {n_chunks} chunk(s), {backend.name}",
        err=True,
    )
    with backend, _progress(n_chunks) as advance:
        metrics, stats = sw.run_sweep(plan, backend, chunk_dir, resume, progress=advance)
    ds = sw.build_dataset(plan, metrics)
    with bad_input():
        written = results.write_results(ds, output, overwrite=overwrite, fmt=fmt)
    shutil.rmtree(chunk_dir, ignore_errors=True)
    if stats.reused:
        click.echo(f"reused {stats.reused} chunk(s), computed {stats.computed}", err=True)
    click.echo(f"wrote {written}", err=True)
    rows = sw.table(plan, metrics)
    if as_json:
        click.echo(
            json.dumps(
                _finite({"seed": plan.seed, "n_scenarios": scenarios, "points": rows}),
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table(
        title=f"sweep — {scenarios:,} scenarios per point, seed {plan.seed}", title_justify="left"
    )
    table.add_column("deal")
    table.add_column("stress", min_width=24, overflow="fold")
    for col in ("P(inv. loss)", "MOIC", "inv. profit (mio.)", "mun. net (mio.)", "P(net < 0)"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["deal"],
            r["stress"],
            f"{100 * r['investor_loss']:.1f} %",
            f"{r['investor_moic']:.2f}",
            f"{r['investor_profit'] / 1e6:.2f}",
            f"{r['municipal_net'] / 1e6:.2f}",
            f"{100 * r['municipal_loss']:.1f} %",
        )
    stdout.print(table)


def _engine_chunk() -> int:
    from simrisk import engine

    return engine.CHUNK


@main.command()
@click.argument("fund", type=click.Path(dir_okay=False))
@click.option("-n", "--scenarios", type=click.IntRange(min=1), default=None, help="Scenarios.")
@seed_option
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=None,
    help="Scenarios per chunk. Results do not depend on it.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None, help="NetCDF file to write."
)
@_backend_options
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def portfolio(fund, scenarios, seed, chunk, output, workers, scheduler, overwrite, as_json):
    """A fund of deals linked by a shared labour-market factor: the fund's return
    distribution, P(fund loss), each deal's contribution, and the diversification benefit
    against independent deals."""
    from simrisk import results
    from simrisk.analysis import portfolio as pf
    from simrisk.distributed import backend_from_options

    problems = []
    if workers is not None and scheduler is not None:
        problems.append("--workers, --scheduler: give one of them, not both")
    if output is not None and os.path.exists(output) and not overwrite:
        problems.append(_exists(output))
    if problems:
        raise BadInput(problems)
    with bad_input():
        ff = pf.load_fund_file(fund)
        plan = pf.build(ff, 0, scenarios or ff.scenarios, chunk or ff.chunk)
    plan.seed = _seed(seed if seed is not None else ff.seed)
    with bad_input():
        backend = backend_from_options(workers, scheduler)
    n_chunks = len({s.key for _, s in pf.plan(plan)[1]})
    with backend, _progress(n_chunks) as advance:
        metrics, mult = pf.run_portfolio(plan, backend, progress=advance)
    if output is not None:
        with bad_input():
            results.write_netcdf(pf.build_dataset(plan, metrics, mult), output, overwrite=overwrite)
        click.echo(f"wrote {output}", err=True)
    summ = pf.summary(plan, metrics)
    if as_json:
        click.echo(json.dumps(_finite(summ), indent=2, ensure_ascii=False))
        return
    sh, ind = summ["variants"]["shared"], summ["variants"]["independent"]
    table = Table(
        title=f"{summ['fund']} — {summ['n_scenarios']:,} scenarios, seed {summ['seed']}, "
        f"macro sigma {summ['sigma']:g}, rho {summ['rho']:g}",
        title_justify="left",
    )
    table.add_column("fund")
    for col in ("mean", "P5", "P50", "P95"):
        table.add_column(col, justify="right")
    table.add_row(
        "Fund profit (mio. DKK)",
        *(_fmt(sh[k], "dkk") for k in ("profit_mean", "profit_p5", "profit_p50", "profit_p95")),
    )
    stdout.print(table)
    for label, value in (
        ("Fund capital (mio. DKK)", _fmt(summ["capital"], "dkk")),
        ("Mean fund multiple", _fmt(sh["multiple_mean"], "x")),
        ("P(fund loss)", f"{100 * sh['p_loss']:.1f} %"),
        ("Fund VaR 95 % (mio. DKK)", _fmt(sh["var95"], "dkk")),
        ("Fund CVaR 95 % (mio. DKK)", _fmt(sh["cvar95"], "dkk")),
    ):
        stdout.print(f"{label:<36}{value:>12}")
    deals = Table(title="Contributions", title_justify="left")
    for col in (
        "deal",
        "capital (mio.)",
        "mean profit (mio.)",
        "P(loss)",
        "CVaR 95 part (mio.)",
        "share of fund loss",
    ):
        deals.add_column(col, justify="left" if col == "deal" else "right")
    for r in summ["deals"]:
        deals.add_row(
            r["deal"],
            _fmt(r["capital"], "dkk"),
            _fmt(r["profit_mean"], "dkk"),
            f"{100 * r['p_loss']:.1f} %",
            _fmt(r["cvar95_contribution"], "dkk"),
            _fmt(r["loss_share"], "pct"),
        )
    stdout.print(deals)
    div = summ["diversification"]
    div_table = Table(title="Diversification", title_justify="left")
    for col in ("", "shared factor", "independent deals"):
        div_table.add_column(col, justify="left" if not col else "right")
    div_table.add_row("P(fund loss)", f"{100 * sh['p_loss']:.1f} %", f"{100 * ind['p_loss']:.1f} %")
    div_table.add_row("VaR 95 % (mio.)", _fmt(sh["var95"], "dkk"), _fmt(ind["var95"], "dkk"))
    div_table.add_row("CVaR 95 % (mio.)", _fmt(sh["cvar95"], "dkk"), _fmt(ind["cvar95"], "dkk"))
    div_table.add_row(
        "VaR 95 % below the sum of the deals' own",
        _fmt(div["benefit_shared"], "pct"),
        _fmt(div["benefit_independent"], "pct"),
    )
    stdout.print(div_table)
    stdout.print(
        f"sum of the deals' stand-alone VaR 95 % (mio. DKK): "
        f"{_fmt(div['sum_standalone_var95'], 'dkk')}"
    )


def _seed(seed: int | None) -> int:
    if seed is None:
        seed = secrets.randbits(32)
        click.echo(f"seed: {seed} (drawn; pass --seed {seed} to repeat this run)", err=True)
    return seed


def _threads(threads: int | None) -> None:
    if threads is not None:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


if __name__ == "__main__":  # pragma: no cover
    main()
