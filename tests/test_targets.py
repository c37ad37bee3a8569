"""Calibration targets: what a target measures on simulated citizens (hand-built arrays),
its deviance, and the checks of a targets file."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

from simrisk.analysis.targets import Target, Targets, check_targets, deviance, load_targets, outcome
from simrisk.config import ConfigError
from simrisk.vocabulary import (
    BENEFIT,
    EDUCATION,
    EMPLOYED,
    EV_EDUCATION,
    EV_JOB,
    EV_SUST13,
    MOVED,
    N_EVENTS,
    TREATMENT,
)
from tests.conftest import CONFIGS

B, E, D, M, X = BENEFIT, EMPLOYED, EDUCATION, MOVED, -1

# One scenario, six citizens, a horizon of 10 weeks; checks at 2, 3 and 4 weeks after
# entry. Citizen 2 never enrolled; citizen 3 entered in week 8 (too late for anything
# measured 2 or more weeks after entry).
ENTRY = np.array([[0, 3, -1, 8, 1, 2]])
CHECK_OFF = np.array([2, 3, 4])
TREATED = [  # state at 2, 3, 4 weeks after entry
    [E, E, B],
    [B, M, M],
    [X, X, X],
    [E, X, X],
    [B, B, E],
    [D, E, E],
]
JOB = [1, 7, -1, 9, -1, 5]  # week of first job entry (calendar week), treatment arm
SCHOOL = [-1, -1, -1, -1, 4, -1]  # week of first education entry


def _sim():
    checks = np.full((1, 2, 6, 3), BENEFIT, np.int8)  # counterfactual: all on benefit
    checks[0, TREATMENT] = TREATED
    events = np.full((1, 2, 6, N_EVENTS), -1, np.int64)
    events[0, TREATMENT, :, EV_JOB] = JOB
    events[0, TREATMENT, :, EV_EDUCATION] = SCHOOL
    return SimpleNamespace(entry=ENTRY, checks=checks, events=events)


ST = SimpleNamespace(horizon=10, check_off=CHECK_OFF)


def _target(**kw) -> Target:
    base = {"name": "t", "arm": "treatment", "observed": 0.5, "n": 100, "source": "s"}
    return Target.model_validate(base | kw)


def test_share_in_a_state_excludes_the_moved():
    """Employed 3 weeks after entry: measurable are citizens 0, 1, 4, 5 (entry + 3 < 10);
    citizen 1 has moved away and is left out; of 0, 4, 5 two are employed: 2/3, with
    SE sd(1, 0, 1) / sqrt(3) = sqrt(1/3) / sqrt(3) = 1/3."""
    value, se = outcome(_sim(), _target(kind="at_week", states=["employed"], week=3), ST)
    assert value == pytest.approx(2 / 3) and se == pytest.approx(1 / 3)


def test_share_of_several_states_and_of_the_other_arm():
    """Employed or in education 2 weeks after entry: citizens 0 (E), 1 (B), 4 (B), 5 (D) ->
    2/4; in the counterfactual arm everybody is on benefit -> 0."""
    t = _target(kind="at_week", states=["employed", "education"], week=2)
    assert outcome(_sim(), t, ST)[0] == 0.5
    cf = _target(kind="at_week", arm="counterfactual", states=["employed"], week=2)
    assert outcome(_sim(), cf, ST) == (0.0, 0.0)


def test_weeks_in_a_state_over_a_window():
    """Weeks employed at 2, 3, 4 weeks after entry (window [2, 5)), for citizens with
    entry + 4 < 10 (0, 1, 4, 5): 2, 0, 1, 2 -> mean 5/4; SE sd(2, 0, 1, 2) / 2. Citizen 1,
    who moved away, counts with no weeks (a mean over all of an arm's participants)."""
    t = _target(kind="weeks_in", states=["employed"], window=[2, 5], se=0.5, n=None)
    value, se = outcome(_sim(), t, ST)
    assert value == 1.25
    assert se == pytest.approx(math.sqrt((0.75**2 + 1.25**2 + 0.25**2 + 0.75**2) / 3) / 2)


def test_ever_in_a_state_counts_weeks_since_entry():
    """Ever employed within 3 weeks of entry, for citizens 0, 1, 4, 5: job entries in
    weeks 1 (1 - 0 = 1: yes), 7 (7 - 3 = 4: no), none, 5 (5 - 2 = 3: yes) -> 2/4; with
    education too, citizen 4 (week 4, 4 - 1 = 3) counts -> 3/4."""
    assert outcome(_sim(), _target(kind="ever_by", states=["employed"], week=3), ST)[0] == 0.5
    both = _target(kind="ever_by", states=["employed", "education"], week=3)
    assert outcome(_sim(), both, ST)[0] == 0.75


def test_nothing_measurable_gives_nan():
    short = SimpleNamespace(horizon=4, check_off=CHECK_OFF)  # nobody is followed 4 weeks
    value, se = outcome(_sim(), _target(kind="at_week", states=["employed"], week=4), short)
    assert math.isnan(value) and math.isnan(se)


def test_binomial_deviance_by_hand():
    """k = 30 of n = 100 observed, simulated p: 2 [k ln(k / np) + (n - k) ln((n - k) /
    (n (1 - p)))]; 0 at p = k / n."""
    t = _target(kind="at_week", states=["employed"], week=3, observed=0.3, n=100)
    assert deviance(t, 0.3) == pytest.approx(0.0, abs=1e-12)
    assert deviance(t, 0.5) == pytest.approx(2 * (30 * math.log(0.6) + 70 * math.log(1.4)))
    none = _target(kind="at_week", states=["employed"], week=3, observed=0.0, n=50)
    assert deviance(none, 0.2) == pytest.approx(2 * 50 * math.log(1 / 0.8))
    assert deviance(t, float("nan")) == 1e12


def test_normal_deviance_by_hand():
    t = _target(kind="weeks_in", states=["employed"], window=[0, 4], observed=5.0, se=0.5, n=None)
    assert deviance(t, 6.0) == 4.0
    s = _target(kind="at_week", states=["employed"], week=3, observed=0.25, se=0.05, n=None)
    assert deviance(s, 0.35) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "fields,needle",
    [
        ({"kind": "at_week", "states": ["employed"]}, "kind 'at_week' needs 'week'"),
        ({"kind": "share", "states": ["employed"], "week": 3}, "kind 'share' is now 'at_week'"),
        ({"kind": "ever", "states": ["employed"], "week": 3}, "kind 'ever' is now 'ever_by'"),
        (
            {"kind": "at_week", "states": ["employed"], "week": 3, "observed": 1.3},
            "between 0 and 1",
        ),
        ({"kind": "ever_by", "states": ["permanent"], "week": 3}, "counts entries into"),
        ({"kind": "at_week", "states": ["off_benefit"], "week": 3}, "are events: use kind"),
        ({"kind": "time_to_event", "states": ["employed"]}, "needs 'quantile' and 'n'"),
        (
            {"kind": "sustained", "states": ["employed"], "week": 3, "spell_weeks": 10},
            "'spell_weeks' = 13, 26 or 52",
        ),
        ({"kind": "weeks_in", "states": ["employed"], "window": [4, 2]}, "with to > from"),
        ({"kind": "weeks_in", "states": ["employed"], "window": [0, 2]}, "needs 'se'"),
        (
            {"kind": "at_week", "states": ["employed"], "week": 3, "se": 0.1},
            "exactly one of 'n' (sample size) and 'se'",
        ),
    ],
)
def test_target_shape_rules(fields, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        _target(**fields)


# --------------------------------------------------------------------- targets files
FREE = "name='t'\nsource='s'\n[[free]]\npath='labour.job_entry_multiplier'\nlow=0.5\nhigh=2\n"
SHARE = (
    "[[targets]]\nname='a'\nkind='at_week'\narm='treatment'\nstates=['employed']\n"
    "week=10\nobserved=0.3\nn=10\nsource='s'\n"
)

BAD_FILES = {
    "unknown key": (FREE + SHARE + "weight=2\n", "targets[0].weight"),
    "share above 1": (FREE + SHARE.replace("0.3", "1.3"), "targets[0]"),
    "unknown state": (FREE + SHARE.replace("'employed'", "'retired'"), "targets[0].states[0]"),
    "no targets": (FREE, "targets"),
    "low above high": (FREE.replace("high=2", "high=0.1"), "free[0]"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_targets_files(tmp_path, case):
    body, field = BAD_FILES[case]
    path = tmp_path / "t.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_targets(path)
    assert any(p.startswith(field) for p in err.value.problems), err.value.problems


def test_malformed_and_missing_targets_files(tmp_path):
    bad = tmp_path / "t.toml"
    bad.write_text("name = 'unterminated\n")
    for path in (bad, tmp_path / "missing.toml"):
        with pytest.raises(ConfigError) as err:
            load_targets(path)
        assert str(path) in str(err.value)


def _targets(free: list[dict], week: int = 10) -> Targets:
    return Targets.model_validate(
        {
            "name": "t",
            "source": "s",
            "free": free,
            "targets": [
                {
                    "name": "a",
                    "kind": "at_week",
                    "arm": "treatment",
                    "states": ["employed"],
                    "week": week,
                    "observed": 0.3,
                    "n": 10,
                    "source": "s",
                }
            ],
        }
    )


def test_check_targets_against_the_deal_names_every_problem(holbaek):
    tg = _targets(
        [
            {"path": "labour.nothing", "low": 0, "high": 1},
            {"path": "cohort.size", "low": 1, "high": 100},
            {"path": "cohort.uptake", "low": 0.5, "high": 1.5},
            {"path": "labour.job_entry_multiplier", "low": 0.5, "high": 2.0},
        ],
        week=900,
    )
    problems = check_targets(tg, holbaek)
    assert problems[0] == "free[0].path: 'labour.nothing' names no field of the deal"
    assert problems[1] == "free[1].path: 'cohort.size' is not a real-valued field"
    assert problems[2].startswith("free[2].high: cohort.uptake does not accept it (")
    assert problems[3] == (
        "targets[0]: measured 900 weeks after entry, beyond the deal's horizon (312 weeks)"
    )
    assert len(problems) == 4
    ok = _targets([{"path": "cohort.uptake", "low": 0.5, "high": 1.0}], week=300)
    assert check_targets(ok, holbaek) == []


def test_the_included_targets_files_fit_their_deals():
    from simrisk.config import load_deal

    cfg, _ = load_deal(CONFIGS / "sundinvest_sygemeldte.toml")
    tg = load_targets(CONFIGS / "targets" / "jobafklaring_baseline.toml", cfg)
    assert [t.offsets for t in tg.targets] == [[39]]
    assert [f.path for f in tg.free] == ["labour.job_entry_multiplier"]


def test_sustained_counts_the_first_jobs_own_spell():
    """Of the citizens whose first job began within 5 weeks of entry (treatment arm:
    citizen 0 at 1 - 0, 1 at 7 - 3, 3 at 9 - 8, 5 at 5 - 2; 4 never had a job, 2 never
    entered), the share whose first spell lasted 13 weeks: the 13-week event falls in
    that spell's 13th week (job + 12). Citizen 0: yes (event at 13 = 1 + 12); citizen 1:
    a later spell reached 13 weeks (event at 40, not 7 + 12): no; 3 and 5: no event.
    -> 1/4."""
    sim = _sim()
    sim.events[0, TREATMENT, :, EV_SUST13] = [13, 40, -1, -1, -1, -1]
    st = SimpleNamespace(horizon=100, check_off=CHECK_OFF)
    t = _target(kind="sustained", states=["employed"], week=5, spell_weeks=13)
    value, _ = outcome(sim, t, st)
    assert value == pytest.approx(1 / 4)


def test_a_posterior_piled_at_a_bound_is_judged_on_the_priors_scale():
    from simrisk.analysis import bayes
    from simrisk.analysis.calibrate import piled_at_bounds

    rng = np.random.default_rng(1)
    prior = bayes.Prior(np.array([0.05]), np.array([5.0]), np.array([True]))
    flat_in_log = np.exp(rng.uniform(np.log(0.05), np.log(5.0), size=(500, 1)))
    assert piled_at_bounds(flat_in_log, prior) == []  # a linear scale would say "lower"
    near_low = np.exp(rng.uniform(np.log(0.05), np.log(0.06), size=(500, 1)))
    assert piled_at_bounds(near_low, prior) == [(0, "lower")]
