"""Tests for simrisk.finance; expected values are closed forms or independent computations."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from simrisk.finance import (
    IRR_MULTIPLE,
    IRR_NO_FLOWS,
    IRR_NO_ROOT,
    IRR_OK,
    IRR_STATUS_NAMES,
    IRR_TOTAL_LOSS,
    WEEKS_PER_YEAR,
    annualise,
    irr,
    moic,
    npv,
    payback_week,
    var_cvar,
    weekly_rate,
)

W = WEEKS_PER_YEAR


def rows(*specs, n_weeks=80):
    """Flows matrix from {week: amount} dicts, one per scenario."""
    f = np.zeros((len(specs), n_weeks))
    for i, spec in enumerate(specs):
        for week, amount in spec.items():
            f[i, week] = amount
    return f


def test_constants():
    assert W == 365.25 / 7
    assert IRR_STATUS_NAMES[IRR_OK] == "ok"
    assert IRR_STATUS_NAMES[IRR_TOTAL_LOSS] == "total_loss"
    assert IRR_STATUS_NAMES[IRR_NO_ROOT] == "no_root"
    assert IRR_STATUS_NAMES[IRR_MULTIPLE] == "multiple_roots"
    assert IRR_STATUS_NAMES[IRR_NO_FLOWS] == "no_flows"


def test_weekly_rate_and_annualise():
    rw = weekly_rate(0.1)
    assert (1 + rw) ** W == pytest.approx(1.1, rel=1e-13)
    assert annualise(rw) == pytest.approx(0.1, rel=1e-12)
    assert annualise(np.array([0.0, 0.01]))[1] == pytest.approx(1.01**W - 1, rel=1e-12)
    with pytest.raises(ValueError):
        weekly_rate(-1.0)


@pytest.mark.parametrize("lead,n_weeks", [(0, 53), (0, 200), (3, 60), (17, 100)])
def test_irr_single_period(lead, n_weeks):
    f = rows({lead: -100.0, lead + 52: 110.0}, n_weeks=n_weeks)
    r, st = irr(f)
    assert r.dtype == np.float64 and st.dtype == np.int8 and r.shape == st.shape == (1,)
    assert st[0] == IRR_OK
    assert r[0] == pytest.approx(1.1 ** (W / 52) - 1, abs=1e-9)


def test_irr_negative_and_zero_rate():
    f = rows({0: -100.0, 26: 80.0}, {2: -50.0, 10: 20.0, 30: 30.0})
    r, st = irr(f)
    assert list(st) == [IRR_OK, IRR_OK]
    assert r[0] == pytest.approx(0.8 ** (W / 26) - 1, abs=1e-9)
    assert r[1] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "amounts", [(-0.4, 0.1, 0.3), (-0.8, 0.2, 0.6), (-0.7, 0.3, 0.4), (-0.9, 0.2, 0.7)]
)
def test_irr_zero_rate_with_rounding(amounts):
    # One sign change and a decimal sum of exactly 0, so the unique root is r = 0;
    # in floating point the sums forwards and backwards differ in sign or zeroness.
    r, st = irr(rows(dict(zip((0, 5, 9), amounts, strict=True))))
    assert st[0] == IRR_OK
    assert r[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("k", [1, 4, 13])
def test_irr_three_sign_changes_unique_root(k):
    # Descartes: the number of positive roots has the parity of the sign changes, so
    # two sign changes give 0 or 2 roots; three are needed for a unique root. With
    # y = v**k: (y - c)(y**2 - y + 1) = -c + (1+c) y - (1+c) y**2 + y**3, and
    # y**2 - y + 1 > 0, so y = c = 1/1.1 is the only root: (1 + r_week)**k = 1.1.
    c = 1 / 1.1
    f = rows({0: -c, k: 1 + c, 2 * k: -(1 + c), 3 * k: 1.0})
    r, st = irr(f)
    assert st[0] == IRR_OK
    assert r[0] == pytest.approx(1.1 ** (W / k) - 1, rel=1e-9)


@pytest.mark.parametrize(
    "spec",
    [
        {0: -1.0, 1: 2.5, 2: -1.5},  # roots r_week = 0 and 0.5
        {5: -1.0, 6: 2.5, 7: -1.5},
        {0: -100.0, 4: 230.0, 8: -132.0},  # (1 + r)**4 = 1.1 or 1.2
        {0: -100.0, 1: 230.0, 2: -132.0},  # r_week = 0.1 or 0.2
        {0: 1.0, 1: -6.0, 2: 11.0, 3: -6.0},  # v = 1, 1/2, 1/3: r_week = 0, 1, 2
    ],
)
def test_irr_multiple_roots(spec):
    r, st = irr(rows(spec))
    assert st[0] == IRR_MULTIPLE
    assert np.isnan(r[0])


def test_irr_no_root_total_loss_no_flows():
    f = rows({0: 1.0, 1: -1.0, 2: 1.0}, {3: 5.0, 9: 1.0}, {0: -5.0, 2: -3.0}, {}, {7: -1.0})
    r, st = irr(f)
    assert list(st) == [IRR_NO_ROOT, IRR_NO_ROOT, IRR_TOTAL_LOSS, IRR_NO_FLOWS, IRR_TOTAL_LOSS]
    assert np.isnan(r[[0, 1, 3]]).all()
    assert r[2] == -1.0 and r[4] == -1.0
    r, st = irr(np.zeros((2, 0)))
    assert list(st) == [IRR_NO_FLOWS, IRR_NO_FLOWS]


def test_irr_bad_input():
    with pytest.raises(ValueError):
        irr(np.zeros(10))
    with pytest.raises(ValueError):
        irr(np.full((2, 3), np.nan))


def brentq_annual(flow, lo, hi):
    t = np.arange(flow.size)
    r_week = brentq(lambda r: np.sum(flow * (1 + r) ** -t), lo, hi, xtol=1e-15, rtol=1e-15)
    return (1 + r_week) ** W - 1


def test_irr_conventional_vs_brentq():
    rng = np.random.default_rng(20240611)
    n, m = 300, 260
    f = np.zeros((n, m))
    f[:, :12] = -rng.uniform(0.0, 10.0, (n, 12)) * (rng.uniform(size=(n, 12)) < 0.7)
    f[:, 0] = -1.0  # at least one outflow
    rep = rng.uniform(0.0, 1.0, (n, m - 26)) * (rng.uniform(size=(n, m - 26)) < 0.3)
    rep[:, -1] += 0.01
    scale = rng.uniform(0.5, 3.0, (n, 1)) * -f.sum(axis=1, keepdims=True)
    f[:, 26:] = rep / rep.sum(axis=1, keepdims=True) * scale
    shift = rng.integers(0, 20, n)  # leading zeros of varying length
    f = np.stack([np.roll(np.pad(row, (0, 20)), s) for row, s in zip(f, shift, strict=True)])
    r, st = irr(f)
    assert (st == IRR_OK).all()
    # repayments start >= 15 weeks after the last drawdown and return 0.5x..3x:
    # |r_week| < log(3) / 15 < 0.1, a safe bracket for brentq
    expected = np.array([brentq_annual(row, -0.1, 0.1) for row in f])
    np.testing.assert_allclose(r, expected, rtol=1e-9, atol=1e-12)


def test_irr_unconventional_unique_vs_brentq():
    # Later small drawdowns between repayments. Norstrom: if the cumulative sums
    # change sign once (ending > 0), exactly one root has r > 0; if moreover the
    # cumulative sums from the end never change sign, no root has r < 0.
    rng = np.random.default_rng(7)
    n, m = 400, 120
    f = rng.uniform(0.0, 3.0, (n, m)) * (rng.uniform(size=(n, m)) < 0.4)
    f -= rng.uniform(0.0, 2.0, (n, m)) * (rng.uniform(size=(n, m)) < 0.2)
    f[:, 0] = -rng.uniform(20.0, 60.0, n)

    def sign_changes(a):
        s = np.sign(a)
        s = s[s != 0]
        return int(np.sum(s[1:] != s[:-1]))

    keep = [
        i
        for i in range(n)
        if f[i].sum() > 0
        and sign_changes(np.cumsum(f[i])) == 1
        and sign_changes(np.cumsum(f[i][::-1])) == 0
        and sign_changes(f[i]) > 1
    ]
    assert len(keep) > 50
    g = f[keep]
    r, st = irr(g)
    assert (st == IRR_OK).all()
    expected = np.array([brentq_annual(row, 1e-12, 1.0) for row in g])
    np.testing.assert_allclose(r, expected, rtol=1e-9)


def test_irr_small_polynomials_vs_numpy_roots():
    # Random integer flows over a few weeks (any number of sign changes, random
    # leading zeros); the roots v = 1 / (1 + r_week) > 0 of the NPV polynomial come
    # from numpy.roots. Cases numpy cannot resolve clearly, or with two roots closer
    # than the documented scan grid resolution, are left out.
    rng = np.random.default_rng(99)
    flows, expected = [], []
    while len(flows) < 2000:
        deg = rng.integers(1, 7)
        c = rng.integers(-5, 6, deg + 1).astype(float)
        if c[0] == 0 or c[-1] == 0 or not (c > 0).any() or not (c < 0).any():
            continue
        roots = np.roots(c[::-1])
        real = np.abs(roots.imag) < 1e-9
        if np.any((np.abs(roots.imag) < 1e-3) & ~real):
            continue
        x = np.sort(-np.log(roots.real[real & (roots.real > 0)]))
        if len(x) > 1 and np.any(np.diff(x) < 0.05 + 0.06 * np.abs(x[1:])):
            continue
        row = np.zeros(12)
        lead = rng.integers(0, 12 - deg)
        row[lead : lead + deg + 1] = c
        flows.append(row)
        expected.append(x)
    r, st = irr(np.array(flows))
    for x, rate, status in zip(expected, r, st, strict=True):
        if len(x) == 1:
            assert status == IRR_OK
            assert rate == pytest.approx(np.expm1(x[0] * W), rel=1e-8, abs=1e-11)
        else:
            assert status == (IRR_NO_ROOT if len(x) == 0 else IRR_MULTIPLE)
            assert np.isnan(rate)


def test_npv_direct_sum():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(5, 70))
    t = np.arange(70)
    for rate in (0.0, 0.05, -0.3):
        expected = (f * (1 + rate) ** (-t / W)).sum(axis=1)
        np.testing.assert_allclose(npv(f, rate), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        npv(f, -1.0)
    with pytest.raises(ValueError):
        npv(f[0], 0.05)


def test_npv_at_irr_is_zero():
    f = rows({0: -100.0, 52: 110.0})
    r, _ = irr(f)
    assert npv(f, r[0])[0] == pytest.approx(0.0, abs=1e-9)


def test_moic():
    f = rows({0: -100.0, 3: 50.0, 9: 100.0}, {1: 10.0, 2: 20.0}, {0: -10.0, 1: -10.0, 2: 5.0}, {})
    m = moic(f)
    assert m[0] == 1.5 and m[2] == 0.25
    assert np.isnan(m[1]) and np.isnan(m[3])


def test_payback_week():
    f = rows(
        {0: -100.0, 1: 30.0, 2: 30.0, 3: 40.0, 4: 10.0},  # cumulative hits 0 at week 3
        {0: -100.0, 1: 50.0},  # never recovers
        {0: 10.0, 1: 20.0},  # never negative
        {1: -5.0, 2: 5.0},
        {0: 5.0, 1: -10.0, 2: 3.0, 3: 3.0},  # negative from week 1, back to 1 at week 3
        {0: -1.0, 1: 2.0, 2: -5.0, 3: 10.0},  # first recovery counts
    )
    pw = payback_week(f)
    assert pw.dtype == np.int64
    assert list(pw) == [3, -1, -1, 2, 3, 1]


def test_var_cvar():
    x = np.arange(-50.0, 51.0)  # 101 values: the 5 % quantile is x[5] = -45
    var, cvar = var_cvar(x, 0.95)
    assert var == pytest.approx(45.0, abs=1e-9)
    assert cvar == pytest.approx(47.5, abs=1e-9)  # -mean(-50 .. -45)
    x_nan = np.concatenate([x, [np.nan, np.nan]])
    assert var_cvar(x_nan, 0.95) == pytest.approx((45.0, 47.5), abs=1e-9)
    var, cvar = var_cvar(np.arange(1.0, 101.0), 0.9)  # no loss: negative VaR
    assert var == pytest.approx(-(1 + 0.1 * 99), abs=1e-9)
    assert cvar == pytest.approx(-5.5, abs=1e-9)  # -mean(1 .. 10)
    # quantiles falling exactly on a sample value, which belongs to the tail
    assert var_cvar(np.arange(5.0), 0.5) == pytest.approx((-2.0, -1.0), abs=1e-12)
    assert var_cvar(np.arange(-4.0, 5.0), 0.75) == pytest.approx((2.0, 3.0), abs=1e-12)
    assert all(math.isnan(v) for v in var_cvar(np.array([]), 0.95))
    assert all(math.isnan(v) for v in var_cvar(np.array([np.nan]), 0.95))


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1])
def test_var_cvar_bad_level(level):
    with pytest.raises(ValueError):
        var_cvar(np.arange(10.0), level)


def test_var_cvar_bad_ndim():
    with pytest.raises(ValueError):
        var_cvar(np.zeros((3, 3)))
