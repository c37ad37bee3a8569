"""Results as a self-describing xarray Dataset, NetCDF I/O and the headline summary."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

import simrisk
from simrisk import engine, finance
from simrisk.config import LABOUR_STATES, DealConfig

ARMS = ("counterfactual", "treatment")


def _var(dims, data, long_name, units, **extra):
    return xr.Variable(dims, data, attrs={"long_name": long_name, "units": units, **extra})


def build_dataset(cfg: DealConfig, raw: dict, seed: int, deal_text: str = "") -> xr.Dataset:
    """Assemble the output of :func:`simrisk.engine.run` into a Dataset.

    Dimensions: ``scenario``, ``arm``, ``week`` (with a ``date`` coordinate), ``state``,
    ``phase``, ``quantile`` and ``parameter``.
    """
    st = raw["structure"]
    agg: engine.Aggregator = raw["aggregator"]
    metrics = raw["metrics"]
    n = agg.n
    H = st.horizon
    phases = [p.name for p in cfg.program.phases] + ["completed", "dropped"]
    q = np.asarray(engine.QUANTILES)
    coords = {
        "scenario": np.arange(n),
        "arm": list(ARMS),
        "week": np.arange(H),
        "date": ("week", st.dates.astype("datetime64[ns]")),
        "state": list(LABOUR_STATES),
        "phase": phases,
        "quantile": q,
        "parameter": [str(p) for p in raw["sampler"].names],
    }
    data = {}
    for name, (long_name, units) in engine.SCENARIO_METRICS.items():
        data[name] = _var(("scenario",), metrics[name], long_name, units)
    data["investor_irr_status"].attrs["flag_values"] = np.arange(len(finance.IRR_STATUS_NAMES))
    data["investor_irr_status"].attrs["flag_meanings"] = " ".join(finance.IRR_STATUS_NAMES)
    data["parameters"] = _var(
        ("scenario", "parameter"), raw["draws"], "drawn value of an uncertain parameter", "1"
    )
    data["state_count_mean"] = _var(
        ("arm", "week", "state"), agg.state_mean(), "citizens in each state, mean", "citizens"
    )
    data["state_count_quantile"] = _var(
        ("quantile", "arm", "week", "state"),
        agg.state_quantiles(),
        "citizens in each state, quantile over scenarios",
        "citizens",
    )
    data["programme_count_mean"] = _var(
        ("week", "phase"), agg.prog_sum.T / n, "citizens on the programme track, mean", "citizens"
    )
    data["programme_count_quantile"] = _var(
        ("quantile", "week", "phase"),
        agg.hist_quantiles(agg.prog_hist).transpose(0, 2, 1),
        "citizens on the programme track, quantile over scenarios",
        "citizens",
    )
    for name, (long_name, units) in engine.FLOW_SERIES.items():
        data[f"{name}_mean"] = _var(("week",), agg.flow_sum[name] / n, f"{long_name}, mean", units)
        data[f"{name}_quantile"] = _var(
            ("quantile", "week"),
            np.quantile(agg.flow_sample[name].astype(float), q, axis=0),
            f"{long_name}, quantile over the first {agg.q_n} scenarios",
            units,
        )
        if agg.detail:
            data[name] = _var(("scenario", "week"), agg.detail_flows[name], long_name, units)
    if agg.detail:
        data["state_count"] = _var(
            ("scenario", "arm", "week", "state"),
            agg.detail_states.transpose(0, 1, 3, 2),
            "citizens in each state",
            "citizens",
        )
    ds = xr.Dataset(data, coords=coords)
    ds["date"].attrs = {"long_name": "first day of the week"}
    ds["week"].attrs = {"long_name": "week since the deal's start", "units": "week"}
    ds.attrs = {
        "title": f"simrisk results: {cfg.deal.name}",
        "deal_name": cfg.deal.name,
        "currency": cfg.deal.currency,
        "start_date": cfg.deal.start_date.isoformat(),
        "seed": int(seed),
        "n_scenarios": int(n),
        "sampling_method": cfg.uncertainty.method,
        "perspective": cfg.economics.perspective,
        "measurement": cfg.contract.measurement,
        "flow_quantile_scenarios": int(agg.q_n),
        "simrisk_version": simrisk.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "deal_file": deal_text,
        "deal_json": cfg.model_dump_json(by_alias=True),
        "Conventions": "CF-1.10",
    }
    return ds


def _readable(path: str) -> None:
    """Give a file made by mkstemp (mode 0600) the usual permissions under the umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def write_netcdf(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write atomically: to a temporary file beside the target, then rename."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="netcdf4")
        _readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


ZARR_THRESHOLD = 2 * 1024**3
"""Datasets larger than this (bytes) go to Zarr when the format is left to simrisk."""


def write_zarr(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write a Zarr store atomically: to a temporary directory beside it, then rename."""
    import shutil

    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=parent))
    try:
        shutil.rmtree(tmp)
        ds.to_zarr(tmp, mode="w", zarr_format=2)  # v2 with consolidated metadata: widely read
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def write_results(
    ds: xr.Dataset, path: str | Path, overwrite: bool = False, fmt: str = "auto"
) -> Path:
    """NetCDF or Zarr: Zarr when asked (``fmt="zarr"`` or a ``.zarr`` path), NetCDF when
    asked, else by size (Zarr above ZARR_THRESHOLD bytes)."""
    path = Path(path)
    use_zarr = fmt == "zarr" or (
        fmt == "auto" and (path.suffix == ".zarr" or ds.nbytes > ZARR_THRESHOLD)
    )
    if use_zarr:
        if path.suffix != ".zarr":
            path = path.with_suffix(".zarr")
        return write_zarr(ds, path, overwrite)
    return write_netcdf(ds, path, overwrite)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically (temporary file beside it, then rename)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def open_results(path: str | Path) -> xr.Dataset:
    """Open a results file written by :func:`write_netcdf`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        ds = xr.load_dataset(path, engine="netcdf4")
    except Exception as exc:  # netCDF4 raises OSError/ValueError/RuntimeError variants
        raise ValueError(f"{path}: not a readable NetCDF results file ({exc})") from None
    if "municipal_net" not in ds or "investor_irr" not in ds:
        raise ValueError(f"{path}: not a simrisk results file (no municipal_net/investor_irr)")
    return ds


SUMMARY_METRICS = (
    ("investor_irr", "Investor IRR", "pct"),
    ("investor_moic", "Investor MOIC", "x"),
    ("investor_npv", "Investor NPV", "dkk"),
    ("programme_cost", "Programme cost", "dkk"),
    ("payments_total", "Payments", "dkk"),
    ("savings_true", "True savings", "dkk"),
    ("savings_measured", "Measured savings", "dkk"),
    ("municipal_net", "Municipal net", "dkk"),
)


def summary(ds: xr.Dataset) -> dict:
    """Headline figures: mean, P5, P50, P95 of key metrics and the risk probabilities."""
    rows = []
    for name, label, kind in SUMMARY_METRICS:
        x = np.asarray(ds[name].values, dtype=float)
        finite = x[np.isfinite(x)]
        ranked = finite
        if name == "investor_irr":
            # an undefined IRR is ranked by the sign of the investor's profit, so that the
            # quantiles are not those of the defined scenarios only (mostly losses)
            profit = ds["investor_profit"].values
            ranked = np.where(np.isfinite(x), x, np.where(profit < 0, -np.inf, np.inf))
        if finite.size:
            p5, p50, p95 = np.quantile(ranked, [0.05, 0.5, 0.95], method="inverted_cdf")
            mean = float(finite.mean())
        else:
            p5 = p50 = p95 = mean = float("nan")
        rows.append(
            {
                "metric": name,
                "label": label,
                "kind": kind,
                "mean": mean,
                "p5": float(p5),
                "p50": float(p50),
                "p95": float(p95),
                "n_defined": int(finite.size),
            }
        )
    net = ds["municipal_net"].values
    var95, cvar95 = finance.var_cvar(net, 0.95)
    status = ds["investor_irr_status"].values
    return {
        "deal": ds.attrs.get("deal_name", ""),
        "seed": int(ds.attrs.get("seed", -1)),
        "n_scenarios": int(ds.sizes["scenario"]),
        "rows": rows,
        "p_investor_loss": float(np.mean(ds["investor_profit"].values < 0)),
        "p_municipal_net_negative": float(np.mean(net < 0)),
        "p_payments_exceed_public_savings": float(np.mean(ds["public_net"].values < 0)),
        "municipal_var95": float(var95),
        "municipal_cvar95": float(cvar95),
        "mean_deadweight_share": float(np.mean(ds["deadweight_share"].values)),
        "irr_status_counts": {
            name: int(np.sum(status == code)) for code, name in enumerate(finance.IRR_STATUS_NAMES)
        },
    }


def summary_json(summ: dict) -> str:
    return json.dumps(summ, indent=2, allow_nan=True)


DRIVER_METRICS = ("investor_profit", "municipal_net")


def drivers(ds: xr.Dataset, metrics=DRIVER_METRICS) -> list[dict]:
    """Spearman rank correlation of each drawn parameter with key metrics, strongest first.

    A first look at which assumption drives the risk (it mixes in the cohort's own
    randomness; a variance decomposition needs nested runs).
    """
    from scipy import stats

    if ds.sizes.get("parameter", 0) == 0 or ds.sizes["scenario"] < 3:
        return []
    rows = []
    for j, name in enumerate(ds["parameter"].values):
        x = ds["parameters"].values[:, j]
        row = {"parameter": str(name)}
        for m in metrics:
            y = ds[m].values
            if np.ptp(x) == 0 or np.ptp(y) == 0:
                row[m] = 0.0
            else:
                row[m] = float(stats.spearmanr(x, y).statistic)
        rows.append(row)
    rows.sort(key=lambda r: -max(abs(r[m]) for m in metrics))
    return rows
