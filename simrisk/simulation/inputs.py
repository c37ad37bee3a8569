"""From a validated deal to the simulation kernel's inputs.

:class:`Structure` holds what is the same in every scenario (horizon, entry
weeks, duration pieces, phase ends, benefit types, check weeks, settlement
periods). :func:`kernel_inputs` turns the deal plus the leaf values of a chunk
(:class:`simrisk.sampling.Values`) into the kernel's grouped per-scenario
arrays, vectorised over the chunk's scenarios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simrisk import benefits
from simrisk.config import DealConfig
from simrisk.rates import refusion_starts, settlement_periods, week_dates
from simrisk.sampling import Values
from simrisk.simulation.groups import CohortIn, KernelOut, LabourIn, LedgerIn, ProgrammeIn
from simrisk.simulation.weeks import FAR, MAX_STAGES
from simrisk.vocabulary import (
    BENEFIT,
    EMPLOYED,
    HR_KINDS,
    LABOUR_STATES,
    N_EVENTS,
    N_STATES,
    UNEMPLOYED,
    WEEKS_PER_YEAR,
)

MAX_HAZARD = 50.0
"""Hazard of a weekly probability of 1 (exp(-50) ~ 2e-22)."""
FADE_END = 0.01
"""After completion the excess hazard ratio shrinks by ``persistence`` per fade block; the
last block applied is the first whose remaining excess is below this fraction of its value
at completion, and the effect is over after it."""


def planned_entries(cfg: DealConfig, size: int | None = None) -> np.ndarray:
    """Planned entry week of each citizen, int64 of shape (citizen,), sorted.

    ``size`` rescales the schedule (for a control group of another size).
    """
    enr = cfg.cohort.enrolment
    n = cfg.cohort.size if size is None else size
    if enr.schedule == "uniform":
        return (np.arange(n) * enr.weeks // n).astype(np.int64)
    counts = np.asarray(enr.counts, dtype=float)
    if size is not None:
        counts = np.diff(np.round(np.concatenate([[0.0], np.cumsum(counts)]) * n / counts.sum()))
    weeks = []
    for p, c in enumerate(counts.astype(int)):
        weeks.extend(p * enr.period_weeks + (np.arange(c) * enr.period_weeks) // max(c, 1))
    return np.asarray(weeks, dtype=np.int64)


def calendar_multipliers(cfg: DealConfig, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The calendar multiplier of job entry per week, and the next week it changes."""
    H = dates.shape[0]
    cal = np.ones(H)
    for shock in cfg.labour.calendar:
        inside = (dates >= np.datetime64(shock.start, "D")) & (
            dates < np.datetime64(shock.end, "D")
        )
        cal[inside] *= shock.job_entry_multiplier
    cal_next = np.full(H, H, dtype=np.int64)
    nxt = H
    for t in range(H - 1, -1, -1):
        cal_next[t] = nxt
        if t > 0 and cal[t] != cal[t - 1]:
            nxt = t
    return cal, cal_next


@dataclass
class Structure:
    """Scenario-independent arrays of a deal (see :mod:`simrisk.simulation.groups` for the
    kernel's shapes)."""

    horizon: int
    deal_weeks: int
    entry_planned: np.ndarray
    control_entry: np.ndarray | None
    benefit_types: list[str]
    seg_weeks: np.ndarray
    path_after: np.ndarray
    path_btype: np.ndarray
    n_stage: np.ndarray
    ins_btype: np.ndarray
    ins_weeks: np.ndarray
    unins_btype: np.ndarray
    state_btype: np.ndarray
    on_staircase: np.ndarray
    self_support: np.ndarray
    partial_weeks: np.ndarray
    dur_edges: np.ndarray
    phase_end: np.ndarray
    fade_block: int
    n_fade: int
    ref_start: np.ndarray
    reset_weeks: int
    reset_window: int
    cal_mult: np.ndarray
    cal_next: np.ndarray
    check_off: np.ndarray
    ss_windows: np.ndarray
    period: np.ndarray
    pay_week: np.ndarray
    dates: np.ndarray = field(repr=False)

    @property
    def n_phases(self) -> int:
        return int(self.phase_end.shape[0])


def simulated_weeks(cfg: DealConfig) -> int:
    """Weeks simulated: the deal's horizon and the settlement lag of its last payments, or
    the appraisal horizon if it is longer."""
    weeks = cfg.deal.horizon_weeks + cfg.contract.settlement_lag_weeks
    if cfg.economics.appraisal is not None:
        weeks = max(weeks, math.ceil(cfg.economics.appraisal.years * WEEKS_PER_YEAR))
    return weeks


CHUNK_CITIZEN_WEEKS = 1 << 27
"""The most citizen-weeks (both arms, cohort and control group) one kernel call
simulates, or one scenario where a scenario alone has more: every included deal's chunk
of 256 scenarios stays under it (Aarhus IPS+, the largest, about 80 M), while a very
large cohort's chunk is cut to fewer scenarios (to one for 100,000 citizens over 50
years, 520 M)."""


def chunk_cap(cfg: DealConfig) -> int:
    """The most scenarios in one chunk of ``cfg`` (:data:`CHUNK_CITIZEN_WEEKS`), at least
    one: a chunk of 100,000 citizens over 50 years is one scenario, about a second of
    work, so that an interruption (heard between chunks) ends the run soon and the
    chunk's buffers stay small. Like any chunk size, it never changes a number."""
    citizens = cfg.cohort.size + (cfg.contract.control_size or 0)
    return max(1, CHUNK_CITIZEN_WEEKS // (2 * citizens * (simulated_weeks(cfg) + 1)))


def _paths(cfg: DealConfig, btypes: list[str]) -> dict[str, np.ndarray]:
    """Each segment's benefit path and unemployed benefits as index arrays."""
    segs = cfg.cohort.segments
    G = len(segs)
    M = max(1 + len(s.path) for s in segs)
    if M > MAX_STAGES:
        raise ValueError(f"cohort.segments: a benefit path has at most {MAX_STAGES - 1} stages")
    after = np.full((G, M), 1 << 40, np.int64)
    btype = np.full((G, M), -1, np.int64)
    ins = np.full(G, -1, np.int64)
    unins = np.full(G, -1, np.int64)
    ins_weeks = np.zeros(G, np.int64)
    for g, seg in enumerate(segs):
        after[g, 0] = 0
        btype[g, 0] = btypes.index(seg.benefit)
        for k, stage in enumerate(seg.path, start=1):
            after[g, k] = stage.after_weeks
            btype[g, k] = btypes.index(stage.benefit)
        if seg.unemployed is not None:
            un = seg.unemployed
            ins[g] = btypes.index(un.insured) if un.insured else -1
            unins[g] = btypes.index(un.uninsured)
            ins_weeks[g] = un.insured_weeks
    return {
        "path_after": after,
        "path_btype": btype,
        "n_stage": np.array([1 + len(s.path) for s in segs], np.int64),
        "ins_btype": ins,
        "ins_weeks": ins_weeks,
        "unins_btype": unins,
    }


def build_structure(cfg: DealConfig, extra_checks: list[int] | None = None) -> Structure:
    """Scenario-independent arrays; ``extra_checks`` adds weeks since entry at which each
    citizen's state is recorded (for calibration targets). The simulation runs to the
    deal's horizon, or to the end of the appraisal horizon if that is later."""
    H = simulated_weeks(cfg)
    btypes = benefits.benefit_types(cfg)
    edges = sorted({w for t in cfg.labour.transitions for w in t.piece_starts})
    dates = week_dates(cfg.deal.start_date, H)
    cal, cal_next = calendar_multipliers(cfg, dates)
    checks = sorted(
        {m.at_week for m in cfg.contract.mechanisms if m.kind == "target"} | set(extra_checks or [])
    )
    # the contract settles over the deal's horizon; the weeks after it (the settlement lag,
    # an appraisal) are one more period, in which nothing accrues
    D = cfg.deal.horizon_weeks
    period, due = settlement_periods(cfg.deal.start_date, D, cfg.contract.settlement)
    pay_week = payment_weeks(cfg, due)
    if H > D:
        period = np.concatenate([period, np.full(H - D, due.shape[0], np.int64)])
        pay_week = np.append(pay_week, -1)
    control_entry = None
    if cfg.contract.measurement == "control_group":
        control_entry = planned_entries(cfg, cfg.contract.control_size)
    state_btype = np.full(N_STATES, -1, np.int64)
    for state, field_name in benefits.STATE_BENEFITS.items():
        name = getattr(cfg.economics, field_name)
        if name is not None:
            state_btype[LABOUR_STATES.index(state)] = btypes.index(name)
    ben = [cfg.economics.benefits[b] for b in btypes]
    ref = cfg.economics.refusion
    return Structure(
        horizon=H,
        deal_weeks=cfg.deal.horizon_weeks,
        entry_planned=planned_entries(cfg),
        control_entry=control_entry,
        benefit_types=btypes,
        seg_weeks=np.array([s.weeks_on_benefit for s in cfg.cohort.segments], np.int64),
        **_paths(cfg, btypes),
        state_btype=state_btype,
        on_staircase=np.array([b.on_staircase for b in ben], np.bool_),
        self_support=np.array([b.self_support for b in ben], np.bool_),
        partial_weeks=np.array(
            [FAR if b.partial_max_weeks is None else b.partial_max_weeks for b in ben], np.int64
        ),
        dur_edges=np.asarray(edges, dtype=np.int64),
        phase_end=np.cumsum([p.weeks for p in cfg.programme.phases]).astype(np.int64),
        fade_block=cfg.effect.fade_block_weeks,
        n_fade=max(1, math.ceil(H / cfg.effect.fade_block_weeks)),
        ref_start=refusion_starts([s.from_week for s in ref.steps]),
        reset_weeks=ref.reset_weeks,
        reset_window=ref.reset_window_weeks,
        cal_mult=cal,
        cal_next=cal_next,
        check_off=np.asarray(checks, dtype=np.int64),
        ss_windows=np.asarray(
            sorted(
                {
                    m.window_weeks
                    for m in cfg.contract.mechanisms
                    if m.kind == "target" and m.outcome == "self_supporting"
                }
            ),
            dtype=np.int64,
        ),
        period=period,
        pay_week=pay_week,
        dates=dates,
    )


def payment_weeks(cfg: DealConfig, due: np.ndarray) -> np.ndarray:
    """The week each settlement period is paid, int64 (period,): the week it falls due
    plus the settlement lag, not before the repayment window opens; -1 for a period due
    after the window has closed (never paid)."""
    paid = due + cfg.contract.settlement_lag_weeks
    window = cfg.contract.repayment_window
    if window is None:
        return paid
    paid = np.maximum(paid, window[0])
    return np.where(paid < window[1], paid, -1)


def hazard(p: np.ndarray) -> np.ndarray:
    """Weekly hazard of a weekly probability: ``-log(1 - p)``, at most MAX_HAZARD."""
    with np.errstate(divide="ignore"):
        return np.minimum(-np.log1p(-np.minimum(p, 1.0)), MAX_HAZARD)


@dataclass
class KernelIn:
    """The kernel's per-scenario inputs of a chunk, grouped as the kernel takes them."""

    cohort: CohortIn
    labour: LabourIn
    programme: ProgrammeIn
    ledger: LedgerIn

    @property
    def n(self) -> int:
        return int(self.cohort.uptake.shape[0])


def _cohort(cfg: DealConfig, st: Structure, v: Values, entry: np.ndarray) -> CohortIn:
    G = len(st.seg_weeks)
    seg = ("cohort", "segments")
    shares = np.stack([v(*seg, g, "share") for g in range(G)], 1)
    cum = np.cumsum(shares, axis=1)
    cum /= cum[:, -1:]
    M = st.path_after.shape[1]
    path_share = np.zeros((v.n, G, M))
    for g, sg in enumerate(cfg.cohort.segments):
        for k in range(len(sg.path)):
            path_share[:, g, k + 1] = v(*seg, g, "path", k, "share")
    return CohortIn(
        entry_planned=entry,
        uptake=v("cohort", "uptake"),
        delay=np.rint(v("cohort", "enrolment", "delay_weeks")).astype(np.int64),
        seg_cum=cum,
        seg_weeks=st.seg_weeks,
        seg_hr=np.stack([v(*seg, g, "job_hazard_ratio") for g in range(G)], 1),
        frailty_var=v("cohort", "frailty_variance"),
        path_after=st.path_after,
        path_btype=st.path_btype,
        path_share=path_share,
        n_stage=st.n_stage,
        insured_share=np.stack([v(*seg, g, "insured_share") for g in range(G)], 1),
        ins_btype=st.ins_btype,
        ins_weeks=st.ins_weeks,
        unins_btype=st.unins_btype,
        max_enrolled=max_enrolled(cfg, v),
        entry_end=np.full(v.n, st.deal_weeks, np.int64),
    )


UNLIMITED = np.iinfo(np.int64).max // 2
"""No limit on the citizens enrolled."""


def max_enrolled(cfg: DealConfig, v: Values) -> np.ndarray:
    """Citizens the programme can take per scenario, int64 (scenario,): with
    ``investor.overrun = "fewer_citizens"`` as many as the capital pays a full course
    for after the set-up (at the scenario's costs); otherwise no limit."""
    if cfg.investor.overrun != "fewer_citizens":
        return np.full(v.n, UNLIMITED, np.int64)
    course = sum(
        p.weeks * v("programme", "phases", k, "cost_per_week")
        for k, p in enumerate(cfg.programme.phases)
    )
    room = v("investor", "capital") - v("programme", "setup_cost")
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(course > 0, np.floor(np.maximum(room, 0.0) / course), UNLIMITED)
    return np.minimum(n, UNLIMITED).astype(np.int64)


def _labour(cfg: DealConfig, st: Structure, v: Values) -> LabourIn:
    """Labour hazards on the union of duration pieces, and where each state's hazard row
    next changes (segments run through pieces with equal rows)."""
    P = len(st.dur_edges)
    haz = np.zeros((v.n, N_STATES, P, N_STATES))
    loss = v("labour", "job_loss_multiplier")
    for ti, tr in enumerate(cfg.labour.transitions):
        a = LABOUR_STATES.index(tr.from_state)
        b = LABOUR_STATES.index(tr.to)
        starts = tr.piece_starts
        # job loss (into benefit or unemployment) is scaled by the job-loss multiplier
        scale = loss if a == EMPLOYED and b in (BENEFIT, UNEMPLOYED) else 1.0
        for q, edge in enumerate(st.dur_edges):
            k = max(i for i, s0 in enumerate(starts) if s0 <= edge)
            path = ("labour", "transitions", ti, "probability") + (() if tr.single else (k,))
            haz[:, a, q, b] = np.minimum(hazard(v(*path)) * scale, MAX_HAZARD)
    nxt = np.full((v.n, N_STATES, P), P, np.int64)
    for q in range(P - 2, -1, -1):
        same = (haz[:, :, q + 1, :] == haz[:, :, q, :]).all(axis=2)
        nxt[:, :, q] = np.where(same, nxt[:, :, q + 1], q + 1)
    return LabourIn(
        dur_edges=st.dur_edges,
        haz=haz,
        piece_next=nxt,
        job_mult=v("labour", "job_entry_multiplier"),
        cal_mult=st.cal_mult,
        cal_next=st.cal_next,
        full_time_share=v("labour", "hours", "full_time_share"),
        part_hours=v("labour", "hours", "part_time_hours"),
    )


def _programme(cfg: DealConfig, st: Structure, v: Values) -> ProgrammeIn:
    """Dropout hazards, and hazard ratios by programme context: none, phases, fade
    blocks; which states' hazards depend on the context (the others skip its changes)."""
    n, K = v.n, st.n_phases
    drop = np.stack([hazard(v("programme", "phases", k, "dropout")) for k in range(K)], 1)
    hr = np.ones((n, 1 + K + st.n_fade, len(HR_KINDS)))
    pers = v("effect", "persistence")
    j = np.arange(1, st.n_fade + 1)
    for c, kind in enumerate(HR_KINDS):
        if getattr(cfg.effect, kind) is None:
            continue
        for k in range(K):
            hr[:, 1 + k, c] = v("effect", kind, k)
        excess = hr[:, K, c] - 1.0
        hr[:, 1 + K :, c] = 1.0 + excess[:, None] * pers[:, None] ** j[None, :]
    # the fade ends once the excess is below FADE_END of its value at completion
    with np.errstate(divide="ignore", invalid="ignore"):
        blocks = np.ceil(np.log(FADE_END) / np.log(np.clip(pers, 1e-300, 1.0 - 1e-12)))
    n_fade = np.minimum(blocks, st.n_fade).astype(np.int64)
    hr[:, 1 + K :, :][j[None, :] > n_fade[:, None]] = 1.0
    moves = hr[:, 1:, :] != 1.0
    ctx_dep = np.zeros((n, N_STATES), np.bool_)
    ctx_dep[:, BENEFIT] = moves[:, :, :2].any(axis=(1, 2))
    ctx_dep[:, UNEMPLOYED] = ctx_dep[:, BENEFIT]
    ctx_dep[:, EMPLOYED] = moves[:, :, 2].any(axis=1)
    return ProgrammeIn(
        phase_end=st.phase_end,
        drop_haz=drop,
        hr=hr,
        ctx_dep=ctx_dep,
        fade_block=st.fade_block,
        n_fade=n_fade,
    )


def _ledger(cfg: DealConfig, st: Structure, v: Values) -> LedgerIn:
    """Refusion shares per benefit type and step of the staircase; what a job keeps."""
    S = len(st.ref_start)
    stair = np.stack([v("economics", "refusion", "steps", k, "state_share") for k in range(S)], 1)
    ref_share = np.empty((v.n, len(st.benefit_types), S))
    for b, name in enumerate(st.benefit_types):
        if cfg.economics.benefits[name].refusion == "staircase":
            ref_share[:, b, :] = stair
        else:
            ref_share[:, b, :] = v("economics", "benefits", name, "refusion")[:, None]
    resid, resid_rule = benefits.kept_shares(cfg, st.benefit_types, v, st.horizon)
    return LedgerIn(
        ref_start=st.ref_start,
        ref_share=ref_share,
        reset_weeks=st.reset_weeks,
        reset_window=st.reset_window,
        state_btype=st.state_btype,
        on_staircase=st.on_staircase,
        self_support=st.self_support,
        partial_weeks=st.partial_weeks,
        resid=resid,
        resid_rule=resid_rule,
    )


def kernel_inputs(
    cfg: DealConfig, st: Structure, v: Values, entry: np.ndarray | None = None
) -> KernelIn:
    """The kernel's inputs for the ``v.n`` scenarios of a chunk; ``entry`` replaces the
    planned entry weeks (a control group's, or everyone in week 0 for a baseline)."""
    entry = st.entry_planned if entry is None else entry
    return KernelIn(
        cohort=_cohort(cfg, st, v, entry),
        labour=_labour(cfg, st, v),
        programme=_programme(cfg, st, v),
        ledger=_ledger(cfg, st, v),
    )


def kernel_outputs(n: int, n_citizens: int, st: Structure) -> KernelOut:
    """Output arrays for one kernel call (the kernel clears them itself)."""
    H = st.horizon
    B = len(st.benefit_types)
    return KernelOut(
        state_count=np.zeros((n, 2, H + 1, N_STATES), np.int32),
        benefit_weeks=np.zeros((n, 2, H + 1, B)),
        refusion_weeks=np.zeros((n, 2, H + 1, B)),
        programme_count=np.zeros((n, H + 1, st.n_phases + 2), np.int32),
        work_fte=np.zeros((n, 2, H + 1, 1)),
        events=np.full((n, 2, n_citizens, N_EVENTS + len(st.ss_windows)), -1, np.int32),
        checks=np.full((n, 2, n_citizens, len(st.check_off)), -1, np.int8),
        check_run=np.zeros((n, 2, n_citizens, len(st.check_off), 2), np.int32),
        entry=np.full((n, n_citizens), -1, np.int32),
    )
