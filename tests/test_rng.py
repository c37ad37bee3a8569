"""Counter-based random streams (simrisk.rng) against a plain-Python splitmix64, and their
distributions within Monte Carlo standard errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simrisk import rng
from tests import naive


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**63 + 11, 2**64 - 1])
def test_seed_key_matches_plain_python(seed):
    assert int(rng.seed_key(seed)) == naive.seed_key(seed)


def test_streams_and_uniforms_match_plain_python():
    key = rng.seed_key(777)
    for scen, cit, which in [
        (0, 0, 0),
        (3, 5, 1),
        (10**6, 2**20, 2),
        (7, rng.CONTROL_OFFSET + 4, 0),
    ]:
        state = rng.stream(key, scen, cit, which)
        twin = naive.Rng(naive.stream(int(key), scen, cit, which))
        assert int(state) == twin.state
        for _ in range(5):
            state, u = rng.uniform(np.uint64(state))  # numba returns a uint64 as int
            assert u == twin.uniform()
            assert int(state) == twin.state


def test_uniform_table_matches_plain_python_and_its_rows_are_scenarios():
    key = rng.seed_key(12345)
    table = rng.uniform_table(key, 7, 3, 4, rng.STREAM_PARAMETERS)
    for i in range(3):
        r = naive.Rng(naive.stream(int(key), 7 + i, 0, rng.STREAM_PARAMETERS))
        assert [r.uniform() for _ in range(4)] == list(table[i])
    # row i is scenario scen0 + i, whatever the chunk
    whole = rng.uniform_table(key, 0, 12, 4, rng.STREAM_PARAMETERS)
    np.testing.assert_array_equal(whole[7:10], table)
    # another stream id gives other numbers
    other = rng.uniform_table(key, 7, 3, 4, rng.STREAM_CITIZEN)
    assert not np.isin(other, table).any()


@pytest.mark.parametrize("variance", [0.0, 0.3, 1.0, 2.5])
def test_gamma_matches_plain_python(variance):
    state = rng.stream(rng.seed_key(5), 2, 9, rng.STREAM_CITIZEN)
    twin = naive.Rng(int(state))
    for _ in range(200):
        state, z = rng.gamma_mean1(np.uint64(state), variance)
        assert z == twin.gamma_mean1(variance)
        assert int(state) == twin.state


def test_uniforms_are_uniform_and_streams_uncorrelated():
    """Mean 1/2 and variance 1/12 of 200,000 uniforms (one stream per scenario), the
    share below 0.1 and the correlation of neighbouring scenarios' streams, each within 4
    standard errors (sd of a uniform 1/sqrt(12); of a sample variance sqrt(1/180); of a
    correlation of independent samples 1/sqrt(n))."""
    n, d = 20_000, 10
    u = rng.uniform_table(rng.seed_key(3), 0, n, d, rng.STREAM_PARAMETERS)
    m = u.size
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / m)
    assert abs(u.var() - 1 / 12) < 4 * math.sqrt(1 / 180 / m)
    assert abs((u < 0.1).mean() - 0.1) < 4 * math.sqrt(0.09 / m)
    for lag_rows, lag_cols in ((1, 0), (0, 1)):
        a = u[: n - lag_rows, : d - lag_cols].ravel()
        b = u[lag_rows:, lag_cols:].ravel()
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 / math.sqrt(a.size)


@pytest.mark.parametrize("variance", [0.4, 1.8])
def test_gamma_has_mean_one_and_the_variance(variance):
    """Gamma(shape k = 1/v, scale v): mean 1, variance v; 4 standard errors, with
    sd(mean) = sqrt(v/n) and sd(sample variance) = v sqrt((2 + 6/k)/n) (excess kurtosis
    6/k). Variance 1.8 takes the shape-below-1 branch."""
    n = 40_000
    state = rng.stream(rng.seed_key(11), 0, 0, rng.STREAM_CITIZEN)
    z = np.empty(n)
    for i in range(n):
        state, z[i] = rng.gamma_mean1(np.uint64(state), variance)
    k = 1 / variance
    assert (z > 0).all()
    assert abs(z.mean() - 1.0) < 4 * math.sqrt(variance / n)
    assert abs(z.var() - variance) < 4 * variance * math.sqrt((2 + 6 / k) / n)
    # P(Z <= 1) against the gamma CDF
    p = stats.gamma(k, scale=variance).cdf(1.0)
    assert abs((z <= 1.0).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
