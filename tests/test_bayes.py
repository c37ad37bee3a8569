"""Bayesian calibration: the sequential Monte Carlo sampler on posteriors known in closed
form, the coverage of its intervals over repeated synthetic studies, recovery of known
parameters through the kernel, and the posterior's way into a run."""

from __future__ import annotations

import datetime as dt
import math
import tomllib

import numpy as np
import pytest
from click.testing import CliRunner

from simrisk.analysis import bayes
from simrisk.analysis import calibrate as cal
from simrisk.analysis.targets import Target, log_likelihood
from simrisk.cli import main
from simrisk.config import load_deal
from simrisk.sampling import Sampler
from tests.conftest import dump_toml, simple_raw
from tests.test_calibrate import SIZE, TRANSITIONS, TRUTH, _deal, _observe, _share, _targets


def _flat(low, high, log=False) -> bayes.Prior:
    low, high = np.atleast_1d(np.asarray(low, float)), np.atleast_1d(np.asarray(high, float))
    return bayes.Prior(low, high, np.full(low.shape, log))


def test_prior_scale_round_trips_and_its_density_is_flat_in_u():
    prior = bayes.Prior(np.array([0.2, 1.0]), np.array([5.0, 3.0]), np.array([True, False]))
    theta = np.array([[0.3, 1.5], [4.9, 2.99]])
    assert np.allclose(prior.from_z(prior.to_z(theta)), theta)
    # u (1 - u) at u = 1/2 is 1/4
    assert bayes.Prior.log_density_z(np.zeros((1, 2)))[0] == pytest.approx(2 * math.log(0.25))


def test_normal_likelihood_gives_the_normal_posterior():
    """Flat prior on [0, 1], likelihood N(0.3, 0.05^2): the posterior is that normal (its
    truncation at 0 and 1 is beyond 6 sd). Mean within 4 Monte Carlo SE (sd / sqrt(N)
    times 2 for the particles' dependence), sd within 15 %."""
    mu, sd, n = 0.3, 0.05, 1000

    def ll(theta):
        return -0.5 * ((theta[:, 0] - mu) / sd) ** 2

    post = bayes.smc(ll, _flat(0.0, 1.0), particles=n, seed=3)
    x = post.draws[:, 0]
    assert abs(x.mean() - mu) < 4 * 2 * sd / math.sqrt(n)
    assert x.std() == pytest.approx(sd, rel=0.15)
    assert post.temperatures[0] == 0.0 and post.temperatures[-1] == 1.0
    # the evidence: integral over [0, 1] of exp(ll) = sd sqrt(2 pi)
    assert post.log_evidence == pytest.approx(math.log(sd * math.sqrt(2 * math.pi)), abs=0.1)


def test_correlated_likelihood_keeps_the_correlation():
    """A bivariate normal likelihood with correlation -0.8 inside a wide flat prior: the
    draws' correlation is -0.8 within 0.06 (the sampling error of a correlation from about
    300 independent draws is (1 - 0.64) / sqrt(300) = 0.02)."""
    cov = np.array([[0.04**2, -0.8 * 0.04 * 0.02], [-0.8 * 0.04 * 0.02, 0.02**2]])
    prec = np.linalg.inv(cov)
    centre = np.array([1.0, 0.5])

    def ll(theta):
        d = theta - centre
        return -0.5 * np.einsum("ij,jk,ik->i", d, prec, d)

    post = bayes.smc(ll, _flat([0.5, 0.0], [1.5, 1.0]), particles=1000, seed=11)
    r = np.corrcoef(post.draws.T)[0, 1]
    assert r == pytest.approx(-0.8, abs=0.06)
    assert np.allclose(post.draws.mean(axis=0), centre, atol=0.01)


def test_the_sampler_is_reproducible_from_its_seed():
    def ll(theta):
        return -0.5 * ((theta[:, 0] - 0.4) / 0.1) ** 2

    a = bayes.smc(ll, _flat(0.0, 1.0), particles=200, seed=5)
    b = bayes.smc(ll, _flat(0.0, 1.0), particles=200, seed=5)
    c = bayes.smc(ll, _flat(0.0, 1.0), particles=200, seed=6)
    assert np.array_equal(a.draws, b.draws) and not np.array_equal(a.draws, c.draws)


def _share_target(week: int, observed: float, n: int) -> Target:
    return Target(
        name=f"entered by {week}", kind="ever_by", arm="counterfactual", states=["employed"],
        week=week, observed=observed, n=n, source="synthetic",
    )  # fmt: skip


def test_intervals_cover_the_truth_as_often_as_they_claim():
    """Synthetic studies: the share who have found a job by 26 weeks (200 people) and by 52
    weeks (200 other people) under a constant weekly hazard a = 0.012. 120 studies, each
    calibrated with the engine's likelihood (:func:`log_likelihood`) on a log-uniform
    prior over [0.001, 0.05]. The 90 % central intervals cover the truth in 90 % of the
    studies; with 120 studies the count's sd is 3.3, so the coverage must lie in
    [0.80, 0.98] (3 sd, clipped at the top)."""
    rng = np.random.default_rng(2024)
    a_true, n, studies = 0.012, 200, 120
    prior = _flat(0.001, 0.05, log=True)
    covered = 0
    for k in range(studies):
        p26, p52 = 1 - math.exp(-26 * a_true), 1 - math.exp(-52 * a_true)
        k26, k52 = rng.binomial(n, p26), rng.binomial(n, p52)
        targets = [_share_target(26, k26 / n, n), _share_target(52, k52 / n, n)]

        def ll(theta, targets=targets):
            out = np.empty(theta.shape[0])
            for i, (a,) in enumerate(theta):
                out[i] = sum(log_likelihood(t, 1 - math.exp(-t.week * a), 0.0) for t in targets)
            return out

        post = bayes.smc(ll, prior, particles=200, seed=k)
        lo, hi = post.interval(0.9)[0]
        covered += lo <= a_true <= hi
    assert 0.80 <= covered / studies <= 0.98, covered


def test_recovers_known_parameters_through_the_kernel():
    """Targets generated by the model at known values (job-entry multiplier 1.8, hazard
    ratio 2.5; 2,000 citizens each, independent of the calibration's own); the posterior's
    95 % interval of each parameter holds the truth and its median is within 10 %."""
    cfg = _deal()
    specs = [
        _observe(cfg, _share("counterfactual", 26), 20, 101),
        _observe(cfg, _share("treatment", 26), 20, 202),
        _observe(cfg, _share("counterfactual", 52), 20, 303),
    ]
    fit = cal.posterior_fit(cfg, _targets(specs), n_scenarios=40, seed=5, particles=150)
    lo, hi = fit.posterior.interval(0.95).T
    for j, truth in enumerate(TRUTH.values()):
        assert lo[j] <= truth <= hi[j], (j, lo[j], hi[j], truth)
        assert fit.estimate[j] == pytest.approx(truth, rel=0.10)
    assert fit.posterior.draws.shape == (150, 2)
    assert fit.evaluations == fit.posterior.evaluations + 1  # and the table at the median


def _calibrated(tmp_path, method="smc"):
    raw = simple_raw(size=SIZE, horizon=80, transitions=TRANSITIONS)
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["effect"] = {"job_entry": [2.0]}
    deal = tmp_path / "deal.toml"
    deal.write_text(dump_toml(raw))
    obs = _observe(_deal(), _share("counterfactual", 26), 20, 7)
    targets = {
        "name": "synthetic",
        "source": "the model itself",
        "free": [
            {
                "path": "labour.job_entry_multiplier",
                "low": 0.5,
                "high": 4.0,
                "prior": "log_uniform",
            },
            {"path": "effect.job_entry[0]", "low": 0.5, "high": 5.0},
        ],
        "targets": [obs, _observe(_deal(), _share("treatment", 26), 20, 8)],
    }
    tfile = tmp_path / "targets.toml"
    tfile.write_text(dump_toml(targets))
    out = tmp_path / "out" / "calibrated.toml"
    out.parent.mkdir()
    res = CliRunner().invoke(
        main,
        ["calibrate", str(deal), "--targets", str(tfile), "-o", str(out), "-n", "10",
         "--particles", "60", "--method", method, "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


def test_the_posterior_file_is_named_by_the_deal_and_run_samples_whole_draws(tmp_path):
    out = _calibrated(tmp_path)
    post_file = out.parent / "posteriors" / "calibrated.toml"
    post = tomllib.loads(post_file.read_text())
    assert post["paths"] == list(TRUTH) and len(post["draws"]) == 60
    assert post["fitted_to"] == ["counterfactual employed at 26", "treatment employed at 26"]
    text = out.read_text()
    assert 'posterior = "posteriors/calibrated.toml"' in text
    assert text.startswith("# Calibrated by simrisk on ")
    cfg, _ = load_deal(out)
    draws = np.array(post["draws"])
    rows = {tuple(r) for r in draws.tolist()}
    medians = np.median(draws, axis=0)
    assert cfg.labour.job_entry_multiplier == pytest.approx(medians[0], rel=1e-3)
    for method in ("mc", "lhs", "sobol"):
        cfg.uncertainty.method = method
        sampler = Sampler(cfg, 3, 64)
        table = sampler.draw(0, 64)
        cols = [sampler.names.index(p) for p in TRUTH]
        # every scenario takes one whole draw: the pairs are rows of the posterior
        assert all(tuple(r) in rows for r in table[:, cols].tolist()), method
        assert len({tuple(r) for r in table[:, cols].tolist()}) > 20
    assert [name for name, _ in sampler.inputs][-1].startswith("calibration posterior (")


def test_recalibrating_replaces_the_header_and_the_posterior(tmp_path):
    out = _calibrated(tmp_path)
    again = out.parent / "again.toml"
    res = CliRunner().invoke(
        main,
        ["calibrate", str(out), "--targets", str(tmp_path / "targets.toml"), "-o", str(again),
         "-n", "10", "--particles", "60"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    text = again.read_text()
    assert text.count("# Calibrated by simrisk") == 1
    assert 'posterior = "posteriors/again.toml"' in text


def test_a_posterior_that_does_not_fit_the_deal_is_refused(tmp_path):
    out = _calibrated(tmp_path)
    post_file = out.parent / "posteriors" / "calibrated.toml"
    text = post_file.read_text().replace('"effect.job_entry[0]"', '"effect.job_entry[4]"')
    post_file.write_text(text)
    res = CliRunner().invoke(main, ["validate", str(out)])
    assert res.exit_code == 1
    assert "uncertainty.posterior.paths[1]: 'effect.job_entry[4]' names no field" in res.output


def test_a_calibrated_deal_runs_and_its_analyses_see_the_posterior(tmp_path):
    """The posterior's parameters are columns of the run's draws (rows of the posterior),
    a Sobol analysis takes the posterior as one input, a tornado each of its parameters."""
    import xarray as xr

    out = _calibrated(tmp_path)
    post = np.array(
        tomllib.loads((out.parent / "posteriors" / "calibrated.toml").read_text())["draws"]
    )
    nc = tmp_path / "run.nc"
    res = CliRunner().invoke(main, ["run", str(out), "-n", "40", "--seed", "1", "-o", str(nc)])
    assert res.exit_code == 0, res.output
    with xr.open_dataset(nc) as ds:
        names = [str(p) for p in ds["parameter"].values]
        table = ds["parameters"].values
    cols = [names.index(p) for p in TRUTH]
    rows = {tuple(r) for r in post.tolist()}
    assert all(tuple(r) in rows for r in table[:, cols].tolist())
    for method, expect in (("sobol", 1), ("tornado", 2)):
        sens = tmp_path / f"{method}.nc"
        res = CliRunner().invoke(
            main,
            ["sensitivity", str(out), "--method", method, "-n", "16", "--outer", "2",
             "--inner", "2", "-o", str(sens), "--json"],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        with xr.open_dataset(sens) as ds:
            params = [str(p) for p in ds["parameter"].values]
        assert sum("job_entry" in p for p in params) == expect, params
