"""Sensitivity analysis: Sobol indices, tornado swings and the variance split.

* **Sobol** (Saltelli's design): matrices A and B of parameter points from one
  scrambled Sobol sequence, and A with column i taken from B for each parameter.
  Row j of every matrix runs on the same cohort streams (scenario j), so the
  indices measure the parameters' share of the variance with the cohort held
  fixed. First order: Saltelli (2010); total: Jansen (1999). Intervals: a
  percentile bootstrap over rows.
* **Tornado**: every parameter at its median but one, set to its 10th and 90th
  percentile, on common random numbers; the swing of each output's mean.
* **Variance split** (nested runs): M parameter draws, each with R cohort
  realisations; total variance = variance of the conditional means (parameter
  uncertainty) + mean conditional variance (the cohort's own randomness).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.stats import qmc

from simrisk import engine
from simrisk.config import ConfigError, DealConfig
from simrisk.config.contract import measures
from simrisk.labels import input_label
from simrisk.metrics import derived
from simrisk.outputs import METRICS, provenance
from simrisk.sampling import Sampler
from simrisk.tables import Table, fmt

OUTPUTS = {
    "investor_irr": "investor IRR (an undefined IRR counts as -100 % for a loss, else as the "
    "highest defined IRR)",
    "investor_moic": "investor multiple",
    "investor_loss": "investor loss (indicator: its mean is P(loss))",
    "municipal_net": "municipal net budget effect",
}


def output_values(metrics: dict, names) -> dict[str, np.ndarray]:
    return {name: derived(metrics, name) for name in names}


def check(cfg: DealConfig, outputs) -> list[str]:
    problems = []
    if not cfg.uncertainty.parameters and cfg.uncertainty.posterior is None:
        problems.append("uncertainty.parameters: the deal has no uncertain parameters to analyse")
    for o in outputs:
        if o not in OUTPUTS and o not in METRICS:
            problems.append(f"--output-metric: unknown output '{o}' (known: {', '.join(OUTPUTS)})")
        elif o == "savings_measured" and not measures(cfg.contract.mechanisms):
            problems.append(
                "--output-metric: 'savings_measured': no payment of this contract rests on a "
                "measurement, so the deal has no measured savings"
            )
    return problems


def sobol(cfg: DealConfig, n: int, seed: int, outputs, n_boot: int = 200, progress=None):
    """First-order and total Sobol indices with bootstrap intervals.

    Returns dict of arrays (output, parameter): first, total, first_lo/hi, total_lo/hi;
    and the number of model runs.
    """
    sampler = Sampler(cfg, seed, n)
    d = sampler.dims
    pts = qmc.Sobol(2 * d, scramble=True, seed=np.random.default_rng(seed)).random(n)
    A, B = sampler.values(pts[:, :d]), sampler.values(pts[:, d:])

    def run(table):
        return output_values(
            engine.run(cfg, seed, n, draws=table, progress=progress, weekly=False).metrics, outputs
        )

    fA, fB = run(A), run(B)
    fAB = []
    for _, cols in sampler.inputs:  # a posterior's parameters move together
        ABi = A.copy()
        ABi[:, cols] = B[:, cols]
        fAB.append(run(ABi))
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, n, size=(n_boot, n))
    res = {
        k: np.zeros((len(outputs), d))
        for k in ("first", "total", "first_lo", "first_hi", "total_lo", "total_hi")
    }
    for o, name in enumerate(outputs):
        a, b = fA[name], fB[name]
        ab = np.stack([f[name] for f in fAB])  # (parameter, n)
        S, T = _indices(a, b, ab, np.arange(n)[None, :])
        Sb, Tb = _indices(a, b, ab, boot)
        res["first"][o], res["total"][o] = S[0], T[0]
        res["first_lo"][o], res["first_hi"][o] = np.nanpercentile(Sb, [2.5, 97.5], axis=0)
        res["total_lo"][o], res["total_hi"][o] = np.nanpercentile(Tb, [2.5, 97.5], axis=0)
    return res, n * (d + 2)


def _indices(a, b, ab, idx):
    """Indices for each row of ``idx`` (resamples), shape (resample, parameter)."""
    A, Bv, AB = a[idx], b[idx], ab[:, idx].transpose(1, 0, 2)  # (r, n), (r, n), (r, d, n)
    both = np.concatenate([A, Bv], axis=1)
    var = np.var(both, axis=1)
    # centring does not change the estimands but lowers the first-order estimator's error
    # when the output's mean is large against its spread
    centre = both.mean(axis=1)
    A, Bv, AB = A - centre[:, None], Bv - centre[:, None], AB - centre[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        first = np.mean(Bv[:, None, :] * (AB - A[:, None, :]), axis=2) / var[:, None]
        total = 0.5 * np.mean((A[:, None, :] - AB) ** 2, axis=2) / var[:, None]
    zero = var == 0
    first[zero], total[zero] = 0.0, 0.0
    return first, total


def tornado(cfg: DealConfig, n: int, seed: int, outputs, progress=None):
    """Mean of each output with one parameter at its 10th / 90th percentile.

    Returns arrays (output, parameter) ``low`` and ``high``, the base means (output,),
    and the percentile values (parameter, 2)."""
    sampler = Sampler(cfg, seed, n)
    d = len(sampler.names)
    med, p10, p90 = (sampler.quantiles(q) for q in (0.5, 0.1, 0.9))

    def mean_at(values):
        table = np.broadcast_to(values, (n, d)).copy()
        m = engine.run(cfg, seed, n, draws=table, progress=progress, weekly=False).metrics
        return {k: float(v.mean()) for k, v in output_values(m, outputs).items()}

    base = mean_at(med)
    low = np.zeros((len(outputs), d))
    high = np.zeros((len(outputs), d))
    for i in range(d):
        for arr, val in ((low, p10), (high, p90)):
            point = med.copy()
            point[i] = val[i]
            got = mean_at(point)
            arr[:, i] = [got[o] for o in outputs]
    return low, high, np.array([base[o] for o in outputs]), np.stack([p10, p90], axis=1)


def variance_split(cfg: DealConfig, outer: int, inner: int, seed: int, outputs, progress=None):
    """Share of each output's variance due to parameters vs the cohort's own randomness.

    Returns arrays (output,): total variance, parameter share, cohort share."""
    sampler = Sampler(cfg, seed, outer)
    draws = np.repeat(sampler.draw(0, outer), inner, axis=0)
    m = engine.run(cfg, seed, outer * inner, draws=draws, progress=progress, weekly=False).metrics
    vals = output_values(m, outputs)
    total, par, coh = [], [], []
    for o in outputs:
        y = vals[o].reshape(outer, inner)
        within = y.var(axis=1, ddof=1).mean()
        between = max(y.mean(axis=1).var(ddof=1) - within / inner, 0.0)
        tot = between + within
        total.append(tot)
        par.append(between / tot if tot > 0 else np.nan)  # no variance to split: n/a
        coh.append(within / tot if tot > 0 else np.nan)
    return np.array(total), np.array(par), np.array(coh)


def build_dataset(cfg, method, outputs, names, res: dict, seed: int, deal_text: str, attrs: dict):
    coords = {
        "output": list(outputs),
        "parameter": list(names),
        "component": ["parameters", "cohort"],
    }
    data = {}
    for key, long_name in res.get("labels", {}).items():
        dims, arr = res[key]
        data[key] = xr.Variable(dims, arr, attrs={"long_name": long_name, "units": "1"})
    ds = xr.Dataset(data, coords=coords)
    dumped = cfg.model_dump(by_alias=True)
    ds["parameter_label"] = xr.Variable(
        ("parameter",),
        [input_label(dumped, str(n)) for n in names],
        attrs={"long_name": "readable name of the uncertain input"},
    )
    ds["output"].attrs["long_name"] = "; ".join(f"{o}: {OUTPUTS.get(o, o)}" for o in outputs)
    ds.attrs = provenance(
        f"sensitivity ({method})",
        cfg.deal.name,
        seed,
        kind="sensitivity",
        method=method,
        deal_file=deal_text,
        **attrs,
    )
    return ds


def require(cfg: DealConfig, outputs) -> None:
    problems = check(cfg, outputs)
    if problems:
        raise ConfigError("sensitivity", problems)


SOBOL_LABELS = {
    "first": "first-order Sobol index",
    "total": "total Sobol index",
    "first_lo": "first-order index, 2.5 % bootstrap",
    "first_hi": "first-order index, 97.5 % bootstrap",
    "total_lo": "total index, 2.5 % bootstrap",
    "total_hi": "total index, 97.5 % bootstrap",
}
TORNADO_LABELS = {
    "tornado_low": "mean with the parameter at its 10th percentile",
    "tornado_high": "mean with the parameter at its 90th percentile",
    "tornado_base": "mean with every parameter at its median",
}


def runs(cfg: DealConfig, method: str, n: int, outer: int, inner: int) -> int:
    """Scenarios simulated by :func:`analyse` (for a progress bar)."""
    d = cfg.uncertainty.n_inputs if method == "sobol" else cfg.uncertainty.n_parameters
    return (n * (d + 2) if method == "sobol" else n * (2 * d + 1)) + outer * inner


def analyse(
    cfg: DealConfig,
    deal_text: str,
    method: str,
    n: int,
    outer: int,
    inner: int,
    outputs: list[str],
    seed: int,
    progress=None,
) -> tuple[xr.Dataset, list[Table]]:
    """Sobol indices or a tornado, and the variance split: the Dataset and its tables."""
    require(cfg, outputs)
    sampler = Sampler(cfg, seed, n)
    # Sobol indices are per independent input (a posterior is one), a tornado per parameter
    names = [name for name, _ in sampler.inputs] if method == "sobol" else sampler.names
    res: dict = {"labels": {}}
    if method == "sobol":
        idx, _ = sobol(cfg, n, seed, outputs, progress=progress)
        for k, label in SOBOL_LABELS.items():
            res[f"sobol_{k}"] = (("output", "parameter"), idx[k])
            res["labels"][f"sobol_{k}"] = label
    else:
        low, high, base, _ = tornado(cfg, n, seed, outputs, progress=progress)
        res["tornado_low"] = (("output", "parameter"), low)
        res["tornado_high"] = (("output", "parameter"), high)
        res["tornado_base"] = (("output",), base)
        res["labels"].update(TORNADO_LABELS)
    total, par, coh = variance_split(cfg, outer, inner, seed, outputs, progress=progress)
    res["variance_total"] = (("output",), total)
    res["variance_share"] = (("output", "component"), np.stack([par, coh], axis=1))
    res["labels"].update(
        {
            "variance_total": "total variance over scenarios",
            "variance_share": "share of variance: parameters vs cohort",
        }
    )
    attrs = {"scenarios": n, "outer": outer, "inner": inner}
    ds = build_dataset(cfg, method, outputs, names, res, seed, deal_text, attrs)
    return ds, tables(ds, cfg.deal.name, method)


OUTPUT_KINDS = {"investor_irr": "pct", "investor_loss": "pct", "investor_moic": "x"}


def output_kind(name: str) -> tuple[str, str]:
    """How an output's values and their changes are shown (:mod:`simrisk.tables` kinds)."""
    kind = OUTPUT_KINDS.get(name) or (
        "mio"
        if METRICS.get(name) and METRICS[name].units == "DKK"
        else "pct"
        if name.endswith("_share")
        else "num"
    )
    change = {"pct": "pp", "mio": "mio_signed"}.get(kind, kind)
    return kind, change


def parameter_labels(ds: xr.Dataset) -> list[str]:
    """The readable names of a sensitivity file's inputs (the paths in older files)."""
    if "parameter_label" in ds:
        return [str(x) for x in ds["parameter_label"].values]
    return [str(p) for p in ds["parameter"].values]


def tables(ds: xr.Dataset, deal_name: str, method: str) -> list[Table]:
    """One table per output: indices or swings, strongest first, and the variance split."""
    names = parameter_labels(ds)
    out = []
    for o, oname in enumerate(ds["output"].values):
        oname = str(oname)
        if method == "sobol":
            t = Table(
                f"{deal_name} — {oname}: {OUTPUTS.get(oname, oname)}",
                [
                    ("parameter", "text"),
                    ("first order [95 % CI]", "text"),
                    ("total [95 % CI]", "text"),
                ],
            )
            for i in np.argsort(-ds["sobol_total"].values[o]):
                f, tot = ds["sobol_first"].values[o, i], ds["sobol_total"].values[o, i]
                t.add(
                    names[i],
                    f"{f:.2f} [{ds['sobol_first_lo'].values[o, i]:.2f}, "
                    f"{ds['sobol_first_hi'].values[o, i]:.2f}]",
                    f"{tot:.2f} [{ds['sobol_total_lo'].values[o, i]:.2f}, "
                    f"{ds['sobol_total_hi'].values[o, i]:.2f}]",
                )
        else:
            kind, change = output_kind(oname)
            base = float(ds["tornado_base"].values[o])
            t = Table(
                f"{deal_name} — {oname}: {OUTPUTS.get(oname, oname)}",
                [
                    ("parameter", "text"),
                    ("mean at its P10", kind),
                    ("mean at its P90", kind),
                    ("swing (P90 - P10)", change),
                ],
            )
            lo, hi = ds["tornado_low"].values[o], ds["tornado_high"].values[o]
            for i in np.argsort(-np.abs(hi - lo)):
                t.add(names[i], float(lo[i]), float(hi[i]), float(hi[i] - lo[i]))
            unit = " (mio. DKK)" if kind == "mio" else ""
            t.notes.append(
                f"the mean{unit} with one input at its 10th or 90th percentile and every other "
                f"at its median; at the medians it is {fmt(base, kind)}"
            )
        share = ds["variance_share"].values[o]
        nested = (
            f" ({ds.attrs['outer']} x {ds.attrs['inner']} nested runs)"
            if "outer" in ds.attrs and "inner" in ds.attrs
            else ""
        )
        t.notes.append(
            f"variance from parameters {100 * share[0]:.0f} %, from the cohort's own "
            f"randomness {100 * share[1]:.0f} %{nested}"
            if np.isfinite(share).all()
            else f"no variance to split between the parameters and the cohort{nested}"
        )
        out.append(t)
    return out
