"""A deal's benefits for the scenarios of a chunk: which benefits are paid, their weekly
rates (dated, regulated each 1 January), and what share of a benefit a part-time job
keeps.

The rules are data (``economics.benefits``, ``economics.regulation``); this module
turns them into arrays for the simulation (the benefit axis, the share kept in a
job) and the ledger (rates per week). Everything is vectorised over the chunk's
scenarios, read through :class:`simrisk.sampling.Values` so that any rate or rule
can be uncertain.
"""

from __future__ import annotations

import numpy as np

from simrisk.config import DealConfig
from simrisk.rates import UNIT_TO_WEEK, DatedTable, rate_pairs, regulation_table, week_dates
from simrisk.sampling import Values

STATE_BENEFITS = {
    "education": "education_benefit",
    "permanent": "permanent_benefit",
    "subsidised": "subsidised_benefit",
    "fleksjob": "fleksjob_benefit",
}
"""States with one fixed benefit, and the economics field that names it."""
WEEKS_PER_MONTH = 1.0 / UNIT_TO_WEEK["month"]


def benefit_types(cfg: DealConfig) -> list[str]:
    """The benefits a deal's citizens can receive, in the order of the benefit axis."""
    used = [b for seg in cfg.cohort.segments for b in seg.benefits]
    used += [getattr(cfg.economics, f) for f in STATE_BENEFITS.values()]
    return list(dict.fromkeys(b for b in used if b is not None))


def _years(cfg: DealConfig, horizon: int) -> tuple[int, int]:
    dates = week_dates(cfg.deal.start_date, horizon)
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    points = [r.valid_from.year for b in cfg.economics.benefits.values() for r in b.rates]
    return min(int(years[0]), *points), max(int(years[-1]), *points)


def regulation(cfg: DealConfig, v: Values, first: int, last: int, name: str | None = None):
    """Yearly regulation (scenario, year) for ``first .. last``: the shared table with its
    assumed rate, or a benefit's own flat ``indexation``."""
    own = cfg.economics.benefits[name].indexation if name is not None else None
    if own is not None:
        flat = v("economics", "benefits", name, "indexation")
        return np.repeat(flat[:, None], last - first + 1, axis=1)
    reg = cfg.economics.regulation
    table = {
        y.year: v("economics", "regulation", "years", i, "rate") for i, y in enumerate(reg.years)
    }
    return regulation_table(table, v("economics", "regulation", "assumed"), first, last)


def pairs(cfg: DealConfig, v: Values, name: str, horizon: int) -> tuple:
    """A benefit's weekly amount per (rate point, year) pair and each week's pair
    (:func:`simrisk.rates.rate_pairs`)."""
    ben = cfg.economics.benefits[name]
    first, last = _years(cfg, horizon)
    vals = np.stack(
        [v("economics", "benefits", name, "rates", k, "value") for k in range(len(ben.rates))], 1
    )
    return rate_pairs(
        vals,
        [r.valid_from for r in ben.rates],
        ben.unit,
        regulation(cfg, v, first, last, name),
        first,
        cfg.deal.start_date,
        horizon,
    )


def weekly(cfg: DealConfig, v: Values, name: str, horizon: int) -> np.ndarray:
    """A benefit's rate per citizen-week, float64 (scenario, week)."""
    amounts, week_pair = pairs(cfg, v, name, horizon)
    return np.broadcast_to(amounts[:, week_pair], (v.n, horizon))


def rate_table(cfg: DealConfig, btypes: list[str], v: Values, horizon: int) -> DatedTable:
    """Every benefit's weekly rate (column = benefit)."""
    return DatedTable.stack([pairs(cfg, v, name, horizon) for name in btypes])


def wage_pairs(cfg: DealConfig, v: Values, horizon: int) -> tuple:
    """The gross full-time wage per week, regulated like the benefits from the deal's
    start year (an assumption: wages grow with the regulation), per (year) pair and each
    week's pair."""
    first, last = _years(cfg, horizon)
    start = cfg.deal.start_date
    wage = v("labour", "hours", "full_time_wage")[:, None] * UNIT_TO_WEEK["month"]
    return rate_pairs(wage, [start], "week", regulation(cfg, v, first, last), first, start, horizon)


def wage_weekly(cfg: DealConfig, v: Values, horizon: int) -> np.ndarray:
    """The gross full-time wage per week, float64 (scenario, week)."""
    amounts, week_pair = wage_pairs(cfg, v, horizon)
    return np.broadcast_to(amounts[:, week_pair], (v.n, horizon))


HOURS_PER_MONTH = 37.0 * WEEKS_PER_MONTH
"""Hours a month of a full-time job (37 hours a week, the agreed full-time week)."""
DISREGARD_HOURS = 160.0
"""The most hours a month an hourly earnings disregard counts (LAS § 31 stk. 1)."""


def earnings_rules(cfg: DealConfig, name: str) -> list[tuple]:
    """A benefit's earnings rules in order (its own, then its ``earnings_changes``):
    ``(ceiling, path, fields)``, the ceiling benefit and the prefix and field names
    (disregard, per hour, deduction, ceiling share, limit, deduction above it) under which
    :class:`~simrisk.sampling.Values` reads the rule; :func:`rule_weeks` says when each
    is in force."""
    ben = cfg.economics.benefits[name]
    base = ("economics", "benefits", name)
    fields = ("disregard", "disregard_per_hour", "deduction", "ceiling_share", "limit",
              "deduction_above")  # fmt: skip
    rules = [(ben.earnings_ceiling, base, tuple(f"earnings_{f}" for f in fields))]
    for k, rule in enumerate(ben.earnings_changes):
        rules.append((rule.ceiling, (*base, "earnings_changes", k), fields))
    return rules


def rule_weeks(cfg: DealConfig, name: str, horizon: int) -> np.ndarray:
    """The earnings rule in force in each week (the index in :func:`earnings_rules`):
    the last whose date is on or before the week's first day, int64 (week,)."""
    dates = [
        np.datetime64(r.valid_from, "D") for r in cfg.economics.benefits[name].earnings_changes
    ]
    weeks = week_dates(cfg.deal.start_date, horizon)
    return np.searchsorted(np.array(dates, "datetime64[D]"), weeks, side="right").astype(np.int64)


def kept_shares(
    cfg: DealConfig, btypes: list[str], v: Values, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Share of each benefit a job started from it keeps, by earnings rule, full-time
    (0) and part-time (1), float64 (scenario, benefit, rule, 2), each rule at the rates
    and the (regulated) wage of the first week it is in force; and the rule in force in
    each week, int64 (benefit, week) (:func:`rule_weeks`; 0 for a benefit with one
    rule).

    ``none``: nothing. ``hours``: the hours not worked. ``earnings``: the benefit less
    the rule's deduction of the counted earnings above its disregard (a month, plus the
    hourly disregard for the hours worked, at most :data:`DISREGARD_HOURS`) and up to
    its limit, less its deduction above the limit of the counted earnings beyond it, and
    at most what brings benefit and counted earnings to the rule's ceiling share of the
    rate of its ceiling benefit (the krone-for-krone zone); at least nothing. Without a
    wage (``labour.hours.full_time_wage`` 0) a job ends an earnings-tested benefit, and
    a full-time job one that says ``full_time_job_ends``."""
    rules = {
        name: earnings_rules(cfg, name) if cfg.economics.benefits[name].partial == "earnings"
        else [None]
        for name in btypes
    }  # fmt: skip
    R = max(len(r) for r in rules.values()) if btypes else 1
    out = np.zeros((v.n, len(btypes), R, 2))
    in_force = np.zeros((len(btypes), horizon), np.int64)
    hours = np.stack([np.ones(v.n), v("labour", "hours", "part_time_hours")], axis=1)
    weekly_wage = wage_weekly(cfg, v, horizon)
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = np.where(weekly_wage[:, :1] > 0, weekly_wage / weekly_wage[:, :1], 1.0)
    for b, name in enumerate(btypes):
        ben = cfg.economics.benefits[name]
        if ben.partial == "hours":
            out[:, b, 0, :] = 1.0 - hours
        if ben.partial != "earnings":
            continue
        in_force[b] = rule_weeks(cfg, name, horizon)
        rates = weekly(cfg, v, name, horizon) * WEEKS_PER_MONTH
        counted = v("economics", "benefits", name, "earnings_counted")
        for r, (ceiling, path, fields) in enumerate(rules[name]):
            week = min(int(np.searchsorted(in_force[b], r)), horizon - 1)
            # the wage at the rule's first week: regulated like the rates since the start
            wage = v("labour", "hours", "full_time_wage") * growth[:, week] * counted
            earned = hours * wage[:, None]
            disregard, per_hour, deduction, share = (v(*path, f)[:, None] for f in fields[:4])
            limit = v.optional(*path, fields[4])[:, None]  # inf: no limit
            above = v(*path, fields[5])[:, None]
            disregard = disregard + per_hour * np.minimum(hours * HOURS_PER_MONTH, DISREGARD_HOURS)
            monthly = rates[:, week][:, None]
            kept = (
                monthly
                - deduction * np.maximum(np.minimum(earned, limit) - disregard, 0)
                - above * np.maximum(earned - np.maximum(limit, disregard), 0)
            )
            if ceiling is not None:
                cap = weekly(cfg, v, ceiling, horizon)[:, week][:, None] * WEEKS_PER_MONTH
                kept = np.minimum(kept, share * cap - earned)
            kept = np.where(wage[:, None] > 0, kept, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, b, r, :] = np.where(monthly > 0, np.clip(kept / monthly, 0, 1), 0)
        if ben.full_time_job_ends:
            out[:, b, :, 0] = 0.0
    return out, in_force
