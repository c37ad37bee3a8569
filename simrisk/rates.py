"""Dated rate tables and the refusion staircase, resolved to weekly arrays.

A legal amount is a step function of the date: each value is in force from its
date, at its year's level, and is regulated every 1 January by the year's
regulation (satsregulering): the published rate for the years that have one, an
assumed rate after them. Everything is resolved here, before simulation;
kernels never see a date.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

from simrisk.vocabulary import WEEKS_PER_YEAR

UNIT_TO_WEEK = {"week": 1.0, "month": 12.0 / WEEKS_PER_YEAR, "year": 1.0 / WEEKS_PER_YEAR}


def week_dates(start: dt.date, horizon: int) -> np.ndarray:
    """First day of each simulated week, ``datetime64[D]`` of shape (week,)."""
    return np.datetime64(start, "D") + 7 * np.arange(horizon)


def yearly_index(rates_by_year: np.ndarray, first_year: int, years: np.ndarray) -> np.ndarray:
    """Cumulative regulation index at ``years``: ``prod(1 + r_k)`` over the years
    ``first_year < k <= year`` (a regulation of year ``k`` takes effect on 1 January of
    ``k``); shape (scenario, len(years)).

    Parameters
    ----------
    rates_by_year : float64 (scenario, year), the regulation of ``first_year + j``
    years : int64 (n,), calendar years within the table
    """
    growth = np.cumprod(1.0 + rates_by_year, axis=1) / (1.0 + rates_by_year[:, :1])
    return growth[:, np.asarray(years) - first_year]


@dataclass
class DatedTable:
    """Weekly amounts of several columns (benefits, or the parts of a tax) that change
    only with a few (rate point, year) pairs: each pair's amount once and, for every
    week, the pair in force.

    amounts : float64 (scenario, column, pair), or (1, column, pair) when no scenario's
        amounts differ
    week_pair : int64 (column, week)
    """

    amounts: np.ndarray
    week_pair: np.ndarray

    def dense(self) -> np.ndarray:
        """The amounts week by week, float64 (scenario or 1, week, column)."""
        rows, C, _ = self.amounts.shape
        out = np.empty((rows, self.week_pair.shape[1], C))
        for c in range(C):
            out[:, :, c] = self.amounts[:, c, self.week_pair[c]]
        return out

    @classmethod
    def weekly(cls, amounts: np.ndarray) -> DatedTable:
        """A table of amounts given week by week, float64 (scenario or 1, week, column):
        every week its own pair."""
        rows, H, C = amounts.shape
        return cls(np.ascontiguousarray(amounts.transpose(0, 2, 1)), np.tile(np.arange(H), (C, 1)))

    @classmethod
    def stack(cls, columns: list[tuple[np.ndarray, np.ndarray]]) -> DatedTable:
        """A table of columns ``(amounts (scenario or 1, pair), week_pair (week,))``."""
        rows = max(a.shape[0] for a, _ in columns)
        width = max(a.shape[1] for a, _ in columns)
        amounts = np.zeros((rows, len(columns), width))
        for c, (a, _) in enumerate(columns):
            amounts[:, c, : a.shape[1]] = a
        return cls(amounts, np.stack([np.asarray(w, np.int64) for _, w in columns]))


def rate_pairs(
    values: np.ndarray,
    valid_from: list[dt.date],
    unit: str,
    rates_by_year: np.ndarray,
    first_year: int,
    start: dt.date,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A benefit's amount per citizen-week, for each (rate point, year) pair that occurs
    in the horizon, and the pair in force in each week.

    The rate in force at a date is the last point dated on or before it, regulated from
    that point's year to the date's year; before the first point, the first point's
    rate regulated back (deflated) to the date's year.

    Parameters
    ----------
    values : float64 (scenario, point), the rate at each point (in ``unit``)
    valid_from : the dates the points take effect
    unit : "week", "month" or "year"
    rates_by_year : float64 (scenario, year), yearly regulation from ``first_year`` on,
        covering every year of the points and of the horizon
    start, horizon : the first week's date and the number of weeks

    Returns
    -------
    amounts : float64 (scenario, pair), DKK per citizen-week; (1, pair) when every
        scenario's values and regulation are the same
    week_pair : int64 (week,)
    """
    p_idx, p_year, point_years, week_pair = _pairs_in_force(tuple(valid_from), start, horizon)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    same = np.all(values == values[:1]) and np.all(rates_by_year == rates_by_year[:1])
    r = rates_by_year[:1] if same else rates_by_year
    factor = yearly_index(r, first_year, p_year) / yearly_index(r, first_year, point_years[p_idx])
    amounts = values[: 1 if same else None, p_idx] * factor * UNIT_TO_WEEK[unit]
    return amounts, week_pair.copy()


@functools.lru_cache(maxsize=256)
def _pairs_in_force(valid_from: tuple[dt.date, ...], start: dt.date, horizon: int) -> tuple:
    """The calendar half of :func:`rate_pairs`, the same for every chunk of a run: the
    (rate point, year) pairs that occur (point index, year), the points' years, and each
    week's pair (read only)."""
    dates = week_dates(start, horizon)
    points = np.array([np.datetime64(d, "D") for d in valid_from])
    idx = np.maximum(np.searchsorted(points, dates, side="right") - 1, 0)
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    pairs, week_pair = np.unique(np.stack([idx, years]), axis=1, return_inverse=True)
    out = (*pairs, np.array([d.year for d in valid_from]), week_pair.reshape(-1).astype(np.int64))
    for a in out:
        a.flags.writeable = False
    return out


def weekly_rates(
    values: np.ndarray,
    valid_from: list[dt.date],
    unit: str,
    rates_by_year: np.ndarray,
    first_year: int,
    start: dt.date,
    horizon: int,
) -> np.ndarray:
    """A benefit's amount per citizen-week, float64 (scenario, week): the amounts of
    :func:`rate_pairs` spread over their weeks (the same numbers as computed week by
    week)."""
    amounts, week_pair = rate_pairs(
        values, valid_from, unit, rates_by_year, first_year, start, horizon
    )
    n = np.atleast_2d(values).shape[0]
    out = amounts[:, week_pair]
    return np.broadcast_to(out, (n, horizon)) if out.shape[0] < n else out


def regulation_table(
    table: dict[int, np.ndarray], assumed: np.ndarray, first_year: int, last_year: int
) -> np.ndarray:
    """Yearly regulation (scenario, year) for ``first_year .. last_year``: the published
    rate where the table has one, else the assumed rate."""
    n = assumed.shape[0]
    out = np.empty((n, last_year - first_year + 1))
    for j, y in enumerate(range(first_year, last_year + 1)):
        out[:, j] = table[y] if y in table else assumed
    return out


def refusion_starts(from_weeks: list[int]) -> np.ndarray:
    """Cumulative benefit weeks *before* the week at which each step starts.

    A step ``from_week = 5`` applies to a citizen's 5th benefit week, i.e. when
    4 weeks have already been counted.
    """
    return np.asarray(from_weeks, dtype=np.int64) - 1


def settlement_periods(start: dt.date, horizon: int, settlement: str) -> tuple:
    """Settlement period of each week and the week at which each period is paid.

    A week belongs to the period of its first day; a period is paid in its last week.

    Returns
    -------
    period : ndarray of int64, shape (week,), 0-based
    pay_week : ndarray of int64, shape (period,)
    """
    dates = week_dates(start, horizon)
    months = dates.astype("datetime64[M]").astype(int)
    months = months - months[0]
    if settlement == "month":
        period = months
    elif settlement == "quarter":
        first = (start.month - 1) % 3
        period = (months + first) // 3
    elif settlement == "year":
        first = start.month - 1
        period = (months + first) // 12
    else:
        raise ValueError(f"unknown settlement period '{settlement}'")
    n = int(period[-1]) + 1
    pay_week = np.zeros(n, dtype=np.int64)
    np.maximum.at(pay_week, period, np.arange(horizon))
    return period.astype(np.int64), pay_week
