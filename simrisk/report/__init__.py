"""The report for a deal committee: figures and a self-contained HTML page, from the
results of ``run`` and, optionally, ``stress`` and ``sensitivity``.

:func:`classify` recognises the input files by their contents; :func:`write_report`
builds the report aside and moves it into place (a new directory as a whole,
the files of an existing one each), so nothing half-written is left.
Modules: :mod:`.figures`, :mod:`.page`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from simrisk.errors import ConfigError
from simrisk.files import atomic_write
from simrisk.report.figures import figures
from simrisk.report.page import _png, render_html
from simrisk.results import KIND_NAMES, REQUIRED, file_kind, load_netcdf, open_results


def classify(files: list[str]) -> tuple[str, str | None, str | None]:
    """(results, stress, sensitivity) files among ``files``, recognised by their contents;
    ConfigError with one line per file that is none of them, or that repeats a kind."""
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
        elif kind not in ("run", "stress", "sensitivity"):
            what = f"a {KIND_NAMES[kind]}" if kind in KIND_NAMES else "not a simrisk file"
            problems.append(
                f"{f}: {what}; the report takes the files of run, stress and sensitivity"
            )
        elif kind in found:
            problems.append(f"{f}: a second {KIND_NAMES[kind]} (the first is {found[kind]})")
        else:
            found[kind] = f
    if "run" not in found and not problems:
        problems.append("RESULT: give a results file written by 'simrisk run'")
    if problems:
        raise ConfigError("report", problems)
    return found["run"], found.get("stress"), found.get("sensitivity")


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
    if a.get("seed") != b.get("seed") and b.get("kind") == "stress":
        out.append(
            f"{other_path}: seed {b.get('seed')}, {path} seed {a.get('seed')}; give a stress "
            "file of the same seed (its base point is then the run's futures)"
        )
    return out


def write_report(
    result: str | Path,
    out_dir: str | Path,
    stress: str | Path | None = None,
    sensitivity: str | Path | None = None,
    fmt: str = "png",
) -> list[Path]:
    """Write the figures (in ``fmt``) and ``report.html`` into ``out_dir`` (replaced as a
    whole); returns the files written."""
    ds = open_results(result, REPORT_NEEDS)
    st = load_netcdf(stress) if stress else None
    sa = load_netcdf(sensitivity) if sensitivity else None
    if st is not None and "stress" not in st.dims:
        raise ValueError(f"{stress}: not a stress results file (no stress dimension)")
    if sa is not None and "output" not in sa.dims:
        raise ValueError(f"{sensitivity}: not a sensitivity results file")
    problems = [
        p
        for other, path in ((st, stress), (sa, sensitivity))
        if other is not None
        for p in _mismatch(ds, result, other, path)
    ]
    if problems:
        raise ConfigError("report", problems)
    figs = figures(ds, st, sa)
    names = [f"{f.name}.{fmt}" for f in figs] + ["report.html"]

    def write(tmp: Path) -> None:
        pngs = {}
        for f in figs:
            pngs[f.name] = _png(f.fig)
            path = tmp / f"{f.name}.{fmt}"
            if fmt == "png":
                path.write_bytes(pngs[f.name])
            else:
                f.fig.savefig(path, format=fmt)
        (tmp / "report.html").write_text(render_html(ds, figs, pngs), encoding="utf-8")

    out_dir = Path(out_dir)
    try:
        if not out_dir.exists():
            atomic_write(out_dir, write, directory=True)
        else:  # built aside, then each file moved in: the folder's other files stay
            parent = out_dir.resolve().parent
            with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.", dir=parent) as tmp:
                write(Path(tmp))
                for n in names:
                    os.replace(Path(tmp) / n, out_dir / n)
    finally:
        for f in figs:
            plt.close(f.fig)
    return [out_dir / n for n in names]
