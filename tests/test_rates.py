"""Dated rate tables, refusion steps and settlement periods (simrisk.rates) against dates
worked out by hand, and against a plain-Python twin that walks the calendar."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from simrisk import rates

D = dt.date


def week_dates(start, horizon):
    return [start + dt.timedelta(weeks=k) for k in range(horizon)]


def test_week_dates_are_the_first_day_of_each_week():
    got = rates.week_dates(D(2024, 2, 26), 3)
    assert got.dtype == np.dtype("datetime64[D]")
    assert [str(d) for d in got] == ["2024-02-26", "2024-03-04", "2024-03-11"]  # leap year


# ------------------------------------------------------------------------- rate_index
def test_rate_index_after_the_last_point_by_hand():
    """Points 2023-01-01 and 2024-01-01; weeks from Monday 2023-12-18.

    week 0 2023-12-18, 1 2023-12-25: the 2023 rate; week 2 is 2024-01-01, the day of
    the last point: its rate, not yet indexed; week 54 is 2024-12-30, still 2024; week
    55 is 2025-01-06: one 1 January after the last point, one step of indexation."""
    idx, steps = rates.rate_index([D(2023, 1, 1), D(2024, 1, 1)], D(2023, 12, 18), 60)
    assert idx.tolist() == [0, 0] + [1] * 58
    assert steps.tolist() == [0] * 55 + [1] * 5


def test_rate_index_deflates_before_the_first_point_by_hand():
    """One point, 2023-01-01; weeks from Monday 2021-12-27.

    week 0 (2021-12-27) is two 1 Januaries before it (2022-01-01, 2023-01-01); weeks
    1-52 (2022-01-03 to 2022-12-26) one; week 53 (2023-01-02) none."""
    idx, steps = rates.rate_index([D(2023, 1, 1)], D(2021, 12, 27), 60)
    assert idx.tolist() == [0] * 60
    assert steps.tolist() == [-2] + [-1] * 52 + [0] * 7


def test_rate_index_first_point_not_on_1_january_by_hand():
    """One point, 2023-07-01; weeks from Monday 2022-12-19.

    weeks 0-1 (December 2022) are one 1 January (2023-01-01) before it; weeks 2-27
    (2023-01-02 to 2023-06-26) are before it but with no 1 January in between: no step;
    week 54 is 2024-01-01, one step after."""
    idx, steps = rates.rate_index([D(2023, 7, 1)], D(2022, 12, 19), 60)
    assert steps.tolist() == [-1, -1] + [0] * 52 + [1] * 6


def test_rate_index_between_points():
    points = [D(2024, 1, 1), D(2024, 3, 1), D(2024, 3, 8)]
    idx, steps = rates.rate_index(points, D(2024, 2, 19), 5)
    # 02-19, 02-26: first; 03-04: second; 03-11, 03-18: third (after it, same year)
    assert idx.tolist() == [0, 0, 1, 2, 2]
    assert steps.tolist() == [0] * 5


def _jan_firsts(lo: dt.date, hi: dt.date) -> int:
    """1 Januaries in (lo, hi]."""
    return sum(1 for y in range(lo.year, hi.year + 1) if lo < D(y, 1, 1) <= hi)


def naive_rate_index(valid_from, start, horizon):
    idx, steps = [], []
    for day in week_dates(start, horizon):
        in_force = [i for i, p in enumerate(valid_from) if p <= day]
        idx.append(in_force[-1] if in_force else 0)
        if day > valid_from[-1]:
            steps.append(_jan_firsts(valid_from[-1], day))
        elif day < valid_from[0]:
            steps.append(-_jan_firsts(day, valid_from[0]))
        else:
            steps.append(0)
    return idx, steps


@pytest.mark.parametrize(
    "points",
    [
        [D(2023, 1, 1)],
        [D(2023, 7, 1)],
        [D(2023, 12, 31)],
        [D(2023, 1, 2), D(2024, 1, 1)],
        [D(2022, 3, 15), D(2023, 1, 1), D(2024, 6, 30)],
    ],
    ids=str,
)
@pytest.mark.parametrize("start", [D(2021, 12, 27), D(2022, 6, 1), D(2023, 12, 31)], ids=str)
def test_rate_index_against_a_calendar_walk(points, start):
    idx, steps = rates.rate_index(points, start, 200)
    want_idx, want_steps = naive_rate_index(points, start, 200)
    assert idx.tolist() == want_idx
    assert steps.tolist() == want_steps


# ----------------------------------------------------------------------- weekly_rates
def test_weekly_rates_by_hand():
    """Weekly 100 from 2023, 200 from 2024, 10 % a year after: weeks as in
    test_rate_index_after_the_last_point_by_hand."""
    got = rates.weekly_rates(
        np.array([[100.0, 200.0]]), [D(2023, 1, 1), D(2024, 1, 1)], "week", 0.1,
        D(2023, 12, 18), 60,
    )  # fmt: skip
    assert got.shape == (1, 60)
    np.testing.assert_allclose(got[0], [100.0] * 2 + [200.0] * 53 + [220.0] * 5, rtol=1e-15)


def test_weekly_rates_deflate_before_the_first_point_by_hand():
    """100 from 2023-01-01, 25 % a year: 64 two 1 Januaries back, 80 one back."""
    got = rates.weekly_rates(np.array([[100.0]]), [D(2023, 1, 1)], "week", 0.25,
                             D(2021, 12, 27), 55)  # fmt: skip
    np.testing.assert_allclose(got[0], [64.0] + [80.0] * 52 + [100.0] * 2, rtol=1e-15)


def test_weekly_rates_first_point_in_mid_year_by_hand():
    got = rates.weekly_rates(np.array([[100.0]]), [D(2023, 7, 1)], "week", 0.25,
                             D(2022, 12, 19), 60)  # fmt: skip
    np.testing.assert_allclose(got[0], [80.0] * 2 + [100.0] * 52 + [125.0] * 6, rtol=1e-15)


@pytest.mark.parametrize(
    ("unit", "value", "weekly"),
    [
        ("week", 4695.0, 4695.0),
        ("month", 12326.0, 2834.7268993839834),  # 12326 x 12 months / (365.25 / 7) weeks
        ("year", 52000.0, 996.5776865160849),  # 52000 / (365.25 / 7)
    ],
)
def test_weekly_rates_units(unit, value, weekly):
    got = rates.weekly_rates(np.array([[value]]), [D(2024, 1, 1)], unit, 0.0, D(2024, 1, 1), 3)
    np.testing.assert_allclose(got, np.full((1, 3), weekly), rtol=1e-14)


def test_weekly_rates_per_scenario():
    points = [D(2023, 1, 1), D(2024, 1, 1)]
    start, horizon = D(2023, 12, 18), 60
    values = np.array([[100.0, 200.0], [100.0, 300.0], [50.0, 200.0]])
    index = np.array([0.1, 0.0, 0.5])
    got = rates.weekly_rates(values, points, "week", index, start, horizon)
    assert got.shape == (3, horizon)
    for s in range(3):
        one = rates.weekly_rates(values[s : s + 1], points, "week", index[s], start, horizon)
        np.testing.assert_allclose(got[s], one[0], rtol=1e-15)
    np.testing.assert_allclose(got[1, -1], 300.0)
    np.testing.assert_allclose(got[2, [0, 2, 55]], [50.0, 200.0, 300.0])
    # the same table in every scenario: every row equal to the one-scenario answer
    same = rates.weekly_rates(np.tile([100.0, 200.0], (4, 1)), points, "week", 0.1, start, 60)
    assert same.shape == (4, 60)
    np.testing.assert_array_equal(same, np.tile(got[0], (4, 1)))


# --------------------------------------------------------------------- refusion_starts
def test_refusion_starts_count_the_weeks_before_each_step():
    """The Danish staircase: steps at benefit weeks 1, 5, 27 and 53 start once 0, 4, 26
    and 52 weeks have been counted."""
    got = rates.refusion_starts([1, 5, 27, 53])
    assert got.dtype == np.int64 and got.tolist() == [0, 4, 26, 52]


# ------------------------------------------------------------------ settlement_periods
MID_Q1 = D(2024, 2, 14)  # a Wednesday in the middle of the first quarter


def test_quarters_from_a_mid_quarter_start_by_hand():
    """Weeks start 2024-02-14: weeks 0-6 (to 03-27) are Q1, 7-19 (04-03 to 06-26) Q2,
    20-29 (07-03 to 09-04) Q3, cut by the horizon; each paid in its last week."""
    period, pay = rates.settlement_periods(MID_Q1, 30, "quarter")
    assert period.tolist() == [0] * 7 + [1] * 13 + [2] * 10
    assert pay.tolist() == [6, 19, 29]


def test_months_from_a_mid_quarter_start_by_hand():
    """Feb 14-28: weeks 0-2; Mar 6-27: 3-6; Apr 3-24: 7-10; May 1-29: 11-15;
    Jun 5-26: 16-19; Jul 3-31: 20-24; Aug 7-28: 25-28; Sep 4: 29."""
    period, pay = rates.settlement_periods(MID_Q1, 30, "month")
    assert period.tolist() == [0] * 3 + [1] * 4 + [2] * 4 + [3] * 5 + [4] * 4 + [5] * 5 + [
        6
    ] * 4 + [7]
    assert pay.tolist() == [2, 6, 10, 15, 19, 24, 28, 29]


def test_years_from_a_mid_quarter_start_by_hand():
    """Week 46 starts on 2025-01-01 (322 = 46 x 7 days after 2024-02-14)."""
    period, pay = rates.settlement_periods(MID_Q1, 60, "year")
    assert period.tolist() == [0] * 46 + [1] * 14
    assert pay.tolist() == [45, 59]


def test_a_later_start_shifts_the_quarter_and_year_boundaries():
    # 2024-05-15 (Q2): May 15-29 and Jun 5-26 are Q2 (weeks 0-6); 07-03 is Q3
    period, pay = rates.settlement_periods(D(2024, 5, 15), 10, "quarter")
    assert period.tolist() == [0] * 7 + [1] * 3 and pay.tolist() == [6, 9]
    # 2024-11-20: Nov 20 to Dec 25 are 2024 (weeks 0-5); 2025-01-01 is week 6
    period, pay = rates.settlement_periods(D(2024, 11, 20), 10, "year")
    assert period.tolist() == [0] * 6 + [1] * 4 and pay.tolist() == [5, 9]


def naive_periods(start, horizon, settlement):
    keys = []
    for day in week_dates(start, horizon):
        keys.append(
            {"month": (day.year, day.month), "quarter": (day.year, (day.month - 1) // 3),
             "year": day.year}[settlement]
        )  # fmt: skip
    order = list(dict.fromkeys(keys))
    period = [order.index(k) for k in keys]
    pay = [max(w for w, p in enumerate(period) if p == q) for q in range(len(order))]
    return period, pay


@pytest.mark.parametrize("settlement", ["month", "quarter", "year"])
@pytest.mark.parametrize(
    "start",
    [D(2021, 1, 1), D(2022, 6, 1), D(2023, 3, 31), D(2024, 2, 29), D(2024, 12, 30)],
    ids=str,
)
def test_settlement_periods_against_a_calendar_walk(start, settlement):
    for horizon in (1, 5, 157):
        period, pay = rates.settlement_periods(start, horizon, settlement)
        want_period, want_pay = naive_periods(start, horizon, settlement)
        assert period.tolist() == want_period
        assert pay.tolist() == want_pay
        assert period.dtype == np.int64 and pay.dtype == np.int64


def test_unknown_settlement_is_an_error():
    with pytest.raises(ValueError, match="unknown settlement period 'week'"):
        rates.settlement_periods(MID_Q1, 10, "week")
