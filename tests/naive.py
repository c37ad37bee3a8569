"""Slow, obvious reference implementations, for equivalence tests.

:func:`simulate` is the twin of the whole simulation (``simulation.kernel_inputs``
followed by ``simulation.simulate``). It is built from the deal itself, not from the
kernel's prepared arrays: it reads a :class:`~simrisk.config.DealConfig` and the drawn
parameter values (``{path: values}``, as ``Sampler.overrides`` gives them) in plain
Python, derives every rule (hazards from weekly probabilities, duration pieces, hazard
ratios per phase and their fade, segments, frailty, dropout, the refusion staircase and
its reset, the calendar, the check weeks) on its own, and walks every citizen week by
week with the same random streams (a plain-Python splitmix64). No event-driven jumps,
no difference arrays, no prepared tables.

:func:`weekly_rates`, :func:`costs` and :func:`programme_cost` are the ledger's twins:
plain loops over the deal's dated rates and the simulated counts.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

MAX_HAZARD = 50.0
"""The model's hazard for a weekly probability of 1 (the cap of simulation/inputs.py)."""
FADE_END = 0.01
"""The effect's fade ends with the first block whose remaining excess is below this
fraction of the excess at completion (simulation/inputs.py)."""
WEEKS_PER_YEAR = 365.25 / 7.0
CONTROL_OFFSET = 1 << 24  # citizen index offset of a control group's streams

STATES = ("benefit", "employed", "education", "permanent", "moved")
BENEFIT, EMPLOYED, EDUCATION, PERMANENT, MOVED = range(5)
EV_JOB, EV_EDUCATION = 0, 1
SUSTAINED = ((13, 2), (26, 3), (52, 4))  # (weeks in one job spell, event index)
STREAM_CITIZEN, STREAM_LABOUR, STREAM_PROGRAMME = 0, 1, 2

# ------------------------------------------------------------------ random numbers
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
M3 = 0xD6E8FEB86659FD93


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
        """Marsaglia-Tsang, mean 1 and the given variance."""
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
            v = v * v * v
            if math.log(self.uniform()) < 0.5 * x * x + d - d * v + d * math.log(v):
                return d * v * boost * variance


# ------------------------------------------------------------------ the deal, read plainly
def hazard(p: float) -> float:
    """Weekly hazard of a weekly probability: -log(1 - p), at most MAX_HAZARD."""
    if p >= 1.0:
        return MAX_HAZARD
    return min(-math.log1p(-p), MAX_HAZARD)


class Leaves:
    """Numeric leaves of a deal in scenario ``s``: the drawn value where the path was
    drawn, the deal's own value otherwise."""

    def __init__(self, cfg, overrides: dict | None = None):
        self.tree = cfg.model_dump(by_alias=True)
        self.drawn = dict(overrides or {})

    def __call__(self, s: int, *path) -> float:
        if path in self.drawn:
            return float(self.drawn[path][s])
        node = self.tree
        for part in path:
            node = node[part]
        return float(node)


def benefit_types(cfg) -> list[str]:
    """Benefits in the order of first use: the segments', then the permanent one."""
    names = [seg.benefit for seg in cfg.cohort.segments]
    if cfg.economics.permanent_benefit:
        names.append(cfg.economics.permanent_benefit)
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
    return out


def planned_entries(cfg, size: int | None = None) -> list[int]:
    """Planned entry weeks: spread evenly over the window, or per period of the counts
    (a control group of another size gets the counts rescaled, cumulatively rounded)."""
    enr = cfg.cohort.enrolment
    n = cfg.cohort.size if size is None else size
    if enr.schedule == "uniform":
        return [i * enr.weeks // n for i in range(n)]
    counts = list(enr.counts)
    if size is not None:
        total, cum, prev, scaled = sum(counts), 0.0, 0.0, []
        for c in counts:
            cum += c
            now = float(round(cum * n / total))
            scaled.append(int(now - prev))
            prev = now
        counts = scaled
    weeks = []
    for p, c in enumerate(counts):
        weeks.extend(p * enr.period_weeks + (j * enr.period_weeks) // c for j in range(c))
    return weeks


def calendar(cfg) -> list[float]:
    """Job-entry multiplier of each week, by the date of the week's first day."""
    out = []
    for t in range(cfg.deal.horizon_weeks):
        day = cfg.deal.start_date + dt.timedelta(weeks=t)
        m = 1.0
        for shock in cfg.labour.calendar:
            if shock.start <= day < shock.end:
                m *= shock.job_entry_multiplier
        out.append(m)
    return out


def check_weeks(cfg, extra=()) -> list[int]:
    """Weeks since entry at which a citizen's state is recorded: the targets' weeks."""
    weeks = {m.at_week for m in cfg.contract.mechanisms if m.kind == "target"}
    return sorted(weeks | set(extra))


class Scenario:
    """Everything a citizen's walk needs in one scenario, read from the deal."""

    def __init__(self, cfg, v: Leaves, s: int):
        H = cfg.deal.horizon_weeks
        segs = cfg.cohort.segments
        self.uptake = v(s, "cohort", "uptake")
        self.delay = round(v(s, "cohort", "enrolment", "delay_weeks"))
        shares = [v(s, "cohort", "segments", g, "share") for g in range(len(segs))]
        cum, acc = [], 0.0
        for x in shares:
            acc += x
            cum.append(acc)
        self.seg_cum = [c / cum[-1] for c in cum]
        self.seg_hr = [v(s, "cohort", "segments", g, "job_hazard_ratio") for g in range(len(segs))]
        self.seg_weeks = [seg.weeks_on_benefit for seg in segs]
        self.seg_benefit = [seg.benefit for seg in segs]
        self.frailty = v(s, "cohort", "frailty_variance")
        self.job_mult = v(s, "labour", "job_entry_multiplier")
        # transitions: (from, to) -> [(first week in state, hazard), ...]
        self.pieces = {}
        for ti, tr in enumerate(cfg.labour.transitions):
            base = ("labour", "transitions", ti, "probability")
            probs = tr.probability if isinstance(tr.probability, list) else None
            starts = tr.from_week or [0]
            pieces = []
            for k, w0 in enumerate(starts):
                p = v(s, *base) if probs is None else v(s, *base, k)
                pieces.append((w0, hazard(p)))
            self.pieces[(STATES.index(tr.from_state), STATES.index(tr.to))] = pieces
        # programme
        phases = cfg.programme.phases
        self.phase_end, end = [], 0
        for ph in phases:
            end += ph.weeks
            self.phase_end.append(end)
        self.total = end
        self.drop = [hazard(v(s, "programme", "phases", k, "dropout")) for k in range(len(phases))]
        self.ratios = {}
        for kind in ("job_entry", "education_entry", "job_loss"):
            given = getattr(cfg.effect, kind)
            self.ratios[kind] = (
                None if given is None else [v(s, "effect", kind, k) for k in range(len(phases))]
            )
        self.persistence = v(s, "effect", "persistence")
        self.block = cfg.effect.fade_block_weeks
        most = max(1, -(-H // self.block))  # blocks that fit in the horizon
        self.n_fade = most
        for j in range(1, most + 1):
            if self.persistence**j < FADE_END:
                self.n_fade = j
                break
        # refusion
        ref = cfg.economics.refusion
        self.steps = [
            (st.from_week, v(s, "economics", "refusion", "steps", k, "state_share"))
            for k, st in enumerate(ref.steps)
        ]
        self.reset_weeks = ref.reset_weeks
        self.fixed_share = {}
        for name in benefit_types(cfg):
            rule = cfg.economics.benefits[name].refusion
            if rule != "staircase":
                self.fixed_share[name] = v(s, "economics", "benefits", name, "refusion")

    def phase(self, rel: int) -> int:
        """The programme phase of week ``rel`` since entry (rel < total)."""
        k = 0
        while self.phase_end[k] <= rel:
            k += 1
        return k

    def ratio(self, kind, treated, rel, prog_end, completed) -> float:
        """The programme's hazard ratio of ``kind`` in week ``rel`` since entry: the
        phase's while on the programme, fading by ``persistence`` per block after
        completion, 1 after a dropout, after the fade, and in the counterfactual."""
        r = self.ratios[kind]
        if not treated or r is None:
            return 1.0
        if rel < prog_end:
            return r[self.phase(rel)]
        if completed:
            j = (rel - self.total) // self.block + 1
            if j <= self.n_fade:
                return 1.0 + (r[-1] - 1.0) * self.persistence**j
        return 1.0

    def piece_hazard(self, a: int, b: int, dur: int) -> float:
        h = 0.0
        for w0, hz in self.pieces.get((a, b), []):
            if w0 <= dur:
                h = hz
        return h

    def refusion_share(self, benefit: str, nth: int) -> float:
        """The state's share of a citizen's ``nth`` benefit week (1-based)."""
        if benefit in self.fixed_share:
            return self.fixed_share[benefit]
        share = self.steps[0][1]
        for first, x in self.steps:
            if first <= nth:
                share = x
        return share


def simulate(
    cfg,
    overrides: dict | None,
    n: int,
    key: int,
    scen0: int,
    control: bool = False,
    entry: list[int] | None = None,
    extra_checks=(),
) -> dict:
    """Week-by-week twin of ``simulation.simulate``: the fields of ``KernelOut`` (weekly
    counts over the horizon), from the deal and the drawn values of ``n`` scenarios.

    ``control``: a control group (``contract.control_size`` citizens on their own
    streams, counterfactual arm only); ``entry`` replaces the planned entry weeks.
    """
    H = cfg.deal.horizon_weeks
    v = Leaves(cfg, overrides)
    btypes = benefit_types(cfg)
    perm = cfg.economics.permanent_benefit
    cal = calendar(cfg)
    checks_at = check_weeks(cfg, extra_checks)
    if entry is None:
        entry = planned_entries(cfg, cfg.contract.control_size if control else None)
    citizen0 = CONTROL_OFFSET if control else 0
    arms = (0,) if control else (0, 1)
    N, B, C = len(entry), len(btypes), len(checks_at)
    K = len(cfg.programme.phases)
    out = {
        "state_count": np.zeros((n, 2, H, 5)),
        "benefit_weeks": np.zeros((n, 2, H, B)),
        "refusion_weeks": np.zeros((n, 2, H, B)),
        "programme_count": np.zeros((n, H, K + 2)),
        "events": np.full((n, 2, N, 5), -1),
        "checks": np.full((n, 2, N, C), -1),
        "entry": np.full((n, N), -1),
    }
    for s in range(n):
        sc = Scenario(cfg, v, s)
        scen = scen0 + s
        for i in range(N):
            cit = citizen0 + i
            rng = Rng(stream(key, scen, cit, STREAM_CITIZEN))
            enrols = rng.uniform() < sc.uptake
            e = entry[i] + sc.delay
            if not enrols or e >= H:
                continue
            out["entry"][s, i] = e
            u = rng.uniform()
            g = 0
            while g < len(sc.seg_cum) - 1 and u >= sc.seg_cum[g]:
                g += 1
            z = rng.gamma_mean1(sc.frailty)
            for arm in arms:
                _walk(out, sc, s, i, arm, e, g, z, key, scen, cit, cal, checks_at, btypes, perm)
    return out


def _programme_end(sc: Scenario, key, scen, cit) -> tuple[int, bool]:
    """Weeks on the programme, and whether completed: the dropout budget (one
    exponential) is spent week by week at the phase's dropout hazard."""
    budget = -math.log(Rng(stream(key, scen, cit, STREAM_PROGRAMME)).uniform())
    for w in range(sc.total):
        dh = sc.drop[sc.phase(w)]
        if dh >= budget:
            return w + 1, False
        budget -= dh
    return sc.total, True


def _walk(out, sc, s, i, arm, e, g, z, key, scen, cit, cal, checks_at, btypes, perm):
    """One citizen, one arm, week by week from entry to the horizon."""
    H = len(cal)
    treated = arm == 1
    prog_end, completed = _programme_end(sc, key, scen, cit) if treated else (0, False)
    lab = Rng(stream(key, scen, cit, STREAM_LABOUR))
    budget = -math.log(lab.uniform())
    state = BENEFIT
    dur = sc.seg_weeks[g]  # weeks in the current state
    counted = sc.seg_weeks[g]  # benefit weeks counted by the refusion staircase
    selfsup = 0  # consecutive weeks employed or in education
    in_job = 0  # weeks in the current job spell
    absorbed = H
    events = out["events"]
    for t in range(e, H):
        if state in (PERMANENT, MOVED) and absorbed == H:
            absorbed = t
        out["state_count"][s, arm, t, state] += 1
        for c, w in enumerate(checks_at):
            if t == e + w:
                out["checks"][s, arm, i, c] = state
        benefit = sc.seg_benefit[g] if state == BENEFIT else (perm if state == PERMANENT else None)
        if benefit is not None:
            b = btypes.index(benefit)
            counted += 1
            out["benefit_weeks"][s, arm, t, b] += 1
            out["refusion_weeks"][s, arm, t, b] += sc.refusion_share(benefit, counted)
        if state == EMPLOYED:
            in_job += 1
            for weeks, ev in SUSTAINED:
                if in_job == weeks and events[s, arm, i, ev] < 0:
                    events[s, arm, i, ev] = t
        selfsup = selfsup + 1 if state in (EMPLOYED, EDUCATION) else 0
        if state in (PERMANENT, MOVED):
            continue
        rel = t - e
        hh = []
        for d in range(5):
            h = sc.piece_hazard(state, d, dur)
            if h > 0 and state == BENEFIT and d == EMPLOYED:
                hr = sc.ratio("job_entry", treated, rel, prog_end, completed)
                h *= z * sc.seg_hr[g] * sc.job_mult * cal[t] * hr
            elif h > 0 and state == BENEFIT and d == EDUCATION:
                h *= z * sc.ratio("education_entry", treated, rel, prog_end, completed)
            elif h > 0 and state == EMPLOYED and d == BENEFIT:
                h *= sc.ratio("job_loss", treated, rel, prog_end, completed)
            hh.append(h)
        total = sum(hh)
        if total < budget:
            budget -= total
            dur += 1
            continue
        # a transition at the end of week t, to a state drawn in proportion to its hazard
        target = lab.uniform() * total
        dest, acc = 0, hh[0]
        while dest < 4 and (acc <= target or hh[dest] == 0.0):
            dest += 1
            acc += hh[dest]
        if dest in (EMPLOYED, EDUCATION):
            ev = EV_JOB if dest == EMPLOYED else EV_EDUCATION
            if events[s, arm, i, ev] < 0 and t + 1 < H:
                events[s, arm, i, ev] = t + 1
        if dest == BENEFIT and selfsup >= sc.reset_weeks:
            counted = 0  # back on benefit after long enough self-support: count anew
        if state == EMPLOYED:
            in_job = 0
        state, dur = dest, 0
        budget = -math.log(lab.uniform())
    if treated:
        end = e + prog_end
        if absorbed < end:  # left for good during the programme: counts as dropped
            end, completed = absorbed, False
        end = min(end, H)
        pc = out["programme_count"]
        for t in range(e, end):
            pc[s, t, sc.phase(t - e)] += 1
        slot = len(sc.phase_end) + (0 if completed else 1)
        for t in range(end, H):
            pc[s, t, slot] += 1


# ------------------------------------------------------------------ the ledger
UNIT_WEEKS = {"week": 1.0, "month": 12.0 / WEEKS_PER_YEAR, "year": 1.0 / WEEKS_PER_YEAR}


def weekly_rates(cfg, overrides: dict | None, n: int) -> np.ndarray:
    """DKK per citizen-week, (scenario, week, benefit), benefits as :func:`benefit_types`.

    The point in force on the week's first day (the first point before it); after the
    last point indexed once per 1 January since, before the first point deflated once
    per 1 January back to it.
    """
    v = Leaves(cfg, overrides)
    H = cfg.deal.horizon_weeks
    names = benefit_types(cfg)
    out = np.zeros((n, H, len(names)))
    for s in range(n):
        for b, name in enumerate(names):
            ben = cfg.economics.benefits[name]
            pts = [r.valid_from for r in ben.rates]
            vals = [
                v(s, "economics", "benefits", name, "rates", k, "value") for k in range(len(pts))
            ]
            ix = v(s, "economics", "benefits", name, "indexation")
            for t in range(H):
                day = cfg.deal.start_date + dt.timedelta(weeks=t)
                k = 0
                for j, d0 in enumerate(pts):
                    if d0 <= day:
                        k = j
                steps = 0
                if day > pts[-1]:
                    steps = day.year - pts[-1].year
                elif day < pts[0]:
                    # 1 Januaries in (day, first point]
                    steps = -sum(
                        1
                        for y in range(day.year + 1, pts[0].year + 1)
                        if dt.date(y, 1, 1) <= pts[0]
                    )
                out[s, t, b] = vals[k] * (1.0 + ix) ** steps * UNIT_WEEKS[ben.unit]
    return out


def costs(benefit_weeks: np.ndarray, refusion_weeks: np.ndarray, rates: np.ndarray) -> dict:
    """Weekly cost by perspective: public = benefit weeks x rate, central government =
    refusion-weighted weeks x rate, municipality = the difference."""
    n, A, H, B = benefit_weeks.shape
    out = {k: np.zeros((n, A, H)) for k in ("municipality", "central_government", "public")}
    for s in range(n):
        for a in range(A):
            for t in range(H):
                gross = sum(benefit_weeks[s, a, t, b] * rates[s, t, b] for b in range(B))
                refund = sum(refusion_weeks[s, a, t, b] * rates[s, t, b] for b in range(B))
                out["public"][s, a, t] = gross
                out["central_government"][s, a, t] = refund
                out["municipality"][s, a, t] = gross - refund
    return out


def programme_cost(cfg, overrides: dict | None, programme_count: np.ndarray) -> np.ndarray:
    """(scenario, week): citizens in each phase x the phase's weekly cost, and the set-up
    cost in week 0."""
    v = Leaves(cfg, overrides)
    n, H, _ = programme_count.shape
    K = len(cfg.programme.phases)
    out = np.zeros((n, H))
    for s in range(n):
        for t in range(H):
            out[s, t] = sum(
                programme_count[s, t, k] * v(s, "programme", "phases", k, "cost_per_week")
                for k in range(K)
            )
        out[s, 0] += v(s, "programme", "setup_cost")
    return out
