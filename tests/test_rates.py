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


# ------------------------------------------------------------- the regulation by year
def test_yearly_index_by_hand():
    """The regulation of year k takes effect on 1 January of k: from 2023 the index is 1
    (2023's own rate does not enter), 1.2 in 2024, 1.2 x 1.5 in 2025; one row per
    scenario."""
    by_year = np.array([[0.1, 0.2, 0.5], [0.0, -0.1, 0.0]])
    got = rates.yearly_index(by_year, 2023, np.array([2023, 2024, 2025, 2024]))
    np.testing.assert_allclose(got, [[1.0, 1.2, 1.8, 1.2], [1.0, 0.9, 0.9, 0.9]], rtol=1e-15)


def test_regulation_table_by_hand():
    """The published rate for the years the table has, the assumed rate for the others
    (before and after), per scenario."""
    table = {2024: np.array([0.03, 0.04]), 2026: np.array([0.05, 0.05])}
    got = rates.regulation_table(table, np.array([0.02, 0.01]), 2023, 2027)
    np.testing.assert_array_equal(
        got, [[0.02, 0.03, 0.02, 0.05, 0.02], [0.01, 0.04, 0.01, 0.05, 0.01]]
    )


# ----------------------------------------------------------------------- weekly_rates
def _weekly(values, points, unit, by_year, first, start, horizon):
    return rates.weekly_rates(
        np.atleast_2d(np.asarray(values, float)), points, unit,
        np.atleast_2d(np.asarray(by_year, float)), first, start, horizon,
    )  # fmt: skip


def test_weekly_rates_by_hand():
    """Weekly 100 from 2023, 200 from 2024; regulation 30 % (2023: not used), 10 % (2024:
    not used, the 2024 point is at the 2024 level) and 5 % (2025). Weeks from Monday
    2023-12-18: weeks 0-1 in 2023; week 2 (2024-01-01) the day of the second point; week
    54 (2024-12-30) still 2024; week 55 (2025-01-06) one 1 January later: 200 x 1.05."""
    got = _weekly([100.0, 200.0], [D(2023, 1, 1), D(2024, 1, 1)], "week", [0.3, 0.1, 0.05],
                  2023, D(2023, 12, 18), 60)  # fmt: skip
    assert got.shape == (1, 60)
    np.testing.assert_allclose(got[0], [100.0] * 2 + [200.0] * 53 + [210.0] * 5, rtol=1e-15)


def test_weekly_rates_deflate_before_the_first_point_by_hand():
    """100 from 2023-01-01, regulation 25 % in 2022 and 60 % in 2023: weeks from Monday
    2021-12-27: week 0 (2021) is two 1 Januaries back, 100 / (1.6 x 1.25) = 50; weeks
    1-52 (2022) one, 100 / 1.6 = 62.5; weeks 53-54 (2023) the point's 100."""
    got = _weekly([100.0], [D(2023, 1, 1)], "week", [0.9, 0.25, 0.6], 2021, D(2021, 12, 27), 55)
    np.testing.assert_allclose(got[0], [50.0] + [62.5] * 52 + [100.0] * 2, rtol=1e-15)


def test_weekly_rates_first_point_in_mid_year_by_hand():
    """100 from 2023-07-01 (at the 2023 level), regulation 25 % in 2023 and 10 % in 2024:
    weeks from Monday 2022-12-19: weeks 0-1 (2022) 100 / 1.25; weeks 2-53 (2023, before
    and after the point: no 1 January in between) 100; weeks 54- (2024) 110."""
    got = _weekly([100.0], [D(2023, 7, 1)], "week", [0.0, 0.25, 0.1], 2022, D(2022, 12, 19), 60)
    np.testing.assert_allclose(got[0], [80.0] * 2 + [100.0] * 52 + [110.0] * 6, rtol=1e-15)


def test_weekly_rates_mid_year_point_after_the_first_by_hand():
    """200 from 2024-01-01 and 300 from 2024-07-01, 10 % in 2025: the July point is in
    force from week 26 (2024-07-01), regulated to 330 from week 53 (2025-01-06)."""
    got = _weekly([200.0, 300.0], [D(2024, 1, 1), D(2024, 7, 1)], "week", [0.2, 0.1], 2024,
                  D(2024, 1, 1), 60)  # fmt: skip
    np.testing.assert_allclose(got[0], [200.0] * 26 + [300.0] * 27 + [330.0] * 7, rtol=1e-15)


@pytest.mark.parametrize(
    ("unit", "value", "weekly"),
    [
        ("week", 4695.0, 4695.0),
        ("month", 12326.0, 2834.7268993839834),  # 12326 x 12 months / (365.25 / 7) weeks
        ("year", 52000.0, 996.5776865160849),  # 52000 / (365.25 / 7)
    ],
)
def test_weekly_rates_units(unit, value, weekly):
    got = _weekly([value], [D(2024, 1, 1)], unit, [0.5], 2024, D(2024, 1, 1), 3)
    np.testing.assert_allclose(got, np.full((1, 3), weekly), rtol=1e-14)


def test_weekly_rates_per_scenario():
    """Values and regulation per scenario; a table the same in every scenario gives every
    row the one-scenario answer."""
    points = [D(2023, 1, 1), D(2024, 1, 1)]
    start, horizon = D(2023, 12, 18), 60
    values = np.array([[100.0, 200.0], [100.0, 300.0], [50.0, 200.0]])
    by_year = np.array([[0.0, 0.0, 0.1], [0.0, 0.0, 0.0], [0.0, 0.7, 0.5]])
    got = rates.weekly_rates(values, points, "week", by_year, 2023, start, horizon)
    assert got.shape == (3, horizon)
    for s in range(3):
        one = rates.weekly_rates(
            values[s : s + 1], points, "week", by_year[s : s + 1], 2023, start, horizon
        )
        np.testing.assert_allclose(got[s], one[0], rtol=1e-15)
    np.testing.assert_allclose(got[0, [0, 2, 55]], [100.0, 200.0, 220.0])
    np.testing.assert_allclose(got[1, -1], 300.0)
    np.testing.assert_allclose(got[2, [0, 2, 55]], [50.0, 200.0, 300.0])
    same = rates.weekly_rates(
        np.tile([100.0, 200.0], (4, 1)), points, "week", np.tile(by_year[0], (4, 1)), 2023,
        start, 60,
    )  # fmt: skip
    assert same.shape == (4, 60)
    np.testing.assert_array_equal(same, np.tile(got[0], (4, 1)))


def naive_weekly(values, points, by_year: dict, start, horizon):
    """The rate on each week's first day: the last point on or before it (the first one
    before any), times (1 + r) for every 1 January after the point's year up to the
    day's, divided by it for every one after the day's year up to the point's."""
    out = []
    for day in week_dates(start, horizon):
        in_force = [i for i, p in enumerate(points) if p <= day]
        k = in_force[-1] if in_force else 0
        x = values[k]
        for y in range(points[k].year + 1, day.year + 1):
            x *= 1.0 + by_year[y]
        for y in range(day.year + 1, points[k].year + 1):
            x /= 1.0 + by_year[y]
        out.append(x)
    return out


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
def test_weekly_rates_against_a_calendar_walk(points, start):
    """200 weeks (to 2027), a different regulation every year (negative ones too)."""
    first, last = 2020, 2028
    by_year = {y: 0.01 * ((3 * y) % 7 - 2) for y in range(first, last + 1)}
    values = [100.0 + 17.0 * k for k in range(len(points))]
    got = _weekly(values, points, "week", [by_year[y] for y in range(first, last + 1)],
                  first, start, 200)  # fmt: skip
    np.testing.assert_allclose(
        got[0], naive_weekly(values, points, by_year, start, 200), rtol=1e-13
    )


def test_dated_table_spreads_pairs_over_weeks_by_hand():
    """Two columns: one with pairs (10, 20) in force in weeks 0-1 and 2-3, one with a
    single pair of 5; per-scenario amounts in the first, one row in the second."""
    a = (np.array([[10.0, 20.0], [11.0, 21.0]]), np.array([0, 0, 1, 1]))
    b = (np.array([[5.0]]), np.array([0, 0, 0, 0]))
    table = rates.DatedTable.stack([a, b])
    assert table.amounts.shape == (2, 2, 2)
    dense = table.dense()
    np.testing.assert_array_equal(dense[:, :, 0], [[10, 10, 20, 20], [11, 11, 21, 21]])
    np.testing.assert_array_equal(dense[:, :, 1], [[5, 5, 5, 5], [5, 5, 5, 5]])
    np.testing.assert_array_equal(rates.DatedTable.weekly(dense).dense(), dense)


def test_rate_pairs_give_the_weekly_rates():
    points = [D(2023, 1, 1), D(2024, 7, 1)]
    values = np.array([[100.0, 130.0], [90.0, 120.0]])
    by_year = np.array([[0.0, 0.02, 0.03, 0.04], [0.0, 0.01, 0.0, 0.05]])
    args = (points, "month", by_year, 2023, D(2023, 11, 6), 130)
    amounts, week_pair = rates.rate_pairs(values, *args)
    assert amounts.shape[1] == week_pair.max() + 1 < 130  # few pairs, many weeks
    np.testing.assert_array_equal(amounts[:, week_pair], rates.weekly_rates(values, *args))


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
