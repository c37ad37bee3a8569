"""Rank correlations between uncertain inputs (a Gaussian copula): the rank correlation
asked for is what the draws have, under Monte Carlo, Latin hypercube and Sobol sampling,
with every input's own distribution untouched; a calibration posterior enters as one
input whose draws are ordered by the correlated parameter; a matrix that is not a
correlation matrix, or an input that is not uncertain, is refused one line each."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simrisk import copula, distributions, engine
from simrisk.config import parse_deal
from simrisk.errors import ConfigError
from simrisk.sampling import Sampler
from tests.conftest import CONFIGS, load_raw

PAIRS = [
    ("cohort.frailty_variance", "effect.persistence", 0.6),
    ("effect.persistence", "cohort.uptake", -0.4),
    ("labour.job_entry_multiplier", "cohort.frailty_variance", 0.3),  # a posterior's
]


def _deal(method="mc", pairs=PAIRS):
    raw = load_raw("holbaek")
    raw["uncertainty"]["method"] = method
    raw["uncertainty"]["correlations"] = [
        {"between": [a, b], "rank": r, "source": "test"} for a, b, r in pairs
    ]
    return parse_deal(raw, "holbaek.toml", CONFIGS)


def test_the_copula_s_correlation_gives_the_rank_correlation_analytically():
    for rank in (-0.9, -0.3, 0.0, 0.5, 0.95):
        assert copula.spearman(copula.pearson(rank)) == pytest.approx(rank, abs=1e-12)
    # Pearson 1 is rank 1, and the formula is the known one for a bivariate normal
    assert copula.spearman(1.0) == pytest.approx(1.0)
    assert copula.pearson(0.5) == pytest.approx(2 * math.sin(math.pi / 12))


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
def test_sampled_rank_correlations_match(method):
    n = 8192
    cfg = _deal(method)
    s = Sampler(cfg, 7, n)
    x = s.draw(0, n)
    col = {name: j for j, name in enumerate(s.names)}
    # the Spearman estimate's standard error is below 1/sqrt(n - 3) for these sizes;
    # four of them
    tol = 4 / math.sqrt(n - 3)
    for a, b, rank in PAIRS:
        got = stats.spearmanr(x[:, col[a]], x[:, col[b]]).statistic
        if a == "labour.job_entry_multiplier":  # a posterior of 500 draws: ties
            assert abs(got - rank) < tol + 0.05, (a, b, got)
        else:
            assert abs(got - rank) < tol, (a, b, got)
    # an input not named stays independent
    j = col["programme.phases[1].dropout"]
    assert abs(stats.spearmanr(x[:, j], x[:, col["effect.persistence"]]).statistic) < tol


def test_every_marginal_is_untouched():
    n = 8192
    cfg = _deal("mc")
    s = Sampler(cfg, 3, n)
    x = s.draw(0, n)
    for j, rec in enumerate(s.records):
        if rec.distribution == "fixed":
            continue
        # the probability integral transform of each input is uniform (KS at 1 %); the
        # CDF as the inverse of the quantile function on a fine grid
        grid = np.linspace(distributions.EPS, 1 - distributions.EPS, 200_001)
        u = np.interp(x[:, j], distributions.quantile(rec, grid), grid)
        assert stats.kstest(u, "uniform").pvalue > 0.01, rec.path


def test_without_correlations_the_draws_are_as_before():
    plain = parse_deal(load_raw("holbaek"), "holbaek.toml", CONFIGS)
    empty = _deal("mc", pairs=[])
    a, b = Sampler(plain, 5, 100).draw(0, 100), Sampler(empty, 5, 100).draw(0, 100)
    assert np.array_equal(a, b)


def test_a_correlated_deal_runs_and_is_reproducible():
    cfg = _deal("mc")
    one = engine.run(cfg, 11, 40)
    two = engine.run(cfg, 11, 40)
    assert np.array_equal(one.metrics["municipal_net"], two.metrics["municipal_net"])
    # chunks do not change the draws (each scenario's coordinates are its own)
    split = engine.run(cfg, 11, 40, chunk=7)
    assert np.array_equal(one.draws, split.draws)


@pytest.mark.parametrize(
    "pairs,needle",
    [
        (
            [("cohort.frailty_variance", "effect.persistence", 0.9),
             ("effect.persistence", "cohort.uptake", 0.9),
             ("cohort.frailty_variance", "cohort.uptake", -0.9)],
            "uncertainty.correlations: the rank correlations are not possible together",
        ),
        ([("cohort.size", "cohort.uptake", 0.2)],
         "uncertainty.correlations[0].between: 'cohort.size' is not an uncertain input"),
        ([("cohort.uptake", "effect.persistence", 0.2), ("effect.persistence", "cohort.uptake",
          0.1)], "uncertainty.correlations[1]: this pair is given twice"),
        ([("labour.job_entry_multiplier", "effect.job_entry[2]", 0.2)],
         "both are the calibration posterior"),
    ],
)  # fmt: skip
def test_impossible_or_unknown_correlations_are_refused(pairs, needle):
    with pytest.raises(ConfigError) as err:
        _deal("mc", pairs=pairs)
    assert any(needle in p for p in err.value.problems), err.value.problems


def test_a_rank_of_one_or_a_pair_of_one_input_is_refused():
    with pytest.raises(ConfigError) as err:
        _deal("mc", pairs=[("cohort.uptake", "cohort.uptake", 0.5)])
    assert any("the same input twice" in p for p in err.value.problems)
    with pytest.raises(ConfigError) as err:
        _deal("mc", pairs=[("cohort.uptake", "effect.persistence", 1.0)])
    assert any("correlations[0].rank" in p for p in err.value.problems)


def test_the_command_line_runs_a_correlated_deal_and_refuses_a_bad_one(tmp_path):
    from click.testing import CliRunner

    from simrisk.cli import main
    from tests.conftest import copy_deal

    deal = tmp_path / "holbaek.toml"
    copy_deal(CONFIGS / "holbaek.toml", deal)
    text = deal.read_text(encoding="utf-8")
    good = text + (
        '\n[[uncertainty.correlations]]\nbetween = ["cohort.frailty_variance", '
        '"effect.persistence"]\nrank = 0.6\nsource = "assumption"\n'
    )
    deal.write_text(good, encoding="utf-8")
    out = CliRunner().invoke(main, ["run", str(deal), "-n", "400", "--seed", "1", "-o",
                                    str(tmp_path / "r.nc")])  # fmt: skip
    assert out.exit_code == 0, out.output
    import xarray as xr

    ds = xr.load_dataset(tmp_path / "r.nc")
    x = ds["parameters"].sel(parameter="cohort.frailty_variance").values
    y = ds["parameters"].sel(parameter="effect.persistence").values
    assert abs(stats.spearmanr(x, y).statistic - 0.6) < 4 / math.sqrt(397)
    deal.write_text(good.replace("rank = 0.6", "rank = 0.6\nrho = 1"), encoding="utf-8")
    bad = CliRunner().invoke(main, ["validate", str(deal)])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "error: uncertainty.correlations[0].rho: unknown key"


def test_the_report_lists_the_correlations(tmp_path):
    from simrisk import report, results

    cfg = _deal("mc", pairs=PAIRS[:1])
    ds = results.build_dataset(cfg, engine.run(cfg, 1, 30), 1, "")
    path = results.write_netcdf(ds, tmp_path / "r.nc")
    report.write_report(path, tmp_path / "rep")
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "Spearman +0.60 (Gaussian copula)" in page
    assert "rank correlation of heterogeneity of job chances (frailty variance) and" in page
