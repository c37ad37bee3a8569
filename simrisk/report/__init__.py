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
from simrisk.results import open_results


def classify(files: list[str]) -> tuple[str, str | None, str | None]:
    """(results, stress, sensitivity) files among ``files``, recognised by their dims;
    ConfigError with one line per file that is none of them."""
    result = stress = sens = None
    problems = []
    for f in files:
        if not Path(f).exists():
            problems.append(f"{f}: no such file")
            continue
        try:
            with xr.open_dataset(f) as ds:
                dims = set(ds.dims)
        except Exception as exc:  # any unreadable file is bad input
            problems.append(f"{f}: not a readable NetCDF file ({exc})")
            continue
        if "stress" in dims:
            stress = f
        elif "output" in dims:
            sens = f
        elif "scenario" in dims:
            result = f
        else:
            problems.append(f"{f}: not a simrisk results, stress or sensitivity file")
    if result is None and not problems:
        problems.append("RESULT: give a results file written by 'simrisk run'")
    if problems:
        raise ConfigError("report", problems)
    return result, stress, sens


def write_report(
    result: str | Path,
    out_dir: str | Path,
    stress: str | Path | None = None,
    sensitivity: str | Path | None = None,
    fmt: str = "png",
) -> list[Path]:
    """Write the figures (in ``fmt``) and ``report.html`` into ``out_dir`` (replaced as a
    whole); returns the files written."""
    ds = open_results(result)
    st = xr.load_dataset(stress) if stress else None
    sa = xr.load_dataset(sensitivity) if sensitivity else None
    if st is not None and "stress" not in st.dims:
        raise ValueError(f"{stress}: not a stress results file (no stress dimension)")
    if sa is not None and "output" not in sa.dims:
        raise ValueError(f"{sensitivity}: not a sensitivity results file")
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
