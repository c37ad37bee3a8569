"""Dated rate tables and the refusion staircase, resolved to weekly arrays.

A legal amount is a step function of the date: each value is in force from its
date; after the last date it is indexed by ``indexation`` at every 1 January.
Everything is resolved here, before simulation; kernels never see a date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from simrisk.vocabulary import WEEKS_PER_YEAR

UNIT_TO_WEEK = {"week": 1.0, "month": 12.0 / WEEKS_PER_YEAR, "year": 1.0 / WEEKS_PER_YEAR}


def week_dates(start: dt.date, horizon: int) -> np.ndarray:
    """First day of each simulated week, ``datetime64[D]`` of shape (week,)."""
    return np.datetime64(start, "D") + 7 * np.arange(horizon)


def rate_index(valid_from: list[dt.date], start: dt.date, horizon: int) -> tuple:
    """Which rate point is in force in each week, and the indexation steps to apply.

    After the last point a rate is indexed at every 1 January; before the first
    point it is the first rate deflated by one step per 1 January back.

    Returns
    -------
    idx : ndarray of int64, shape (week,)
    steps : ndarray of int64, shape (week,), years of indexation (negative: deflation)
    """
    dates = week_dates(start, horizon)
    points = np.array([np.datetime64(d, "D") for d in valid_from])
    idx = np.maximum(np.searchsorted(points, dates, side="right") - 1, 0)
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    first, last = valid_from[0], valid_from[-1]
    # one step per 1 January passed: after the last point, in (last, date]; before the
    # first, in (date, first] (a date in the first point's year is none back, a date in
    # the year before it one, also when the point is dated 1 January)
    after = np.where(dates > points[-1], years - last.year, 0)
    before = np.where(dates < points[0], first.year - years, 0)
    return idx, np.maximum(after, 0) - np.maximum(before, 0)


def weekly_rates(
    values: np.ndarray,
    valid_from: list[dt.date],
    unit: str,
    indexation: np.ndarray | float,
    start: dt.date,
    horizon: int,
) -> np.ndarray:
    """Weekly amount per scenario.

    Parameters
    ----------
    values : ndarray of float64, shape (scenario, point), the rate at each point
    valid_from : dates the points take effect
    unit : "week", "month" or "year"
    indexation : annual indexation after the last point, scalar or shape (scenario,)

    Returns
    -------
    ndarray of float64, shape (scenario, week), DKK per citizen-week
    """
    idx, years_after = rate_index(valid_from, start, horizon)  # signed indexation steps
    values = np.atleast_2d(np.asarray(values, dtype=float))
    ix = np.broadcast_to(np.asarray(indexation, dtype=float).reshape(-1), (values.shape[0],))
    if np.all(values == values[:1]) and np.all(ix == ix[0]):
        # the same table in every scenario: compute once
        one = values[0, idx] * (1.0 + ix[0]) ** years_after * UNIT_TO_WEEK[unit]
        return np.broadcast_to(one, (values.shape[0], horizon))
    factor = (1.0 + ix[:, None]) ** years_after[None, :]
    return values[:, idx] * factor * UNIT_TO_WEEK[unit]


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
