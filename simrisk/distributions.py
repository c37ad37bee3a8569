"""Distributions of uncertain inputs, by their inverse CDF.

A record of the ``[[uncertainty.parameters]]`` table (see
:mod:`simrisk.config.uncertainty`) maps to a :class:`Quantiles`, the distribution's
inverse CDF (``ppf``); draws are made by it from points in the unit interval.

The inverse CDFs are scipy's, written with the :mod:`scipy.special` functions that
``scipy.stats`` calls for them, in the same arithmetic, so the values are the same to the
last bit (tested against ``scipy.stats``), except in one corner: for a beta with a shape
below 1 at points below about 1e-8, where ``scipy.stats``'s quantile gives up its root
search, ``betaincinv`` gives the accurate value. Importing ``scipy.stats`` takes about
half a second, more than a small run. A truncated normal is left to ``scipy.stats.truncnorm``
(imported when a deal has one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

EPS = 1e-12
"""Points are kept within [EPS, 1 - EPS]: a distribution's support is taken to within
this probability."""


@dataclass(frozen=True)
class Quantiles:
    """A distribution's inverse CDF: ``ppf(q) = loc + scale * unit(q)``."""

    unit: Callable[[np.ndarray], np.ndarray]
    loc: float = 0.0
    scale: float = 1.0

    def ppf(self, q):
        out = self.unit(np.asarray(q, dtype=float)) * self.scale + self.loc
        return out[()] if np.ndim(out) == 0 else out

    def median(self) -> float:
        return self.ppf(0.5)


def _triangular(c: float) -> Callable:
    return lambda q: np.where(q < c, np.sqrt(c * q), 1 - np.sqrt((1 - c) * (1 - q)))


def frozen(dist) -> Quantiles | None:
    """The inverse CDF of an uncertainty record (None for ``fixed``)."""
    kind = dist.distribution
    if kind == "fixed":
        return None
    if kind == "uniform":
        return Quantiles(lambda q: q, dist.low, dist.high - dist.low)
    if kind == "triangular":
        width = dist.high - dist.low
        return Quantiles(_triangular((dist.mode - dist.low) / width), dist.low, width)
    if kind == "normal":
        if dist.low is None and dist.high is None:
            return Quantiles(special.ndtri, dist.mean, dist.sd)
        from scipy import stats

        lo = -np.inf if dist.low is None else (dist.low - dist.mean) / dist.sd
        hi = np.inf if dist.high is None else (dist.high - dist.mean) / dist.sd
        return Quantiles(stats.truncnorm(lo, hi).ppf, dist.mean, dist.sd)
    if kind == "lognormal":
        sigma = dist.sigma
        return Quantiles(lambda q: np.exp(sigma * special.ndtri(q)), 0.0, dist.median)
    if kind == "beta":
        a, b = dist.alpha, dist.beta
        return Quantiles(lambda q: special.betaincinv(a, b, q), dist.low, dist.high - dist.low)
    if kind == "gamma":
        shape = dist.shape
        return Quantiles(lambda q: special.gammaincinv(shape, q), 0.0, dist.scale)
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
