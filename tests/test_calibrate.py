"""Calibration: recovery of known parameters from data the model generates, the objective,
the calibrated file, the command."""

from __future__ import annotations

import json
import math
import tomllib

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from simrisk.analysis import calibrate as cal
from simrisk.cli import main
from simrisk.config import ConfigError, load_deal
from tests.conftest import CONFIGS, simple_deal

# no move-away, everybody enters in week 0: every citizen is measurable at every week,
# so a share's sample size is scenarios x cohort size
TRANSITIONS = [
    {"from": "benefit", "to": "employed", "probability": 0.02},
    {"from": "employed", "to": "benefit", "probability": 0.01},
]
SIZE = 100
TRUTH = {"labour.job_entry_multiplier": 1.8, "effect.job_entry[0]": 2.5}


def _deal():
    return simple_deal(size=SIZE, horizon=80, transitions=TRANSITIONS, effect={"job_entry": [2.0]})


def _share(arm: str, week: int, observed: float = 0.0, n: int = 1) -> dict:
    return {
        "name": f"{arm} employed at {week}",
        "kind": "at_week",
        "arm": arm,
        "states": ["employed"],
        "week": week,
        "observed": observed,
        "n": n,
        "source": "synthetic",
    }


def _targets(specs: list[dict], free=None) -> cal.Targets:
    free = free or [{"path": p, "low": 0.1, "high": 6.0} for p in TRUTH]
    return cal.Targets.model_validate(
        {"name": "synthetic", "source": "the model itself", "free": free, "targets": specs}
    )


def _observe(cfg, spec: dict, scenarios: int, seed: int) -> dict:
    """A sample of the model at the true values: its own citizens (its own seed), so the
    targets' sampling errors are independent binomials of size scenarios x SIZE."""
    obj = cal.Objective(cfg, _targets([spec]), scenarios, seed)
    value, _ = obj.outcomes(np.array(list(TRUTH.values())))[0]
    return spec | {"observed": value, "n": scenarios * SIZE}


def test_recovers_known_parameters_within_their_standard_errors():
    """Three binomial targets (2,000 citizens each, independent samples) generated at a job
    entry multiplier 1.8 and hazard ratio 2.5; fitted on 8,000 other simulated citizens.
    The covariance from the deviance's Hessian (the inverse Fisher information) is the
    observations' part of the estimate's error; the simulation's own noise adds the same
    again in the ratio N_obs / N_sim, so SE^2 = cov_ii (1 + 2000 / 8000). Each estimate
    lies within 4 SE of the truth. The deviance at the optimum is then about
    (1 + N_obs / N_sim) chi2(3 - 2): the scaled value is not in the chi2's 1e-4 tail."""
    cfg = _deal()
    obs_scen, sim_scen = 20, 80
    specs = [
        _observe(cfg, _share("counterfactual", 26), obs_scen, 101),
        _observe(cfg, _share("treatment", 26), obs_scen, 202),
        _observe(cfg, _share("counterfactual", 52), obs_scen, 303),
    ]
    fit = cal.calibrate(cfg, _targets(specs), n_scenarios=sim_scen, seed=5, propagate=True)
    assert fit.names == list(TRUTH) and fit.df == 1
    inflate = 1 + (obs_scen * SIZE) / (sim_scen * SIZE)
    se = np.sqrt(np.diag(fit.covariance) * inflate)
    assert (se > 0).all() and (se < 0.1 * np.array(list(TRUTH.values()))).all(), se
    for (name, truth), est, s in zip(TRUTH.items(), fit.estimate, se, strict=True):
        assert abs(est - truth) < 4 * s, (name, est, truth, s)
    assert stats.chi2.sf(fit.loss / inflate, fit.df) > 1e-4
    assert fit.start.tolist() == [1.0, 2.0]  # the deal's own values


def test_the_fitted_table_reports_the_fit():
    cfg = _deal()
    specs = [_observe(cfg, _share("counterfactual", 26), 10, 7)]
    free = [{"path": "labour.job_entry_multiplier", "low": 0.5, "high": 4.0}]
    fit = cal.calibrate(cfg, _targets(specs, free), n_scenarios=20, seed=3)
    (row,) = fit.table
    assert row["observed"] == specs[0]["observed"] and row["target"] == specs[0]["name"]
    # one parameter for one target: the fit reaches the observation up to the simulated
    # share's own noise (its MC SE); the deviance is the row's
    assert abs(row["fitted"] - row["observed"]) < 4 * row["mc_se"]
    assert fit.loss == row["deviance"] and fit.df == 0 and math.isnan(fit.p_value)
    assert fit.covariance is None  # not asked for


def test_objective_is_deterministic_and_moves_with_the_hazard():
    cfg = simple_deal(size=50, horizon=60, transitions=TRANSITIONS)
    specs = [
        {
            "name": "x",
            "kind": "weeks_in",
            "arm": "counterfactual",
            "states": ["employed"],
            "window": [0, 40],
            "observed": 5.0,
            "se": 1.0,
            "source": "s",
        },
        {
            "name": "y",
            "kind": "ever_by",
            "arm": "counterfactual",
            "states": ["employed"],
            "week": 30,
            "observed": 0.4,
            "n": 100,
            "source": "s",
        },
    ]
    tg = _targets(specs, [{"path": "labour.job_entry_multiplier", "low": 0.5, "high": 3}])
    a = cal.Objective(cfg, tg, 50, 1).outcomes(np.array([1.3]))
    assert a == cal.Objective(cfg, tg, 50, 1).outcomes(np.array([1.3]))
    assert a != cal.Objective(cfg, tg, 50, 2).outcomes(np.array([1.3]))  # the seed matters
    # on the same streams a higher job entry hazard gives more weeks employed and more
    # citizens ever employed, in the mean
    c = cal.Objective(cfg, tg, 50, 1).outcomes(np.array([2.0]))
    assert c[0][0] > a[0][0] and c[1][0] > a[1][0]


# -------------------------------------------------------------------- the calibrated file
DEAL = CONFIGS / "sundinvest_sygemeldte.toml"
TARGETS = CONFIGS / "targets" / "jobafklaring_baseline.toml"


def _fit(estimate: float, cov=None) -> cal.Fit:
    return cal.Fit(
        names=["labour.job_entry_multiplier"],
        start=np.array([1.0]),
        estimate=np.array([estimate]),
        loss=0.5,
        df=0,
        p_value=float("nan"),
        table=[],
        covariance=cov,
        evaluations=10,
        message="",
    )


def test_fit_warnings_by_hand():
    """A parameter at a bound (as the fit found it), a poor fit (p < 0.05) and
    a target missed by more than the 95 % point of chi-squared(1) are said; a fit inside
    its range that reproduces its targets has no warning."""
    free = [{"path": "labour.job_entry_multiplier", "low": 0.5, "high": 4.0}]
    tg = _targets([_share("counterfactual", 26, 0.3, 100)] * 3, free)
    rows = [
        {"target": "a", "observed": 0.30, "fitted": 0.31, "deviance": 1.0},
        {"target": "b", "observed": 0.30, "fitted": 0.45, "deviance": 9.5},
        {"target": "c", "observed": 0.30, "fitted": 0.29, "deviance": 1.5},
    ]
    fit = cal.Fit(["labour.job_entry_multiplier"], np.array([1.0]), np.array([3.97]), 12.0,
                  2, float(stats.chi2.sf(12.0, 2)), rows, None, 10, "", [(0, "upper")])  # fmt: skip
    w = cal.fit_warnings(fit, tg)
    assert len(w) == 3
    assert w[0].startswith("labour.job_entry_multiplier = 3.97 sits at the upper bound 4")
    assert w[1].startswith("poor fit: deviance 12.00 on 2 degrees of freedom (p = 0.00248")
    assert w[2].startswith("target 'b' missed: fitted 0.450 against observed 0.300")
    good = cal.Fit(fit.names, fit.start, np.array([0.6]), 2.5, 2, float(stats.chi2.sf(2.5, 2)),
                   [rows[0], rows[2]], None, 10, "")  # fmt: skip
    assert cal.fit_warnings(good, tg) == []
    low = cal.Fit(fit.names, fit.start, np.array([0.52]), 0.0, 0, float("nan"), [], None, 1, "",
                  [(0, "lower")])  # fmt: skip
    assert "sits at the lower bound 0.5" in cal.fit_warnings(low, tg)[0]


def test_a_target_out_of_reach_is_flagged_with_the_bound():
    """Employment at week 26 far above what the range allows: the multiplier ends at its
    upper bound and the target is missed; both are said, on stderr and in the file."""
    cfg = _deal()
    spec = _share("counterfactual", 26, observed=0.97, n=2000)
    free = [{"path": "labour.job_entry_multiplier", "low": 0.5, "high": 2.0}]
    fit = cal.calibrate(cfg, _targets([spec], free), n_scenarios=10, seed=3)
    w = cal.fit_warnings(fit, _targets([spec], free))
    assert fit.at_bounds == [(0, "upper")]
    assert any("sits at the upper bound 2" in x for x in w)
    assert any(x.startswith("target 'counterfactual employed at 26' missed") for x in w)
    # a target inside the range: no bound
    inside = _observe(cfg, _share("counterfactual", 26), 10, 7)
    fit = cal.calibrate(cfg, _targets([inside], free), n_scenarios=10, seed=3)
    assert fit.at_bounds == [] and cal.fit_warnings(fit, _targets([inside], free)) == []


def test_write_calibrated_sets_the_value_and_keeps_comments():
    text = DEAL.read_text(encoding="utf-8")
    tg = cal.load_targets(TARGETS)
    warnings = []
    new = cal.write_calibrated(text, _fit(1.234567), tg, str(TARGETS), False, warnings)
    data = tomllib.loads(new)
    assert data["labour"]["job_entry_multiplier"] == 1.235  # four significant digits
    assert '# Norddjurs Kommune and SundInvest, "NK1"' in new
    assert "calibrated to jobafklaring_baseline.toml (Jobafklaring baseline); was" in new
    assert new.startswith("# Calibrated by simrisk on ")
    assert "Deviance 0.50 on 0 degrees of freedom." in new
    # without --propagate the fitted path gets no distribution
    paths = [p["path"] for p in data.get("uncertainty", {}).get("parameters", [])]
    assert "labour.job_entry_multiplier" not in paths
    assert "posterior" not in data["uncertainty"]  # a point fit replaces the posterior
    assert any("posteriors/sundinvest_sygemeldte.toml" in w for w in warnings)
    cal.calibrated_config(new, "out.toml")  # still a valid deal


def test_write_calibrated_with_propagate_replaces_the_distribution():
    text = DEAL.read_text(encoding="utf-8")
    tg = cal.load_targets(TARGETS)
    new = cal.write_calibrated(text, _fit(1.5, np.array([[0.04]])), tg, str(TARGETS), True)
    params = tomllib.loads(new)["uncertainty"]["parameters"]
    rec = [p for p in params if p["path"] == "labour.job_entry_multiplier"]
    assert len(rec) == 1
    assert rec[0] | {"source": ""} == {
        "path": "labour.job_entry_multiplier",
        "distribution": "normal",
        "mean": 1.5,
        "sd": 0.2,  # sqrt(0.04)
        "low": 0.2,
        "high": 5.0,
        "source": "",
    }
    cal.calibrated_config(new, "out.toml")


def test_write_calibrated_refuses_a_value_the_file_does_not_write():
    """A field that comes from the shared rules (not written in the deal file) cannot be
    set in place: the error says so."""
    text = DEAL.read_text(encoding="utf-8")
    assert "indexation" not in text
    tg = cal.load_targets(TARGETS)
    fit = _fit(0.01)
    fit.names = ["economics.benefits.sygedagpenge.indexation"]
    with pytest.raises(ConfigError) as err:
        cal.write_calibrated(text, fit, tg, str(TARGETS), False)
    assert err.value.problems[0].startswith(
        "free: 'economics.benefits.sygedagpenge.indexation' is not written in the deal file itself"
    )


def test_cli_writes_a_calibrated_deal(tmp_path):
    out = tmp_path / "cal.toml"
    res = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(DEAL),
            *("--targets", str(TARGETS), "-o", str(out), "-n", "40", "--method", "point"),
            *("--propagate", "--json"),
        ],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    data = tomllib.loads(out.read_text())
    (param,) = got["parameters"]
    assert data["labour"]["job_entry_multiplier"] == float(f"{param['estimate']:.4g}")
    rec = next(
        p for p in data["uncertainty"]["parameters"] if p["path"] == "labour.job_entry_multiplier"
    )
    assert rec["distribution"] == "normal" and rec["sd"] == float(f"{param['sd']:.3g}")
    # one parameter, one target: the fit meets the observation within the simulated
    # share's MC noise
    (row,) = got["table"]
    assert abs(row["fitted"] - 0.25) < 4 * row["mc_se"]
    # the calibrated deal loads
    cfg, _ = load_deal(out)
    assert cfg.labour.job_entry_multiplier == data["labour"]["job_entry_multiplier"]


def test_cli_rejects_a_bad_targets_file_and_writes_nothing(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(
        "name='t'\nsource='s'\n[[free]]\npath='cohort.uptake'\nlow=0.5\nhigh=1.5\n"
        "[[targets]]\nname='a'\nkind='at_week'\narm='treatment'\nstates=['employed']\n"
        "week=10\nobserved=0.3\nn=5\nsource='s'\n"
    )
    out = tmp_path / "o.toml"
    res = CliRunner().invoke(
        main, ["calibrate", str(CONFIGS / "holbaek.toml"), "--targets", str(path), "-o", str(out)]
    )
    assert res.exit_code == 1 and "free[0].high" in res.stderr, res.output
    assert "Traceback" not in res.output and not out.exists()
