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

import functools
from dataclasses import dataclass

import numba as nb
import numpy as np

from simrisk import benefits
from simrisk.config import DealConfig
from simrisk.rates import DatedTable
from simrisk.sampling import Values
from simrisk.simulation import KernelOut, Structure
from simrisk.vocabulary import PERSPECTIVES


@dataclass
class LedgerArrays:
    """Per-scenario money inputs of a chunk.

    rate_table : the benefits' rates, DKK per citizen-week (a column per benefit)
    tax_table : tax per full-time equivalent in work and week, municipal and
        central-government part (two columns; zeros without ``economics.tax``)
    kept : float64 (scenario,), 1 - the equalisation share of municipal costs
    phase_cost : float64 (scenario, phase), DKK per citizen-week in each phase
    setup_cost : float64 (scenario,), DKK in week 0

    The tables are :class:`~simrisk.rates.DatedTable`: an amount per (rate point, year)
    pair, one row for all scenarios when none differs. :attr:`rates` and :attr:`tax`
    spread them over the weeks.
    """

    rate_table: DatedTable
    tax_table: DatedTable
    kept: np.ndarray
    phase_cost: np.ndarray
    setup_cost: np.ndarray

    @functools.cached_property
    def rates(self) -> np.ndarray:
        """float64 (scenario or 1, week, benefit)"""
        return self.rate_table.dense()

    @functools.cached_property
    def tax(self) -> np.ndarray:
        """float64 (scenario or 1, week, 2)"""
        return self.tax_table.dense()


def ledger_arrays(cfg: DealConfig, st: Structure, v: Values) -> LedgerArrays:
    """Dated benefit rates per week, tax, and the programme's costs, for ``v.n``
    scenarios."""
    H = st.horizon
    if cfg.economics.tax is None:
        tax = DatedTable(np.zeros((1, 2, 1)), np.zeros((2, H), np.int64))
    else:
        wage, week_pair = benefits.wage_pairs(cfg, v, H)
        rate = v("economics", "tax", "rate")[:, None]
        share = v("economics", "tax", "municipal_share")[:, None]
        if wage.shape[0] == 1 and np.all(rate == rate[:1]) and np.all(share == share[:1]):
            rate, share = rate[:1], share[:1]
        per_fte = rate * wage
        tax = DatedTable.stack([(per_fte * share, week_pair), (per_fte * (1.0 - share), week_pair)])
    K = st.n_phases
    return LedgerArrays(
        rate_table=benefits.rate_table(cfg, st.benefit_types, v, H),
        tax_table=tax,
        kept=1.0 - v("economics", "equalisation_share"),
        phase_cost=np.stack([v("programme", "phases", k, "cost_per_week") for k in range(K)], 1),
        setup_cost=v("programme", "setup_cost"),
    )


@nb.njit(nogil=True, cache=True)
def _weekly_cost(
    benefit_weeks,
    refusion_weeks,
    work_fte,
    rate_amounts,
    rate_pair,
    tax_amounts,
    tax_pair,
    kept,
    municipality,
    central,
    public,
):
    """Cost per week by perspective.

    benefit_weeks, refusion_weeks : float64 (scenario, arm, week, benefit)
    work_fte : float64 (scenario, arm, week, 1)
    rate_amounts, rate_pair; tax_amounts, tax_pair : the :class:`DatedTable` of the rates
        (a column per benefit) and of the tax (municipal, central government)
    kept : float64 (scenario,)
    municipality, central, public : float64 (scenario, arm, week), written
    """
    m, n_arms, H, B = benefit_weeks.shape
    for s in range(m):
        sr = min(np.int64(s), rate_amounts.shape[0] - 1)
        sx = min(np.int64(s), tax_amounts.shape[0] - 1)
        rates = np.empty((H, B))  # this scenario's rates, week by week
        taxes = np.empty((H, 2))
        for t in range(H):
            for b in range(B):
                rates[t, b] = rate_amounts[sr, b, rate_pair[b, t]]
            taxes[t, 0] = tax_amounts[sx, 0, tax_pair[0, t]]
            taxes[t, 1] = tax_amounts[sx, 1, tax_pair[1, t]]
        for a in range(n_arms):
            for t in range(H):
                gross = 0.0
                refund = 0.0
                for b in range(B):
                    r = rates[t, b]
                    gross += benefit_weeks[s, a, t, b] * r
                    refund += refusion_weeks[s, a, t, b] * r
                fte = work_fte[s, a, t, 0]
                tm = taxes[t, 0]
                tc = taxes[t, 1]
                municipality[s, a, t] = (gross - refund) * kept[s] - fte * tm
                central[s, a, t] = refund - fte * tc
                public[s, a, t] = gross - fte * (tm + tc)


def costs(sim: KernelOut, la: LedgerArrays) -> dict[str, np.ndarray]:
    """Weekly cost per perspective (names of ``PERSPECTIVES``), each float64 of shape
    (scenario, arm, week)."""
    m, n_arms, H, _ = sim.benefit_weeks.shape
    out = np.empty((len(PERSPECTIVES), m, n_arms, H))
    _weekly_cost(
        sim.benefit_weeks, sim.refusion_weeks, sim.work_fte, la.rate_table.amounts,
        la.rate_table.week_pair, la.tax_table.amounts, la.tax_table.week_pair, la.kept,
        out[0], out[1], out[2],
    )  # fmt: skip
    return dict(zip(PERSPECTIVES, out, strict=True))


@nb.njit(nogil=True, cache=True)
def _programme_cost(programme_count, phase_cost, setup_cost):
    m, H, _ = programme_count.shape
    K = phase_cost.shape[1]
    out = np.empty((m, H))
    for s in range(m):
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
