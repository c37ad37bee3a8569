"""The simulation kernel: one chunk of scenarios, both arms of every citizen.

Nothing here knows about configs, dates or xarray. The kernel is event driven
and exact for the weekly model:

* Every transition out of a labour state has a weekly hazard ``h`` (a weekly
  probability ``p`` enters as ``h = -log(1 - p)``). Within a segment where the
  hazards are constant, the week of the next event is found from one
  exponential draw ``E``: the citizen leaves in the first week at which the
  integrated hazard passes ``E``. When the hazards change (a new duration
  piece, programme phase, fade block or calendar window), the unused part of
  ``E`` carries over (memorylessness), so a segment boundary costs no draw.
  Only changes that touch the current state's hazards end a segment. The weeks
  are recorded by stretch: the weeks in one state on one benefit, ended by an
  event, a change of the benefit paid, or the horizon (a stretch holds one or
  more segments). The destination is drawn with probability proportional to
  its hazard.
* What a week costs is recorded with it (:mod:`.weeks`): the benefit paid in the
  state, weighted by the refusion share at the citizen's count of weeks on benefit,
  and the self-support record that restarts the count (§ 6).
* Weekly counts are written as difference arrays (+w at the first week, -w
  after the last) and summed along the week axis at the end of each scenario.
* Random numbers come from :mod:`simrisk.rng`, keyed by (seed, scenario,
  citizen, stream); both arms of a citizen read the same labour and hours
  streams, and share the draws made at entry (segment, frailty, insurance,
  benefit path).

The kernel runs on one core and allocates nothing (:mod:`simrisk.jit`); whole chunks run
on all cores at once (:mod:`simrisk.parallel`).

Inputs come in four groups (namedtuples of arrays, :mod:`.groups`); the outputs
(:class:`~simrisk.simulation.groups.KernelOut`) are passed as separate arrays (numba
once lost writes to arrays held in a tuple handed to a helper inside a parallel loop).
An array the kernel writes shares no memory with any other argument: the kernel is
compiled on that promise (:mod:`simrisk.jit`), which :func:`simrisk.simulation.simulate`
checks. Axis order: scenario, arm, citizen, week, then
state, benefit, event, check or phase.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from simrisk.jit import KERNEL
from simrisk.rng import (
    STREAM_CITIZEN,
    STREAM_HOURS,
    STREAM_LABOUR,
    STREAM_PROGRAMME,
    gamma_mean1,
    stream,
    uniform,
)
from simrisk.simulation.weeks import (
    MAX_STAGES,
    SS_CAPACITY,
    add_weeks,
    benefit_paid,
    record_outcomes,
    record_weeks,
    self_support,
)
from simrisk.vocabulary import (
    BENEFIT,
    EDUCATION,
    EMPLOYED,
    EV_EDUCATION,
    EV_FIT,
    EV_JOB,
    EV_SUST13,
    EV_SUST26,
    EV_SUST52,
    HR_EDUCATION_ENTRY,
    HR_JOB_ENTRY,
    HR_JOB_LOSS,
    MOVED,
    N_STATES,
    PERMANENT,
    SUBSIDISED,
    TREATMENT,
    UNEMPLOYED,
)


@nb.njit(inline="always", cache=True)
def _programme_end(key, scen, cit, prog, s):
    """Week since entry at which the citizen leaves the programme, and whether it is by
    completion (one exponential draw against the phases' dropout hazards)."""
    K = prog.phase_end.shape[0]
    pst = stream(key, scen, cit, STREAM_PROGRAMME)
    pst, u = uniform(pst)
    ed = -math.log(u)
    start = 0
    for k in range(K):
        length = prog.phase_end[k] - start
        dh = prog.drop_haz[s, k]
        if dh * length >= ed:
            return start + max(1, int(math.ceil(ed / dh))), False
        ed -= dh * length
        start = prog.phase_end[k]
    return prog.phase_end[K - 1], True


@nb.njit(inline="always", cache=True)
def _context(prog, s, t, e, prog_end, completed, H):
    """Programme context of week ``t`` (0 none, 1..K phases, K+1.. fade blocks) and the
    week it next changes."""
    K = prog.phase_end.shape[0]
    total_prog = prog.phase_end[K - 1]
    ctx = 0
    ctx_end = H
    rel = t - e
    if rel < prog_end:
        k = 0
        while prog.phase_end[k] <= rel:
            k += 1
        ctx = 1 + k
        ctx_end = e + min(prog.phase_end[k], prog_end)
    elif completed:
        j = (rel - total_prog) // prog.fade_block
        if j < prog.n_fade[s]:
            ctx = 1 + K + j
            ctx_end = e + total_prog + (j + 1) * prog.fade_block
    return ctx, min(ctx_end, H)


@nb.njit(inline="always", cache=True)
def _out_of_work(state):
    return state == BENEFIT or state == UNEMPLOYED


@nb.njit(inline="always", cache=True)
def _hazards(lab, coh, prog, s, g, z, state, p, ctx, t, hh):
    """Hazards out of ``state`` in duration piece ``p`` (written to ``hh``); their sum."""
    total = 0.0
    for d in range(N_STATES):
        h = lab.haz[s, state, p, d]
        if h > 0.0:
            if _out_of_work(state) and d == EMPLOYED:
                h *= (
                    z
                    * coh.seg_hr[s, g]
                    * lab.job_mult[s]
                    * lab.cal_mult[t]
                    * prog.hr[s, ctx, HR_JOB_ENTRY]
                )
            elif _out_of_work(state) and d == EDUCATION:
                h *= z * prog.hr[s, ctx, HR_EDUCATION_ENTRY]
            elif state == EMPLOYED and _out_of_work(d):
                h *= prog.hr[s, ctx, HR_JOB_LOSS]
        hh[d] = h
        total += h
    return total


@nb.njit(inline="always", cache=True)
def _segment_end(lab, s, state, p, dur, t, ctx_end, lim):
    """The week, at most ``lim``, at which this state's hazards next change: the next
    duration piece with other hazards (``dur`` weeks in the state at week ``t``), the
    programme context (``ctx_end``: pass ``lim`` if the state's hazards do not depend on
    it), the calendar (out of work only)."""
    P = lab.dur_edges.shape[0]
    nbk = ctx_end if ctx_end < lim else lim
    q = lab.piece_next[s, state, p]
    if q < P and t + lab.dur_edges[q] - dur < nbk:
        nbk = t + lab.dur_edges[q] - dur
    if _out_of_work(state) and lab.cal_next[t] < nbk:
        nbk = lab.cal_next[t]
    return nbk


@nb.njit(inline="always", cache=True)
def _destination(hh, target):
    """The state whose cumulative hazard first passes ``target`` (a uniform times the
    total hazard); states of zero hazard are never chosen."""
    dest = 0
    acc = hh[0]
    while dest < N_STATES - 1 and (acc <= target or hh[dest] == 0.0):
        dest += 1
        acc += hh[dest]
    return dest


@nb.njit(inline="always", cache=True)
def _sustained(events, s, arm, i, spell_start, spell_end):
    """Mark the sustained-employment events reached by a job spell [start, end)."""
    length = spell_end - spell_start
    if length >= 13 and events[s, arm, i, EV_SUST13] < 0:
        events[s, arm, i, EV_SUST13] = spell_start + 12
    if length >= 26 and events[s, arm, i, EV_SUST26] < 0:
        events[s, arm, i, EV_SUST26] = spell_start + 25
    if length >= 52 and events[s, arm, i, EV_SUST52] < 0:
        events[s, arm, i, EV_SUST52] = spell_start + 51


@nb.njit(inline="always", cache=True)
def _fit(dest):
    """A destination out of the benefit course for which the citizen is fit for work."""
    return dest == EMPLOYED or dest == EDUCATION or dest == UNEMPLOYED or dest == SUBSIDISED


@nb.njit(inline="always", cache=True)
def _entry_event(events, s, arm, i, dest, t_ev, H):
    """The first job or education entry of a citizen."""
    ev = EV_JOB if dest == EMPLOYED else EV_EDUCATION
    if events[s, arm, i, ev] < 0 and t_ev < H:
        events[s, arm, i, ev] = t_ev


@nb.njit(inline="always", cache=True)
def _programme_record(pc, s, e, prog_end, completed, t_abs, phase_end, H):
    """Add a treated citizen's programme track to ``pc`` (week, phase + 2) as a
    difference array."""
    K = phase_end.shape[0]
    end = e + prog_end
    if t_abs < end:
        end = t_abs
        completed = False
    if end > H:
        end = H
    start = e
    for k in range(K):
        stop = min(e + phase_end[k], end)
        if stop > start:
            pc[s, start, k] += 1
            pc[s, stop, k] -= 1
        start = max(start, stop)
    if end < H:
        slot = K if completed else K + 1
        pc[s, end, slot] += 1
        pc[s, H, slot] -= 1


@nb.njit(inline="always", cache=True)
def _prefix_weeks(a):
    """Running sum along the week axis of ``a`` (arm, week, column), in place; week by
    week, so that the arms' and columns' sums are independent chains of additions."""
    A, T, C = a.shape
    for t in range(1, T):
        for x in range(A):
            for c in range(C):
                a[x, t, c] += a[x, t - 1, c]


def scratch() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kernel's scratch arrays: a citizen's hazards, the benefit-path stages it moved
    to, and its record of self-support spells (starts, ends)."""
    return (
        np.empty(N_STATES),
        np.zeros(MAX_STAGES, np.bool_),
        np.empty(SS_CAPACITY, np.int64),
        np.empty(SS_CAPACITY, np.int64),
    )


@nb.njit(**KERNEL)
def simulate_chunk(
    key,
    scen0,
    citizen0,
    do_treatment,
    check_off,
    ss_windows,
    coh,
    lab,
    prog,
    led,
    state_count,
    benefit_weeks,
    refusion_weeks,
    programme_count,
    work_fte,
    events,
    checks,
    check_run,
    entry,
    hh,
    moved,
    ss_a,
    ss_b,
):
    """Simulate one chunk of scenarios, both arms of every citizen.

    Parameters
    ----------
    key : uint64, root key from :func:`simrisk.rng.seed_key`
    scen0 : int, global index of the chunk's first scenario
    citizen0 : int, index offset of the citizens (0 cohort, CONTROL_OFFSET control group)
    do_treatment : bool, simulate the treatment arm (False for a control group)
    check_off : int64 (C,), weeks since entry at which each citizen's state is recorded
    ss_windows : int64 (W,), runs of self-support (weeks) whose first completion is an
        event (after the outcome events)
    coh, lab, prog, led : the input groups of :mod:`simrisk.simulation.groups`
    state_count ... entry : the fields of :class:`~simrisk.simulation.groups.KernelOut`,
        written
    hh, moved, ss_a, ss_b : scratch (:func:`scratch`); the kernel allocates nothing
        (:mod:`simrisk.jit`)
    """
    ns = state_count.shape[0]
    H = state_count.shape[2] - 1
    N = coh.entry_planned.shape[0]
    P = lab.dur_edges.shape[0]
    G = coh.seg_cum.shape[1]
    n_arms = 2 if do_treatment else 1
    for s in range(ns):
        scen = scen0 + s
        # every output of this scenario starts empty (here, while the core's cache is about
        # to use it)
        state_count[s] = 0
        benefit_weeks[s] = 0.0
        refusion_weeks[s] = 0.0
        programme_count[s] = 0
        work_fte[s] = 0.0
        events[s] = -1
        checks[s] = -1
        check_run[s] = 0
        moved[:] = False
        n_in = 0  # citizens enrolled so far, in the order of planned entry
        for i in range(N):
            cit = citizen0 + i
            cst = stream(key, scen, cit, STREAM_CITIZEN)
            cst, u = uniform(cst)
            e = coh.entry_planned[i] + coh.delay[s]
            if u >= coh.uptake[s] or e >= coh.entry_end[s] or n_in >= coh.max_enrolled[s]:
                entry[s, i] = -1
                continue
            n_in += 1
            entry[s, i] = e
            cst, u = uniform(cst)
            g = 0
            while g < G - 1 and u >= coh.seg_cum[s, g]:
                g += 1
            cst, z = gamma_mean1(cst, coh.frailty_var[s])
            cst, u = uniform(cst)
            insured = u < coh.insured_share[s, g]
            for k in range(1, coh.n_stage[g]):
                cst, u = uniform(cst)
                moved[k] = u < coh.path_share[s, g, k]
            for arm in range(n_arms):
                prog_end = 0
                completed = False
                if arm == TREATMENT:
                    prog_end, completed = _programme_end(key, scen, cit, prog, s)
                lst = stream(key, scen, cit, STREAM_LABOUR)
                lst, u = uniform(lst)
                budget = -math.log(u)
                hst = stream(key, scen, cit, STREAM_HOURS)
                state = BENEFIT
                dur = coh.seg_weeks[g]
                counter = coh.seg_weeks[g]
                n_ss = 0
                ss_tot = 0
                # § 6 counts self-support after the citizen's last placement on the
                # staircase: from entry (its weeks on benefit before entry are counted on
                # the staircase, whatever the benefit), then from the first benefit week
                # on the staircase after each restart (no benefit is both on it and
                # self-support, so a stretch places or counts, never both)
                placed = True
                job_btype = -1
                job_resid = 0.0
                job_h = 1.0
                spell_start = e
                run_start = -1  # the current unbroken run of self-support: [start, end)
                run_end = -1
                t = e
                t_abs = H
                while t < H:
                    ctx, ctx_end = 0, H
                    if arm == TREATMENT:
                        ctx, ctx_end = _context(prog, s, t, e, prog_end, completed, H)
                    btype, w, change = benefit_paid(
                        coh, led, g, state, dur, insured, moved, job_btype, job_resid
                    )
                    if state == PERMANENT or state == MOVED:
                        counter = record_weeks(
                            state_count, benefit_weeks, refusion_weeks, checks, s, arm, i,
                            state, t, H, btype, w, counter, e, check_off, led,
                        )  # fmt: skip
                        t_abs = t
                        break
                    p = 0
                    while p + 1 < P and lab.dur_edges[p + 1] <= dur:
                        p += 1
                    # the stretch ends with an event, where the benefit paid changes, or at
                    # the horizon; within it the hazards change with the duration piece, the
                    # programme context and the calendar, which are stepped through here
                    # (the unused part of the draw carried over), and the weeks are
                    # recorded once
                    lim = t + change if change < H - t else H
                    ctx_dep = arm == TREATMENT and prog.ctx_dep[s, state]
                    seg = t
                    while True:
                        nbk = _segment_end(
                            lab, s, state, p, dur + seg - t, seg, ctx_end if ctx_dep else lim, lim
                        )
                        total = _hazards(lab, coh, prog, s, g, z, state, p, ctx, seg, hh)
                        span = nbk - seg
                        event = total * span >= budget
                        if event:
                            t_end = seg + max(1, int(math.ceil(budget / total)))
                            break
                        budget -= total * span
                        t_end = nbk
                        if nbk >= lim:
                            break
                        seg = nbk
                        while p + 1 < P and lab.dur_edges[p + 1] <= dur + seg - t:
                            p += 1
                        if ctx_dep and seg >= ctx_end:
                            ctx, ctx_end = _context(prog, s, seg, e, prog_end, completed, H)
                    span = t_end - t
                    counter = record_weeks(
                        state_count, benefit_weeks, refusion_weeks, checks, s, arm, i, state,
                        t, t_end, btype, w, counter, e, check_off, led,
                    )  # fmt: skip
                    if state == EMPLOYED:
                        add_weeks(work_fte, s, arm, t, t_end, 0, job_h)
                    is_ss = (btype < 0 and (state == EMPLOYED or state == EDUCATION)) or (
                        btype >= 0 and led.self_support[btype]
                    )
                    if is_ss:
                        if run_end != t:
                            run_start = t
                        run_end = t_end
                    record_outcomes(
                        events, check_run, s, arm, i, t, t_end, state, is_ss, run_start,
                        spell_start, e, check_off, ss_windows,
                    )  # fmt: skip
                    if btype >= 0 and led.on_staircase[btype]:
                        placed = True
                    if is_ss and placed:
                        n_ss, ss_tot, restart = self_support(
                            ss_a, ss_b, n_ss, ss_tot, t, t_end, led.reset_window, led.reset_weeks
                        )
                        if restart:  # § 6: the count starts again with the next benefit week
                            counter = 0
                            placed = False
                    if not event:
                        dur += span
                        t = t_end
                        continue
                    lst, u = uniform(lst)
                    dest = _destination(hh, u * total)
                    if state == EMPLOYED:  # leaving a job: the finished spell's events
                        _sustained(events, s, arm, i, spell_start, t_end)
                        job_btype = -1
                        job_resid = 0.0
                        job_h = 1.0
                    if dest == EMPLOYED or dest == EDUCATION:
                        _entry_event(events, s, arm, i, dest, t_end, H)
                    fit = state == BENEFIT and _fit(dest) and events[s, arm, i, EV_FIT] < 0
                    if dest == EMPLOYED:
                        spell_start = t_end
                        hst, u = uniform(hst)
                        full = u < lab.full_time_share[s]
                        job_h = 1.0 if full else lab.part_hours[s]
                        if _out_of_work(state) and btype >= 0:
                            job_btype = btype
                            # what the benefit's earnings rule in force as the job
                            # starts leaves of it
                            rule = led.resid_rule[btype, min(t_end, H - 1)]
                            job_resid = led.resid[s, btype, rule, 0 if full else 1]
                        # a job that keeps part of the benefit does not end the course
                        fit = fit and job_resid == 0.0
                    if fit and t_end < H:  # declared fit for work: the benefit course ends
                        events[s, arm, i, EV_FIT] = t_end
                    state = dest
                    dur = 0
                    t = t_end
                    lst, u = uniform(lst)
                    budget = -math.log(u)
                if state == EMPLOYED:
                    _sustained(events, s, arm, i, spell_start, H)
                if arm == TREATMENT:
                    _programme_record(
                        programme_count, s, e, prog_end, completed, t_abs, prog.phase_end, H
                    )
        # difference arrays -> weekly counts, while this scenario's rows are in cache
        _prefix_weeks(state_count[s])
        _prefix_weeks(benefit_weeks[s])
        _prefix_weeks(refusion_weeks[s])
        _prefix_weeks(programme_count[s : s + 1])
        _prefix_weeks(work_fte[s])
