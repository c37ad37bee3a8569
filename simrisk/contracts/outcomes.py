"""Outcomes that contracts measure, defined once.

An outcome is measured per citizen ``at_week`` weeks after the citizen's entry, from the
kernel's records: the state at check weeks (``checks``), the weeks so far of the job
spell and of the unbroken run of self-support at those weeks (``check_run``), and the
week of first events (``events``). Each outcome can be measured two ways:

* ``at``: the citizen's status in that week. Citizens who have moved away by then are
  not counted (censored).
* ``ever_by``: whether it happened at any time from entry up to that week. Every
  measurable citizen is counted, moved or not (an outcome before moving counts).

The outcomes (self-support in the sense of § 6 of the refusion law: no public benefit,
no løntilskud or fleksjob; education on SU is self-support):

=====================  ==============================  ================================
outcome                ``at`` the week                 ``ever_by`` the week
=====================  ==============================  ================================
employed               in an ordinary job (any hours)  a job entry
education              in education                    an education entry
off_benefit            a week of self-support          a first week of self-support
self_supporting        ``window_weeks`` unbroken       such a run completed
                       weeks of self-support up to it
self_supporting_work   self-support in a job           a first such week
declared_fit           declared fit (the benefit       the benefit course ended for a
                       course ended for a job that     destination fit for work
                       keeps none of it, education,
                       unemployment or løntilskud)
                       and not back on it
sustained_13/26/52     in a job spell of 13/26/52      such a spell reached
                       weeks or more
ever_employed          (= employed, ``ever_by``)
=====================  ==============================  ================================
"""

from __future__ import annotations

import numpy as np

from simrisk.vocabulary import (
    BENEFIT,
    EDUCATION,
    EMPLOYED,
    EV_EDUCATION,
    EV_FIT,
    EV_JOB,
    EV_OFF,
    EV_SUST13,
    EV_SUST26,
    EV_SUST52,
    EV_WORK_SS,
    MOVED,
    N_EVENTS,
)

EVENT_OF = {
    "employed": EV_JOB,
    "education": EV_EDUCATION,
    "off_benefit": EV_OFF,
    "self_supporting_work": EV_WORK_SS,
    "declared_fit": EV_FIT,
    "sustained_13": EV_SUST13,
    "sustained_26": EV_SUST26,
    "sustained_52": EV_SUST52,
}
"""The event whose first week answers ``ever_by`` (``self_supporting``: its window's)."""
SUSTAINED = {"sustained_13": 13, "sustained_26": 26, "sustained_52": 52}


def outcome_rate(
    checks: np.ndarray,
    check_run: np.ndarray,
    events: np.ndarray,
    entry: np.ndarray,
    check_index: int,
    outcome: str,
    at_week: int,
    horizon: int,
    measure: str = "at",
    window: tuple[int, int] = (1, -1),
) -> tuple[np.ndarray, np.ndarray]:
    """Share of enrolled citizens with an outcome ``at_week`` weeks after their entry.

    Citizens whose measurement week lies beyond the horizon are not counted.

    Parameters
    ----------
    checks : int8 (scenario, citizen, check), state at check weeks
    check_run : int32 (scenario, citizen, check, 2), weeks so far of the job spell and of
        the run of self-support at check weeks
    events : int32 (scenario, citizen, event), first weeks of the outcome events, then of
        the self-support windows
    entry : int32 (scenario, citizen), -1 if not enrolled
    measure : ``at`` or ``ever_by``
    window : (weeks, column) of ``self_supporting``: the unbroken weeks of self-support
        and the events column of the first such run (``ever_by``)

    Returns
    -------
    rate : float64 (scenario,), NaN where nobody is measurable
    measured_week : int64 (scenario,), the week the last citizen is measured
    """
    measurable = (entry >= 0) & (entry + at_week < horizon)
    if outcome == "ever_employed":
        outcome, measure = "employed", "ever_by"
    if outcome not in EVENT_OF and outcome != "self_supporting":
        raise ValueError(f"unknown outcome '{outcome}'")
    weeks, column = window
    if measure == "ever_by":
        ev = events[:, :, column if outcome == "self_supporting" else EVENT_OF[outcome]]
        hit = (ev >= 0) & (ev - entry <= at_week)
        counted = measurable
    elif measure == "at":
        state = checks[:, :, check_index]
        job = check_run[:, :, check_index, 0]
        run = check_run[:, :, check_index, 1]
        counted = measurable & (state != MOVED)
        if outcome == "employed":
            hit = state == EMPLOYED
        elif outcome == "education":
            hit = state == EDUCATION
        elif outcome == "off_benefit":
            hit = run >= 1
        elif outcome == "self_supporting":
            hit = run >= weeks
        elif outcome == "self_supporting_work":
            hit = (state == EMPLOYED) & (run >= 1)
        elif outcome == "declared_fit":
            fit = events[:, :, EV_FIT]
            hit = (fit >= 0) & (fit - entry <= at_week) & (state != BENEFIT)
        else:
            hit = job >= SUSTAINED[outcome]
    else:
        raise ValueError(f"unknown measure '{measure}'")
    den = counted.sum(axis=1)
    num = (hit & counted).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    last = np.where(measurable, entry + at_week, -1).max(axis=1)
    return rate, last


def window_of(ss_windows: np.ndarray, mech) -> tuple[int, int]:
    """(weeks, events column) of a target's self-support window."""
    if mech.outcome != "self_supporting":
        return 1, -1
    k = int(np.searchsorted(ss_windows, mech.window_weeks))
    return int(mech.window_weeks), N_EVENTS + k


def target_rate(sim, arm: int, st, mech) -> tuple[np.ndarray, np.ndarray]:
    """The outcome rate (and last measurement week) of a target mechanism on ``arm`` of a
    simulated chunk (:class:`~simrisk.simulation.KernelOut`, its ``Structure``)."""
    return outcome_rate(
        sim.checks[:, arm],
        sim.check_run[:, arm],
        sim.events[:, arm],
        sim.entry,
        int(np.searchsorted(st.check_off, mech.at_week)),
        mech.outcome,
        mech.at_week,
        st.deal_weeks,
        mech.measure,
        window_of(st.ss_windows, mech),
    )
