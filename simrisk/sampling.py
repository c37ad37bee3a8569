"""Parameter uncertainty: distributions and Monte Carlo, Latin hypercube or Sobol draws.

Every method makes points in the unit hypercube, mapped to each parameter by its
distribution's inverse CDF (``ppf``). The table of draws (scenario x parameter)
is made before any simulation.

Scenario ``k`` draws the same parameters whatever the number of scenarios for
Monte Carlo (a counter-based stream per scenario) and Sobol (a prefix of one
scrambled sequence). A Latin hypercube design is stratified over all ``n``
scenarios, so its rows depend on ``n`` by construction.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.stats import qmc

from simrisk import kernel
from simrisk.config import DealConfig, parse_path

_EPS = 1e-12


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


def distribution_support(dist) -> tuple[float, float]:
    """Smallest and largest value a draw can take (to within 1e-12 in probability)."""
    rv = frozen(dist)
    if rv is None:
        return dist.value, dist.value
    return float(rv.ppf(_EPS)), float(rv.ppf(1.0 - _EPS))


def nominal(dist) -> float:
    """Central value of a distribution (its median), used for baselines."""
    rv = frozen(dist)
    return dist.value if rv is None else float(rv.median())


class Sampler:
    """Draws of the uncertain parameters for scenarios ``[0, n_total)``.

    Parameters
    ----------
    cfg : DealConfig
    seed : int
    n_total : int, number of scenarios in the run (only the Latin hypercube uses it)
    """

    def __init__(self, cfg: DealConfig, seed: int, n_total: int):
        self.records = list(cfg.uncertainty.parameters)
        self.paths = [parse_path(r.path) for r in self.records]
        self.names = [r.path for r in self.records]
        self.method = cfg.uncertainty.method
        self.seed = int(seed)
        self.key = kernel.seed_key(self.seed)
        self.dists = [frozen(r) for r in self.records]
        d = len(self.records)
        self._design = None
        if d and self.method == "lhs":
            self._design = qmc.LatinHypercube(d=d, seed=np.random.default_rng(self.seed)).random(
                n_total
            )

    def unit(self, scen0: int, n: int) -> np.ndarray:
        """Points in (0, 1), shape (n, parameter)."""
        d = len(self.records)
        if d == 0:
            return np.empty((n, 0))
        if self.method == "mc":
            return kernel.uniform_table(self.key, scen0, n, d, kernel.STREAM_PARAMETERS)
        if self.method == "lhs":
            return self._design[scen0 : scen0 + n]
        engine = qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(self.seed))
        if scen0:
            engine.fast_forward(scen0)
            return engine.random(n)
        # the first point on its own: scipy warns about balance when a fresh engine draws
        # n != 2^m points; the points are the same (and warning filters are process-wide,
        # so not something to switch off while other threads run)
        first = engine.random(1)
        return first if n == 1 else np.concatenate([first, engine.random(n - 1)])

    def draw(self, scen0: int, n: int) -> np.ndarray:
        """Parameter values, shape (n, parameter)."""
        u = np.clip(self.unit(scen0, n), _EPS, 1.0 - _EPS)
        out = np.empty_like(u)
        for j, (rec, rv) in enumerate(zip(self.records, self.dists, strict=True)):
            out[:, j] = rec.value if rv is None else rv.ppf(u[:, j])
        return out

    def overrides(self, values: np.ndarray) -> dict[tuple, np.ndarray]:
        """Map a draw table to ``{path: values}`` for the model builder."""
        return {p: values[:, j] for j, p in enumerate(self.paths)}
