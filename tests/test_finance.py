"""Tests for simrisk.finance: closed forms, hand-built cases, independent computations
(scipy's brentq, numpy's polynomial roots) and plain-Python twins (tests/naive_money.py)."""

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
    annualise,
    cap_return,
    discount_factors,
    investor_loss,
    irr,
    irr_filled,
    irr_ranked,
    moic,
    moic_filled,
    npv,
    payback_week,
    quantiles,
    var_cvar,
    weekly_cap_rates,
    weekly_rate,
)
from simrisk.finance.investor import _payback_kernel
from tests import naive_money as naive

W = 365.25 / 7  # weeks in a year of 365.25 days, written out (not the library's constant)


def rows(*specs, n_weeks=80):
    """Flows matrix from {week: amount} dicts, one per scenario."""
    f = np.zeros((len(specs), n_weeks))
    for i, spec in enumerate(specs):
        for week, amount in spec.items():
            f[i, week] = amount
    return f


def test_weekly_rate_and_annualise():
    rw = weekly_rate(0.1)
    # 1461 weeks are 10227 days, exactly 28 years of 365.25 days
    assert (1 + rw) ** 1461 == pytest.approx(1.1**28, rel=1e-11)
    assert rw == pytest.approx(naive.weekly_rate(0.1), rel=1e-13)
    assert annualise(rw) == pytest.approx(0.1, rel=1e-12)
    assert annualise(np.array([0.0, 0.01]))[1] == pytest.approx(1.01**W - 1, rel=1e-12)
    with pytest.raises(ValueError):
        weekly_rate(-1.0)


def test_irr_status_names_name_the_cases():
    """The status codes and their names (written to results files as flag meanings) agree:
    one case of each kind, named by the code irr returns."""
    f = rows(
        {0: -100.0, 52: 110.0}, {0: -5.0}, {0: 1.0, 1: -1.0, 2: 1.0}, {0: -1.0, 1: 2.5, 2: -1.5}, {}
    )
    _, st = irr(f)
    assert [IRR_STATUS_NAMES[c] for c in st] == [
        "ok",
        "total_loss",
        "no_root",
        "multiple_roots",
        "no_flows",
    ]
    assert list(st) == [IRR_OK, IRR_TOTAL_LOSS, IRR_NO_ROOT, IRR_MULTIPLE, IRR_NO_FLOWS]


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


def test_irr_matches_bisection_on_capped_flows():
    """Investor flows as the engine makes them (drawdowns, then capped repayments) against a
    plain bisection on the weekly rate."""
    g = np.random.default_rng(11)
    n, H = 40, 120
    draw = np.zeros((n, H))
    draw[:, :20] = g.uniform(0.0, 10.0, (n, 20)) * (g.uniform(size=(n, 20)) < 0.6)
    draw[:, 0] += 1.0
    due = np.zeros((n, H))
    due[:, 30:] = g.uniform(0.0, 4.0, (n, H - 30)) * (g.uniform(size=(n, H - 30)) < 0.3)
    cap = np.where(g.uniform(size=n) < 0.5, weekly_cap_rates(np.full(n, 0.08)), np.inf)
    flows = cap_return(draw, due, cap) - draw
    r, st = irr(flows)
    assert (st == IRR_OK).all()
    expected = [naive.irr_bisect(row, -0.2, 0.2) for row in flows]
    np.testing.assert_allclose(r, expected, rtol=1e-8, atol=1e-10)


def test_npv_direct_sum():
    g = np.random.default_rng(3)
    f = g.normal(size=(5, 70))
    for rate in (0.0, 0.05, -0.3):
        expected = [naive.npv(row, rate) for row in f]
        np.testing.assert_allclose(npv(f, rate), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        npv(f, -1.0)
    with pytest.raises(ValueError):
        npv(f[0], 0.05)


def test_npv_at_irr_is_zero():
    f = rows({0: -100.0, 52: 110.0})
    r, _ = irr(f)
    assert npv(f, r[0])[0] == pytest.approx(0.0, abs=1e-9)


def test_discount_factors():
    rate = np.array([0.05, 0.0, 0.05, 0.1])
    d = discount_factors(rate, 1462)
    assert d.shape == (4, 1462)
    # week 1461 is 28 years on: 1.05**-28, 1, 1.05**-28, 1.1**-28
    np.testing.assert_allclose(d[:, 1461], [1.05**-28, 1.0, 1.05**-28, 1.1**-28], rtol=1e-11)
    np.testing.assert_array_equal(d[:, 0], 1.0)
    f = np.random.default_rng(4).normal(size=(4, 1462))
    for s in range(4):
        assert (f[s] * d[s]).sum() == pytest.approx(npv(f[s : s + 1], rate[s])[0], rel=1e-10)


def test_moic():
    # gross: the 30 repaid in week 1 counts although 50 more were drawn that week
    repaid = np.array([150.0, 30.0, 0.0, 10.0])
    drawn = np.array([100.0, 150.0, 40.0, 0.0])
    m = moic(repaid, drawn)
    np.testing.assert_array_equal(m[:3], [1.5, 0.2, 0.0])
    assert np.isnan(m[3])  # nothing drawn: undefined
    np.testing.assert_array_equal(moic_filled(m), [1.5, 0.2, 0.0, 0.0])


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
    np.testing.assert_array_equal(naive.payback_week(f), pw)


def test_payback_kernel_matches_twin():
    g = np.random.default_rng(8)
    f = g.normal(0.0, 1.0, (200, 40)) + g.uniform(-0.3, 0.3, (200, 1))
    f[:20] = np.abs(f[:20])  # never negative
    got = _payback_kernel(f)
    np.testing.assert_array_equal(got, naive.payback_week(f))
    assert (got == -1).sum() > 20 and (got > 0).sum() > 20


def test_weekly_cap_rates():
    r = weekly_cap_rates(np.array([0.08, np.inf, 0.0]))
    assert (1 + r[0]) ** 1461 == pytest.approx(1.08**28, rel=1e-11)
    assert r[1] == np.inf and r[2] == 0.0


def test_cap_return_limits_the_irr_to_the_cap():
    """100 drawn in week 0, 200 due in week 52: with a 10 % annual cap the investor gets
    100 (1 + r)**52 in week 52 and nothing else, so its IRR is exactly the cap."""
    drawdown = rows({0: 100.0}, {0: 100.0}, n_weeks=53)
    due = rows({52: 200.0}, {52: 200.0}, n_weeks=53)
    r = naive.weekly_rate(0.10)
    paid = cap_return(drawdown, due, np.array([r, np.inf]))
    assert paid[0, 52] == pytest.approx(100.0 * (1 + r) ** 52, rel=1e-13)
    assert paid[0, :52].sum() == 0
    assert paid[1, 52] == 200.0  # no cap
    got, st = irr(paid - drawdown)
    assert st[0] == IRR_OK and got[0] == pytest.approx(0.10, rel=1e-9)


def test_cap_return_by_hand():
    # weekly cap rate 10 %: draw 100 in week 0, 50 in week 2; due 60, 60, 60, 60 in weeks 1-4
    # week 0: balance 100; week 1: 110, pay 60 -> 50; week 2: 55 + 50 = 105, pay 60 -> 45;
    # week 3: 49.5, pay 49.5 of 60 -> 0; week 4: 0, pay nothing
    drawdown = np.array([[100.0, 0, 50, 0, 0]])
    due = np.array([[0.0, 60, 60, 60, 60]])
    np.testing.assert_allclose(
        cap_return(drawdown, due, np.array([0.1])), [[0, 60, 60, 49.5, 0]], rtol=1e-13
    )


def test_cap_return_matches_twin():
    g = np.random.default_rng(9)
    n, H = 30, 60
    drawdown = g.exponential(5.0, (n, H)) * (g.uniform(size=(n, H)) < 0.2)
    due = g.exponential(3.0, (n, H)) * (g.uniform(size=(n, H)) < 0.4)
    caps = weekly_cap_rates(np.where(g.uniform(size=n) < 0.8, g.uniform(0.0, 0.3, n), np.inf))
    got = cap_return(drawdown, due, caps)
    np.testing.assert_allclose(got, naive.cap_return(drawdown, due, caps), rtol=1e-9, atol=1e-9)
    assert (got.sum(axis=1) < due.sum(axis=1) - 1e-9).sum() > 5  # the cap binds in some


def test_var_cvar():
    x = np.arange(-50.0, 51.0)  # 101 values: the 5 % quantile is the 6th smallest, -45
    var, cvar = var_cvar(x, 0.95)
    assert var == pytest.approx(45.0, abs=1e-9)
    assert cvar == pytest.approx(47.5, abs=1e-9)  # -mean(-50 .. -45)
    x_nan = np.concatenate([x, [np.nan, np.nan]])
    assert var_cvar(x_nan, 0.95) == pytest.approx((45.0, 47.5), abs=1e-9)
    # no loss: negative VaR; the 10 % quantile of 1..100 is the 10th value, 10
    assert var_cvar(np.arange(1.0, 101.0), 0.9) == pytest.approx((-10.0, -5.5), abs=1e-12)
    # quantiles falling exactly on a sample value, which belongs to the tail
    assert var_cvar(np.arange(5.0), 0.5) == pytest.approx((-2.0, -1.0), abs=1e-12)
    assert var_cvar(np.arange(-4.0, 5.0), 0.75) == pytest.approx((2.0, 3.0), abs=1e-12)
    assert all(math.isnan(v) for v in var_cvar(np.array([]), 0.95))
    assert all(math.isnan(v) for v in var_cvar(np.array([np.nan]), 0.95))


def test_var_cvar_is_empirical_on_a_hand_built_sample():
    # ten outcomes, unsorted; at level 80 % the 20 % quantile is the 2nd smallest value
    # (inverted_cdf: the smallest x with F(x) >= 0.2), -3: VaR 3, CVaR -mean(-10, -3) = 6.5.
    # (Interpolating would give -0.6 between -3 and 0.)
    x = np.array([5.0, -3, 20, 0, 8, -10, 2, 11, 7, 9])
    assert var_cvar(x, 0.8) == pytest.approx((3.0, 6.5), abs=1e-12)
    # ties at the quantile all belong to the tail: sorted -5, -5, -5, 1, 2, 3; at 70 % the
    # 30 % quantile is the 2nd smallest (F = 2/6 >= 0.3), -5; the tail is all three -5s
    assert var_cvar(np.array([3.0, -5, 1, -5, 2, -5]), 0.7) == pytest.approx((5.0, 5.0))
    # the quantile is a value of the sample, every level
    g = np.random.default_rng(10)
    y = g.normal(size=37)
    for level in (0.5, 0.9, 0.95, 0.99):
        var, cvar = var_cvar(y, level)
        assert -var in y
        k = math.ceil((1 - level) * y.size)  # the k-th smallest value
        assert -var == np.sort(y)[k - 1]
        assert cvar == pytest.approx(-np.sort(y)[:k].mean(), rel=1e-12)


@pytest.mark.parametrize("n", [20, 40, 100, 1000])
def test_var_is_minus_the_quantile_of_the_tail_probability(n):
    """VaR 95 % is minus the empirical 5 % quantile, also where n x 5 % is whole (where
    1 - 0.95, 0.05000000000000004 in floating point, would take the next value)."""
    x = np.random.default_rng(n).normal(size=n)
    var, cvar = var_cvar(x, 0.95)
    k = n // 20  # the k-th smallest value
    assert -var == np.sort(x)[k - 1] == quantiles(x, 0.05)
    assert cvar == pytest.approx(-np.sort(x)[:k].mean(), rel=1e-12)
    var90, _ = var_cvar(x, 0.9)
    assert -var90 == np.sort(x)[n // 10 - 1]


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1])
def test_var_cvar_bad_level(level):
    with pytest.raises(ValueError):
        var_cvar(np.arange(10.0), level)


def test_var_cvar_bad_ndim():
    with pytest.raises(ValueError):
        var_cvar(np.zeros((3, 3)))


def test_quantiles_are_sample_values():
    x = np.array([4.0, 1, 3, 2])
    # inverted_cdf: 25 % -> 1st value, 50 % -> 2nd, 51 % -> 3rd, 100 % -> 4th
    np.testing.assert_array_equal(quantiles(x, [0.25, 0.5, 0.51, 1.0]), [1, 2, 3, 4])


def test_irr_ranked_and_filled():
    # defined IRRs 5 %, -20 %, 30 %; undefined ones with a loss, a profit and no profit
    # (profit 0 is not a loss); a total loss (-100 %) is defined
    irr_ = np.array([0.05, np.nan, -0.2, np.nan, 0.3, np.nan, -1.0])
    profit = np.array([10.0, -5.0, -1.0, 7.0, 40.0, 0.0, -100.0])
    ranked = irr_ranked(irr_, profit)
    np.testing.assert_array_equal(ranked, [0.05, -np.inf, -0.2, np.inf, 0.3, np.inf, -1.0])
    filled = irr_filled(irr_, profit)
    # a loss at -100 %, otherwise the largest defined IRR (30 %)
    np.testing.assert_array_equal(filled, [0.05, -1.0, -0.2, 0.3, 0.3, 0.3, -1.0])
    # the same order as the ranking: ranked below means filled below or equal
    below = ranked[:, None] < ranked[None, :]
    assert (filled[:, None] <= filled[None, :])[below].all()
    # no defined IRR at all: a profit fills with 0
    np.testing.assert_array_equal(
        irr_filled(np.array([np.nan, np.nan]), np.array([1.0, -1.0])), [0.0, -1.0]
    )


def test_investor_loss():
    np.testing.assert_array_equal(investor_loss(np.array([-0.01, 0.0, 5.0])), [True, False, False])


def test_financing_by_hand():
    from simrisk import finance

    """Costs 40, 30, 50 (cumulative 40, 70, 120) against a capital of 100: the provider
    bears the 20 beyond it (the investor draws 40, 30, 30); a top-up is the investor's
    (it draws all) and the fee is 0.1 per DKK beyond the capital, in the week drawn."""
    cost = np.array([[40.0, 30.0, 50.0], [10.0, 10.0, 10.0]])
    capital = np.array([100.0, 100.0])
    drawn, fee = finance.financing(cost, capital, "provider", np.zeros(2))
    np.testing.assert_array_equal(drawn, [[40, 30, 30], [10, 10, 10]])
    np.testing.assert_array_equal(fee, 0.0)
    drawn, fee = finance.financing(cost, capital, "top_up", np.array([0.1, 0.1]))
    np.testing.assert_array_equal(drawn, cost)
    np.testing.assert_allclose(fee, [[0, 0, 2.0], [0, 0, 0]], rtol=1e-15)
    drawn, fee = finance.financing(cost, capital, "fewer_citizens", np.zeros(2))
    np.testing.assert_array_equal(drawn, cost)
    np.testing.assert_array_equal(fee, 0.0)
