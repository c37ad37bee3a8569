"""Run a deal: draws -> kernel -> money -> payments -> metrics, chunk by chunk.

Scenarios are processed in chunks of fixed size; each chunk's numbers depend
only on (deal, seed, scenario index), so results are the same for any chunk
size or thread count. Per-scenario metrics are kept for all scenarios; weekly
series are aggregated chunk by chunk (running means; exact histograms of the
integer state counts; a fixed sample of the first scenarios for the quantiles of
money flows), so memory does not grow with the citizen-level arrays.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from simrisk import contracts, finance, kernel, model
from simrisk.config import LABOUR_STATES, DealConfig
from simrisk.sampling import Sampler, nominal

CHUNK = 512
FLOW_QUANTILE_SCENARIOS = 10_000
QUANTILES = (0.05, 0.5, 0.95)
PERSPECTIVES = ("municipality", "state", "public")
BASELINE_SEED = 0xBA5E11E

SCENARIO_METRICS = {
    # name: (long_name, units)
    "savings_true": ("true savings (counterfactual minus treatment cost)", "DKK"),
    "savings_municipality": ("true savings, municipal perspective", "DKK"),
    "savings_state": ("true savings, state perspective", "DKK"),
    "savings_public": ("true savings, public sector total", "DKK"),
    "savings_measured": ("savings as measured by the contract", "DKK"),
    "payments_total": ("payments by the municipality", "DKK"),
    "programme_cost": ("programme cost (investor drawdowns)", "DKK"),
    "municipal_net": ("municipal net budget effect (true savings minus payments)", "DKK"),
    "public_net": ("public-sector net effect (true public savings minus payments)", "DKK"),
    "deadweight_share": ("share of payments not backed by true savings", "1"),
    "investor_irr": ("investor internal rate of return, annualised", "1"),
    "investor_irr_status": ("IRR status (0 ok, 1 total loss, 2 no root, 3 multiple, 4 none)", "1"),
    "investor_moic": ("investor multiple on invested capital", "1"),
    "investor_npv": ("investor net present value at the discount rate", "DKK"),
    "investor_profit": ("investor repayments minus drawdowns (undiscounted)", "DKK"),
    "payback_week": (
        "week the investor's cumulative cash flow turns non-negative (-1 never)",
        "week",
    ),
    "capital_shortfall": ("programme cost beyond the capital commitment", "DKK"),
    "enrolled": ("citizens enrolled", "citizens"),
    "ever_employed_treatment": ("share of enrolled with a job entry, treatment arm", "1"),
    "ever_employed_counterfactual": ("share of enrolled with a job entry, counterfactual arm", "1"),
}
FLOW_SERIES = {
    "savings_weekly": ("true savings per week", "DKK/week"),
    "measured_savings_weekly": ("measured savings per week", "DKK/week"),
    "payments_weekly": ("payments per week", "DKK/week"),
    "programme_cost_weekly": ("programme cost per week", "DKK/week"),
    "investor_cashflow_weekly": (
        "investor cash flow per week (repayments - drawdowns)",
        "DKK/week",
    ),
    "investor_cumulative": ("investor cumulative cash flow", "DKK"),
    "municipal_net_cumulative": ("municipal cumulative net (true savings - payments)", "DKK"),
    "cost_counterfactual_weekly": ("cost per week, counterfactual arm", "DKK/week"),
    "cost_treatment_weekly": ("cost per week, treatment arm", "DKK/week"),
}


@dataclass
class Baseline:
    """A fixed expectation of the business-as-usual course, set before the deal starts.

    ``ben`` and ``ref`` are the expected benefit weeks (and the same weighted by the
    state's refusion share) per enrolled citizen by weeks since entry, at the deal's
    central parameter values. A scenario's baseline cost places this profile at each
    enrolled citizen's actual entry week and values it at the scenario's rates, so
    the baseline does not move with the world (job market, effect) but does follow
    who enrolled when and what a benefit week costs.
    """

    ben: np.ndarray  # (benefit, week since entry)
    ref: np.ndarray  # (benefit, week since entry)
    rates: dict[int, float] = field(default_factory=dict)  # mechanism -> outcome rate

    def cost(self, entry: np.ndarray, rates: np.ndarray, perspective: str) -> np.ndarray:
        """Baseline cost per week, shape (scenario, week).

        Parameters
        ----------
        entry : int32 (scenario, citizen), entry week or -1
        rates : float64 (scenario, benefit, week), DKK per citizen-week
        """
        m, H = entry.shape[0], rates.shape[2]
        starts = np.zeros((m, H))
        rows, cols = np.nonzero(entry >= 0)
        np.add.at(starts, (rows, entry[rows, cols]), 1.0)
        ben = _convolve(starts, self.ben)
        ref = _convolve(starts, self.ref)
        weight = {"municipality": ben - ref, "state": ref, "public": ben}[perspective]
        return np.einsum("sbt,sbt->st", weight, rates)


def _convolve(starts: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """sum_e starts[s, e] * profile[b, t - e], shape (scenario, benefit, week)."""
    m, H = starts.shape
    out = np.zeros((m, profile.shape[0], H))
    for e in np.flatnonzero(starts.any(axis=0)):
        out[:, :, e:] += starts[:, e, None, None] * profile[None, :, : H - e]
    return out


def central_overrides(cfg: DealConfig, n: int) -> dict[tuple, np.ndarray]:
    """Every uncertain leaf at its distribution's median."""
    sampler = Sampler(cfg, 0, 1)
    return {p: np.full(n, nominal(r)) for p, r in zip(sampler.paths, sampler.records, strict=True)}


def money(sim: dict, arr: dict) -> dict[str, np.ndarray]:
    """Weekly cost per arm and perspective, shape (scenario, arm, week)."""
    ben, ref = sim["ben"], sim["ref"]
    out = np.empty((3, ben.shape[0], ben.shape[1], ben.shape[3]))
    rates = np.ascontiguousarray(arr["rates"])
    kernel.weekly_cost(ben, ref, rates, out)
    return dict(zip(("municipality", "state", "public"), out, strict=True))


def programme_cost(sim: dict, arr: dict, n_phases: int) -> np.ndarray:
    """Weekly programme cost, shape (scenario, week), set-up cost in week 0."""
    cost = np.einsum("skt,sk->st", sim["prog"][:, :n_phases], arr["phase_cost"])
    cost[:, 0] += arr["setup_cost"]
    return cost


def compute_baseline(cfg: DealConfig, st: model.Structure, n: int | None = None) -> Baseline:
    """Mean counterfactual cost (and outcome rates) at the central parameter values.

    Uses a fixed internal seed, so the baseline is the same in every run of the deal.
    """
    n = n or cfg.contract.baseline_scenarios
    v = model.Values(cfg.model_dump(by_alias=True), central_overrides(cfg, n), n)
    arr = model.scenario_arrays(cfg, st, v)
    arr["delay"] = np.zeros_like(arr["delay"])
    # everyone enters in week 0: calendar weeks are weeks since entry
    at_zero = np.zeros_like(st.entry_planned)
    sim = model.simulate(kernel.seed_key(BASELINE_SEED), 0, st, arr, at_zero)
    enrolled = max(float((sim["entry"] >= 0).sum()), 1.0)
    base = Baseline(
        ben=sim["ben"][:, 0].sum(axis=0) / enrolled,
        ref=sim["ref"][:, 0].sum(axis=0) / enrolled,
    )
    for m, mech in enumerate(cfg.contract.mechanisms):
        if mech.kind == "target":
            ci = int(np.searchsorted(st.check_off, mech.at_week))
            rate, _ = contracts.outcome_rate(
                sim["checks"][:, 0],
                sim["events"][:, 0],
                sim["entry"],
                ci,
                mech.outcome,
                mech.at_week,
                st.horizon,
            )
            base.rates[m] = float(np.nanmean(rate))
    return base


def payments(
    cfg: DealConfig,
    st: model.Structure,
    arr: dict,
    sim: dict,
    costs: dict,
    ctl: dict | None,
    ctl_costs: dict | None,
    baseline: Baseline | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Measured savings and contract payments, each shape (scenario, week), before the
    investor's return cap."""
    persp = cfg.economics.perspective
    treated = costs[persp][:, 1]
    enrolled = (sim["entry"] >= 0).sum(axis=1).astype(float)
    measurement = cfg.contract.measurement
    if measurement == "counterfactual":
        reference = costs[persp][:, 0]
    elif measurement == "control_group":
        n_ctl = np.maximum((ctl["entry"] >= 0).sum(axis=1), 1).astype(float)
        reference = ctl_costs[persp][:, 0] * (enrolled / n_ctl)[:, None]
    else:
        reference = baseline.cost(sim["entry"], arr["rates"], persp)
    measured = reference - treated
    total = np.zeros_like(measured)
    for m, mech in enumerate(cfg.contract.mechanisms):
        if mech.kind == "savings_share":
            total += contracts.savings_share(
                measured,
                arr[f"m{m}_share"],
                arr[f"m{m}_cap"],
                mech.window,
                st.period,
                st.pay_week,
            )
        elif mech.kind == "rate_card":
            total += contracts.rate_card(
                sim["events"][:, 1],
                arr[f"m{m}_tariffs"],
                arr[f"m{m}_per_citizen_cap"],
                arr[f"m{m}_cap"],
                mech.window,
                st.period,
                st.pay_week,
            )
        else:
            ci = int(np.searchsorted(st.check_off, mech.at_week))
            rate, week = contracts.outcome_rate(
                sim["checks"][:, 1],
                sim["events"][:, 1],
                sim["entry"],
                ci,
                mech.outcome,
                mech.at_week,
                st.horizon,
            )
            if mech.basis == "difference":
                if measurement == "counterfactual":
                    ref_rate, _ = contracts.outcome_rate(
                        sim["checks"][:, 0],
                        sim["events"][:, 0],
                        sim["entry"],
                        ci,
                        mech.outcome,
                        mech.at_week,
                        st.horizon,
                    )
                elif measurement == "control_group":
                    ref_rate, _ = contracts.outcome_rate(
                        ctl["checks"][:, 0],
                        ctl["events"][:, 0],
                        ctl["entry"],
                        ci,
                        mech.outcome,
                        mech.at_week,
                        st.horizon,
                    )
                else:
                    ref_rate = baseline.rates[m]
                rate = rate - ref_rate
            total += contracts.target(
                rate,
                week,
                arr[f"m{m}_threshold"],
                arr[f"m{m}_full"],
                arr[f"m{m}_payment"],
                st.period,
                st.pay_week,
            )
    total = contracts.cap_cumulative(total, arr["contract_cap"])
    return measured, total


def _discount(rate: np.ndarray, horizon: int) -> np.ndarray:
    """Discount factors ``(1 + rate)**(-week / WEEKS_PER_YEAR)``, shape (scenario, week);
    computed once per distinct rate (usually one for all scenarios)."""
    weeks = np.arange(horizon)
    distinct, which = np.unique(rate, return_inverse=True)
    rows = (1.0 + distinct[:, None]) ** (-weeks[None, :] / finance.WEEKS_PER_YEAR)
    return rows[which.reshape(-1)]


@dataclass
class ChunkResult:
    """Everything one chunk contributes: per-scenario metrics and weekly series."""

    metrics: dict[str, np.ndarray]
    states: np.ndarray  # (scenario, arm, state, week)
    programme: np.ndarray  # (scenario, phase, week)
    flows: dict[str, np.ndarray]  # name -> (scenario, week)


def run_chunk(
    cfg: DealConfig,
    st: model.Structure,
    sampler: Sampler,
    key,
    scen0: int,
    draws: np.ndarray,
    baseline: Baseline | None,
    workspaces: tuple | None = None,
    adjust: list | None = None,
) -> tuple[ChunkResult, np.ndarray]:
    """Simulate scenarios ``[scen0, scen0 + n)`` with parameter values ``draws`` (n,
    parameter); returns the results and the draws. ``adjust`` lists
    :class:`model.Adjustment` applied after drawing.
    """
    n = draws.shape[0]
    dumped = cfg.model_dump(by_alias=True)
    over = sampler.overrides(draws)
    if adjust:
        over = model.adjusted(dumped, over, adjust, n)
    v = model.Values(dumped, over, n)
    arr = model.scenario_arrays(cfg, st, v)
    ws, ws_ctl = workspaces or (None, None)
    sim = model.simulate(key, scen0, st, arr, st.entry_planned, workspace=ws)
    costs = money(sim, arr)
    ctl = ctl_costs = None
    if cfg.contract.measurement == "control_group":
        ctl = model.simulate(key, scen0, st, arr, st.control_entry, control=True, workspace=ws_ctl)
        ctl_costs = money(ctl, arr)
    measured, due = payments(cfg, st, arr, sim, costs, ctl, ctl_costs, baseline)
    prog_cost = programme_cost(sim, arr, st.n_phases)
    cap_rate = np.where(
        np.isfinite(arr["return_cap"]),
        (1.0 + arr["return_cap"]) ** (1.0 / finance.WEEKS_PER_YEAR) - 1.0,
        np.inf,
    )
    paid = kernel.cap_return(prog_cost, due, cap_rate)
    investor = paid - prog_cost
    persp = cfg.economics.perspective
    saved = {p: costs[p][:, 0] - costs[p][:, 1] for p in PERSPECTIVES}
    irr, status = finance.irr(investor)
    enrolled = (sim["entry"] >= 0).sum(axis=1)
    pay_total = paid.sum(axis=1)
    drawn = prog_cost.sum(axis=1)
    sav = {p: saved[p].sum(axis=1) for p in PERSPECTIVES}
    true_sav = sav[persp]
    with np.errstate(invalid="ignore", divide="ignore"):
        deadweight = np.where(
            pay_total > 0, np.maximum(pay_total - np.maximum(true_sav, 0.0), 0.0) / pay_total, 0.0
        )
        ever = (sim["events"][:, :, :, 0] >= 0).sum(axis=2) / np.maximum(enrolled, 1)[:, None]
    metrics = {
        "savings_true": true_sav,
        "savings_municipality": sav["municipality"],
        "savings_state": sav["state"],
        "savings_public": sav["public"],
        "savings_measured": measured.sum(axis=1),
        "payments_total": pay_total,
        "programme_cost": drawn,
        "municipal_net": sav["municipality"] - pay_total,
        "public_net": sav["public"] - pay_total,
        "deadweight_share": deadweight,
        "investor_irr": irr,
        "investor_irr_status": status,
        # gross: repayments over drawdowns (a repayment in a week of larger drawdowns
        # must not vanish in the week's net flow)
        "investor_moic": np.where(drawn > 0, pay_total / np.maximum(drawn, 1e-300), np.nan),
        "investor_npv": (investor * _discount(arr["discount_rate"], st.horizon)).sum(axis=1),
        "investor_profit": investor.sum(axis=1),
        "payback_week": finance.payback_week(investor),
        "capital_shortfall": np.maximum(drawn - arr["capital"], 0.0),
        "enrolled": enrolled,
        "ever_employed_treatment": ever[:, 1],
        "ever_employed_counterfactual": ever[:, 0],
    }
    flows = {
        "savings_weekly": saved[persp],
        "measured_savings_weekly": measured,
        "payments_weekly": paid,
        "programme_cost_weekly": prog_cost,
        "investor_cashflow_weekly": investor,
        "investor_cumulative": np.cumsum(investor, axis=1),
        "municipal_net_cumulative": np.cumsum(saved["municipality"] - paid, axis=1),
        "cost_counterfactual_weekly": costs[persp][:, 0],
        "cost_treatment_weekly": costs[persp][:, 1],
    }
    return ChunkResult(metrics, sim["occ"], sim["prog"], flows), draws


class Aggregator:
    """Weekly means and quantiles over scenarios, accumulated chunk by chunk.

    State and programme counts keep the kernel's layout, (arm, state, week) and
    (phase, week); exact histograms of these integer counts give their quantiles.
    """

    def __init__(self, n: int, st: model.Structure, cohort: int, detail: bool):
        H = st.horizon
        S = len(LABOUR_STATES)
        K2 = st.n_phases + 2
        self.n = n
        self.detail = detail
        self.state_sum = np.zeros((2 * S, H))
        self.state_hist = np.zeros((2 * S, H, cohort + 1), np.int64)
        self.prog_sum = np.zeros((K2, H))
        self.prog_hist = np.zeros((K2, H, cohort + 1), np.int64)
        self.flow_sum = {k: np.zeros(H) for k in FLOW_SERIES}
        self.q_n = min(n, FLOW_QUANTILE_SCENARIOS)
        self.flow_sample = {k: np.empty((self.q_n, H), np.float32) for k in FLOW_SERIES}
        self.detail_states = np.empty((n, 2, S, H), np.int16) if detail else None
        self.detail_flows = (
            {k: np.empty((n, H), np.float32) for k in FLOW_SERIES} if detail else None
        )
        self._parts: list[tuple] = []
        self._lock = threading.Lock()

    def part(self) -> tuple:
        """Running sums and histograms of the integer counts for one worker thread; the
        parts are added up at the end, exactly, in any order."""
        with self._lock:
            if not self._parts:
                p = (self.state_sum, self.state_hist, self.prog_sum, self.prog_hist)
            else:
                p = tuple(np.zeros_like(a) for a in self._parts[0])
            self._parts.append(p)
        return p

    def add_counts(self, scen0: int, res: ChunkResult, part: tuple) -> None:
        """Add a chunk's state and programme counts (exact integer arithmetic) to ``part``
        and its per-scenario detail to its own rows. Any order; safe to call from several
        threads, each with its own part."""
        m = res.states.shape[0]
        S = len(LABOUR_STATES)
        state_sum, state_hist, prog_sum, prog_hist = part
        kernel.accumulate_counts(res.states.reshape(m, 2 * S, -1), state_sum, state_hist)
        kernel.accumulate_counts(res.programme, prog_sum, prog_hist)
        if self.detail:
            self.detail_states[scen0 : scen0 + m] = np.rint(res.states)

    def add_flows(self, scen0: int, res: ChunkResult) -> None:
        """Add a chunk's money flows; chunks in scenario order, since the floating-point
        running sums must see the scenarios in order."""
        m = next(iter(res.flows.values())).shape[0]
        for k, f in res.flows.items():
            kernel.accumulate_rows(f, self.flow_sum[k])
            if scen0 < self.q_n:
                take = min(m, self.q_n - scen0)
                self.flow_sample[k][scen0 : scen0 + take] = f[:take]
            if self.detail:
                self.detail_flows[k][scen0 : scen0 + m] = f

    def merge(self) -> None:
        """Add the worker threads' parts into the totals (integer-valued, so exact)."""
        for p in self._parts[1:]:
            for total, a in zip(self._parts[0], p, strict=True):
                total += a
        del self._parts[1:]

    def state_mean(self) -> np.ndarray:
        """Mean state counts, shape (arm, week, state)."""
        return (self.state_sum / self.n).reshape(2, len(LABOUR_STATES), -1).transpose(0, 2, 1)

    def state_quantiles(self) -> np.ndarray:
        """State count quantiles, shape (quantile, arm, week, state)."""
        q = self.hist_quantiles(self.state_hist)
        return q.reshape(len(QUANTILES), 2, len(LABOUR_STATES), -1).transpose(0, 1, 3, 2)

    @staticmethod
    def hist_quantiles(hist: np.ndarray, qs=QUANTILES) -> np.ndarray:
        """Quantiles (lower, like numpy's 'inverted_cdf') from histograms (..., value)."""
        cdf = np.cumsum(hist, axis=-1)
        total = cdf[..., -1:]
        out = []
        for q in qs:
            out.append(np.argmax(cdf >= q * total, axis=-1))
        return np.stack(out).astype(float)


def chunk_stream(
    cfg: DealConfig,
    st: model.Structure,
    sampler: Sampler,
    key,
    scen0: int,
    n: int,
    baseline: Baseline | None,
    *,
    chunk: int = CHUNK,
    draws: np.ndarray | None = None,
    adjust: Callable[[int, int], list | None] | None = None,
    agg: Aggregator | None = None,
    threads: int | None = None,
) -> Iterator[tuple[int, ChunkResult, np.ndarray]]:
    """Run scenarios ``[scen0, scen0 + n)`` chunk by chunk; yields ``(offset, result,
    draws)`` in scenario order (``offset`` from ``scen0``).

    With several threads (default: numba's thread count, ``--threads``) and a threading
    layer that allows it, chunks run concurrently in a pool of threads, each with its
    own buffers and one numba thread, so the whole chunk (kernel, money, contracts,
    metrics) runs in parallel, not only the kernel. The parameters are drawn here, in
    the calling thread. Each chunk's numbers depend only on its scenarios, so the
    results are the same for any thread count. ``adjust(offset, m)`` gives the
    adjustments of a chunk; ``draws`` (n, parameter) replaces the sampler's. With
    ``agg``, the chunk's state and programme counts are added to it in the worker. The
    results' ``states`` and ``programme`` are dropped either way: they are views of
    buffers that the thread's next chunk reuses.
    """
    size = min(chunk, n)
    local = threading.local()

    def work(item: tuple[int, np.ndarray]) -> tuple[int, ChunkResult, np.ndarray]:
        off, table = item
        if not hasattr(local, "workspaces"):
            local.workspaces = (
                model.Workspace(size, len(st.entry_planned), st),
                None
                if st.control_entry is None
                else model.Workspace(size, len(st.control_entry), st),
            )
            local.part = agg.part() if agg is not None else None
        adj = adjust(off, table.shape[0]) if adjust is not None else None
        res, used = run_chunk(
            cfg, st, sampler, key, scen0 + off, table, baseline, local.workspaces, adj
        )
        if agg is not None:
            agg.add_counts(off, res, local.part)
        res.states = res.programme = None
        return off, res, used

    def items() -> Iterator[tuple[int, np.ndarray]]:
        for off in range(0, n, chunk):
            m = min(chunk, n - off)
            yield off, sampler.draw(scen0 + off, m) if draws is None else draws[off : off + m]

    starts = range(0, n, chunk)
    yield from in_order(work, items(), pool_size(len(starts), threads))


def pool_size(n_tasks: int, threads: int | None = None) -> int:
    """Worker threads for ``n_tasks`` tasks: ``threads`` (default: numba's thread count,
    ``--threads``), if numba's threading layer lets several threads start parallel
    regions at once (``omp``, ``tbb``; not ``workqueue``); else 1."""
    k = min(numba.get_num_threads() if threads is None else threads, n_tasks)
    return k if k > 1 and _threadsafe_layer() else 1


@functools.cache
def _threadsafe_layer() -> bool:
    kernel.uniform_table(np.uint64(0), 0, 1, 1, 0)  # makes numba load its threading layer
    return numba.threading_layer() in ("omp", "tbb")


def in_order(fn: Callable, items, threads: int | None = None) -> Iterator:
    """``fn(item)`` for every item, yielded in order; the items are taken lazily, in the
    calling thread. With several threads (default: :func:`pool_size` of ``len(items)``)
    the items are computed ahead in a thread pool (at most two per thread), each thread
    running its numba code on one core."""
    if threads is None:
        threads = pool_size(len(items))
    if threads <= 1:
        for item in items:
            yield fn(item)
        return
    pool = ThreadPoolExecutor(threads, initializer=numba.set_num_threads, initargs=(1,))
    try:
        pending: deque = deque()
        todo = iter(items)
        for item in todo:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * threads:
                break
        while pending:
            done = pending.popleft().result()
            for item in todo:
                pending.append(pool.submit(fn, item))
                break
            yield done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


ProgressFn = Callable[[int], None]


def run(
    cfg: DealConfig,
    seed: int,
    n_scenarios: int,
    *,
    detail: bool = False,
    chunk: int = CHUNK,
    progress: ProgressFn | None = None,
    draws: np.ndarray | None = None,
    adjust: list | None = None,
    baseline: Baseline | None = None,
    threads: int | None = None,
):
    """Simulate a deal; returns the raw pieces for :func:`simrisk.results.build_dataset`.

    Parameters
    ----------
    cfg : DealConfig
    seed : int, >= 0
    n_scenarios : int, > 0
    detail : keep weekly series per scenario
    chunk : scenarios per kernel call (does not change any number)
    progress : called with the number of scenarios finished after each chunk
    draws : ndarray (n_scenarios, parameter), optional table of parameter values that
        replaces the deal's sampling (e.g. for Sobol designs or nested runs)
    adjust : list of :class:`model.Adjustment`, changes applied after drawing (stress)
    baseline : a precomputed baseline (e.g. the unstressed deal's, for a stress point)
    threads : chunks run concurrently in this many threads (default: numba's thread
        count); does not change any number
    """
    if n_scenarios < 1:
        raise ValueError("the number of scenarios must be at least 1")
    if draws is not None and draws.shape != (n_scenarios, len(cfg.uncertainty.parameters)):
        raise ValueError(
            f"draws must have shape ({n_scenarios}, {len(cfg.uncertainty.parameters)}), "
            f"not {draws.shape}"
        )
    st = model.build_structure(cfg)
    sampler = Sampler(cfg, seed, n_scenarios)
    key = kernel.seed_key(seed)
    if baseline is None and cfg.contract.measurement == "baseline":
        baseline = compute_baseline(cfg, st)
    metrics = {k: None for k in SCENARIO_METRICS}
    draws_all = np.empty((n_scenarios, len(sampler.paths)))
    agg = Aggregator(n_scenarios, st, cfg.cohort.size, detail)
    for scen0, res, used in chunk_stream(
        cfg, st, sampler, key, 0, n_scenarios, baseline, chunk=chunk, draws=draws,
        adjust=lambda s0, m: adjust, agg=agg, threads=threads,
    ):  # fmt: skip
        m = used.shape[0]
        for k, val in res.metrics.items():
            if metrics[k] is None:
                metrics[k] = np.empty(n_scenarios, dtype=val.dtype)
            metrics[k][scen0 : scen0 + m] = val
        draws_all[scen0 : scen0 + m] = used
        agg.add_flows(scen0, res)
        if progress is not None:
            progress(m)
    agg.merge()
    return {
        "structure": st,
        "sampler": sampler,
        "metrics": metrics,
        "draws": draws_all,
        "aggregator": agg,
        "baseline": baseline,
    }
