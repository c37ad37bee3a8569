"""The ledger: what the simulated weeks cost, by perspective, and what the programme
costs.

A week on a benefit costs its dated rate (gross); the central government
reimburses the refusion share of it, which the kernel has already weighted by
the citizen's step of the staircase (``refusion_weeks``). So per week

* municipality = (gross - refusion) x (1 - equalisation share) - municipal tax,
* central government = refusion - central-government tax,
* public = gross - tax,

where the tax on earnings in ordinary jobs (optional, ``economics.tax``) counts
the full-time equivalents in work, and the equalisation share (optional, zero in
the base case as in Socialstyrelsen's SØM) is the part of a change in the
municipality's benefit spending that udligning and bloktilskud give back.

The programme's cost is its set-up cost in week 0 plus a cost per citizen-week
by phase, drawn from the investor's capital.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from simrisk import benefits
from simrisk.config import DealConfig
from simrisk.sampling import Values
from simrisk.simulation import KernelOut, Structure
from simrisk.vocabulary import PERSPECTIVES


@dataclass
class LedgerArrays:
    """Per-scenario money inputs of a chunk.

    rates : float64 (scenario, week, benefit), DKK per citizen-week
    tax : float64 (scenario, week, 2), tax per full-time equivalent in work and week,
        municipal and central-government part (zeros without ``economics.tax``)
    kept : float64 (scenario,), 1 - the equalisation share of municipal costs
    phase_cost : float64 (scenario, phase), DKK per citizen-week in each phase
    setup_cost : float64 (scenario,), DKK in week 0
    """

    rates: np.ndarray
    tax: np.ndarray
    kept: np.ndarray
    phase_cost: np.ndarray
    setup_cost: np.ndarray


def ledger_arrays(cfg: DealConfig, st: Structure, v: Values) -> LedgerArrays:
    """Dated benefit rates per week, tax, and the programme's costs, for ``v.n``
    scenarios."""
    H = st.horizon
    tax = np.zeros((v.n, H, 2))
    if cfg.economics.tax is not None:
        per_fte = v("economics", "tax", "rate")[:, None] * benefits.wage_weekly(cfg, v, H)
        share = v("economics", "tax", "municipal_share")[:, None]
        tax[:, :, 0] = per_fte * share
        tax[:, :, 1] = per_fte * (1.0 - share)
    K = st.n_phases
    return LedgerArrays(
        rates=np.ascontiguousarray(benefits.all_weekly(cfg, st.benefit_types, v, H)),
        tax=tax,
        kept=1.0 - v("economics", "equalisation_share"),
        phase_cost=np.stack([v("programme", "phases", k, "cost_per_week") for k in range(K)], 1),
        setup_cost=v("programme", "setup_cost"),
    )


@nb.njit(parallel=True, nogil=True, cache=True)
def _weekly_cost(
    benefit_weeks, refusion_weeks, work_fte, rates, tax, kept, municipality, central, public
):
    """Cost per week by perspective.

    benefit_weeks, refusion_weeks : float64 (scenario, arm, week, benefit)
    work_fte : float64 (scenario, arm, week, 1)
    rates : float64 (scenario, week, benefit); tax : float64 (scenario, week, 2)
    kept : float64 (scenario,)
    municipality, central, public : float64 (scenario, arm, week), written
    """
    m, n_arms, H, B = benefit_weeks.shape
    for s in nb.prange(m):
        for a in range(n_arms):
            for t in range(H):
                gross = 0.0
                refund = 0.0
                for b in range(B):
                    r = rates[s, t, b]
                    gross += benefit_weeks[s, a, t, b] * r
                    refund += refusion_weeks[s, a, t, b] * r
                fte = work_fte[s, a, t, 0]
                municipality[s, a, t] = (gross - refund) * kept[s] - fte * tax[s, t, 0]
                central[s, a, t] = refund - fte * tax[s, t, 1]
                public[s, a, t] = gross - fte * (tax[s, t, 0] + tax[s, t, 1])


def costs(sim: KernelOut, la: LedgerArrays) -> dict[str, np.ndarray]:
    """Weekly cost per perspective (names of ``PERSPECTIVES``), each float64 of shape
    (scenario, arm, week)."""
    m, n_arms, H, _ = sim.benefit_weeks.shape
    out = np.empty((len(PERSPECTIVES), m, n_arms, H))
    _weekly_cost(
        sim.benefit_weeks, sim.refusion_weeks, sim.work_fte, la.rates, la.tax, la.kept,
        out[0], out[1], out[2],
    )  # fmt: skip
    return dict(zip(PERSPECTIVES, out, strict=True))


@nb.njit(parallel=True, nogil=True, cache=True)
def _programme_cost(programme_count, phase_cost, setup_cost):
    m, H, _ = programme_count.shape
    K = phase_cost.shape[1]
    out = np.empty((m, H))
    for s in nb.prange(m):
        for t in range(H):
            acc = 0.0
            for k in range(K):  # phase by phase: the sum's order is fixed
                acc += programme_count[s, t, k] * phase_cost[s, k]
            out[s, t] = acc
        out[s, 0] += setup_cost[s]
    return out


def programme_cost(sim: KernelOut, la: LedgerArrays) -> np.ndarray:
    """Weekly programme cost, float64 of shape (scenario, week); set-up cost in week 0."""
    return _programme_cost(sim.programme_count, la.phase_cost, la.setup_cost)
