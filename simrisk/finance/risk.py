"""Risk measures and the conventions for outcomes without a number.

* **Undefined IRR.** An IRR can be undefined (no flows, no root, several roots).
  One rule everywhere: an undefined IRR ranks by the sign of the investor's
  profit, below every defined IRR when the investor lost money and above every
  defined IRR otherwise. :func:`irr_ranked` gives ``-inf``/``+inf`` for ranking
  (quantiles, P(IRR >= hurdle)); :func:`irr_filled` gives finite values in the
  same order (-100 % for a loss, the largest defined IRR otherwise) where an
  average or a variance is needed. A total loss has an IRR of -100 %.
* **Investor loss**: the investor's undiscounted profit is negative.
* **VaR and CVaR** of an outcome where negative is a loss: ``VaR = -q`` with
  ``q`` the empirical ``1 - level`` quantile (numpy's ``inverted_cdf``: a value
  of the sample), ``CVaR = -mean(x | x <= q)``.
"""

from __future__ import annotations

import math

import numpy as np

QUANTILE_METHOD = "inverted_cdf"
"""How quantiles of scenario samples are taken, everywhere."""


def investor_loss(profit: np.ndarray) -> np.ndarray:
    """Whether the investor lost money (profit < 0), bool of the profit's shape."""
    return np.asarray(profit) < 0


def irr_ranked(irr: np.ndarray, profit: np.ndarray) -> np.ndarray:
    """IRRs with undefined ones at -inf (profit < 0) or +inf (profit >= 0)."""
    irr = np.asarray(irr, dtype=float)
    return np.where(np.isfinite(irr), irr, np.where(np.asarray(profit) < 0, -np.inf, np.inf))


def irr_filled(irr: np.ndarray, profit: np.ndarray) -> np.ndarray:
    """IRRs with undefined ones at -100 % (profit < 0) or the largest defined IRR (or 0 if
    none is defined)."""
    irr = np.asarray(irr, dtype=float)
    defined = irr[np.isfinite(irr)]
    top = float(defined.max()) if defined.size else 0.0
    return np.where(np.isfinite(irr), irr, np.where(np.asarray(profit) < 0, -1.0, top))


def moic_filled(moic: np.ndarray) -> np.ndarray:
    """Multiples with undefined ones (nothing drawn) at 0."""
    return np.nan_to_num(np.asarray(moic, dtype=float), nan=0.0)


def quantiles(x: np.ndarray, qs) -> np.ndarray:
    """Empirical quantiles of a sample (the project's one quantile method)."""
    return np.quantile(x, qs, method=QUANTILE_METHOD)


def var_cvar(x: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Value at risk and conditional value at risk of outcomes where negative = loss.

    Parameters
    ----------
    x : ndarray, shape (sample,)
        Outcomes, e.g. a municipality's net budget effect; NaNs are ignored.
    level : float in (0, 1)

    Returns
    -------
    var, cvar : float
        ``-q`` with ``q`` the empirical ``1 - level`` quantile, and
        ``-mean(x[x <= q])``; positive = loss. ``(nan, nan)`` without data.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"x must be 1-D, got ndim={a.ndim}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    a = a[~np.isnan(a)]
    if a.size == 0:
        return math.nan, math.nan
    # the tail probability as written: 1 - 0.95 is 0.05000000000000004 in floating point,
    # which would take the next sample value whenever n / 20 is whole
    q = float(quantiles(a, round(1.0 - level, 12)))
    return -q, -float(a[a <= q].mean())
