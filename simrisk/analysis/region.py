"""The terms both sides can sign: the region of two contract terms (or assumptions)
where every stated goal holds.

A grid of values of two terms, every point on the same scenarios and random streams
(common random numbers), each goal's measure at every point (:class:`solve.Goal`), and
from them: where each goal holds, where all do, and the best point by a stated
criterion, the point where the smallest margin over all goals is largest (margins on
one scale: probabilities as they are, a profit per unit of the investor's capital), the
same criterion ``solve`` uses when no value meets every goal. The grid is a map, not a
root search: its resolution is ``points`` per term.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simrisk.analysis.solve import Goal, _scale, evaluator, term_problems
from simrisk.config import ConfigError, DealConfig, get_path, parse_path
from simrisk.labels import label, value_kind
from simrisk.outputs import provenance
from simrisk.tables import Table, fmt

INVESTOR_GOALS = ("p_irr_at_least", "p_investor_loss_at_most", "median_profit_at_least")


def party(g: Goal) -> str:
    """Whose goal it is."""
    return "investor" if g.kind in INVESTOR_GOALS else "municipality"


def require(cfg: DealConfig, paths: list[str], ranges: list[tuple[float, float]], points: int,
            goals: list[Goal]) -> None:  # fmt: skip
    """ConfigError, one line per problem, when the map cannot be drawn: two different
    real-valued terms, ranges the deal accepts, at least 2 points, a goal."""
    problems = []
    if len(paths) != 2 or len(set(paths)) != 2:
        problems.append("--vary: give two different terms, each as PATH=LOW,HIGH")
    else:
        for p, (lo, hi) in zip(paths, ranges, strict=True):
            problems += term_problems(cfg, p, lo, hi, field="--vary")
    if points < 2:
        problems.append("--points: at least 2")
    if not goals:
        problems.append(
            "goals: give at least one of --irr-hurdle, --max-municipal-loss, "
            "--max-investor-loss, --breakeven"
        )
    if problems:
        raise ConfigError("region", problems)


def region(cfg: DealConfig, paths: list[str], ranges: list[tuple[float, float]], points: int,
           goals: list[Goal], n: int, seed: int, deal_text: str = "") -> xr.Dataset:  # fmt: skip
    """Each goal's measure on a ``points`` x ``points`` grid of two terms; kind ``region``."""
    require(cfg, paths, ranges, points, goals)
    axes = [np.linspace(lo, hi, points) for lo, hi in ranges]
    metrics = evaluator(cfg, paths, n, seed)
    value = np.empty((points, points, len(goals)))
    margin = np.empty_like(value)
    for i, a in enumerate(axes[0]):
        for j, b in enumerate(axes[1]):
            value[i, j] = [g.value(m) for m in [metrics(a, b)] for g in goals]
            margin[i, j] = [
                g.margin_of(v) / _scale(g, cfg) for g, v in zip(goals, value[i, j], strict=True)
            ]
    holds = margin >= 0
    worst = margin.min(axis=2)
    bi, bj = np.unravel_index(int(np.argmax(worst)), worst.shape)
    dumped = cfg.model_dump(by_alias=True)
    own = [float(get_path(dumped, parse_path(p))) for p in paths]
    ds = xr.Dataset(
        {
            "goal_value": (("a", "b", "goal"), value, {"long_name": "the goal's measure"}),
            "goal_holds": (("a", "b", "goal"), holds, {"long_name": "the goal holds"}),
            "all_hold": (("a", "b"), holds.all(axis=2), {"long_name": "every goal holds"}),
            "worst_margin": (
                ("a", "b"),
                worst,
                {
                    "long_name": "the smallest margin over the goals (probabilities; a profit "
                    "per unit of capital)"
                },
            ),  # fmt: skip
            "goal_party": (("goal",), [party(g) for g in goals]),
            "goal_level": (("goal",), [g.level for g in goals]),
        },
        coords={"a": axes[0], "b": axes[1], "goal": [g.describe() for g in goals]},
    )
    ds["a"].attrs["long_name"] = f"{paths[0]}: {label(dumped, paths[0])}"
    ds["b"].attrs["long_name"] = f"{paths[1]}: {label(dumped, paths[1])}"
    ds.attrs = provenance(
        "region of terms", cfg.deal.name, seed, kind="region", n_scenarios=int(n),
        vary_a=paths[0], vary_b=paths[1], label_a=label(dumped, paths[0]),
        label_b=label(dumped, paths[1]), kind_a=value_kind(paths[0]),
        kind_b=value_kind(paths[1]), deal_a=own[0], deal_b=own[1],
        best_a=float(axes[0][bi]), best_b=float(axes[1][bj]),
        best_all_hold=int(bool(holds[bi, bj].all())), deal_file=deal_text,
        criterion="the point where the smallest margin over the goals is largest",
        note="every point runs the same scenarios with the same seed (common random numbers)",
    )  # fmt: skip
    return ds


def map_table(ds: xr.Dataset) -> Table:
    """The grid in the terminal: a row per value of the first term, a column per value
    of the second; 'ok' where every goal holds, else whose goals fail."""
    a = ds.attrs
    cols = [("", "text")] + [(fmt(float(b), a["kind_b"]), "text") for b in ds["b"].values]
    t = Table(
        f"{a['deal_name']} — where every goal holds: {a['vary_a']} (rows) x {a['vary_b']} "
        f"(columns), {a['n_scenarios']:,} scenarios at each point, seed {a['seed']}",
        cols,
    )
    parties = [str(p) for p in ds["goal_party"].values]
    holds = ds["goal_holds"].values
    for i, x in enumerate(ds["a"].values):
        row = [fmt(float(x), a["kind_a"])]
        for j in range(ds.sizes["b"]):
            failing = sorted({parties[k] for k in range(len(parties)) if not holds[i, j, k]})
            row.append("ok" if not failing else " + ".join(f[:3] + "." for f in failing))
        t.add(*row)
    goals = "; ".join(f"{g} ({p})" for g, p in zip(ds["goal"].values, parties, strict=True))
    best = (
        f"{a['vary_a']} = {fmt(a['best_a'], a['kind_a'])}, {a['vary_b']} = "
        f"{fmt(a['best_b'], a['kind_b'])}"
    )
    t.notes.append(f"goals: {goals}; inv.: an investor's goal fails there, mun.: the "
                   "municipality's")  # fmt: skip
    t.notes.append(
        f"best point ({a['criterion']}): {best}"
        + ("" if a["best_all_hold"] else " — but not every goal holds there")
    )
    return t


def best_table(ds: xr.Dataset) -> Table:
    """Each goal's measure at the best point and at the deal's own terms' nearest point."""
    a = ds.attrs
    ia = int(np.argmin(np.abs(ds["a"].values - a["deal_a"])))
    ib = int(np.argmin(np.abs(ds["b"].values - a["deal_b"])))
    ba = int(np.argmin(np.abs(ds["a"].values - a["best_a"])))
    bb = int(np.argmin(np.abs(ds["b"].values - a["best_b"])))
    t = Table(
        "each goal at the best point and at the grid point nearest the deal's own terms",
        [("goal", "text"), ("party", "text"), ("at the best point", "text"),
         ("near the deal's terms", "text")],
    )  # fmt: skip
    for k, g in enumerate(ds["goal"].values):
        kind = "mio" if str(g).startswith("median investor profit") else "pct"
        t.add(
            str(g), str(ds["goal_party"].values[k]),
            fmt(float(ds["goal_value"].values[ba, bb, k]), kind),
            fmt(float(ds["goal_value"].values[ia, ib, k]), kind),
        )  # fmt: skip
    return t
