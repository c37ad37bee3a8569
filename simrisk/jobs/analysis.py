"""Jobs that ask questions of one deal: stress, sensitivity, solve, calibrate."""

from __future__ import annotations

import math
import os
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from simrisk import parallel, resources, results
from simrisk.analysis import acceptability as acc
from simrisk.analysis import calibrate as cal
from simrisk.analysis import check as chk
from simrisk.analysis import region as rg
from simrisk.analysis import sensitivity as sa
from simrisk.analysis import solve as sv
from simrisk.analysis import stress as stress_mod
from simrisk.config import ConfigError
from simrisk.files import write_text
from simrisk.jobs import (
    QUIET,
    UI,
    announce_compiling,
    check_output,
    claim_output,
    default_output,
    load,
    seed_or_draw,
)
from simrisk.jobs.deal import kind_problems
from simrisk.labels import label, value_kind
from simrisk.tables import Output, Table, fmt, fmt_bound


def stress(
    deal: str,
    scenarios: int,
    seed: int | None = None,
    output: str | None = None,
    *,
    stress_file: str | None = None,
    grid: list[str] | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """Stress points (a grid, a stress file, the deal's own or the standard set) on common
    random numbers; NetCDF with a stress dimension."""
    cfg, text = load(deal, ui)
    if stress_file and (problems := kind_problems(stress_file, ("stress",), "--stress-file")):
        raise ConfigError(stress_file, problems)
    output = output or default_output(deal, "_stress.nc")
    with claim_output(output, overwrite, inputs=(deal, stress_file)):
        left_out: list[str] = []
        prepared = stress_mod.points_for(cfg, grid, stress_file, log=left_out.append)
        for line in stress_mod.idle_shocks(cfg, prepared):  # said, not kept: they run
            ui.log(f"note: {line}")
        for line in left_out:
            ui.log(f"note: {line}")
        seed = seed_or_draw(seed, ui)
        beyond = stress_mod.beyond_bounds(prepared, seed, scenarios)
        for line in beyond:
            ui.log(f"warning: {line}")
        parallel.set_threads(threads)
        announce_compiling(ui, cfg, "metrics")
        used = resources.threads_in_use(threads)
        # the points' metrics are kept together, and tabled at the end
        held = resources.held_metrics(2 * len(prepared) - 1)
        resources.check(
            cfg, scenarios, used, log=ui.log, runs=len(prepared), weekly=False, held=held
        )
        with ui.progress(scenarios * len(prepared)) as advance:
            ds, rows, table = stress_mod.stress_test(
                cfg, text, prepared, seed, scenarios, advance, left_out, beyond
            )
        results.write_netcdf(ds, output, overwrite=overwrite)
        ui.log(f"wrote {output}")
        data = {
            "kind": "stress", "seed": seed, "n_scenarios": scenarios, "deal": cfg.deal.name,
            "points": rows, "left_out": left_out, "beyond_bounds": beyond,
        }  # fmt: skip
        return Output(data, [stress_mod.definitions_table(rows), table])


def sensitivity(
    deal: str,
    method: str,
    scenarios: int,
    outer: int,
    inner: int,
    outputs: list[str],
    seed: int | None = None,
    output: str | None = None,
    *,
    threads: int | None = None,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """Sobol indices or a tornado, and the variance split between parameters and cohort."""
    cfg, text = load(deal, ui)
    outputs = list(dict.fromkeys(outputs))
    output = output or default_output(deal, "_sensitivity.nc")
    with claim_output(output, overwrite, inputs=(deal,)):
        sa.require(cfg, outputs)
        seed = seed_or_draw(seed, ui)
        parallel.set_threads(threads)
        announce_compiling(ui, cfg, "metrics")
        runs = sa.runs(cfg, method, scenarios, outer, inner)
        # the largest single run: a design's, or the variance split's outer x inner
        largest = max(scenarios, outer * inner)
        resources.check(
            cfg,
            largest,
            resources.threads_in_use(threads),
            log=ui.log,
            runs=max(1, runs // largest),
            weekly=False,
            field="-n" if scenarios >= outer * inner else "--outer x --inner",
        )
        with ui.progress(sa.runs(cfg, method, scenarios, outer, inner)) as advance:
            ds, tables = sa.analyse(
                cfg, text, method, scenarios, outer, inner, outputs, seed, progress=advance
            )
        results.write_netcdf(ds, output, overwrite=overwrite)
        ui.log(f"wrote {output}")
        data = {k: ds[k].values.tolist() for k in ds.data_vars}
        data.update(
            {
                "outputs": outputs,
                "parameters": [str(p) for p in ds["parameter"].values],
                "method": method,
                "seed": seed,
            }
        )
        return Output(data, tables)


MAX_HURDLE = 10.0
"""The highest hurdle IRR (1,000 %), the bound of ``investor.return_cap``."""


def hurdle_problems(hurdle: float | None, option: str = "--hurdle") -> list[str]:
    """A hurdle IRR is a finite rate above -100 % and at most 1,000 % (the highest return
    cap a deal accepts): the problem naming ``option``, if any."""
    if hurdle is not None and not (math.isfinite(hurdle) and -1.0 < hurdle <= MAX_HURDLE):
        return [
            f"{option}: {hurdle:g} is not an IRR above -100 % and at most "
            f"{100 * MAX_HURDLE:,.0f} % (0.05 for 5 %)"
        ]
    return []


def require_hurdle(hurdle: float | None, option: str = "--hurdle") -> None:
    """ConfigError naming ``option`` unless the hurdle IRR is one (:func:`hurdle_problems`)."""
    if problems := hurdle_problems(hurdle, option):
        raise ConfigError(option, problems)


def parse_range(bounds: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in bounds.split(","))
    except ValueError:
        raise ConfigError("--range", [f"--range: '{bounds}' is not LOW,HIGH"]) from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ConfigError("--range", [f"--range: '{bounds}': both ends must be finite numbers"])
    return low, high


def solve(
    deal: str,
    path: str,
    bounds: str,
    goals: list[sv.Goal],
    scenarios: int,
    seed: int | None = None,
    output: str | None = None,
    *,
    threads: int | None = None,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """The values of one term where every goal holds (or the closest point); with
    ``output``, every evaluation and the answer to NetCDF."""
    cfg, text = load(deal, ui)
    low, high = parse_range(bounds)
    if not goals:
        raise ConfigError(
            "solve",
            [
                "goals: give at least one of --irr-hurdle, --max-municipal-loss, "
                "--max-investor-loss, --breakeven"
            ],
        )
    sv.require(cfg, path, low, high, goals)  # before the memory check and any output
    with ExitStack() as stack:
        if output is not None:
            stack.enter_context(claim_output(output, overwrite, inputs=(deal,)))
        seed = seed_or_draw(seed, ui)
        parallel.set_threads(threads)
        announce_compiling(ui, cfg, "metrics")
        _check_evaluations(cfg, scenarios, threads, sv.expected_evaluations(goals), ui)
        sol = sv.solve(cfg, path, low, high, goals, scenarios, seed)
        if output is not None:
            ds = sv.build_dataset(cfg, sol, goals, scenarios, seed, text)
            results.write_netcdf(ds, output, overwrite=overwrite)
            ui.log(f"wrote {output}")
    for note in sol.notes:
        ui.log(f"note: {note}")
    name = label(cfg.model_dump(by_alias=True), path)
    kind = value_kind(path)
    holds = [
        sv.holds_text(path, side, c, low, high, kind)
        for side, c in zip(sol.sides, sol.crossings, strict=True)
    ]
    data = {
        "deal": cfg.deal.name,
        "vary": path,
        "label": name,
        "range": [low, high],
        "seed": seed,
        "n_scenarios": scenarios,
        "goals": [
            {"goal": g.describe(), "crossing": c, "holds": side, "holds_text": h,
             "value_at_best": v}
            for g, c, side, h, v in zip(
                goals, sol.crossings, sol.sides, holds, sol.best_values, strict=True
            )
        ],
        "feasible": list(sol.feasible) if sol.feasible else None,
        "best": sol.best,
        "evaluations": sol.evaluations,
        "notes": sol.notes,
        "output": output,
    }  # fmt: skip
    table = Table(
        f"{cfg.deal.name} — solve for {path} ({name}) in [{fmt(low, kind)}, {fmt(high, kind)}]",
        [("goal", "text"), ("holds for", "text"), (f"at {fmt(sol.best, kind)}", "text"),
         ("met there", "text")],
    )  # fmt: skip
    for g, h, v in zip(goals, holds, sol.best_values, strict=True):
        ok = (v <= g.level) if g.kind.endswith("at_most") else (v >= g.level)
        table.add(g.describe(), h, fmt(v, sv.goal_kind(g)), "yes" if ok else "no")
    table.notes.append(
        f"{scenarios:,} scenarios at each value, the same ones (seed {seed}); "
        f"{sol.evaluations} values evaluated"
    )
    if sol.feasible:
        lo, hi = sol.feasible
        up, down = fmt_bound(lo, kind, up=True), fmt_bound(hi, kind, up=False)
        if lo <= low and hi >= high:
            line = (
                f"every goal holds at both ends of {path} in [{fmt(low, kind)}, "
                f"{fmt(high, kind)}] (each goal is taken to change sides at most once)"
            )
        elif lo <= low:
            line = f"every goal holds for {path} ≤ {down} (searched from {fmt(low, kind)})"
        elif hi >= high:
            line = f"every goal holds for {path} ≥ {up} (searched to {fmt(high, kind)})"
        else:
            line = f"every goal holds for {up} ≤ {path} ≤ {down}"
    else:
        line = (
            f"no value of {path} in [{fmt(low, kind)}, {fmt(high, kind)}] meets every goal; "
            f"the closest is {fmt(sol.best, kind)} (values above)"
        )
    return Output(data, [table], [line])


def _check_evaluations(cfg, scenarios: int, threads: int | None, values: int, ui: UI):
    """The memory and time check of ``values`` runs of a term's values (solve,
    acceptability, region), one at a time: each keeps of a value only what it measures
    there, so the memory is one run's."""
    resources.check(
        cfg, scenarios, resources.threads_in_use(threads), log=ui.log, runs=values,
        weekly=False,
    )  # fmt: skip


def acceptability(
    deal: str,
    path: str,
    bounds: str,
    points: int,
    scenarios: int,
    seed: int | None = None,
    output: str | None = None,
    *,
    hurdle: float | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """Acceptability curves of both parties against one term, on common random numbers;
    NetCDF with a ``value`` dimension."""
    require_hurdle(hurdle)
    cfg, text = load(deal, ui)
    low, high = parse_range(bounds)
    output = output or default_output(deal, "_acceptability.nc")
    acc.require(cfg, path, low, high, points)
    with claim_output(output, overwrite, inputs=(deal,)):
        seed = seed_or_draw(seed, ui)
        parallel.set_threads(threads)
        announce_compiling(ui, cfg, "metrics")
        _check_evaluations(cfg, scenarios, threads, points + 1, ui)  # + the deal's own value
        ds = acc.acceptability(cfg, path, low, high, points, scenarios, seed, hurdle, text)
        results.write_netcdf(ds, output, overwrite=overwrite)
        ui.log(f"wrote {output}")
    data = {
        "deal": cfg.deal.name, "vary": path, "seed": seed, "n_scenarios": scenarios,
        "hurdle": ds.attrs["hurdle"], "deal_value": ds.attrs["deal_value"],
        "values": ds["value"].values.tolist(),
        **{k: ds[k].values.tolist() for k in ds.data_vars},
    }  # fmt: skip
    return Output(data, [acc.table(ds)])


def parse_vary(specs: list[str]) -> tuple[list[str], list[tuple[float, float]]]:
    """``["PATH=LOW,HIGH", ...]`` -> paths and ranges; ConfigError naming a bad one."""
    paths, ranges, problems = [], [], []
    for k, spec in enumerate(specs):
        path, sep, bounds = spec.partition("=")
        try:
            if not sep or not path.strip():
                raise ValueError
            low, high = (float(v) for v in bounds.split(","))
        except ValueError:
            problems.append(f"--vary[{k}]: '{spec}' is not PATH=LOW,HIGH")
            continue
        if not (math.isfinite(low) and math.isfinite(high)):
            problems.append(f"--vary[{k}]: '{spec}': both ends must be finite numbers")
            continue
        paths.append(path.strip())
        ranges.append((low, high))
    if problems:
        raise ConfigError("--vary", problems)
    return paths, ranges


def region(
    deal: str,
    vary: list[str],
    points: int,
    goals: list[sv.Goal],
    scenarios: int,
    seed: int | None = None,
    output: str | None = None,
    *,
    threads: int | None = None,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """Where every goal holds on a grid of two terms, and the best point; NetCDF."""
    cfg, text = load(deal, ui)
    paths, ranges = parse_vary(vary)
    rg.require(cfg, paths, ranges, points, goals)  # before the memory check and any output
    output = output or default_output(deal, "_region.nc")
    with claim_output(output, overwrite, inputs=(deal,)):
        seed = seed_or_draw(seed, ui)
        parallel.set_threads(threads)
        announce_compiling(ui, cfg, "metrics")
        _check_evaluations(cfg, scenarios, threads, points**2, ui)
        ds = rg.region(cfg, paths, ranges, points, goals, scenarios, seed, text)
        results.write_netcdf(ds, output, overwrite=overwrite)
        ui.log(f"wrote {output}")
    a = ds.attrs
    data = {
        "deal": cfg.deal.name, "vary": paths, "ranges": ranges, "seed": seed,
        "n_scenarios": scenarios, "goals": [str(g) for g in ds["goal"].values],
        "a": ds["a"].values.tolist(), "b": ds["b"].values.tolist(),
        "all_hold": ds["all_hold"].values.tolist(),
        "goal_value": ds["goal_value"].values.tolist(),
        "best": [a["best_a"], a["best_b"]], "best_all_hold": bool(a["best_all_hold"]),
    }  # fmt: skip
    share = float(ds["all_hold"].values.mean())
    line = (
        f"every goal holds at {int(ds['all_hold'].values.sum())} of {ds['all_hold'].size} "
        f"grid points ({fmt(share, 'pct')})"
    )
    return Output(data, [rg.map_table(ds), rg.best_table(ds)], [line])


def calibrate(
    deal: str,
    targets_path: str | None,
    output: str,
    scenarios: int | None,
    seed: int,
    *,
    method: str = "smc",
    particles: int = 500,
    posterior: str | None = None,
    propagate: bool = False,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """Fit the free parameters (of the targets file, or of the deal's own [calibration]
    to its evidence) and write the calibrated deal; with ``smc``, also its posterior."""
    cfg, text = load(deal, ui)
    if method == "smc" and propagate:
        raise ConfigError(
            "--propagate", ["--propagate: only for --method point (smc writes the posterior)"]
        )
    post_path = None
    if method == "smc":
        post_path = Path(posterior) if posterior else cal.default_posterior(output)
    with ExitStack() as stack:
        # the calibrated deal may replace the deal itself (-o DEAL --overwrite)
        stack.enter_context(claim_output(output, overwrite, inputs=(targets_path,)))
        if post_path is not None and post_path.parent.is_dir():
            stack.enter_context(claim_output(post_path, overwrite, inputs=(deal, output)))
        elif post_path is not None:
            check_output(post_path, overwrite)  # its folder is made when it is written
        if targets_path:
            tg = cal.load_targets(targets_path, cfg)
        else:
            tg = cal.deal_targets(cfg, Path(deal).parent, deal)
        notes: list[str] = []
        base = Path(output).parent
        if scenarios is None:
            scenarios = cal.default_scenarios(cfg) if method == "smc" else 200
        announce_compiling(ui, cfg, "simulation")
        if method == "smc":
            with ui.progress(1000) as advance:
                state = {"done": 0}

                def step(phi, _evals):
                    advance(int(phi * 1000) - state["done"])
                    state["done"] = int(phi * 1000)

                fit = cal.posterior_fit(cfg, tg, scenarios, seed, particles, progress=step)
            rel = os.path.relpath(post_path, base)
            post_text = cal.posterior_text(fit, tg, cfg, seed, scenarios)
            new_text = cal.write_calibrated(
                text, fit, tg, targets_path or "", False, notes, posterior_file=rel,
                moved=(Path(deal).parent, base),
            )  # fmt: skip
            cal.calibrated_config(new_text, output, base, post_text)
            post_path.parent.mkdir(parents=True, exist_ok=True)
            write_text(post_path, post_text)
            ui.log(f"wrote {post_path}")
        else:
            fit = cal.calibrate(cfg, tg, scenarios, seed, propagate)
            new_text = cal.write_calibrated(
                text, fit, tg, targets_path or "", propagate, notes, moved=(Path(deal).parent, base)
            )
            cal.calibrated_config(new_text, output, base)
        write_text(output, new_text)
        ui.log(f"wrote {output}")
        for note in notes:
            ui.log(f"warning: {note}")
        warnings = cal.fit_warnings(fit, tg)
        for w in warnings:
            ui.log(f"warning: {w}")
        if propagate and fit.covariance is None:
            ui.log("warning: the Hessian was not positive definite; no uncertainty written")
        sds = np.sqrt(np.diag(fit.covariance)) if fit.covariance is not None else None
        intervals = fit.posterior.interval(0.9) if fit.posterior is not None else None
        data = {
            "deal": cfg.deal.name,
            "targets": tg.name,
            "method": method,
            "table": fit.table,
            "parameters": [
                {
                    "path": p,
                    "start": float(s),
                    "estimate": float(e),
                    "sd": None if sds is None else float(sds[i]),
                    "interval_90": None if intervals is None else [float(x) for x in intervals[i]],
                }
                for i, (p, s, e) in enumerate(zip(fit.names, fit.start, fit.estimate, strict=True))
            ],
            "correlation": None
            if fit.posterior is None or len(fit.names) < 2
            else np.corrcoef(fit.posterior.draws.T).tolist(),
            "deviance": fit.loss,
            "df": fit.df,
            "p_value": fit.p_value,
            "evaluations": fit.evaluations,
            "warnings": warnings,
            "posterior": None if post_path is None else str(post_path),
        }
        table = Table(
            f"{cfg.deal.name} — fit to {tg.name}",
            [
                ("target", "text"),
                ("arm", "text"),
                ("observed", "share3"),
                ("fitted", "share3"),
                ("MC SE", "share3"),
                ("deviance", "dev"),
            ],
        )
        for r in fit.table:
            table.add(r["target"], r["arm"], r["observed"], r["fitted"], r["mc_se"], r["deviance"])
        lines = []
        for i, (p, s, e) in enumerate(zip(fit.names, fit.start, fit.estimate, strict=True)):
            if intervals is not None:
                lo, hi = intervals[i]
                lines.append(
                    f"{p}: {s:.4g} -> {e:.4g} (posterior median; 90 % in {lo:.4g}-{hi:.4g})"
                )
            else:
                sd = f" ± {sds[i]:.3g}" if sds is not None else ""
                lines.append(f"{p}: {s:.4g} -> {e:.4g}{sd}")
        if data["correlation"] is not None:
            c = np.array(data["correlation"])
            pairs = [
                f"{fit.names[i]} ~ {fit.names[j]}: {c[i, j]:+.2f}"
                for i in range(len(fit.names))
                for j in range(i)
            ]
            lines.append("posterior correlation: " + "; ".join(pairs))
        gof = f"deviance {fit.loss:.2f} on {fit.df} df"
        if fit.df > 0:
            gof += f", p = {fit.p_value:.3f}"
        lines.append(f"goodness of fit: {gof} ({fit.evaluations} evaluations; {fit.message})")
        return Output(data, [table], lines)


def check(
    deal: str,
    evidence: list[str] | None,
    draws: int,
    replicates: int,
    seed: int,
    output: str | None = None,
    *,
    threads: int | None = None,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """Posterior predictive check of the deal against the endpoints of its evidence; with
    ``output``, its rows to NetCDF (for the report)."""
    cfg, text = load(deal, ui)
    with ExitStack() as stack:
        if output is not None:
            stack.enter_context(claim_output(output, overwrite, inputs=(deal, *(evidence or []))))
        return _check(cfg, text, deal, evidence, draws, replicates, seed, output, threads,
                      overwrite, ui)  # fmt: skip


def _check(cfg, text, deal, evidence, draws, replicates, seed, output, threads, overwrite, ui):
    uses = chk.uses_for(cfg, Path(deal).parent, evidence)
    if not uses:
        raise ConfigError(
            deal, ["evidence: the deal names no [[evidence]]; give files with --evidence"]
        )
    fitted = set()
    if cfg.uncertainty.posterior is not None:
        fitted |= set(cfg.uncertainty.posterior.fitted_to)
    else:
        for ev, use in uses:
            for e in ev.endpoints:
                if e.id in use.calibrate or e.key in use.calibrate:
                    fitted.add(f"{ev.id}:{e.key}")
    parallel.set_threads(threads)
    announce_compiling(ui, cfg, "simulation")
    with ui.progress(draws * replicates) as advance:
        rows = chk.check(cfg, uses, fitted, draws, replicates, seed, progress=advance)
    if output is not None:
        attrs = {"draws": draws, "replicates": replicates, "deal_file": text}
        results.write_netcdf(
            chk.build_dataset(rows, cfg.deal.name, seed, attrs), output, overwrite=overwrite
        )
        ui.log(f"wrote {output}")
    data = {
        "deal": cfg.deal.name,
        "draws": draws,
        "replicates": replicates,
        "seed": seed,
        "posterior": None if cfg.uncertainty.posterior is None else cfg.uncertainty.posterior.file,
        "rows": chk.as_dicts(rows),
    }
    lines = [
        f"{draws} parameter draws x {replicates} scenarios each, seed {seed}; "
        + (
            f"calibration posterior {cfg.uncertainty.posterior.file}"
            if cfg.uncertainty.posterior is not None
            else "no calibration posterior"
        )
    ]
    return Output(data, [chk.table(rows, cfg.deal.name)], lines + chk.summary_lines(rows))
