"""Slow, obvious reference implementations of the kernels, for equivalence tests.

The twin of :func:`simrisk.kernel.simulate_chunk` walks every citizen week by
week in plain Python (Python integers for the random generator), reading the
same random draws in the same order: in each week the citizen's remaining
exponential budget is compared with that week's total hazard. No event-driven
jumps, no difference arrays.
"""

from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
M3 = 0xD6E8FEB86659FD93
BENEFIT, EMPLOYED, EDUCATION, PERMANENT, MOVED = range(5)


def mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def seed_key(seed: int) -> int:
    return mix64(seed ^ M3)


def stream(key: int, scenario: int, citizen: int, which: int) -> int:
    k = mix64(key ^ mix64((scenario * GOLDEN + 1) & MASK))
    return mix64(k ^ mix64((citizen * M1 + which) & MASK))


class Rng:
    def __init__(self, state: int):
        self.state = state

    def uniform(self) -> float:
        self.state = (self.state + GOLDEN) & MASK
        return ((mix64(self.state) >> 11) + 0.5) / 2.0**53

    def gamma_mean1(self, variance: float) -> float:
        if variance <= 0:
            return 1.0
        shape = 1.0 / variance
        boost = 1.0
        if shape < 1.0:
            boost = self.uniform() ** (1.0 / shape)
            shape += 1.0
        d = shape - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            u1, u2 = self.uniform(), self.uniform()
            x = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
            v = 1.0 + c * x
            if v <= 0:
                continue
            v = v**3
            if math.log(self.uniform()) < 0.5 * x * x + d - d * v + d * math.log(v):
                return d * v * boost * variance


def simulate(key, scen0, citizen0, do_treatment, entry_planned, a, st, n_fade, H):
    """Week-by-week twin. ``a``: per-scenario arrays from ``model.scenario_arrays``;
    ``st``: the Structure. Returns the same quantities as the kernel (prefix-summed)."""
    ns = a["uptake"].shape[0]
    N = len(entry_planned)
    K = len(st.phase_end)
    B = a["rates"].shape[1]
    C = len(st.check_off)
    occ = np.zeros((ns, 2, 5, H))
    ben = np.zeros((ns, 2, B, H))
    ref = np.zeros((ns, 2, B, H))
    prog = np.zeros((ns, K + 2, H))
    events = np.full((ns, 2, N, 5), -1)
    checks = np.full((ns, 2, N, C), -1)
    entry = np.full((ns, N), -1)
    total_prog = int(st.phase_end[-1])
    for s in range(ns):
        scen = scen0 + s
        for i in range(N):
            cit = citizen0 + i
            rng = Rng(stream(key, scen, cit, 0))
            u = rng.uniform()
            e = int(entry_planned[i] + a["delay"][s])
            if u >= a["uptake"][s] or e >= H:
                continue
            entry[s, i] = e
            u = rng.uniform()
            g = 0
            while g < len(st.seg_weeks) - 1 and u >= a["seg_cum"][s, g]:
                g += 1
            z = rng.gamma_mean1(a["frailty_var"][s])
            for arm in range(2 if do_treatment else 1):
                prog_end, completed = 0, False
                if arm == 1:
                    pr = Rng(stream(key, scen, cit, 2))
                    budget = -math.log(pr.uniform())
                    prog_end, completed = total_prog, True
                    for w in range(total_prog):
                        k = int(np.searchsorted(st.phase_end, w, side="right"))
                        dh = a["drop_haz"][s, k]
                        if dh >= budget:
                            prog_end, completed = w + 1, False
                            break
                        budget -= dh
                lab = Rng(stream(key, scen, cit, 1))
                budget = -math.log(lab.uniform())
                state, dur, counter, selfsup = (
                    BENEFIT,
                    int(st.seg_weeks[g]),
                    int(st.seg_weeks[g]),
                    0,
                )
                run_employed = 0
                t_abs = H
                for t in range(e, H):
                    if state in (PERMANENT, MOVED) and t_abs == H:
                        t_abs = t
                    occ[s, arm, state, t] += 1
                    for c in range(C):
                        if t == e + st.check_off[c]:
                            checks[s, arm, i, c] = state
                    btype = (
                        int(st.seg_btype[g])
                        if state == BENEFIT
                        else (st.perm_btype if state == PERMANENT else -1)
                    )
                    if btype >= 0:
                        step = max(
                            k for k in range(len(st.ref_start)) if st.ref_start[k] <= counter
                        )
                        ben[s, arm, btype, t] += 1
                        ref[s, arm, btype, t] += a["ref_share"][s, btype, step]
                        counter += 1
                    if state == EMPLOYED:
                        run_employed += 1
                        for n_weeks, ev in ((13, 2), (26, 3), (52, 4)):
                            if run_employed == n_weeks and events[s, arm, i, ev] < 0:
                                events[s, arm, i, ev] = t
                    if state in (EMPLOYED, EDUCATION):
                        selfsup += 1
                    if state in (PERMANENT, MOVED):
                        continue
                    # programme context of this week
                    ctx, rel = 0, t - e
                    if arm == 1:
                        if rel < prog_end:
                            ctx = 1 + int(np.searchsorted(st.phase_end, rel, side="right"))
                        elif completed and (rel - total_prog) // st.fade_block < n_fade[s]:
                            ctx = 1 + K + (rel - total_prog) // st.fade_block
                    p = max(k for k in range(len(st.dur_edges)) if st.dur_edges[k] <= dur)
                    hh = []
                    for d in range(5):
                        h = a["haz"][s, state, p, d]
                        if h > 0 and state == BENEFIT and d == EMPLOYED:
                            h *= (
                                z
                                * a["seg_hr"][s, g]
                                * a["job_mult"][s]
                                * st.cal_mult[t]
                                * a["hr"][s, ctx, 0]
                            )
                        elif h > 0 and state == BENEFIT and d == EDUCATION:
                            h *= z * a["hr"][s, ctx, 1]
                        elif h > 0 and state == EMPLOYED and d == BENEFIT:
                            h *= a["hr"][s, ctx, 2]
                        hh.append(h)
                    total = sum(hh)
                    if total < budget:
                        budget -= total
                        dur += 1
                        continue
                    # an event at the end of week t
                    target = lab.uniform() * total
                    dest, acc = 0, hh[0]
                    while dest < 4 and (acc <= target or hh[dest] == 0.0):
                        dest += 1
                        acc += hh[dest]
                    if dest in (EMPLOYED, EDUCATION):
                        if state == BENEFIT:
                            selfsup = 0
                        ev = 0 if dest == EMPLOYED else 1
                        if events[s, arm, i, ev] < 0 and t + 1 < H:
                            events[s, arm, i, ev] = t + 1
                    elif dest == BENEFIT:
                        if selfsup >= st.reset_weeks:
                            counter = 0
                        selfsup = 0
                    if state == EMPLOYED:
                        run_employed = 0
                    state, dur = dest, 0
                    budget = -math.log(lab.uniform())
                if arm == 1:
                    end = e + prog_end
                    if t_abs < end:
                        end, completed = t_abs, False
                    end = min(end, H)
                    for t in range(e, end):
                        k = int(np.searchsorted(st.phase_end, t - e, side="right"))
                        prog[s, k, t] += 1
                    for t in range(end, H):
                        prog[s, K if completed else K + 1, t] += 1
    return {
        "occ": occ,
        "ben": ben,
        "ref": ref,
        "prog": prog,
        "events": events,
        "checks": checks,
        "entry": entry,
    }


def irr_bisect(flows: np.ndarray) -> float:
    """Annualised IRR of a conventional weekly cash flow by plain bisection."""
    weeks = np.arange(len(flows))

    def npv(r):
        return float(np.sum(flows / (1.0 + r) ** weeks))

    lo, hi = -0.5, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if npv(lo) * npv(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return (1.0 + 0.5 * (lo + hi)) ** (365.25 / 7.0) - 1.0
