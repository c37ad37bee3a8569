"""Bayesian calibration: a sequential Monte Carlo sampler with likelihood tempering.

The published endpoints a deal is calibrated to are summary statistics with a
known sampling distribution (a share of ``n`` people, a mean with its standard
error), so their likelihood given the simulated value is explicit: normal, with
the observation's sampling variance at the simulated value plus the simulation's
own Monte Carlo variance (see :func:`simrisk.analysis.targets.log_likelihood`).
With an explicit likelihood there is no need for ABC's tolerance, which only
approximates it and spends most simulations on rejected proposals. The sampler
(Del Moral, Doucet and Jasra 2006, "Sequential Monte Carlo samplers", JRSS B
68:411-436) moves a population of particles from the prior to the posterior through
tempered targets ``prior x likelihood^phi``, ``phi`` from 0 to 1: each step takes the
largest increase of ``phi`` that keeps the effective sample size at half the
population, resamples, and moves every particle by random-walk Metropolis steps
(proposal covariance from the particles, scaled by the acceptance rate) until most
have moved. The result is a set of equally weighted joint draws: the correlation
between parameters is kept.

Every evaluation of the likelihood simulates the same scenarios with the same
random streams (common random numbers), so the likelihood is a deterministic
function of the parameters and the whole calibration is reproducible from its seed.

Parameters are sampled on an unbounded scale: the logit of their position in the
prior's range (flat, or flat in the logarithm), with the prior's density carried in
the acceptance ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit, logsumexp


@dataclass(frozen=True)
class Prior:
    """Independent priors, flat on ``[low, high]`` or flat in the logarithm (``log``)."""

    low: np.ndarray
    high: np.ndarray
    log: np.ndarray

    def _g(self, x):
        return np.where(self.log, np.log(np.where(self.log, x, 1.0)), x)

    def to_z(self, theta: np.ndarray) -> np.ndarray:
        a, b = self._g(self.low), self._g(self.high)
        u = (self._g(theta) - a) / (b - a)
        return logit(np.clip(u, 1e-12, 1 - 1e-12))

    def from_z(self, z: np.ndarray) -> np.ndarray:
        a, b = self._g(self.low), self._g(self.high)
        x = a + expit(z) * (b - a)
        return np.where(self.log, np.exp(x), x)

    @staticmethod
    def log_density_z(z: np.ndarray) -> np.ndarray:
        """Log density of the prior on the logit scale (flat in u: u (1 - u))."""
        return np.sum(-np.logaddexp(0.0, -z) - np.logaddexp(0.0, z), axis=-1)


@dataclass
class Posterior:
    """Equally weighted draws (particle, parameter) and how they were made."""

    draws: np.ndarray
    log_likelihood: np.ndarray
    log_evidence: float
    temperatures: list[float]
    acceptance: list[float]
    evaluations: int
    particles: int
    seed: int
    moves: list[int] = field(default_factory=list)

    def interval(self, level: float = 0.9) -> np.ndarray:
        """Central credible interval of each parameter, shape (parameter, 2)."""
        a = (1 - level) / 2
        return np.quantile(self.draws, [a, 1 - a], axis=0).T


def _systematic(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = weights.size
    cdf = np.cumsum(weights)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, (rng.random() + np.arange(n)) / n)


def _ess(logw: np.ndarray) -> float:
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / (w * w).sum())


def _next_temperature(ll: np.ndarray, phi: float, target: float) -> float:
    """The largest temperature above ``phi`` (at most 1) at which the incremental weights'
    effective sample size is still ``target``: bisection."""
    if _ess((1.0 - phi) * ll) >= target:
        return 1.0
    lo, hi = 0.0, 1.0 - phi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _ess(mid * ll) >= target:
            lo = mid
        else:
            hi = mid
    return phi + max(lo, 1e-12)


def smc(
    loglik: Callable[[np.ndarray], np.ndarray],
    prior: Prior,
    particles: int = 500,
    seed: int = 0,
    ess_share: float = 0.5,
    max_moves: int = 12,
    unmoved: float = 0.1,
    progress: Callable[[float, int], None] | None = None,
) -> Posterior:
    """Sample the posterior ``prior x exp(loglik)``.

    ``loglik`` maps parameter values (particle, parameter) to log-likelihoods
    (particle,). Each tempering step moves the particles until fewer than ``unmoved``
    of them are expected never to have moved (at most ``max_moves`` sweeps).
    ``progress(phi, evaluations)`` is called after every step.
    """
    rng = np.random.default_rng(seed)
    d = prior.low.size
    z = logit(rng.uniform(1e-9, 1 - 1e-9, size=(particles, d)))
    ll = np.asarray(loglik(prior.from_z(z)), float)
    evaluations = particles
    phi, log_evidence = 0.0, 0.0
    temps, acc_rates, moves = [0.0], [], []
    scale = 2.38**2 / d
    while phi < 1.0:
        new = _next_temperature(ll, phi, ess_share * particles)
        logw = (new - phi) * ll
        log_evidence += float(logsumexp(logw) - np.log(particles))
        w = np.exp(logw - logsumexp(logw))
        idx = _systematic(w, rng)
        z, ll, phi = z[idx], ll[idx], new
        temps.append(phi)
        cov = np.atleast_2d(np.cov(z.T)) + 1e-10 * np.eye(d)
        chol = np.linalg.cholesky(cov)
        stay, sweeps, accepted = 1.0, 0, 0.0
        while sweeps < max_moves and (sweeps == 0 or stay > unmoved):
            prop = z + np.sqrt(scale) * rng.standard_normal((particles, d)) @ chol.T
            llp = np.asarray(loglik(prior.from_z(prop)), float)
            evaluations += particles
            log_alpha = phi * (llp - ll) + Prior.log_density_z(prop) - Prior.log_density_z(z)
            ok = np.log(rng.random(particles)) < log_alpha
            z[ok], ll[ok] = prop[ok], llp[ok]
            rate = float(ok.mean())
            accepted += rate
            stay *= 1.0 - rate
            sweeps += 1
            # keep the acceptance rate in a useful range
            if rate < 0.15:
                scale *= 0.6
            elif rate > 0.45:
                scale *= 1.4
        acc_rates.append(accepted / sweeps)
        moves.append(sweeps)
        if progress is not None:
            progress(phi, evaluations)
    return Posterior(
        prior.from_z(z), ll, log_evidence, temps, acc_rates, evaluations, particles, seed, moves
    )
