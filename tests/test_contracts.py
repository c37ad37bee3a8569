"""Payment mechanisms against hand computations."""

from __future__ import annotations

import datetime as dt

import numpy as np

from simrisk import contracts, kernel
from simrisk.rates import settlement_periods

# 8 weeks in two "periods" of 4 weeks, paid in weeks 3 and 7
PERIOD = np.array([0, 0, 0, 0, 1, 1, 1, 1])
PAY = np.array([3, 7])


def test_savings_share_by_hand():
    measured = np.array([[100.0, 100, 100, 100, -50, -50, 300, 0]])
    pay = contracts.savings_share(measured, np.array([0.5]), np.array([np.inf]), None, PERIOD, PAY)
    # period 1: 400 saved -> 200 due; period 2: 200 more -> 300 cumulative due, 100 paid
    np.testing.assert_allclose(pay, [[0, 0, 0, 200, 0, 0, 0, 100]])


def test_savings_share_carries_losses_and_never_claws_back():
    measured = np.array([[100.0, 0, 0, 0, -300, 0, 0, 0]])
    pay = contracts.savings_share(measured, np.array([1.0]), np.array([np.inf]), None, PERIOD, PAY)
    np.testing.assert_allclose(pay, [[0, 0, 0, 100, 0, 0, 0, 0]])


def test_savings_share_cap_and_window():
    measured = np.full((1, 8), 100.0)
    pay = contracts.savings_share(measured, np.array([1.0]), np.array([250.0]), [0, 8], PERIOD, PAY)
    np.testing.assert_allclose(pay, [[0, 0, 0, 250, 0, 0, 0, 0]])
    pay = contracts.savings_share(
        measured, np.array([1.0]), np.array([np.inf]), [2, 5], PERIOD, PAY
    )
    np.testing.assert_allclose(pay, [[0, 0, 0, 200, 0, 0, 0, 100]])


def test_rate_card_by_hand():
    # citizen 0: job entry week 1, sustained 13 at week 5; citizen 1: education week 2
    events = np.full((1, 2, 5), -1, np.int32)
    events[0, 0, 0] = 1
    events[0, 0, 2] = 5
    events[0, 1, 1] = 2
    tariffs = np.array([[10.0, 7.0, 20.0, 0.0, 0.0]])
    pay = contracts.rate_card(
        events, tariffs, np.array([25.0]), np.array([np.inf]), None, PERIOD, PAY
    )
    # citizen 0: 10 + min(20, 25 - 10) = 25; citizen 1: 7 -> period 1: 17, period 2: 15
    np.testing.assert_allclose(pay, [[0, 0, 0, 17, 0, 0, 0, 15]])
    capped = contracts.rate_card(
        events, tariffs, np.array([np.inf]), np.array([20.0]), None, PERIOD, PAY
    )
    np.testing.assert_allclose(capped, [[0, 0, 0, 17, 0, 0, 0, 3]])
    windowed = contracts.rate_card(
        events, tariffs, np.array([np.inf]), np.array([np.inf]), [0, 4], PERIOD, PAY
    )
    np.testing.assert_allclose(windowed, [[0, 0, 0, 17, 0, 0, 0, 0]])


def test_target_step_and_linear():
    rate = np.array([0.2, 0.5, 0.7, np.nan])
    week = np.array([2, 6, 6, 6])
    thr = np.full(4, 0.4)
    pay = np.full(4, 100.0)
    step = contracts.target(rate, week, thr, np.full(4, np.nan), pay, PERIOD, PAY)
    np.testing.assert_allclose(step.sum(axis=1), [0, 100, 100, 0])
    assert step[1, 7] == 100.0
    lin = contracts.target(rate, week, thr, np.full(4, 0.6), pay, PERIOD, PAY)
    np.testing.assert_allclose(lin.sum(axis=1), [0, 50, 100, 0])


def test_outcome_rate_excludes_unmeasurable_and_moved():
    entry = np.array([[0, 2, 7, -1]], np.int32)
    checks = np.array([[[kernel.EMPLOYED], [kernel.MOVED], [-1], [-1]]], np.int8)
    events = np.full((1, 4, 5), -1, np.int32)
    rate, last = contracts.outcome_rate(checks, events, entry, 0, "employed", 4, 8)
    # citizen 0 counted and employed; citizen 1 moved (censored); 2 measured beyond horizon
    assert rate[0] == 1.0 and last[0] == 6


def test_return_cap_limits_irr():
    drawdown = np.zeros((1, 53))
    drawdown[0, 0] = 100.0
    due = np.zeros((1, 53))
    due[0, 52] = 200.0
    r = (1.10) ** (1 / (365.25 / 7)) - 1
    paid = kernel.cap_return(drawdown, due, np.array([r]))
    np.testing.assert_allclose(paid[0, 52], 100.0 * (1 + r) ** 52)
    assert paid[0, :52].sum() == 0
    uncapped = kernel.cap_return(drawdown, due, np.array([np.inf]))
    assert uncapped[0, 52] == 200.0


def test_settlement_periods_follow_the_calendar():
    period, pay = settlement_periods(dt.date(2024, 2, 1), 60, "quarter")
    dates = np.datetime64("2024-02-01") + 7 * np.arange(60)
    # Feb-Mar 2024 is the rest of Q1: paid in the last week starting in March
    first_april = int(np.argmax(dates >= np.datetime64("2024-04-01")))
    assert pay[0] == first_april - 1
    assert (np.diff(period) >= 0).all() and period[-1] == len(pay) - 1
    # 53 weeks from 2024-01-01 end in the week starting 2024-12-30: 12 months
    assert len(settlement_periods(dt.date(2024, 1, 1), 53, "month")[1]) == 12
    assert len(settlement_periods(dt.date(2024, 1, 1), 54, "month")[1]) == 13
