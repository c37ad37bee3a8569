"""numba kernels: arrays in, arrays out.

Nothing here knows about configs, dates or xarray. The simulation kernel is
event driven and exact for the weekly model of DESIGN.md:

* Every transition out of a labour state has a weekly hazard ``h`` (a weekly
  probability ``p`` enters as ``h = -log(1 - p)``). Within a stretch where the
  hazards are constant, the week of the next event is found from one
  exponential draw ``E``: the citizen leaves in the first week at which the
  integrated hazard passes ``E``. When the hazards change (a new duration
  piece, programme phase, fade block or calendar window), the unused part of
  ``E`` carries over (memorylessness), so a stretch boundary costs no draw.
  Only changes that touch the current state's hazards end a stretch (a fade
  block does not matter in education, nor the calendar in a job).
  The destination is drawn with probability proportional to its hazard.
* Weekly aggregates are written as difference arrays (+1 at the first week,
  -1 after the last); one prefix sum outside the kernel turns them into counts.
* Random numbers come from a counter-based generator (splitmix64) keyed by
  (seed, scenario, citizen, stream), so scenario ``k`` is the same in any run,
  for any thread count or chunk size. Both arms of a citizen read the same
  labour stream (common random numbers).

Axis order everywhere: scenario, arm, citizen/state/benefit, week.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# labour states (order of config.LABOUR_STATES)
BENEFIT, EMPLOYED, EDUCATION, PERMANENT, MOVED = 0, 1, 2, 3, 4
N_STATES = 5
# hazard-ratio kinds
HR_JOB_ENTRY, HR_EDUCATION_ENTRY, HR_JOB_LOSS = 0, 1, 2
# outcome events (order of config.OUTCOME_EVENTS)
EV_JOB, EV_EDUCATION, EV_SUST13, EV_SUST26, EV_SUST52 = 0, 1, 2, 3, 4
N_EVENTS = 5
SUSTAINED_WEEKS = (13, 26, 52)
# random streams per citizen
STREAM_CITIZEN, STREAM_LABOUR, STREAM_PROGRAMME = 0, 1, 2
STREAM_PARAMETERS = 7
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
def _mix64(z):
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
def _stream(key, scenario, citizen, stream):
    k = _mix64(np.uint64(key) ^ _mix64(np.uint64(scenario) * _GOLDEN + np.uint64(1)))
    k = _mix64(k ^ _mix64(np.uint64(citizen) * _M1 + np.uint64(stream)))
    return k


@nb.njit(inline="always", cache=True)
def _uniform(state):
    """Next uniform in (0, 1) and the new state."""
    state = state + _GOLDEN
    z = _mix64(state)
    return state, (float(z >> _S11) + 0.5) * _TWO53


@nb.njit(inline="always", cache=True)
def _gamma_mean1(state, variance):
    """Gamma variate with mean 1 and the given variance (Marsaglia-Tsang)."""
    if variance <= 0.0:
        return state, 1.0
    shape = 1.0 / variance
    boost = 1.0
    if shape < 1.0:
        state, u = _uniform(state)
        boost = u ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        state, u1 = _uniform(state)
        state, u2 = _uniform(state)
        x = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        state, u = _uniform(state)
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return state, d * v * boost * variance


@nb.njit(parallel=True, nogil=True, cache=True)
def uniform_table(key, scen0, n, d, stream):
    """Uniforms in (0, 1), shape (n, d): row i belongs to scenario ``scen0 + i``."""
    out = np.empty((n, d))
    for i in nb.prange(n):
        st = _stream(key, scen0 + i, 0, stream)
        for j in range(d):
            st, out[i, j] = _uniform(st)
    return out


@nb.njit(inline="always", cache=True)
def _add(arr, s, a, k, t0, t1, w):
    arr[s, a, k, t0] += w
    arr[s, a, k, t1] -= w


@nb.njit(inline="always", cache=True)
def _record(
    s,
    arm,
    state,
    t0,
    t1,
    btype,
    counter,
    occ,
    ben,
    ref,
    ref_start,
    ref_share,
    checks,
    entry,
    check_off,
    i,
):
    """Record weeks [t0, t1) spent in ``state``; returns the updated refusion counter."""
    if t1 <= t0:
        return counter
    _add(occ, s, arm, state, t0, t1, 1.0)
    for c in range(check_off.shape[0]):
        tc = entry + check_off[c]
        if t0 <= tc < t1:
            checks[s, arm, i, c] = state
    if btype >= 0:
        _add(ben, s, arm, btype, t0, t1, 1.0)
        # the refusion share by step of the staircase, the steps counted in benefit weeks
        n_steps = ref_start.shape[0]
        k = 0
        pos = t0
        while pos < t1:
            while k + 1 < n_steps and ref_start[k + 1] <= counter:
                k += 1
            length = t1 - pos
            if k + 1 < n_steps and ref_start[k + 1] - counter < length:
                length = ref_start[k + 1] - counter
            _add(ref, s, arm, btype, pos, pos + length, ref_share[s, btype, k])
            pos += length
            counter += length
    return counter


@nb.njit(parallel=True, nogil=True, cache=True, error_model="numpy")
def simulate_chunk(
    key,
    scen0,
    citizen0,
    do_treatment,
    entry_planned,
    uptake,
    delay,
    seg_cum,
    seg_weeks,
    seg_btype,
    seg_hr,
    frailty_var,
    dur_edges,
    haz,
    job_mult,
    cal_mult,
    cal_next,
    phase_end,
    drop_haz,
    hr,
    ctx_dep,
    piece_next,
    fade_block,
    n_fade,
    ref_start,
    ref_share,
    reset_weeks,
    perm_btype,
    check_off,
    occ,
    ben,
    ref,
    prog,
    events,
    checks,
    entry_out,
):
    """Simulate one chunk of scenarios, both arms of every citizen.

    Parameters (``ns`` scenarios in the chunk, ``N`` citizens, ``H`` weeks)
    ----------
    key : uint64, root key from :func:`seed_key`
    scen0 : int, global index of the chunk's first scenario
    citizen0 : int, index offset of the citizens (0 cohort, CONTROL_OFFSET control group)
    do_treatment : bool, simulate the treatment arm (False for a control group)
    entry_planned : int64 (N,), planned entry week of each citizen
    uptake : float64 (ns,), probability that a planned citizen enrols
    delay : int64 (ns,), weeks added to every entry week
    seg_cum : float64 (ns, G), cumulative segment shares (last = 1)
    seg_weeks : int64 (G,), weeks on benefit at entry per segment
    seg_btype : int64 (G,), benefit type index per segment
    seg_hr : float64 (ns, G), job-entry hazard ratio per segment
    frailty_var : float64 (ns,), variance of the gamma frailty (mean 1)
    dur_edges : int64 (P,), first week-in-state of each duration piece (dur_edges[0] = 0)
    haz : float64 (ns, 5, P, 5), weekly hazard from-state, piece, to-state
    job_mult : float64 (ns,), multiplier of the benefit -> employed hazard
    cal_mult : float64 (H,), calendar multiplier of the benefit -> employed hazard
    cal_next : int64 (H,), next week at which cal_mult changes (H if none)
    phase_end : int64 (K,), cumulative end week (since entry) of each phase
    drop_haz : float64 (ns, K), weekly dropout hazard per phase
    hr : float64 (ns, 1 + K + n_fade, 3), hazard ratios by programme context
        (0 none, 1..K phases, K+1.. fade blocks) for job entry, education entry, job loss
    ctx_dep : bool (ns, 5), whether a state's hazards depend on the programme context
    piece_next : int64 (ns, 5, P), for a state and duration piece, the next piece whose
        hazards differ (P if none)
    fade_block : int, length of a fade block after completion
    n_fade : int64 (ns,), number of fade blocks before the effect ends
    ref_start : int64 (S,), cumulative benefit weeks at which each refusion step starts
    ref_share : float64 (ns, B, S), state share per benefit type and step
    reset_weeks : int, weeks of self-support after which the refusion counter resets
    perm_btype : int, benefit type paid in ``permanent`` (-1: none)
    check_off : int64 (C,), weeks since entry at which each citizen's state is recorded
    occ : float64 (ns, 2, 5, H + 1), out: state counts per week (built as a difference
        array and summed at the end; every output is reset here, the caller need not clear
        it; the last week column is scratch)
    ben, ref : float64 (ns, 2, B, H + 1), out: benefit citizen-weeks, and the same
        weighted by the state's refusion share
    prog : float64 (ns, K + 2, H + 1), out: programme track (phases, completed, dropped)
    events : int32 (ns, 2, N, 5), out: week of each citizen's first outcome event or -1
    checks : int8 (ns, 2, N, C), out: state at the check weeks or -1
    entry_out : int32 (ns, N), out: entry week or -1 if not enrolled
    """
    ns = occ.shape[0]
    H = occ.shape[3] - 1
    N = entry_planned.shape[0]
    K = phase_end.shape[0]
    P = dur_edges.shape[0]
    G = seg_cum.shape[1]
    total_prog = phase_end[K - 1]
    n_arms = 2 if do_treatment else 1
    for s in nb.prange(ns):
        scen = scen0 + s
        # every output of this scenario starts empty (done here, in parallel, while the
        # thread's cache is about to use it)
        occ[s] = 0.0
        ben[s] = 0.0
        ref[s] = 0.0
        prog[s] = 0.0
        events[s] = -1
        checks[s] = -1
        hh = np.empty(N_STATES)
        for i in range(N):
            cit = citizen0 + i
            st = _stream(key, scen, cit, STREAM_CITIZEN)
            st, u = _uniform(st)
            e = entry_planned[i] + delay[s]
            if u >= uptake[s] or e >= H:
                entry_out[s, i] = -1
                continue
            entry_out[s, i] = e
            st, u = _uniform(st)
            g = 0
            while g < G - 1 and u >= seg_cum[s, g]:
                g += 1
            st, z = _gamma_mean1(st, frailty_var[s])
            ben_type = seg_btype[g]
            for arm in range(n_arms):
                # programme track (treatment arm): dropout week from one exponential draw
                prog_end = 0
                completed = False
                if arm == 1:
                    pst = _stream(key, scen, cit, STREAM_PROGRAMME)
                    pst, u = _uniform(pst)
                    ed = -math.log(u)
                    prog_end = total_prog
                    completed = True
                    start = 0
                    for k in range(K):
                        length = phase_end[k] - start
                        dh = drop_haz[s, k]
                        if dh * length >= ed:
                            prog_end = start + max(1, int(math.ceil(ed / dh)))
                            completed = False
                            break
                        ed -= dh * length
                        start = phase_end[k]
                lst = _stream(key, scen, cit, STREAM_LABOUR)
                lst, u = _uniform(lst)
                budget = -math.log(u)
                state = BENEFIT
                dur = seg_weeks[g]
                counter = seg_weeks[g]
                selfsup = 0
                spell_start = e
                t = e
                t_abs = H
                while t < H:
                    # programme context and when it next changes
                    ctx = 0
                    ctx_end = H
                    if arm == 1:
                        rel = t - e
                        if rel < prog_end:
                            k = 0
                            while phase_end[k] <= rel:
                                k += 1
                            ctx = 1 + k
                            ctx_end = e + min(phase_end[k], prog_end)
                        elif completed:
                            j = (rel - total_prog) // fade_block
                            if j < n_fade[s]:
                                ctx = 1 + K + j
                                ctx_end = e + total_prog + (j + 1) * fade_block
                    if ctx_end > H:
                        ctx_end = H
                    btype = (
                        ben_type if state == BENEFIT else (perm_btype if state == PERMANENT else -1)
                    )
                    if state == PERMANENT or state == MOVED:
                        counter = _record(
                            s,
                            arm,
                            state,
                            t,
                            H,
                            btype,
                            counter,
                            occ,
                            ben,
                            ref,
                            ref_start,
                            ref_share,
                            checks,
                            e,
                            check_off,
                            i,
                        )
                        t_abs = t
                        break
                    p = 0
                    while p + 1 < P and dur_edges[p + 1] <= dur:
                        p += 1
                    # the stretch ends where this state's hazards may change: the next
                    # duration piece with other hazards, the programme context (if the
                    # state's hazards depend on it), the calendar (benefit only)
                    nbk = ctx_end if ctx_dep[s, state] else H
                    q = piece_next[s, state, p]
                    if q < P and t + dur_edges[q] - dur < nbk:
                        nbk = t + dur_edges[q] - dur
                    if state == BENEFIT and cal_next[t] < nbk:
                        nbk = cal_next[t]
                    total = 0.0
                    for d in range(N_STATES):
                        h = haz[s, state, p, d]
                        if h > 0.0:
                            if state == BENEFIT and d == EMPLOYED:
                                h *= z * seg_hr[s, g] * job_mult[s] * cal_mult[t] * hr[s, ctx, 0]
                            elif state == BENEFIT and d == EDUCATION:
                                h *= z * hr[s, ctx, 1]
                            elif state == EMPLOYED and d == BENEFIT:
                                h *= hr[s, ctx, 2]
                        hh[d] = h
                        total += h
                    span = nbk - t
                    event = total * span >= budget
                    if event:
                        t_end = t + max(1, int(math.ceil(budget / total)))
                    else:
                        budget -= total * span
                        t_end = nbk
                    counter = _record(
                        s, arm, state, t, t_end, btype, counter, occ, ben, ref, ref_start,
                        ref_share, checks, e, check_off, i,
                    )  # fmt: skip
                    if state == EMPLOYED or state == EDUCATION:
                        selfsup += t_end - t
                    if not event:
                        dur += span
                        t = nbk
                        continue
                    t_ev = t_end
                    lst, u = _uniform(lst)
                    target = u * total
                    dest = 0
                    acc = hh[0]
                    while dest < N_STATES - 1 and (acc <= target or hh[dest] == 0.0):
                        dest += 1
                        acc += hh[dest]
                    # leaving a job: sustained-employment events of the finished spell
                    if state == EMPLOYED:
                        _sustained(events, s, arm, i, spell_start, t_ev)
                    if dest == EMPLOYED or dest == EDUCATION:
                        if state == BENEFIT or state == PERMANENT:
                            selfsup = 0
                        ev = EV_JOB if dest == EMPLOYED else EV_EDUCATION
                        if events[s, arm, i, ev] < 0 and t_ev < H:
                            events[s, arm, i, ev] = t_ev
                        if dest == EMPLOYED:
                            spell_start = t_ev
                    elif dest == BENEFIT:
                        if selfsup >= reset_weeks:
                            counter = 0
                        selfsup = 0
                    state = dest
                    dur = 0
                    t = t_ev
                    lst, u = _uniform(lst)
                    budget = -math.log(u)
                if state == EMPLOYED:
                    _sustained(events, s, arm, i, spell_start, H)
                if arm == 1:
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
                            prog[s, k, start] += 1.0
                            prog[s, k, stop] -= 1.0
                        start = max(start, stop)
                    if end < H:
                        slot = K if completed else K + 1
                        prog[s, slot, end] += 1.0
                        prog[s, slot, H] -= 1.0
        # difference arrays -> weekly counts, while this scenario's rows are in cache
        _prefix(occ[s])
        _prefix(ben[s])
        _prefix(ref[s])
        _prefix(prog[s])


@nb.njit(inline="always", cache=True)
def _prefix(a):
    """Running sum along the last axis of a 2-D or 3-D array, in place."""
    flat = a.reshape(-1, a.shape[-1])
    R, T = flat.shape
    r = 0
    while r + 4 <= R:  # four rows at a time: independent chains of additions
        a0 = a1 = a2 = a3 = 0.0
        for t in range(T):
            a0 += flat[r, t]
            a1 += flat[r + 1, t]
            a2 += flat[r + 2, t]
            a3 += flat[r + 3, t]
            flat[r, t] = a0
            flat[r + 1, t] = a1
            flat[r + 2, t] = a2
            flat[r + 3, t] = a3
        r += 4
    for row in range(r, R):
        acc = 0.0
        for t in range(T):
            acc += flat[row, t]
            flat[row, t] = acc


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


@nb.njit(parallel=True, nogil=True, cache=True)
def cap_return(drawdown, payment, weekly_cap_rate):
    """Cut payments so that the investor's return never exceeds the cap.

    The investor's balance grows at the capped weekly rate and by every drawdown;
    a payment is made only up to the balance outstanding.

    Parameters
    ----------
    drawdown : float64 (scenario, week), capital drawn (positive)
    payment : float64 (scenario, week), payments due to the investor
    weekly_cap_rate : float64 (scenario,), ``inf`` for no cap

    Returns
    -------
    float64 (scenario, week), the payments made
    """
    m, H = payment.shape
    out = np.empty_like(payment)
    for s in nb.prange(m):
        r = weekly_cap_rate[s]
        if not np.isfinite(r):
            out[s] = payment[s]
            continue
        bal = 0.0
        for t in range(H):
            bal = bal * (1.0 + r) + drawdown[s, t]
            p = payment[s, t]
            if p > bal:
                p = max(bal, 0.0)
            out[s, t] = p
            bal -= p
    return out


@nb.njit(parallel=True, nogil=True, cache=True)
def cap_cumulative(flow, cap):
    """Cut non-negative weekly flows (scenario, week) so that their running total
    never exceeds ``cap`` (scenario,)."""
    out = np.empty_like(flow)
    for s in nb.prange(flow.shape[0]):
        room = cap[s]
        for t in range(flow.shape[1]):
            p = flow[s, t]
            if p > room:
                p = max(room, 0.0)
            out[s, t] = p
            room -= p
    return out


@nb.njit(parallel=True, nogil=True, cache=True)
def rate_card_accrual(events, tariffs, per_citizen_cap, inside):
    """Weekly tariff accruals of a rate card, each citizen's total capped.

    Parameters
    ----------
    events : int32 (scenario, citizen, event), week of first event or -1
    tariffs : float64 (scenario, event)
    per_citizen_cap : float64 (scenario,)
    inside : bool (week,), weeks inside the mechanism's window

    Returns
    -------
    float64 (scenario, week), accrued amounts in the week of each event
    """
    m, n_cit, n_ev = events.shape
    H = inside.shape[0]
    out = np.zeros((m, H))
    for s in nb.prange(m):
        order = np.empty(n_ev, np.int64)
        for i in range(n_cit):
            # events in time order (insertion sort; ties keep event order)
            k = 0
            for e in range(n_ev):
                w = events[s, i, e]
                if w < 0 or not inside[w] or tariffs[s, e] == 0.0:
                    continue
                j = k
                while j > 0 and events[s, i, order[j - 1]] > w:
                    order[j] = order[j - 1]
                    j -= 1
                order[j] = e
                k += 1
            room = per_citizen_cap[s]
            for j in range(k):
                e = order[j]
                pay = min(tariffs[s, e], room)
                if pay <= 0.0:
                    break
                out[s, events[s, i, e]] += pay
                room -= pay
    return out


@nb.njit(nogil=True, cache=True)
def accumulate_rows(rows, total):
    """Add rows (scenario, week) to a running total in scenario order, so that the sum does
    not depend on how scenarios are split into chunks."""
    for s in range(rows.shape[0]):
        for t in range(rows.shape[1]):
            total[t] += rows[s, t]


@nb.njit(parallel=True, nogil=True, cache=True)
def accumulate_counts(counts, total, hist):
    """Add integer-valued weekly counts of a chunk to running sums and histograms.

    Parameters
    ----------
    counts : float64 (scenario, cell, week), e.g. cells = arm x state
    total : float64 (cell, week), running sum over scenarios (updated in place)
    hist : int64 (cell, week, value), running histogram (updated in place)
    """
    m, n_cells, H = counts.shape
    top = hist.shape[2] - 1
    for c in nb.prange(n_cells):
        for s in range(m):
            for t in range(H):
                x = counts[s, c, t]
                total[c, t] += x
                v = int(x + 0.5)
                if v > top:
                    v = top
                hist[c, t, v] += 1


@nb.njit(parallel=True, nogil=True, cache=True)
def weekly_cost(ben, ref, rates, out):
    """Cost per week by perspective from benefit weeks and their refusion weights.

    Parameters
    ----------
    ben, ref : float64 (scenario, arm, benefit, week)
    rates : float64 (scenario, benefit, week), DKK per citizen-week
    out : float64 (3, scenario, arm, week), written: municipality, state, public
    """
    m, n_arms, B, H = ben.shape
    for s in nb.prange(m):
        for a in range(n_arms):
            for t in range(H):
                gross = 0.0
                state = 0.0
                for b in range(B):
                    r = rates[s, b, t]
                    gross += ben[s, a, b, t] * r
                    state += ref[s, a, b, t] * r
                out[0, s, a, t] = gross - state
                out[1, s, a, t] = state
                out[2, s, a, t] = gross
