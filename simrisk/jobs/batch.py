"""Jobs of many deals: a sweep of deals x stress points, and a fund (portfolio)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from simrisk import results
from simrisk.analysis import portfolio as pf
from simrisk.analysis import stress as stress_mod
from simrisk.analysis import sweep as sw
from simrisk.config import ConfigError
from simrisk.distributed import ChunkStore, LocalBackend, backend_from_options
from simrisk.jobs import QUIET, UI, announce_compiling, claim_output, exists_problem, seed_or_draw
from simrisk.jobs.deal import kind_problems
from simrisk.tables import Output, Table

EXTRA = "pip install -e '.[dask]'"
"""How to install what --workers, --scheduler and a Zarr output need (README)."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _backend_problems(workers: int | None, scheduler: str | None) -> list[str]:
    if workers is not None and scheduler is not None:
        return ["--workers, --scheduler: give one of them, not both"]
    option = "--workers" if workers is not None else "--scheduler" if scheduler else None
    if option and not _installed("distributed"):
        return [f"{option}: needs dask.distributed, which is not installed ({EXTRA})"]
    return []


def _format_problems(output: str, fmt: str) -> list[str]:
    """A Zarr output asked for (``--format zarr`` or a ``.zarr`` path) needs zarr: said
    before anything is simulated."""
    if results.zarr_asked(output, fmt) and not _installed("zarr"):
        option = "--format" if fmt == "zarr" else "--output"
        return [f"{option}: a Zarr store is asked for, and zarr is not installed ({EXTRA})"]
    return []


def sweep(
    files: list[str],
    *,
    grid: list[str] | None = None,
    stress_file: str | None = None,
    scenarios: int | None = None,
    seed: int | None = None,
    chunk: int | None = None,
    output: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    fmt: str = "auto",
    ui: UI = QUIET,
) -> Output:
    """Deals x stress points x scenarios as chunks on a backend; per-scenario metrics
    (deal, stress, scenario) to NetCDF or Zarr. Finished chunks are kept in
    ``OUTPUT.chunks/`` until the result is written, so an interrupted sweep resumes."""
    wrong = [p for f in files for p in kind_problems(f, ("sweep", "deal"), "FILES")]
    if stress_file:
        wrong += kind_problems(stress_file, ("stress",), "--stress-file")
    if wrong:
        raise ConfigError("sweep", wrong)
    plan, default_out = sw.from_files(
        list(files), list(grid or []), stress_file, scenarios, seed, chunk
    )
    output = output or default_out
    chunk_dir = output + ".chunks"
    problems = _backend_problems(workers, scheduler)
    targets = results.target_paths(output, fmt)
    problems += _format_problems(output, fmt)
    problems += [exists_problem(t) for t in targets if t.exists() and not overwrite]
    if Path(chunk_dir).exists() and not resume and not overwrite:
        problems.append(
            f"--resume: {chunk_dir} holds the chunks of an interrupted run (use --resume to "
            "reuse them or --overwrite to discard them)"
        )
    if problems:
        raise ConfigError("sweep", problems)
    inputs = (*files, stress_file, *(d.path for d in plan.deals))
    with claim_output(targets[0], overwrite, inputs=inputs):
        return _sweep(plan, output, chunk_dir, workers, scheduler, resume, overwrite, fmt, ui)


def _sweep(plan, output, chunk_dir, workers, scheduler, resume, overwrite, fmt, ui) -> Output:
    store = ChunkStore(chunk_dir)
    if resume and plan.seed is None and (kept := store.load_seed()) is not None:
        plan.seed = kept
        ui.log(f"seed: {kept} (the interrupted run's)")
    plan.seed = seed_or_draw(plan.seed, ui)
    beyond = sw.beyond_bounds(plan)
    for line in beyond:
        ui.log(f"warning: {line}")
    for d in plan.deals:
        for line in stress_mod.idle_shocks(d.cfg, d.prepared):
            ui.log(f"note: {Path(d.path).name}: {line}")
        if d.cfg.stress:  # a sweep runs its own points on every deal, not each deal's
            ui.log(
                f"note: {Path(d.path).name}: its own {len(d.cfg.stress)} [[stress]] point(s) "
                "are not run by a sweep (put them in the sweep file or a --stress-file)"
            )
    if resume and (other := len(store.keys() - {spec.key for _, spec in sw.plan(plan)})):
        ui.log(
            f"warning: {other} stored chunk(s) are of another sweep (another seed, number of "
            "scenarios, chunk size, deal, stress point or simrisk version) and are not reused"
        )
    backend = backend_from_options(workers, scheduler)
    if overwrite and not resume and Path(chunk_dir).exists():  # once the backend is there
        shutil.rmtree(chunk_dir)
    announce_compiling(ui, _compiled_here(backend, plan.deals[0].cfg), "metrics")
    n_chunks = sw.n_chunks(plan)
    ui.log(
        f"{len(plan.deals)} deal(s) x {len(plan.stress_names)} stress point(s) x "
        f"{plan.n:,} scenarios in {n_chunks} chunk(s), {backend.name}"
    )
    try:
        with backend, ui.progress(n_chunks) as advance:
            metrics, stats = sw.run_sweep(plan, backend, chunk_dir, resume, progress=advance)
    except KeyboardInterrupt:
        if ChunkStore(chunk_dir).keys():
            ui.log(
                f"note: the finished chunks are kept in {chunk_dir}; the same command with "
                "--resume goes on from them"
            )
        raise
    ds = sw.build_dataset(plan, metrics, beyond)
    written = results.write_results(ds, output, overwrite=overwrite, fmt=fmt)
    shutil.rmtree(chunk_dir, ignore_errors=True)
    for why in stats.rejected:
        ui.log(f"warning: recomputed a stored chunk that did not verify ({why})")
    if stats.reused:
        ui.log(f"reused {stats.reused} chunk(s), computed {stats.computed}")
    ui.log(f"wrote {written}")
    rows = sw.table(plan, metrics)
    data = {
        "kind": "sweep", "seed": plan.seed, "n_scenarios": plan.n, "points": rows,
        "beyond_bounds": beyond,
    }  # fmt: skip
    return Output(data, [sw.sweep_table(plan, rows, beyond)])


def _compiled_here(backend, cfg):
    """The deal whose run a compile helper makes (:func:`announce_compiling`) when the
    chunks run in this process; None (no helper) when a cluster's workers compile."""
    return cfg if isinstance(backend, LocalBackend) else None


def portfolio(
    fund: str,
    *,
    scenarios: int | None = None,
    seed: int | None = None,
    chunk: int | None = None,
    output: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    ui: UI = QUIET,
) -> Output:
    """A fund of deals linked by a shared labour-market factor."""
    problems = kind_problems(fund, ("fund",), "FUND") + _backend_problems(workers, scheduler)
    if output is not None and Path(output).exists() and not overwrite:
        problems.append(exists_problem(output))
    if problems:
        raise ConfigError("portfolio", problems)
    if output is None:
        return _portfolio(fund, scenarios, seed, chunk, None, workers, scheduler, overwrite, ui)
    with claim_output(output, overwrite, inputs=(fund,)):
        return _portfolio(fund, scenarios, seed, chunk, output, workers, scheduler, overwrite, ui)


def _portfolio(fund, scenarios, seed, chunk, output, workers, scheduler, overwrite, ui):
    ff = pf.load_fund_file(fund)
    wrong = [
        p for i, h in enumerate(ff.holdings)
        for p in kind_problems(h.deal, ("deal",), f"holdings[{i}].deal")
    ]  # fmt: skip
    if wrong:
        raise ConfigError(fund, wrong)
    plan = pf.build(ff, 0, scenarios or ff.scenarios, chunk or ff.chunk)
    plan.seed = seed_or_draw(seed if seed is not None else ff.seed, ui)
    backend = backend_from_options(workers, scheduler)
    announce_compiling(ui, _compiled_here(backend, plan.deals[0].cfg), "metrics")
    for line in pf.beyond_bounds(plan, pf.plan(plan)[0]):
        ui.log(f"warning: {line}")
    with backend, ui.progress(pf.n_chunks(plan)) as advance:
        metrics, mult = pf.run_portfolio(plan, backend, progress=advance)
    if output is not None:
        results.write_netcdf(pf.build_dataset(plan, metrics, mult), output, overwrite=overwrite)
        ui.log(f"wrote {output}")
    summ = pf.summary(plan, metrics)
    return Output(summ, portfolio_tables(summ))


def portfolio_tables(summ: dict) -> list[Table]:
    sh, ind = summ["variants"]["shared"], summ["variants"]["independent"]
    head = Table(
        f"{summ['fund']} — {summ['n_scenarios']:,} scenarios, seed {summ['seed']}, "
        f"macro sigma {summ['sigma']:g}, rho {summ['rho']:g}",
        [("fund", "text"), ("mean", "mio"), ("P5", "mio"), ("P50", "mio"), ("P95", "mio")],
    )
    head.add(
        "Fund profit (mio. DKK)",
        *(sh[k] for k in ("profit_mean", "profit_p5", "profit_p50", "profit_p95")),
    )
    lines = Table("", [("", "text"), ("", None)], lines=True)
    lines.add("Fund capital (mio. DKK)", (summ["capital"], "mio"))
    lines.add("Mean fund multiple", (sh["multiple_mean"], "x"))
    lines.add("P(fund loss)", (sh["p_loss"], "pct"))
    lines.add("Fund VaR 95 % (mio. DKK)", (sh["var95"], "mio"))
    lines.add("Fund CVaR 95 % (mio. DKK)", (sh["cvar95"], "mio"))
    deals = Table(
        "Contributions",
        [
            ("deal", "text"),
            ("capital (mio.)", "mio"),
            ("mean profit (mio.)", "mio"),
            ("P(loss)", "pct"),
            ("CVaR 95 part (mio.)", "mio"),
            ("share of fund loss", "pct"),
        ],
    )
    for r in summ["deals"]:
        deals.add(
            r["deal"], r["capital"], r["profit_mean"], r["p_loss"], r["cvar95_contribution"],
            r["loss_share"],
        )  # fmt: skip
    div = summ["diversification"]
    dt = Table(
        "Diversification",
        [("", "text"), ("shared factor", None), ("independent deals", None)],
    )
    dt.add("P(fund loss)", (sh["p_loss"], "pct"), (ind["p_loss"], "pct"))
    dt.add("VaR 95 % (mio.)", (sh["var95"], "mio"), (ind["var95"], "mio"))
    dt.add("CVaR 95 % (mio.)", (sh["cvar95"], "mio"), (ind["cvar95"], "mio"))
    dt.add(
        "VaR 95 % below the sum of the deals' own",
        (div["benefit_shared"], "pct"),
        (div["benefit_independent"], "pct"),
    )
    dt.notes.append(
        "sum of the deals' stand-alone VaR 95 % (mio. DKK): "
        f"{div['sum_standalone_var95'] / 1e6:,.2f}"
    )
    diff = div["var95_shared"] - div["var95_independent"]
    dt.notes.append(
        f"VaR 95 % with the shared factor less that of independent deals: {diff / 1e6:+,.2f} "
        f"± {div['var95_difference_se'] / 1e6:,.2f} mio. DKK (standard error, a bootstrap of "
        "the scenarios; a difference within about two of it is Monte Carlo noise)"
    )
    return [head, lines, deals, dt]
