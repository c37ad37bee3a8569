"""The simulation kernel: naive-twin equivalence, analytic occupancy, Monte Carlo checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from simrisk import kernel, model
from simrisk.config import parse_deal
from simrisk.sampling import Sampler
from tests import naive
from tests.conftest import load_raw, simple_deal


def _arrays(cfg, seed, scen0, n):
    st = model.build_structure(cfg)
    sampler = Sampler(cfg, seed, scen0 + n)
    v = model.Values(cfg.model_dump(by_alias=True), sampler.overrides(sampler.draw(scen0, n)), n)
    return st, model.scenario_arrays(cfg, st, v)


def test_rng_matches_plain_python():
    key = kernel.seed_key(12345)
    assert int(key) == naive.seed_key(12345)
    table = kernel.uniform_table(key, 7, 3, 4, kernel.STREAM_PARAMETERS)
    for i in range(3):
        rng = naive.Rng(naive.stream(int(key), 7 + i, 0, kernel.STREAM_PARAMETERS))
        assert [rng.uniform() for _ in range(4)] == list(table[i])


@pytest.mark.parametrize(
    ("control", "job_loss", "benefit_effect"),
    [(False, True, True), (True, True, True), (False, False, True), (False, True, False)],
)
def test_kernel_equals_naive_twin(control, job_loss, benefit_effect):
    """Same draws, same answer: the event-driven kernel and a week-by-week twin.

    Without a job-loss hazard ratio the programme context does not touch the hazards of
    a job, and without job- and education-entry ratios not those of benefit: the kernel
    then runs through the context's changes in one stretch."""
    raw = load_raw("holbaek")
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
    raw["deal"]["horizon_weeks"] = 120
    raw["cohort"]["size"] = 40
    raw["cohort"]["enrolment"]["weeks"] = 30
    raw["programme"]["phases"][2]["dropout"] = 0.05  # some dropouts
    raw["labour"]["transitions"][2]["probability"] = 0.01  # some permanent
    raw["labour"]["calendar"] = [
        {
            "start": raw["deal"]["start_date"].replace(month=6),
            "end": raw["deal"]["start_date"].replace(year=2025),
            "job_entry_multiplier": 0.5,
        }
    ]
    raw["economics"]["refusion"] = {
        "steps": [
            {"from_week": 1, "state_share": 0.8},
            {"from_week": 5, "state_share": 0.4},
            {"from_week": 27, "state_share": 0.3},
            {"from_week": 53, "state_share": 0.2},
        ],
        "reset_weeks": 8,  # short, so resets happen within the horizon
    }
    raw["contract"]["mechanisms"].append(
        {"kind": "target", "outcome": "employed", "at_week": 26, "threshold": 0.3, "payment": 1.0}
    )
    raw["contract"]["mechanisms"].append(
        {
            "kind": "target",
            "outcome": "self_supporting",
            "at_week": 52,
            "threshold": 0.3,
            "payment": 1.0,
        }
    )
    cfg = parse_deal(raw, "twin")
    st, arr = _arrays(cfg, 99, 5, 3)
    assert arr["ctx_dep"][:, kernel.EMPLOYED].all() == job_loss
    assert arr["ctx_dep"][:, kernel.BENEFIT].all() == benefit_effect
    assert not arr["ctx_dep"][:, kernel.EDUCATION].any()
    key = kernel.seed_key(99)
    entry = st.entry_planned
    fast = model.simulate(key, 5, st, arr, entry, control=control)
    slow = naive.simulate(
        int(key),
        5,
        kernel.CONTROL_OFFSET if control else 0,
        not control,
        entry,
        arr,
        st,
        arr["n_fade"],
        st.horizon,
    )
    arms = 1 if control else 2
    assert (fast["entry"] == slow["entry"]).all()
    for name in ("occ", "ben", "prog"):
        a, b = fast[name], slow[name]
        if name != "prog":
            a, b = a[:, :arms], b[:, :arms]
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_allclose(fast["ref"][:, :arms], slow["ref"][:, :arms], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(fast["events"][:, :arms], slow["events"][:, :arms])
    np.testing.assert_array_equal(fast["checks"][:, :arms], slow["checks"][:, :arms])
    # the test exercises what it claims to: transitions, dropouts, absorbing states
    occ = fast["occ"]
    assert occ[:, 0, 1].sum() > 0 and occ[:, 0, 3].sum() > 0
    if not control:
        assert fast["prog"][:, -1].sum() > 0  # dropped


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
    """Mean weekly occupancy equals pi0 M^t; tolerance from the Monte Carlo standard error."""
    probs = {
        ("benefit", "employed"): 0.05,
        ("benefit", "moved"): 0.01,
        ("benefit", "permanent"): 0.004,
        ("employed", "benefit"): 0.03,
        ("employed", "education"): 0.02,
        ("education", "benefit"): 0.04,
    }
    transitions = [{"from": f, "to": t, "probability": p} for (f, t), p in probs.items()]
    cfg = simple_deal(size=100, horizon=60, transitions=transitions)
    n = 400
    st, arr = _arrays(cfg, 3, 0, n)
    sim = model.simulate(kernel.seed_key(3), 0, st, arr, st.entry_planned)
    occ = sim["occ"][:, 0] / 100.0  # (scenario, state, week), shares
    M = _weekly_matrix(probs)
    pi = np.zeros(5)
    pi[0] = 1.0
    expected = np.empty((60, 5))
    for t in range(60):
        expected[t] = pi
        pi = pi @ M
    mean = occ.mean(axis=0).T  # (week, state)
    se = np.sqrt(expected * (1 - expected) / (n * 100)) + 1e-12
    z = np.abs(mean - expected) / se
    assert z.max() < 5.0, f"max z-score {z.max():.2f}"
    # the treatment arm with hazard ratio 1 and no dropout is the same process
    np.testing.assert_array_equal(sim["occ"][:, 0], sim["occ"][:, 1])


def test_effect_raises_job_entries_by_the_hazard_ratio():
    """With only benefit -> employed at p and a hazard ratio r in the single phase, the
    share employed after w weeks is 1 - (1-p)^(r w); checked within 5 standard errors."""
    p, r, w = 0.02, 2.0, 10
    cfg = simple_deal(
        size=200,
        horizon=40,
        transitions=[{"from": "benefit", "to": "employed", "probability": p}],
        effect={"job_entry": [r]},
    )
    n = 200
    st, arr = _arrays(cfg, 11, 0, n)
    sim = model.simulate(kernel.seed_key(11), 0, st, arr, st.entry_planned)
    emp = sim["occ"][:, :, 1, w] / 200.0  # (scenario, arm) at week w
    for arm, ratio in ((0, 1.0), (1, r)):
        expected = 1 - (1 - p) ** (ratio * w)
        se = np.sqrt(expected * (1 - expected) / (n * 200))
        assert abs(emp[:, arm].mean() - expected) < 5 * se
    # common random numbers: nobody is employed in the counterfactual but not in treatment
    first = sim["events"][:, :, :, 0]
    both = (first[:, 0] >= 0) & (first[:, 1] >= 0)
    assert (first[:, 1][both] <= first[:, 0][both]).all()


def test_dropout_share_is_geometric():
    """Completion probability of a programme = prod over phases of (1 - d_k)^weeks_k."""
    phases = [
        {"name": "a", "weeks": 5, "cost_per_week": 1.0, "dropout": 0.02},
        {"name": "b", "weeks": 8, "cost_per_week": 1.0, "dropout": 0.05},
    ]
    cfg = simple_deal(
        size=100,
        horizon=30,
        phases=phases,
        effect={"job_entry": [1.0, 1.0]},
        transitions=[{"from": "benefit", "to": "employed", "probability": 0.0}],
    )
    n = 300
    st, arr = _arrays(cfg, 5, 0, n)
    sim = model.simulate(kernel.seed_key(5), 0, st, arr, st.entry_planned)
    completed = sim["prog"][:, 2, 29] / 100.0
    expected = 0.98**5 * 0.95**8
    se = np.sqrt(expected * (1 - expected) / (n * 100))
    assert abs(completed.mean() - expected) < 5 * se
    # programme weeks: phase occupancy + dropped + completed = everyone, every week
    np.testing.assert_array_equal(sim["prog"].sum(axis=1), 100.0)


def test_refusion_staircase_by_hand():
    """Nobody leaves benefit: the municipal share follows the staircase exactly."""
    cfg = simple_deal(
        size=3,
        horizon=60,
        transitions=[{"from": "benefit", "to": "employed", "probability": 0.0}],
        weeks_on_benefit=2,
    )
    st, arr = _arrays(cfg, 1, 0, 2)
    sim = model.simulate(kernel.seed_key(1), 0, st, arr, st.entry_planned)
    # weeks on benefit before week t: 2 + t -> the citizen's (3 + t)-th week
    nth = 3 + np.arange(60)
    share = np.select([nth <= 4, nth <= 26, nth <= 52], [0.8, 0.4, 0.3], 0.2)
    np.testing.assert_allclose(sim["ref"][0, 0, 0], 3 * share)
    np.testing.assert_array_equal(sim["ben"][0, 0, 0], 3.0)


def test_scenario_independent_of_chunk_and_position():
    cfg = parse_deal(copy.deepcopy(load_raw("holbaek")), "h")
    st, arr_all = _arrays(cfg, 8, 0, 6)
    key = kernel.seed_key(8)
    whole = model.simulate(key, 0, st, arr_all, st.entry_planned)
    whole = {k: v.copy() for k, v in whole.items()}
    _, arr_tail = _arrays(cfg, 8, 4, 2)
    tail = model.simulate(key, 4, st, arr_tail, st.entry_planned)
    for name in ("occ", "ben", "ref", "prog", "events", "entry"):
        np.testing.assert_array_equal(whole[name][4:], tail[name])
