"""Draws of the uncertain inputs: Monte Carlo, Latin hypercube or Sobol; and the leaf
values a chunk of scenarios sees.

Every method makes points in the unit hypercube, mapped to each parameter by its
distribution's inverse CDF. The table of draws (scenario x parameter) is made
before any simulation.

Scenario ``k`` draws the same parameters whatever the number of scenarios for
Monte Carlo (a counter-based stream per scenario) and Sobol (a prefix of one
scrambled sequence). A Latin hypercube design is stratified over all ``n``
scenarios, so its rows depend on ``n`` by construction.

:class:`Values` reads a numeric leaf of the deal for every scenario of a chunk:
the drawn values where the leaf is uncertain, the deal's own value otherwise.
:class:`Adjustment` changes a leaf after drawing (a stress point), so the
draws, and with them every random stream, stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simrisk import copula, distributions, rng
from simrisk.config import DealConfig, parse_path


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
        post = cfg.uncertainty.posterior
        self.posterior = None if post is None else np.asarray(post.draws, dtype=float)
        post_names = [] if post is None else list(post.paths)
        self.copula = None
        if cfg.uncertainty.correlations:
            from simrisk.config.load import correlation_inputs

            pairs, named, order = correlation_inputs(cfg)
            index = {d: k for k, d in enumerate(named)}
            c = copula.matrix([(index[a], index[b], r) for a, b, r in pairs], len(named))
            self.copula = copula.Copula(named, c)
            if order:  # the pick's rank is the rank of the correlated parameter
                col = post_names.index(order)
                self.posterior = self.posterior[np.argsort(self.posterior[:, col], kind="stable")]
        self.names = [r.path for r in self.records] + post_names
        self.paths = [parse_path(n) for n in self.names]
        self.method = cfg.uncertainty.method
        self.seed = int(seed)
        self.key = rng.seed_key(self.seed)
        self.frozen = [distributions.frozen(r) for r in self.records]
        d = self.dims
        self._design = None
        if d and self.method == "lhs":
            from scipy.stats import qmc  # imported only here: scipy.stats is slow to import

            self._design = qmc.LatinHypercube(d=d, seed=np.random.default_rng(self.seed)).random(
                n_total
            )

    @property
    def dims(self) -> int:
        """Dimensions of a unit point: one per distribution, and one that picks a whole
        draw of the posterior."""
        return len(self.records) + (self.posterior is not None)

    @property
    def inputs(self) -> list[tuple[str, list[int]]]:
        """The independent inputs, one per unit dimension: its name and the columns of the
        draw table it sets (a posterior sets all of its parameters at once)."""
        out = [(r.path, [j]) for j, r in enumerate(self.records)]
        if self.posterior is not None:
            k = len(self.records)
            cols = list(range(k, len(self.names)))
            out.append(("calibration posterior (" + ", ".join(self.names[k:]) + ")", cols))
        return out

    def unit(self, scen0: int, n: int) -> np.ndarray:
        """Points in (0, 1), shape (scenario, unit dimension)."""
        d = self.dims
        if d == 0:
            return np.empty((n, 0))
        if self.method == "mc":
            return rng.uniform_table(self.key, scen0, n, d, rng.STREAM_PARAMETERS)
        if self.method == "lhs":
            return self._design[scen0 : scen0 + n]
        from scipy.stats import qmc

        engine = qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(self.seed))
        if scen0:
            engine.fast_forward(scen0)
            return engine.random(n)
        # the first point on its own: scipy warns about balance when a fresh engine draws
        # n != 2^m points; the points are the same (and warning filters are process-wide,
        # so not something to switch off while other threads run)
        first = engine.random(1)
        return first if n == 1 else np.concatenate([first, engine.random(n - 1)])

    def values(self, u: np.ndarray) -> np.ndarray:
        """Parameter values at unit points ``u``, shape (scenario, parameter): the deal's
        rank correlations applied (:mod:`simrisk.copula`), then each input's quantile; a
        posterior's unit coordinate picks one of its draws (each equally likely)."""
        out = np.empty((u.shape[0], len(self.names)))
        if self.copula is not None:
            u = self.copula.apply(u)
        for j, (rec, rv) in enumerate(zip(self.records, self.frozen, strict=True)):
            out[:, j] = distributions.quantile(rec, u[:, j], rv)
        if self.posterior is not None:
            D = self.posterior.shape[0]
            idx = np.minimum((u[:, len(self.records)] * D).astype(np.int64), D - 1)
            out[:, len(self.records) :] = self.posterior[idx]
        return out

    def draw(self, scen0: int, n: int) -> np.ndarray:
        """Parameter values of scenarios ``[scen0, scen0 + n)``, shape (scenario, parameter)."""
        return self.values(self.unit(scen0, n))

    def overrides(self, values: np.ndarray) -> dict[tuple, np.ndarray]:
        """Map a draw table to ``{path: values}`` for :class:`Values`."""
        return {p: values[:, j] for j, p in enumerate(self.paths)}

    def medians(self) -> np.ndarray:
        """Every uncertain leaf at its distribution's median (a posterior's parameters at
        their marginal medians), shape (parameter,)."""
        return self.quantiles(0.5)

    def quantiles(self, q: float) -> np.ndarray:
        """Every uncertain leaf at the ``q`` quantile of its own (marginal) distribution."""
        out = np.array(
            [
                distributions.quantile(r, np.array([q]), rv)[0]
                for r, rv in zip(self.records, self.frozen, strict=True)
            ],
            dtype=float,
        )
        if self.posterior is not None:
            marg = np.quantile(self.posterior, q, axis=0, method="inverted_cdf")
            out = np.concatenate([out, marg])
        return out

    def central(self, n: int) -> dict[tuple, np.ndarray]:
        """Every uncertain leaf at its median, for ``n`` scenarios."""
        med = self.medians()
        return {p: np.full(n, med[j]) for j, p in enumerate(self.paths)}


def central_overrides(cfg: DealConfig, n: int) -> dict[tuple, np.ndarray]:
    """Every uncertain leaf of ``cfg`` at its distribution's median."""
    return Sampler(cfg, 0, 1).central(n)


@dataclass(frozen=True)
class Adjustment:
    """A change to one numeric leaf, applied after the parameters are drawn (so the
    draws, and with them the random streams, stay the same)."""

    path: tuple
    op: str  # "set", "scale", "add" or "excess" (scale the excess over 1)
    value: float | np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        if self.op == "set":
            return np.full_like(x, self.value)
        if self.op == "scale":
            return x * self.value
        if self.op == "add":
            return x + self.value
        if self.op == "excess":
            return 1.0 + (x - 1.0) * self.value
        raise ValueError(f"unknown operation '{self.op}'")


class Values:
    """Leaf values of a deal for ``n`` scenarios: drawn where uncertain, fixed elsewhere."""

    def __init__(self, dumped: dict, overrides: dict[tuple, np.ndarray], n: int):
        self.dumped = dumped
        self.overrides = overrides
        self.n = n

    def __call__(self, *path) -> np.ndarray:
        """float64 of shape (scenario,)."""
        if path in self.overrides:
            # contiguous, like the fixed values: a column of a draw table is strided, and
            # numba would compile its kernels once more for every other layout
            return np.ascontiguousarray(self.overrides[path], dtype=float)
        node = self.dumped
        for part in path:
            node = node[part]
        return np.full(self.n, float(node))

    def optional(self, *path) -> np.ndarray:
        """The leaf's values, or ``inf`` where the deal leaves it unset (no cap)."""
        node = self.dumped
        for part in path:
            node = node[part]
        return np.full(self.n, np.inf) if node is None else self(*path)

    def adjusted(self, adjust: list[Adjustment] | None) -> Values:
        """These values with the adjustments applied in order."""
        if not adjust:
            return self
        out = dict(self.overrides)
        for a in adjust:
            current = out[a.path] if a.path in out else self(*a.path)
            out[a.path] = a.apply(np.asarray(current, dtype=float))
        return Values(self.dumped, out, self.n)


def chunk_values(
    cfg: DealConfig,
    sampler: Sampler,
    draws: np.ndarray,
    adjust: list | None = None,
    dumped: dict | None = None,
) -> Values:
    """The leaf values of a chunk: the deal, the draws (scenario, parameter), then the
    adjustments. ``dumped`` is the deal dumped by alias, if already at hand."""
    dumped = cfg.model_dump(by_alias=True) if dumped is None else dumped
    base = Values(dumped, sampler.overrides(draws), draws.shape[0])
    return base.adjusted(adjust)
