"""The contract layer: payment mechanisms, outcomes and measurement.

Hand-built cases worked out in the comments, plain-Python twins (tests/naive_money.py)
on random inputs and on a deal's simulated outcomes, and a closed form for the baseline.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest

from simrisk import contracts, ledger, rng, simulation
from simrisk.config import ConfigError, parse_deal
from simrisk.contracts import mechanisms
from simrisk.contracts.measurement import Baseline
from simrisk.contracts.outcomes import outcome_rate
from simrisk.rates import DatedTable
from simrisk.sampling import Sampler, Values, chunk_values
from simrisk.simulation import KernelOut
from simrisk.vocabulary import (
    BENEFIT,
    COUNTERFACTUAL,
    EDUCATION,
    EMPLOYED,
    EV_EDUCATION,
    EV_FIT,
    EV_JOB,
    EV_OFF,
    EV_SUST13,
    EV_WORK_SS,
    MOVED,
    N_EVENTS,
    PERMANENT,
    TARGET_OUTCOMES,
    TREATMENT,
    UNEMPLOYED,
)
from tests import naive_money as naive
from tests.conftest import load_raw, simple_raw

# 8 weeks in two "periods" of 4 weeks, paid in weeks 3 and 7
PERIOD = np.array([0, 0, 0, 0, 1, 1, 1, 1])
PAY = np.array([3, 7])
INF1 = np.array([np.inf])
SHORT = [{"name": "only", "weeks": 2, "cost_per_week": 100.0, "dropout": 0.0}]


def _calendar(start=dt.date(2024, 2, 12), horizon=40, settlement="month"):
    period, pay = naive.settlement_calendar(start, horizon, settlement)
    return np.array(period, np.int64), np.array(pay, np.int64)


def _deal(raw: dict):
    raw = copy.deepcopy(raw)
    if isinstance(raw["deal"]["start_date"], str):
        raw["deal"]["start_date"] = dt.date.fromisoformat(raw["deal"]["start_date"])
    return parse_deal(raw, "test")


# --------------------------------------------------------------------------- settle, caps


def test_settle_by_hand():
    accrued = np.array([[1.0, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 0, 0, -1]])
    # period 0: 1+2+3+4 = 10 paid in week 3; period 1: 5+6+7+8 = 26 in week 7
    np.testing.assert_array_equal(
        mechanisms.settle(accrued, PERIOD, PAY), [[0, 0, 0, 10, 0, 0, 0, 26], [0] * 7 + [-1]]
    )


def test_settle_matches_twin_on_a_calendar():
    period, pay = _calendar(horizon=40, settlement="month")
    accrued = np.random.default_rng(1).normal(size=(5, 40))
    np.testing.assert_allclose(
        mechanisms.settle(accrued, period, pay),
        naive.settle(accrued, period, pay),
        rtol=1e-12,
        atol=1e-12,
    )


def test_cap_cumulative_by_hand():
    flow = np.array([[50.0, 30, 40, 10], [50.0, 30, 40, 10], [5.0, 0, 5, 0], [60.0, 0, 70, 1]])
    cap = np.array([100.0, np.inf, 0.0, 60.0])
    # row 0: 50, 30 (80 so far), 20 of 40 reaches 100, then nothing
    # row 1: no cap; row 2: a cap of 0 pays nothing; row 3: the first payment uses it up
    np.testing.assert_array_equal(
        mechanisms.cap_cumulative(flow, cap),
        [[50, 30, 20, 0], [50, 30, 40, 10], [0, 0, 0, 0], [60, 0, 0, 0]],
    )
    # no cap anywhere: the payments are returned as they are
    assert mechanisms.cap_cumulative(flow, np.full(4, np.inf)) is flow


def test_cap_cumulative_matches_twin():
    g = np.random.default_rng(2)
    flow = g.exponential(10.0, (40, 30)) * (g.uniform(size=(40, 30)) < 0.4)
    cap = g.uniform(0.0, 150.0, 40)
    cap[::7] = np.inf
    got = mechanisms._cap_cumulative(flow, cap)
    np.testing.assert_allclose(got, naive.cap_cumulative(flow, cap), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(mechanisms.cap_cumulative(flow, cap), got)
    # the cases exercised: caps that bind and caps that do not
    binds = got.sum(axis=1) < flow.sum(axis=1) - 1e-9
    assert 5 < binds.sum() < 35


def test_window_mask_by_hand():
    np.testing.assert_array_equal(mechanisms.window_mask([2, 5], 8), [0, 0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(mechanisms.window_mask([6, 20], 8), [0] * 6 + [1, 1])
    assert mechanisms.window_mask(None, 5).all()


# --------------------------------------------------------------------------- savings share


def test_savings_share_by_hand():
    measured = np.array([[100.0, 100, 100, 100, -50, -50, 300, 0]])
    pay = mechanisms.savings_share(measured, np.array([0.5]), INF1, None, PERIOD, PAY)
    # period 1: 400 saved -> 200 due; period 2: 200 more -> 300 cumulative due, 100 paid
    np.testing.assert_allclose(pay, [[0, 0, 0, 200, 0, 0, 0, 100]])


def test_savings_share_carries_losses_and_never_claws_back():
    measured = np.array([[100.0, 0, 0, 0, -300, 0, 0, 0], [-100.0, 0, 0, 0, 150, 0, 0, 0]])
    pay = mechanisms.savings_share(
        measured, np.array([1.0, 1.0]), np.full(2, np.inf), None, PERIOD, PAY
    )
    # row 0: 100 paid, then cumulative -200: nothing repaid
    # row 1: -100 carried forward, 150 later makes it good: 50 paid
    np.testing.assert_allclose(pay, [[0, 0, 0, 100, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 50]])


def test_savings_share_cap_and_window():
    measured = np.full((1, 8), 100.0)
    pay = mechanisms.savings_share(
        measured, np.array([1.0]), np.array([250.0]), [0, 8], PERIOD, PAY
    )
    np.testing.assert_allclose(pay, [[0, 0, 0, 250, 0, 0, 0, 0]])
    # window weeks 2..4: weeks 2, 3 in period 1 (200), week 4 in period 2 (100)
    pay = mechanisms.savings_share(measured, np.array([1.0]), INF1, [2, 5], PERIOD, PAY)
    np.testing.assert_allclose(pay, [[0, 0, 0, 200, 0, 0, 0, 100]])


def test_savings_share_matches_twin():
    g = np.random.default_rng(3)
    period, pay = _calendar(horizon=40, settlement="month")
    measured = g.normal(20.0, 100.0, (30, 40))
    share = g.uniform(0.1, 0.9, 30)
    cap = np.where(g.uniform(size=30) < 0.5, g.uniform(50.0, 400.0, 30), np.inf)
    for window in (None, [5, 33]):
        np.testing.assert_allclose(
            mechanisms.savings_share(measured, share, cap, window, period, pay),
            naive.savings_share(measured, share, cap, window, period, pay),
            rtol=1e-12,
            atol=1e-9,
        )


# --------------------------------------------------------------------------- rate card


def _events(n_scen, n_cit, spec):
    """events (scenario, citizen, event) from {(s, i, e): week}."""
    ev = np.full((n_scen, n_cit, 5), -1, np.int32)
    for (s, i, e), w in spec.items():
        ev[s, i, e] = w
    return ev


def test_rate_card_by_hand():
    # citizen 0: job entry week 1, sustained 13 at week 5; citizen 1: education week 2
    events = _events(1, 2, {(0, 0, 0): 1, (0, 0, 2): 5, (0, 1, 1): 2})
    tariffs = np.array([[10.0, 7.0, 20.0, 0.0, 0.0]])
    pay = mechanisms.rate_card(events, tariffs, np.array([25.0]), INF1, None, PERIOD, PAY)
    # citizen 0: 10 + min(20, 25 - 10) = 25; citizen 1: 7 -> period 1: 17, period 2: 15
    np.testing.assert_allclose(pay, [[0, 0, 0, 17, 0, 0, 0, 15]])
    capped = mechanisms.rate_card(events, tariffs, INF1, np.array([20.0]), None, PERIOD, PAY)
    np.testing.assert_allclose(capped, [[0, 0, 0, 17, 0, 0, 0, 3]])
    windowed = mechanisms.rate_card(events, tariffs, INF1, INF1, [0, 4], PERIOD, PAY)
    np.testing.assert_allclose(windowed, [[0, 0, 0, 17, 0, 0, 0, 0]])


def test_rate_card_accrual_order_ties_and_unpaid_events():
    # citizen 0: sustained_13 (week 3) listed before job entry (week 1): time order counts;
    #   cap 15: job entry 10 in week 1, then 5 of 20 in week 3
    # citizen 1: job entry and education entry both in week 2 (a tie), cap 15: 15 in week 2
    #   (10 for the job, 5 of 7 for education in event order; the week's total is the same)
    # citizen 2: an untariffed event (sustained_26, week 1) does not stop the education
    #   entry in week 4 from paying 7
    events = _events(
        1, 3, {(0, 0, 2): 3, (0, 0, 0): 1, (0, 1, 0): 2, (0, 1, 1): 2, (0, 2, 3): 1, (0, 2, 1): 4}
    )
    tariffs = np.array([[10.0, 7.0, 20.0, 0.0, 0.0]])
    inside = np.ones(6, bool)
    got = mechanisms._rate_card_accrual(events, tariffs, np.array([15.0]), inside)
    np.testing.assert_allclose(got, [[0, 10, 15, 5, 7, 0]])


def test_rate_card_matches_twin():
    g = np.random.default_rng(4)
    n_scen, n_cit, H = 20, 15, 40
    period, pay = _calendar(horizon=H, settlement="quarter")
    events = g.integers(0, H, (n_scen, n_cit, 5)).astype(np.int32)
    events[g.uniform(size=events.shape) < 0.5] = -1
    events[:, :3, 0] = events[:, :3, 1]  # ties
    tariffs = g.choice([0.0, 5.0, 12.0, 30.0], (n_scen, 5))
    per_cit = np.where(g.uniform(size=n_scen) < 0.6, g.uniform(5.0, 40.0, n_scen), np.inf)
    cap = np.where(g.uniform(size=n_scen) < 0.5, g.uniform(50.0, 300.0, n_scen), np.inf)
    for window in (None, [4, 30]):
        inside = mechanisms.window_mask(window, H)
        np.testing.assert_allclose(
            mechanisms._rate_card_accrual(events, tariffs, per_cit, inside),
            naive.rate_card_accrual(events, tariffs, per_cit, window, H),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            mechanisms.rate_card(events, tariffs, per_cit, cap, window, period, pay),
            naive.rate_card(events, tariffs, per_cit, cap, window, period, pay),
            rtol=1e-12,
            atol=1e-9,
        )


# --------------------------------------------------------------------------- target


def test_target_step_and_linear():
    rate = np.array([0.2, 0.5, 0.7, np.nan, 0.9])
    week = np.array([2, 6, 6, 6, -1])
    thr = np.full(5, 0.4)
    pay = np.full(5, 100.0)
    step = mechanisms.target(rate, week, thr, np.full(5, np.nan), pay, PERIOD, PAY)
    # below threshold: 0; at or above: 100 in the pay week of week 6's period (7);
    # NaN rate or never measured: 0
    np.testing.assert_allclose(step.sum(axis=1), [0, 100, 100, 0, 0])
    assert step[1, 7] == 100.0
    lin = mechanisms.target(rate, week, thr, np.full(5, 0.6), pay, PERIOD, PAY)
    # (0.5 - 0.4) / (0.6 - 0.4) = 50 %; 0.7 is above full: 100 %
    np.testing.assert_allclose(lin.sum(axis=1), [0, 50, 100, 0, 0])
    early = mechanisms.target(
        np.array([0.5]), np.array([1]), thr[:1], np.full(1, 0.6), pay[:1], PERIOD, PAY
    )
    assert early[0, 3] == pytest.approx(50.0)  # week 1 is in the first period, paid week 3


def test_target_matches_twin():
    g = np.random.default_rng(5)
    n, H = 50, 40
    period, pay = _calendar(horizon=H, settlement="month")
    rate = g.uniform(-0.2, 0.8, n)
    rate[::9] = np.nan
    week = g.integers(-1, H, n)
    thr = g.uniform(0.0, 0.4, n)
    full = np.where(g.uniform(size=n) < 0.5, thr + g.uniform(0.05, 0.4, n), np.nan)
    payment = g.uniform(100.0, 1000.0, n)
    np.testing.assert_allclose(
        mechanisms.target(rate, week, thr, full, payment, period, pay),
        naive.target(rate, week, thr, full, payment, period, pay),
        rtol=1e-12,
    )


# --------------------------------------------------------------------------- outcomes

# Scenario 0 (horizon 20, at_week 5, the state at check column 1; column 0 holds other
# states, so a wrong column gives other answers):
# A hand-built chunk, measured 5 weeks after entry (horizon 20, check 1); runs are the
# weeks so far of the job spell and of the unbroken run of self-support at the check:
#   citizen  entry  state at +5   job  run  first events (week)
#   0        0      employed       14    4  job 1, fit 1, off 1, in work 1, 3-run 3,
#                                           sustained 13 at 4
#   1        3      education       0    2  education 6, fit 6, off 6
#   2        10     moved           0    0  job 12, fit 12, off 12, in work 12, 3-run 14
#   3        16     employed        5    5  (beyond the horizon: 16 + 5 >= 20)
#   4        -1     -               -    -  (not enrolled)
#   5        4      employed        2    0  job 7, fit 7 (a part-time job with a benefit)
#   6        2      unemployed      0    0  fit 4 (declared fit, on a-dagpenge)
#   7        1      benefit         0    0  job 3, fit 3, off 3, in work 3 (back on benefit)
# Scenario 1: nobody measurable (one beyond the horizon, the rest not enrolled).
_ENTRY = np.array([[0, 3, 10, 16, -1, 4, 2, 1], [18, -1, -1, -1, -1, -1, -1, -1]], np.int32)
_STATE = np.array(
    [
        [EMPLOYED, EDUCATION, MOVED, EMPLOYED, -1, EMPLOYED, UNEMPLOYED, BENEFIT],
        [EMPLOYED, -1, -1, -1, -1, -1, -1, -1],
    ],
    np.int8,
)
_CHECKS = np.stack([np.full_like(_STATE, PERMANENT), _STATE], axis=2)  # (scenario, citizen, 2)
_RUN = np.zeros((2, 8, 2, 2), np.int32)
_RUN[0, :, 1] = [[14, 4], [0, 2], [0, 0], [5, 5], [0, 0], [2, 0], [0, 0], [0, 0]]
_EVENTS = np.full((2, 8, N_EVENTS + 1), -1, np.int32)
for _c, _ev in {
    0: {EV_JOB: 1, EV_FIT: 1, EV_OFF: 1, EV_WORK_SS: 1, N_EVENTS: 3, EV_SUST13: 4},
    1: {EV_EDUCATION: 6, EV_FIT: 6, EV_OFF: 6},
    2: {EV_JOB: 12, EV_FIT: 12, EV_OFF: 12, EV_WORK_SS: 12, N_EVENTS: 14},
    5: {EV_JOB: 7, EV_FIT: 7},
    6: {EV_FIT: 4},
    7: {EV_JOB: 3, EV_FIT: 3, EV_OFF: 3, EV_WORK_SS: 3},
}.items():
    for _e, _w in _ev.items():
        _EVENTS[0, _c, _e] = _w
WINDOW = (3, N_EVENTS)  # a 3-week run of self-support, its events column

# (outcome, measure) -> (hits, counted) in scenario 0: "at" counts 0, 1, 5, 6, 7 (2 moved
# away), "ever_by" counts 0, 1, 2, 5, 6, 7
HAND = {
    ("employed", "at"): (2, 5),  # 0, 5
    ("employed", "ever_by"): (4, 6),  # 0 (1), 2 (2), 5 (3), 7 (2)
    ("ever_employed", "at"): (4, 6),  # = employed, ever_by
    ("education", "at"): (1, 5),
    ("education", "ever_by"): (1, 6),
    ("off_benefit", "at"): (2, 5),  # runs >= 1: 0, 1 (not 5's part-time job)
    ("off_benefit", "ever_by"): (4, 6),  # 0, 1, 2, 7
    ("self_supporting", "at"): (1, 5),  # runs >= 3: 0
    ("self_supporting", "ever_by"): (2, 6),  # 3-runs by week 5: 0 (3), 2 (14 - 10)
    ("self_supporting_work", "at"): (1, 5),  # 0
    ("self_supporting_work", "ever_by"): (3, 6),  # 0, 2, 7
    ("declared_fit", "at"): (4, 5),  # 0, 1, 5, 6 (7 is back on benefit)
    ("declared_fit", "ever_by"): (6, 6),
    ("sustained_13", "at"): (1, 5),  # 0
    ("sustained_13", "ever_by"): (1, 6),
    ("sustained_26", "at"): (0, 5),
    ("sustained_26", "ever_by"): (0, 6),
}


def _rate(outcome, measure="at"):
    return outcome_rate(_CHECKS, _RUN, _EVENTS, _ENTRY, 1, outcome, 5, 20, measure, WINDOW)


@pytest.mark.parametrize(("outcome", "measure"), list(HAND), ids=[f"{o}-{m}" for o, m in HAND])
def test_outcome_by_hand(outcome, measure):
    rate, last = _rate(outcome, measure)
    hits, counted = HAND[(outcome, measure)]
    assert rate[0] == pytest.approx(hits / counted)
    assert np.isnan(rate[1])
    # the last measurement is citizen 2's at week 10 + 5 (the moved are measured too)
    np.testing.assert_array_equal(last, [15, -1])
    n_rate, n_last = naive.outcome_rate(
        _CHECKS, _RUN, _EVENTS, _ENTRY, 1, outcome, 5, 20, measure, WINDOW
    )
    np.testing.assert_array_equal(rate, n_rate)


def test_off_benefit_and_self_supporting_differ():
    """A one-week status against a 3-week run (and the old alias of employed-ever)."""
    assert _rate("off_benefit")[0][0] != _rate("self_supporting")[0][0]
    np.testing.assert_array_equal(_rate("ever_employed")[0], _rate("employed", "ever_by")[0])


def test_outcome_unknown_is_an_error():
    with pytest.raises(ValueError, match="unknown outcome"):
        _rate("happy")
    with pytest.raises(ValueError, match="unknown measure"):
        _rate("employed", "sometimes")


@pytest.mark.parametrize("measure", ["at", "ever_by"])
@pytest.mark.parametrize("outcome", [o for o in TARGET_OUTCOMES if o != "ever_employed"])
def test_outcome_rate_matches_twin(outcome, measure):
    g = np.random.default_rng(6)
    n, N, H, at = 30, 25, 40, 12
    entry = np.where(g.uniform(size=(n, N)) < 0.8, g.integers(0, 35, (n, N)), -1).astype(np.int32)
    checks = g.integers(0, 8, (n, N, 2)).astype(np.int8)
    run = g.integers(0, 30, (n, N, 2, 2)).astype(np.int32) * (g.uniform(size=(n, N, 2, 2)) < 0.5)
    E = N_EVENTS + 2
    events = np.where(g.uniform(size=(n, N, E)) < 0.6, g.integers(0, H, (n, N, E)), -1)
    events = events.astype(np.int32)
    window = (4, N_EVENTS + 1)
    rate, last = outcome_rate(checks, run, events, entry, 1, outcome, at, H, measure, window)
    n_rate, n_last = naive.outcome_rate(
        checks, run, events, entry, 1, outcome, at, H, measure, window
    )
    np.testing.assert_allclose(rate, n_rate, rtol=1e-15)
    np.testing.assert_array_equal(last, n_last)


# --------------------------------------------------------------------------- measurement


def _ledger_arrays(rates, tax=None, equalisation=0.0):
    """Ledger arrays of hand-built rates (scenario, week, benefit): no tax unless given
    (scenario, week, 2), an equalisation share of municipal costs."""
    n, H, _ = rates.shape
    tax = np.zeros((n, H, 2)) if tax is None else tax
    return ledger.LedgerArrays(
        rate_table=DatedTable.weekly(rates),
        tax_table=DatedTable.weekly(tax),
        kept=np.full(n, 1.0 - equalisation),
        phase_cost=np.zeros((n, 1)),
        setup_cost=np.zeros(n),
    )


def test_baseline_cost_by_hand():
    # one citizen entering in week 2: 1 benefit week then 0.5, refusion 0.8 then 0.2, and
    # 0, 0.5, 1 full-time equivalents in work; rates 10 per week (one benefit type); tax 1
    # (municipal) and 3 (central) per full-time week; equalisation 25 %; horizon 5
    base = Baseline(
        benefit_weeks=np.array([[1.0], [0.5], [0.0], [0.0], [0.0]]),
        refusion_weeks=np.array([[0.8], [0.2], [0.0], [0.0], [0.0]]),
        work_fte=np.array([[0.0], [0.5], [1.0], [0.0], [0.0]]),
    )
    entry = np.array([[2, -1]], np.int32)
    rates = np.full((1, 5, 1), 10.0)
    la = _ledger_arrays(rates)
    np.testing.assert_allclose(base.cost(entry, la, "public"), [[0, 0, 10, 5, 0]])
    np.testing.assert_allclose(base.cost(entry, la, "central_government"), [[0, 0, 8, 2, 0]])
    np.testing.assert_allclose(base.cost(entry, la, "municipality"), [[0, 0, 2, 3, 0]])
    tax = np.zeros((1, 5, 2))
    tax[..., 0], tax[..., 1] = 1.0, 3.0
    la = _ledger_arrays(rates, tax, equalisation=0.25)
    # public: 10, 5 - 0.5 x 4, 0 - 1 x 4; central: 8, 2 - 0.5 x 3, -3;
    # municipality: 2 x 0.75, 3 x 0.75 - 0.5 x 1, -1
    np.testing.assert_allclose(base.cost(entry, la, "public"), [[0, 0, 10, 3, -4]])
    np.testing.assert_allclose(base.cost(entry, la, "central_government"), [[0, 0, 8, 0.5, -3]])
    np.testing.assert_allclose(base.cost(entry, la, "municipality"), [[0, 0, 1.5, 1.75, -1]])


@pytest.mark.parametrize("shared", [False, True], ids=["own_rates", "shared_rates"])
@pytest.mark.parametrize("perspective", ["municipality", "central_government", "public"])
def test_baseline_cost_matches_double_loop(perspective, shared):
    """Against the double loop over citizens and weeks; with ``shared``, one row of rates
    and tax for all the scenarios (as a deal whose rates no scenario varies has)."""
    g = np.random.default_rng(7)
    n, N, H, B = 4, 12, 30, 3
    ben = g.uniform(0.0, 1.0, (H, B))
    base = Baseline(
        benefit_weeks=ben,
        refusion_weeks=ben * g.uniform(0.0, 0.8, (H, B)),
        work_fte=g.uniform(0.0, 0.5, (H, 1)),
    )
    entry = np.where(g.uniform(size=(n, N)) < 0.7, g.integers(0, H, (n, N)), -1).astype(np.int32)
    entry[0, :3] = 5  # several citizens in one week
    rows = 1 if shared else n
    rates = g.uniform(100.0, 5000.0, (rows, H, B))
    la = _ledger_arrays(rates, g.uniform(0.0, 2000.0, (rows, H, 2)))
    la.kept = g.uniform(0.5, 1.0, n)
    np.testing.assert_allclose(
        base.cost(entry, la, perspective),
        naive.baseline_cost(
            entry, base.benefit_weeks, base.refusion_weeks, base.work_fte,
            np.broadcast_to(la.rates, (n, H, B)), np.broadcast_to(la.tax, (n, H, 2)), la.kept,
            perspective,
        ),
        rtol=1e-12,
    )  # fmt: skip


def test_baseline_is_the_expected_course():
    """One way out of benefit (weekly probability p = 0.05), no frailty: a citizen who
    entered in week 0 is still on benefit in week t with probability 0.95**t, and in
    week t has had t + 1 benefit weeks, so its refusion share is the staircase's step at
    t + 1 (80 % for weeks 1-4, then 40 %). The target's rate (employed 10 weeks after
    entry) is 1 - 0.95**10. Tolerance: 4 binomial standard errors over the baseline's
    scenarios x citizens (independent citizens without frailty)."""
    p, n, size, H = 0.05, 400, 50, 30
    raw = simple_raw(
        size=size, horizon=H, transitions=[{"from": "benefit", "to": "employed", "probability": p}]
    )
    raw["cohort"]["frailty_variance"] = 0.0
    raw["contract"]["mechanisms"] = [
        {"kind": "target", "outcome": "employed", "at_week": 10, "threshold": 0.5, "payment": 1.0},
    ]
    cfg = _deal(raw)
    st = simulation.build_structure(cfg)
    base = contracts.compute_baseline(cfg, st, n=n)
    on = (1 - p) ** np.arange(H)
    k = st.benefit_types.index("kontanthjaelp_30plus")
    se = np.sqrt(on * (1 - on) / (n * size))
    assert np.all(np.abs(base.benefit_weeks[:, k] - on) <= 4 * se + 1e-12)
    steps = cfg.economics.refusion.steps
    share = np.array([[s.state_share for s in steps if s.from_week <= t + 1][-1] for t in range(H)])
    np.testing.assert_allclose(
        base.refusion_weeks[:, k], base.benefit_weeks[:, k] * share, rtol=1e-12
    )
    # nobody reaches the permanent benefit: no transition leads there
    assert not base.benefit_weeks[:, st.benefit_types.index("foertidspension")].any()
    employed = 1 - (1 - p) ** 10
    assert abs(base.rates[0] - employed) <= 4 * np.sqrt(employed * (1 - employed) / (n * size))


def _sim(entry, checks=None, events=None):
    entry = np.asarray(entry, np.int32)
    run = None if checks is None else np.zeros(checks.shape + (2,), np.int32)
    return KernelOut(None, None, None, None, None, events, checks, run, entry)


def test_measured_savings_by_measurement():
    raw = simple_raw(size=3, horizon=4, phases=SHORT)
    cfg_cf = _deal(raw)
    treated = np.array([[[10.0, 10, 10, 10], [6.0, 7, 8, 9]]])  # (scenario, arm, week)
    costs = {"municipality": treated, "central_government": treated * 0, "public": treated * 2}
    sim = _sim([[0, 1, 2]])
    got = contracts.measured_savings(
        cfg_cf, costs, contracts.reference_cost(cfg_cf, None, sim, costs, None, None, None)
    )
    np.testing.assert_array_equal(got, [[4, 3, 2, 1]])  # counterfactual minus treatment

    raw["contract"].update(measurement="control_group", control_size=2)
    cfg_ctl = _deal(raw)
    ctl = _sim([[0, -1]])  # one control citizen enrolled, three treated: scale by 3
    ctl_cost = np.array([[[2.0, 2, 3, 3], [0, 0, 0, 0]]])
    ctl_costs = {"municipality": ctl_cost, "central_government": ctl_cost, "public": ctl_cost}
    got = contracts.measured_savings(
        cfg_ctl, costs, contracts.reference_cost(cfg_ctl, None, sim, costs, ctl, ctl_costs, None)
    )
    np.testing.assert_array_equal(got, [[0, -1, 1, 0]])  # 3 x (2, 2, 3, 3) - (6, 7, 8, 9)

    raw["contract"].update(measurement="baseline")
    del raw["contract"]["control_size"]
    cfg_base = _deal(raw)
    base = Baseline(
        benefit_weeks=np.array([[1.0], [1.0], [1.0], [1.0]]),
        refusion_weeks=np.zeros((4, 1)),
        work_fte=np.zeros((4, 1)),
    )
    la = _ledger_arrays(np.full((1, 4, 1), 4.0))
    # baseline: citizens entering in weeks 0, 1, 2 each cost 4 a week from then on
    got = contracts.measured_savings(
        cfg_base, costs, contracts.reference_cost(cfg_base, la, sim, costs, None, None, base)
    )
    np.testing.assert_array_equal(got, [[4 - 6, 8 - 7, 12 - 8, 12 - 9]])


@pytest.mark.parametrize("measurement", ["counterfactual", "control_group", "baseline"])
def test_target_difference_uses_the_measurement(measurement):
    """A target on the difference of employment rates 2 weeks after entry, linear from 0.1
    to 0.5, 1000 DKK; eight weeks in January and February, settled per quarter (paid in
    week 7). Treatment: citizens entering in weeks 0, 0, 1 of whom 0 and 2 are employed
    at the check: 2/3. The reference rate is the counterfactual arm's (1/3), the control
    group's (1/2) or the baseline's (0.4)."""
    raw = simple_raw(size=4, horizon=8, phases=SHORT)
    raw["contract"] = {
        "measurement": measurement,
        "mechanisms": [
            {
                "kind": "target",
                "outcome": "employed",
                "at_week": 2,
                "threshold": 0.1,
                "full": 0.5,
                "payment": 1000.0,
                "basis": "difference",
            }
        ],
    }
    if measurement == "control_group":
        raw["contract"]["control_size"] = 2
    cfg = _deal(raw)
    st = simulation.build_structure(cfg)
    # (scenario, arm, citizen, check): counterfactual arm, then treatment
    checks = np.array(
        [[[[BENEFIT], [BENEFIT], [EMPLOYED], [-1]], [[EMPLOYED], [BENEFIT], [EMPLOYED], [-1]]]],
        np.int8,
    )
    sim = _sim([[0, 0, 1, -1]], checks=checks, events=np.full((1, 2, 4, N_EVENTS), -1, np.int32))
    ctl = _sim(
        [[0, 0]],
        checks=np.array([[[[EMPLOYED], [BENEFIT]]] * 2], np.int8),
        events=np.full((1, 2, 2, N_EVENTS), -1, np.int32),
    )
    base = Baseline(np.zeros((8, 1)), np.zeros((8, 1)), np.zeros((8, 1)), rates={0: 0.4})
    ca = contracts.contract_arrays(cfg, Values(cfg.model_dump(by_alias=True), {}, 1))
    paid = contracts.payments(cfg, st, ca, sim, np.zeros((1, 8)), ctl, base)
    reference = {"counterfactual": 1 / 3, "control_group": 1 / 2, "baseline": 0.4}[measurement]
    fraction = min(max((2 / 3 - reference - 0.1) / 0.4, 0.0), 1.0)
    expected = np.zeros((1, 8))
    expected[0, 7] = 1000.0 * fraction
    np.testing.assert_allclose(paid, expected, rtol=1e-12)
    assert paid.sum() > 0


# --------------------------------------------------------------------------- a deal's payments


def _twin_raw():
    raw = simple_raw(size=40, horizon=80, effect={"job_entry": [1.6], "education_entry": [1.4]})
    raw["deal"]["start_date"] = dt.date(2024, 2, 12)
    raw["contract"] = {
        "settlement": "month",
        "cap": 30000.0,
        "mechanisms": [
            {"kind": "savings_share", "share": 0.1, "window": [10, 60], "cap": 15000.0},
            {
                "kind": "rate_card",
                "per_citizen_cap": 600.0,
                "window": [0, 70],
                "tariffs": {"job_entry": 300.0, "sustained_13": 500.0, "education_entry": 200.0},
            },
            {
                "kind": "target",
                "outcome": "employed",
                "at_week": 20,
                "threshold": 0.05,
                "full": 0.25,
                "payment": 3000.0,
                "basis": "difference",
            },
            {
                "kind": "target",
                "outcome": "self_supporting",
                "at_week": 30,
                "threshold": 0.65,
                "payment": 1000.0,
            },
            {
                "kind": "target",
                "outcome": "off_benefit",
                "at_week": 30,
                "threshold": 0.6,
                "full": 0.75,
                "payment": 700.0,
            },
            {
                "kind": "target",
                "outcome": "ever_employed",
                "at_week": 12,
                "threshold": 0.5,
                "full": 0.7,
                "payment": 900.0,
            },
        ],
    }
    raw["uncertainty"] = {
        "method": "mc",
        "parameters": [
            {
                "path": "contract.mechanisms[0].share",
                "distribution": "uniform",
                "low": 0.02,
                "high": 0.2,
            },
            {
                "path": "contract.mechanisms[1].tariffs.job_entry",
                "distribution": "uniform",
                "low": 100.0,
                "high": 500.0,
            },
            {
                "path": "contract.mechanisms[2].threshold",
                "distribution": "uniform",
                "low": 0.0,
                "high": 0.15,
            },
            {"path": "contract.cap", "distribution": "uniform", "low": 10000.0, "high": 60000.0},
        ],
    }
    return raw


@dataclass
class _Chunk:
    """A simulated chunk of a raw deal, with what the contract sees of it."""

    cfg: object
    st: object
    names: list
    draws: np.ndarray
    v: object
    sim: object
    la: object
    costs: dict

    def measured(self, arm=TREATMENT):
        ref = contracts.reference_cost(self.cfg, self.la, self.sim, self.costs, None, None, None)
        return contracts.measured_savings(self.cfg, self.costs, ref, arm)

    def paid(self, arm=TREATMENT):
        ca = contracts.contract_arrays(self.cfg, self.v)
        return contracts.payments(
            self.cfg, self.st, ca, self.sim, self.measured(arm), None, None, arm
        )


def _chunk(raw: dict, n: int, seed: int) -> _Chunk:
    cfg = _deal(raw)
    st = simulation.build_structure(cfg)
    sampler = Sampler(cfg, seed, n)
    draws = sampler.draw(0, n)
    v = chunk_values(cfg, sampler, draws)
    sim = simulation.simulate(rng.seed_key(seed), 0, st, simulation.kernel_inputs(cfg, st, v))
    la = ledger.ledger_arrays(cfg, st, v)
    return _Chunk(cfg, st, sampler.names, draws, v, sim, la, ledger.costs(sim, la))


def test_payments_match_twin_from_the_deal():
    """Every mechanism kind, windows, per-citizen, mechanism and contract caps, drawn
    contract terms, monthly settlement: contract_arrays + payments against the plain
    reading of the raw deal (its dates, its tariffs by name, the drawn values set into it)
    on one chunk of simulated outcomes."""
    raw = _twin_raw()
    n = 30
    ch = _chunk(raw, n, 3)
    st, sim, sampler, draws = ch.st, ch.sim, ch, ch.draws
    measured, paid = ch.measured(), ch.paid()
    assert list(st.check_off) == [12, 20, 30]  # the targets' weeks since entry, in order
    alone = np.zeros((len(raw["contract"]["mechanisms"]) + 1, n))
    for s in range(n):
        deal = naive.scenario_deal(raw, sampler.names, draws[s])
        expected = naive.contract_payments(
            deal,
            sim.events[s],
            sim.checks[s],
            sim.entry[s],
            measured[s],
            check_run=sim.check_run[s],
        )
        np.testing.assert_allclose(paid[s], expected, rtol=1e-12, atol=1e-9, err_msg=str(s))
        # what each mechanism would pay on its own, and all of them without the cap
        mechs = deal["contract"].pop("mechanisms")
        del deal["contract"]["cap"]
        for m, mech in enumerate([*mechs, None]):
            deal["contract"]["mechanisms"] = mechs if mech is None else [mech]
            alone[m, s] = naive.contract_payments(
                deal,
                sim.events[s],
                sim.checks[s],
                sim.entry[s],
                measured[s],
                [12, 20, 30],
                check_run=sim.check_run[s],
            ).sum()
    # the case exercises every mechanism (each pays in some scenarios; each target, and the
    # savings share's cap, not in all) and the contract cap (binding in some, not in all)
    assert (alone[:-1] > 0).any(axis=1).all()
    assert ((alone[2:-1] > 0).sum(axis=1) < n).all()
    assert 0 < (alone[0] >= 15000.0 - 1e-6).sum() < n
    binding = alone[-1] > paid.sum(axis=1) + 1e-6
    assert 0 < binding.sum() < n


@pytest.mark.parametrize(
    ("lag", "window"),
    [(6, None), (6, [10, 84]), (0, [30, 60])],
    ids=["lag", "lag-window", "window"],
)
def test_settlement_lag_and_repayment_window_match_twin(lag, window):
    """Payments fall due in each period's last week and are paid ``lag`` weeks later (the
    simulation runs on to the last payment date); within a repayment window a payment due
    before it opens waits for it, one due after it closes is not paid; against the twin
    reading the deal's calendar."""
    raw = _twin_raw()
    raw["contract"]["settlement_lag_weeks"] = lag
    if window is not None:
        raw["contract"]["repayment_window"] = window
    n = 20
    ch = _chunk(raw, n, 3)
    st, sim, sampler, draws = ch.st, ch.sim, ch, ch.draws
    assert st.horizon == 80 + lag and st.deal_weeks == 80
    measured, paid = ch.measured(), ch.paid()
    for s in range(n):
        deal = naive.scenario_deal(raw, sampler.names, draws[s])
        expected = naive.contract_payments(
            deal,
            sim.events[s],
            sim.checks[s],
            sim.entry[s],
            measured[s, :80],
            check_run=sim.check_run[s],
        )
        np.testing.assert_allclose(paid[s], expected, rtol=1e-12, atol=1e-9, err_msg=str(s))
    weeks = np.flatnonzero(paid.sum(axis=0))
    if window is None:
        assert weeks.min() >= lag  # nothing is paid before the first lag
    else:
        assert window[0] <= weeks.min() and weeks.max() < window[1]
        assert paid[:, window[0]].sum() > 0  # what fell due before it, paid when it opens


def test_a_repayment_window_beyond_the_last_payment_is_an_error():
    raw = _twin_raw()
    raw["contract"]["repayment_window"] = [0, 90]
    with pytest.raises(ConfigError) as err:
        _deal(raw)
    assert err.value.problems == [
        "contract.repayment_window: ends in week 90, after the weeks in which payments can "
        "fall (before week 80: deal.horizon_weeks + settlement_lag_weeks)"
    ]


def test_an_empty_window_is_an_error_naming_its_field():
    for field, window in (("repayment_window", [5, 5]), ("mechanisms", [9, 3])):
        raw = _twin_raw()
        if field == "mechanisms":
            raw["contract"]["mechanisms"][0]["window"] = window
            field = "mechanisms[0].window"
        else:
            raw["contract"][field] = window
        with pytest.raises(ConfigError) as err:
            _deal(raw)
        assert err.value.problems == [
            f"contract.{field}: [{window[0]}, {window[1]}) is empty; give [from, to) with to > from"
        ]


def test_deadweight_payments_match_twin_on_the_counterfactual_arm():
    """The contract applied to the business-as-usual arm (what it pays for outcomes that
    happen without the programme): its measured savings are 0 under counterfactual
    measurement, the rate card pays its events, a target its rate (a difference to itself:
    0); against the twin reading the deal on the counterfactual arm's outcomes."""
    raw = _twin_raw()
    n = 30
    ch = _chunk(raw, n, 3)
    sim, sampler, draws = ch.sim, ch, ch.draws
    arm = COUNTERFACTUAL
    measured = ch.measured(arm)
    np.testing.assert_array_equal(measured, 0.0)
    anyway = ch.paid(arm)
    paid = ch.paid()
    for s in range(n):
        deal = naive.scenario_deal(raw, sampler.names, draws[s])
        expected = naive.contract_payments(
            deal,
            sim.events[s],
            sim.checks[s],
            sim.entry[s],
            measured[s],
            arm=arm,
            check_run=sim.check_run[s],
        )
        np.testing.assert_allclose(anyway[s], expected, rtol=1e-12, atol=1e-9, err_msg=str(s))
    # business as usual earns rate-card money too, but less than the programme
    assert (anyway.sum(axis=1) > 0).any()
    assert anyway.sum() < paid.sum()


def test_payments_stop_at_the_deals_horizon_with_an_appraisal():
    """An appraisal simulates beyond the deal (105 weeks for 2 years), but the contract
    ends with the deal: the last month that the deal's 80 weeks touch is paid in the deal's
    last week (79), as without an appraisal, and nothing accrues after it (no windows
    here, so savings and events after week 80 would otherwise be paid)."""
    raw = _twin_raw()
    for mech in raw["contract"]["mechanisms"]:
        mech.pop("window", None)
    raw["economics"]["appraisal"] = {"years": 2, "discount_rate": 0.035}
    n, D = 12, 80
    ch = _chunk(raw, n, 5)
    st, sim, sampler, draws = ch.st, ch.sim, ch, ch.draws
    assert (st.horizon, st.deal_weeks) == (105, D)
    measured, paid = ch.measured(), ch.paid()
    assert paid.shape == (n, 105)
    np.testing.assert_array_equal(paid[:, D:], 0.0)
    assert (paid[:, D - 1] > 0).any()  # the deal's last month, paid in its last week
    # savings and job entries after the deal that would be paid if the contract ran on
    assert (measured[:, D:] > 0).any()
    assert (sim.events[:, 1, :, EV_JOB] >= D).any()
    for s in range(n):
        deal = naive.scenario_deal(raw, sampler.names, draws[s])
        events = np.where(sim.events[s] < D, sim.events[s], -1)  # within the deal's weeks
        expected = naive.contract_payments(
            deal, events, sim.checks[s], sim.entry[s], measured[s, :D], check_run=sim.check_run[s]
        )
        np.testing.assert_allclose(paid[s, :D], expected, rtol=1e-12, atol=1e-9, err_msg=str(s))


def test_the_strict_baseline_keeps_everyone_on_benefit():
    """``stays_on_benefit``: per enrolled citizen one benefit week every week (the path's
    stages share it), no work,
    refusion within the benefit; the generous reading (``baseline``) has exits."""
    raw = load_raw("slagelse")
    raw["contract"]["measurement"] = "stays_on_benefit"
    strict_cfg = _deal(raw)
    st = simulation.build_structure(strict_cfg)
    strict = contracts.compute_baseline(strict_cfg, st, 64)
    D = st.deal_weeks
    np.testing.assert_allclose(strict.benefit_weeks[:D].sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(strict.work_fte, 0.0)
    assert (strict.refusion_weeks <= strict.benefit_weeks + 1e-12).all()
    raw["contract"]["measurement"] = "baseline"
    generous = contracts.compute_baseline(_deal(raw), st, 64)
    assert generous.benefit_weeks[:D].sum() < 0.8 * strict.benefit_weeks[:D].sum()
    assert generous.work_fte.sum() > 0
