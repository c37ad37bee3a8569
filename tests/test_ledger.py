"""The ledger (simrisk.ledger): weekly cost by perspective and the programme's cost, by
hand, against plain loops over the deal's rates and the simulated counts, and in closed
form."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np

from simrisk import ledger, rng, simulation
from simrisk.config import parse_deal
from simrisk.rates import DatedTable
from simrisk.sampling import Sampler, chunk_values
from simrisk.vocabulary import PERSPECTIVES, WEEKS_PER_YEAR
from tests import naive
from tests.conftest import load_raw, simple_raw


def _deal(raw: dict):
    raw = copy.deepcopy(raw)
    if isinstance(raw["deal"]["start_date"], str):
        raw["deal"]["start_date"] = dt.date.fromisoformat(raw["deal"]["start_date"])
    return parse_deal(raw, "ledger")


def _chunk(cfg, seed=4, n=4):
    """Kernel outputs, ledger arrays and the drawn {path: values} of one chunk."""
    st = simulation.build_structure(cfg)
    sampler = Sampler(cfg, seed, n)
    draws = sampler.draw(0, n)
    v = chunk_values(cfg, sampler, draws)
    sim = simulation.simulate(rng.seed_key(seed), 0, st, simulation.kernel_inputs(cfg, st, v))
    return st, sim, ledger.ledger_arrays(cfg, st, v), sampler.overrides(draws)


def _holbaek_with_dated_rates():
    """Holbæk, 150 weeks and an appraisal of 4 years (209 simulated weeks), 40 citizens,
    with drawn rates and regulation, tax on earnings and an equalisation share, and two
    benefits of its own with a flat indexation: one whose first rate is dated 1 January
    2025 (deflated back to 2024) and whose last is dated mid-year (indexed from the next
    1 January), one whose only rate is dated mid-2024 (the same rate earlier in 2024)."""
    raw = load_raw("holbaek")
    raw["deal"]["horizon_weeks"] = 150
    raw["economics"]["appraisal"]["years"] = 4
    raw["economics"]["equalisation_share"] = 0.2
    raw["economics"]["tax"]["municipal_share"] = 0.25
    raw["cohort"]["size"] = 40
    raw["cohort"]["enrolment"]["weeks"] = 40
    raw["cohort"]["segments"][0]["share"] = 0.5
    fit = {"uninsured": "kontanthjaelp_30plus"}
    raw["cohort"]["segments"] += [
        {"name": "own", "benefit": "own_benefit", "share": 0.15, "weeks_on_benefit": 3,
         "unemployed": fit},
        {"name": "mid", "benefit": "mid_year", "share": 0.15, "unemployed": fit},
    ]  # fmt: skip
    raw["economics"]["benefits"] = {
        "own_benefit": {
            "unit": "year",
            "refusion": 0.35,
            "indexation": 0.03,
            "rates": [
                {"from": dt.date(2025, 1, 1), "value": 200_000.0},
                {"from": dt.date(2025, 6, 15), "value": 210_000.0},
            ],
        },
        "mid_year": {  # first rate dated 1 September 2024: no 1 January back in 2024
            "unit": "month",
            "indexation": 0.04,
            "rates": [{"from": dt.date(2024, 9, 1), "value": 15_000.0}],
        },
    }
    raw["uncertainty"]["parameters"] += [
        {"path": p, "distribution": "uniform", "low": lo, "high": hi}
        for p, lo, hi in [
            ("economics.benefits.sygedagpenge.rates[1].value", 4500.0, 4900.0),
            ("economics.regulation.years[2].rate", 0.0, 0.05),
            ("economics.benefits.own_benefit.rates[0].value", 150_000.0, 250_000.0),
            ("economics.benefits.own_benefit.refusion", 0.1, 0.6),
            ("economics.benefits.mid_year.indexation", 0.0, 0.08),
            ("economics.tax.rate", 0.2, 0.4),
            ("economics.equalisation_share", 0.0, 0.5),
            ("labour.hours.full_time_wage", 18000.0, 26000.0),
            ("programme.phases[2].cost_per_week", 500.0, 1500.0),
            ("programme.setup_cost", 1e5, 5e5),
        ]
    ]
    return _deal(raw)


def test_weekly_cost_by_hand():
    """Two benefits, two weeks, two arms: gross = sum of weeks x rate, the state pays the
    refusion-weighted weeks x rate, the municipality the rest times what the equalisation
    leaves it (0.75); the tax per full-time week in work (2 municipal, 8 central) is
    taken off each perspective's cost."""
    bw = np.array([[[[2.0, 1.0], [0.0, 3.0]], [[1.0, 0.0], [1.0, 1.0]]]])  # (1, 2, 2, 2)
    rw = np.array([[[[1.6, 0.2], [0.0, 0.9]], [[0.8, 0.0], [0.4, 0.5]]]])
    fte = np.array([[[[0.0], [1.5]], [[1.0], [0.0]]]])  # (1, 2, 2, 1)
    rates = np.array([[[100.0, 10.0], [200.0, 20.0]]])  # (scenario, week, benefit)
    tax = np.array([[[2.0, 8.0], [2.0, 8.0]]])  # (scenario, week, municipal/central)
    mun, cen, pub = (np.full((1, 2, 2), np.nan) for _ in range(3))
    r, x = DatedTable.weekly(rates), DatedTable.weekly(tax)
    ledger._weekly_cost(
        bw, rw, fte, r.amounts, r.week_pair, x.amounts, x.week_pair, np.array([0.75]), mun,
        cen, pub,
    )  # fmt: skip
    # gross [[210, 60], [100, 220]], refund [[162, 18], [80, 90]]; tax 10 per fte
    np.testing.assert_allclose(pub[0], [[210.0, 60.0 - 15.0], [100.0 - 10.0, 220.0]])
    np.testing.assert_allclose(cen[0], [[162.0, 18.0 - 12.0], [80.0 - 8.0, 90.0]])
    np.testing.assert_allclose(
        mun[0], [[48.0 * 0.75, 42.0 * 0.75 - 3.0], [20.0 * 0.75 - 2.0, 130.0 * 0.75]]
    )


def test_programme_cost_by_hand():
    """Citizens per phase x cost per week, set-up in week 0; completed and dropped
    citizens (the last two columns) cost nothing."""
    pc = np.array([[[3.0, 0.0, 0.0, 0.0], [1.0, 2.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]])
    out = ledger._programme_cost(pc, np.array([[100.0, 40.0]]), np.array([1000.0]))
    np.testing.assert_allclose(out, [[1300.0, 180.0, 40.0]])


def test_ledger_arrays_match_the_deal():
    """Dated rates per week and benefit (drawn values, the shared regulation table, own
    indexations, benefits of the deal's own), the tax per full-time week (the regulated
    wage), what the equalisation leaves the municipality, the phases' costs and the
    set-up cost, against plain loops over the deal."""
    cfg = _holbaek_with_dated_rates()
    st, _, la, drawn = _chunk(cfg)
    n = la.rates.shape[0]
    assert st.horizon == 209 and la.rates.shape == (n, 209, len(st.benefit_types))
    assert st.benefit_types == naive.benefit_types(cfg)
    twin = naive.weekly_rates(cfg, drawn, n)
    np.testing.assert_allclose(la.rates, twin, rtol=1e-13)
    np.testing.assert_allclose(la.tax, naive.tax_weekly(cfg, drawn, n), rtol=1e-13)
    leaves = naive.Leaves(cfg, drawn)
    np.testing.assert_array_equal(
        la.kept, [1.0 - leaves(s, "economics", "equalisation_share") for s in range(n)]
    )
    # the drawn sygedagpenge rate differs by scenario, the own benefit's steps are real
    sy = st.benefit_types.index("sygedagpenge")
    assert np.ptp(la.rates[:, 0, sy]) > 0
    own = la.rates[0, :, st.benefit_types.index("own_benefit")]
    assert len(np.unique(own)) == 6  # deflated 2024, 2025 before/after 15 June, 2026-2028
    mid = la.rates[0, :, st.benefit_types.index("mid_year")]
    per_week = 15_000.0 * 12 / WEEKS_PER_YEAR
    growth = 1.0 + leaves(0, "economics", "benefits", "mid_year", "indexation")
    np.testing.assert_allclose(mid[:48], per_week, rtol=1e-13)  # weeks 0-47 are in 2024
    np.testing.assert_allclose(mid[48:100], per_week * growth, rtol=1e-13)  # 2025
    # the wage (and so the tax) grows with the shared table from 2025 (week 48)
    r2025 = leaves(0, "economics", "regulation", "years", 2, "rate")
    np.testing.assert_allclose(la.tax[0, 48, :] / la.tax[0, 47, :], 1.0 + r2025, rtol=1e-13)
    for s in range(n):
        for k in range(st.n_phases):
            assert la.phase_cost[s, k] == leaves(s, "programme", "phases", k, "cost_per_week")
        assert la.setup_cost[s] == leaves(s, "programme", "setup_cost")


def test_costs_match_plain_loops_over_the_deal():
    """Weekly cost by perspective from the simulated counts and full-time equivalents:
    against the twin's rates and tax (from the deal) to rounding, and against the same
    arrays bitwise (benefits are summed in a fixed order)."""
    cfg = _holbaek_with_dated_rates()
    _, sim, la, drawn = _chunk(cfg)
    got = ledger.costs(sim, la)
    assert list(got) == list(PERSPECTIVES)
    twin = naive.costs(
        sim.benefit_weeks, sim.refusion_weeks, naive.weekly_rates(cfg, drawn, 4), sim.work_fte,
        naive.tax_weekly(cfg, drawn, 4), [1.0 - naive.Leaves(cfg, drawn)(s, "economics",
        "equalisation_share") for s in range(4)],
    )  # fmt: skip
    same = naive.costs(
        sim.benefit_weeks, sim.refusion_weeks, la.rates, sim.work_fte, la.tax, la.kept
    )
    for k in PERSPECTIVES:
        assert got[k].shape == sim.benefit_weeks.shape[:3]
        np.testing.assert_allclose(got[k], twin[k], rtol=1e-12, atol=1e-6, err_msg=k)
        np.testing.assert_array_equal(got[k], same[k], err_msg=k)
    assert got["municipality"].sum() > 0 and (got["central_government"] > 0).any()
    # the tax matters: weeks whose public cost is below the benefits paid
    gross = (sim.benefit_weeks * la.rates[:, None]).sum(axis=3)
    assert (got["public"] < gross - 1.0).any()


def test_programme_cost_matches_plain_loops_over_the_deal():
    cfg = _holbaek_with_dated_rates()
    _, sim, la, drawn = _chunk(cfg)
    got = ledger.programme_cost(sim, la)
    np.testing.assert_array_equal(got, naive.programme_cost(cfg, drawn, sim.programme_count))
    assert np.ptp(got[:, 0]) > 0  # drawn set-up costs


def test_costs_in_closed_form():
    """Three citizens on kontanthjælp from week 0 who never leave: the public pays 3 x
    12,326 DKK/month (2024), regulated by the 2025 rate of the shared table (3.6 %) from
    1 January 2025 (week 53 starts 2025-01-06); the state's part follows the staircase
    80 % (weeks 1-4), 40 % (5-26), 30 % (27-52), 20 %."""
    raw = simple_raw(
        size=3, horizon=70, transitions=[{"from": "benefit", "to": "employed", "probability": 0.0}]
    )
    cfg = _deal(raw)
    assert {y.year: y.rate for y in cfg.economics.regulation.years}[2025] == 0.036
    _, sim, la, _ = _chunk(cfg, n=2)
    t = np.arange(70)
    rate = 12326 * 12 / WEEKS_PER_YEAR * np.where(t >= 53, 1.036, 1.0)
    nth = t + 1
    share = np.select([nth <= 4, nth <= 26, nth <= 52], [0.8, 0.4, 0.3], 0.2)
    got = ledger.costs(sim, la)
    expected = {
        "public": 3 * rate,
        "central_government": 3 * rate * share,
        "municipality": 3 * rate * (1 - share),
    }
    for k, x in expected.items():
        np.testing.assert_allclose(got[k], np.broadcast_to(x, (2, 2, 70)), rtol=1e-12, err_msg=k)


def test_tax_and_equalisation_in_closed_form():
    """Three citizens on kontanthjælp in week 0, in a full-time job from week 1 on (a
    weekly probability of 1) at 25,000 DKK a month: counted earnings (92 %) above the
    a-dagpenge maximum, so the job keeps no kontanthjælp. Tax 30 % of the wage, a quarter
    of it municipal; 20 % equalisation: week 0 costs the municipality 3 x rate x 20 %
    (refusion 80 %) x 0.8; from week 1 each perspective gains its part of the tax on 3
    full-time wages, regulated by 3.6 % from 2025."""
    raw = simple_raw(
        size=3, horizon=70, transitions=[{"from": "benefit", "to": "employed", "probability": 1.0}]
    )
    raw["labour"]["hours"] = {"full_time_share": 1.0, "full_time_wage": 25000.0}
    raw["economics"]["tax"] = {"rate": 0.3, "municipal_share": 0.25}
    raw["economics"]["equalisation_share"] = 0.2
    cfg = _deal(raw)
    _, sim, la, _ = _chunk(cfg, n=2)
    t = np.arange(70)
    np.testing.assert_array_equal(sim.work_fte[..., 0], np.broadcast_to(3.0 * (t >= 1), (2, 2, 70)))
    np.testing.assert_array_equal(sim.benefit_weeks[:, :, 1:].sum(), 0.0)  # nothing kept
    rate = 12326 * 12 / WEEKS_PER_YEAR
    tax = 0.3 * 25000 * 12 / WEEKS_PER_YEAR * np.where(t >= 53, 1.036, 1.0) * 3 * (t >= 1)
    got = ledger.costs(sim, la)
    week0 = np.where(t == 0, 3 * rate, 0.0)
    expected = {
        "public": week0 - tax,
        "central_government": 0.8 * week0 - 0.75 * tax,
        "municipality": 0.2 * week0 * 0.8 - 0.25 * tax,
    }
    for k, x in expected.items():
        np.testing.assert_allclose(got[k], np.broadcast_to(x, (2, 2, 70)), rtol=1e-12, err_msg=k)


def test_programme_cost_in_closed_form():
    """Ten citizens from week 0, no dropout (and none leaves for good, which would end the
    programme): 4 weeks at 100 and 6 at 50 DKK per citizen-
    week, 1,000 set-up; nothing once completed. Total 1,000 + 10 x (400 + 300)."""
    phases = [
        {"name": "a", "weeks": 4, "cost_per_week": 100.0},
        {"name": "b", "weeks": 6, "cost_per_week": 50.0},
    ]
    jobs_only = [{"from": "benefit", "to": "employed", "probability": 0.1}]  # nobody moves away
    raw = simple_raw(
        size=10, horizon=20, phases=phases, effect={"job_entry": [1.0, 1.0]}, transitions=jobs_only
    )
    raw["programme"]["setup_cost"] = 1000.0
    _, sim, la, _ = _chunk(_deal(raw), n=2)
    got = ledger.programme_cost(sim, la)
    expected = np.r_[2000.0, [1000.0] * 3, [500.0] * 6, [0.0] * 10]
    np.testing.assert_array_equal(got, np.stack([expected, expected]))
    assert got.sum() == 2 * (1000 + 10 * 700)


def test_su_costs_the_central_government_in_closed_form():
    """Three citizens on kontanthjælp in week 0 start an education on SU (a weekly
    probability of 1) and stay: SU is refunded in full, so from week 1 the municipality
    pays nothing and the central government (and the public sector) the SU rate, 6,820
    DKK a month (dated 2024-01-01, at the 2024 level) and from week 53 (2025-01-06) the
    same regulated by 3.6 %."""
    raw = simple_raw(
        size=3, horizon=70, transitions=[{"from": "benefit", "to": "education", "probability": 1.0}]
    )
    raw["economics"]["education_benefit"] = "su"
    cfg = _deal(raw)
    st, sim, la, _ = _chunk(cfg, n=2)
    t = np.arange(70)
    su = 6820 * 12 / WEEKS_PER_YEAR * np.where(t >= 53, 1.036, 1.0)
    np.testing.assert_allclose(la.rates[0, :, st.benefit_types.index("su")], su, rtol=1e-13)
    kh = 12326 * 12 / WEEKS_PER_YEAR
    got = ledger.costs(sim, la)
    week0 = np.where(t == 0, 3 * kh, 0.0)
    expected = {
        "public": week0 + 3 * su * (t >= 1),
        "central_government": 0.8 * week0 + 3 * su * (t >= 1),
        "municipality": 0.2 * week0,
    }
    for k, x in expected.items():
        np.testing.assert_allclose(
            got[k], np.broadcast_to(x, (2, 2, 70)), rtol=1e-12, atol=1e-6, err_msg=k
        )
