"""Distributions of uncertain inputs (simrisk.distributions) and the draws of a run
(simrisk.sampling): quantiles and supports against closed forms and scipy, the three
sampling methods' properties, the leaf values of a chunk (Values) and the changes
applied after drawing (Adjustment).
"""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from simrisk import distributions as dists
from simrisk import engine, rng
from simrisk.config import parse_deal
from simrisk.config.uncertainty import Beta, Fixed, Gamma, Lognormal, Normal, Triangular, Uniform
from simrisk.sampling import Adjustment, Sampler, Values, central_overrides, chunk_values
from tests.conftest import CONFIGS, simple_raw

EPS = dists.EPS
U = np.array([1e-9, 0.001, 0.01, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.99, 0.999, 1 - 1e-9])
Z = NormalDist()


def _inv(u):
    return np.array([Z.inv_cdf(float(x)) for x in np.atleast_1d(u)])


def _cdf(x):
    return np.array([Z.cdf(float(v)) for v in np.atleast_1d(x)])


# --------------------------------------------------------------------------- records
def uniform(low=2.0, high=5.0, path="x"):
    return Uniform(path=path, distribution="uniform", low=low, high=high)


def triangular(low=1.0, mode=2.0, high=5.0, path="x"):
    return Triangular(path=path, distribution="triangular", low=low, mode=mode, high=high)


def normal(mean=1.0, sd=0.5, low=None, high=None, path="x"):
    return Normal(path=path, distribution="normal", mean=mean, sd=sd, low=low, high=high)


def lognormal(median=3.0, sigma=0.4, path="x"):
    return Lognormal(path=path, distribution="lognormal", median=median, sigma=sigma)


def beta(alpha=2.0, b=1.0, low=0.0, high=1.0, path="x"):
    return Beta(path=path, distribution="beta", alpha=alpha, beta=b, low=low, high=high)


def gamma(shape=1.0, scale=2.0, path="x"):
    return Gamma(path=path, distribution="gamma", shape=shape, scale=scale)


# ---------------------------------------------------------------- quantiles, closed form
def tri_ppf(u, lo, m, hi):
    c = (m - lo) / (hi - lo)
    return np.where(
        u < c, lo + np.sqrt(u * (hi - lo) * (m - lo)), hi - np.sqrt((1 - u) * (hi - lo) * (hi - m))
    )


def truncnorm_ppf(u, mean, sd, lo, hi):
    a = 0.0 if lo is None else Z.cdf((lo - mean) / sd)
    b = 1.0 if hi is None else Z.cdf((hi - mean) / sd)
    return mean + sd * _inv(a + u * (b - a))


CLOSED_FORM = [
    ("uniform", uniform(), lambda u: 2.0 + 3.0 * u),
    ("triangular-left", triangular(), lambda u: tri_ppf(u, 1.0, 2.0, 5.0)),
    ("triangular-mode-at-top", triangular(0.5, 1.0, 1.0), lambda u: 0.5 + 0.5 * np.sqrt(u)),
    ("triangular-mode-at-bottom", triangular(0.5, 0.5, 1.0), lambda u: 1.0 - 0.5 * np.sqrt(1 - u)),
    ("normal", normal(), lambda u: 1.0 + 0.5 * _inv(u)),
    ("normal-truncated", normal(1.0, 0.5, 0.2, 1.3),
     lambda u: truncnorm_ppf(u, 1.0, 0.5, 0.2, 1.3)),
    ("normal-low-only", normal(1.0, 0.5, 0.8), lambda u: truncnorm_ppf(u, 1.0, 0.5, 0.8, None)),
    ("normal-high-only", normal(1.0, 0.5, None, 1.1),
     lambda u: truncnorm_ppf(u, 1.0, 0.5, None, 1.1)),
    ("lognormal", lognormal(), lambda u: 3.0 * np.exp(0.4 * _inv(u))),
    ("beta-1-1", beta(1.0, 1.0, 2.0, 4.0), lambda u: 2.0 + 2.0 * u),
    ("beta-2-1", beta(2.0, 1.0, 0.5, 1.5), lambda u: 0.5 + np.sqrt(u)),
    ("beta-1-2", beta(1.0, 2.0), lambda u: 1.0 - np.sqrt(1.0 - u)),
    ("gamma-exponential", gamma(1.0, 2.0), lambda u: -2.0 * np.log1p(-u)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "rec", "ppf"), CLOSED_FORM, ids=[c[0] for c in CLOSED_FORM])
def test_quantiles_against_closed_forms(name, rec, ppf):
    got = dists.quantile(rec, U)
    np.testing.assert_allclose(got, ppf(U), rtol=1e-7, atol=1e-9)
    # with the frozen distribution given: the same numbers
    np.testing.assert_array_equal(dists.quantile(rec, U, dists.frozen(rec)), got)
    # the support is the quantile at EPS and 1 - EPS
    lo, hi = dists.support(rec)
    # (rtol: the closed forms lose digits at 1 - EPS, where 1 - u has about 4 digits)
    np.testing.assert_allclose([lo, hi], ppf(np.array([EPS, 1 - EPS])), rtol=1e-5, atol=1e-9)
    # points outside (0, 1) are clipped to the support
    np.testing.assert_allclose(dists.quantile(rec, np.array([0.0, 1.0])), [lo, hi], rtol=1e-12)


def test_gamma_quantile_inverts_the_closed_form_cdf():
    """Gamma of shape 2: F(x) = 1 - exp(-x/s) (1 + x/s)."""
    rec = gamma(2.0, 0.3)
    x = dists.quantile(rec, U) / 0.3
    np.testing.assert_allclose(1 - np.exp(-x) * (1 + x), U, rtol=1e-8, atol=1e-12)


SCIPY = [
    (beta(2.5, 4.0, 0.1, 0.9), stats.beta(2.5, 4.0, loc=0.1, scale=0.8)),
    (beta(0.4, 0.7, -2.0, 3.0), stats.beta(0.4, 0.7, loc=-2.0, scale=5.0)),
    (gamma(2.5, 0.3), stats.gamma(2.5, scale=0.3)),
    (gamma(0.6, 4.0), stats.gamma(0.6, scale=4.0)),
    (lognormal(1.5, 0.8), stats.lognorm(0.8, scale=1.5)),
    (triangular(0.0, 0.9, 1.0), stats.triang(0.9, loc=0.0, scale=1.0)),
    (triangular(2.0, 2.0, 7.0), stats.triang(0.0, loc=2.0, scale=5.0)),
    (triangular(), stats.triang(0.25, loc=1.0, scale=4.0)),
    (uniform(), stats.uniform(loc=2.0, scale=3.0)),
    (normal(), stats.norm(1.0, 0.5)),
    (normal(0.5, 0.2, 0.0, 1.0), stats.truncnorm(-2.5, 2.5, loc=0.5, scale=0.2)),
]


@pytest.mark.parametrize(("rec", "rv"), SCIPY, ids=[r.distribution for r, _ in SCIPY])
def test_quantiles_support_and_median_are_scipy_s_to_the_last_bit(rec, rv):
    """The inverse CDFs are written with scipy.special as scipy.stats computes them (so a
    run need not import scipy.stats): the same values, bit for bit."""
    np.testing.assert_array_equal(dists.quantile(rec, U), rv.ppf(U))
    np.testing.assert_array_equal(dists.support(rec), rv.ppf([EPS, 1 - EPS]))
    assert dists.nominal(rec) == float(rv.ppf(0.5))


def test_a_beta_with_a_shape_below_one_is_accurate_far_in_its_tail():
    """Beta(0.5, 2): F(x) = 1.5 sqrt(x) - 0.5 x^1.5. Where scipy.stats's quantile gives up
    (points below about 1e-8) this one still inverts the CDF; above, it is scipy's."""
    rec = beta(0.5, 2.0, 0.0, 1.0)
    u = np.array([EPS, 1e-11, 1e-9, 3e-9])
    x = dists.quantile(rec, u)
    np.testing.assert_allclose(1.5 * np.sqrt(x) - 0.5 * x**1.5, u, rtol=1e-10)
    above = np.linspace(1e-6, 1 - 1e-6, 1001)
    np.testing.assert_array_equal(dists.quantile(rec, above), stats.beta(0.5, 2.0).ppf(above))


def test_a_run_does_not_import_scipy_stats():
    """scipy.stats takes about half a second to import, more than a small run: the
    command line and a run of a deal whose inputs have no truncated normal do without."""
    import subprocess
    import sys

    code = (
        "import sys; import simrisk.cli; from simrisk import engine;"
        "from simrisk.config import load_deal; from tests.conftest import CONFIGS;"
        "engine.run(load_deal(CONFIGS / 'holbaek.toml')[0], 1, 4);"
        "print(sorted(m for m in sys.modules if m.startswith('scipy.stats')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=CONFIGS.parent)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


MEDIANS = [
    (uniform(), 3.5),
    (triangular(), 5.0 - math.sqrt(6.0)),  # F(mode) = 1/4 < 1/2: hi - sqrt(w (hi - m) / 2)
    (triangular(0.0, 0.9, 1.0), math.sqrt(0.45)),  # F(mode) > 1/2: lo + sqrt(w (m - lo) / 2)
    (normal(), 1.0),
    (normal(1.0, 0.5, 0.2, 1.3), 1.0 + 0.5 * Z.inv_cdf((Z.cdf(-1.6) + Z.cdf(0.6)) / 2)),
    (lognormal(), 3.0),
    (beta(2.0, 1.0, 0.5, 1.5), 0.5 + math.sqrt(0.5)),
    (gamma(1.0, 2.0), 2.0 * math.log(2.0)),
    (Fixed(path="x", distribution="fixed", value=7.25), 7.25),
]


@pytest.mark.parametrize(("rec", "median"), MEDIANS, ids=[r.distribution for r, _ in MEDIANS])
def test_nominal_is_the_median(rec, median):
    assert dists.nominal(rec) == pytest.approx(median, rel=1e-10)


def test_fixed_is_one_value():
    rec = Fixed(path="x", distribution="fixed", value=-3.5)
    assert dists.frozen(rec) is None
    assert dists.support(rec) == (-3.5, -3.5)
    np.testing.assert_array_equal(dists.quantile(rec, U), np.full(U.shape, -3.5))


def test_unbounded_normal_support_is_about_seven_sd():
    lo, hi = dists.support(normal(0.0, 1.0))
    assert lo == pytest.approx(Z.inv_cdf(EPS), rel=1e-9)
    assert hi == pytest.approx(-lo, rel=1e-5) and 7.0 < hi < 7.1


def test_unknown_distribution_is_an_error():
    with pytest.raises(ValueError, match="unknown distribution 'cauchy'"):
        dists.frozen(SimpleNamespace(distribution="cauchy"))


# ------------------------------------------------------------------------ the sampler
PARAMETERS = [
    {"path": "cohort.uptake", "distribution": "uniform", "low": 0.5, "high": 1.0},
    {"path": "effect.job_entry[0]", "distribution": "triangular", "low": 1.0, "mode": 1.5,
     "high": 2.5},
    {"path": "labour.job_entry_multiplier", "distribution": "normal", "mean": 1.0, "sd": 0.1,
     "low": 0.5, "high": 1.5},
    {"path": "programme.phases[0].cost_per_week", "distribution": "lognormal", "median": 100.0,
     "sigma": 0.2},
    {"path": "cohort.frailty_variance", "distribution": "beta", "alpha": 2.0, "beta": 1.0,
     "low": 0.0, "high": 0.8},
    {"path": "investor.capital", "distribution": "gamma", "shape": 1.0, "scale": 1e6},
]  # fmt: skip
MEDIAN_OF = {
    ("cohort", "uptake"): 0.75,
    ("effect", "job_entry", 0): 2.5 - math.sqrt(1.5 * 1.0 / 2),  # F(mode) = 1/3
    ("labour", "job_entry_multiplier"): 1.0,
    ("programme", "phases", 0, "cost_per_week"): 100.0,
    ("cohort", "frailty_variance"): 0.8 * math.sqrt(0.5),
    ("investor", "capital"): 1e6 * math.log(2.0),
}


def deal(method="mc", parameters=PARAMETERS):
    raw = simple_raw()
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["uncertainty"] = {"method": method, "parameters": parameters}
    return parse_deal(raw, "sampling")


D = len(PARAMETERS)


def test_monte_carlo_draws_of_a_scenario_do_not_depend_on_the_run_size():
    cfg = deal("mc")
    big = Sampler(cfg, 7, 1000).draw(0, 1000)
    assert big.shape == (1000, D)
    np.testing.assert_array_equal(Sampler(cfg, 7, 10).draw(0, 10), big[:10])
    np.testing.assert_array_equal(Sampler(cfg, 7, 3).draw(500, 3), big[500:503])
    np.testing.assert_array_equal(Sampler(cfg, 7, 1).draw(999, 1), big[999:])
    assert not np.array_equal(Sampler(cfg, 8, 10).draw(0, 10), big[:10])


def test_monte_carlo_points_are_each_scenario_s_own_stream():
    """Naive twin: the j-th uniform of stream (seed, scenario k, citizen 0, parameters)."""
    cfg = deal("mc")
    sampler = Sampler(cfg, 11, 100)
    key = rng.seed_key(11)
    for k in (0, 1, 37, 99):
        state = rng.stream(key, k, 0, rng.STREAM_PARAMETERS)
        expected = []
        for _ in range(D):
            state, u = rng.uniform(np.uint64(state))  # a uint64, as inside numba
            expected.append(u)
        np.testing.assert_array_equal(sampler.unit(k, 1)[0], expected)


def test_monte_carlo_points_are_uniform_and_independent():
    n = 4000
    u = Sampler(deal("mc"), 3, n).unit(0, n)
    assert ((u > 0) & (u < 1)).all()
    # mean 1/2 with standard error sqrt(1/12 / n); 4 SE
    se = math.sqrt(1 / 12 / n)
    assert np.abs(u.mean(axis=0) - 0.5).max() < 4 * se
    # a quarter in each quartile: binomial SE sqrt(p (1 - p) / n); 4 SE
    for q in (0.25, 0.5, 0.75):
        assert np.abs((u < q).mean(axis=0) - q).max() < 4 * math.sqrt(q * (1 - q) / n)
    # pairwise correlation of independent columns has SE about 1 / sqrt(n); 4 SE
    corr = np.corrcoef(u.T)[np.triu_indices(D, 1)]
    assert np.abs(corr).max() < 4 / math.sqrt(n)


def test_monte_carlo_values_follow_the_distributions():
    n = 4000
    v = Sampler(deal("mc"), 5, n).draw(0, n)
    # cohort.uptake ~ U(0.5, 1): mean 0.75, sd 0.5 / sqrt(12); 4 SE of the mean
    assert abs(v[:, 0].mean() - 0.75) < 4 * (0.5 / math.sqrt(12)) / math.sqrt(n)
    assert v[:, 0].min() >= 0.5 and v[:, 0].max() <= 1.0
    # the triangular's median (F(mode) = 1/3): the share below it has SE sqrt(1/4 / n)
    share = (v[:, 1] < MEDIAN_OF[("effect", "job_entry", 0)]).mean()
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / n)
    # the truncated normal stays within its bounds
    assert v[:, 2].min() >= 0.5 and v[:, 2].max() <= 1.5


def test_sobol_points_are_a_prefix_of_one_sequence():
    cfg = deal("sobol")
    full = Sampler(cfg, 4, 128).unit(0, 128)
    np.testing.assert_array_equal(Sampler(cfg, 4, 64).unit(0, 64), full[:64])
    np.testing.assert_array_equal(Sampler(cfg, 4, 128).unit(16, 16), full[16:32])
    np.testing.assert_array_equal(Sampler(cfg, 4, 1).unit(0, 1), full[:1])
    np.testing.assert_array_equal(Sampler(cfg, 4, 128).unit(127, 1), full[127:])
    assert not np.array_equal(Sampler(cfg, 5, 128).unit(0, 128), full)


def test_sobol_points_are_balanced():
    """The first 2^m points of a (scrambled) Sobol sequence put one point in every interval
    [i / 2^m, (i + 1) / 2^m) of each coordinate, and (its first two coordinates being a
    (0, m, 2)-net) one point in every 1/8 x 1/8 square for 2^m = 64."""
    u = Sampler(deal("sobol"), 9, 64).unit(0, 64)
    for m in (16, 32, 64):
        cells = np.floor(u[:m] * m).astype(int)
        for j in range(D):
            np.testing.assert_array_equal(np.sort(cells[:, j]), np.arange(m))
    squares = np.floor(u[:, 0] * 8).astype(int) * 8 + np.floor(u[:, 1] * 8).astype(int)
    np.testing.assert_array_equal(np.sort(squares), np.arange(64))


def test_latin_hypercube_is_stratified_over_all_scenarios():
    n = 50
    sampler = Sampler(deal("lhs"), 2, n)
    u = sampler.unit(0, n)
    cells = np.floor(u * n).astype(int)
    for j in range(D):
        np.testing.assert_array_equal(np.sort(cells[:, j]), np.arange(n))
    # a chunk reads its rows of the one design
    np.testing.assert_array_equal(sampler.unit(10, 5), u[10:15])
    np.testing.assert_array_equal(Sampler(deal("lhs"), 2, n).unit(0, n), u)
    # the values are the distributions' quantiles at the design points
    np.testing.assert_allclose(sampler.draw(0, n)[:, 0], 0.5 + 0.5 * u[:, 0], rtol=1e-12)


def test_values_at_one_half_are_the_central_values_and_those_are_medians():
    cfg = deal("mc")
    sampler = Sampler(cfg, 1, 4)
    central = sampler.central(3)
    assert list(central) == list(MEDIAN_OF)
    for path, median in MEDIAN_OF.items():
        np.testing.assert_allclose(central[path], np.full(3, median), rtol=1e-9)
    at_half = sampler.values(np.full((2, D), 0.5))
    np.testing.assert_allclose(at_half, np.tile(list(MEDIAN_OF.values()), (2, 1)), rtol=1e-9)
    also = central_overrides(cfg, 3)
    assert all(np.array_equal(also[p], central[p]) for p in central)


def test_a_deal_without_uncertainty_draws_nothing():
    cfg = deal("mc", [])
    for method in ("mc", "lhs", "sobol"):
        s = Sampler(deal(method, []), 1, 5)
        assert s.unit(0, 5).shape == (5, 0) and s.draw(2, 3).shape == (3, 0)
    assert Sampler(cfg, 1, 5).central(5) == {}


# ------------------------------------------------------------------- Values, Adjustment
X = np.array([0.5, 1.0, 2.0])


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("set", 3.0, [3.0, 3.0, 3.0]),
        ("scale", 2.0, [1.0, 2.0, 4.0]),
        ("add", -0.25, [0.25, 0.75, 1.75]),
        ("excess", 0.5, [0.75, 1.0, 1.5]),  # 1 + (x - 1) * 0.5
        ("excess", 0.0, [1.0, 1.0, 1.0]),
        ("scale", np.array([1.0, 2.0, 3.0]), [0.5, 2.0, 6.0]),
    ],
)
def test_adjustment_operations_by_hand(op, value, expected):
    got = Adjustment(("a",), op, value).apply(X.copy())
    np.testing.assert_array_equal(got, expected)


def test_unknown_adjustment_is_an_error():
    with pytest.raises(ValueError, match="unknown operation 'times'"):
        Adjustment(("a",), "times", 2.0).apply(X)


DUMPED = {
    "cohort": {"uptake": 0.9, "size": 50},
    "effect": {"job_entry": [1.2, 1.8]},
    "contract": {"cap": None},
    "investor": {"capital": 1e6, "return_cap": None},
}


def test_values_reads_drawn_and_fixed_leaves():
    table = np.array([[0.6, 10.0], [0.7, 20.0], [0.8, 30.0]])
    v = Values(DUMPED, {("cohort", "uptake"): table[:, 0]}, 3)
    drawn = v("cohort", "uptake")
    np.testing.assert_array_equal(drawn, [0.6, 0.7, 0.8])
    assert drawn.flags["C_CONTIGUOUS"] and drawn.dtype == np.float64  # not the strided column
    np.testing.assert_array_equal(v("effect", "job_entry", 1), [1.8, 1.8, 1.8])
    fixed = v("cohort", "size")
    assert fixed.dtype == np.float64 and fixed.tolist() == [50.0] * 3
    # optional: inf where the deal leaves the leaf unset, unless it is drawn
    np.testing.assert_array_equal(v.optional("investor", "return_cap"), [np.inf] * 3)
    np.testing.assert_array_equal(v.optional("investor", "capital"), [1e6] * 3)
    drawn_cap = Values(DUMPED, {("investor", "capital"): table[:, 1]}, 3)
    np.testing.assert_array_equal(drawn_cap.optional("investor", "capital"), [10.0, 20.0, 30.0])


def test_adjustments_apply_after_drawing_in_order():
    drawn = np.array([0.6, 0.7, 0.8])
    v = Values(DUMPED, {("cohort", "uptake"): drawn}, 3)
    adj = v.adjusted(
        [
            Adjustment(("cohort", "uptake"), "scale", 2.0),
            Adjustment(("cohort", "uptake"), "add", -0.5),
            Adjustment(("effect", "job_entry", 0), "excess", 0.5),
            Adjustment(("investor", "capital"), "set", 5.0),
        ]
    )
    np.testing.assert_allclose(adj("cohort", "uptake"), [0.7, 0.9, 1.1])  # 2x - 0.5
    np.testing.assert_allclose(adj("effect", "job_entry", 0), [1.1, 1.1, 1.1])
    np.testing.assert_array_equal(adj("investor", "capital"), [5.0, 5.0, 5.0])
    # the draws and the unadjusted values are left as they were
    np.testing.assert_array_equal(drawn, [0.6, 0.7, 0.8])
    np.testing.assert_array_equal(v("cohort", "uptake"), [0.6, 0.7, 0.8])
    np.testing.assert_array_equal(v("investor", "capital"), [1e6] * 3)
    assert v.adjusted(None) is v and v.adjusted([]) is v


def test_chunk_values_are_the_deal_then_the_draws_then_the_adjustments():
    cfg = deal("mc")
    sampler = Sampler(cfg, 1, 6)
    draws = sampler.draw(2, 4)
    before = draws.copy()
    v = chunk_values(cfg, sampler, draws, [Adjustment(("cohort", "uptake"), "scale", 0.5)])
    assert v.n == 4
    np.testing.assert_array_equal(v("cohort", "uptake"), 0.5 * draws[:, 0])
    np.testing.assert_array_equal(v("investor", "capital"), draws[:, 5])
    np.testing.assert_array_equal(v("programme", "phases", 0, "weeks"), np.full(4, 10.0))
    np.testing.assert_array_equal(draws, before)


def test_a_stress_change_leaves_the_draws_of_a_run_unchanged():
    cfg = deal("mc")
    base = engine.run(cfg, 3, 6, threads=1)
    stressed = engine.run(
        cfg, 3, 6, adjust=[Adjustment(("cohort", "uptake"), "scale", 0.5)], threads=1
    )
    np.testing.assert_array_equal(base.draws, stressed.draws)
    np.testing.assert_array_equal(base.draws, Sampler(cfg, 3, 6).draw(0, 6))
    assert base.parameter_names == [p["path"] for p in PARAMETERS]
    # and the stress does change the run: fewer citizens enrol
    assert stressed.metrics["enrolled"].sum() < base.metrics["enrolled"].sum()
