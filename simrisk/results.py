"""Results as a self-describing xarray Dataset, and NetCDF / Zarr I/O.

Dimensions ``scenario``, ``arm``, ``week`` (with a ``date`` coordinate),
``state``, ``phase``, ``quantile`` and ``parameter``; every variable's
attributes come from the registry (:mod:`simrisk.outputs`).

The results of a run are built as :class:`simrisk.netcdf.Contents` and written
without xarray (:func:`write_contents`); xarray is imported by the functions that
read files or build other Datasets, when they are called.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simrisk import finance, netcdf
from simrisk.config import DealConfig
from simrisk.engine import RunResult
from simrisk.files import atomic_write
from simrisk.netcdf import Contents, Variable
from simrisk.outputs import FLOWS, METRICS, attrs, provenance
from simrisk.vocabulary import ARMS, LABOUR_STATES, QUANTILES

if TYPE_CHECKING:
    import xarray as xr


def metric_variables(metrics: dict[str, np.ndarray], dims: tuple) -> dict[str, Variable]:
    """Per-scenario metrics as variables with registry attributes (any leading dims)."""
    out = {name: Variable(dims, metrics[name], attrs(name)) for name in METRICS}
    flags = out["investor_irr_status"].attrs
    flags["flag_values"] = np.arange(len(finance.IRR_STATUS_NAMES))
    flags["flag_meanings"] = " ".join(finance.IRR_STATUS_NAMES)
    return out


def run_contents(cfg: DealConfig, res: RunResult, seed: int, deal_text: str = "") -> Contents:
    """The output of :func:`simrisk.engine.run`: the variables of its results file."""
    st = res.structure
    wk = res.weekly
    n = res.n
    pay = np.unique(st.pay_week[st.pay_week >= 0])
    pay = pay[pay < st.horizon]
    phases = [p.name for p in cfg.programme.phases] + ["completed", "dropped"]
    coords = {
        "scenario": Variable(("scenario",), np.arange(n), {}),
        "arm": Variable(("arm",), np.asarray(ARMS), {}),
        "week": Variable(
            ("week",),
            np.arange(st.horizon),
            {"long_name": "week since the deal's start", "units": "week"},
        ),
        "date": Variable(
            ("week",), st.dates.astype("datetime64[ns]"), {"long_name": "first day of the week"}
        ),
        "state": Variable(("state",), np.asarray(LABOUR_STATES), {}),
        "phase": Variable(("phase",), np.asarray(phases), {}),
        "quantile": Variable(("quantile",), np.asarray(QUANTILES), {}),
        "parameter": Variable(
            ("parameter",), np.asarray([str(p) for p in res.parameter_names]), {}
        ),
        "payment_date": Variable(
            ("payment",), st.dates[pay], {"long_name": "date of each payment"}
        ),
    }
    data = metric_variables(res.metrics, ("scenario",))
    data["parameters"] = Variable(("scenario", "parameter"), res.draws, attrs("parameters"))
    data["state_count_mean"] = Variable(
        ("arm", "week", "state"), wk.state_count_mean, attrs("state_count", "mean")
    )
    data["state_count_quantile"] = Variable(
        ("quantile", "arm", "week", "state"),
        wk.state_count_quantile,
        attrs("state_count", "quantile"),
    )
    data["state_effect_quantile"] = Variable(
        ("quantile", "week", "state"),
        wk.state_effect_quantile,
        attrs("state_effect", "quantile"),
    )
    data["programme_count_mean"] = Variable(
        ("week", "phase"), wk.programme_count_mean, attrs("programme_count", "mean")
    )
    data["programme_count_quantile"] = Variable(
        ("quantile", "week", "phase"),
        wk.programme_count_quantile,
        attrs("programme_count", "quantile"),
    )
    q_note = f"over the first {wk.flow_quantile_scenarios} scenarios"
    for name in FLOWS:
        data[f"{name}_mean"] = Variable(("week",), wk.flow_mean[name], attrs(name, "mean"))
        data[f"{name}_quantile"] = Variable(
            ("quantile", "week"), wk.flow_quantile[name], attrs(name, "quantile", q_note)
        )
        if wk.detail_flows is not None:
            data[name] = Variable(("scenario", "week"), wk.detail_flows[name], attrs(name))
    if wk.detail_states is not None:
        data["state_count"] = Variable(
            ("scenario", "arm", "week", "state"), wk.detail_states, attrs("state_count")
        )
    data["payment_week"] = Variable(("payment",), pay, attrs("payment_week"))
    data["payments_on_date_mean"] = Variable(
        ("payment",), wk.flow_mean["payments_weekly"][pay], attrs("payments_on_date", "mean")
    )
    meta = provenance(
        "results",
        cfg.deal.name,
        seed,
        kind="run",
        n_scenarios=int(n),
        currency=cfg.deal.currency,
        start_date=cfg.deal.start_date.isoformat(),
        sampling_method=cfg.uncertainty.method,
        perspective=cfg.economics.perspective,
        measurement=cfg.contract.measurement,
        flow_quantile_scenarios=int(wk.flow_quantile_scenarios),
        deal_file=deal_text,
        deal_json=cfg.model_dump_json(by_alias=True),
    )
    return Contents(data, coords, meta)


def build_dataset(cfg: DealConfig, res: RunResult, seed: int, deal_text: str = "") -> xr.Dataset:
    """The output of :func:`simrisk.engine.run` as a Dataset."""
    return run_contents(cfg, res, seed, deal_text).dataset()


def write_contents(contents: Contents, path: str | Path, overwrite: bool = False) -> Path:
    """Write a run's results to NetCDF without xarray (:mod:`simrisk.netcdf`), atomically."""
    return atomic_write(path, lambda p: netcdf.write(contents, p), overwrite=overwrite)


def write_netcdf(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write a Dataset to NetCDF, atomically."""
    return atomic_write(path, lambda p: ds.to_netcdf(p, engine="netcdf4"), overwrite=overwrite)


ZARR_THRESHOLD = 2 * 1024**3
"""Datasets larger than this (bytes) go to Zarr when the format is left to simrisk."""


def write_zarr(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write a Zarr store (v2 with consolidated metadata: widely read), atomically."""

    def write(tmp: Path) -> None:
        ds.to_zarr(tmp, mode="w", zarr_format=2)

    return atomic_write(path, write, overwrite=overwrite, directory=True)


def target_paths(path: str | Path, fmt: str = "auto") -> list[Path]:
    """The paths a result may be written to: the Zarr store for ``fmt="zarr"`` or a
    ``.zarr`` path; the NetCDF file for ``netcdf``; for ``auto`` both the file and the
    store it becomes if the result is too large for NetCDF."""
    path = Path(path)
    zarr = path if path.suffix == ".zarr" else path.with_suffix(".zarr")
    if fmt == "zarr" or path.suffix == ".zarr":
        return [zarr]
    return [path] if fmt == "netcdf" else [path, zarr]


def zarr_asked(path: str | Path, fmt: str = "auto") -> bool:
    """Whether a Zarr store is asked for: ``--format zarr``, or a ``.zarr`` path with the
    format left to simrisk (``--format netcdf`` writes NetCDF whatever the name)."""
    return fmt == "zarr" or (fmt == "auto" and Path(path).suffix == ".zarr")


def write_results(
    ds: xr.Dataset, path: str | Path, overwrite: bool = False, fmt: str = "auto"
) -> Path:
    """NetCDF or Zarr: Zarr when asked (``fmt="zarr"`` or a ``.zarr`` path), NetCDF when
    asked, else by size (Zarr above ZARR_THRESHOLD bytes, where zarr is installed)."""
    path = Path(path)
    asked = zarr_asked(path, fmt)
    # a large result left to simrisk goes to Zarr where zarr is installed; NetCDF-4 holds
    # it too where it is not
    large = fmt == "auto" and ds.nbytes > ZARR_THRESHOLD and find_spec("zarr") is not None
    use_zarr = asked or large
    if use_zarr:
        if path.suffix != ".zarr":
            path = path.with_suffix(".zarr")
        return write_zarr(ds, path, overwrite)
    return write_netcdf(ds, path, overwrite)


KIND_NAMES = {
    "run": "results file of 'simrisk run'",
    "stress": "stress file of 'simrisk stress'",
    "sensitivity": "sensitivity file of 'simrisk sensitivity'",
    "sweep": "sweep file of 'simrisk sweep'",
    "portfolio": "portfolio file of 'simrisk portfolio'",
    "solve": "solve file of 'simrisk solve'",
    "check": "check file of 'simrisk check'",
    "acceptability": "acceptability file of 'simrisk acceptability'",
    "region": "region file of 'simrisk region'",
    "voi": "value-of-information file of 'simrisk voi'",
}


def what_file(kind: str | None) -> str:
    """A file of ``kind`` in words, with its article: "an acceptability file of 'simrisk
    acceptability'", or "not a simrisk file"."""
    if kind not in KIND_NAMES:
        return "not a simrisk file"
    name = KIND_NAMES[kind]
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


REQUIRED = (
    "investor_irr",
    "investor_irr_status",
    "investor_profit",
    "investor_moic",
    "investor_npv",
    "programme_cost",
    "payments_total",
    "savings_true",
    "savings_measured",
    "municipal_net",
    "public_net",
    "deadweight_share",
    "overpayment_share",
)
"""Variables every results file of 'simrisk run' has (and that summary reads)."""


def file_kind(ds: xr.Dataset) -> str:
    """``run``, ``stress``, ``sensitivity``, ``sweep``, ``portfolio``, or ``unknown``."""
    kind = ds.attrs.get("kind")
    if kind in KIND_NAMES:
        return str(kind)
    dims = set(ds.dims)
    if "variant" in dims:
        return "portfolio"
    if "deal" in dims:
        return "sweep"
    if "stress" in dims:
        return "stress"
    if "output" in dims:
        return "sensitivity"
    if "scenario" in dims:
        return "run"
    return "unknown"


def load_netcdf(path: str | Path) -> xr.Dataset:
    """A NetCDF file in memory; ValueError (one line) if it is missing or unreadable."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return xr.load_dataset(path, engine="netcdf4")
    except Exception as exc:  # netCDF4 raises OSError/ValueError/RuntimeError variants
        raise ValueError(f"{path}: not a readable NetCDF file ({exc})") from None


def open_results(path: str | Path, need: tuple[str, ...] = REQUIRED) -> xr.Dataset:
    """Open a results file written by ``simrisk run``; ValueError, one line, for any other
    file: another kind of simrisk file, a foreign or partial NetCDF file."""
    ds = load_netcdf(path)
    kind = file_kind(ds)
    if kind != "run":
        raise ValueError(f"{path}: {what_file(kind)}, not the results of 'simrisk run'")
    missing = [v for v in need if v not in ds]
    if missing:
        raise ValueError(
            f"{path}: not a complete simrisk results file (no {', '.join(missing[:4])}"
            + (" ..." if len(missing) > 4 else "")
            + ")"
        )
    return ds
