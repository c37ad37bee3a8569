"""Sensitivity: Sobol indices (analytic test functions and a deal with a closed-form
answer), tornado swings, the variance split, and the outputs' conventions."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from scipy import stats

from simrisk import engine
from simrisk.analysis import sensitivity as sa
from simrisk.cli import main
from simrisk.config import ConfigError, load_deal, parse_deal
from tests.conftest import CONFIGS, simple_raw

# three uncertain parameters, each uniform on [0, 1]: the fake model below maps them to
# the test functions' inputs (the deal only supplies the sampler and the design)
UNIT = ("programme.setup_cost", "programme.phases[0].cost_per_week", "cohort.frailty_variance")


def _deal(parameters, **kw):
    raw = simple_raw(**kw)
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["uncertainty"] = {"parameters": parameters}
    return parse_deal(raw, "sensitivity test")


def _unit_deal(d=3):
    return _deal(
        [{"path": p, "distribution": "uniform", "low": 0.0, "high": 1.0} for p in UNIT[:d]]
    )


def _fake_engine(monkeypatch, model, calls=None):
    """Replace the engine sensitivity runs by ``model(draws, seed) -> metrics``."""

    def run(cfg, seed, n, *, draws, progress=None, weekly=True):
        assert draws.shape == (n, len(cfg.uncertainty.parameters))
        assert not weekly  # an analysis of metrics keeps no weekly series
        if calls is not None:
            calls.append(draws.copy())
        return SimpleNamespace(metrics=model(draws, seed))

    monkeypatch.setattr(sa, "engine", SimpleNamespace(run=run))


def _ishigami(u, seed, a=7.0, b=0.1):
    x = -np.pi + 2 * np.pi * u
    y = np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])
    return {"y": y}


def _replicated(monkeypatch, model, cfg, n, R=16):
    """Sobol indices from R independent scramblings (seeds 0..R-1) of the design: the
    estimates are i.i.d. (randomised QMC), so their mean has the SE sd / sqrt(R), and
    (mean - truth) / SE is t-distributed with R - 1 degrees of freedom."""
    _fake_engine(monkeypatch, model)
    reps = [sa.sobol(cfg, n, seed, ["y"], n_boot=2)[0] for seed in range(R)]
    out = {}
    for kind in ("first", "total"):
        x = np.array([r[kind][0] for r in reps])
        out[kind] = (x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(R))
    return out


# two-sided 1e-4 quantile of t(15): a correct estimator fails once in 10,000 runs
T_TOL = stats.t.ppf(1 - 0.5e-4, 15)


def _ishigami_truth(a=7.0, b=0.1):
    """Closed form (Sobol' & Levitan 1999): V = a^2/8 + b pi^4/5 + b^2 pi^8/18 + 1/2,
    V1 = (1 + b pi^4/5)^2 / 2, V2 = a^2/8, V13 = 8 b^2 pi^8 / 225;
    S = (V1, V2, 0) / V, ST = (V1 + V13, V2, V13) / V."""
    V1, V2, V13 = (1 + b * np.pi**4 / 5) ** 2 / 2, a**2 / 8, 8 * b**2 * np.pi**8 / 225
    V = a**2 / 8 + b * np.pi**4 / 5 + b**2 * np.pi**8 / 18 + 0.5
    return np.array([V1, V2, 0.0]) / V, np.array([V1 + V13, V2, V13]) / V


# ----------------------------------------------------------------------------- Sobol
def test_sobol_recovers_the_ishigami_indices(monkeypatch):
    """Ishigami (a = 7, b = 0.1) on [-pi, pi]^3. The mean over 16 scramblings lies within
    T_TOL standard errors of the closed form; the SEs (about 0.002) are asserted small, so a
    10 % error in any index would fail."""
    first, total = _ishigami_truth()
    assert first.round(4).tolist() == [0.3139, 0.4424, 0.0]
    assert total.round(4).tolist() == [0.5576, 0.4424, 0.2437]
    got = _replicated(monkeypatch, _ishigami, _unit_deal(), 1024)
    for kind, truth in (("first", first), ("total", total)):
        mean, se = got[kind]
        assert (se > 0).all() and (se < 0.005).all(), (kind, se)
        assert (np.abs(mean - truth) < T_TOL * se).all(), (kind, mean, truth, se)


def test_sobol_bootstrap_intervals_cover_the_ishigami_indices(monkeypatch):
    """The percentile bootstrap resamples rows as if they were i.i.d.; the Sobol points are
    better balanced than that (the replicates above vary about 5 times less), so a 95 %
    interval covers the truth with near certainty, and is still narrow at n = 4096."""
    _fake_engine(monkeypatch, _ishigami)
    idx, runs = sa.sobol(_unit_deal(), 4096, 7, ["y"], n_boot=200)
    assert runs == 4096 * (3 + 2)
    for kind, truth in zip(("first", "total"), _ishigami_truth(), strict=True):
        lo, hi = idx[f"{kind}_lo"][0], idx[f"{kind}_hi"][0]
        assert (lo < truth).all() and (truth < hi).all(), (kind, lo, hi)
        assert (hi - lo < 0.1).all(), (kind, hi - lo)


def test_sobol_of_an_additive_function(monkeypatch):
    """y = x1 + 2 x2 (x3 unused), inputs i.i.d. uniform: S = ST = (1, 4, 0) / 5. For x3 the
    estimators are exactly 0 in every run: its column swap leaves every output as it was."""
    got = _replicated(monkeypatch, lambda u, seed: {"y": u[:, 0] + 2 * u[:, 1]}, _unit_deal(), 512)
    for kind in ("first", "total"):
        mean, se = got[kind]
        assert (se[:2] < 0.005).all(), se
        assert (np.abs(mean[:2] - [0.2, 0.8]) < T_TOL * se[:2]).all(), (kind, mean, se)
        assert mean[2] == 0.0 and se[2] == 0.0


def test_sobol_design_swaps_one_column_of_a_by_b(monkeypatch):
    """Saltelli's design: A, B and, for each parameter i, A with column i from B; all
    rows from one scrambled Sobol sequence of dimension 2d (A its first d coordinates)."""
    calls = []
    _fake_engine(monkeypatch, lambda u, seed: {"y": u.sum(axis=1)}, calls)
    sa.sobol(_unit_deal(), 64, 5, ["y"], n_boot=10)
    A, B, *AB = calls
    assert len(AB) == 3
    pts = stats.qmc.Sobol(6, scramble=True, seed=np.random.default_rng(5)).random(64)
    np.testing.assert_allclose(A, pts[:, :3], rtol=1e-12)
    np.testing.assert_allclose(B, pts[:, 3:], rtol=1e-12)
    for i, ab in enumerate(AB):
        expected = A.copy()
        expected[:, i] = B[:, i]
        np.testing.assert_array_equal(ab, expected)


def _cost_deal():
    """Nobody ever moves (every transition probability 0), nobody drops out: the
    programme costs setup + 50 citizens x 10 weeks x cost_per_week, with no cohort noise."""
    return _deal(
        [
            {"path": "programme.setup_cost", "distribution": "uniform", "low": 0.0, "high": 1e5},
            {
                "path": "programme.phases[0].cost_per_week",
                "distribution": "uniform",
                "low": 100.0,
                "high": 300.0,
            },
        ],
        size=50,
        horizon=30,
        transitions=[{"from": "benefit", "to": "employed", "probability": 0.0}],
    )


def test_sobol_on_a_deal_with_a_closed_form_answer(monkeypatch):
    """programme_cost = setup + 500 cost_per_week: both terms uniform with a range of 1e5
    DKK, so each has half the variance and no interaction: S = ST = (1/2, 1/2). The real
    engine gives the indices of that formula (a twin of the whole chain: design, runs,
    estimators), and the formula's indices are 1/2 within T_TOL randomised-QMC SEs."""
    cfg = _cost_deal()
    real, _ = sa.sobol(cfg, 256, 2, ["programme_cost"], n_boot=20)

    def formula(draws, seed):
        return {"y": draws[:, 0] + 500 * draws[:, 1]}

    _fake_engine(monkeypatch, formula)
    twin, _ = sa.sobol(cfg, 256, 2, ["y"], n_boot=20)
    for k in real:
        np.testing.assert_allclose(real[k], twin[k], rtol=1e-9, atol=1e-12)
    got = _replicated(monkeypatch, formula, cfg, 256)
    for kind in ("first", "total"):
        mean, se = got[kind]
        assert (se < 0.005).all() and (np.abs(mean - 0.5) < T_TOL * se).all(), (kind, mean, se)


def test_sobol_indices_of_an_irrelevant_parameter_are_zero():
    """The set-up cost is the investor's: it does not move the municipal net (no return
    cap in this deal), so its first-order and total indices are exactly 0."""
    cfg = _deal(
        [
            {"path": "effect.job_entry[0]", "distribution": "uniform", "low": 1.0, "high": 4.0},
            {"path": "programme.setup_cost", "distribution": "uniform", "low": 0.0, "high": 1e6},
        ],
        size=100,
        effect={"job_entry": [1.5]},
    )
    assert cfg.investor.return_cap is None
    idx, _ = sa.sobol(cfg, 64, 2, ["municipal_net", "investor_profit"], n_boot=50)
    assert idx["first"][0, 1] == 0.0 and idx["total"][0, 1] == 0.0
    # ... while it does move the investor's profit (an index is exactly 0 only if no
    # output moves with the swapped column)
    assert idx["first"][1, 1] != 0.0 and idx["total"][1, 1] > 0.0


# ---------------------------------------------------------------------------- tornado
def test_tornado_on_the_closed_form_deal():
    """Percentiles of uniform(0, 1e5) and uniform(100, 300): P10/P50/P90 = 1e4/5e4/9e4 and
    120/200/280; the mean cost at the medians is 5e4 + 500 x 200 = 150,000, and moving
    either parameter to its P10 / P90 gives 110,000 / 190,000."""
    low, high, base, pct = sa.tornado(_cost_deal(), 20, 1, ["programme_cost"])
    np.testing.assert_allclose(pct, [[1e4, 9e4], [120.0, 280.0]], rtol=1e-12)
    assert base[0] == pytest.approx(150_000.0, rel=1e-12)
    np.testing.assert_allclose(low[0], [110_000.0, 110_000.0], rtol=1e-12)
    np.testing.assert_allclose(high[0], [190_000.0, 190_000.0], rtol=1e-12)


# ----------------------------------------------------------------------- variance split
def test_variance_split_of_a_known_model(monkeypatch):
    """y = x + z with x ~ N(0, 1) fixed by the parameter draw and z ~ N(0, 1) the
    scenario's own noise: half the variance each, total 2. With M = 2000 outer and R = 4
    inner runs: s2 (variance of the group means, expectation 1 + 1/R) has SE
    (1 + 1/R) sqrt(2 / (M - 1)) = 0.040, the pooled within-variance W has SE
    sqrt(2 / (M (R - 1))) = 0.018; share = (s2 - W/R) / (s2 + W (1 - 1/R)) has, by the
    delta method, SE sqrt((0.5 x 0.040)^2 + (0.625 x 0.018)^2) / 2 = 0.011, and the total
    SE sqrt(0.040^2 + (0.75 x 0.018)^2) = 0.042. Asserted within 4 SE."""
    M, R = 2000, 4

    def model(draws, seed):
        x = stats.norm.ppf(draws[:, 0])
        z = np.random.default_rng(99).standard_normal(draws.shape[0])
        return {"y": x + z}

    _fake_engine(monkeypatch, model)
    total, par, coh = sa.variance_split(_unit_deal(1), M, R, 4, ["y"])
    assert abs(par[0] - 0.5) < 4 * 0.0115
    assert abs(total[0] - 2.0) < 4 * 0.042
    assert coh[0] == pytest.approx(1 - par[0])


def test_variance_split_without_parameters_is_all_cohort():
    """A fixed parameter: every scenario is an independent draw of the cohort. Then the
    group means' variance s2 is W/R x chi2(M-1)/(M-1), and the parameter share is at most
    (s2 - W/R)/W = (chi2/(M-1) - 1)/R, whose SD is sqrt(2/(M-1))/R; below 4 SD."""
    cfg = _deal(
        [{"path": "effect.job_entry[0]", "distribution": "fixed", "value": 2.0}],
        size=100,
        effect={"job_entry": [1.5]},
    )
    M, R = 30, 8
    total, par, coh = sa.variance_split(cfg, M, R, 1, ["municipal_net"])
    assert total[0] > 0
    assert par[0] < 4 * math.sqrt(2 / (M - 1)) / R
    assert coh[0] == pytest.approx(1 - par[0])


# ---------------------------------------------------------------------------- outputs
def test_output_values_fill_undefined_irrs_by_the_profit():
    """An undefined IRR of a loss is -100 %, of a non-loss the highest defined IRR; an
    undefined multiple is 0; the loss output is the indicator profit < 0."""
    m = {
        "investor_irr": np.array([0.05, np.nan, np.nan, -0.2, 0.12, -1.0]),
        "investor_profit": np.array([10.0, -3.0, 4.0, -1.0, 20.0, -50.0]),
        "investor_moic": np.array([1.2, np.nan, 1.1, 0.9, 1.5, 0.0]),
        "municipal_net": np.array([1.0, -2.0, 0.0, 3.0, -1.0, 0.0]),
    }
    out = sa.output_values(m, list(sa.OUTPUTS))
    assert out["investor_irr"].tolist() == [0.05, -1.0, 0.12, -0.2, 0.12, -1.0]
    assert out["investor_moic"].tolist() == [1.2, 0.0, 1.1, 0.9, 1.5, 0.0]
    assert out["investor_loss"].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert out["municipal_net"].tolist() == m["municipal_net"].tolist()
    # no defined IRR at all: a non-loss gets 0
    none = {"investor_irr": np.array([np.nan, np.nan]), "investor_profit": np.array([1.0, -1.0])}
    assert sa.output_values(none, ["investor_irr"])["investor_irr"].tolist() == [0.0, -1.0]


def test_output_values_on_a_deal_with_undefined_irrs():
    """Slagelse has scenarios without a defined IRR (total losses); a few profitable
    scenarios are given an undefined IRR too (as a run can have them): each is filled by
    the rule, computed here scenario by scenario."""
    cfg, _ = load_deal(CONFIGS / "slagelse.toml")
    m = dict(engine.run(cfg, 1, 300).metrics)
    irr, profit = m["investor_irr"].copy(), m["investor_profit"]
    assert (np.isnan(irr) & (profit < 0)).any()
    gains = np.flatnonzero(~np.isnan(irr) & (profit >= 0))[:3]
    assert gains.size == 3
    irr[gains] = np.nan
    m["investor_irr"] = irr
    top = max(x for x in irr if not math.isnan(x))
    expected = [
        (-1.0 if p < 0 else top) if math.isnan(x) else x for x, p in zip(irr, profit, strict=True)
    ]
    assert sa.output_values(m, ["investor_irr"])["investor_irr"].tolist() == expected


def test_sobol_of_the_irr_uses_the_filled_values(monkeypatch):
    """With undefined IRRs in the runs the indices are those of the filled IRR (finite),
    the same as for a model returning the filled values directly."""

    def raw(u, seed):
        irr = u[:, 0] - 0.5
        profit = u[:, 0] + u[:, 1] - 1.0
        irr = np.where(u[:, 1] > 0.8, np.nan, irr)  # undefined in a fifth of the runs
        return {"investor_irr": irr, "investor_profit": profit}

    _fake_engine(monkeypatch, raw)
    got, _ = sa.sobol(_unit_deal(2), 256, 1, ["investor_irr"], n_boot=20)
    assert np.isfinite(got["first"]).all() and np.isfinite(got["total"]).all()

    def filled(u, seed):
        m = raw(u, seed)
        top = np.nanmax(m["investor_irr"])
        y = np.where(np.isnan(m["investor_irr"]), np.where(m["investor_profit"] < 0, -1, top), 0)
        y = np.where(np.isnan(m["investor_irr"]), y, m["investor_irr"])
        return {"y": y}

    _fake_engine(monkeypatch, filled)
    ref, _ = sa.sobol(_unit_deal(2), 256, 1, ["y"], n_boot=20)
    np.testing.assert_array_equal(got["first"], ref["first"])
    np.testing.assert_array_equal(got["total"], ref["total"])


def test_check_names_every_problem():
    cfg = _deal([])
    with pytest.raises(ConfigError) as err:
        sa.require(cfg, ["municipal_net", "happiness"])
    assert err.value.problems[0] == (
        "uncertainty.parameters: the deal has no uncertain parameters to analyse"
    )
    assert err.value.problems[1].startswith("--output-metric: unknown output 'happiness'")
    assert len(err.value.problems) == 2
    # any per-scenario metric may be analysed, besides the named outputs
    assert sa.check(_unit_deal(1), ["savings_true", "investor_irr"]) == []
    # but not the measured savings of a contract that measures nothing (Holbæk's rate
    # card), while those of a savings share (Slagelse's) may
    (line,) = sa.check(load_deal(CONFIGS / "holbaek.toml")[0], ["savings_measured"])
    assert line.startswith("--output-metric: 'savings_measured': no payment of this contract")
    assert sa.check(load_deal(CONFIGS / "slagelse.toml")[0], ["savings_measured"]) == []


# ------------------------------------------------------------------ analyse and command
@pytest.mark.parametrize("method", ["sobol", "tornado"])
def test_analyse_runs_as_many_scenarios_as_it_says(method):
    cfg = _cost_deal()
    done = []
    ds, tables = sa.analyse(
        cfg, "text", method, 16, 4, 3, ["programme_cost", "investor_irr"], 1, done.append
    )
    assert (
        sum(done)
        == sa.runs(cfg, method, 16, 4, 3)
        == (16 * 4 if method == "sobol" else 16 * 5) + 12
    )
    assert list(ds["parameter"].values) == [p.path for p in cfg.uncertainty.parameters]
    assert [t.title.split(" — ")[1].split(":")[0] for t in tables] == [
        "programme_cost",
        "investor_irr",
    ]
    assert ds.attrs["method"] == method and ds.attrs["outer"] == 4


def test_cli_sensitivity(tmp_path):
    out = tmp_path / "s.nc"
    args = ["sensitivity", str(CONFIGS / "slagelse.toml"), "-n", "16", "--outer", "4"]
    res = CliRunner().invoke(
        main,
        [*args, "--inner", "3", "--seed", "1", "-o", str(out), "--output-metric", "municipal_net"],
    )
    assert res.exit_code == 0, res.output
    ds = xr.load_dataset(out)
    assert ds["sobol_total"].dims == ("output", "parameter")
    # one input per distribution and the calibration posterior as one
    assert ds.sizes["parameter"] == load_deal(CONFIGS / "slagelse.toml")[0].uncertainty.n_inputs
    assert np.isfinite(ds["sobol_total"].values).all()
    bad = CliRunner().invoke(
        main,
        [
            "sensitivity",
            str(CONFIGS / "slagelse.toml"),
            *("--output-metric", "happiness", "-o", str(tmp_path / "b.nc")),
        ],
    )
    assert bad.exit_code == 1 and "unknown output 'happiness'" in bad.stderr
    assert not (tmp_path / "b.nc").exists()


def test_an_output_without_variance_has_no_split():
    """An output that never varies (every scenario pays nothing): no share of its variance
    is due to anything, so both are n/a, not 0 % and 0 %."""
    cfg = _deal(
        [{"path": "effect.job_entry[0]", "distribution": "uniform", "low": 1.0, "high": 2.0}],
        size=10,
        effect={"job_entry": [1.5]},
    )
    total, par, coh = sa.variance_split(cfg, 4, 3, 1, ["capital_shortfall"])
    assert total[0] == 0 and np.isnan(par[0]) and np.isnan(coh[0])
