"""The headline figures of a results file, and a first look at what drives them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from simrisk import finance
from simrisk.labels import label as input_name
from simrisk.outputs import PAYMENT_SHARES_NOTE
from simrisk.tables import UNITS, Table

if TYPE_CHECKING:
    import xarray as xr

    from simrisk.netcdf import Contents

SUMMARY_METRICS = (
    ("investor_irr", "Investor IRR", "pct"),
    ("investor_moic", "Investor MOIC", "x"),
    ("investor_npv", "Investor NPV", "mio"),
    ("programme_cost", "Programme cost", "mio"),
    ("payments_total", "Payments", "mio"),
    ("savings_true", "True savings", "mio"),
    ("savings_measured", "Measured savings", "mio"),
    ("municipal_net", "Municipal net", "mio"),
)


def summary(ds: xr.Dataset | Contents) -> dict:
    """Headline figures: mean, P5, P50, P95 of key metrics and the risk probabilities, of
    a results file or of the contents of one before it is written.

    Quantiles are empirical (:data:`simrisk.finance.risk.QUANTILE_METHOD`); an undefined
    IRR ranks by the investor's profit (:func:`simrisk.finance.irr_ranked`), and the
    IRR's mean counts it as :func:`simrisk.finance.irr_filled` does (-100 % for a loss,
    the highest defined IRR for a gain): leaving the undefined ones out would leave out
    their losses and gains. Measured savings are NaN where no payment of the contract
    rests on a measurement."""
    rows = []
    perspective = ds.attrs.get("perspective", "municipality")
    for name, label, kind in SUMMARY_METRICS:
        if name == "savings_true" and perspective != "municipality":
            # the municipal net stays the municipality's: its savings are not these
            label = f"{label} ({perspective.replace('_', '-')} perspective)"
        x = np.asarray(ds[name].values, dtype=float)
        finite = x[np.isfinite(x)]
        ranked = finite
        if name == "investor_irr":
            ranked = finance.irr_ranked(x, ds["investor_profit"].values)
        if finite.size:
            p5, p50, p95 = finance.quantiles(ranked, [0.05, 0.5, 0.95])
            filled = (
                finance.irr_filled(x, ds["investor_profit"].values)
                if name == "investor_irr"
                else finite
            )
            mean = float(filled.mean())
        else:
            p5 = p50 = p95 = mean = float("nan")
        rows.append(
            {
                "metric": name,
                "label": label,
                "kind": kind,
                "unit": UNITS[kind],
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
        "p_investor_loss": float(np.mean(finance.investor_loss(ds["investor_profit"].values))),
        "p_municipal_net_negative": float(np.mean(net < 0)),
        "p_payments_exceed_public_savings": float(np.mean(ds["public_net"].values < 0)),
        "municipal_var95": float(var95),
        "municipal_cvar95": float(cvar95),
        "mean_deadweight_share": float(np.mean(ds["deadweight_share"].values)),
        "mean_overpayment_share": float(np.mean(ds["overpayment_share"].values)),
        "irr_status_counts": {
            name: int(np.sum(status == code)) for code, name in enumerate(finance.IRR_STATUS_NAMES)
        },
    }


def summary_tables(summ: dict) -> list[Table]:
    """The headline table and the risk lines, for printing."""
    head = Table(
        f"{summ['deal']} — {summ['n_scenarios']:,} scenarios, seed {summ['seed']}",
        [("metric", "text"), ("mean", None), ("P5", None), ("P50", None), ("P95", None)],
    )
    for row in summ["rows"]:
        label = row["label"] + (" (mio. DKK)" if row["kind"] == "mio" else "")
        head.add(label, *((row[k], row["kind"]) for k in ("mean", "p5", "p50", "p95")))
    risk = Table(
        "",
        [("", "text"), ("", None)],
        lines=True,
    )
    risk.add("P(investor loss)", (summ["p_investor_loss"], "pct"))
    risk.add("P(municipal net < 0)", (summ["p_municipal_net_negative"], "pct"))
    risk.add("P(payments > true public savings)", (summ["p_payments_exceed_public_savings"], "pct"))
    risk.add("Municipal VaR 95 % (mio. DKK)", (summ["municipal_var95"], "mio"))
    risk.add("Municipal CVaR 95 % (mio. DKK)", (summ["municipal_cvar95"], "mio"))
    risk.add("Deadweight share of payments (mean)", (summ["mean_deadweight_share"], "pct"))
    risk.add("Overpayment share of payments (mean)", (summ["mean_overpayment_share"], "pct"))
    risk.notes.append(PAYMENT_SHARES_NOTE)
    odd = {k: v for k, v in summ["irr_status_counts"].items() if k != "ok" and v}
    if odd:
        irr = next(r for r in summ["rows"] if r["metric"] == "investor_irr")
        mean = (
            "; the mean counts an undefined IRR as -100 % for a loss and as the highest "
            "defined IRR for a gain"
            if irr["n_defined"] < summ["n_scenarios"]
            else ""
        )
        risk.notes.append(
            "IRR undefined or conventional in: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in odd.items())
            + " (total loss = -100 %; 'undef.' quantiles fall among undefined IRRs, ranked"
            f" by the investor's profit{mean})"
        )
    measured = next(r for r in summ["rows"] if r["metric"] == "savings_measured")
    if not measured["n_defined"]:
        risk.notes.append(
            "measured savings: n/a, no payment of this contract rests on a measurement (a "
            "rate card or an absolute target pays on the programme arm's outcomes)"
        )
    return [head, risk]


DRIVER_METRICS = ("investor_profit", "municipal_net")


def drivers(ds: xr.Dataset, metrics=DRIVER_METRICS) -> list[dict]:
    """Spearman rank correlation of each drawn parameter with key metrics, strongest first.

    A first look at which assumption drives the risk (it mixes in the cohort's own
    randomness; a variance decomposition needs nested runs).
    """
    if ds.sizes.get("parameter", 0) == 0 or ds.sizes["scenario"] < 3:
        return []
    from scipy import stats  # here only: scipy.stats is slow to import

    rows = []
    deal = json.loads(ds.attrs["deal_json"]) if "deal_json" in ds.attrs else {}
    for j, name in enumerate(ds["parameter"].values):
        x = ds["parameters"].values[:, j]
        row = {"parameter": str(name), "label": input_name(deal, str(name)) if deal else str(name)}
        for m in metrics:
            y = ds[m].values
            if np.ptp(x) == 0 or np.ptp(y) == 0:
                row[m] = 0.0
            else:
                row[m] = float(stats.spearmanr(x, y).statistic)
        rows.append(row)
    rows.sort(key=lambda r: -max(abs(r[m]) for m in metrics))
    return rows


def drivers_table(rows: list[dict]) -> Table:
    """The drivers by the inputs' labels (their paths where a row has no label)."""
    t = Table(
        "Drivers (Spearman rank correlation)",
        [("input", "text"), ("investor profit", "corr"), ("municipal net", "corr")],
    )
    for r in rows:
        t.add(r.get("label") or r["parameter"], r["investor_profit"], r["municipal_net"])
    return t
