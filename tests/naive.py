"""Slow, obvious reference implementations, for equivalence tests.

:func:`simulate` is the twin of the whole simulation (``simulation.kernel_inputs``
followed by ``simulation.simulate``). It is built from the deal itself, not from the
kernel's prepared arrays: it reads a :class:`~simrisk.config.DealConfig` and the drawn
parameter values (``{path: values}``, as ``Sampler.overrides`` gives them) in plain
Python, derives every rule on its own (hazards from weekly probabilities, duration
pieces, hazard ratios per phase and their fade, segments, frailty, dropout, the calendar,
the check weeks; each segment's benefit path by weeks on benefit in the spell, the
unemployed benefit by insurance and weeks, the fixed benefits of education,
førtidspension, løntilskud and fleksjob; hours of each job spell and the share of a
benefit a job keeps by the hours or earnings rule at the dated rates; the refusion
staircase, the benefits off it, and the § 6 reset after ``reset_weeks`` weeks of
self-support within the last ``reset_window_weeks``) and walks every citizen week by
week with the same random streams (a plain-Python splitmix64). No event-driven jumps,
no difference arrays, no prepared tables, nothing imported from simrisk.

:func:`weekly_rates`, :func:`wage_weekly`, :func:`tax_weekly`, :func:`costs` and
:func:`programme_cost` are the ledger's twins: plain loops over the deal's dated rates,
the regulation table, and the simulated counts.
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

STATES = (
    "benefit",
    "employed",
    "education",
    "permanent",
    "moved",
    "unemployed",
    "subsidised",
    "fleksjob",
)
BENEFIT, EMPLOYED, EDUCATION, PERMANENT, MOVED, UNEMPLOYED, SUBSIDISED, FLEKSJOB = range(8)
OUT_OF_WORK = (BENEFIT, UNEMPLOYED)  # a move into a job from here is a job entry
STATE_BENEFIT = {  # states with one fixed benefit, and the economics field naming it
    EDUCATION: "education_benefit",
    PERMANENT: "permanent_benefit",
    SUBSIDISED: "subsidised_benefit",
    FLEKSJOB: "fleksjob_benefit",
}
EV_JOB, EV_EDUCATION = 0, 1
SUSTAINED = ((13, 2), (26, 3), (52, 4))  # (weeks in one job spell, event index)
EV_FIT_NAIVE, EV_OFF_NAIVE, EV_WORK_SS_NAIVE = 5, 6, 7  # declared fit, off benefit, in work
N_OUTCOME_EVENTS = 8
STREAM_CITIZEN, STREAM_LABOUR, STREAM_PROGRAMME, STREAM_HOURS = 0, 1, 2, 3
UNIT_WEEKS = {"week": 1.0, "month": 12.0 / WEEKS_PER_YEAR, "year": 1.0 / WEEKS_PER_YEAR}
"""A rate per unit, as a rate per week."""

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


def horizon(cfg) -> int:
    """Weeks simulated: the deal's and its last payments' settlement lag, or the
    appraisal's years if they reach further."""
    weeks = cfg.deal.horizon_weeks + cfg.contract.settlement_lag_weeks
    if cfg.economics.appraisal is not None:
        weeks = max(weeks, math.ceil(cfg.economics.appraisal.years * WEEKS_PER_YEAR))
    return weeks


def benefit_types(cfg) -> list[str]:
    """Benefits in the order of first use: each segment's (its benefit, its path's, its
    unemployed insured and uninsured), then education's, førtidspension's, løntilskud's
    and fleksjob's."""
    names = []
    for seg in cfg.cohort.segments:
        names.append(seg.benefit)
        names.extend(stage.benefit for stage in seg.path)
        if seg.unemployed is not None:
            names.extend([seg.unemployed.insured, seg.unemployed.uninsured])
    for state in (EDUCATION, PERMANENT, SUBSIDISED, FLEKSJOB):
        names.append(getattr(cfg.economics, STATE_BENEFIT[state]))
    out: list[str] = []
    for name in names:
        if name is not None and name not in out:
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
    """Job-entry multiplier of each simulated week, by the date of the week's first day."""
    out = []
    for t in range(horizon(cfg)):
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


# ------------------------------------------------------------------ dated rates
def regulation(cfg, v: Leaves, s: int, year: int, name: str | None = None) -> float:
    """The regulation taking effect on 1 January of ``year``: a benefit's own flat
    indexation if it has one, else the shared table's rate for the year, else the
    table's assumed rate."""
    if name is not None and cfg.economics.benefits[name].indexation is not None:
        return v(s, "economics", "benefits", name, "indexation")
    for i, y in enumerate(cfg.economics.regulation.years):
        if y.year == year:
            return v(s, "economics", "regulation", "years", i, "rate")
    return v(s, "economics", "regulation", "assumed")


def regulated(cfg, v, s, amount: float, from_year: int, to_year: int, name=None) -> float:
    """``amount`` at ``from_year``'s level brought to ``to_year``'s: times (1 + r) for each
    1 January in between going forward, divided by it going back."""
    for y in range(from_year + 1, to_year + 1):
        amount *= 1.0 + regulation(cfg, v, s, y, name)
    for y in range(to_year + 1, from_year + 1):
        amount /= 1.0 + regulation(cfg, v, s, y, name)
    return amount


def rate_on(cfg, v: Leaves, s: int, name: str, day: dt.date) -> float:
    """A benefit's rate per week on ``day``: the last point dated on or before the day,
    regulated from its year to the day's; before the first point, the first point's rate
    regulated back to the day's year."""
    ben = cfg.economics.benefits[name]
    k = 0
    for j, r in enumerate(ben.rates):
        if r.valid_from <= day:
            k = j
    value = v(s, "economics", "benefits", name, "rates", k, "value")
    point = ben.rates[k].valid_from.year
    return regulated(cfg, v, s, value, point, day.year, name) * UNIT_WEEKS[ben.unit]


def earnings_rule(cfg, name: str, day: dt.date):
    """The earnings rule of benefit ``name`` in force on ``day`` (the last change dated
    on or before it, else the benefit's own rule): its index, the first day of the first
    week of the deal it is in force in, its ceiling, and the paths of its disregard, hourly
    disregard, deduction, ceiling share, limit and deduction above the limit."""
    ben = cfg.economics.benefits[name]
    base = ("economics", "benefits", name)
    start = cfg.deal.start_date
    k = -1
    for j, rule in enumerate(ben.earnings_changes):
        if rule.valid_from <= day:
            k = j
    if k < 0:
        own = (
            "earnings_disregard",
            "earnings_disregard_per_hour",
            "earnings_deduction",
            "earnings_ceiling_share",
            "earnings_limit",
            "earnings_deduction_above",
        )
        return 0, start, ben.earnings_ceiling, [(*base, f) for f in own]
    rule = ben.earnings_changes[k]
    first = start
    while first < rule.valid_from:  # the first week that starts on or after its date
        first += dt.timedelta(weeks=1)
    fields = (
        "disregard",
        "disregard_per_hour",
        "deduction",
        "ceiling_share",
        "limit",
        "deduction_above",
    )
    return k + 1, first, rule.ceiling, [(*base, "earnings_changes", k, f) for f in fields]


def kept_share(cfg, v: Leaves, s: int, name: str, full: bool, day: dt.date) -> float:
    """Share of benefit ``name`` kept in a job started from it on ``day``, full-time or
    part-time: ``hours``: the hours not worked; ``earnings``: under the earnings rule in
    force on that day, at the rates and the wage (regulated from the deal's start year)
    of the first week of the deal that rule is in force in, the monthly rate less the
    rule's deduction of the counted earnings (``hours x earnings_counted x full-time
    wage``) above its disregard (a month, plus the hourly disregard for the hours worked,
    37 a week, at most 160 a month) and below its limit, and its deduction above the
    limit of those above both, and no more than what brings benefit and counted
    earnings to the rule's ceiling share of the ceiling benefit's monthly rate; nothing
    without a wage, or in a full-time job where ``full_time_job_ends``; ``none``:
    nothing."""
    ben = cfg.economics.benefits[name]
    base = ("economics", "benefits", name)
    hours = 1.0 if full else v(s, "labour", "hours", "part_time_hours")
    if ben.partial == "hours":
        return 1.0 - hours
    if ben.partial != "earnings":
        return 0.0
    wage = v(s, "labour", "hours", "full_time_wage")
    if wage <= 0 or (full and ben.full_time_job_ends):
        return 0.0
    _, on, ceiling_name, paths = earnings_rule(cfg, name, day)
    disregard, per_hour, deduction, share, limit_path, above = paths
    monthly = rate_on(cfg, v, s, name, on) * WEEKS_PER_YEAR / 12.0
    wage = regulated(cfg, v, s, wage, cfg.deal.start_date.year, on.year)  # the wage then
    earned = hours * wage * v(s, *base, "earnings_counted")
    hours_month = min(hours * 37.0 * WEEKS_PER_YEAR / 12.0, 160.0)
    free = v(s, *disregard) + v(s, *per_hour) * hours_month
    node = v.tree
    for part in limit_path:
        node = node[part]
    if node is None:  # no limit: one share of everything above the disregard
        kept = monthly - v(s, *deduction) * max(earned - free, 0.0)
    else:
        limit = v(s, *limit_path)
        low = max(min(earned, limit) - free, 0.0)  # between the disregard and the limit
        high = earned - max(limit, free) if earned > max(limit, free) else 0.0
        kept = monthly - v(s, *deduction) * low - v(s, *above) * high
    if ceiling_name is not None:
        ceiling = rate_on(cfg, v, s, ceiling_name, on) * WEEKS_PER_YEAR / 12.0
        kept = min(kept, v(s, *share) * ceiling - earned)
    if monthly <= 0:
        return 0.0
    return min(max(kept / monthly, 0.0), 1.0)


class Scenario:
    """Everything a citizen's walk needs in one scenario, read from the deal."""

    def __init__(self, cfg, v: Leaves, s: int):
        self.cfg = cfg
        H = horizon(cfg)
        self.H = H
        segs = cfg.cohort.segments
        seg = ("cohort", "segments")
        self.uptake = v(s, "cohort", "uptake")
        # investor.overrun = "fewer_citizens": as many citizens as the capital pays a full
        # course for after the set-up
        self.max_enrolled = math.inf
        if cfg.investor.overrun == "fewer_citizens":
            course = sum(
                ph.weeks * v(s, "programme", "phases", k, "cost_per_week")
                for k, ph in enumerate(cfg.programme.phases)
            )
            room = max(v(s, "investor", "capital") - v(s, "programme", "setup_cost"), 0.0)
            if course > 0:
                self.max_enrolled = math.floor(room / course)
        self.delay = round(v(s, "cohort", "enrolment", "delay_weeks"))
        shares = [v(s, *seg, g, "share") for g in range(len(segs))]
        cum, acc = [], 0.0
        for x in shares:
            acc += x
            cum.append(acc)
        self.seg_cum = [c / cum[-1] for c in cum]
        self.seg_hr = [v(s, *seg, g, "job_hazard_ratio") for g in range(len(segs))]
        self.seg_weeks = [sg.weeks_on_benefit for sg in segs]
        self.insured_share = [v(s, *seg, g, "insured_share") for g in range(len(segs))]
        # benefit path: [(after weeks on benefit in the spell, benefit, share)], stage 0 first
        self.path = [
            [(0, sg.benefit, 1.0)]
            + [
                (st.after_weeks, st.benefit, v(s, *seg, g, "path", k, "share"))
                for k, st in enumerate(sg.path)
            ]
            for g, sg in enumerate(segs)
        ]
        self.unemployed = [sg.unemployed for sg in segs]
        self.state_benefit = {
            state: getattr(cfg.economics, field) for state, field in STATE_BENEFIT.items()
        }
        self.frailty = v(s, "cohort", "frailty_variance")
        self.job_mult = v(s, "labour", "job_entry_multiplier")
        self.full_time_share = v(s, "labour", "hours", "full_time_share")
        self.part_hours = v(s, "labour", "hours", "part_time_hours")
        # transitions: (from, to) -> [(first week in state, hazard), ...]
        self.pieces = {}
        for ti, tr in enumerate(cfg.labour.transitions):
            base = ("labour", "transitions", ti, "probability")
            probs = tr.probability if isinstance(tr.probability, list) else None
            starts = tr.from_week or [0]
            pieces = []
            # job loss (into benefit or unemployment) is scaled by the job-loss multiplier
            loss = tr.from_state == "employed" and tr.to in ("benefit", "unemployed")
            scale = v(s, "labour", "job_loss_multiplier") if loss else 1.0
            for k, w0 in enumerate(starts):
                p = v(s, *base) if probs is None else v(s, *base, k)
                pieces.append((w0, min(hazard(p) * scale, MAX_HAZARD)))
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
        self.reset_window = ref.reset_window_weeks
        self.fixed_share, self.on_staircase, self.self_support, self.kept = {}, {}, {}, {}
        for name in benefit_types(cfg):
            ben = cfg.economics.benefits[name]
            if ben.refusion != "staircase":
                self.fixed_share[name] = v(s, "economics", "benefits", name, "refusion")
            self.on_staircase[name] = ben.on_staircase
            self.self_support[name] = ben.self_support
            # the share a job keeps, by the day it starts (which earnings rule is in
            # force), computed when first asked for
            self._kept_args = (cfg, v, s)

    def kept_share(self, name: str, full: bool, week: int) -> float:
        """What a job started in ``week`` from benefit ``name`` keeps of it."""
        cfg, v, s = self._kept_args
        day = cfg.deal.start_date + dt.timedelta(weeks=min(week, self.H - 1))
        rule = (
            earnings_rule(cfg, name, day)[0]
            if cfg.economics.benefits[name].partial == "earnings"
            else 0
        )
        if (name, full, rule) not in self.kept:
            self.kept[(name, full, rule)] = kept_share(cfg, v, s, name, full, day)
        return self.kept[(name, full, rule)]

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
        """The state's share of a citizen's ``nth`` counted benefit week (1-based)."""
        if benefit in self.fixed_share:
            return self.fixed_share[benefit]
        share = self.steps[0][1]
        for first, x in self.steps:
            if first <= nth:
                share = x
        return share

    def paid(self, g, state, dur, insured, moved, job_kept) -> tuple[str | None, float]:
        """The benefit paid in a week in ``state`` after ``dur`` weeks in it, and its
        weight (a job's kept share)."""
        if state == BENEFIT:  # the last stage of the path reached and moved to
            benefit = self.path[g][0][1]
            for k, (after, name, _) in enumerate(self.path[g]):
                if k > 0 and after <= dur and moved[k]:
                    benefit = name
            return benefit, 1.0
        if state == UNEMPLOYED:
            un = self.unemployed[g]
            if insured and dur < un.insured_weeks:
                return un.insured, 1.0
            return un.uninsured, 1.0
        if state == EMPLOYED:  # a reduced benefit, for at most its weeks of the job spell
            if job_kept is None:
                return None, 0.0
            limit = self.cfg.economics.benefits[job_kept[0]].partial_max_weeks
            return job_kept if limit is None or dur < limit else (None, 0.0)
        if state in self.state_benefit and self.state_benefit[state] is not None:
            return self.state_benefit[state], 1.0
        return None, 0.0


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
    counts over the simulated horizon), from the deal and the drawn values of ``n``
    scenarios.

    ``control``: a control group (``contract.control_size`` citizens on their own
    streams, counterfactual arm only); ``entry`` replaces the planned entry weeks.
    """
    H = horizon(cfg)
    v = Leaves(cfg, overrides)
    btypes = benefit_types(cfg)
    cal = calendar(cfg)
    checks_at = check_weeks(cfg, extra_checks)
    windows = sorted(
        {m.window_weeks for m in cfg.contract.mechanisms
         if m.kind == "target" and m.outcome == "self_supporting"}
    )  # fmt: skip
    if entry is None:
        entry = planned_entries(cfg, cfg.contract.control_size if control else None)
    citizen0 = CONTROL_OFFSET if control else 0
    arms = (0,) if control else (0, 1)
    N, B, C = len(entry), len(btypes), len(checks_at)
    K = len(cfg.programme.phases)
    out = {
        "state_count": np.zeros((n, 2, H, len(STATES))),
        "benefit_weeks": np.zeros((n, 2, H, B)),
        "refusion_weeks": np.zeros((n, 2, H, B)),
        "programme_count": np.zeros((n, H, K + 2)),
        "work_fte": np.zeros((n, 2, H, 1)),
        "events": np.full((n, 2, N, N_OUTCOME_EVENTS + len(windows)), -1),
        "checks": np.full((n, 2, N, C), -1),
        "check_run": np.zeros((n, 2, N, C, 2), np.int64),
        "entry": np.full((n, N), -1),
    }
    for s in range(n):
        sc = Scenario(cfg, v, s)
        scen = scen0 + s
        taken = 0
        limit = math.inf if control else sc.max_enrolled  # a control group is not capped
        for i in range(N):
            cit = citizen0 + i
            rng = Rng(stream(key, scen, cit, STREAM_CITIZEN))
            enrols = rng.uniform() < sc.uptake
            e = entry[i] + sc.delay
            if not enrols or e >= cfg.deal.horizon_weeks or taken >= limit:  # enter in the deal
                continue
            taken += 1
            out["entry"][s, i] = e
            u = rng.uniform()
            g = 0
            while g < len(sc.seg_cum) - 1 and u >= sc.seg_cum[g]:
                g += 1
            z = rng.gamma_mean1(sc.frailty)
            # drawn once at entry, the same in both arms: insured or not, and for each
            # later stage of the benefit path whether the citizen moves to it
            insured = rng.uniform() < sc.insured_share[g]
            moved = [True] + [rng.uniform() < share for _, _, share in sc.path[g][1:]]
            citizen = (g, z, insured, moved)
            for arm in arms:
                _walk(out, sc, s, i, arm, e, citizen, key, scen, cit, cal, checks_at, btypes,
                      windows)  # fmt: skip
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


def _walk(out, sc, s, i, arm, e, citizen, key, scen, cit, cal, checks_at, btypes, windows):
    """One citizen, one arm, week by week from entry to the horizon; ``windows``: the
    runs of self-support (weeks) whose first completion is an event."""
    H = len(cal)
    g, z, insured, moved = citizen
    treated = arm == 1
    prog_end, completed = _programme_end(sc, key, scen, cit) if treated else (0, False)
    lab = Rng(stream(key, scen, cit, STREAM_LABOUR))
    hours = Rng(stream(key, scen, cit, STREAM_HOURS))  # one uniform per job spell
    budget = -math.log(lab.uniform())
    state = BENEFIT
    dur = sc.seg_weeks[g]  # weeks in the current state
    counted = sc.seg_weeks[g]  # benefit weeks counted by the refusion staircase
    support = []  # the weeks of self-support since the count last started
    placed = True  # a benefit week on the staircase since the count last started (§ 6)
    in_job = 0  # weeks in the current job spell
    run = 0  # weeks in the current unbroken run of self-support
    job_kept = None  # (benefit, share) a job keeps of the benefit it was started from
    job_hours = 1.0
    absorbed = H
    events = out["events"]
    for t in range(e, H):
        if state in (PERMANENT, MOVED) and absorbed == H:
            absorbed = t
        out["state_count"][s, arm, t, state] += 1
        for c, w in enumerate(checks_at):
            if t == e + w:
                out["checks"][s, arm, i, c] = state
        benefit, weight = sc.paid(g, state, dur, insured, moved, job_kept)
        if benefit is not None:
            b = btypes.index(benefit)
            out["benefit_weeks"][s, arm, t, b] += weight
            if sc.on_staircase[benefit]:
                counted += 1
                placed = True
                share = sc.refusion_share(benefit, counted)
            else:  # not counted: at the step the count has reached
                share = sc.refusion_share(benefit, counted + 1)
            out["refusion_weeks"][s, arm, t, b] += weight * share
        if state == EMPLOYED:
            out["work_fte"][s, arm, t, 0] += job_hours
            in_job += 1
            for weeks, ev in SUSTAINED:
                if in_job == weeks and events[s, arm, i, ev] < 0:
                    events[s, arm, i, ev] = t
        # § 6: self-support is a job or education without a benefit, or a benefit that is
        # self-support (SU); the count starts again at the reset_weeks-th such week within
        # the last reset_window weeks, the weeks counted from the last placement on the
        # staircase (entry, or the first benefit week on it after a restart)
        if benefit is None:
            self_supporting = state in (EMPLOYED, EDUCATION)
        else:
            self_supporting = sc.self_support[benefit]
        # outcome records: the run of self-support, its first weeks, the windows it
        # reaches; at a check week the weeks so far of the job spell and of the run
        run = run + 1 if self_supporting else 0
        if self_supporting:
            if events[s, arm, i, EV_OFF_NAIVE] < 0:
                events[s, arm, i, EV_OFF_NAIVE] = t
            if state == EMPLOYED and events[s, arm, i, EV_WORK_SS_NAIVE] < 0:
                events[s, arm, i, EV_WORK_SS_NAIVE] = t
            for k, weeks in enumerate(windows):
                if run == weeks and events[s, arm, i, N_OUTCOME_EVENTS + k] < 0:
                    events[s, arm, i, N_OUTCOME_EVENTS + k] = t
        for c, w in enumerate(checks_at):
            if t == e + w:
                out["check_run"][s, arm, i, c] = (in_job if state == EMPLOYED else 0, run)
        if self_supporting and placed:
            support.append(t)
            if sum(1 for w in support if w > t - sc.reset_window) >= sc.reset_weeks:
                counted = 0
                support = []
                placed = False
        if state in (PERMANENT, MOVED):
            continue
        rel = t - e
        hh = []
        for d in range(len(STATES)):
            h = sc.piece_hazard(state, d, dur)
            if h > 0 and state in OUT_OF_WORK and d == EMPLOYED:
                hr = sc.ratio("job_entry", treated, rel, prog_end, completed)
                h *= z * sc.seg_hr[g] * sc.job_mult * cal[t] * hr
            elif h > 0 and state in OUT_OF_WORK and d == EDUCATION:
                h *= z * sc.ratio("education_entry", treated, rel, prog_end, completed)
            elif h > 0 and state == EMPLOYED and d in OUT_OF_WORK:
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
        while dest < len(STATES) - 1 and (acc <= target or hh[dest] == 0.0):
            dest += 1
            acc += hh[dest]
        if dest in (EMPLOYED, EDUCATION):
            ev = EV_JOB if dest == EMPLOYED else EV_EDUCATION
            if events[s, arm, i, ev] < 0 and t + 1 < H:
                events[s, arm, i, ev] = t + 1
        if state == EMPLOYED:
            in_job, job_kept, job_hours = 0, None, 1.0
        if dest == EMPLOYED:  # a new job spell: its hours, and what it keeps of a benefit
            full = hours.uniform() < sc.full_time_share
            job_hours = 1.0 if full else sc.part_hours
            if state in OUT_OF_WORK and benefit is not None:
                share = sc.kept_share(benefit, full, t + 1)
                job_kept = (benefit, share) if share > 0 else None
        # declared fit for work: the benefit course ends for a job that keeps none of the
        # benefit, education, unemployment benefit or løntilskud (not førtidspension,
        # fleksjob, moving; not a job that keeps part of the benefit)
        if state == BENEFIT and dest in (EMPLOYED, EDUCATION, UNEMPLOYED, SUBSIDISED):
            ended = dest != EMPLOYED or job_kept is None
            if ended and events[s, arm, i, EV_FIT_NAIVE] < 0 and t + 1 < H:
                events[s, arm, i, EV_FIT_NAIVE] = t + 1
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
def weekly_rates(cfg, overrides: dict | None, n: int) -> np.ndarray:
    """DKK per citizen-week, (scenario, week, benefit), benefits as :func:`benefit_types`,
    each week at the rate in force on its first day (:func:`rate_on`)."""
    v = Leaves(cfg, overrides)
    H = horizon(cfg)
    names = benefit_types(cfg)
    out = np.zeros((n, H, len(names)))
    for s in range(n):
        for b, name in enumerate(names):
            for t in range(H):
                out[s, t, b] = rate_on(cfg, v, s, name, cfg.deal.start_date + dt.timedelta(weeks=t))
    return out


def wage_weekly(cfg, overrides: dict | None, n: int) -> np.ndarray:
    """The full-time wage per week (scenario, week): the monthly wage at the level of the
    deal's start year, regulated each 1 January by the shared table."""
    v = Leaves(cfg, overrides)
    H = horizon(cfg)
    start = cfg.deal.start_date
    out = np.zeros((n, H))
    for s in range(n):
        monthly = v(s, "labour", "hours", "full_time_wage")
        for t in range(H):
            year = (start + dt.timedelta(weeks=t)).year
            out[s, t] = regulated(cfg, v, s, monthly, start.year, year) * UNIT_WEEKS["month"]
    return out


def tax_weekly(cfg, overrides: dict | None, n: int) -> np.ndarray:
    """Tax per full-time week in work (scenario, week, 2): the rate times the week's wage,
    the municipal part and the central government's (zeros without ``economics.tax``)."""
    H = horizon(cfg)
    out = np.zeros((n, H, 2))
    if cfg.economics.tax is None:
        return out
    v = Leaves(cfg, overrides)
    wage = wage_weekly(cfg, overrides, n)
    for s in range(n):
        rate = v(s, "economics", "tax", "rate")
        share = v(s, "economics", "tax", "municipal_share")
        for t in range(H):
            out[s, t, 0] = rate * wage[s, t] * share
            out[s, t, 1] = rate * wage[s, t] * (1.0 - share)
    return out


def costs(benefit_weeks, refusion_weeks, rates, work_fte=None, tax=None, kept=None) -> dict:
    """Weekly cost by perspective: gross = benefit weeks x rate, refund = refusion-weighted
    weeks x rate, tax = full-time equivalents x tax per full-time week; the public sector
    pays gross - tax, the central government refund - its tax, the municipality
    (gross - refund) x ``kept`` (1 - the equalisation share) - its tax."""
    n, A, H, B = benefit_weeks.shape
    out = {k: np.zeros((n, A, H)) for k in ("municipality", "central_government", "public")}
    for s in range(n):
        for a in range(A):
            for t in range(H):
                gross = sum(benefit_weeks[s, a, t, b] * rates[s, t, b] for b in range(B))
                refund = sum(refusion_weeks[s, a, t, b] * rates[s, t, b] for b in range(B))
                fte = 0.0 if work_fte is None else work_fte[s, a, t, 0]
                tax_m, tax_c = (0.0, 0.0) if tax is None else (tax[s, t, 0], tax[s, t, 1])
                k = 1.0 if kept is None else kept[s]
                out["public"][s, a, t] = gross - fte * (tax_m + tax_c)
                out["central_government"][s, a, t] = refund - fte * tax_c
                out["municipality"][s, a, t] = (gross - refund) * k - fte * tax_m
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
