"""Per-scenario metrics and weekly series of a chunk, on a hand-built chunk whose every
metric is worked out in the comments; and the derived quantities."""

from __future__ import annotations

import numpy as np
import pytest

from simrisk import metrics, outputs
from simrisk.simulation import KernelOut
from simrisk.vocabulary import EV_JOB

W = 365.25 / 7  # weeks in a year of 365.25 days

# Two scenarios, three citizens, four weeks.
# Scenario 0: citizens 0 and 1 enrolled (weeks 0 and 1); the investor draws 100 in week 0
#   and is repaid 121 in week 2 (10 % a week, two weeks).
# Scenario 1: nobody enrolled; 50 drawn in weeks 0 and 1, nothing repaid (a total loss).
COSTS = {  # perspective -> (scenario, arm = counterfactual, treatment, week)
    "municipality": np.array(
        [[[50.0, 50, 50, 50], [50, 40, 30, 20]], [[20, 20, 20, 20], [25, 25, 25, 25]]]
    ),
    "central_government": np.array(
        [[[10.0, 10, 10, 10], [10, 10, 5, 5]], [[0, 0, 0, 0], [0, 0, 0, 0]]]
    ),
}
COSTS["public"] = COSTS["municipality"] + COSTS["central_government"]
MEASURED = np.array([[0.0, 10, 20, 40], [0, 0, 0, -20]])
PAID = np.array([[0.0, 0, 121, 0], [0, 0, 0, 0]])
DRAWN = np.array([[100.0, 0, 0, 0], [50, 50, 0, 0]])
# what the contract pays on the counterfactual arm: 55 of scenario 0's payments; in a
# scenario without payments, anything paid anyway is not a share of them
ANYWAY = np.array([[0.0, 0, 55, 0], [0, 0, 0, 7]])


def _sim():
    entry = np.array([[0, 1, -1], [-1, -1, -1]], np.int32)
    events = np.full((2, 2, 3, 5), -1, np.int32)
    events[0, 0, :, EV_JOB] = [-1, 2, -1]  # counterfactual: one of the two enrolled
    events[0, 1, :, EV_JOB] = [0, 2, -1]  # treatment: both
    events[0, 1, 0, 2] = 3  # another event kind does not count as a job entry
    events[0, 0, 2, 1] = 1
    # full-time equivalents in work (scenario, arm, week, 1): in scenario 0 citizen 1 has
    # a full-time job from week 2 in the counterfactual, citizen 0 a half-time one from
    # week 0 in the treatment arm as well
    fte = np.zeros((2, 2, 4, 1))
    fte[0, 0, :, 0] = [0, 0, 1, 1]
    fte[0, 1, :, 0] = [0.5, 0.5, 1.5, 1.5]
    return KernelOut(None, None, None, None, fte, events, None, None, entry)


def _run(perspective="municipality", horizons=None, paid=PAID):
    money = metrics.Money(COSTS, MEASURED, paid, DRAWN, ANYWAY)
    inv = metrics.InvestorTerms(
        capital=np.array([80.0, 200.0]),
        discount_rate=np.array([0.05, 0.0]),
        return_cap=np.array([np.inf, np.inf]),
    )
    hz = horizons or metrics.Horizons(4, 4, np.zeros(2))  # no appraisal: the deal's 4 weeks
    return metrics.chunk_metrics(_sim(), money, inv, perspective, hz)


def test_chunk_metrics_by_hand():
    m, _ = _run()
    # savings = counterfactual - treatment cost, summed over weeks
    np.testing.assert_array_equal(m["savings_municipality"], [200 - 140, 80 - 100])
    np.testing.assert_array_equal(m["savings_central_government"], [40 - 30, 0])
    np.testing.assert_array_equal(m["savings_public"], [70, -20])
    np.testing.assert_array_equal(m["savings_true"], [60, -20])  # the deal's perspective
    np.testing.assert_array_equal(m["savings_measured"], [70, -20])
    np.testing.assert_array_equal(m["payments_total"], [121, 0])
    np.testing.assert_array_equal(m["programme_cost"], [100, 100])
    np.testing.assert_array_equal(m["municipal_net"], [60 - 121, -20])
    np.testing.assert_array_equal(m["public_net"], [70 - 121, -20])
    # 61 of the 121 paid are not backed by the 60 truly saved; nothing paid: 0
    np.testing.assert_array_equal(m["overpayment"], [61, 0])
    np.testing.assert_allclose(m["overpayment_share"], [61 / 121, 0.0], rtol=1e-15)
    # 55 of the 121 would have been paid on the business-as-usual course
    np.testing.assert_array_equal(m["payments_deadweight"], [55, 7])
    np.testing.assert_allclose(m["deadweight_share"], [55 / 121, 0.0], rtol=1e-15)
    # IRR: 1.1 per week, annualised; a total loss is -100 % with status 1
    np.testing.assert_allclose(m["investor_irr"], [1.1**W - 1, -1.0], rtol=1e-9)
    np.testing.assert_array_equal(m["investor_irr_status"], [0, 1])
    np.testing.assert_allclose(m["investor_moic"], [1.21, 0.0], rtol=1e-15)
    # NPV at week 0: 121 two weeks on at 5 % a year; at 0 % the plain sum
    np.testing.assert_allclose(
        m["investor_npv"], [-100 + 121 * 1.05 ** (-2 / W), -100.0], rtol=1e-13
    )
    np.testing.assert_array_equal(m["investor_profit"], [21, -100])
    np.testing.assert_array_equal(m["payback_week"], [2, -1])
    np.testing.assert_array_equal(m["capital_shortfall"], [20, 0])  # 100 drawn on 80 capital
    np.testing.assert_array_equal(m["enrolled"], [2, 0])
    np.testing.assert_array_equal(m["ever_employed_treatment"], [1.0, 0.0])
    np.testing.assert_array_equal(m["ever_employed_counterfactual"], [0.5, 0.0])
    # full-time equivalent weeks 2 and 4, in years
    np.testing.assert_allclose(m["fte_years_counterfactual"], [2 / W, 0.0], rtol=1e-15)
    np.testing.assert_allclose(m["fte_years_treatment"], [4 / W, 0.0], rtol=1e-15)
    # without an appraisal the present values are the undiscounted nets over the deal
    np.testing.assert_array_equal(m["municipal_net_pv"], m["municipal_net"])
    np.testing.assert_array_equal(m["public_net_pv"], m["public_net"])


def test_appraisal_metrics_by_hand():
    """A deal of 3 weeks simulated for a 4-week appraisal at 10 % a year (scenario 0) and
    0 % (scenario 1): savings and the undiscounted nets count the deal's weeks 0-2, the
    present values weeks 0-3 discounted by 1.1^(-t/W)."""
    m, _ = _run(horizons=metrics.Horizons(3, 4, np.array([0.1, 0.0])))
    np.testing.assert_array_equal(m["savings_municipality"], [0 + 10 + 20, -15])
    np.testing.assert_array_equal(m["savings_public"], [0 + 10 + 25, -15])
    np.testing.assert_array_equal(m["municipal_net"], [30 - 121, -15])
    np.testing.assert_array_equal(m["savings_measured"], [30, 0])
    # weekly municipal net (saved - paid): (0, 10, 20 - 121, 30) and (-5, -5, -5, -5);
    # public (0, 10, 25 - 121, 35)
    d = 1.1 ** (-np.arange(4) / W)
    np.testing.assert_allclose(
        m["municipal_net_pv"], [10 * d[1] - 101 * d[2] + 30 * d[3], -20.0], rtol=1e-13
    )
    np.testing.assert_allclose(
        m["public_net_pv"], [10 * d[1] - 96 * d[2] + 35 * d[3], -20.0], rtol=1e-13
    )


def test_payments_after_the_deal_count_in_every_net():
    """A deal of 3 weeks whose last payment the settlement lag puts in week 3 (the 121 of
    scenario 0 moved there): savings count the deal's weeks 0-2; the payment counts in
    the undiscounted nets and, without an appraisal, in the present values alike."""
    lagged = np.array([[0.0, 0, 0, 121], [0, 0, 0, 0]])
    m, _ = _run(horizons=metrics.Horizons(3, 3, np.zeros(2)), paid=lagged)
    np.testing.assert_array_equal(m["payments_total"], [121, 0])
    np.testing.assert_array_equal(m["municipal_net"], [30 - 121, -15])
    np.testing.assert_array_equal(m["municipal_net_pv"], m["municipal_net"])
    np.testing.assert_array_equal(m["public_net_pv"], m["public_net"])


def test_chunk_weekly_series_by_hand():
    _, f = _run()
    np.testing.assert_array_equal(f["savings_weekly"], [[0, 10, 20, 30], [-5, -5, -5, -5]])
    np.testing.assert_array_equal(f["measured_savings_weekly"], MEASURED)
    np.testing.assert_array_equal(f["payments_weekly"], PAID)
    np.testing.assert_array_equal(f["programme_cost_weekly"], DRAWN)
    np.testing.assert_array_equal(
        f["investor_cashflow_weekly"], [[-100, 0, 121, 0], [-50, -50, 0, 0]]
    )
    np.testing.assert_array_equal(
        f["investor_cumulative"], [[-100, -100, 21, 21], [-50, -100, -100, -100]]
    )
    # municipal savings less payments, cumulated: (0, 10, 20 - 121, 30)
    np.testing.assert_array_equal(
        f["municipal_net_cumulative"], [[0, 10, -91, -61], [-5, -10, -15, -20]]
    )
    np.testing.assert_array_equal(f["cost_counterfactual_weekly"], COSTS["municipality"][:, 0])
    np.testing.assert_array_equal(f["cost_treatment_weekly"], COSTS["municipality"][:, 1])


def test_deadweight_share_is_at_most_one():
    """A programme that costs outcomes (the business-as-usual arm earns more payments):
    every payment is deadweight, and no more."""
    money = metrics.Money(COSTS, MEASURED, PAID, DRAWN, 2 * PAID)
    inv = metrics.InvestorTerms(np.full(2, 80.0), np.zeros(2), np.full(2, np.inf))
    m, _ = metrics.chunk_metrics(
        _sim(), money, inv, "municipality", metrics.Horizons(4, 4, np.zeros(2))
    )
    np.testing.assert_array_equal(m["payments_deadweight"], [242, 0])
    np.testing.assert_array_equal(m["deadweight_share"], [1.0, 0.0])


def test_chunk_metrics_follow_the_perspective():
    m, f = _run("public")
    np.testing.assert_array_equal(m["savings_true"], [70, -20])
    # overpayment against the public savings: (121 - 70) / 121; the deadweight does not
    # depend on the perspective
    np.testing.assert_allclose(m["overpayment_share"], [51 / 121, 0.0], rtol=1e-15)
    np.testing.assert_allclose(m["deadweight_share"], [55 / 121, 0.0], rtol=1e-15)
    # the municipal net stays municipal
    np.testing.assert_array_equal(m["municipal_net"], [-61, -20])
    np.testing.assert_array_equal(f["savings_weekly"][0], [0, 10, 25, 35])
    np.testing.assert_array_equal(f["cost_treatment_weekly"], COSTS["public"][:, 1])


def test_chunk_metrics_are_the_registry():
    """Every registered metric and weekly series is computed, and nothing else."""
    m, f = _run()
    assert set(m) == set(outputs.METRICS)
    assert set(f) == set(outputs.FLOWS)
    assert all(v.shape == (2,) for v in m.values())
    assert all(v.shape == (2, 4) for v in f.values())


def test_derived():
    m = {
        "investor_profit": np.array([-1.0, 0.0, 3.0]),
        "municipal_net": np.array([-0.5, 0.0, 2.0]),
        "investor_moic": np.array([0.8, np.nan, 1.4]),
        "investor_irr": np.array([np.nan, np.nan, 0.12]),
        "payments_total": [1.0, 2.0, 3.0],
    }
    np.testing.assert_array_equal(metrics.derived(m, "investor_loss"), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(metrics.derived(m, "municipal_loss"), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(metrics.derived(m, "investor_moic"), [0.8, 0.0, 1.4])
    # undefined IRRs: a loss at -100 %, a profit of 0 at the largest defined IRR
    np.testing.assert_array_equal(metrics.derived(m, "investor_irr"), [-1.0, 0.12, 0.12])
    out = metrics.derived(m, "payments_total")
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])
    with pytest.raises(KeyError):
        metrics.derived(m, "no_such_metric")
