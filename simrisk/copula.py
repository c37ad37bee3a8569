"""Rank correlations between uncertain inputs, by a Gaussian copula.

A deal names pairs of uncertain inputs and their Spearman rank correlation
(``[[uncertainty.correlations]]``). Each input keeps its own distribution: its unit
coordinate ``u`` (Monte Carlo, Latin hypercube or Sobol) is mapped to a standard normal
score ``z = Φ⁻¹(u)``, the scores are mixed by the Cholesky factor of the copula's
correlation matrix, and mapped back, ``u' = Φ(z')``, before each input's quantile
function. A Gaussian copula with Pearson correlation ``r`` has the rank correlation
``(6/π) asin(r/2)``, so ``r = 2 sin(π ρ/6)`` gives the rank correlation asked for exactly;
the marginals are untouched, and so are the inputs not named. A Latin hypercube's
stratification holds for each input before the mixing, not after it.

A calibration posterior is one input (its coordinate picks a whole draw); a correlation
with one of its parameters orders the draws by that parameter, so that the pick's rank is
that parameter's rank.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

EPS = 1e-12


def pearson(rank: float) -> float:
    """The normal copula's correlation that gives Spearman rank correlation ``rank``."""
    return 2.0 * math.sin(math.pi * rank / 6.0)


def spearman(r: float) -> float:
    """The inverse of :func:`pearson`."""
    return 6.0 / math.pi * math.asin(r / 2.0)


def matrix(pairs: list[tuple[int, int, float]], k: int) -> np.ndarray:
    """The copula's correlation matrix over ``k`` inputs from (i, j, rank) pairs."""
    c = np.eye(k)
    for i, j, rank in pairs:
        c[i, j] = c[j, i] = pearson(rank)
    return c


def smallest_eigenvalue(c: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(c).min())


class Copula:
    """Mixes the unit coordinates ``dims`` of a sampler's points by correlation ``c``."""

    def __init__(self, dims: list[int], c: np.ndarray):
        self.dims = list(dims)
        self.chol = np.linalg.cholesky(c)

    def apply(self, u: np.ndarray) -> np.ndarray:
        """Points with the named coordinates correlated; the others as they were."""
        if not self.dims or u.shape[0] == 0:
            return u
        out = np.array(u, dtype=float, copy=True)
        z = special.ndtri(np.clip(out[:, self.dims], EPS, 1.0 - EPS))
        out[:, self.dims] = np.clip(special.ndtr(z @ self.chol.T), EPS, 1.0 - EPS)
        return out
