"""Acceptability curves: the chance that each party's goal holds, against one term.

The deal analogue of a cost-effectiveness acceptability curve: for values of a
contract term (a tariff, the savings share, a cap) or an assumption, on the same
scenarios and random streams at every value (common random numbers), the probability
that the investor's IRR reaches its hurdle and the probability that the municipality's
net is not negative. Each is a share of scenarios, with its binomial standard error;
on common random numbers the curves move only with the term, not with noise between
values.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simrisk import finance
from simrisk.analysis.solve import evaluator, term_problems
from simrisk.config import ConfigError, DealConfig, get_path, parse_path
from simrisk.labels import label, value_kind
from simrisk.outputs import provenance
from simrisk.tables import Table, fmt


def curves(cfg: DealConfig, path: str, values: np.ndarray, n: int, seed: int,
           hurdle: float) -> dict[str, np.ndarray]:  # fmt: skip
    """P(IRR ≥ hurdle) and P(municipal net ≥ 0) at each value, with standard errors and
    the two parties' median results."""
    metrics = evaluator(cfg, path, n, seed)
    keys = ("p_investor", "p_municipality", "investor_profit_median", "municipal_net_median")
    out = {k: np.empty(len(values)) for k in keys}

    def measure(m: dict) -> tuple[float, ...]:  # m is let go before the next run
        ranked = finance.irr_ranked(m["investor_irr"], m["investor_profit"])
        return (
            float((ranked >= hurdle).mean()),
            float((m["municipal_net"] >= 0).mean()),
            float(finance.quantiles(m["investor_profit"], 0.5)),
            float(finance.quantiles(m["municipal_net"], 0.5)),
        )

    for i, x in enumerate(values):
        for k, v in zip(keys, measure(metrics(float(x))), strict=True):
            out[k][i] = v
    for k in ("p_investor", "p_municipality"):
        p = out[k]
        out[f"{k}_se"] = np.sqrt(p * (1 - p) / n)
    return out


def own_index(values: np.ndarray, own: float) -> int:
    """The index of the value that is the deal's own (-1 if none): the nearest, if it lies
    within a billionth of the range's width of it (so that exactly one point is the
    deal's, however narrow the range)."""
    gap = np.abs(np.asarray(values, dtype=float) - own)
    i = int(np.argmin(gap))
    width = float(np.max(values) - np.min(values))
    return i if gap[i] <= 1e-9 * width else -1


def require(cfg: DealConfig, path: str, low: float, high: float, points: int) -> None:
    """ConfigError, one line per problem, when the curves cannot be drawn."""
    problems = term_problems(cfg, path, low, high)
    if points < 2:
        problems.append("--points: at least 2")
    if problems:
        raise ConfigError("acceptability", problems)


def acceptability(cfg: DealConfig, path: str, low: float, high: float, points: int, n: int,
                  seed: int, hurdle: float | None = None,
                  deal_text: str = "") -> xr.Dataset:  # fmt: skip
    """The curves over ``points`` values from ``low`` to ``high`` (the deal's own value
    added if it lies between), as a Dataset of kind ``acceptability``."""
    require(cfg, path, low, high, points)
    hurdle = cfg.investor.discount_rate if hurdle is None else hurdle
    own = float(get_path(cfg.model_dump(by_alias=True), parse_path(path)))
    values = np.linspace(low, high, points)
    if low < own < high and own_index(values, own) < 0:
        values = np.sort(np.append(values, own))
    res = curves(cfg, path, values, n, seed, hurdle)
    long = {
        "p_investor": f"P(investor IRR >= {100 * hurdle:g} %)",
        "p_municipality": "P(municipal net >= 0)",
        "p_investor_se": "standard error of p_investor (binomial)",
        "p_municipality_se": "standard error of p_municipality (binomial)",
        "investor_profit_median": "median investor profit (DKK)",
        "municipal_net_median": "median municipal net (DKK)",
    }
    ds = xr.Dataset(
        {k: ("value", v, {"long_name": long[k]}) for k, v in res.items()},
        coords={"value": values},
    )
    dumped = cfg.model_dump(by_alias=True)
    ds["value"].attrs["long_name"] = f"{path}: {label(dumped, path)}"
    ds.attrs = provenance(
        "acceptability", cfg.deal.name, seed, kind="acceptability", n_scenarios=int(n),
        vary=path, vary_label=label(dumped, path), value_kind=value_kind(path),
        deal_value=own, hurdle=float(hurdle), deal_file=deal_text,
        note="every value runs the same scenarios with the same seed (common random numbers)",
    )  # fmt: skip
    return ds


def table(ds: xr.Dataset) -> Table:
    """The curves as a table, one row per value (the deal's own marked)."""
    kind = ds.attrs.get("value_kind", "num")
    a = ds.attrs
    t = Table(
        f"{a['deal_name']} — acceptability of {a['vary']} ({a['vary_label']}), "
        f"{a['n_scenarios']:,} scenarios at each value, seed {a['seed']}",
        [
            ("value", "text"),
            (f"P(IRR ≥ {100 * a['hurdle']:g} %)", "pct"),
            ("± SE", "pct"),
            ("P(municipal net ≥ 0)", "pct"),
            ("± SE", "pct"),
            ("investor profit, median (mio.)", "mio"),
            ("municipal net, median (mio.)", "mio"),
        ],
    )
    mine = own_index(ds["value"].values, a["deal_value"])
    for i, x in enumerate(ds["value"].values):
        mark = " (the deal's)" if i == mine else ""
        t.add(
            fmt(float(x), kind) + mark, ds["p_investor"].values[i], ds["p_investor_se"].values[i],
            ds["p_municipality"].values[i], ds["p_municipality_se"].values[i],
            ds["investor_profit_median"].values[i], ds["municipal_net_median"].values[i],
        )  # fmt: skip
    both = np.minimum(ds["p_investor"].values, ds["p_municipality"].values)
    best = int(np.argmax(both))
    t.notes.append(
        f"the value where the less likely of the two goals is most likely: "
        f"{fmt(float(ds['value'].values[best]), kind)} (P = {fmt(float(both[best]), 'pct')} for "
        "the party worse off there); the investor's hurdle is its discount rate unless "
        "--hurdle is given"
    )
    return t
