"""Outcomes that contracts measure, defined once.

An outcome is measured per citizen ``at_week`` weeks after the citizen's entry,
from the kernel's records: the state at check weeks (``checks``) and the week
of first events (``events``).
"""

from __future__ import annotations

import numpy as np

from simrisk.vocabulary import EDUCATION, EMPLOYED, EV_JOB, MOVED


def outcome_rate(
    checks: np.ndarray,
    events: np.ndarray,
    entry: np.ndarray,
    check_index: int,
    outcome: str,
    at_week: int,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Share of enrolled citizens with an outcome ``at_week`` weeks after their entry.

    Citizens whose measurement week lies beyond the horizon are not counted; nor are
    citizens who have moved away by then (censored).

    Parameters
    ----------
    checks : ndarray of int8, shape (scenario, citizen, check), state at check weeks
    events : ndarray of int32, shape (scenario, citizen, event)
    entry : ndarray of int32, shape (scenario, citizen), -1 if not enrolled

    Returns
    -------
    rate : ndarray of float64, shape (scenario,), NaN where nobody is measurable
    measured_week : ndarray of int64, shape (scenario,), the week the last citizen is measured
    """
    measurable = (entry >= 0) & (entry + at_week < horizon)
    state = checks[:, :, check_index]
    if outcome == "ever_employed":
        job = events[:, :, EV_JOB]
        hit = (job >= 0) & (job - entry <= at_week)
        counted = measurable
    else:
        counted = measurable & (state != MOVED)
        if outcome == "employed":
            hit = state == EMPLOYED
        elif outcome == "self_supporting":
            hit = (state == EMPLOYED) | (state == EDUCATION)
        elif outcome == "off_benefit":
            hit = (state == EMPLOYED) | (state == EDUCATION)
            hit |= state == MOVED
        else:
            raise ValueError(f"unknown outcome '{outcome}'")
    den = counted.sum(axis=1)
    num = (hit & counted).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    last = np.where(measurable, entry + at_week, -1).max(axis=1)
    return rate, last
