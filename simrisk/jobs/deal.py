"""Jobs on one deal and its results: run, validate, summary, report.

``run`` imports neither xarray nor the analysis modules (which do): the other jobs
import what they need when they are called."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from simrisk import engine, parallel, resources, results, summary
from simrisk.errors import ConfigError
from simrisk.files import exclusive, read_toml
from simrisk.jobs import (
    QUIET,
    UI,
    announce_compiling,
    claim_output,
    default_output,
    load,
    seed_or_draw,
)
from simrisk.tables import Output


def run(
    deal: str,
    scenarios: int,
    seed: int | None = None,
    output: str | None = None,
    *,
    threads: int | None = None,
    chunk: int | None = None,
    overwrite: bool = False,
    detail: bool = False,
    ui: UI = QUIET,
) -> Output:
    """Simulate a deal file, write its results (NetCDF) and summarise them."""
    cfg, text = load(deal, ui)
    output = output or default_output(deal, ".nc")
    with claim_output(output, overwrite, inputs=(deal,)):
        seed = seed_or_draw(seed, ui)
        parallel.set_threads(threads)
        used = resources.threads_in_use(threads)
        resources.check(cfg, scenarios, used, chunk or engine.CHUNK, detail, ui.log)
        announce_compiling(ui, cfg)
        with ui.progress(scenarios) as advance:
            res = engine.run(
                cfg, seed, scenarios, detail=detail, chunk=chunk or engine.CHUNK, progress=advance
            )
        contents = results.run_contents(cfg, res, seed, text)
        results.write_contents(contents, output, overwrite=overwrite)
        ui.log(f"wrote {output}")
        summ = summary.summary(contents)
        return Output(summ, summary.summary_tables(summ))


FUND_KEYS = frozenset({"name", "scenarios", "seed", "chunk", "macro", "holdings"})
"""The keys of a fund file (those of :class:`simrisk.analysis.portfolio.FundFile`, named
here so that telling a file's kind imports neither the portfolio nor xarray: 'simrisk
run' starts without them)."""


def file_kind(raw: dict) -> str:
    """What kind of input file a TOML table is: a deal, an evidence file, a targets file,
    a calibration posterior, a sweep, a fund or a stress file (by the keys only the kind
    has). A deal may hold ``[[stress]]`` points too: a file with ``stress`` is a stress
    file only if it has none of a deal's sections."""
    from simrisk.config import DealConfig

    if "deal" in raw and not isinstance(raw.get("deal"), str):
        return "deal"
    if "endpoints" in raw or ("arms" in raw and "population" in raw):
        return "evidence"
    if "free" in raw and ("targets" in raw or "evidence" in raw):
        return "targets"
    if "draws" in raw and "paths" in raw:
        return "posterior"
    if "deals" in raw:
        return "sweep"
    if "holdings" in raw or ("macro" in raw and "cohort" not in raw):
        return "fund"
    if raw and set(raw) <= FUND_KEYS:  # only a fund's keys (name, seed, ...)
        return "fund"
    if "stress" in raw and not any(k in raw for k in DealConfig.model_fields if k != "stress"):
        return "stress"
    return "deal"


KIND_USE = {
    "deal": "a deal file (for 'simrisk run', 'simrisk stress' and the other commands that "
    "take DEAL.toml)",
    "evidence": "an evidence file (a deal names it in [[evidence]]; 'simrisk check DEAL "
    "--evidence FILE' compares a deal with it)",
    "targets": "a targets file (for 'simrisk calibrate DEAL --targets FILE')",
    "posterior": "a calibration posterior (a deal names it in uncertainty.posterior)",
    "sweep": "a sweep file (run it with 'simrisk sweep FILE')",
    "fund": "a fund file (run it with 'simrisk portfolio FILE')",
    "stress": "a stress file (for 'simrisk stress DEAL --stress-file FILE')",
}
"""What each kind of input file is for, as a refusal of a file of the wrong kind says."""


def kind_problems(path: str | Path, wanted: tuple[str, ...], what: str) -> list[str]:
    """One line if the file at ``path`` is plainly another kind of input file than one of
    ``wanted`` (:func:`file_kind`), naming ``what`` asked for it; none if it is of a kind
    wanted or cannot be read as TOML (its loader then says what is wrong)."""
    try:
        raw, _ = read_toml(path)
    except (ConfigError, OSError):
        return []
    kind = file_kind(raw)
    # "deal" is also what a file of no known kind is taken for: plainly one only with its
    # [deal] table (else the file's own loader names what is missing or unknown)
    if kind in wanted or (kind == "deal" and not isinstance(raw.get("deal"), dict)):
        return []
    asked = " or ".join(f"a {w} file" for w in wanted)
    return [f"{what}: {path} is {KIND_USE[kind]}, not {asked}"]


def _validate_other(path: str, kind: str) -> Output:
    from simrisk.analysis import stress as stress_mod
    from simrisk.analysis import sweep as sweep_mod
    from simrisk.analysis.targets import load_targets
    from simrisk.config.load import load_evidence

    if kind == "evidence":
        ev = load_evidence(path)
        line = (
            f"{path}: ok — evidence file {ev.id} ({ev.authors.split(',')[0]} et al. "
            f"{ev.year}); {len(ev.arms)} arm(s), {len(ev.endpoints)} endpoint(s)"
        )
        return Output({"file": path, "ok": True, "kind": kind, "id": ev.id}, lines=[line])
    if kind == "targets":
        tg = load_targets(path)
        line = (
            f"{path}: ok — targets file '{tg.name}'; {len(tg.free)} free parameter(s), "
            f"{len(tg.targets)} target(s) (use it with 'simrisk calibrate DEAL --targets')"
        )
        return Output({"file": path, "ok": True, "kind": kind}, lines=[line])
    if kind == "sweep":
        # what 'simrisk sweep FILE' does before it runs: every deal loaded, every point
        # checked against every deal
        sweep, _ = sweep_mod.from_files([path], [], None, None, None, None)
        n_points = len(sweep.stress_names) - 1
        line = (
            f"{path}: ok — sweep file; {len(sweep.deals)} deal(s) x {n_points} stress "
            f"point(s) and the base case x {sweep.n:,} scenarios (run it with "
            "'simrisk sweep FILE')"
        )
        data = {"deals": [d.path for d in sweep.deals], "stress": sweep.stress_names}
        return Output({"file": path, "ok": True, "kind": kind, **data}, lines=[line])
    if kind == "fund":
        from simrisk.analysis import portfolio

        # what 'simrisk portfolio FILE' does before it runs: every holding's deal loaded,
        # its capital and the macro path checked against it
        ff = portfolio.load_fund_file(path)
        fund = portfolio.build(ff, 0, ff.scenarios, ff.chunk)
        capital = sum(d.capital for d in fund.deals)
        line = (
            f"{path}: ok — fund file '{fund.name}'; {len(fund.deals)} holding(s), "
            f"{capital / 1e6:,.2f} mio. DKK, macro factor on {fund.macro_path} (sigma "
            f"{fund.sigma:g}, rho {fund.rho:g}) (run it with 'simrisk portfolio FILE')"
        )
        return Output({"file": path, "ok": True, "kind": kind, "fund": fund.name}, lines=[line])
    if kind == "stress":
        from simrisk.config import expand, scenario_independent
        from simrisk.config.paths import tokens

        points = stress_mod.load_stress_file(path)
        # the checks that need no deal (as 'simrisk stress' words them); what a path
        # names is checked against each deal the file is used with
        problems = []
        names = {"base"}
        for i, pt in enumerate(points):
            if pt.name in names:
                problems.append(f"stress[{i}].name: '{pt.name}' is used twice")
            names.add(pt.name)
            for j, ch in enumerate(pt.changes):
                at = f"stress[{i}].changes[{j}].path"
                try:
                    expand(ch.path, {})  # matches nothing, but rejects a malformed path
                except ValueError as exc:
                    problems.append(f"{at}: {exc}")
                    continue
                why = scenario_independent(tokens(ch.path, wildcard=True))
                if why:
                    problems.append(f"{at}: {why}")
        if problems:
            raise ConfigError(path, problems)
        names = [pt.name for pt in points]
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        line = (
            f"{path}: ok — stress file; {len(points)} stress point(s): {shown}; paths are "
            "checked against a deal by 'simrisk stress DEAL --stress-file FILE'"
        )
        data = {"stress": names}
        return Output({"file": path, "ok": True, "kind": kind, **data}, lines=[line])
    raise ConfigError(
        path,
        [
            f"{path}: this is a calibration posterior, not a deal; validate the deal that "
            "names it in uncertainty.posterior"
        ],
    )


def validate(deal: str, ui: UI = QUIET) -> Output:
    """Check a deal file (or an evidence, targets, sweep, fund or stress file) without
    simulating."""
    raw, _ = read_toml(deal)
    kind = file_kind(raw)
    if kind != "deal":
        return _validate_other(deal, kind)
    cfg, _ = load(deal, ui)
    if cfg.stress:
        from simrisk.analysis import stress as stress_mod

        stress_mod.prepare(cfg, cfg.stress)  # the deal's own points, as 'simrisk stress' checks
    n_unc = cfg.uncertainty.n_parameters
    line = (
        f"{deal}: ok — {cfg.deal.name}; {cfg.cohort.size} citizens, "
        f"{len(cfg.programme.phases)} phases, {cfg.deal.horizon_weeks} weeks, "
        f"{len(cfg.contract.mechanisms)} payment mechanism(s), {n_unc} uncertain parameter(s)"
    )
    if cfg.stress:
        line += f", {len(cfg.stress)} stress point(s)"
    return Output({"file": deal, "ok": True, "deal": cfg.deal.name}, lines=[line])


def summarise(result: str, drivers: bool = False) -> Output:
    """The headline table of a results file; with ``drivers`` the rank correlations. A
    stress or sweep file gives its table of points, a portfolio file its fund's tables
    (as the command printed them)."""
    from simrisk.analysis import stress as stress_mod
    from simrisk.analysis import sweep as sweep_mod

    ds = results.load_netcdf(result)
    kind = results.file_kind(ds)
    if kind in ("stress", "sweep") and not drivers:
        mod = stress_mod if kind == "stress" else sweep_mod
        try:
            rows, table = mod.from_dataset(ds)
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"{result}: not a complete {results.KIND_NAMES[kind]} ({exc})"
            ) from None
        tables = [stress_mod.definitions_table(rows), table] if kind == "stress" else [table]
        lines = {k: [x for x in str(ds.attrs.get(k, "")).splitlines() if x]
                 for k in ("left_out", "beyond_bounds")}  # fmt: skip
        # what the command's own --json gave
        data = {"kind": kind, "seed": int(ds.attrs["seed"]), "n_scenarios": ds.sizes["scenario"]}
        if kind == "stress":
            data |= {"deal": ds.attrs.get("deal_name", ""), "points": rows, **lines}
        else:
            data |= {"points": rows, "beyond_bounds": lines["beyond_bounds"]}
        return Output(data, tables)
    if kind == "portfolio" and not drivers:
        from simrisk.analysis import portfolio as pf
        from simrisk.jobs.batch import portfolio_tables

        try:
            summ = pf.summary(*pf.from_dataset(ds))
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"{result}: not a complete {results.KIND_NAMES[kind]} ({exc}; a file of an "
                "older simrisk lacks deal_investor_drawn: run the fund again)"
            ) from None
        return Output(summ, portfolio_tables(summ))
    if kind in ("stress", "sweep", "portfolio"):
        raise ValueError(
            f"{result}: --drivers needs the results of 'simrisk run', not a "
            f"{results.KIND_NAMES[kind]}"
        )
    ds = results.open_results(result)
    summ = summary.summary(ds)
    tables = summary.summary_tables(summ)
    if drivers:
        summ["drivers"] = summary.drivers(ds)
        tables.append(summary.drivers_table(summ["drivers"]))
    return Output(summ, tables)


def make_report(files: list[str], out_dir: str, fmt: str = "png") -> Output:
    """Figures and the HTML page of a results file (and the files of other commands on
    the same deal: stress, sensitivity, check, acceptability, region, voi; recognised by
    their contents)."""
    from simrisk import report  # matplotlib: only when reporting

    found = report.classify(files)
    try:
        with exclusive(out_dir):
            written = report.write_report(
                found["run"], out_dir, found.get("stress"), found.get("sensitivity"), fmt,
                found.get("check"), found.get("acceptability"), found.get("region"),
                found.get("voi"),
            )  # fmt: skip
    except FileExistsError as exc:
        raise ConfigError(out_dir, [f"--output: {exc}"]) from None
    return Output({"written": [str(p) for p in written]}, messages=[f"wrote {p}" for p in written])


def value_of_information(result: str, groups: list[str] | None = None,
                         output: str | None = None, overwrite: bool = False) -> Output:  # fmt: skip
    """EVPI and EVPPI of both parties from a run's own sample; with ``output``, NetCDF."""
    from simrisk.analysis import voi

    extra = {}
    for spec in groups or []:
        name, sep, paths = spec.partition("=")
        if not sep or not name.strip() or not paths.strip():
            raise ConfigError("--group", [f"--group: '{spec}' is not NAME=PATH,PATH,..."])
        if name.strip() in extra:
            raise ConfigError("--group", [f"--group {name.strip()}: given twice"])
        extra[name.strip()] = [p.strip() for p in paths.split(",") if p.strip()]
    with ExitStack() as stack:
        if output is not None:
            stack.enter_context(claim_output(output, overwrite, inputs=(result,)))
        ds = results.open_results(result)
        v = voi.value_of_information(ds, extra)
        if output is not None:
            results.write_netcdf(v, output, overwrite=overwrite)
    data = {
        "deal": v.attrs["deal_name"], "evpi_investor": v.attrs["evpi_investor"],
        "evpi_municipality": v.attrs["evpi_municipality"],
        "inputs": [str(x) for x in v["input"].values],
        "evppi_investor": v["evppi_investor"].values.tolist(),
        "evppi_municipality": v["evppi_municipality"].values.tolist(),
        "sentences": voi.sentences(v),
    }  # fmt: skip
    return Output(data, [voi.table(v)], voi.sentences(v))
