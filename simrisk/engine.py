"""Run a deal: draws -> simulation -> ledger -> contract -> investor -> metrics, chunk by
chunk.

Scenarios are processed in chunks of fixed size; each chunk's numbers depend
only on (deal, seed, scenario index), so results are the same for any chunk
size or thread count. Per-scenario metrics are kept for all scenarios; weekly
series are aggregated chunk by chunk (:mod:`simrisk.aggregate`), so memory does
not grow with the citizen-level arrays.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from simrisk import contracts, finance, interrupt, ledger, metrics, parallel, rng, simulation
from simrisk.aggregate import Aggregator, ChunkResult, Weekly
from simrisk.config import DealConfig
from simrisk.contracts import Baseline, compute_baseline
from simrisk.outputs import FLOWS, METRICS
from simrisk.sampling import Adjustment, Sampler, Values, chunk_values
from simrisk.simulation import Structure, Workspace
from simrisk.simulation.inputs import chunk_cap
from simrisk.vocabulary import BASELINE_READINGS, COUNTERFACTUAL, TREATMENT, WEEKS_PER_YEAR

CHUNK = 256
"""Scenarios per chunk (never changes a number)."""


def investor_terms(v: Values) -> metrics.InvestorTerms:
    return metrics.InvestorTerms(
        capital=v("investor", "capital"),
        discount_rate=v("investor", "discount_rate"),
        return_cap=v.optional("investor", "return_cap"),
    )


def horizons(cfg: DealConfig, st: Structure, v: Values) -> metrics.Horizons:
    appraisal = cfg.economics.appraisal
    if appraisal is None:
        return metrics.Horizons(st.deal_weeks, st.deal_weeks, np.zeros(v.n))
    weeks = min(st.horizon, math.ceil(appraisal.years * WEEKS_PER_YEAR))
    # deflating the nominal flows by the price growth, then discounting at the real rate
    real = v("economics", "appraisal", "discount_rate")
    prices = v("economics", "appraisal", "inflation")
    return metrics.Horizons(st.deal_weeks, weeks, (1.0 + real) * (1.0 + prices) - 1.0)


def run_chunk(
    cfg: DealConfig,
    st: Structure,
    key,
    scen0: int,
    v: Values,
    baseline: Baseline | None,
    workspaces: tuple | None = None,
) -> ChunkResult:
    """Simulate scenarios ``[scen0, scen0 + v.n)`` with the leaf values ``v``."""
    kin = simulation.kernel_inputs(cfg, st, v)
    la = ledger.ledger_arrays(cfg, st, v)
    ws, ws_ctl = workspaces or (None, None)
    sim = simulation.simulate(key, scen0, st, kin, workspace=ws)
    costs = ledger.costs(sim, la)
    ctl = ctl_costs = None
    if cfg.contract.measurement == "control_group":
        kin_ctl = simulation.KernelIn(
            kin.cohort._replace(
                entry_planned=st.control_entry,
                max_enrolled=np.full_like(kin.cohort.max_enrolled, simulation.UNLIMITED),
            ),
            kin.labour,
            kin.programme,
            kin.ledger,
        )
        ctl = simulation.simulate(key, scen0, st, kin_ctl, control=True, workspace=ws_ctl)
        ctl_costs = ledger.costs(ctl, la)
    inv = investor_terms(v)
    ca = contracts.contract_arrays(cfg, v)
    prog_cost = ledger.programme_cost(sim, la)
    drawn, fee = finance.financing(
        prog_cost, inv.capital, cfg.investor.overrun, v("investor", "top_up_fee")
    )
    cap_rates = finance.weekly_cap_rates(inv.return_cap)

    reference = contracts.reference_cost(cfg, la, sim, costs, ctl, ctl_costs, baseline)

    def paid_on(arm: int) -> tuple[np.ndarray, np.ndarray]:
        measured = contracts.measured_savings(cfg, costs, reference, arm)
        due = contracts.payments(cfg, st, ca, sim, measured, ctl, baseline, arm)
        return measured, finance.cap_return(drawn, due, cap_rates)

    measured, paid = paid_on(TREATMENT)
    # the same contract on the business-as-usual course: what it pays for outcomes that
    # happen without the programme (deadweight)
    _, anyway = paid_on(COUNTERFACTUAL)
    money = metrics.Money(costs, measured, paid + fee, prog_cost, anyway, drawn, fee)
    m, flows = metrics.chunk_metrics(
        sim, money, inv, cfg.economics.perspective, horizons(cfg, st, v)
    )
    if not contracts.measures(cfg.contract.mechanisms):
        # no payment rests on a measurement: there are no measured savings to show
        m["savings_measured"][:] = np.nan
        flows["measured_savings_weekly"][:] = np.nan
    return ChunkResult(m, sim.state_count, sim.programme_count, flows)


def chunk_stream(
    cfg: DealConfig,
    st: Structure,
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

    With several threads (default: numba's thread count) chunks run concurrently
    (:func:`simrisk.parallel.in_order`), each thread with its own buffers and one numba
    thread, so the whole chunk runs in parallel, not only the kernel. The parameters are
    drawn here, in the calling thread. ``adjust(offset, m)`` gives the adjustments of a
    chunk; ``draws`` (n, parameter) replaces the sampler's. With ``agg``, the chunk's
    citizen counts are added to it in the worker. The results' ``state_count`` and
    ``programme_count`` are dropped either way: they are views of buffers that the
    thread's next chunk reuses.
    """
    chunk = min(chunk, chunk_cap(cfg))  # a very large cohort's chunks are smaller
    size = min(chunk, n)
    local = threading.local()
    dumped = cfg.model_dump(by_alias=True)

    def work(item: tuple[int, np.ndarray]) -> tuple[int, ChunkResult, np.ndarray]:
        off, table = item
        if not hasattr(local, "workspaces"):
            local.workspaces = (
                Workspace(size, len(st.entry_planned), st),
                None if st.control_entry is None else Workspace(size, len(st.control_entry), st),
            )
            local.part = agg.part() if agg is not None else None
        adj = adjust(off, table.shape[0]) if adjust is not None else None
        v = chunk_values(cfg, sampler, table, adj, dumped)
        res = run_chunk(cfg, st, key, scen0 + off, v, baseline, local.workspaces)
        if agg is not None:
            agg.add_counts(off, res, local.part)
        res.state_count = res.programme_count = None
        return off, res, table

    def items() -> Iterator[tuple[int, np.ndarray]]:
        for off in range(0, n, chunk):
            m = min(chunk, n - off)
            yield off, sampler.draw(scen0 + off, m) if draws is None else draws[off : off + m]

    starts = range(0, n, chunk)
    for item in parallel.in_order(work, items(), parallel.pool_size(len(starts), threads)):
        interrupt.check()  # an interruption swallowed while numba compiled
        yield item


@dataclass
class RunResult:
    """What a run gives: per-scenario metrics (name -> (scenario,)), the drawn parameters
    (scenario, parameter) and their names, the deal's structure, the baseline used (if
    any), and the weekly series (:attr:`weekly`, computed when first asked for; none for
    a run with ``weekly=False``)."""

    metrics: dict[str, np.ndarray]
    draws: np.ndarray
    parameter_names: list[str]
    structure: Structure
    baseline: Baseline | None
    _aggregator: Aggregator | None

    @property
    def n(self) -> int:
        return int(self.draws.shape[0])

    @functools.cached_property
    def weekly(self) -> Weekly:
        if self._aggregator is None:
            raise ValueError("this run kept no weekly series (engine.run(..., weekly=False))")
        return Weekly.from_aggregator(self._aggregator)


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
    adjust: list[Adjustment] | None = None,
    baseline: Baseline | None = None,
    threads: int | None = None,
    weekly: bool = True,
) -> RunResult:
    """Simulate a deal.

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
    adjust : changes applied after drawing (a stress point)
    baseline : a precomputed baseline (e.g. the unstressed deal's, for a stress point)
    threads : chunks run concurrently in this many threads (default: numba's thread
        count); does not change any number
    weekly : keep the weekly series (state and programme counts, money flows); without
        them a run gives the same metrics and draws, sooner (an analysis that reads only
        the metrics)
    """
    if n_scenarios < 1:
        raise ValueError("the number of scenarios must be at least 1")
    if detail and not weekly:
        raise ValueError("detail needs the weekly series (weekly=True)")
    n_par = cfg.uncertainty.n_parameters
    if draws is not None and draws.shape != (n_scenarios, n_par):
        raise ValueError(f"draws must have shape ({n_scenarios}, {n_par}), not {draws.shape}")
    st = simulation.build_structure(cfg)
    sampler = Sampler(cfg, seed, n_scenarios)
    key = rng.seed_key(seed)
    if baseline is None and cfg.contract.measurement in BASELINE_READINGS:
        baseline = compute_baseline(cfg, st)
    out: dict[str, np.ndarray] = {}
    draws_all = np.empty((n_scenarios, n_par))
    agg = None
    if weekly:
        agg = Aggregator(n_scenarios, st.horizon, st.n_phases, cfg.cohort.size, FLOWS, detail)
    for scen0, res, used in chunk_stream(
        cfg, st, sampler, key, 0, n_scenarios, baseline, chunk=chunk, draws=draws,
        adjust=lambda s0, m: adjust, agg=agg, threads=threads,
    ):  # fmt: skip
        m = used.shape[0]
        for k, val in res.metrics.items():
            if k not in out:
                out[k] = np.empty(n_scenarios, dtype=val.dtype)
            out[k][scen0 : scen0 + m] = val
        draws_all[scen0 : scen0 + m] = used
        if agg is not None:
            agg.add_flows(scen0, res)
        if progress is not None:
            progress(m)
    if agg is not None:
        agg.merge()
    ordered = {k: out[k] for k in METRICS}
    return RunResult(ordered, draws_all, list(sampler.names), st, baseline, agg)
