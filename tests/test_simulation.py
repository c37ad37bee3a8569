"""The simulation (simrisk.simulation: inputs, kernel, simulate): a week-by-week twin built
from the deal, closed-form cases, Monte Carlo checks with tolerances from the standard
error, and chunk/workspace independence."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest

from simrisk import rng, simulation
from simrisk.config import parse_deal
from simrisk.sampling import Sampler, chunk_values
from simrisk.simulation.kernel import _prefix_weeks
from simrisk.vocabulary import (
    BENEFIT,
    EDUCATION,
    EMPLOYED,
    EV_EDUCATION,
    EV_JOB,
    EV_SUST13,
    EV_SUST26,
    EV_SUST52,
    HR_JOB_ENTRY,
    MOVED,
    PERMANENT,
)
from tests import naive
from tests.conftest import load_raw, simple_raw

EXACT_FIELDS = ("entry", "events", "checks", "state_count", "benefit_weeks", "programme_count")
"""Outputs the twin must reproduce exactly (refusion_weeks: to 1e-9, a sum of shares)."""


def _deal(raw: dict, name: str = "test"):
    raw = copy.deepcopy(raw)
    if isinstance(raw["deal"]["start_date"], str):
        raw["deal"]["start_date"] = dt.date.fromisoformat(raw["deal"]["start_date"])
    return parse_deal(raw, name)


def _run(cfg, seed, scen0, n, control=False, entry=None):
    """The fast path as the engine takes it: draws -> Values -> kernel inputs -> kernel.
    Returns (structure, kernel inputs, outputs, the drawn {path: values})."""
    st = simulation.build_structure(cfg)
    sampler = Sampler(cfg, seed, scen0 + n)
    draws = sampler.draw(scen0, n)
    v = chunk_values(cfg, sampler, draws)
    if control:
        entry = st.control_entry
    kin = simulation.kernel_inputs(cfg, st, v, entry=entry)
    sim = simulation.simulate(rng.seed_key(seed), scen0, st, kin, control=control)
    return st, kin, sim, sampler.overrides(draws)


# ---------------------------------------------------------------- the naive twin
def _holbaek_variant(
    *,
    job_loss=True,
    benefit_effect=True,
    job_entry_effect=True,
    control=False,
    more_drawn=False,
):
    """Holbæk, small (40 citizens, 120 weeks), with dropouts, permanent exits, a calendar
    shock, a short refusion reset and two outcome targets (check weeks)."""
    raw = load_raw("holbaek")
    raw["deal"]["horizon_weeks"] = 120
    raw["cohort"]["size"] = 40
    raw["cohort"]["enrolment"]["weeks"] = 30
    raw["programme"]["phases"][2]["dropout"] = 0.05  # some dropouts
    raw["labour"]["transitions"][2]["probability"] = 0.01  # some permanent exits
    raw["labour"]["calendar"] = [
        {"start": dt.date(2024, 6, 1), "end": dt.date(2025, 1, 1), "job_entry_multiplier": 0.5},
        {"start": dt.date(2024, 11, 1), "end": dt.date(2025, 3, 1), "job_entry_multiplier": 1.7},
    ]
    raw["economics"]["refusion"] = {
        "steps": [
            {"from_week": 1, "state_share": 0.8},
            {"from_week": 5, "state_share": 0.4},
            {"from_week": 27, "state_share": 0.3},
            {"from_week": 53, "state_share": 0.2},
        ],
        "reset_weeks": 8,  # short, so that resets happen within the horizon
    }
    raw["contract"]["mechanisms"] += [
        {"kind": "target", "outcome": "employed", "at_week": 26, "threshold": 0.3, "payment": 1.0},
        {"kind": "target", "outcome": "off_benefit", "at_week": 52, "threshold": 0.3, "payment": 1},
    ]
    if not job_loss:
        del raw["effect"]["job_loss"]
    if not benefit_effect:
        raw["effect"]["job_entry"] = [1.0] * len(raw["effect"]["job_entry"])
        del raw["effect"]["education_entry"]
        raw["uncertainty"]["parameters"] = [
            p
            for p in raw["uncertainty"]["parameters"]
            if not p["path"].startswith(("effect.job_entry", "effect.education_entry"))
        ]
    if not job_entry_effect:  # the programme moves benefit's hazards by education only
        raw["effect"]["job_entry"] = [1.0] * len(raw["effect"]["job_entry"])
        raw["uncertainty"]["parameters"] = [
            p for p in raw["uncertainty"]["parameters"] if not p["path"].startswith("effect.job_")
        ]
    if control:
        raw["contract"]["measurement"] = "control_group"
        raw["contract"]["control_size"] = 30
    if more_drawn:
        # draw leaves of every kind the kernel reads, so that each path is exercised
        raw["cohort"]["frailty_variance"] = 1.5
        raw["uncertainty"]["parameters"] = [
            p for p in raw["uncertainty"]["parameters"] if p["path"] != "cohort.frailty_variance"
        ] + [
            {"path": p, "distribution": "uniform", "low": lo, "high": hi}
            for p, lo, hi in [
                ("cohort.frailty_variance", 1.1, 2.5),  # gamma shape below 1
                ("cohort.enrolment.delay_weeks", 0.0, 6.0),
                ("cohort.segments[1].job_hazard_ratio", 0.3, 1.2),
                ("labour.transitions[4].probability[1]", 0.01, 0.05),
                ("labour.transitions[6].probability", 0.02, 0.2),
                ("programme.phases[3].dropout", 0.01, 0.1),
                ("effect.education_entry[1]", 2.0, 8.0),
                ("effect.job_loss[3]", 0.2, 0.9),
                ("economics.refusion.steps[1].state_share", 0.1, 0.9),
                ("economics.benefits.foertidspension.refusion", 0.3, 0.9),
            ]
        ]
    return _deal(raw, "twin")


def _simple_variant(kind: str):
    if kind == "simple":  # every kind of hazard ratio, the effect gone after one block
        raw = simple_raw(size=30, horizon=80, weeks_on_benefit=3)
        raw["effect"] = {
            "job_entry": [1.8],
            "education_entry": [1.3],
            "job_loss": [0.6],
            "persistence": 0.0,
            "fade_block_weeks": 6,
        }
        raw["programme"]["phases"][0]["dropout"] = 0.03
        raw["labour"]["calendar"] = [  # weeks 1..4: the calendar changes in week 1
            {"start": dt.date(2024, 1, 8), "end": dt.date(2024, 2, 5), "job_entry_multiplier": 2.5}
        ]
    elif kind == "certain":  # weekly probabilities of 1: the capped hazard
        raw = simple_raw(
            size=20,
            horizon=50,
            transitions=[
                {
                    "from": "benefit",
                    "to": "employed",
                    "probability": [0.0, 1.0],
                    "from_week": [0, 3],
                },
                {
                    "from": "benefit",
                    "to": "education",
                    "probability": [0.1, 1.0],
                    "from_week": [0, 3],
                },
                {"from": "employed", "to": "benefit", "probability": 0.2},
                {"from": "education", "to": "benefit", "probability": 1.0},
            ],
            effect={"job_entry": [2.0], "persistence": 0.9},
        )
        raw["economics"]["permanent_benefit"] = None
    elif kind == "segments":  # two segments, counts schedule, staircase in permanent
        raw = simple_raw(size=30, horizon=90, weeks_on_benefit=20)
        raw["cohort"]["enrolment"] = {
            "schedule": "counts",
            "counts": [7, 0, 13, 10],
            "period_weeks": 5,
            "delay_weeks": 2.5,
        }
        raw["cohort"]["uptake"] = 0.8
        raw["cohort"]["frailty_variance"] = 0.7
        raw["cohort"]["segments"] = [
            {"name": "a", "benefit": "kontanthjaelp_30plus", "share": 0.35, "weeks_on_benefit": 20},
            {"name": "b", "benefit": "sygedagpenge", "share": 0.65, "job_hazard_ratio": 0.5},
        ]
        raw["economics"]["permanent_benefit"] = "kontanthjaelp_30plus"
        raw["economics"]["refusion"] = {
            "steps": [{"from_week": 1, "state_share": 0.9}, {"from_week": 25, "state_share": 0.5}],
            "reset_weeks": 3,
        }
        raw["labour"]["transitions"] += [
            {"from": "benefit", "to": "permanent", "probability": 0.02},
            {"from": "education", "to": "employed", "probability": 0.05},
        ]
        raw["labour"]["job_entry_multiplier"] = 1.4
        raw["programme"]["phases"] = [
            {"name": "a", "weeks": 4, "cost_per_week": 1.0, "dropout": 0.05},
            {"name": "b", "weeks": 9, "cost_per_week": 1.0, "dropout": 0.02},
        ]
        raw["effect"] = {"job_entry": [0.7, 2.5], "persistence": 1.0, "fade_block_weeks": 10}
        raw["contract"]["mechanisms"].append(
            {"kind": "target", "outcome": "employed", "at_week": 30, "threshold": 0.2, "payment": 1}
        )
        raw["contract"]["measurement"] = "control_group"
        raw["contract"]["control_size"] = 25  # counts 7, 0, 13, 10 -> 6, 0, 11, 8 (rounded)
    return _deal(raw, kind)


def _assert_twin(cfg, seed, scen0, n, control=False, entry=None):
    st, kin, fast, drawn = _run(cfg, seed, scen0, n, control, entry)
    slow = naive.simulate(
        cfg, drawn, n, naive.seed_key(seed), scen0, control=control,
        entry=None if entry is None else list(entry),
    )  # fmt: skip
    assert naive.benefit_types(cfg) == st.benefit_types
    for name in EXACT_FIELDS:
        np.testing.assert_array_equal(getattr(fast, name), slow[name], err_msg=name)
    np.testing.assert_allclose(fast.refusion_weeks, slow["refusion_weeks"], rtol=0, atol=1e-9)
    return st, kin, fast


@pytest.mark.parametrize(
    ("job_loss", "benefit_effect", "job_entry_effect", "control", "more_drawn"),
    [
        (True, True, True, False, False),
        (True, True, True, True, False),
        (False, True, True, False, False),
        (True, False, False, False, False),
        (True, True, False, False, False),
        (True, True, True, False, True),
    ],
    ids=[
        "holbaek",
        "control_group",
        "no_job_loss",
        "no_benefit_effect",
        "education_effect_only",
        "more_drawn",
    ],
)
def test_kernel_equals_twin_on_holbaek_variants(
    job_loss, benefit_effect, job_entry_effect, control, more_drawn
):
    """Same draws, same answer: the event-driven kernel on the prepared arrays, and a
    week-by-week twin that reads the deal itself.

    Without a job-loss ratio the programme does not touch a job's hazards, without job-
    and education-entry ratios not those of benefit: the kernel then runs through the
    programme's changes in one stretch."""
    cfg = _holbaek_variant(
        job_loss=job_loss,
        benefit_effect=benefit_effect,
        job_entry_effect=job_entry_effect,
        control=control,
        more_drawn=more_drawn,
    )
    st, kin, fast = _assert_twin(cfg, 99, 5, 5, control=control)
    dep = kin.programme.ctx_dep
    assert dep[:, EMPLOYED].all() == job_loss
    assert dep[:, BENEFIT].all() == benefit_effect
    assert not dep[:, EDUCATION].any()
    # the test exercises what it claims: job entries, permanent exits, dropouts, checks
    sc = fast.state_count
    assert sc[:, 0, :, EMPLOYED].sum() > 0 and sc[:, 0, :, PERMANENT].sum() > 0
    assert (fast.checks[:, 0] >= 0).any()
    if not control:
        assert fast.programme_count[:, -1, -1].sum() > 0  # dropped
        assert (fast.events[:, 1, :, EV_SUST13] >= 0).any()
    else:
        assert len(st.control_entry) == 30 and fast.entry.shape == (5, 30)


@pytest.mark.parametrize("kind", ["simple", "certain", "segments"])
def test_kernel_equals_twin_on_simple_deals(kind):
    cfg = _simple_variant(kind)
    _, _, fast = _assert_twin(cfg, 7, 0, 4)
    assert fast.state_count[:, :, :, EMPLOYED].sum() > 0


def test_kernel_equals_twin_for_a_rescaled_control_group():
    cfg = _simple_variant("segments")
    st, _, fast = _assert_twin(cfg, 6, 1, 4, control=True)
    assert len(st.control_entry) == 25
    np.testing.assert_array_equal(fast.state_count[:, 1], 0.0)  # no treatment arm


def test_kernel_equals_twin_with_entry_replaced():
    """``kernel_inputs(entry=...)`` (the baseline's everyone-in-week-0)."""
    cfg = _simple_variant("segments")
    entry = np.zeros(cfg.cohort.size, np.int64)
    _assert_twin(cfg, 3, 2, 3, entry=entry)


# ---------------------------------------------------------------- closed forms
def _one_transition(
    p,
    *,
    size=100,
    horizon=60,
    from_week=None,
    weeks_on_benefit=0,
    calendar=(),
    frailty_variance=0.0,
):
    """Everyone on benefit in week 0, one way out: benefit -> employed at ``p``."""
    tr = {"from": "benefit", "to": "employed", "probability": p}
    if from_week is not None:
        tr["from_week"] = from_week
    raw = simple_raw(
        size=size, horizon=horizon, transitions=[tr], weeks_on_benefit=weeks_on_benefit
    )
    raw["labour"]["calendar"] = list(calendar)
    raw["cohort"]["frailty_variance"] = frailty_variance
    return _deal(raw)


def test_certain_exit_takes_exactly_one_week():
    """A weekly probability of 1 (the capped hazard): everyone is on benefit in week 0 and
    in a job from week 1 on; the job events follow from the spell alone."""
    cfg = _one_transition(1.0, size=10, horizon=60)
    _, _, sim, _ = _run(cfg, 1, 0, 2)
    sc = sim.state_count
    np.testing.assert_array_equal(sc[:, :, 0, BENEFIT], 10.0)
    np.testing.assert_array_equal(sc[:, :, 1:, EMPLOYED], 10.0)
    assert sc[:, :, 1:, BENEFIT].sum() == 0
    ev = sim.events
    np.testing.assert_array_equal(ev[..., EV_JOB], 1)
    np.testing.assert_array_equal(ev[..., EV_SUST13], 13)
    np.testing.assert_array_equal(ev[..., EV_SUST26], 26)
    np.testing.assert_array_equal(ev[..., EV_SUST52], 52)
    np.testing.assert_array_equal(ev[..., EV_EDUCATION], -1)


def _weeks(n):
    return dt.timedelta(weeks=n)


@pytest.mark.parametrize("case", ["constant", "calendar", "pieces"])
def test_share_on_benefit_is_geometric(case):
    """One transition benefit -> employed at weekly probability p: the share still on
    benefit after t weeks is (1 - p)^t, i.e. exp(-h t) with h = -log(1 - p). A calendar
    shock multiplies h in its weeks; duration pieces change h by weeks on benefit (counted
    from the weeks already on benefit at entry). Tolerance 4 Monte Carlo standard errors
    of a binomial share over scenarios x citizens (all independent)."""
    p, size, n = 0.04, 100, 200
    start = dt.date(2024, 1, 1)
    h = -np.log1p(-p)
    t = np.arange(60)
    if case == "constant":
        cfg = _one_transition(p, size=size)
        cum = h * t
    elif case == "calendar":  # weeks 10..19 at three times the hazard
        shock = [
            {"start": start + _weeks(10), "end": start + _weeks(20), "job_entry_multiplier": 3.0}
        ]
        cfg = _one_transition(p, size=size, calendar=shock)
        cum = h * (t + 2.0 * np.clip(t - 10, 0, 10))
    else:  # 0.01 for the first 10 weeks on benefit, then 0.1; 4 weeks at entry
        cfg = _one_transition([0.01, 0.1], size=size, weeks_on_benefit=4, from_week=[0, 10])
        h1, h2 = -np.log1p(-0.01), -np.log1p(-0.1)
        cum = h1 * np.minimum(t, 6) + h2 * np.maximum(t - 6, 0)
    _, _, sim, _ = _run(cfg, 21, 0, n)
    share = sim.state_count[:, 0, :, BENEFIT].mean(axis=0) / size
    expected = np.exp(-cum)
    se = np.sqrt(expected * (1 - expected) / (n * size))
    weeks = [3, 8, 12, 18, 25, 40]
    z = np.abs(share[weeks] - expected[weeks]) / se[weeks]
    assert z.max() < 4.0, f"z = {z}"


@pytest.mark.parametrize("variance", [0.5, 1.5])
def test_gamma_frailty_gives_the_laplace_survival(variance):
    """With a gamma frailty Z (mean 1, variance s2) on the job-entry hazard h, the share on
    benefit after t weeks is E[exp(-Z h t)] = (1 + s2 h t)^(-1/s2). Variance 1.5 takes the
    generator's shape-below-1 branch. 4 standard errors of a binomial share."""
    p, size, n = 0.05, 100, 200
    cfg = _one_transition(p, size=size, frailty_variance=variance)
    _, _, sim, _ = _run(cfg, 5, 0, n)
    h = -np.log1p(-p)
    share = sim.state_count[:, 0, :, BENEFIT].mean(axis=0) / size
    weeks = np.array([5, 15, 30, 50])
    expected = (1 + variance * h * weeks) ** (-1 / variance)
    se = np.sqrt(expected * (1 - expected) / (n * size))
    z = np.abs(share[weeks] - expected) / se
    assert z.max() < 4.0, f"z = {z}"
    # and not the survival without frailty (the test can tell them apart)
    assert np.abs(share[weeks[-1]] - np.exp(-h * weeks[-1])) > 10 * se[-1]


def test_mean_weeks_to_first_job_is_one_over_p():
    """Weeks from entry to the first job are geometric on {1, 2, ...}: mean 1/p, standard
    deviation sqrt(1 - p)/p; tolerance 4 standard errors of the mean over all citizens.
    (P(no job within the horizon) = (1-p)^199, negligible.)"""
    p, size, n = 0.1, 100, 100
    cfg = _one_transition(p, size=size, horizon=200)
    _, _, sim, _ = _run(cfg, 17, 0, n)
    first = sim.events[:, 0, :, EV_JOB]
    assert (first > 0).all()
    se = np.sqrt(1 - p) / p / np.sqrt(first.size)
    assert abs(first.mean() - 1 / p) < 4 * se
    # the whole distribution: share with T = 1 is p, with T <= 10 is 1 - (1-p)^10
    for k in (1, 10):
        q = 1 - (1 - p) ** k
        assert abs((first <= k).mean() - q) < 4 * np.sqrt(q * (1 - q) / first.size)


def _weekly_matrix(probs: dict) -> np.ndarray:
    """Exact weekly transition matrix of the competing-hazards model."""
    M = np.zeros((5, 5))
    names = ("benefit", "employed", "education", "permanent", "moved")
    for a in range(5):
        h = np.zeros(5)
        for (f, t), p in probs.items():
            if f == names[a]:
                h[names.index(t)] = -np.log1p(-p)
        total = h.sum()
        M[a, a] = np.exp(-total)
        if total > 0:
            M[a] += (1 - np.exp(-total)) * h / total
    return M


def test_constant_model_matches_matrix_powers():
    """Mean weekly occupancy equals pi0 M^t (competing hazards; the destination in
    proportion to the hazards); 5 standard errors of a share, over 60 weeks x 5 states."""
    probs = {
        ("benefit", "employed"): 0.05,
        ("benefit", "moved"): 0.01,
        ("benefit", "permanent"): 0.004,
        ("employed", "benefit"): 0.03,
        ("employed", "education"): 0.02,
        ("education", "benefit"): 0.04,
    }
    transitions = [{"from": f, "to": t, "probability": p} for (f, t), p in probs.items()]
    cfg = _deal(simple_raw(size=100, horizon=60, transitions=transitions))
    n = 400
    _, _, sim, _ = _run(cfg, 3, 0, n)
    M = _weekly_matrix(probs)
    pi = np.zeros(5)
    pi[0] = 1.0
    expected = np.empty((60, 5))
    for t in range(60):
        expected[t] = pi
        pi = pi @ M
    mean = sim.state_count[:, 0].mean(axis=0) / 100.0  # (week, state)
    se = np.sqrt(expected * (1 - expected) / (n * 100)) + 1e-12
    z = np.abs(mean - expected) / se
    assert z.max() < 5.0, f"max z-score {z.max():.2f}"
    # the treatment arm with hazard ratio 1 and no dropout is the same process
    np.testing.assert_array_equal(sim.state_count[:, 0], sim.state_count[:, 1])


def test_two_state_chain_occupancy():
    """benefit <-> employed at p and q: the share employed at t is
    p/(p+q) (1 - (1-p-q)^t) for the weekly chain with h = -log(1-p), -log(1-q) (each
    state has one way out, so the weekly chain is exact). 4 SE of a share."""
    p, q, size, n = 0.08, 0.05, 100, 200
    transitions = [
        {"from": "benefit", "to": "employed", "probability": p},
        {"from": "employed", "to": "benefit", "probability": q},
    ]
    cfg = _deal(simple_raw(size=size, horizon=60, transitions=transitions))
    _, _, sim, _ = _run(cfg, 8, 0, n)
    weeks = np.array([1, 5, 20, 59])
    expected = p / (p + q) * (1 - (1 - p - q) ** weeks)
    share = sim.state_count[:, 0, weeks, EMPLOYED].mean(axis=0) / size
    se = np.sqrt(expected * (1 - expected) / (n * size))
    assert (np.abs(share - expected) < 4 * se).all(), (share, expected)


def test_effect_raises_job_entries_by_the_hazard_ratio():
    """Only benefit -> employed at p, hazard ratio r in the single phase: the share
    employed after w weeks (inside the phase) is 1 - (1-p)^(r w); 4 standard errors."""
    p, r, w = 0.02, 2.0, 10
    raw = simple_raw(
        size=200,
        horizon=40,
        transitions=[{"from": "benefit", "to": "employed", "probability": p}],
        effect={"job_entry": [r]},
    )
    cfg = _deal(raw)
    n = 200
    _, _, sim, _ = _run(cfg, 11, 0, n)
    emp = sim.state_count[:, :, w, EMPLOYED] / 200.0  # (scenario, arm)
    for arm, ratio in ((0, 1.0), (1, r)):
        expected = 1 - (1 - p) ** (ratio * w)
        se = np.sqrt(expected * (1 - expected) / (n * 200))
        assert abs(emp[:, arm].mean() - expected) < 4 * se
    # common random numbers: a higher hazard never delays a citizen's first job
    first = sim.events[:, :, :, EV_JOB]
    both = (first[:, 0] >= 0) & (first[:, 1] >= 0)
    assert both.any() and (first[:, 1][both] <= first[:, 0][both]).all()
    assert not ((first[:, 0] >= 0) & (first[:, 1] < 0)).any()


def test_dropout_share_is_geometric():
    """Completion probability = prod over phases of (1 - d_k)^weeks_k; 4 standard
    errors. Phases, completed and dropped together hold every citizen every week."""
    phases = [
        {"name": "a", "weeks": 5, "cost_per_week": 1.0, "dropout": 0.02},
        {"name": "b", "weeks": 8, "cost_per_week": 1.0, "dropout": 0.05},
    ]
    raw = simple_raw(
        size=100,
        horizon=30,
        phases=phases,
        effect={"job_entry": [1.0, 1.0]},
        transitions=[{"from": "benefit", "to": "employed", "probability": 0.0}],
    )
    cfg = _deal(raw)
    n = 300
    _, _, sim, _ = _run(cfg, 5, 0, n)
    pc = sim.programme_count
    completed = pc[:, 29, 2] / 100.0
    expected = 0.98**5 * 0.95**8
    se = np.sqrt(expected * (1 - expected) / (n * 100))
    assert abs(completed.mean() - expected) < 4 * se
    # after phase a: (1 - 0.02)^5 still on the programme
    in_b = pc[:, 5, 1] / 100.0
    e5 = 0.98**5
    assert abs(in_b.mean() - e5) < 4 * np.sqrt(e5 * (1 - e5) / (n * 100))
    np.testing.assert_array_equal(pc.sum(axis=2), 100.0)


def test_fade_of_the_effect_by_hand():
    """Hazard ratios by programme context for a hand-worked deal: two phases, then the
    excess of the last phase times persistence^j in fade block j, until the first block
    whose excess is below 1 % of the excess at completion (0.5^7 < 0.01 <= 0.5^6), and
    no more fade blocks than fit in the horizon."""
    phases = [
        {"name": "a", "weeks": 3, "cost_per_week": 1.0},
        {"name": "b", "weeks": 4, "cost_per_week": 1.0},
    ]
    raw = simple_raw(size=2, horizon=200, phases=phases)
    raw["effect"] = {
        "job_entry": [0.5, 3.0],
        "job_loss": [0.8, 0.6],
        "persistence": 0.5,
        "fade_block_weeks": 20,
    }
    cfg = _deal(raw)
    st, kin, _, _ = _run(cfg, 1, 0, 1)
    prog = kin.programme
    assert st.n_fade == 10 and prog.n_fade[0] == 7
    j = np.arange(1, 11)
    job = np.r_[1.0, 0.5, 3.0, np.where(j <= 7, 1 + 2.0 * 0.5**j, 1.0)]
    loss = np.r_[1.0, 0.8, 0.6, np.where(j <= 7, 1 - 0.4 * 0.5**j, 1.0)]
    np.testing.assert_allclose(prog.hr[0, :, 0], job, rtol=1e-15)
    np.testing.assert_array_equal(prog.hr[0, :, 1], 1.0)  # no education-entry ratios
    np.testing.assert_allclose(prog.hr[0, :, 2], loss, rtol=1e-15)
    # a short horizon caps the fade at the blocks that fit
    raw["deal"]["horizon_weeks"] = 50
    st2, kin2, _, _ = _run(_deal(raw), 1, 0, 1)
    assert st2.n_fade == 3 and kin2.programme.n_fade[0] == 3
    np.testing.assert_allclose(kin2.programme.hr[0, 3:, HR_JOB_ENTRY], 1 + 2.0 * 0.5 ** j[:3])


def test_duration_pieces_on_the_union_of_edges():
    """Each transition's probability by weeks in state, on the union of the deal's
    from_week edges; piece_next points to the next piece whose hazards differ."""
    transitions = [
        {"from": "benefit", "to": "employed", "probability": [0.1, 0.2], "from_week": [0, 10]},
        {"from": "benefit", "to": "moved", "probability": [0.01, 0.01], "from_week": [0, 30]},
        {"from": "employed", "to": "benefit", "probability": [0.3, 0.4], "from_week": [0, 30]},
    ]
    cfg = _deal(simple_raw(size=2, horizon=40, transitions=transitions))
    _, kin, _, _ = _run(cfg, 1, 0, 1)
    lab = kin.labour
    np.testing.assert_array_equal(lab.dur_edges, [0, 10, 30])
    h = lambda p: -np.log1p(-p)  # noqa: E731
    np.testing.assert_allclose(lab.haz[0, BENEFIT, :, EMPLOYED], h(np.array([0.1, 0.2, 0.2])))
    np.testing.assert_allclose(lab.haz[0, BENEFIT, :, MOVED], h(0.01))
    np.testing.assert_allclose(lab.haz[0, EMPLOYED, :, BENEFIT], h(np.array([0.3, 0.3, 0.4])))
    # benefit's hazards change at 10, not at 30; employed's at 30 only; education never
    np.testing.assert_array_equal(lab.piece_next[0, BENEFIT], [1, 3, 3])
    np.testing.assert_array_equal(lab.piece_next[0, EMPLOYED], [2, 2, 3])
    np.testing.assert_array_equal(lab.piece_next[0, EDUCATION], [3, 3, 3])


def test_uptake_and_segment_shares():
    """Enrolment with probability ``uptake``; segments drawn by their shares (seen in the
    benefit type in week 0, everyone entering then). 4 binomial standard errors."""
    raw = simple_raw(size=100, horizon=20)
    raw["cohort"]["uptake"] = 0.7
    raw["cohort"]["segments"] = [
        {"name": "a", "benefit": "kontanthjaelp_30plus", "share": 0.25},
        {"name": "b", "benefit": "sygedagpenge", "share": 0.75},
    ]
    cfg = _deal(raw)
    n = 200
    st, _, sim, _ = _run(cfg, 4, 0, n)
    enrolled = sim.entry >= 0
    se = np.sqrt(0.7 * 0.3 / enrolled.size)
    assert abs(enrolled.mean() - 0.7) < 4 * se
    a = st.benefit_types.index("kontanthjaelp_30plus")
    share_a = sim.benefit_weeks[:, 0, 0, a].sum() / enrolled.sum()
    assert abs(share_a - 0.25) < 4 * np.sqrt(0.25 * 0.75 / enrolled.sum())


def _cycle_deal(job_weeks: int, reset_weeks: int, horizon: int = 40):
    """A deterministic cycle: 4 weeks on benefit (probability 0 for 3 weeks in state, then
    1), ``job_weeks`` in a job, and again; a three-step staircase."""
    transitions = [
        {"from": "benefit", "to": "employed", "probability": [0.0, 1.0], "from_week": [0, 3]},
        {
            "from": "employed",
            "to": "benefit",
            "probability": [0.0, 1.0],
            "from_week": [0, job_weeks - 1],
        },
    ]
    raw = simple_raw(size=3, horizon=horizon, transitions=transitions)
    raw["economics"]["refusion"] = {
        "steps": [
            {"from_week": 1, "state_share": 0.8},
            {"from_week": 5, "state_share": 0.4},
            {"from_week": 7, "state_share": 0.3},
        ],
        "reset_weeks": reset_weeks,
    }
    raw["contract"]["mechanisms"] += [
        {"kind": "target", "outcome": "employed", "at_week": w, "threshold": 0.1, "payment": 1}
        for w in (6, 8)
    ]
    return _deal(raw)


@pytest.mark.parametrize(("job_weeks", "reset"), [(5, 5), (4, 5)])
def test_refusion_reset_on_a_deterministic_cycle(job_weeks, reset):
    """Benefit weeks 0-3, a job of ``job_weeks``, benefit again, ... The staircase counts
    benefit weeks (80 % for weeks 1-4, 40 % for 5-6, 30 % after); a job of at least
    ``reset_weeks`` starts the count again, a shorter one does not."""
    H = 40
    cfg = _cycle_deal(job_weeks, reset, H)
    _, _, sim, _ = _run(cfg, 2, 0, 1)
    period = 4 + job_weeks
    on_benefit = (np.arange(H) % period) < 4
    counted, shares = 0, []
    for t in range(H):
        if on_benefit[t]:
            if t % period == 0 and t > 0 and job_weeks >= reset:
                counted = 0
            counted += 1
            shares.append(0.8 if counted <= 4 else 0.4 if counted <= 6 else 0.3)
        else:
            shares.append(0.0)
    shares = np.array(shares)
    if job_weeks == 5:  # a reset after every job: always in the first four weeks
        np.testing.assert_array_equal(shares[on_benefit], 0.8)
    else:  # weeks 8-11 are the 5th-8th benefit weeks: 0.4, 0.4, 0.3, 0.3
        np.testing.assert_array_equal(shares[8:12], [0.4, 0.4, 0.3, 0.3])
    for arm in (0, 1):
        np.testing.assert_array_equal(sim.benefit_weeks[0, arm, :, 0], 3.0 * on_benefit)
        np.testing.assert_allclose(sim.refusion_weeks[0, arm, :, 0], 3.0 * shares, atol=1e-12)
        np.testing.assert_array_equal(sim.state_count[0, arm, :, EMPLOYED], 3.0 * ~on_benefit)
        # events and checks: first job in week 4; in a job 6 weeks after entry; 8 weeks
        # after entry still in the job if it lasts 5 weeks (4..8), back on benefit if 4
        np.testing.assert_array_equal(sim.events[0, arm, :, EV_JOB], 4)
        np.testing.assert_array_equal(sim.events[0, arm, :, EV_SUST13], -1)
        np.testing.assert_array_equal(sim.checks[0, arm, :, 0], EMPLOYED)
        at8 = EMPLOYED if job_weeks == 5 else BENEFIT
        np.testing.assert_array_equal(sim.checks[0, arm, :, 1], at8)


def test_refusion_staircase_by_hand():
    """Nobody leaves benefit: the state's share follows the staircase from the weeks on
    benefit at entry (2: the first simulated week is the 3rd)."""
    raw = simple_raw(
        size=3,
        horizon=60,
        transitions=[{"from": "benefit", "to": "employed", "probability": 0.0}],
        weeks_on_benefit=2,
    )
    _, _, sim, _ = _run(_deal(raw), 1, 0, 2)
    nth = 3 + np.arange(60)
    share = np.select([nth <= 4, nth <= 26, nth <= 52], [0.8, 0.4, 0.3], 0.2)
    np.testing.assert_allclose(sim.refusion_weeks[0, 0, :, 0], 3 * share, atol=1e-12)
    np.testing.assert_array_equal(sim.benefit_weeks[0, 0, :, 0], 3.0)


# ---------------------------------------------------------------- chunks, workspaces
def test_scenario_independent_of_chunk_position_and_workspace(holbaek):
    """A scenario's outputs depend only on its index: simulated alone, in a chunk, or into
    a reused workspace (whose earlier contents must not leak)."""
    st, _, whole, _ = _run(holbaek, 8, 0, 6)
    whole = whole._replace(**{k: v.copy() for k, v in whole._asdict().items()})
    _, _, tail, _ = _run(holbaek, 8, 4, 2)
    for name in whole._fields:
        np.testing.assert_array_equal(getattr(whole, name)[4:], getattr(tail, name), err_msg=name)
    # a workspace used first for other scenarios, then for 4..5
    sampler = Sampler(holbaek, 8, 6)
    ws = simulation.Workspace(3, len(st.entry_planned), st)
    key = rng.seed_key(8)
    for scen0, m in ((0, 3), (4, 2)):
        v = chunk_values(holbaek, sampler, sampler.draw(scen0, m))
        again = simulation.simulate(
            key, scen0, st, simulation.kernel_inputs(holbaek, st, v), workspace=ws
        )
    for name in whole._fields:
        np.testing.assert_array_equal(getattr(whole, name)[4:], getattr(again, name), err_msg=name)
    with pytest.raises(ValueError):
        ws.take(4)


def test_counts_hold_every_enrolled_citizen(holbaek):
    """Full Holbæk horizon: each week every citizen entered so far is in one state; benefit
    weeks are the benefit and permanent states; weekly arrays have the horizon's length."""
    st, _, sim, _ = _run(holbaek, 12, 0, 4)
    H = st.horizon
    assert sim.state_count.shape == (4, 2, H, 5)
    assert sim.programme_count.shape == (4, H, st.n_phases + 2)
    e = sim.entry[:, :, None]
    entered = ((e >= 0) & (e <= np.arange(H))).sum(axis=1)  # (scenario, week)
    in_states = sim.state_count.sum(axis=3)
    np.testing.assert_array_equal(in_states[:, 0], entered)
    np.testing.assert_array_equal(in_states[:, 1], entered)
    np.testing.assert_array_equal(sim.programme_count.sum(axis=2), entered)
    paid = sim.state_count[..., BENEFIT] + sim.state_count[..., PERMANENT]
    np.testing.assert_array_equal(sim.benefit_weeks.sum(axis=3), paid)
    assert sim.state_count[..., PERMANENT].sum() > 0


def test_prefix_sums_of_the_difference_arrays():
    """The kernel's running sum along the week axis (arm, week, column), in place: the
    difference array of a citizen on benefit in weeks 1-2 and one in a job from week 2."""
    a = np.zeros((1, 5, 2))
    a[0, 1, 0], a[0, 3, 0] = 1.0, -1.0
    a[0, 2, 1], a[0, 4, 1] = 1.0, -1.0  # the last week row is the scratch week
    _prefix_weeks(a)
    np.testing.assert_array_equal(a[0, :, 0], [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(a[0, :, 1], [0, 0, 1, 1, 0])
    rng_ = np.random.default_rng(0)
    b = rng_.normal(size=(2, 9, 3))
    expected = np.cumsum(b, axis=1)
    _prefix_weeks(b)
    np.testing.assert_allclose(b, expected, rtol=1e-12)
