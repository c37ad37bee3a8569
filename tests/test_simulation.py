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
from simrisk.simulation.weeks import SS_CAPACITY, self_support
from simrisk.vocabulary import (
    BENEFIT,
    EDUCATION,
    EMPLOYED,
    EV_EDUCATION,
    EV_FIT,
    EV_JOB,
    EV_OFF,
    EV_SUST13,
    EV_SUST26,
    EV_SUST52,
    EV_WORK_SS,
    FLEKSJOB,
    HR_JOB_ENTRY,
    MOVED,
    N_EVENTS,
    N_STATES,
    PERMANENT,
    SUBSIDISED,
    UNEMPLOYED,
)
from tests import naive
from tests.conftest import load_raw, simple_raw

EXACT_FIELDS = ("entry", "events", "checks", "check_run", "state_count", "programme_count")
"""Outputs the twin must reproduce exactly."""
WEIGHTED_FIELDS = ("benefit_weeks", "refusion_weeks", "work_fte")
"""Outputs that are sums of fractions (kept shares, part-time hours, refusion shares):
to 1e-9."""


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
SHORT_REFUSION = {
    "steps": [
        {"from_week": 1, "state_share": 0.8},
        {"from_week": 5, "state_share": 0.4},
        {"from_week": 27, "state_share": 0.3},
        {"from_week": 53, "state_share": 0.2},
    ],
    # short, so that resets happen within the horizon: 8 weeks of self-support within
    # the last 12 (two job spells of 5 weeks with 2 weeks between them reach it, two of
    # 5 with 3 weeks between them do not)
    "reset_weeks": 8,
    "reset_window_weeks": 12,
}


def _holbaek_variant(
    *,
    job_loss=True,
    benefit_effect=True,
    job_entry_effect=True,
    control=False,
    more_drawn=False,
    state_benefits=False,
):
    """Holbæk, small (40 citizens, 120 weeks and an appraisal of 3 years: 157 simulated
    weeks), with dropouts, permanent exits, fleksjob, a calendar shock, a short rolling
    refusion reset, a-dagpenge that run out after 10 weeks, two outcome targets (check
    weeks), and the deal's own rules: the sygedagpenge path to jobafklaring at 22 and 91
    weeks, unemployment by insurance, part-time jobs keeping sygedagpenge and (for 30
    weeks) a-dagpenge by hours and jobafklaring and kontanthjælp by earnings (under the
    rule of the job's first week; from July 2025 with the a-dagpenge ceiling), SU in
    education.

    ``state_benefits``: løntilskud (a subsidised state), an education benefit that is not
    self-support and counts on the staircase, fleksløntilskud off the staircase.
    ``more_drawn``: draws leaves of every kind the kernel reads."""
    raw = load_raw("holbaek")
    raw["deal"]["horizon_weeks"] = 120
    raw["economics"]["appraisal"]["years"] = 3
    raw["cohort"]["size"] = 40
    raw["cohort"]["enrolment"]["weeks"] = 30
    for seg in raw["cohort"]["segments"]:
        seg["unemployed"]["insured_weeks"] = 10
    tr = raw["labour"]["transitions"]
    assert (tr[2]["to"], tr[7]["to"], tr[8]["to"]) == ("permanent", "fleksjob", "unemployed")
    raw["programme"]["phases"][2]["dropout"] = 0.05  # some dropouts
    tr[2]["probability"] = 0.01  # some permanent exits
    tr[7]["probability"] = 0.02  # and fleksjob
    tr[8]["probability"] = 0.02  # more unemployment
    tr[1]["probability"] = 0.01  # more education (SU)
    raw["uncertainty"]["parameters"] = [  # the deal draws these two: set, not drawn
        p
        for p in raw["uncertainty"]["parameters"]
        if p["path"]
        not in ("labour.transitions[7].probability", "labour.transitions[8].probability")
    ]
    raw["labour"]["calendar"] = [
        {"start": dt.date(2024, 6, 1), "end": dt.date(2025, 1, 1), "job_entry_multiplier": 0.5},
        {"start": dt.date(2024, 11, 1), "end": dt.date(2025, 3, 1), "job_entry_multiplier": 1.7},
    ]
    raw["economics"]["refusion"] = copy.deepcopy(SHORT_REFUSION)
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
        raw["uncertainty"].pop("posterior", None)  # it draws a job-entry ratio
    if not job_entry_effect:  # the programme moves benefit's hazards by education only
        raw["effect"]["job_entry"] = [1.0] * len(raw["effect"]["job_entry"])
        raw["uncertainty"]["parameters"] = [
            p for p in raw["uncertainty"]["parameters"] if not p["path"].startswith("effect.job_")
        ]
        raw["uncertainty"].pop("posterior", None)
    if control:
        raw["contract"]["measurement"] = "control_group"
        raw["contract"]["control_size"] = 30
    if state_benefits:
        tr += [
            {"from": "benefit", "to": "subsidised", "probability": 0.01},
            {"from": "unemployed", "to": "subsidised", "probability": 0.02},
            {"from": "subsidised", "to": "employed", "probability": 0.05},
            {"from": "subsidised", "to": "benefit", "probability": 0.02},
            {"from": "education", "to": "employed", "probability": 0.05},
        ]
        econ = raw["economics"]
        econ["subsidised_benefit"] = "loentilskud"
        econ["education_benefit"] = "uddannelsesydelse"
        econ["benefits"] = {
            "uddannelsesydelse": {  # on the staircase, not self-support
                "unit": "month",
                "self_support": False,
                "rates": [{"from": dt.date(2024, 1, 1), "value": 9000.0}],
            },
            "fleksloentilskud": {  # refunded on the staircase, but the count does not move
                "unit": "month",
                "on_staircase": False,
                "rates": [{"from": dt.date(2024, 1, 1), "value": 17000.0}],
            },
        }
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
                ("cohort.segments[0].path[1].share", 0.2, 0.9),
                ("labour.transitions[4].probability[1]", 0.01, 0.05),
                ("labour.transitions[6].probability", 0.02, 0.2),
                ("labour.hours.part_time_hours", 0.3, 0.7),
                ("labour.hours.full_time_wage", 15000.0, 30000.0),
                ("programme.phases[3].dropout", 0.01, 0.1),
                ("effect.education_entry[1]", 2.0, 8.0),
                ("effect.job_loss[3]", 0.2, 0.9),
                ("economics.refusion.steps[1].state_share", 0.1, 0.9),
                ("economics.benefits.su.refusion", 0.5, 1.0),
                # the rule until June 2025 and the one from July (the deal runs across it)
                ("economics.benefits.kontanthjaelp_30plus.earnings_disregard_per_hour", 0.0, 60.0),
                (
                    "economics.benefits.kontanthjaelp_30plus.earnings_changes[0].disregard",
                    0.0,
                    5000.0,
                ),
                (
                    "economics.benefits.kontanthjaelp_30plus.earnings_changes[0].ceiling_share",
                    0.8,
                    1.2,
                ),
                ("economics.benefits.jobafklaring.earnings_deduction", 0.3, 1.0),
                ("economics.benefits.a_dagpenge.rates[0].value", 18000.0, 21000.0),
                ("economics.regulation.years[0].rate", 0.0, 0.05),
            ]
        ]
    return _deal(raw, "twin")


def _slagelse_variant():
    """Slagelse, small (30 citizens, 160 weeks): three segments (sygedagpenge with its
    path, kontanthjælp and ressourceforløb, each with its unemployed benefits), 45 % of
    jobs part-time (kontanthjælp and ressourceforløbsydelse kept by earnings, sygedagpenge
    by hours), fleksjob, SU, the regulation after 2027 drawn, and the real § 6 rule (52
    weeks within 156)."""
    raw = load_raw("slagelse")
    raw["deal"]["horizon_weeks"] = 160
    raw["cohort"]["size"] = 30
    raw["cohort"]["enrolment"]["weeks"] = 40
    tr = raw["labour"]["transitions"]
    assert (tr[1]["to"], tr[7]["to"]) == ("education", "fleksjob")
    tr[1]["probability"] = 0.01
    tr[7]["probability"] = 0.005
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
    for name in WEIGHTED_FIELDS:  # sums of kept shares, hours and refusion shares
        np.testing.assert_allclose(getattr(fast, name), slow[name], rtol=0, atol=1e-9, err_msg=name)
    return st, kin, fast, slow


def _paid(sim, st, name):
    """Benefit weeks of benefit ``name`` (scenario, arm, week)."""
    return sim.benefit_weeks[..., st.benefit_types.index(name)]


@pytest.mark.parametrize(
    ("job_loss", "benefit_effect", "job_entry_effect", "control", "more_drawn", "state_ben"),
    [
        (True, True, True, False, False, False),
        (True, True, True, True, False, False),
        (False, True, True, False, False, False),
        (True, False, False, False, False, False),
        (True, True, False, False, False, False),
        (True, True, True, False, True, False),
        (True, True, True, False, False, True),
    ],
    ids=[
        "holbaek",
        "control_group",
        "no_job_loss",
        "no_benefit_effect",
        "education_effect_only",
        "more_drawn",
        "state_benefits",
    ],
)
def test_kernel_equals_twin_on_holbaek_variants(
    job_loss, benefit_effect, job_entry_effect, control, more_drawn, state_ben
):
    """Same draws, same answer: the event-driven kernel on the prepared arrays, and a
    week-by-week twin that reads the deal itself.

    Without a job-loss ratio the programme does not touch a job's hazards, without job-
    and education-entry ratios not those of benefit and unemployment: the kernel then runs
    through the programme's changes in one segment."""
    cfg = _holbaek_variant(
        job_loss=job_loss,
        benefit_effect=benefit_effect,
        job_entry_effect=job_entry_effect,
        control=control,
        more_drawn=more_drawn,
        state_benefits=state_ben,
    )
    st, kin, fast, _ = _assert_twin(cfg, 99, 5, 5, control=control)
    assert (st.horizon, st.deal_weeks) == (157, 120)  # the appraisal's 3 years
    dep = kin.programme.ctx_dep
    assert dep[:, EMPLOYED].all() == job_loss
    assert dep[:, BENEFIT].all() == benefit_effect
    assert dep[:, UNEMPLOYED].all() == benefit_effect
    assert not dep[:, EDUCATION].any()
    # the test exercises what it claims: job entries, part-time jobs, permanent exits,
    # fleksjob, unemployment, dropouts, checks, every benefit of the path and of
    # unemployment, SU, a job keeping a share of a benefit
    sc = fast.state_count
    for state in (EMPLOYED, PERMANENT, FLEKSJOB, UNEMPLOYED, EDUCATION):
        assert sc[:, 0, :, state].sum() > 0, state
    fte = fast.work_fte[:, 0, :, 0]
    assert (fte < sc[:, 0, :, EMPLOYED]).any()  # part-time jobs
    assert (fast.checks[:, 0] >= 0).any()
    for name in ("sygedagpenge", "jobafklaring", "a_dagpenge", "kontanthjaelp_30plus"):
        assert _paid(fast, st, name).sum() > 0, name
    education = "uddannelsesydelse" if state_ben else "su"
    assert _paid(fast, st, education).sum() > 0
    bw = fast.benefit_weeks
    assert (bw != np.round(bw)).any()  # kept shares of a benefit in a job
    if state_ben:
        assert sc[:, 0, :, SUBSIDISED].sum() > 0 and _paid(fast, st, "loentilskud").sum() > 0
    if not control:
        assert fast.programme_count[:, -1, -1].sum() > 0  # dropped
        assert (fast.events[:, 1, :, EV_SUST13] >= 0).any()
    else:
        assert len(st.control_entry) == 30 and fast.entry.shape == (5, 30)


def test_kernel_equals_twin_on_a_slagelse_variant():
    cfg = _slagelse_variant()
    st, _, fast, _ = _assert_twin(cfg, 4, 0, 5)
    assert st.horizon == 160
    assert cfg.economics.refusion.reset_weeks == 52
    for name in ("sygedagpenge", "jobafklaring", "ressourceforloebsydelse", "su"):
        assert _paid(fast, st, name).sum() > 0, name
    assert fast.state_count[:, 0, :, FLEKSJOB].sum() > 0
    assert (fast.work_fte[..., 0] < fast.state_count[..., EMPLOYED]).any()


@pytest.mark.parametrize("kind", ["simple", "certain", "segments"])
def test_kernel_equals_twin_on_simple_deals(kind):
    cfg = _simple_variant(kind)
    _, _, fast, _ = _assert_twin(cfg, 7, 0, 4)
    assert fast.state_count[:, :, :, EMPLOYED].sum() > 0


def test_kernel_equals_twin_for_a_rescaled_control_group():
    cfg = _simple_variant("segments")
    st, _, fast, _ = _assert_twin(cfg, 6, 1, 4, control=True)
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
    names = naive.STATES
    S = len(names)
    M = np.zeros((S, S))
    for a in range(S):
        h = np.zeros(S)
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
    proportion to the hazards), over every labour state: unemployment, løntilskud and
    fleksjob too (their benefits and hours change costs, not moves). 5 standard errors of
    a share, over 60 weeks x 8 states."""
    probs = {
        ("benefit", "employed"): 0.05,
        ("benefit", "moved"): 0.01,
        ("benefit", "permanent"): 0.004,
        ("benefit", "unemployed"): 0.03,
        ("benefit", "subsidised"): 0.01,
        ("employed", "benefit"): 0.03,
        ("employed", "education"): 0.02,
        ("employed", "fleksjob"): 0.005,
        ("education", "benefit"): 0.04,
        ("unemployed", "employed"): 0.06,
        ("unemployed", "benefit"): 0.02,
        ("subsidised", "employed"): 0.08,
        ("fleksjob", "moved"): 0.02,
    }
    transitions = [{"from": f, "to": t, "probability": p} for (f, t), p in probs.items()]
    raw = simple_raw(size=100, horizon=60, transitions=transitions)
    raw["cohort"]["segments"][0]["unemployed"] = {"uninsured": "kontanthjaelp_30plus"}
    raw["economics"].update(subsidised_benefit="loentilskud", fleksjob_benefit="fleksloentilskud")
    raw["labour"]["hours"] = {"full_time_share": 0.5, "full_time_wage": 20000.0}
    cfg = _deal(raw)
    n = 400
    _, _, sim, _ = _run(cfg, 3, 0, n)
    M = _weekly_matrix(probs)
    pi = np.zeros(N_STATES)
    pi[0] = 1.0
    expected = np.empty((60, N_STATES))
    for t in range(60):
        expected[t] = pi
        pi = pi @ M
    assert (expected[-1] > 0.005).all()  # every state is reached
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


def _cycle_deal(job_weeks: int, reset_weeks: int, window: int, horizon: int = 40):
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
    # a job-loss ratio (certain exits stay certain) makes the treatment arm's job spells
    # change hazards at the phase's end and every fade block: the same course, cut into
    # other stretches
    effect = {"job_entry": [1.0], "job_loss": [0.5], "persistence": 0.9, "fade_block_weeks": 3}
    raw = simple_raw(size=3, horizon=horizon, transitions=transitions, effect=effect)
    raw["economics"]["refusion"] = {
        "steps": [
            {"from_week": 1, "state_share": 0.8},
            {"from_week": 5, "state_share": 0.4},
            {"from_week": 7, "state_share": 0.3},
        ],
        "reset_weeks": reset_weeks,
        "reset_window_weeks": window,
    }
    raw["contract"]["mechanisms"] += [
        {"kind": "target", "outcome": "employed", "at_week": w, "threshold": 0.1, "payment": 1}
        for w in (6, 8)
    ]
    return _deal(raw)


# Benefit weeks 0-3, 8-11, 16-19, ... (jobs of 4 weeks) or 0-3, 9-12, 18-21, ... (of 5);
# each benefit week's refusion share, worked out by hand (80 % for the 1st-4th counted
# week, 40 % for the 5th-6th, 30 % after):
# - jobs of 5 weeks, reset after 5 weeks of self-support: every job restarts the count,
#   so every benefit week is among the first four;
# - jobs of 4, 5 consecutive weeks needed (window 5): never, the count runs on;
# - jobs of 4, 5 weeks within 156: the 5th self-support week is the first week of the
#   second job (week 12): weeks 16-19 count 1-4 again. Self-support counts after the
#   last placement on the staircase, so weeks 13-15 count towards nothing; 20-23 and 28
#   make the next restart in week 28: every second benefit spell starts at 80 %, with
#   a period of 16 weeks.
CYCLE_SHARES = {
    (5, 5, 5): [0.8] * 4 + [0.0] * 5,
    (4, 5, 5): [0.8] * 4 + [0.0] * 4 + [0.4, 0.4, 0.3, 0.3] + [0.0] * 4 + [0.3] * 4,
    (4, 5, 156): [0.8] * 4 + [0.0] * 4 + [0.4, 0.4, 0.3, 0.3] + [0.0] * 4,
}


@pytest.mark.parametrize(("job_weeks", "reset", "window"), list(CYCLE_SHARES))
def test_refusion_reset_on_a_deterministic_cycle(job_weeks, reset, window):
    """Benefit weeks 0-3, a job of ``job_weeks``, benefit again, ... The staircase counts
    benefit weeks; ``reset_weeks`` of self-support within the last ``window`` weeks start
    the count again (shares by hand in ``CYCLE_SHARES``)."""
    H = 40
    cfg = _cycle_deal(job_weeks, reset, window, H)
    _, kin, sim, _ = _run(cfg, 2, 0, 1)
    assert kin.programme.ctx_dep[0, EMPLOYED]
    period = 4 + job_weeks
    on_benefit = (np.arange(H) % period) < 4
    head = CYCLE_SHARES[(job_weeks, reset, window)]
    if job_weeks == 5 or window == 156:  # a cycle of the head's length
        shares = np.resize(head, H)
    else:  # the count runs on: 30 % from the 7th benefit week on
        shares = np.where(on_benefit, 0.3, 0.0)
        shares[: len(head)] = head
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


def _section_6_deal(case: str):
    """One citizen's course, forced by certain transitions after a number of weeks in the
    state: weeks 0-9 on benefit (kontanthjælp), 10-39 in a job, 40-44 unemployed
    (kontanthjælp), 45-69 in education, 70-79 on benefit again. The staircase of the
    rules: 80 % of the 1st-4th counted week, 40 % of the 5th-26th, 30 % of the 27th-52nd,
    20 % after. ``case``: the § 6 rule (52 weeks of self-support within 156), the old
    consecutive rule (52 within 52), SU in education, an education benefit that is not
    self-support, or part-time jobs that keep half the sygedagpenge."""
    transitions = [
        {"from": "benefit", "to": "employed", "probability": [0.0, 1.0], "from_week": [0, 9]},
        {"from": "employed", "to": "unemployed", "probability": [0.0, 1.0], "from_week": [0, 29]},
        {"from": "unemployed", "to": "education", "probability": [0.0, 1.0], "from_week": [0, 4]},
        {"from": "education", "to": "benefit", "probability": [0.0, 1.0], "from_week": [0, 24]},
    ]
    raw = simple_raw(size=2, horizon=80, transitions=transitions)
    raw["cohort"]["segments"][0]["unemployed"] = {"uninsured": "kontanthjaelp_30plus"}
    raw["economics"]["refusion"] = {
        "steps": [
            {"from_week": 1, "state_share": 0.8},
            {"from_week": 5, "state_share": 0.4},
            {"from_week": 27, "state_share": 0.3},
            {"from_week": 53, "state_share": 0.2},
        ],
        "reset_weeks": 52,
        "reset_window_weeks": 52 if case == "consecutive" else 156,
    }
    if case == "su":
        raw["economics"]["education_benefit"] = "su"
    if case == "not_self_support":
        raw["economics"]["education_benefit"] = "uddannelsesydelse"
        raw["economics"]["benefits"] = {
            "uddannelsesydelse": {
                "unit": "month",
                "self_support": False,
                "rates": [{"from": dt.date(2024, 1, 1), "value": 9000.0}],
            }
        }
    if case == "part_time":
        raw["cohort"]["segments"][0]["benefit"] = "sygedagpenge"
        raw["labour"]["hours"] = {
            "full_time_share": 0.0,
            "part_time_hours": 0.5,
            "full_time_wage": 20000.0,
        }
    # a job-loss ratio: the treatment arm's job is cut into other segments (phase end,
    # fade blocks), which must change nothing
    raw["effect"] = {"job_entry": [1.0], "job_loss": [0.7], "persistence": 0.8}
    return _deal(raw)


def _repeat(share, n):
    return [share] * n


SECTION_6 = {
    # 30 job weeks + the 22nd week of education (week 66) are the 52nd week of
    # self-support within 156 weeks: the count restarts, weeks 70-79 are its 1st-10th
    "rolling": _repeat(0.8, 4) + _repeat(0.4, 6)  # weeks 0-9: counted 1-10
    + _repeat(0.0, 30)  # the job
    + _repeat(0.4, 5)  # unemployed: counted 11-15
    + _repeat(0.0, 25)  # education, no benefit
    + _repeat(0.8, 4) + _repeat(0.4, 6),  # counted 1-10 again
    # 52 consecutive weeks never happen (30, then 25): the count runs on, 16-25
    "consecutive": _repeat(0.8, 4) + _repeat(0.4, 6) + _repeat(0.0, 30) + _repeat(0.4, 5)
    + _repeat(0.0, 25) + _repeat(0.4, 10),
    # SU is self-support and off the count (refunded in full): the same restart
    "su": _repeat(0.8, 4) + _repeat(0.4, 6) + _repeat(0.0, 30) + _repeat(0.4, 5)
    + _repeat(1.0, 25) + _repeat(0.8, 4) + _repeat(0.4, 6),
    # education on a benefit that is not self-support: counted 16-40 (40 % to the 26th,
    # 30 % from the 27th), no restart, weeks 70-79 counted 41-50
    "not_self_support": _repeat(0.8, 4) + _repeat(0.4, 6) + _repeat(0.0, 30) + _repeat(0.4, 5)
    + _repeat(0.4, 11) + _repeat(0.3, 14) + _repeat(0.3, 10),
    # a part-time job keeps half the sygedagpenge: counted 11-40 at half weight, not
    # self-support; 25 weeks of education alone are too few; weeks 70-79 counted 46-55
    "part_time": _repeat(0.8, 4) + _repeat(0.4, 6) + _repeat(0.2, 16) + _repeat(0.15, 14)
    + _repeat(0.3, 5) + _repeat(0.0, 25) + _repeat(0.3, 7) + _repeat(0.2, 3),
}  # fmt: skip


@pytest.mark.parametrize("case", list(SECTION_6))
def test_section_6_reset_by_hand(case):
    """§ 6 of the refusion law on a course written out week by week (see
    :func:`_section_6_deal`): each week's refusion weight (share x the weight of the
    benefit) worked out by hand in ``SECTION_6``, in both arms (the programme's job-loss
    ratio cuts the treatment arm's job into other segments, with the same answer)."""
    cfg = _section_6_deal(case)
    st, kin, sim, _ = _run(cfg, 1, 0, 1)
    assert kin.programme.ctx_dep[0, EMPLOYED]
    course = np.r_[[BENEFIT] * 10, [EMPLOYED] * 30, [UNEMPLOYED] * 5, [EDUCATION] * 25]
    course = np.r_[course, [BENEFIT] * 10]
    weight = np.array(SECTION_6[case])
    assert weight.shape == (80,)
    on_benefit = np.isin(course, [BENEFIT, UNEMPLOYED])
    if case in ("su", "not_self_support"):
        on_benefit |= course == EDUCATION
    paid = on_benefit + 0.5 * (case == "part_time") * (course == EMPLOYED)
    for arm in (0, 1):
        np.testing.assert_array_equal(sim.state_count[0, arm, np.arange(80), course], 2.0)
        np.testing.assert_array_equal(sim.benefit_weeks[0, arm].sum(axis=1), 2.0 * paid)
        np.testing.assert_allclose(sim.refusion_weeks[0, arm].sum(axis=1), 2.0 * weight, atol=1e-12)
    if case == "su":
        su = st.benefit_types.index("su")
        np.testing.assert_array_equal(sim.benefit_weeks[0, 0, 45:70, su], 2.0)


def _placement_deal(education_benefit: str | None):
    """Benefit 4 weeks, a job of 2, education of 2, benefit again, ...; the staircase 80 %
    for the 1st-4th counted week, 40 % for the 5th-6th, 30 % after; the count restarts
    after 6 weeks of self-support within 156."""
    transitions = [
        {"from": "benefit", "to": "employed", "probability": [0.0, 1.0], "from_week": [0, 3]},
        {"from": "employed", "to": "education", "probability": [0.0, 1.0], "from_week": [0, 1]},
        {"from": "education", "to": "benefit", "probability": [0.0, 1.0], "from_week": [0, 1]},
    ]
    raw = simple_raw(size=3, horizon=48, transitions=transitions)
    raw["economics"]["refusion"] = {
        "steps": [
            {"from_week": 1, "state_share": 0.8},
            {"from_week": 5, "state_share": 0.4},
            {"from_week": 7, "state_share": 0.3},
        ],
        "reset_weeks": 6,
        "reset_window_weeks": 156,
    }
    if education_benefit is not None:
        raw["economics"]["education_benefit"] = education_benefit
    return _deal(raw)


@pytest.mark.parametrize("education_benefit", [None, "su"])
def test_self_support_after_a_restart_waits_for_the_next_benefit_week(education_benefit):
    """The 6th week of self-support (the second job's end, week 13) restarts the count;
    the education that follows (weeks 14-15) comes before the next benefit week on the
    staircase, so it counts towards nothing, with SU (a benefit off the staircase, which
    does not place the citizen on it) or without: the next restart is in week 29, and
    every second benefit spell starts at 80 % (a cycle of 16 weeks). Counting those weeks
    would restart the count in week 23 and start the next spell at 80 % too."""
    cfg = _placement_deal(education_benefit)
    st, _, sim, _ = _run(cfg, 2, 0, 1)
    k = st.benefit_types.index("kontanthjaelp_30plus")
    cycle = [0.8] * 4 + [0.0] * 4 + [0.4, 0.4, 0.3, 0.3] + [0.0] * 4
    for arm in (0, 1):
        np.testing.assert_allclose(
            sim.refusion_weeks[0, arm, :, k], 3.0 * np.resize(cycle, 48), atol=1e-12
        )
    _assert_twin(cfg, 2, 0, 1)


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
    """Holbæk's whole simulated horizon (its 10-year appraisal): each week every citizen
    entered so far is in one state; a whole benefit week in each state that pays one
    (the path and unemployment, SU, førtidspension, fleksløntilskud), and a kept share of
    at most one in a job; full-time equivalents between the part-time hours and one per
    citizen in a job."""
    st, _, sim, _ = _run(holbaek, 12, 0, 4)
    H = st.horizon
    assert H == 522 and st.deal_weeks == 312
    assert sim.state_count.shape == (4, 2, H, N_STATES)
    assert sim.programme_count.shape == (4, H, st.n_phases + 2)
    assert sim.work_fte.shape == (4, 2, H, 1)
    e = sim.entry[:, :, None]
    entered = ((e >= 0) & (e <= np.arange(H))).sum(axis=1)  # (scenario, week)
    in_states = sim.state_count.sum(axis=3)
    np.testing.assert_array_equal(in_states[:, 0], entered)
    np.testing.assert_array_equal(in_states[:, 1], entered)
    np.testing.assert_array_equal(sim.programme_count.sum(axis=2), entered)
    sc = sim.state_count
    paid = sum(sc[..., k] for k in (BENEFIT, UNEMPLOYED, EDUCATION, PERMANENT, FLEKSJOB))
    kept = sim.benefit_weeks.sum(axis=3) - paid  # benefits kept in jobs
    assert (kept > -1e-9).all() and (kept <= sc[..., EMPLOYED] + 1e-9).all()
    assert kept.max() > 0.1
    fte = sim.work_fte[..., 0]
    assert (fte <= sc[..., EMPLOYED] + 1e-9).all()
    assert (fte >= 0.5 * sc[..., EMPLOYED] - 1e-9).all()  # part-time at half time
    assert (fte < sc[..., EMPLOYED] - 0.4).any()
    assert sc[..., PERMANENT].sum() > 0 and sc[..., FLEKSJOB].sum() > 0


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


# ---------------------------------------------------------------- the Danish rules
def _sick_listed(size, horizon, transitions, path=(), insured_share=0.0, hours=None):
    """Everyone enters on sygedagpenge in week 0 (no weeks before), with a benefit path,
    unemployment on a-dagpenge for 10 weeks when insured, kontanthjælp otherwise."""
    raw = simple_raw(size=size, horizon=horizon, transitions=transitions)
    raw["cohort"]["segments"] = [
        {
            "name": "sick",
            "benefit": "sygedagpenge",
            "share": 1.0,
            "path": list(path),
            "insured_share": insured_share,
            "unemployed": {
                "insured": "a_dagpenge",
                "insured_weeks": 10,
                "uninsured": "kontanthjaelp_30plus",
            },
        }
    ]
    if hours is not None:
        raw["labour"]["hours"] = hours
    return _deal(raw)


def test_benefit_path_shares_are_binomial():
    """Nobody leaves sygedagpenge. From 5 weeks on benefit a share 0.3 moves to
    jobafklaring, from 12 weeks a share 0.5 to ressourceforløbsydelse (drawn
    independently at entry): in weeks 5-11 jobafklaring 0.3; from week 12
    ressourceforløbsydelse 0.5, jobafklaring 0.3 x 0.5 (moved at 5, not at 12),
    sygedagpenge 0.7 x 0.5. Each share within 4 binomial standard errors over the
    scenarios x citizens (independent citizens, no frailty); the same citizens on the
    same stage in both arms and in every week of a stage."""
    path = [
        {"after_weeks": 5, "benefit": "jobafklaring", "share": 0.3},
        {"after_weeks": 12, "benefit": "ressourceforloebsydelse", "share": 0.5},
    ]
    never = [{"from": "benefit", "to": "employed", "probability": 0.0}]
    size, n = 100, 100
    cfg = _sick_listed(size, 20, never, path)
    st, _, sim, _ = _run(cfg, 13, 0, n)
    bw = {name: _paid(sim, st, name) for name in st.benefit_types}
    np.testing.assert_array_equal(bw["sygedagpenge"][:, :, :5], size)  # weeks 0-4
    np.testing.assert_array_equal(sim.benefit_weeks[:, 0], sim.benefit_weeks[:, 1])
    for name, weeks in (("jobafklaring", slice(5, 12)), ("ressourceforloebsydelse", slice(12, 20))):
        per_week = bw[name][:, 0, weeks]
        np.testing.assert_array_equal(per_week, per_week[:, :1] * np.ones_like(per_week))
    N = n * size
    for name, week, p in (
        ("jobafklaring", 8, 0.3),
        ("ressourceforloebsydelse", 15, 0.5),
        ("jobafklaring", 15, 0.15),
        ("sygedagpenge", 15, 0.35),
    ):
        share = bw[name][:, 0, week].sum() / N
        assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / N), (name, week, share)


def test_the_benefit_path_restarts_with_each_spell():
    """A forced course: 10 weeks on benefit, 5 in a half-time job, again and again. The
    path moves everyone to jobafklaring after 5 weeks on benefit in the spell: weeks 0-4
    sygedagpenge, 5-9 jobafklaring, the job keeps jobafklaring by earnings (half time,
    30 % of the wage before tax deducted below the limit: 12,326 - 0.3 x 10,816 =
    9,081.2 of 12,326 a month at the 2024 rates), then sygedagpenge
    again for weeks 15-19: a new spell starts the path from its beginning."""
    transitions = [
        {"from": "benefit", "to": "employed", "probability": [0.0, 1.0], "from_week": [0, 9]},
        {"from": "employed", "to": "benefit", "probability": [0.0, 1.0], "from_week": [0, 4]},
    ]
    path = [{"after_weeks": 5, "benefit": "jobafklaring", "share": 1.0}]
    hours = {"full_time_share": 0.0, "part_time_hours": 0.5, "full_time_wage": 21632.0}
    cfg = _sick_listed(2, 45, transitions, path, hours=hours)
    st, _, sim, _ = _run(cfg, 3, 0, 1)
    week = np.arange(45) % 15
    kept = (12326 - 0.3 * 0.5 * 21632) / 12326
    syg = np.where(week < 5, 2.0, 0.0)
    job = np.where(week < 10, 0.0, 2.0)
    jobaf = np.where((week >= 5) & (week < 10), 2.0, 0.0) + kept * job
    for arm in (0, 1):
        np.testing.assert_array_equal(_paid(sim, st, "sygedagpenge")[0, arm], syg)
        # (difference arrays of fractional weights: rounding of 1e-16)
        np.testing.assert_allclose(_paid(sim, st, "jobafklaring")[0, arm], jobaf, atol=1e-12)
        np.testing.assert_array_equal(sim.work_fte[0, arm, :, 0], 0.5 * job)


def test_a_gradual_return_is_not_declared_fit():
    """Everyone takes a job after week 0, from sygedagpenge, and keeps it: a full-time
    job (share 0.6, drawn per spell) ends the sickness benefit, so the citizen is declared
    fit in week 1 and self-supporting in work from week 1; a half-time job keeps
    sygedagpenge for the hours not worked (§ 53), so neither. Per citizen the two events
    agree; the share declared fit is 0.6 within 4 binomial standard errors, and the FTE
    in work is what those shares say. The twin agrees record for record."""
    transitions = [{"from": "benefit", "to": "employed", "probability": 1.0}]
    hours = {"full_time_share": 0.6, "part_time_hours": 0.5, "full_time_wage": 21632.0}
    size, n = 100, 100
    cfg = _sick_listed(size, 12, transitions, hours=hours)
    st, _, sim, _ = _run(cfg, 7, 0, n)
    ev = sim.events
    np.testing.assert_array_equal(ev[..., EV_JOB], 1)
    fit = ev[..., EV_FIT]
    assert set(np.unique(fit)) == {-1, 1}
    np.testing.assert_array_equal(fit, ev[..., EV_WORK_SS])
    full = (fit == 1).sum(axis=2)  # (scenario, arm)
    np.testing.assert_allclose(sim.work_fte[:, :, 5, 0], full + 0.5 * (size - full), atol=1e-9)
    N = n * size  # one arm: the arms may share their draws
    share = (fit[:, 0] == 1).sum() / N
    assert abs(share - 0.6) < 4 * np.sqrt(0.6 * 0.4 / N), share
    _assert_twin(cfg, 7, 0, 4)


def test_unemployment_benefit_by_insurance_and_weeks():
    """Everyone is declared fit without a job after week 0 (a weekly probability of 1)
    and stays unemployed: an insured citizen (share 0.6, drawn at entry) gets a-dagpenge
    for 10 weeks (weeks 1-10), then kontanthjælp like the uninsured. The insured share
    within 4 binomial standard errors; the same citizens every week and in both arms."""
    size, n = 100, 100
    cfg = _sick_listed(size, 30, [{"from": "benefit", "to": "unemployed", "probability": 1.0}],
                       insured_share=0.6)  # fmt: skip
    st, _, sim, _ = _run(cfg, 21, 0, n)
    np.testing.assert_array_equal(sim.state_count[:, :, 1:, UNEMPLOYED], size)
    ad = _paid(sim, st, "a_dagpenge")
    kh = _paid(sim, st, "kontanthjaelp_30plus")
    np.testing.assert_array_equal(ad[:, :, 1:11], ad[:, :, 1:2] * np.ones(10))
    np.testing.assert_array_equal(ad[:, :, 11:], 0.0)
    np.testing.assert_array_equal(ad[:, :, 1:] + kh[:, :, 1:], size)
    np.testing.assert_array_equal(ad[:, 0], ad[:, 1])
    N = n * size
    share = ad[:, 0, 5].sum() / N
    assert abs(share - 0.6) < 4 * np.sqrt(0.6 * 0.4 / N), share


HOURS_MONTH = 37 * 365.25 / 84  # a full-time month's hours


@pytest.mark.parametrize(
    ("start", "kept_part", "kept_full"),
    [
        # before July 2025: krone for krone above 30 DKK an hour, at the 2024 rates
        ("2024-01-01", (12326 - (0.4 * 0.92 * 21632 - 30 * 0.4 * HOURS_MONTH)) / 12326, 0.0),
        # after: 65 % above 2,500 a month, at most the a-dagpenge maximum, at the 2025 rates
        ("2025-09-01", (13590 - 0.65 * (0.4 * 0.92 * 21632 - 2500)) / 13590, 1190.56 / 13590),
    ],
    ids=["rule_until_june_2025", "rule_from_july_2025"],
)
def test_part_time_jobs_and_what_they_keep(start, kept_part, kept_full):
    """Everyone takes a job after week 0, and loses it at 10 % a week, back on
    kontanthjælp and into a job again a week later: each job spell is part-time (0.4 of
    full time) with probability 0.3, drawn per spell. Among citizens in a job the share in
    a part-time one, (jobs - FTE) / 0.6, is 0.3 within 4 binomial standard errors, in the
    first spells (week 1) and later (week 40, mostly later spells). Every job keeps
    kontanthjælp by the earnings rule in force, worked out by hand: before July 2025
    part-time 12,326 - (0.4 x 19,901.44 - 30 x 64.35 hours) = 6,296.03 and full-time
    nothing; from July 2025 part-time 13,590 - 0.65 x (0.4 x 19,901.44 - 2,500) =
    10,040.6, full-time the ceiling, 21,092 - 19,901.44 = 1,190.56."""
    transitions = [
        {"from": "benefit", "to": "employed", "probability": 1.0},
        {"from": "employed", "to": "benefit", "probability": 0.1},
    ]
    hours = {"full_time_share": 0.7, "part_time_hours": 0.4, "full_time_wage": 21632.0}
    raw = simple_raw(size=100, horizon=45, transitions=transitions)
    raw["deal"]["start_date"] = start
    raw["labour"]["hours"] = hours
    cfg = _deal(raw)
    n = 100
    st, _, sim, _ = _run(cfg, 31, 0, n)
    jobs = sim.state_count[:, 0, :, EMPLOYED]
    part = (jobs - sim.work_fte[:, 0, :, 0]) / 0.6  # part-time jobs per scenario and week
    np.testing.assert_allclose(part, np.round(part), atol=1e-9)
    for week in (1, 40):
        N = jobs[:, week].sum()
        share = part[:, week].sum() / N
        assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / N), (week, share)
    kh = _paid(sim, st, "kontanthjaelp_30plus")[:, 0]
    on_benefit = sim.state_count[:, 0, :, BENEFIT]
    np.testing.assert_allclose(
        kh, on_benefit + kept_part * part + kept_full * (jobs - part), rtol=1e-12, atol=1e-9
    )


@pytest.mark.parametrize("limit", [None, 5])
def test_a_reduced_benefit_is_kept_for_at_most_its_weeks_of_a_job(limit):
    """A benefit reduced by hours (as supplementary a-dagpenge) with ``partial_max_weeks``:
    everyone takes a part-time job (0.4 of full time) in week 1 and keeps it; the job
    keeps 0.6 of the benefit in its first ``limit`` weeks (weeks 1-5 with 5) and nothing
    after; without a limit for the whole spell."""
    transitions = [{"from": "benefit", "to": "employed", "probability": 1.0}]
    raw = simple_raw(size=20, horizon=15, transitions=transitions)
    raw["labour"]["hours"] = {
        "full_time_share": 0.0,
        "part_time_hours": 0.4,
        "full_time_wage": 21632.0,
    }
    rates = [{"from": dt.date(2023, 1, 1), "value": 1000.0}]
    own = {"unit": "week", "partial": "hours", "rates": rates}
    if limit is not None:
        own["partial_max_weeks"] = limit
    raw["economics"]["benefits"] = {"supplement": own}
    raw["cohort"]["segments"][0]["benefit"] = "supplement"
    cfg = _deal(raw)
    st, _, sim, _ = _run(cfg, 3, 0, 4)
    jobs = sim.state_count[:, 0, :, EMPLOYED]
    assert (jobs[:, 1:] == 20).all()
    kept = _paid(sim, st, "supplement")[:, 0] - sim.state_count[:, 0, :, BENEFIT]
    expected = np.full((4, 15), 0.6 * 20)
    expected[:, 0] = 0.0
    if limit is not None:
        expected[:, 1 + limit :] = 0.0
    np.testing.assert_allclose(kept, expected, rtol=1e-12, atol=1e-9)


def test_a_job_keeps_what_the_earnings_rule_of_its_first_week_leaves():
    """A deal from 2025-05-05: the new earnings rule is in force from week 9 (2025-07-07,
    the first week starting on or after 1 July). Full-time jobs, never lost, taken at 10 %
    a week: under the old rule a full-time job ends kontanthjælp, under the new one it
    keeps 1,190.56 of 13,590 a month (the ceiling, at the rates of week 9). So the benefit
    weeks paid beyond those on benefit are nothing before week 9 and, from it, the new
    rule's share of the jobs started in week 9 or later, all the jobs less those held in
    week 8: the jobs started earlier keep nothing after the change too."""
    transitions = [{"from": "benefit", "to": "employed", "probability": 0.1}]
    hours = {"full_time_share": 1.0, "part_time_hours": 0.5, "full_time_wage": 21632.0}
    raw = simple_raw(size=100, horizon=40, transitions=transitions)
    raw["deal"]["start_date"] = "2025-05-05"
    raw["labour"]["hours"] = hours
    cfg = _deal(raw)
    st, _, sim, _ = _run(cfg, 8, 0, 20)
    kh = _paid(sim, st, "kontanthjaelp_30plus")[:, 0]
    jobs = sim.state_count[:, 0, :, EMPLOYED]
    kept = kh - sim.state_count[:, 0, :, BENEFIT]
    assert jobs[:, 8].sum() > 0 and (jobs[:, -1] > jobs[:, 8]).all()
    np.testing.assert_allclose(kept[:, :9], 0.0, atol=1e-9)
    later = jobs[:, 9:] - jobs[:, 8:9]
    np.testing.assert_allclose(kept[:, 9:], 1190.56 / 13590 * later, rtol=1e-12, atol=1e-9)


def _record_weeks(ss_a, ss_b, n):
    return {w for j in range(n) for w in range(ss_a[j], ss_b[j])}


@pytest.mark.parametrize(("need", "window"), [(8, 12), (5, 5), (52, 156)])
def test_self_support_record_does_not_depend_on_where_a_stretch_is_cut(need, window):
    """The kernel's record of self-support weeks (spells, the window, restarts): stretches
    of self-support with gaps of benefit between them, fed whole or cut at random weeks
    (as a change of the benefit paid cuts them; after a restart the kernel feeds no more
    of the stretch, the citizen not yet placed on the staircase again), give the same
    restarts in each stretch and the same weeks left on the record after it. A
    week-by-week count gives the same restarts: at the first week at which the record's
    weeks within the window reach ``need``, after which the record is empty until the
    next gap."""
    g = np.random.default_rng(need)
    t, spells = 0, []
    for _ in range(40):
        t += int(g.integers(1, 2 * window))
        length = int(g.integers(1, 3 * need))
        spells.append((t, t + length))
        t += length
    whole = (np.empty(SS_CAPACITY, np.int64), np.empty(SS_CAPACITY, np.int64), 0, 0)
    cut = (np.empty(SS_CAPACITY, np.int64), np.empty(SS_CAPACITY, np.int64), 0, 0)
    record, restarts_weekly = [], []
    for t0, t1 in spells:
        n, tot, restart = self_support(*whole, t0, t1, window, need)
        whole = (whole[0], whole[1], n, tot)
        edges = sorted({t0, t1, *g.integers(t0, t1, 3).tolist()})
        any_cut = False
        for a, b in zip(edges, edges[1:], strict=False):
            if any_cut:  # restarted: the rest of the stretch is not fed
                break
            m, tot_cut, r = self_support(*cut, a, b, window, need)
            cut = (cut[0], cut[1], m, tot_cut)
            any_cut |= r
        assert restart == any_cut, (t0, t1)
        assert _record_weeks(*whole[:3]) == _record_weeks(*cut[:3]), (t0, t1)
        # the running total is the record's weeks
        assert whole[3] == len(_record_weeks(*whole[:3])) and cut[3] == whole[3]
        hit = False
        for w in range(t0, t1):  # the same stretch week by week
            if hit:
                break
            record.append(w)
            if sum(1 for x in record if x > w - window) >= need:
                record, hit = [], True
        restarts_weekly.append(hit)
        assert restart == hit
        in_window = {x for x in _record_weeks(*whole[:3]) if x > t1 - 1 - window}
        assert in_window == {x for x in record if x > t1 - 1 - window}
    assert any(restarts_weekly) and not all(restarts_weekly)


# --------------------------------------------------------------------------- capital


def _capital_raw(capital: float, overrun: str = "fewer_citizens") -> dict:
    raw = load_raw("holbaek")
    raw["investor"]["capital"] = capital
    raw["investor"]["overrun"] = overrun
    return raw


def test_fewer_citizens_when_the_capital_runs_out_by_hand():
    """Holbæk's course costs sum(weeks x cost per week) per citizen; with the capital for
    the set-up and 50 full courses the programme takes the first 50 citizens who enrol,
    in the order of planned entry, in every scenario; the rest are not in the deal (no
    entry in either arm). With enough capital nobody is turned away."""
    cfg0 = _deal(load_raw("holbaek"))
    course = sum(p.weeks * p.cost_per_week for p in cfg0.programme.phases)
    capital = cfg0.programme.setup_cost + 50.5 * course
    cfg = _deal(_capital_raw(capital))
    # only the phases' costs and the set-up decide; fix them to the file's values
    cfg.uncertainty.parameters = [
        p for p in cfg.uncertainty.parameters if not p.path.startswith("programme.")
    ]
    st, kin, fast, _ = _run(cfg, 4, 0, 20)
    np.testing.assert_array_equal(kin.cohort.max_enrolled, 50)
    enrolled = fast.entry >= 0
    assert (enrolled.sum(axis=1) == 50).all()
    free = _run(cfg0, 4, 0, 20)[2]
    for s in range(20):  # the same citizens as without the limit, up to the 50th
        first = np.flatnonzero(free.entry[s] >= 0)[:50]
        np.testing.assert_array_equal(np.flatnonzero(enrolled[s]), first)
    # the other rules do not limit anyone
    for overrun in ("top_up", "provider"):
        _, kin, other, _ = _run(_deal(_capital_raw(capital, overrun)), 4, 0, 20)
        np.testing.assert_array_equal(other.entry, free.entry)


def test_kernel_equals_twin_with_too_little_capital():
    """The capital limit with drawn phase costs and set-up (the twin reads them from the
    deal): the same citizens enrolled and the same courses."""
    raw = _capital_raw(2_500_000.0)
    raw["uncertainty"]["parameters"] += [
        {"path": "programme.setup_cost", "distribution": "uniform", "low": 1e5, "high": 6e5},
        {"path": "investor.capital", "distribution": "uniform", "low": 1.5e6, "high": 3.5e6},
    ]
    cfg = _deal(raw)
    _, kin, fast, _ = _assert_twin(cfg, 9, 3, 8)
    n_in = (fast.entry >= 0).sum(axis=1)
    np.testing.assert_array_equal(n_in, np.minimum(n_in, kin.cohort.max_enrolled))
    assert (n_in == kin.cohort.max_enrolled).any() and len(set(n_in)) > 1


def test_kernel_equals_twin_on_the_outcome_records():
    """The outcome events (declared fit, first week off benefit, first week of
    self-support in a job, the first 8-week run of self-support) and the weeks of the job
    spell and of the run at each check week, on Holbæk's sick-listed citizens."""
    raw = load_raw("holbaek")
    raw["contract"]["mechanisms"].append(
        {"kind": "target", "outcome": "self_supporting", "window_weeks": 8, "at_week": 30,
         "threshold": 0.2, "payment": 1.0}
    )  # fmt: skip
    cfg = _deal(raw)
    st, _, fast, _ = _assert_twin(cfg, 12, 0, 6)
    assert list(st.ss_windows) == [8]
    ev = fast.events
    assert ev.shape[-1] == N_EVENTS + 1
    for k in (EV_FIT, EV_OFF, EV_WORK_SS, N_EVENTS):
        assert (ev[..., k] >= 0).any(), k
    # a run of 8 weeks begins at or after the first week off benefit
    both = (ev[..., N_EVENTS] >= 0) & (ev[..., EV_OFF] >= 0)
    assert (ev[..., N_EVENTS][both] >= ev[..., EV_OFF][both] + 7).all()
    assert (fast.check_run[..., 0] > 0).any() and (fast.check_run[..., 1] > 0).any()


def test_a_settlement_lag_takes_no_citizen_after_the_deal():
    """The weeks simulated for a settlement lag take no citizen: a delay that pushes
    entries past the deal's horizon leaves them out with and without a lag (the same
    citizens, the same courses up to the deal's horizon)."""
    raw = load_raw("sundinvest_sygemeldte")
    raw["cohort"]["enrolment"]["delay_weeks"] = 120.0
    raw["uncertainty"]["parameters"] = [
        p for p in raw["uncertainty"]["parameters"] if "delay" not in p["path"]
    ]
    plain = _run(_deal(raw), 1, 0, 6)[2]
    raw["contract"]["settlement_lag_weeks"] = 13
    cfg = _deal(raw)
    st, _, lagged, _ = _assert_twin(cfg, 1, 0, 6)
    D = st.deal_weeks
    assert st.horizon == D + 13
    np.testing.assert_array_equal(lagged.entry, plain.entry)
    assert (lagged.entry < D).all()
    # the delay does push planned entries past the deal's horizon
    planned = simulation.planned_entries(cfg) + 120
    assert ((planned >= D) & (planned < D + 13)).any()
    np.testing.assert_array_equal(lagged.state_count[:, :, :D], plain.state_count[:, :, :D])


def test_kernel_outputs_that_overlap_another_array_are_refused():
    """The kernel is compiled on the promise that what it writes shares no memory with
    any other argument (simrisk.jit); simulate checks it before every call."""
    from simrisk.simulation import _check_apart
    from simrisk.simulation.groups import KernelOut

    buf = np.zeros(64)
    parts = [np.zeros(4) for _ in KernelOut._fields]
    _check_apart(KernelOut(*parts), (np.zeros(3),))  # apart: no error
    parts[0] = buf[:8]
    with pytest.raises(RuntimeError, match="state_count overlaps"):
        _check_apart(KernelOut(*parts), (buf[4:12],))  # an input overlapping an output
    parts[0], parts[1] = buf[:8], buf[8:16]
    _check_apart(KernelOut(*parts), ())  # neighbours in one buffer do not overlap
    parts[1] = buf[6:14]
    with pytest.raises(RuntimeError, match="overlaps"):
        _check_apart(KernelOut(*parts), ())  # two outputs overlapping
