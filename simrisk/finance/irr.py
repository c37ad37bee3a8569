"""The investor's internal rate of return, for many scenarios at once.

Weekly flows are float64 arrays of shape ``(scenario, week)`` seen from the investor:
negative = money out (drawdowns), positive = money in (repayments). A year has
``WEEKS_PER_YEAR = 365.25 / 7`` weeks; rates are annual unless named weekly.

IRR, per scenario, in the weekly log rate ``x = log(1 + r_week)``: the NPV is the
polynomial ``P(v) = sum f_t v**t`` in ``v = exp(-x)``, evaluated by Horner in
``exp(-x)`` for ``x >= 0`` and, reversed, in ``exp(x)`` for ``x < 0`` (times a positive
factor, so it never overflows). Roots are counted exactly where possible: on ``x > 0``,
``P(v) / (1 - v)`` is the power series of the cumulative sums ``C_t``, so by Descartes'
rule plus parity it has exactly as many roots as ``C`` has sign changes when that is 0
or 1 (Norstrom); on ``x < 0`` the same holds for the cumulative sums from the end. This
covers all conventional flows (one sign change). Otherwise the undecided side is scanned
on a fixed grid (dense over annual -99.9 % .. +10,000 %, geometric tails to |x| = 700);
two roots closer than the grid spacing are missed there. A single root is refined by
Newton's method safeguarded by bisection.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from simrisk.vocabulary import WEEKS_PER_YEAR

IRR_OK, IRR_TOTAL_LOSS, IRR_NO_ROOT, IRR_MULTIPLE, IRR_NO_FLOWS = 0, 1, 2, 3, 4
IRR_STATUS_NAMES = ("ok", "total_loss", "no_root", "multiple_roots", "no_flows")


def _make_grid(n_core: int = 400) -> np.ndarray:
    lo, hi = math.log(0.001) / WEEKS_PER_YEAR, math.log(101.0) / WEEKS_PER_YEAR
    far = np.geomspace(5.0, 700.0, 25)
    up = np.concatenate([np.geomspace(hi, 5.0, 150), far])
    dn = np.concatenate([np.geomspace(-lo, 5.0, 150), far])
    return np.unique(np.concatenate([np.linspace(lo, hi, n_core), up, -dn, [0.0]]))


_GRID = _make_grid()  # sorted weekly log rates, contains 0
_GRID_ZERO = int(np.searchsorted(_GRID, 0.0))


def weekly_rate(annual_rate: float) -> float:
    """Weekly rate equivalent to ``annual_rate``: ``(1 + a)**(1/WEEKS_PER_YEAR) - 1``."""
    if not annual_rate > -1.0:
        raise ValueError(f"annual_rate must be > -1, got {annual_rate}")
    return math.expm1(math.log1p(annual_rate) / WEEKS_PER_YEAR)


def annualise(r_week: float | np.ndarray) -> float | np.ndarray:
    """Annual rate(s) equivalent to weekly rate(s): ``(1 + r)**WEEKS_PER_YEAR - 1``."""
    return np.expm1(np.log1p(r_week) * WEEKS_PER_YEAR)


def as_flows(flows) -> np.ndarray:
    a = np.ascontiguousarray(flows, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"flows must be 2-D (scenario, week), got ndim={a.ndim}")
    return a


@numba.njit(cache=True)
def _sgn(v):
    return 1 if v > 0.0 else (-1 if v < 0.0 else 0)


@numba.njit(cache=True, fastmath={"contract"})  # FMA only; IEEE semantics otherwise
def _poly(f, start, n, step, z):
    """q(z) = sum_{k<n} f[start + step*k] z**k and q'(z); Horner on even/odd halves."""
    y = z * z
    e = de = o = do = 0.0
    if n % 2 == 1:
        e = f[start + step * (n - 1)]
    for j in range(n // 2 - 1, -1, -1):
        k = start + step * 2 * j
        de = de * y + e
        e = e * y + f[k]
        do = do * y + o
        o = o * y + f[k + step]
    return e + z * o, 2.0 * z * de + o + 2.0 * y * do


@numba.njit(cache=True)
def _npv_slope(f, i0, i1, x, neg):
    """Scaled NPV and its x-derivative at weekly log rate x.

    ``neg=False``: sum f_t exp(-x (t - i0)), for x >= 0; ``neg=True``:
    sum f_t exp(x (i1 - t)), for x < 0. No power exceeds 1 on its side.
    """
    if neg:
        z, start, step, sign = math.exp(x), i1, -1, 1.0
    else:
        z, start, step, sign = math.exp(-x), i0, 1, -1.0
    p, dp = _poly(f, start, i1 - i0 + 1, step, z)
    return p, sign * dp * z


@numba.njit(cache=True)
def _solve(f, i0, i1, a, fa, b, fb, x, neg):
    """Root in [a, b] (fa, fb of opposite sign) from ``x``: Newton safeguarded by bisection."""
    if fa == 0.0 or fb == 0.0 or (fa > 0.0) == (fb > 0.0):  # last: rounding at the ends
        return a if abs(fa) <= abs(fb) else b
    xl, xh = (a, b) if fa < 0.0 else (b, a)
    if not a < x < b:
        x = 0.5 * (a + b)
    dx = dxold = b - a
    for _ in range(200):
        fx, dfx = _npv_slope(f, i0, i1, x, neg)
        if fx == 0.0:
            return x
        xl, xh = (x, xh) if fx < 0.0 else (xl, x)
        dxold, newton = dx, abs(2.0 * fx) <= abs(dxold * dfx)
        if ((x - xh) * dfx - fx) * ((x - xl) * dfx - fx) > 0.0 or not newton:
            dx = 0.5 * (xh - xl)
            x = xl + dx
            if abs(dx) <= 1e-15 * abs(x) + 1e-300:
                return x
        else:
            dx = fx / dfx
            x -= dx
            if abs(dx) <= 1e-10 * abs(x) + 1e-20:  # quadratic: the error is now ~ dx**2
                return x
    return x


@numba.njit(cache=True)
def _region_bracket(f, i0, i1, total, slope, neg):
    """(a, fa, b, fb, start) for the one root on x > 0 (x < 0 if ``neg``).

    The bracket grows from 0; the Newton step from 0 (``slope`` = derivative there) starts.
    """
    x0 = -total / slope if slope != 0.0 else 0.0
    if (x0 < 0.0) != neg or x0 == 0.0 or abs(x0) > 1e3:
        x0 = -0.005 if neg else 0.005
    near, fnear, far = 0.0, total, 2.0 * x0
    while True:  # one call site per callee keeps the inlined kernel small (compile time)
        ffar, _ = _npv_slope(f, i0, i1, far, neg)
        if _sgn(ffar) != _sgn(total) or abs(far) >= 1e3:
            break
        near, fnear, far = far, ffar, 4.0 * far
    if neg:
        return far, ffar, near, fnear, x0
    return near, fnear, far, ffar, x0


@numba.njit(cache=True)
def _grid_roots(f, i0, i1, grid, k0, k1):
    """Sign changes over ``grid[k0:k1]``: (count capped at 2, bracket a, fa, b, fb of one)."""
    cnt, prev = 0, 0
    xp = fp = ra = rb = fa = fb = 0.0
    for k in range(k0, k1):
        x = grid[k]
        v, _ = _npv_slope(f, i0, i1, x, x < 0.0)
        s = _sgn(v)
        if s == 0:  # exact root on a grid point
            cnt += 1
            ra, fa, rb, fb = x, 0.0, x, 0.0
        elif prev != 0 and s != prev:
            cnt += 1
            ra, fa, rb, fb = xp, fp, x, v
        if cnt > 1:
            break
        prev, xp, fp = s, x, v
    return cnt, ra, fa, rb, fb


@numba.njit(cache=True)
def _irr_one(f, grid, kz):
    """(weekly log rate, status) for one scenario; ``grid[kz] == 0``."""
    # one branch-light pass: support [i0, i1], signs, sign changes n1 of the
    # cumulative sums C_t (root count on x > 0), sum of all C_t, sum of t * f_t
    i0 = i1 = np.int64(-1)  # not the literal -1: callees would compile once for it too
    npos = nneg = prev = n1 = 0
    c = c_sum = tf_sum = 0.0
    for t in range(f.size):
        ft = f[t]
        i0 = t if (ft != 0.0 and i0 < 0) else i0
        i1 = t if ft != 0.0 else i1
        npos += ft > 0.0
        nneg += ft < 0.0
        c += ft
        c_sum += c
        tf_sum += t * ft
        s = _sgn(c)
        if s != 0 and s != prev:
            n1 += prev != 0
            prev = s
    if i0 < 0 or npos == 0 or nneg == 0:
        return np.nan, IRR_NO_FLOWS if i0 < 0 else (IRR_TOTAL_LOSS if npos == 0 else IRR_NO_ROOT)
    total = c
    c_sum -= (f.size - i1) * total  # now the sum of C_t for i0 <= t < i1
    s1 = tf_sum - i0 * total  # minus the x-derivative at 0 of the neg=False form
    # n_exact roots known on the side not scanned (x < 0 if neg); scan grid[k0:k1]
    n_exact, neg, k0, k1 = 0, False, 0, grid.size
    if total == 0.0:  # P(v) = (1 - v) R(v), R with coefficients C_0 .. C_{T-1}
        if n1 == 0:
            return 0.0, IRR_OK
        if n1 % 2 == 1 and c_sum != 0.0:  # R has a positive root, not at v = 1
            return np.nan, IRR_MULTIPLE
    else:  # sign changes n2 of the sums from the end, ending in the same total
        d = 0.0
        prev = n2 = 0
        for t in range(i1, i0 - 1, -1):
            d = total if t == i0 else d + f[t]
            s = _sgn(d)
            if s != 0 and s != prev:
                n2 += prev != 0
                prev = s
        if n1 % 2 + n2 % 2 >= 2:
            return np.nan, IRR_MULTIPLE
        if n1 <= 1 and n2 <= 1:
            n_exact, neg, k0, k1 = n1 + n2, n2 == 1, 0, 0
        elif n1 <= 1:
            n_exact, neg, k0, k1 = n1, False, 0, kz + 1
        elif n2 <= 1:
            n_exact, neg, k0, k1 = n2, True, kz, grid.size
    cnt, a, fa, b, fb = _grid_roots(f, i0, i1, grid, k0, k1)
    if cnt + n_exact >= 2:
        return np.nan, IRR_MULTIPLE
    if cnt + n_exact == 0:
        return np.nan, IRR_NO_ROOT
    x0 = 0.5 * (a + b)
    if cnt == 1:
        neg = b <= 0.0
    else:
        slope = (i1 - i0) * total - s1 if neg else -s1
        a, fa, b, fb, x0 = _region_bracket(f, i0, i1, total, slope, neg)
    return _solve(f, i0, i1, a, fa, b, fb, x0, neg), IRR_OK


@numba.njit(nogil=True, cache=True)
def _irr_kernel(flows, grid, kz, weeks_per_year):
    n = flows.shape[0]
    out = np.empty(n, np.float64)
    status = np.empty(n, np.int8)
    for i in range(n):
        x, st = _irr_one(flows[i], grid, kz)
        if st == IRR_OK:
            out[i] = math.expm1(x * weeks_per_year)
        else:
            out[i] = -1.0 if st == IRR_TOTAL_LOSS else np.nan
        status[i] = st
    return out, status


def irr(flows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Annualised internal rate of return per scenario.

    Parameters
    ----------
    flows : ndarray, shape (scenario, week)
        Finite weekly cash flows; leading and trailing zero weeks do not matter.

    Returns
    -------
    rate : ndarray of float64, shape (scenario,)
        ``(1 + r_week)**WEEKS_PER_YEAR - 1``; -1.0 for ``IRR_TOTAL_LOSS``, NaN for
        the other statuses except ``IRR_OK``.
    status : ndarray of int8, shape (scenario,)
        ``IRR_OK`` (one rate > -100 % gives NPV 0), ``IRR_TOTAL_LOSS`` (outflows, no
        inflow), ``IRR_NO_ROOT``, ``IRR_MULTIPLE`` (several rates) or ``IRR_NO_FLOWS``
        (all zero); names in ``IRR_STATUS_NAMES``.
    """
    f = as_flows(flows)
    if not np.isfinite(f).all():
        raise ValueError("flows contain NaN or inf")
    return _irr_kernel(f, _GRID, _GRID_ZERO, WEEKS_PER_YEAR)
