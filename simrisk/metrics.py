"""Per-scenario metrics and weekly money series of a chunk, from its simulated costs and
cash flows. Every metric is defined here once; the registry
(:data:`simrisk.outputs.METRICS`) names and describes it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simrisk import finance
from simrisk.outputs import METRICS
from simrisk.simulation import KernelOut
from simrisk.vocabulary import COUNTERFACTUAL, EV_JOB, PERSPECTIVES, TREATMENT, WEEKS_PER_YEAR

METRIC_DTYPES = {
    name: np.dtype(
        np.int8
        if name == "investor_irr_status"
        else np.int64
        if name in ("payback_week", "enrolled")
        else np.float64
    )
    for name in METRICS
}
"""The type of every per-scenario metric (what a stored chunk must hold)."""


@dataclass
class Money:
    """The money of a chunk, each float64 (scenario, week) unless said otherwise.

    costs : perspective -> (scenario, arm, week), weekly cost of each arm
    measured : savings as the contract measures them
    paid : payments made (after every cap)
    programme_cost : the investor's drawdowns
    paid_anyway : what the same contract (every cap, the return cap) pays on the
        counterfactual arm's outcomes, on the same random numbers: payments for outcomes
        that happen without the programme
    drawn : the investor's drawdowns (``programme_cost`` unless the provider bears an
        overrun)
    top_up_fee : the municipality's fee for the investor's top-up (part of ``paid``)
    """

    costs: dict[str, np.ndarray]
    measured: np.ndarray
    paid: np.ndarray
    programme_cost: np.ndarray
    paid_anyway: np.ndarray
    drawn: np.ndarray | None = None
    top_up_fee: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.drawn is None:
            self.drawn = self.programme_cost
        if self.top_up_fee is None:
            self.top_up_fee = np.zeros_like(self.paid)


@dataclass
class InvestorTerms:
    """capital, discount_rate, return_cap: float64 (scenario,) (return_cap ``inf``: none)."""

    capital: np.ndarray
    discount_rate: np.ndarray
    return_cap: np.ndarray


@dataclass
class Horizons:
    """deal_weeks: the deal's horizon (undiscounted nets are summed over it);
    appraisal_weeks and appraisal_rate (scenario,): the discounted nets' horizon and
    nominal rate (the real rate and the price growth together)
    (the deal's horizon undiscounted when the deal gives no appraisal)."""

    deal_weeks: int
    appraisal_weeks: int
    appraisal_rate: np.ndarray


def chunk_metrics(
    sim: KernelOut, money: Money, inv: InvestorTerms, perspective: str, hz: Horizons
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-scenario metrics (name -> (scenario,)) and weekly series (name -> (scenario,
    week)) of a chunk."""
    costs, paid, prog_cost = money.costs, money.paid, money.programme_cost
    horizon = paid.shape[1]
    investor = paid - money.drawn
    saved = {p: costs[p][:, COUNTERFACTUAL] - costs[p][:, TREATMENT] for p in PERSPECTIVES}
    irr, status = finance.irr(investor)
    enrolled = (sim.entry >= 0).sum(axis=1)
    pay_total = paid.sum(axis=1)
    cost = prog_cost.sum(axis=1)
    drawn = money.drawn.sum(axis=1)
    D = hz.deal_weeks
    sav = {p: saved[p][:, :D].sum(axis=1) for p in PERSPECTIVES}
    disc = finance.discount_factors(hz.appraisal_rate, horizon)
    A = hz.appraisal_weeks
    # savings over the appraisal horizon; every payment of the deal, those the settlement
    # lag puts after the deal's horizon too
    paid_pv = (paid * disc).sum(axis=1)
    pv = {
        p: (saved[p][:, :A] * disc[:, :A]).sum(axis=1) - paid_pv for p in ("municipality", "public")
    }
    fte = sim.work_fte[:, :, :, 0].sum(axis=2) / WEEKS_PER_YEAR
    true_sav = sav[perspective]
    anyway = money.paid_anyway.sum(axis=1)
    overpaid = np.maximum(pay_total - np.maximum(true_sav, 0.0), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        outcome_paid = pay_total - money.top_up_fee.sum(axis=1)  # the fee is not for outcomes
        deadweight = np.where(
            outcome_paid > 0, np.minimum(anyway, outcome_paid) / outcome_paid, 0.0
        )
        overpaid_share = np.where(pay_total > 0, overpaid / pay_total, 0.0)
        ever = (sim.events[:, :, :, EV_JOB] >= 0).sum(axis=2) / np.maximum(enrolled, 1)[:, None]
    metrics = {
        "savings_true": true_sav,
        "savings_municipality": sav["municipality"],
        "savings_central_government": sav["central_government"],
        "savings_public": sav["public"],
        "savings_measured": money.measured[:, :D].sum(axis=1),
        "payments_total": pay_total,
        "programme_cost": cost,
        "municipal_net": sav["municipality"] - pay_total,
        "public_net": sav["public"] - pay_total,
        "municipal_net_pv": pv["municipality"],
        "public_net_pv": pv["public"],
        "payments_deadweight": anyway,
        "deadweight_share": deadweight,
        "overpayment": overpaid,
        "overpayment_share": overpaid_share,
        "investor_irr": irr,
        "investor_irr_status": status,
        "investor_moic": finance.moic(pay_total, drawn),
        "investor_npv": (investor * finance.discount_factors(inv.discount_rate, horizon)).sum(
            axis=1
        ),
        "investor_profit": investor.sum(axis=1),
        "payback_week": finance.payback_week(investor),
        "capital_shortfall": np.maximum(cost - inv.capital, 0.0),
        "investor_drawn": drawn,
        "provider_overrun": cost - drawn,
        "top_up_fee": money.top_up_fee.sum(axis=1),
        "enrolled": enrolled,
        "ever_employed_treatment": ever[:, TREATMENT],
        "ever_employed_counterfactual": ever[:, COUNTERFACTUAL],
        "fte_years_treatment": fte[:, TREATMENT],
        "fte_years_counterfactual": fte[:, COUNTERFACTUAL],
    }
    flows = {
        "savings_weekly": saved[perspective],
        "measured_savings_weekly": money.measured,
        "payments_weekly": paid,
        "programme_cost_weekly": prog_cost,
        "investor_cashflow_weekly": investor,
        "investor_cumulative": np.cumsum(investor, axis=1),
        "municipal_net_cumulative": np.cumsum(saved["municipality"] - paid, axis=1),
        "cost_counterfactual_weekly": costs[perspective][:, COUNTERFACTUAL],
        "cost_treatment_weekly": costs[perspective][:, TREATMENT],
    }
    return metrics, flows


def derived(metrics: dict, name: str) -> np.ndarray:
    """A metric, or a quantity derived from metrics by the project's conventions
    (:mod:`simrisk.finance.risk`): ``investor_loss`` (indicator), ``municipal_loss``
    (municipal net < 0), ``investor_moic`` with undefined multiples at 0,
    ``investor_irr`` with undefined IRRs filled."""
    if name == "investor_loss":
        return finance.investor_loss(metrics["investor_profit"]).astype(float)
    if name == "municipal_loss":
        return (np.asarray(metrics["municipal_net"]) < 0).astype(float)
    if name == "investor_moic":
        return finance.moic_filled(metrics["investor_moic"])
    if name == "investor_irr":
        return finance.irr_filled(metrics["investor_irr"], metrics["investor_profit"])
    return np.asarray(metrics[name])
