"""What a stretch of weeks records for the ledger, inside the kernel: the benefit paid in
a state, the weeks on it weighted by the central government's refusion share, and the
self-support record of the § 6 reset.

* The benefit paid: the segment's benefit path by weeks on benefit (each later stage
  reached by the share drawn at entry), the unemployed benefit by insurance (a-dagpenge
  for the dagpenge period, then kontanthjælp), the fixed benefit of education,
  førtidspension, løntilskud and fleksjob, and the reduced benefit kept in a part-time
  job.
* Refusion: each benefit week is weighted by the refund share of the staircase step at
  the citizen's count of weeks on benefit (one count across all benefits); a benefit off
  the staircase has a fixed share and does not move the count.
* § 6: the count restarts in the week in which the citizen has had ``need`` weeks of
  self-support in total within the last ``window`` weeks, counted after the last
  placement on the staircase: from entry, and after a restart from the next benefit
  week on the staircase (self-support before it counts towards nothing).

* Outcome records of a stretch: the first week off benefit (self-support), of
  self-support in a job, the week a run of self-support reaches each contract window,
  and at each check week the weeks so far of the job spell and of the run.

Weekly quantities are written as difference arrays (+w in the first week, -w after the
last); the kernel sums them along the week axis.
"""

from __future__ import annotations

import numba as nb

from simrisk.vocabulary import BENEFIT, EMPLOYED, EV_OFF, EV_WORK_SS, N_EVENTS, UNEMPLOYED

MAX_STAGES = 8
"""Stages of a segment's benefit path the kernel can hold (checked by the wrapper)."""
SS_CAPACITY = 160
"""Self-support spells a citizen's record holds: spells are separated by at least a week
without self-support, so a window of at most 312 weeks (the schema's bound) holds at most
157 of them."""
FAR = 1 << 40
"""A week number beyond any horizon."""


@nb.njit(inline="always", cache=True)
def add_weeks(arr, s, a, t0, t1, k, w):
    arr[s, a, t0, k] += w
    arr[s, a, t1, k] -= w


@nb.njit(inline="always", cache=True)
def record_weeks(
    sc, bw, rw, checks, s, arm, i, state, t0, t1, btype, w, counter, entry, check_off, led
):
    """Record weeks [t0, t1) spent in ``state`` on benefit ``btype`` (-1: none) at weight
    ``w`` (state counts ``sc``, benefit weeks ``bw``, refusion weeks ``rw``, ``checks``);
    returns the updated refusion count."""
    if t1 <= t0:
        return counter
    add_weeks(sc, s, arm, t0, t1, state, 1)
    for c in range(check_off.shape[0]):
        tc = entry + check_off[c]
        if t0 <= tc < t1:
            checks[s, arm, i, c] = state
    if btype < 0:
        return counter
    add_weeks(bw, s, arm, t0, t1, btype, w)
    n_steps = led.ref_start.shape[0]
    k = 0
    while k + 1 < n_steps and led.ref_start[k + 1] <= counter:
        k += 1
    if not led.on_staircase[btype]:  # a fixed share, and the count does not move
        add_weeks(rw, s, arm, t0, t1, btype, w * led.ref_share[s, btype, k])
        return counter
    # the refusion share by step of the staircase, the steps counted in benefit weeks
    pos = t0
    while pos < t1:
        while k + 1 < n_steps and led.ref_start[k + 1] <= counter:
            k += 1
        length = t1 - pos
        if k + 1 < n_steps and led.ref_start[k + 1] - counter < length:
            length = led.ref_start[k + 1] - counter
        add_weeks(rw, s, arm, pos, pos + length, btype, w * led.ref_share[s, btype, k])
        pos += length
        counter += length
    return counter


@nb.njit(inline="always", cache=True)
def window_total(ss_a, ss_b, n, t, window):
    """Weeks of self-support in the ``window`` weeks that end with week ``t``."""
    lo = t + 1 - window
    total = 0
    for j in range(n):
        a = max(ss_a[j], lo)
        b = min(ss_b[j], t + 1)
        if b > a:
            total += b - a
    return total


@nb.njit(inline="always", cache=True)
def self_support(ss_a, ss_b, n, tot, t0, t1, window, need):
    """Add self-support weeks [t0, t1) to a citizen's record (``n`` spells, ``tot`` weeks
    in all); return the new ``n`` and ``tot``, and whether the refusion count restarts
    within these weeks.

    The count restarts in the first week at which the self-support within the last
    ``window`` weeks reaches ``need`` weeks. The record is then empty: § 6 counts the
    self-support after the last placement on the staircase, so the weeks up to the next
    benefit week on the staircase do not count (the caller adds no weeks until then), and
    where a stretch is cut (a change of the benefit paid) changes nothing. The record's
    total bounds the weeks within any window, so below ``need`` no window is summed."""
    if n > 0 and ss_b[n - 1] == t0:
        ss_b[n - 1] = t1
    else:
        ss_a[n] = t0
        ss_b[n] = t1
        n += 1
    tot += t1 - t0
    if tot >= need and window_total(ss_a, ss_b, n, t1 - 1, window) >= need:
        return 0, 0, True
    # drop the spells that ended before the window ending with the last week (the
    # record is in time order, so they come first)
    lo = t1 - window
    drop = 0
    while drop < n and ss_b[drop] <= lo:
        tot -= ss_b[drop] - ss_a[drop]
        drop += 1
    if drop > 0:
        for j in range(drop, n):
            ss_a[j - drop] = ss_a[j]
            ss_b[j - drop] = ss_b[j]
        n -= drop
    return n, tot, False


@nb.njit(inline="always", cache=True)
def path_stage(coh, g, dur, moved):
    """The stage of the benefit path at ``dur`` weeks on benefit: the last stage reached
    that the citizen moved to."""
    j = 0
    for k in range(1, coh.n_stage[g]):
        if coh.path_after[g, k] <= dur and moved[k]:
            j = k
    return j


@nb.njit(inline="always", cache=True)
def benefit_paid(coh, led, g, state, dur, insured, moved, job_btype, job_resid):
    """Benefit type paid in ``state`` (-1: none), its weight, and the weeks (in the
    state's duration) until it next changes."""
    if state == BENEFIT:
        nxt = FAR
        for k in range(1, coh.n_stage[g]):
            if coh.path_after[g, k] > dur and moved[k] and coh.path_after[g, k] < nxt:
                nxt = coh.path_after[g, k]
        return coh.path_btype[g, path_stage(coh, g, dur, moved)], 1.0, nxt - dur
    if state == UNEMPLOYED:
        if insured and dur < coh.ins_weeks[g]:
            return coh.ins_btype[g], 1.0, coh.ins_weeks[g] - dur
        return coh.unins_btype[g], 1.0, FAR
    if state == EMPLOYED:  # a reduced benefit, for at most its weeks of the job spell
        if job_btype >= 0 and job_resid > 0.0 and dur < led.partial_weeks[job_btype]:
            return job_btype, job_resid, led.partial_weeks[job_btype] - dur
        return -1, 0.0, FAR
    return led.state_btype[state], 1.0, FAR


@nb.njit(inline="always", cache=True)
def record_outcomes(events, check_run, s, arm, i, t0, t1, state, is_ss, run_start, spell_start,
                    entry, check_off, ss_windows):  # fmt: skip
    """Outcome records of weeks [t0, t1) in ``state``: with self-support (``is_ss``, in a
    run that began in ``run_start``), the first week off benefit, of self-support in a job,
    and the week the run reaches each of ``ss_windows``; at each check week in the
    stretch the weeks so far of the job spell (begun in ``spell_start``) and of the run."""
    if is_ss:
        if events[s, arm, i, EV_OFF] < 0:
            events[s, arm, i, EV_OFF] = t0
        if state == EMPLOYED and events[s, arm, i, EV_WORK_SS] < 0:
            events[s, arm, i, EV_WORK_SS] = t0
        for k in range(ss_windows.shape[0]):
            reach = run_start + ss_windows[k] - 1
            if t0 <= reach < t1 and events[s, arm, i, N_EVENTS + k] < 0:
                events[s, arm, i, N_EVENTS + k] = reach
    if state == EMPLOYED or is_ss:
        for c in range(check_off.shape[0]):
            tc = entry + check_off[c]
            if t0 <= tc < t1:
                if state == EMPLOYED:
                    check_run[s, arm, i, c, 0] = tc - spell_start + 1
                if is_ss:
                    check_run[s, arm, i, c, 1] = tc - run_start + 1
