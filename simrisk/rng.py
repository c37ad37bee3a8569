"""Counter-based random numbers: splitmix64 streams keyed by (seed, scenario, citizen,
stream).

Every scenario, citizen and purpose reads its own stream, so scenario ``k`` draws
the same numbers in any run, for any thread count or chunk size, and both arms
of a citizen can read the same stream (common random numbers). The generator is
numba code; :func:`seed_key` is its plain-Python entry.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# streams of a citizen
STREAM_CITIZEN, STREAM_LABOUR, STREAM_PROGRAMME, STREAM_HOURS = 0, 1, 2, 3
STREAM_PARAMETERS = 7
"""The stream of the parameter draws of a scenario (citizen 0)."""
CONTROL_OFFSET = 1 << 24
"""Citizen index offset for control-group citizens (independent streams)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_M3 = np.uint64(0xD6E8FEB86659FD93)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53 = 1.0 / 9007199254740992.0


@nb.njit(inline="always", cache=True)
def mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def seed_key(seed: int) -> np.uint64:
    """Turn a user seed (0 <= seed < 2**64) into the generator's root key (splitmix64 mix)."""
    mask = (1 << 64) - 1
    z = (int(seed) ^ int(_M3)) & mask
    z = ((z ^ (z >> 30)) * int(_M1)) & mask
    z = ((z ^ (z >> 27)) * int(_M2)) & mask
    return np.uint64(z ^ (z >> 31))


@nb.njit(inline="always", cache=True)
def stream(key, scenario, citizen, which):
    """The starting state of stream ``which`` of a citizen in a scenario."""
    k = mix64(np.uint64(key) ^ mix64(np.uint64(scenario) * _GOLDEN + np.uint64(1)))
    k = mix64(k ^ mix64(np.uint64(citizen) * _M1 + np.uint64(which)))
    return k


@nb.njit(inline="always", cache=True)
def uniform(state):
    """Next uniform in (0, 1) and the new state."""
    state = state + _GOLDEN
    z = mix64(state)
    return state, (float(z >> _S11) + 0.5) * _TWO53


@nb.njit(inline="always", cache=True)
def gamma_mean1(state, variance):
    """Gamma variate with mean 1 and the given variance (Marsaglia-Tsang)."""
    if variance <= 0.0:
        return state, 1.0
    shape = 1.0 / variance
    boost = 1.0
    if shape < 1.0:
        state, u = uniform(state)
        boost = u ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        state, u1 = uniform(state)
        state, u2 = uniform(state)
        x = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        state, u = uniform(state)
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return state, d * v * boost * variance


@nb.njit(nogil=True, cache=True)
def uniform_table(key, scen0, n, d, which):
    """Uniforms in (0, 1), shape (n, d): row i belongs to scenario ``scen0 + i``."""
    out = np.empty((n, d))
    for i in range(n):
        st = stream(key, scen0 + i, 0, which)
        for j in range(d):
            st, out[i, j] = uniform(st)
    return out
