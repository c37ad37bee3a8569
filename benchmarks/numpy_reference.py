"""A plain numpy implementation of simrisk's weekly model, for benchmarking.

This is what a careful user would write without numba: every citizen of a batch
of scenarios is simulated at once (arrays of shape (arm, scenario, citizen)),
one numpy step per week, with numpy's ``Generator`` for the randomness. It
implements the SAME model as :func:`simrisk.simulation.kernel.simulate_chunk` (whose
week-by-week semantics are spelled out by ``tests/naive.py``), but not the same
random draws, so it agrees with the engine statistically, not draw for draw:

* a citizen is enrolled with probability ``uptake`` if the entry week
  ``entry_planned + delay`` is inside the horizon; segment by ``seg_cum``;
  gamma frailty with mean 1 and variance ``frailty_var`` (1 if the variance is 0);
  insured with probability ``insured_share``; for each later stage of the
  segment's benefit path, whether the citizen moves to it (``path_share``);
* every week each enrolled citizen has weekly hazards ``haz[state, piece, to]``
  (the duration piece from the weeks spent in the state; the weeks on benefit at
  entry count); out of work (benefit, unemployed) the hazard into a job is times
  frailty x segment hazard ratio x job multiplier x calendar multiplier x the
  programme's job-entry ratio, into education times frailty x the education
  ratio; a job's hazards back out of work are times the job-loss ratio; the
  programme context is the phase while in the programme, a fade block after
  completion (``n_fade`` blocks per scenario), none otherwise (and always none in
  the counterfactual arm);
* the citizen leaves the state with probability ``1 - exp(-total hazard)``, to a
  destination drawn in proportion to the hazards; ``permanent`` and ``moved``
  absorb; a new job is full-time with probability ``full_time_share``, else at
  ``part_hours``; started from a benefit it keeps that benefit's share ``resid``
  (full-time or part-time, under the earnings rule in force in the job's first week,
  ``resid_rule``) for the spell, at most the benefit's ``partial_weeks`` of it;
* the benefit of a week: on benefit, the last stage of the path reached (weeks in
  the state >= ``path_after``) that the citizen moves to; unemployed, the insured
  benefit for ``ins_weeks`` weeks if insured, else the uninsured one; in a job the
  kept benefit; in the other states their fixed benefit (``state_btype``);
* in the treatment arm the citizen drops out of the programme at the end of a
  programme week with probability ``1 - exp(-drop_haz[phase])``; programme
  occupancy ends at dropout, completion or absorption;
* the refusion counter counts the weeks on a benefit on the staircase, starting at
  the segment's weeks on benefit; the refusion share is the step the count has
  reached; the count restarts in the week in which the weeks of self-support (a
  job or education without a benefit, or a benefit that is self-support) within
  the last ``reset_window`` weeks reach ``reset_weeks`` (a ring buffer of the last
  ``reset_window`` weeks, cleared at a restart); after a restart the weeks of
  self-support count again from the next week on a benefit on the staircase.

Both arms share the citizen (entry, segment, frailty, insurance, path) and, as the
engine does, use common random numbers: the same weekly uniforms drive both arms'
transitions and the hours of their jobs.

Outputs per scenario: weekly state counts per arm, weekly municipal and
central-government cost per arm (as :mod:`simrisk.ledger`: gross less refusion,
times what the equalisation leaves the municipality, less each one's tax on the
full-time equivalents in work), weekly full-time equivalents in work, weekly
programme occupancy per phase and programme cost (occupancy x cost per week,
set-up cost in week 0), the number enrolled, and the number of citizen-weeks
simulated. The contract's payments (rate card, savings share, targets), the
investor's cash flows and the outcome events are NOT computed: this reference stops
at states, costs and programme cost.
"""

from __future__ import annotations

import numpy as np

from simrisk import ledger, simulation
from simrisk.sampling import Sampler, chunk_values
from simrisk.vocabulary import (
    BENEFIT,
    EDUCATION,
    EMPLOYED,
    MOVED,
    N_STATES,
    PERMANENT,
    UNEMPLOYED,
)

PER_SCENARIO = (
    "uptake delay seg_cum seg_hr frailty_var insured_share path_share haz job_mult "
    "full_time_share part_hours drop_haz hr n_fade ref_share resid"
).split()


def scenario_arrays(cfg, st: simulation.Structure, sampler: Sampler, scen0: int, n: int) -> dict:
    """Per-scenario arrays of scenarios ``[scen0, scen0 + n)``, drawn as engine.run draws
    them (so scenario ``k`` has the same parameters as in ``engine.run`` with that seed):
    the kernel's inputs and the ledger's rates, tax and programme costs."""
    v = chunk_values(cfg, sampler, sampler.draw(scen0, n))
    kin = simulation.kernel_inputs(cfg, st, v)
    groups = {}
    for g in (kin.cohort, kin.labour, kin.programme, kin.ledger):
        groups.update(g._asdict())
    arr = {k: groups[k] for k in PER_SCENARIO}
    la = ledger.ledger_arrays(cfg, st, v)
    # (scenario, benefit, week) and (scenario, week, municipal / central): a table that no
    # scenario varies has one row, spread to every scenario here
    rates = np.broadcast_to(la.rates, (n, *la.rates.shape[1:]))
    arr["rates"] = np.ascontiguousarray(rates.transpose(0, 2, 1))
    arr["tax"] = np.ascontiguousarray(np.broadcast_to(la.tax, (n, *la.tax.shape[1:])))
    arr["kept"] = la.kept
    arr["resid_rule"] = kin.ledger.resid_rule  # (benefit, week): the same in every scenario
    arr["phase_cost"] = la.phase_cost
    arr["setup_cost"] = la.setup_cost
    return arr


SHARED = {"resid_rule"}
"""Arrays of :func:`scenario_arrays` that are the same in every scenario."""


def _slice(arr: dict, lo: int, hi: int) -> dict:
    return {
        k: (a[lo:hi] if isinstance(a, np.ndarray) and a.ndim >= 1 and k not in SHARED else a)
        for k, a in arr.items()
    }


def simulate(
    st: simulation.Structure,
    arr: dict,
    rng: np.random.Generator,
    batch: int = 200,
) -> dict:
    """Simulate both arms of every scenario in ``arr``, ``batch`` scenarios at a time.

    Parameters
    ----------
    st : the deal's :class:`simrisk.simulation.Structure`
    arr : per-scenario arrays from :func:`scenario_arrays`
    rng : numpy Generator
    batch : scenarios simulated together (arrays of shape (2, batch, citizens))

    Returns
    -------
    dict with
        states : float64 (scenario, arm, state, week), arm 0 counterfactual, 1 treatment
        cost : float64 (scenario, arm, week), municipal cost (benefits net of refusion,
            after equalisation, less municipal tax)
        central : float64 (scenario, arm, week), the central government's cost
        fte : float64 (scenario, arm, week), full-time equivalents in ordinary jobs
        programme : float64 (scenario, phase, week), citizens in each programme phase
        programme_cost : float64 (scenario, week), set-up cost in week 0
        enrolled : int64 (scenario,)
        citizen_weeks : int, enrolled citizens x weeks from entry to the horizon x 2 arms
    """
    n = arr["uptake"].shape[0]
    H = st.horizon
    K = st.n_phases
    parts = [
        _simulate_batch(st, _slice(arr, lo, min(lo + batch, n)), rng) for lo in range(0, n, batch)
    ]
    out = {
        k: np.concatenate([p[k] for p in parts])
        for k in ("states", "cost", "central", "fte", "programme", "enrolled")
    }
    cost = np.einsum("skt,sk->st", out["programme"], arr["phase_cost"])
    cost[:, 0] += arr["setup_cost"]
    out["programme_cost"] = cost
    out["citizen_weeks"] = int(sum(p["citizen_weeks"] for p in parts))
    assert out["states"].shape == (n, 2, N_STATES, H) and out["programme"].shape == (n, K, H)
    return out


def _simulate_batch(st: simulation.Structure, a: dict, rng: np.random.Generator) -> dict:
    S = a["uptake"].shape[0]
    N = st.entry_planned.shape[0]
    H = st.horizon
    K = st.n_phases
    total_prog = int(st.phase_end[-1])
    phase_of_week = np.searchsorted(st.phase_end, np.arange(total_prog), side="right")
    s1 = np.arange(S)[:, None]  # (S, 1) scenario index for (S, N) gathers
    s2 = s1[None]  # (1, S, 1) for (arm, S, N) gathers

    # ---- citizens: entry, segment, frailty, insurance, benefit path (shared by both arms)
    entry = st.entry_planned[None, :] + a["delay"][:, None]  # (S, N)
    enrolled = (rng.random((S, N)) < a["uptake"][:, None]) & (entry < H)
    u = rng.random((S, N))
    g = (u[:, :, None] >= a["seg_cum"][:, None, :-1]).sum(axis=2)  # segment index
    var = a["frailty_var"][:, None]
    safe = np.where(var > 0, var, 1.0)
    z = np.where(var > 0, rng.gamma(1.0 / safe, safe, size=(S, N)), 1.0)
    job_factor = z * a["seg_hr"][s1, g] * a["job_mult"][:, None]  # without calendar, programme
    insured = rng.random((S, N)) < a["insured_share"][s1, g]
    M = st.path_after.shape[1]
    moves = rng.random((S, N, M)) < a["path_share"][s1, g]  # (S, N, stage); stage 0 unused
    after = st.path_after[g]  # (S, N, stage)
    path_btype = st.path_btype[g]
    n_stage = st.n_stage[g]
    stages = np.arange(M)
    ins_btype, ins_weeks, unins_btype = st.ins_btype[g], st.ins_weeks[g], st.unins_btype[g]
    # refusion share and kept shares per (scenario, benefit type), flat for gathers
    B, n_steps = a["ref_share"].shape[1:]
    ref_share = a["ref_share"].ravel()  # (S, B, step) flattened
    E = a["resid"].shape[2]  # earnings rules
    resid = a["resid"].reshape(S * B, E, 2)
    resid_rule = a["resid_rule"]
    rates = a["rates"]  # (S, B, week)
    on_staircase = np.r_[st.on_staircase, False]  # index -1: no benefit
    self_support = np.r_[st.self_support, False]
    n_fade = a["n_fade"][:, None]
    W, need = st.reset_window, st.reset_weeks
    # hazards and hazard ratios with the small axis first, for gathers by flat index
    P = st.dur_edges.shape[0]
    haz_to = np.ascontiguousarray(np.moveaxis(a["haz"], 3, 0)).reshape(N_STATES, -1)
    n_ctx = a["hr"].shape[1]
    hr_kind = np.ascontiguousarray(np.moveaxis(a["hr"], 2, 0)).reshape(3, -1)

    # ---- per-arm state, shape (arm, S, N)
    shape = (2, S, N)
    state = np.zeros(shape, np.int64)  # BENEFIT
    dur = np.broadcast_to(st.seg_weeks[g], shape).copy()
    counter = dur.copy()
    job_btype = np.full(shape, -1, np.int64)  # the benefit a job keeps (-1: none)
    job_resid = np.zeros(shape)
    job_h = np.ones(shape)
    ring = np.zeros((*shape, W), bool)  # self-support in each of the last W weeks
    support = np.zeros(shape, np.int64)  # weeks of self-support in the ring
    placed = np.ones(shape, bool)  # on the staircase since the count last started (§ 6)
    dropped = np.zeros((S, N), bool)  # treatment arm: left the programme by dropout

    states = np.zeros((S, 2, N_STATES, H))
    cost = np.zeros((S, 2, H))
    central = np.zeros((S, 2, H))
    fte = np.zeros((S, 2, H))
    prog = np.zeros((S, K, H))
    cell = (np.arange(2)[:, None, None] * S + s2) * N_STATES  # (2, S, 1): bincount cell base
    out_of_work_states = np.zeros(N_STATES, bool)
    out_of_work_states[[BENEFIT, UNEMPLOYED]] = True

    for t in range(H):
        active = enrolled & (entry <= t)  # (S, N)
        if not active.any():
            continue
        rel = t - entry
        # programme context of the treatment arm: 0 none, 1..K phase, K+1.. fade block
        live = active & ~dropped
        in_prog = live & (rel < total_prog)
        phase = phase_of_week[np.clip(rel, 0, total_prog - 1)]
        block = (rel - total_prog) // st.fade_block
        fading = live & (rel >= total_prog) & (block < n_fade)
        ctx_t = np.where(in_prog, 1 + phase, np.where(fading, 1 + K + block, 0))
        ctx = np.stack([np.zeros_like(ctx_t), ctx_t])  # (2, S, N)
        act2 = np.broadcast_to(active, shape)

        # ---- the benefit of this week and its weight
        reached = (after[None] <= dur[..., None]) & moves[None] & (stages < n_stage[..., None])
        stage = np.where(reached, stages, 0).max(axis=-1)  # the last stage reached and moved to
        path_b = np.take_along_axis(np.broadcast_to(path_btype, (*shape, M)), stage[..., None], -1)
        unemployed_b = np.where(insured & (dur < ins_weeks), ins_btype, unins_btype)
        # a job keeps a reduced benefit for at most the benefit's weeks of the spell
        kept = (job_btype >= 0) & (job_resid > 0)
        kept &= dur < st.partial_weeks[np.maximum(job_btype, 0)]
        btype = np.select(
            [state == BENEFIT, state == UNEMPLOYED, state == EMPLOYED],
            [path_b[..., 0], unemployed_b, np.where(kept, job_btype, -1)],
            st.state_btype[state],
        )
        btype = np.where(act2, btype, -1)
        w = np.where(state == EMPLOYED, job_resid, 1.0) * (btype >= 0)

        # ---- record this week: state counts, costs, work, programme occupancy
        idx = (cell + state)[act2]
        states[:, :, :, t] = (
            np.bincount(idx, minlength=2 * S * N_STATES).reshape(2, S, N_STATES).transpose(1, 0, 2)
        )
        bt = np.maximum(btype, 0)
        step = np.searchsorted(st.ref_start, counter, side="right") - 1
        row = s2 * B + bt  # (scenario, benefit type) as a flat index
        gross = w * np.take(rates[:, :, t], row)
        refund = gross * np.take(ref_share, row * n_steps + step)
        work = np.where(act2 & (state == EMPLOYED), job_h, 0.0)
        fte[:, :, t] = work.sum(axis=2).T
        tax_m, tax_c = a["tax"][:, t, 0], a["tax"][:, t, 1]
        cost[:, :, t] = ((gross - refund).sum(axis=2) * a["kept"] - fte[:, :, t].T * tax_m).T
        central[:, :, t] = (refund.sum(axis=2) - fte[:, :, t].T * tax_c).T
        counter += on_staircase[btype]
        placed |= on_staircase[btype]
        # § 6: self-support in the last W weeks since the last placement on the staircase;
        # the count restarts when it reaches `need`
        in_work = (state == EMPLOYED) | (state == EDUCATION)
        ss = act2 & placed & np.where(btype >= 0, self_support[btype], in_work)
        slot = t % W
        support += ss.astype(np.int64) - ring[..., slot]
        ring[..., slot] = ss
        restart = support >= need
        if restart.any():
            counter[restart] = 0
            support[restart] = 0
            ring[restart] = False
            placed[restart] = False
        absorbed = (state[1] == PERMANENT) | (state[1] == MOVED)
        occupied = in_prog & ~absorbed
        for k in range(K):
            prog[:, k, t] = (occupied & (phase == k)).sum(axis=1)

        # ---- dropout at the end of a programme week
        p_drop = -np.expm1(-a["drop_haz"][s1, phase])
        dropped |= in_prog & (rng.random((S, N)) < p_drop)

        # ---- weekly hazards, destination first: h[to] of shape (arm, S, N)
        out_of_work = out_of_work_states[state]
        piece = np.searchsorted(st.dur_edges, dur, side="right") - 1
        h = np.take(haz_to, (s2 * N_STATES + state) * P + piece, axis=1)  # (to, arm, S, N)
        ratio = np.take(hr_kind, s2 * n_ctx + ctx, axis=1)  # (kind, arm, S, N)
        h[EMPLOYED] *= np.where(out_of_work, job_factor * st.cal_mult[t] * ratio[0], 1.0)
        h[EDUCATION] *= np.where(out_of_work, z * ratio[1], 1.0)
        loss = np.where(state == EMPLOYED, ratio[2], 1.0)
        h[BENEFIT] *= loss
        h[UNEMPLOYED] *= loss
        total = h.sum(axis=0)

        # ---- transitions at the end of the week (common random numbers for both arms)
        leave = act2 & (rng.random((S, N)) < -np.expm1(-total))
        u_dest = np.broadcast_to(rng.random((S, N)), shape)
        u_hours = np.broadcast_to(rng.random((S, N)), shape)
        if not leave.any():
            dur += act2
            continue
        hl = h[:, leave]  # (to, leaver): destination in proportion to the hazards
        dest = (np.cumsum(hl, axis=0) > u_dest[leave] * total[leave]).argmax(axis=0)
        # a new job: its hours, and the share it keeps of the benefit it was started from
        sl = np.nonzero(leave)[1]  # the leavers' scenarios
        full = u_hours[leave] < a["full_time_share"][sl]
        new_job = dest == EMPLOYED
        from_benefit = new_job & out_of_work[leave] & (btype[leave] >= 0)
        flat = sl * B + np.maximum(btype[leave], 0)
        job_h[leave] = np.where(new_job, np.where(full, 1.0, a["part_hours"][sl]), 1.0)
        job_btype[leave] = np.where(from_benefit, btype[leave], -1)
        # the earnings rule in force in the job's first week (t + 1)
        rule = resid_rule[np.maximum(btype[leave], 0), min(t + 1, H - 1)]
        job_resid[leave] = np.where(from_benefit, resid[flat, rule, np.where(full, 0, 1)], 0.0)
        state[leave] = dest
        dur += act2
        dur[leave] = 0

    n_enrolled = enrolled.sum(axis=1)
    citizen_weeks = 2 * int(np.where(enrolled, H - entry, 0).sum())
    return {
        "states": states,
        "cost": cost,
        "central": central,
        "fte": fte,
        "programme": prog,
        "enrolled": n_enrolled,
        "citizen_weeks": citizen_weeks,
    }


def run(cfg, seed: int, n_scenarios: int, *, scen0: int = 0, batch: int = 200) -> dict:
    """Draw the parameters of scenarios ``[scen0, scen0 + n)`` as ``engine.run(cfg, seed, ...)``
    does, and simulate them with the numpy reference (randomness from
    ``np.random.default_rng(seed)``)."""
    st = simulation.build_structure(cfg)
    sampler = Sampler(cfg, seed, scen0 + n_scenarios)
    arr = scenario_arrays(cfg, st, sampler, scen0, n_scenarios)
    out = simulate(st, arr, np.random.default_rng(seed), batch=batch)
    out["structure"] = st
    out["arrays"] = arr
    out["sampler"] = sampler
    return out
