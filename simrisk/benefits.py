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


def kept_shares(cfg: DealConfig, btypes: list[str], v: Values) -> np.ndarray:
    """Share of each benefit a job started from it keeps, full-time (0) and part-time
    (1), float64 (scenario, benefit, 2), at the rates of the deal's first week.

    ``none``: nothing. ``hours``: the hours not worked. ``earnings``: the benefit less
    ``earnings_deduction`` of the counted earnings above ``earnings_disregard`` (a month),
    and at most what brings benefit and counted earnings to ``earnings_ceiling_share`` of
    the benefit ``earnings_ceiling`` (the krone-for-krone zone); at least nothing. Without
    a wage (``labour.hours.full_time_wage`` 0) a job ends an earnings-tested benefit."""
    out = np.zeros((v.n, len(btypes), 2))
    hours = np.stack([np.ones(v.n), v("labour", "hours", "part_time_hours")], axis=1)
    for b, name in enumerate(btypes):
        ben = cfg.economics.benefits[name]
        base = ("economics", "benefits", name)
        if ben.partial == "hours":
            out[:, b, :] = 1.0 - hours
        elif ben.partial == "earnings":
            monthly = weekly(cfg, v, name, 1)[:, 0] * WEEKS_PER_MONTH
            wage = v("labour", "hours", "full_time_wage") * v(*base, "earnings_counted")
            above = np.maximum(hours * wage[:, None] - v(*base, "earnings_disregard")[:, None], 0)
            kept = monthly[:, None] - v(*base, "earnings_deduction")[:, None] * above
            if ben.earnings_ceiling is not None:
                cap = weekly(cfg, v, ben.earnings_ceiling, 1)[:, 0] * WEEKS_PER_MONTH
                cap = cap * v(*base, "earnings_ceiling_share")
                kept = np.minimum(kept, cap[:, None] - hours * wage[:, None])
            kept = np.where(wage[:, None] > 0, kept, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, b, :] = np.where(
                    monthly[:, None] > 0, np.clip(kept / monthly[:, None], 0, 1), 0
                )
    return out
