"""Deal structuring: the range of one term (or assumption) that meets stated goals.

Each goal is a function of one deal value x (a contract term such as a savings
share or cap, or an assumption such as the programme effect), estimated on the
same scenarios and random streams at every x (common random numbers), so it is
a deterministic function of x. For each goal the crossing point is found with a
bracketing root finder (Brent); the goals' intervals are intersected. When no x
meets every goal, the x where the worst shortfall is smallest is reported with
its figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy import optimize

from simrisk import engine, finance, simulation
from simrisk.config import (
    ConfigError,
    DealConfig,
    get_path,
    is_real,
    parse_path,
    rejection,
    scenario_independent,
)
from simrisk.config.paths import not_real
from simrisk.contracts import compute_baseline
from simrisk.labels import value_kind
from simrisk.metrics import derived
from simrisk.outputs import provenance
from simrisk.sampling import Adjustment
from simrisk.tables import fmt, fmt_bound
from simrisk.vocabulary import BASELINE_READINGS

GOAL_KINDS = {
    "p_irr_at_least": "P(investor IRR >= hurdle) >= level",
    "p_municipal_loss_at_most": "P(municipal net < 0) <= level",
    "median_profit_at_least": "median investor profit >= level (DKK)",
    "p_investor_loss_at_most": "P(investor loss) <= level",
}


@dataclass
class Goal:
    kind: str
    level: float
    hurdle: float = 0.0

    def describe(self) -> str:
        """The goal in words, its level in its unit (a probability as a percentage)."""
        if self.kind == "p_irr_at_least":
            return f"P(IRR ≥ {100 * self.hurdle:g} %) ≥ {100 * self.level:g} %"
        if self.kind == "median_profit_at_least":
            return f"median investor profit ≥ {fmt(self.level, 'dkk')} DKK"
        text = GOAL_KINDS[self.kind].replace(">=", "≥").replace("<=", "≤")
        return text.replace("level", f"{100 * self.level:g} %")

    def value(self, m: dict) -> float:
        if self.kind == "p_irr_at_least":
            ranked = finance.irr_ranked(m["investor_irr"], m["investor_profit"])
            return float((ranked >= self.hurdle).mean())
        if self.kind == "p_municipal_loss_at_most":
            return float(derived(m, "municipal_loss").mean())
        if self.kind == "median_profit_at_least":
            return float(np.median(m["investor_profit"]))
        return float(derived(m, "investor_loss").mean())

    def margin(self, m: dict) -> float:
        """>= 0 when the goal holds."""
        return self.margin_of(self.value(m))

    def margin_of(self, v: float) -> float:
        """The margin of the goal's measure ``v`` (:meth:`value`): >= 0 when it holds."""
        return self.level - v if self.kind.endswith("at_most") else v - self.level


@dataclass
class Solution:
    path: str
    low: float
    high: float
    crossings: list[float | None]
    feasible: tuple[float, float] | None
    best: float
    best_values: list[float]
    evaluations: int
    notes: list[str] = field(default_factory=list)
    sides: list[str] = field(default_factory=list)
    """Per goal where it holds: ``above`` (x >= its crossing), ``below`` (x <= it),
    ``everywhere`` (at both ends of the range: taken to hold between them) or ``nowhere``
    (at neither end). A goal is taken to change sides at most once in the range."""
    evaluated: dict[float, list[float]] = field(default_factory=dict)
    """Every x evaluated, with each goal's value there."""


EVALUATIONS_PER_CROSSING = 15
"""Values Brent's method typically tries to find one goal's crossing, for the time
estimate before a solve starts (Holbæk, its rate card's per-citizen cap in [10,000,
200,000], 300 scenarios: 10 for the break-even, 19 for a 3 % IRR hurdle)."""


def expected_evaluations(goals: list[Goal]) -> int:
    """Roughly how many values a solve tries: the two ends of the range, and a search
    for every goal (the fallback grid of 21, when no value meets every goal, is not
    counted: it is not known in advance)."""
    return 2 + EVALUATIONS_PER_CROSSING * len(goals)


def term_problems(
    cfg: DealConfig, path: str, low: float, high: float, field: str = "--range"
) -> list[str]:
    """Why ``path`` cannot be varied over [low, high] (one line each), or nothing: a
    path that is not a real-valued term of the deal, or an end of the range that the deal
    would refuse (``cohort.uptake`` above 1, a negative tariff); ``field``: the option
    that gives the range."""
    try:
        p = parse_path(path)
    except ValueError as exc:  # a wildcard or a malformed index
        return [f"--vary: {exc} (give one field)"]
    dumped = cfg.model_dump(by_alias=True)
    real = is_real(dumped, p)
    try:
        unset = not real and get_path(dumped, p) is None
    except KeyError:
        unset = False
    problems = []
    if scenario_independent(p):
        problems.append(f"--vary: {scenario_independent(p)}")
    elif unset:
        problems.append(f"--vary: '{path}' is not set in the deal; give it a value to vary it")
    elif not real:
        problems.append(f"--vary: {not_real(path, dumped)}")
    if not high > low:
        problems.append(f"{field}: the upper end must be above the lower end")
    elif real:
        # the deal's own rules for the term, at both ends (its bounds hold between them)
        for end, x in (("lower", low), ("upper", high)):
            why = rejection(dumped, p, x)
            if why is not None:
                problems.append(f"{field}: the {end} end {x:g} is not a value of {path}: {why}")
    return problems


EVALUATED = ("investor_irr", "investor_profit", "municipal_net")
"""The per-scenario metrics the goals and the acceptability curves read: an evaluation
gives only these."""


def evaluator(cfg: DealConfig, path: str | list[str], n: int, seed: int):
    """``metrics(x, ...)``: the per-scenario metrics :data:`EVALUATED` of the deal with
    ``path`` (or each of several paths) set to x, on the same scenarios and random
    streams at every value (common random numbers; a baseline measurement keeps the
    deal's own baseline). Nothing is kept between calls: solve, acceptability and region
    keep of every value tried only what they measure of it, so that they hold the
    metrics of one run at a time."""
    paths = [parse_path(q) for q in ([path] if isinstance(path, str) else path)]
    baseline = None
    if cfg.contract.measurement in BASELINE_READINGS:
        baseline = compute_baseline(cfg, simulation.build_structure(cfg))

    def metrics(*xs: float) -> dict:
        adj = [Adjustment(q, "set", float(x)) for q, x in zip(paths, xs, strict=True)]
        run = engine.run(cfg, seed, n, adjust=adj, baseline=baseline, weekly=False)
        return {k: run.metrics[k] for k in EVALUATED}

    return metrics


def require(cfg: DealConfig, path: str, low: float, high: float, goals: list[Goal]) -> None:
    """ConfigError, one line per problem, when the search cannot start: the term and its
    range (:func:`term_problems`), and a goal."""
    problems = term_problems(cfg, path, low, high)
    if not goals:
        problems.append("goals: give at least one goal")
    if problems:
        raise ConfigError("solve", problems)


def solve(
    cfg: DealConfig,
    path: str,
    low: float,
    high: float,
    goals: list[Goal],
    n: int,
    seed: int,
    xtol: float | None = None,
) -> Solution:
    """Find where each goal holds for x in [low, high] and the interval where all do."""
    require(cfg, path, low, high, goals)
    run_at = evaluator(cfg, path, n, seed)
    # of every value tried only the goals' measures are kept (a value tried again, as
    # Brent's method and the grid below may, is not run again): a solve holds the
    # metrics of one run at a time, however many values it tries
    measured: dict[float, list[float]] = {}

    def values(x: float) -> list[float]:
        x = float(x)
        if x not in measured:
            m = run_at(x)
            measured[x] = [g.value(m) for g in goals]
        return measured[x]

    def margin(i: int, x: float) -> float:
        return goals[i].margin_of(values(x)[i])

    xtol = xtol if xtol is not None else 1e-4 * (high - low)
    crossings: list[float | None] = []
    intervals = []
    notes = []
    sides = []
    for i, g in enumerate(goals):
        m_lo, m_hi = margin(i, low), margin(i, high)
        if m_lo >= 0 and m_hi >= 0:
            crossings.append(None)
            intervals.append((low, high))
            sides.append("everywhere")
        elif m_lo < 0 and m_hi < 0:
            crossings.append(None)
            intervals.append(None)
            sides.append("nowhere")
            kind = value_kind(path)
            notes.append(
                f"{g.describe()}: not met anywhere in [{fmt(low, kind)}, {fmt(high, kind)}]"
            )
        else:
            sides.append("above" if m_hi >= 0 else "below")
            x = optimize.brentq(lambda x, i=i: _side(margin(i, x)), low, high, xtol=xtol)
            # the goal holds on the side whose end holds; step to the side that holds
            x = x if margin(i, x) >= 0 else (x + xtol if m_hi >= 0 else x - xtol)
            crossings.append(float(x))
            intervals.append((x, high) if m_hi >= 0 else (low, x))
    feasible = None
    if all(iv is not None for iv in intervals):
        lo = max(iv[0] for iv in intervals)
        hi = min(iv[1] for iv in intervals)
        if lo <= hi:
            feasible = (float(lo), float(hi))
    if feasible is not None:
        best = feasible[0]
    else:
        grid = np.linspace(low, high, 21)
        # shortfalls on one scale: probabilities as they are, profits per unit of capital
        worst = [min(margin(i, x) / _scale(g, cfg) for i, g in enumerate(goals)) for x in grid]
        best = float(grid[int(np.argmax(worst))])
        notes.append("no value meets every goal; 'best' is where the worst shortfall is smallest")
    best_values = values(best)
    evaluated = dict(sorted(measured.items()))
    return Solution(
        path, low, high, crossings, feasible, best, best_values, len(measured), notes, sides,
        evaluated,
    )  # fmt: skip


def goal_kind(g: Goal) -> str:
    """How a goal's value is shown: a probability as a percentage, a profit in mio. DKK."""
    return "mio" if g.kind == "median_profit_at_least" else "pct"


def holds_text(name: str, side: str, crossing: float | None, low, high, kind: str) -> str:
    """Where one goal holds, in words: ``share ≥ 42.3 %`` (the shown value rounded to the
    side where the goal holds), or at both or neither end of the range searched."""
    if side == "above":
        return f"{name} ≥ {fmt_bound(crossing, kind, up=True)}"
    if side == "below":
        return f"{name} ≤ {fmt_bound(crossing, kind, up=False)}"
    ends = f"[{fmt(low, kind)}, {fmt(high, kind)}]"
    if side == "everywhere":
        return f"both ends of {ends}"
    return f"neither end of {ends}"


def build_dataset(cfg: DealConfig, sol: Solution, goals: list[Goal], n: int, seed: int,
                  deal_text: str) -> xr.Dataset:  # fmt: skip
    """Every evaluation (x and each goal's value there) and the answer, for ``-o``."""
    xs = list(sol.evaluated)
    values = np.array([sol.evaluated[x] for x in xs]).reshape(len(xs), len(goals))
    ds = xr.Dataset(
        {
            "goal_value": (("value", "goal"), values, {"long_name": "the goal's measure at x"}),
            "goal_level": (("goal",), [g.level for g in goals], {"long_name": "the goal's level"}),
            "goal_holds": (
                ("goal",),
                [s for s in sol.sides],
                {
                    "long_name": "where the goal holds: above or below its crossing, everywhere, "
                    "nowhere"
                },
            ),  # fmt: skip
            "crossing": (
                ("goal",),
                [np.nan if c is None else c for c in sol.crossings],
                {"long_name": "value of the term where the goal starts or stops holding"},
            ),
        },
        coords={"value": xs, "goal": [g.describe() for g in goals]},
    )
    ds["value"].attrs["long_name"] = f"value of {sol.path} evaluated"
    ds.attrs = provenance(
        "solve", cfg.deal.name, seed, kind="solve", n_scenarios=int(n), deal_file=deal_text,
        vary=sol.path, range_low=sol.low, range_high=sol.high, best=sol.best,
        feasible_low=np.nan if sol.feasible is None else sol.feasible[0],
        feasible_high=np.nan if sol.feasible is None else sol.feasible[1],
        note="every value runs the same scenarios with the same seed (common random numbers)",
    )  # fmt: skip
    return ds


def _side(margin: float) -> float:
    """The margin, with a goal met exactly (margin 0) counted as met: a probability that
    sits at the level over a range of x would otherwise stop Brent anywhere in that range
    instead of at the end where the goal stops holding."""
    return margin if margin != 0 else float(np.finfo(float).tiny)


def _scale(g: Goal, cfg: DealConfig) -> float:
    return cfg.investor.capital if g.kind == "median_profit_at_least" else 1.0
