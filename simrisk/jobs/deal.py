"""Jobs on one deal and its results: run, validate, summary, report."""

from __future__ import annotations

from simrisk import engine, parallel, report, resources, results, summary
from simrisk.analysis import stress as stress_mod
from simrisk.analysis import sweep as sweep_mod
from simrisk.errors import ConfigError
from simrisk.files import exclusive, read_toml
from simrisk.jobs import QUIET, UI, claim_output, default_output, load, seed_or_draw
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
    with claim_output(output, overwrite):
        seed = seed_or_draw(seed, ui)
        parallel.set_threads(threads)
        used = resources.threads_in_use(threads)
        resources.check(cfg, scenarios, used, chunk or engine.CHUNK, detail, ui.log)
        with ui.progress(scenarios) as advance:
            res = engine.run(
                cfg, seed, scenarios, detail=detail, chunk=chunk or engine.CHUNK, progress=advance
            )
        ds = results.build_dataset(cfg, res, seed, text)
        results.write_netcdf(ds, output, overwrite=overwrite)
        ui.log(f"wrote {output}")
        summ = summary.summary(ds)
        return Output(summ, summary.summary_tables(summ))


def file_kind(raw: dict) -> str:
    """What kind of input file a TOML table is: a deal, an evidence file, a targets file
    or a calibration posterior (by the keys only the kind has)."""
    if "deal" in raw and not isinstance(raw.get("deal"), str):
        return "deal"
    if "endpoints" in raw or ("arms" in raw and "population" in raw):
        return "evidence"
    if "free" in raw and ("targets" in raw or "evidence" in raw):
        return "targets"
    if "draws" in raw and "paths" in raw:
        return "posterior"
    return "deal"


def _validate_other(path: str, kind: str) -> Output:
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
    raise ConfigError(
        path,
        [
            f"{path}: this is a calibration posterior, not a deal; validate the deal that "
            "names it in uncertainty.posterior"
        ],
    )


def validate(deal: str, ui: UI = QUIET) -> Output:
    """Check a deal file (or an evidence or targets file) without simulating."""
    raw, _ = read_toml(deal)
    kind = file_kind(raw)
    if kind != "deal":
        return _validate_other(deal, kind)
    cfg, _ = load(deal, ui)
    n_unc = cfg.uncertainty.n_parameters
    line = (
        f"{deal}: ok — {cfg.deal.name}; {cfg.cohort.size} citizens, "
        f"{len(cfg.programme.phases)} phases, {cfg.deal.horizon_weeks} weeks, "
        f"{len(cfg.contract.mechanisms)} payment mechanism(s), {n_unc} uncertain parameter(s)"
    )
    return Output({"file": deal, "ok": True, "deal": cfg.deal.name}, lines=[line])


def summarise(result: str, drivers: bool = False) -> Output:
    """The headline table of a results file; with ``drivers`` the rank correlations. A
    stress or sweep file gives its table of points (as the command printed it)."""
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
        return Output({"kind": kind, "points": rows}, [table])
    if kind in ("stress", "sweep"):
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
    """Figures and the HTML page of a results file (and its stress and sensitivity
    files, recognised by their contents)."""
    result, stress_file, sens_file = report.classify(files)
    try:
        with exclusive(out_dir):
            written = report.write_report(result, out_dir, stress_file, sens_file, fmt)
    except FileExistsError as exc:
        raise ConfigError(out_dir, [f"--output: {exc}"]) from None
    return Output({"written": [str(p) for p in written]}, lines=[str(p) for p in written])
