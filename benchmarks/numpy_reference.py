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
* every week each enrolled citizen has weekly hazards ``haz[state, piece, to]``
  (the duration piece from the weeks spent in the state; the weeks on benefit at
  entry count), the benefit -> employed hazard times frailty x segment hazard
  ratio x job multiplier x calendar multiplier x the programme's job-entry
  ratio, benefit -> education times frailty x the education ratio, employed ->
  benefit times the job-loss ratio; the programme context is the phase while in
  the programme, a fade block after completion (``n_fade`` blocks per
  scenario), none otherwise (and always none in the counterfactual arm);
* the citizen leaves the state with probability ``1 - exp(-total hazard)``, to a
  destination drawn in proportion to the hazards; ``permanent`` and ``moved``
  absorb;
* in the treatment arm the citizen drops out of the programme at the end of a
  programme week with probability ``1 - exp(-drop_haz[phase])``; programme
  occupancy ends at dropout, completion or absorption;
* the refusion counter counts benefit-paid weeks (benefit, and ``permanent``
  if it pays a benefit), starting at the segment's weeks on benefit; it resets to 0
  on a return to benefit after at least ``reset_weeks`` weeks of self-support
  (employed or in education).

Both arms share the citizen (entry, segment, frailty) and, as the engine does, use
common random numbers: the same weekly uniforms drive both arms' transitions.

Outputs per scenario: weekly state counts per arm, weekly municipal cost per arm
(benefit rate x (1 - state refusion share) summed over benefit-paid citizens),
weekly programme occupancy per phase and programme cost (occupancy x cost per
week, set-up cost in week 0), the number enrolled, and the number of
citizen-weeks simulated. The contract's payments (rate card, savings share,
targets), the investor's cash flows and the outcome events are NOT computed:
this reference stops at states, costs and programme cost.
"""

from __future__ import annotations

import numpy as np

from simrisk import ledger, simulation
from simrisk.sampling import Sampler, chunk_values

BENEFIT, EMPLOYED, EDUCATION, PERMANENT, MOVED = range(5)
N_STATES = 5


PER_SCENARIO = (
    "uptake delay seg_cum seg_hr frailty_var haz piece_next job_mult drop_haz hr ctx_dep "
    "n_fade ref_share"
).split()


def scenario_arrays(cfg, st: simulation.Structure, sampler: Sampler, scen0: int, n: int) -> dict:
    """Per-scenario arrays of scenarios ``[scen0, scen0 + n)``, drawn as engine.run draws
    them (so scenario ``k`` has the same parameters as in ``engine.run`` with that seed):
    the kernel's inputs and the ledger's rates and programme costs."""
    v = chunk_values(cfg, sampler, sampler.draw(scen0, n))
    kin = simulation.kernel_inputs(cfg, st, v)
    groups = {}
    for g in (kin.cohort, kin.labour, kin.programme, kin.ledger):
        groups.update(g._asdict())
    arr = {k: groups[k] for k in PER_SCENARIO}
    la = ledger.ledger_arrays(cfg, st, v)
    arr["rates"] = np.ascontiguousarray(la.rates.transpose(0, 2, 1))  # (scenario, benefit, week)
    arr["phase_cost"] = la.phase_cost
    arr["setup_cost"] = la.setup_cost
    return arr


def _slice(arr: dict, lo: int, hi: int) -> dict:
    return {
        k: (a[lo:hi] if isinstance(a, np.ndarray) and a.ndim >= 1 else a) for k, a in arr.items()
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
        cost : float64 (scenario, arm, week), municipal benefit cost (net of refusion)
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
        for k in ("states", "cost", "programme", "enrolled")
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

    # ---- citizens: entry, segment, frailty (shared by both arms)
    entry = st.entry_planned[None, :] + a["delay"][:, None]  # (S, N)
    enrolled = (rng.random((S, N)) < a["uptake"][:, None]) & (entry < H)
    u = rng.random((S, N))
    g = (u[:, :, None] >= a["seg_cum"][:, None, :-1]).sum(axis=2)  # segment index
    var = a["frailty_var"][:, None]
    safe = np.where(var > 0, var, 1.0)
    z = np.where(var > 0, rng.gamma(1.0 / safe, safe, size=(S, N)), 1.0)
    job_factor = z * a["seg_hr"][s1, g] * a["job_mult"][:, None]  # without calendar, programme
    btype = st.seg_btype[g]  # benefit type while on benefit (S, N)
    perm_pays = st.perm_btype >= 0
    # municipal share of the rate per benefit type and refusion step
    B, n_steps = a["ref_share"].shape[1:]
    net_share = (1.0 - a["ref_share"]).ravel()  # (S, B, step) flattened
    rates = a["rates"]  # (S, B, week)
    n_fade = a["n_fade"][:, None]
    # hazards and hazard ratios with the small axis first, for gathers by flat index
    P = st.dur_edges.shape[0]
    haz_to = np.ascontiguousarray(np.moveaxis(a["haz"], 3, 0)).reshape(N_STATES, -1)
    n_ctx = a["hr"].shape[1]
    hr_kind = np.ascontiguousarray(np.moveaxis(a["hr"], 2, 0)).reshape(3, -1)

    # ---- per-arm state, shape (arm, S, N)
    state = np.zeros((2, S, N), np.int64)  # BENEFIT
    dur = np.broadcast_to(st.seg_weeks[g], (2, S, N)).copy()
    counter = dur.copy()
    selfsup = np.zeros((2, S, N), np.int64)
    dropped = np.zeros((S, N), bool)  # treatment arm: left the programme by dropout
    bt_pay = np.broadcast_to(btype, (2, S, N))

    states = np.zeros((S, 2, N_STATES, H))
    cost = np.zeros((S, 2, H))
    prog = np.zeros((S, K, H))
    cell = (np.arange(2)[:, None, None] * S + s2) * N_STATES  # (2, S, 1): bincount cell base

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

        # ---- record this week: state counts, benefit cost, programme occupancy
        act2 = np.broadcast_to(active, (2, S, N))
        idx = (cell + state)[act2]
        states[:, :, :, t] = (
            np.bincount(idx, minlength=2 * S * N_STATES).reshape(2, S, N_STATES).transpose(1, 0, 2)
        )
        on_benefit = state == BENEFIT
        paying = act2 & (on_benefit | ((state == PERMANENT) & perm_pays))
        bt = np.where(on_benefit, bt_pay, max(st.perm_btype, 0))
        step = np.searchsorted(st.ref_start, counter, side="right") - 1
        row = s2 * B + bt  # (scenario, benefit type) as a flat index
        weekly = np.take(rates[:, :, t], row) * np.take(net_share, row * n_steps + step)
        cost[:, :, t] = np.where(paying, weekly, 0.0).sum(axis=2).T
        counter += paying
        selfsup += act2 & ((state == EMPLOYED) | (state == EDUCATION))
        absorbed = state[1] >= PERMANENT
        occupied = in_prog & ~absorbed
        for k in range(K):
            prog[:, k, t] = (occupied & (phase == k)).sum(axis=1)

        # ---- dropout at the end of a programme week
        p_drop = -np.expm1(-a["drop_haz"][s1, phase])
        dropped |= in_prog & (rng.random((S, N)) < p_drop)

        # ---- weekly hazards, destination first: h[to] of shape (arm, S, N)
        piece = np.searchsorted(st.dur_edges, dur, side="right") - 1
        h = np.take(haz_to, (s2 * N_STATES + state) * P + piece, axis=1)  # (to, arm, S, N)
        ratio = np.take(hr_kind, s2 * n_ctx + ctx, axis=1)  # (kind, arm, S, N)
        h[EMPLOYED] *= np.where(on_benefit, job_factor * st.cal_mult[t] * ratio[0], 1.0)
        h[EDUCATION] *= np.where(on_benefit, z * ratio[1], 1.0)
        h[BENEFIT] *= np.where(state == EMPLOYED, ratio[2], 1.0)
        total = h.sum(axis=0)

        # ---- transitions at the end of the week (common random numbers for both arms)
        leave = act2 & (rng.random((S, N)) < -np.expm1(-total))
        u_dest = np.broadcast_to(rng.random((S, N)), (2, S, N))
        if not leave.any():
            dur += act2
            continue
        hl = h[:, leave]  # (to, leaver): destination in proportion to the hazards
        dest = (np.cumsum(hl, axis=0) > u_dest[leave] * total[leave]).argmax(axis=0)
        back = dest == BENEFIT
        reset = back & (selfsup[leave] >= st.reset_weeks)
        counter[leave] = np.where(reset, 0, counter[leave])
        selfsup[leave] = np.where(back, 0, selfsup[leave])
        state[leave] = dest
        dur += act2
        dur[leave] = 0

    n_enrolled = enrolled.sum(axis=1)
    citizen_weeks = 2 * int(np.where(enrolled, H - entry, 0).sum())
    return {
        "states": states,
        "cost": cost,
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
