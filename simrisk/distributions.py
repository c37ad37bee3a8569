"""Distributions of uncertain inputs as scipy distributions.

A record of the ``[[uncertainty.parameters]]`` table (see
:mod:`simrisk.config.uncertainty`) maps to a frozen scipy distribution; draws
are made by its inverse CDF (``ppf``) from points in the unit interval.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

EPS = 1e-12
"""Points are kept within [EPS, 1 - EPS]: a distribution's support is taken to within
this probability."""


def frozen(dist) -> stats.rv_continuous | None:
    """The scipy distribution of an uncertainty record (None for ``fixed``)."""
    kind = dist.distribution
    if kind == "fixed":
        return None
    if kind == "uniform":
        return stats.uniform(loc=dist.low, scale=dist.high - dist.low)
    if kind == "triangular":
        width = dist.high - dist.low
        return stats.triang(c=(dist.mode - dist.low) / width, loc=dist.low, scale=width)
    if kind == "normal":
        if dist.low is None and dist.high is None:
            return stats.norm(loc=dist.mean, scale=dist.sd)
        lo = -np.inf if dist.low is None else (dist.low - dist.mean) / dist.sd
        hi = np.inf if dist.high is None else (dist.high - dist.mean) / dist.sd
        return stats.truncnorm(lo, hi, loc=dist.mean, scale=dist.sd)
    if kind == "lognormal":
        return stats.lognorm(s=dist.sigma, scale=dist.median)
    if kind == "beta":
        return stats.beta(dist.alpha, dist.beta, loc=dist.low, scale=dist.high - dist.low)
    if kind == "gamma":
        return stats.gamma(dist.shape, scale=dist.scale)
    raise ValueError(f"unknown distribution '{kind}'")


def support(dist) -> tuple[float, float]:
    """Smallest and largest value a draw can take (to within EPS in probability)."""
    rv = frozen(dist)
    if rv is None:
        return dist.value, dist.value
    return float(rv.ppf(EPS)), float(rv.ppf(1.0 - EPS))


def nominal(dist) -> float:
    """Central value of a distribution (its median), used for baselines and calibration."""
    rv = frozen(dist)
    return dist.value if rv is None else float(rv.median())


def quantile(dist, u: np.ndarray, rv=None) -> np.ndarray:
    """Values at points ``u`` in (0, 1), clipped to [EPS, 1 - EPS]; ``rv`` is
    ``frozen(dist)`` if already at hand."""
    rv = frozen(dist) if rv is None else rv
    u = np.clip(np.asarray(u, dtype=float), EPS, 1.0 - EPS)
    return np.full_like(u, dist.value) if rv is None else rv.ppf(u)
