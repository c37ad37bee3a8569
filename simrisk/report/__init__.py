"""The report for a deal committee: figures and a self-contained HTML page, from the
results of ``run`` and, optionally, the files of ``stress``, ``sensitivity``, ``check``,
``acceptability``, ``region`` and ``voi``.

:func:`classify` recognises the input files by their contents; :func:`write_report`
builds the report aside and moves it into place (a new directory as a whole,
the files of an existing one each), so nothing half-written is left.
Modules: :mod:`.figures`, :mod:`.text` (the words), :mod:`.page` (HTML), :mod:`.pdf`
(the whole report as one PDF), :mod:`.compare` (several results side by side).
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from simrisk.analysis import acceptability as accept_mod
from simrisk.analysis import check as check_mod
from simrisk.analysis import region as region_mod
from simrisk.analysis import sensitivity as sens_mod
from simrisk.analysis import stress as stress_mod
from simrisk.analysis import voi as voi_mod
from simrisk.errors import ConfigError
from simrisk.files import write_folder
from simrisk.report.figures import FIGURE_NAMES, FORMATS, figures
from simrisk.report.page import _png, render_html
from simrisk.report.pdf import write_pdf
from simrisk.results import (
    KIND_NAMES,
    REQUIRED,
    file_kind,
    load_netcdf,
    open_results,
    what_file,
)
from simrisk.tables import Table

TAKES = ("run", "stress", "sensitivity", "check", "acceptability", "region", "voi")


def classify(files: list[str]) -> dict[str, str]:
    """The files among ``files`` by kind (``run``, and optionally ``stress``,
    ``sensitivity``, ``check``), recognised by their contents; ConfigError with one line
    per file that is none of them, or that repeats a kind."""
    found: dict[str, str] = {}
    problems = []
    for f in files:
        try:
            with xr.open_dataset(f) as ds:
                kind = file_kind(ds)
        except FileNotFoundError:
            problems.append(f"{f}: no such file")
            continue
        except Exception as exc:  # any unreadable file is bad input
            problems.append(f"{f}: not a readable NetCDF file ({exc})")
            continue
        if not Path(f).exists():
            problems.append(f"{f}: no such file")
        elif kind not in TAKES:
            problems.append(
                f"{f}: {what_file(kind)}; the report takes the files of run, stress, sensitivity, "
                "check, acceptability, region and voi"
            )
        elif kind in found:
            problems.append(f"{f}: a second {KIND_NAMES[kind]} (the first is {found[kind]})")
        else:
            found[kind] = f
    if "run" not in found and not problems:
        problems.append("RESULT: give a results file written by 'simrisk run'")
    if problems:
        raise ConfigError("report", problems)
    return found


REPORT_NEEDS = REQUIRED + (
    "state_count_quantile",
    "state_count_mean",
    "investor_cumulative_quantile",
    "investor_cumulative_mean",
    "municipal_net_cumulative_quantile",
    "municipal_net_cumulative_mean",
)


def _mismatch(ds: xr.Dataset, path, other: xr.Dataset, other_path) -> list[str]:
    """Why ``other`` (a stress or sensitivity file) cannot go on the page of ``ds``: another
    deal, another version of its deal file, another seed."""
    a, b = ds.attrs, other.attrs
    if a.get("deal_name") != b.get("deal_name"):
        return [
            f"{other_path}: of the deal '{b.get('deal_name')}', not '{a.get('deal_name')}' "
            f"of {path}; give the files of one deal"
        ]
    out = []
    if a.get("deal_file") != b.get("deal_file"):
        out.append(
            f"{other_path}: made from another version of the deal file than {path}; "
            "run both from the same file"
        )
    if b.get("kind") in ("check", "acceptability", "region", "voi"):
        return out  # a check draws its own parameters; its seed is its own
    if a.get("seed") != b.get("seed") and b.get("kind") == "stress":
        out.append(
            f"{other_path}: seed {b.get('seed')}, {path} seed {a.get('seed')}; give a stress "
            "file of the same seed (its base point is then the run's futures)"
        )
    return out


def earlier_report(out_dir: str | Path) -> set[str]:
    """The files an earlier report in ``out_dir`` wrote, as its ``report.html`` tells:
    the figures it shows (``<figure id="fig-NAME">``) in each format, and the whole
    report as PDF; none if the folder holds no report."""
    page = Path(out_dir) / "report.html"
    if not page.is_file():
        return set()
    try:
        text = page.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    shown = set(re.findall(r'<figure id="fig-([a-z_]+)"', text)) & set(FIGURE_NAMES)
    return {f"{n}.{ext}" for n in shown for ext in FORMATS} | {"report.pdf"}


def write_report(
    result: str | Path,
    out_dir: str | Path,
    stress: str | Path | None = None,
    sensitivity: str | Path | None = None,
    fmt: str = "png",
    check: str | Path | None = None,
    accept: str | Path | None = None,
    region: str | Path | None = None,
    voi: str | Path | None = None,
) -> list[Path]:
    """Write ``report.html`` into ``out_dir`` with the figures: as ``fmt`` files (png,
    svg) beside it, or with ``pdf`` the whole report as one ``report.pdf``. Returns the
    files written."""
    ds = open_results(result, REPORT_NEEDS)
    st = load_netcdf(stress) if stress else None
    sa = load_netcdf(sensitivity) if sensitivity else None
    ck = load_netcdf(check) if check else None
    ac = load_netcdf(accept) if accept else None
    rg = load_netcdf(region) if region else None
    vi = load_netcdf(voi) if voi else None
    if st is not None and "stress" not in st.dims:
        raise ValueError(f"{stress}: not a stress results file (no stress dimension)")
    if sa is not None and "output" not in sa.dims:
        raise ValueError(f"{sensitivity}: not a sensitivity results file")
    problems = [
        p
        for other, path in (
            (st, stress),
            (sa, sensitivity),
            (ck, check),
            (ac, accept),
            (rg, region),
            (vi, voi),
        )
        if other is not None
        for p in _mismatch(ds, result, other, path)
    ]
    if problems:
        raise ConfigError("report", problems)
    figs = figures(ds, st, sa, ac, rg)
    sections = _sections(ds, st, sa, ck, ac, rg, vi)
    names = (["report.pdf"] if fmt == "pdf" else [f"{f.name}.{fmt}" for f in figs]) + [
        "report.html"
    ]

    def write(tmp: Path) -> None:
        pngs = {f.name: _png(f.fig) for f in figs}
        if fmt == "pdf":
            write_pdf(tmp / "report.pdf", ds, figs, pngs, sections)
        for f in figs:
            if fmt == "png":
                (tmp / f"{f.name}.png").write_bytes(pngs[f.name])
            elif fmt != "pdf":
                f.fig.savefig(tmp / f"{f.name}.{fmt}", format=fmt)
        (tmp / "report.html").write_text(render_html(ds, figs, pngs, sections), encoding="utf-8")

    try:
        # a folder holds one report: an earlier report's figures this one lacks go
        write_folder(out_dir, write, names, earlier_report(out_dir))
    finally:
        for f in figs:
            plt.close(f.fig)
    return [Path(out_dir) / n for n in names]


def _sections(
    ds, st, sa, ck, ac=None, rg=None, vi=None
) -> list[tuple[str, str, list[Table], list[str]]]:
    """The report's optional sections: (id, title, tables, lines)."""
    out = []
    name = ds.attrs.get("deal_name", "")
    if st is not None:
        rows, _ = stress_mod.from_dataset(st)
        title = (
            f"{name} — stress points, {st.sizes['scenario']:,} scenarios each, seed "
            f"{st.attrs.get('seed')}"
        )
        out.append(("stress", "Stress tests", [stress_mod.report_table(title, rows)],
                    stress_mod.left_out_notes(st)))  # fmt: skip
    if sa is not None:
        method = str(sa.attrs.get("method", "sobol"))
        out.append(("sensitivity", "What drives the results", sens_mod.tables(sa, name, method),
                    []))  # fmt: skip
    if ac is not None:
        out.append(("acceptability", "Acceptability of a contract term", [accept_mod.table(ac)],
                    []))  # fmt: skip
    if rg is not None:
        out.append(("region", "The terms both sides can sign",
                    [region_mod.map_table(rg), region_mod.best_table(rg)], []))  # fmt: skip
    if vi is not None:
        out.append(("voi", "What it is worth to know before signing", [voi_mod.table(vi)],
                    voi_mod.sentences(vi)))  # fmt: skip
    if ck is not None:
        rows = check_mod.rows_from_dataset(ck)
        draws, reps = ck.attrs.get("draws"), ck.attrs.get("replicates")
        lines = [
            f"Every endpoint of the deal's evidence, predicted by the model ({draws} "
            f"parameter draws as the run draws them, {reps} scenarios each) "
            "against what the study observed. Fit: the calibration used it; out of sample: "
            "it did not. |z| above 2 means the model does not reproduce the study."
        ] + check_mod.summary_lines(rows)
        out.append(("validation", "Predicted against observed", [check_mod.table(rows, name)],
                    lines))  # fmt: skip
    return out
