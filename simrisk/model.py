"""From a validated deal to the arrays the kernel and the money functions take.

:class:`Structure` holds what is the same in every scenario (horizon, entry
weeks, piece edges, phase ends, benefit types). :func:`scenario_arrays` turns
the deal plus a table of drawn parameters into per-scenario arrays, vectorised
over the scenarios of a chunk: every numeric leaf is read through
:class:`Values`, which returns the drawn values where the leaf is uncertain and
the deal's own value otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simrisk import kernel
from simrisk.config import LABOUR_STATES, OUTCOME_EVENTS, DealConfig
from simrisk.rates import refusion_starts, settlement_periods, weekly_rates

MAX_HAZARD = 50.0  # hazard of a weekly probability of 1 (exp(-50) ~ 2e-22)
HR_KINDS = ("job_entry", "education_entry", "job_loss")
FADE_END = 0.01
"""After completion the excess hazard ratio shrinks by ``persistence`` per fade block; the
last block applied is the first whose remaining excess is below this fraction of its value
at completion, and the effect is over after it."""


@dataclass(frozen=True)
class Adjustment:
    """A change to one numeric leaf, applied after the parameters are drawn (so the
    draws, and with them the random streams, stay the same)."""

    path: tuple
    op: str  # "set", "scale", "add" or "excess" (scale the excess over 1)
    value: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        if self.op == "set":
            return np.full_like(x, self.value)
        if self.op == "scale":
            return x * self.value
        if self.op == "add":
            return x + self.value
        if self.op == "excess":
            return 1.0 + (x - 1.0) * self.value
        raise ValueError(f"unknown operation '{self.op}'")


def adjusted(
    dumped: dict, overrides: dict[tuple, np.ndarray], adjust: list[Adjustment], n: int
) -> dict[tuple, np.ndarray]:
    """Overrides with the adjustments applied in order."""
    out = dict(overrides)
    base = Values(dumped, {}, n)
    for a in adjust:
        current = out[a.path] if a.path in out else base(*a.path)
        out[a.path] = a.apply(np.asarray(current, dtype=float))
    return out


class Values:
    """Leaf values of a deal for ``n`` scenarios: drawn where uncertain, fixed elsewhere."""

    def __init__(self, dumped: dict, overrides: dict[tuple, np.ndarray], n: int):
        self.dumped = dumped
        self.overrides = overrides
        self.n = n

    def __call__(self, *path) -> np.ndarray:
        if path in self.overrides:
            # contiguous, like the fixed values: a column of a draw table is strided, and
            # numba would compile its kernels once more for every other layout
            return np.ascontiguousarray(self.overrides[path], dtype=float)
        node = self.dumped
        for part in path:
            node = node[part]
        return np.full(self.n, float(node))


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


@dataclass
class Structure:
    """Scenario-independent arrays of a deal."""

    horizon: int
    entry_planned: np.ndarray
    control_entry: np.ndarray | None
    benefit_types: list[str]
    seg_btype: np.ndarray
    seg_weeks: np.ndarray
    perm_btype: int
    dur_edges: np.ndarray
    phase_end: np.ndarray
    fade_block: int
    n_fade: int
    ref_start: np.ndarray
    reset_weeks: int
    cal_mult: np.ndarray
    cal_next: np.ndarray
    check_off: np.ndarray
    period: np.ndarray
    pay_week: np.ndarray
    dates: np.ndarray = field(repr=False)

    @property
    def n_phases(self) -> int:
        return int(self.phase_end.shape[0])


def build_structure(cfg: DealConfig, extra_checks: list[int] | None = None) -> Structure:
    """Scenario-independent arrays; ``extra_checks`` adds weeks since entry at which each
    citizen's state is recorded (for calibration targets)."""
    H = cfg.deal.horizon_weeks
    used = [s.benefit for s in cfg.cohort.segments]
    if cfg.economics.permanent_benefit:
        used.append(cfg.economics.permanent_benefit)
    btypes = list(dict.fromkeys(used))
    edges = sorted({w for t in cfg.labour.transitions for w in t.piece_starts})
    phase_end = np.cumsum([p.weeks for p in cfg.program.phases]).astype(np.int64)
    fade_block = cfg.effect.fade_block_weeks
    cal = np.ones(H)
    start = np.datetime64(cfg.deal.start_date, "D")
    dates = start + 7 * np.arange(H)
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
    checks = sorted(
        {m.at_week for m in cfg.contract.mechanisms if m.kind == "target"} | set(extra_checks or [])
    )
    period, pay_week = settlement_periods(cfg.deal.start_date, H, cfg.contract.settlement)
    control_entry = None
    if cfg.contract.measurement == "control_group":
        control_entry = planned_entries(cfg, cfg.contract.control_size)
    return Structure(
        horizon=H,
        entry_planned=planned_entries(cfg),
        control_entry=control_entry,
        benefit_types=btypes,
        seg_btype=np.array([btypes.index(s.benefit) for s in cfg.cohort.segments], np.int64),
        seg_weeks=np.array([s.weeks_on_benefit for s in cfg.cohort.segments], np.int64),
        perm_btype=btypes.index(cfg.economics.permanent_benefit)
        if cfg.economics.permanent_benefit
        else -1,
        dur_edges=np.asarray(edges, dtype=np.int64),
        phase_end=phase_end,
        fade_block=fade_block,
        n_fade=max(1, math.ceil(H / fade_block)),
        ref_start=refusion_starts([s.from_week for s in cfg.economics.refusion.steps]),
        reset_weeks=cfg.economics.refusion.reset_weeks,
        cal_mult=cal,
        cal_next=cal_next,
        check_off=np.asarray(checks, dtype=np.int64),
        period=period,
        pay_week=pay_week,
        dates=dates,
    )


def _hazard(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.minimum(-np.log1p(-np.minimum(p, 1.0)), MAX_HAZARD)


def scenario_arrays(cfg: DealConfig, st: Structure, v: Values) -> dict[str, np.ndarray]:
    """Per-scenario arrays for ``v.n`` scenarios (see :func:`kernel.simulate_chunk`)."""
    n = v.n
    H = st.horizon
    K = st.n_phases
    out: dict[str, np.ndarray] = {}
    out["uptake"] = v("cohort", "uptake")
    out["delay"] = np.rint(v("cohort", "enrolment", "delay_weeks")).astype(np.int64)
    out["frailty_var"] = v("cohort", "frailty_variance")
    shares = np.stack([v("cohort", "segments", g, "share") for g in range(len(st.seg_weeks))], 1)
    cum = np.cumsum(shares, axis=1)
    cum /= cum[:, -1:]
    out["seg_cum"] = cum
    out["seg_hr"] = np.stack(
        [v("cohort", "segments", g, "job_hazard_ratio") for g in range(len(st.seg_weeks))], 1
    )
    # labour hazards on the union of duration pieces
    P = len(st.dur_edges)
    haz = np.zeros((n, len(LABOUR_STATES), P, len(LABOUR_STATES)))
    for ti, tr in enumerate(cfg.labour.transitions):
        a = LABOUR_STATES.index(tr.from_state)
        b = LABOUR_STATES.index(tr.to)
        starts = tr.piece_starts
        single = tr.from_week is None and not isinstance(tr.probability, list)
        for q, edge in enumerate(st.dur_edges):
            k = max(i for i, s0 in enumerate(starts) if s0 <= edge)
            path = ("labour", "transitions", ti, "probability") + (() if single else (k,))
            haz[:, a, q, b] = _hazard(v(*path))
    out["haz"] = haz
    # where each state's hazard row next changes: stretches run through pieces with equal rows
    nxt = np.full((n, len(LABOUR_STATES), P), P, np.int64)
    for q in range(P - 2, -1, -1):
        same = (haz[:, :, q + 1, :] == haz[:, :, q, :]).all(axis=2)
        nxt[:, :, q] = np.where(same, nxt[:, :, q + 1], q + 1)
    out["piece_next"] = nxt
    out["job_mult"] = v("labour", "job_entry_multiplier")
    out["drop_haz"] = np.stack([_hazard(v("program", "phases", k, "dropout")) for k in range(K)], 1)
    # hazard ratios by programme context: none, phases, fade blocks
    hr = np.ones((n, 1 + K + st.n_fade, 3))
    pers = v("effect", "persistence")
    j = np.arange(1, st.n_fade + 1)
    for c, kind in enumerate(HR_KINDS):
        if getattr(cfg.effect, kind) is None:
            continue
        for k in range(K):
            hr[:, 1 + k, c] = v("effect", kind, k)
        excess = hr[:, K, c] - 1.0
        hr[:, 1 + K :, c] = 1.0 + excess[:, None] * pers[:, None] ** j[None, :]
    out["hr"] = hr
    # the fade ends once the excess is below FADE_END of its value at completion
    with np.errstate(divide="ignore", invalid="ignore"):
        blocks = np.ceil(np.log(FADE_END) / np.log(np.clip(pers, 1e-300, 1.0 - 1e-12)))
    out["n_fade"] = np.minimum(blocks, st.n_fade).astype(np.int64)
    hr[:, 1 + K :, :][j[None, :] > out["n_fade"][:, None]] = 1.0
    # which states' hazards depend on the programme context (the others skip its changes)
    moves = hr[:, 1:, :] != 1.0
    ctx_dep = np.zeros((n, len(LABOUR_STATES)), np.bool_)
    ctx_dep[:, LABOUR_STATES.index("benefit")] = moves[:, :, :2].any(axis=(1, 2))
    ctx_dep[:, LABOUR_STATES.index("employed")] = moves[:, :, 2].any(axis=1)
    out["ctx_dep"] = ctx_dep
    # refusion shares per benefit type and step
    S = len(st.ref_start)
    stair = np.stack([v("economics", "refusion", "steps", k, "state_share") for k in range(S)], 1)
    ref_share = np.empty((n, len(st.benefit_types), S))
    rates = np.empty((n, len(st.benefit_types), H))
    for b, name in enumerate(st.benefit_types):
        ben = cfg.economics.benefits[name]
        if ben.refusion == "staircase":
            ref_share[:, b, :] = stair
        else:
            ref_share[:, b, :] = v("economics", "benefits", name, "refusion")[:, None]
        vals = np.stack(
            [v("economics", "benefits", name, "rates", k, "value") for k in range(len(ben.rates))],
            1,
        )
        rates[:, b, :] = weekly_rates(
            vals,
            [r.valid_from for r in ben.rates],
            ben.unit,
            v("economics", "benefits", name, "indexation"),
            cfg.deal.start_date,
            H,
        )
    out["ref_share"] = ref_share
    out["rates"] = rates
    out["phase_cost"] = np.stack([v("program", "phases", k, "cost_per_week") for k in range(K)], 1)
    out["setup_cost"] = v("program", "setup_cost")
    out["capital"] = v("investor", "capital")
    out["discount_rate"] = v("investor", "discount_rate")
    out["return_cap"] = (
        v("investor", "return_cap") if cfg.investor.return_cap is not None else np.full(n, np.inf)
    )
    out["contract_cap"] = (
        v("contract", "cap") if cfg.contract.cap is not None else np.full(n, np.inf)
    )
    for m, mech in enumerate(cfg.contract.mechanisms):
        base = ("contract", "mechanisms", m)
        if mech.kind == "savings_share":
            out[f"m{m}_share"] = v(*base, "share")
        elif mech.kind == "rate_card":
            out[f"m{m}_tariffs"] = np.stack(
                [
                    v(*base, "tariffs", ev) if ev in mech.tariffs else np.zeros(n)
                    for ev in OUTCOME_EVENTS
                ],
                1,
            )
            out[f"m{m}_per_citizen_cap"] = (
                v(*base, "per_citizen_cap")
                if mech.per_citizen_cap is not None
                else np.full(n, np.inf)
            )
        else:
            out[f"m{m}_threshold"] = v(*base, "threshold")
            out[f"m{m}_full"] = v(*base, "full") if mech.full is not None else np.full(n, np.nan)
            out[f"m{m}_payment"] = v(*base, "payment")
        if mech.kind != "target":
            out[f"m{m}_cap"] = v(*base, "cap") if mech.cap is not None else np.full(n, np.inf)
    return out


def kernel_outputs(n: int, n_citizens: int, st: Structure, n_arms_out: int = 2) -> dict:
    """Zeroed output arrays for one kernel call."""
    H = st.horizon
    B = len(st.benefit_types)
    return {
        "occ": np.zeros((n, n_arms_out, len(LABOUR_STATES), H + 1)),
        "ben": np.zeros((n, n_arms_out, B, H + 1)),
        "ref": np.zeros((n, n_arms_out, B, H + 1)),
        "prog": np.zeros((n, st.n_phases + 2, H + 1)),
        "events": np.full((n, n_arms_out, n_citizens, kernel.N_EVENTS), -1, np.int32),
        "checks": np.full((n, n_arms_out, n_citizens, len(st.check_off)), -1, np.int8),
        "entry": np.full((n, n_citizens), -1, np.int32),
    }


class Workspace:
    """Kernel output buffers reused from chunk to chunk (no page faults, no re-allocation)."""

    def __init__(self, n: int, n_citizens: int, st: Structure):
        self.n = n
        self.bufs = kernel_outputs(n, n_citizens, st)

    def take(self, m: int) -> dict:
        if m > self.n:
            raise ValueError(f"workspace holds {self.n} scenarios, not {m}")
        # the kernel clears every scenario's outputs itself
        return {name: buf[:m] for name, buf in self.bufs.items()}


def simulate(
    key,
    scen0: int,
    st: Structure,
    arr: dict,
    entry_planned: np.ndarray,
    control: bool = False,
    workspace: Workspace | None = None,
) -> dict:
    """Run the kernel for one chunk; returns weekly counts.

    Returns a dict with ``occ`` (n, arm, state, week), ``ben``/``ref`` (n, arm, benefit,
    week), ``prog`` (n, phase+2, week), ``events``, ``checks`` and ``entry``. With a
    workspace the arrays are views into it, valid until its next use.
    """
    n = arr["uptake"].shape[0]
    if workspace is None:
        out = kernel_outputs(n, entry_planned.shape[0], st)
    else:
        out = workspace.take(n)
    kernel.simulate_chunk(
        key,
        scen0,
        kernel.CONTROL_OFFSET if control else 0,
        not control,
        entry_planned,
        arr["uptake"],
        arr["delay"],
        arr["seg_cum"],
        st.seg_weeks,
        st.seg_btype,
        arr["seg_hr"],
        arr["frailty_var"],
        st.dur_edges,
        arr["haz"],
        arr["job_mult"],
        st.cal_mult,
        st.cal_next,
        st.phase_end,
        arr["drop_haz"],
        arr["hr"],
        arr["ctx_dep"],
        arr["piece_next"],
        st.fade_block,
        arr["n_fade"],
        st.ref_start,
        arr["ref_share"],
        st.reset_weeks,
        st.perm_btype,
        st.check_off,
        out["occ"],
        out["ben"],
        out["ref"],
        out["prog"],
        out["events"],
        out["checks"],
        out["entry"],
    )
    for name in ("occ", "ben", "ref", "prog"):
        out[name] = out[name][..., :-1]  # the kernel has summed the difference arrays
    return out
