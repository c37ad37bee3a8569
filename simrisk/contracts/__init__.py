"""The contract: what the municipality pays, given the simulated outcomes.

:func:`contract_arrays` reads the contract's terms for the scenarios of a chunk
(drawn where uncertain); :func:`payments` measures the savings the contract
sees (:mod:`.measurement`), applies every payment mechanism
(:mod:`.mechanisms`) to an arm's outcomes (:mod:`.outcomes`) and caps the total.

The contract is applied to the treatment arm for what the municipality pays, and to
the counterfactual arm, on the same random numbers, for what it would have paid for
outcomes that happen without the programme (deadweight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simrisk.config import DealConfig
from simrisk.config.contract import measures
from simrisk.contracts import mechanisms
from simrisk.contracts.measurement import Baseline, compute_baseline
from simrisk.contracts.outcomes import target_rate
from simrisk.sampling import Values
from simrisk.simulation import KernelOut, Structure
from simrisk.vocabulary import COUNTERFACTUAL, N_EVENTS, OUTCOME_EVENTS, TREATMENT

__all__ = [
    "Baseline",
    "ContractArrays",
    "compute_baseline",
    "contract_arrays",
    "measures",
    "payments",
]


@dataclass
class ContractArrays:
    """A contract's terms for the scenarios of a chunk: per mechanism a dict of float64
    arrays of shape (scenario,) or (scenario, event); ``cap`` the overall cap (``inf``:
    none)."""

    mechanisms: list[dict[str, np.ndarray]]
    cap: np.ndarray


def _cap(v: Values, capital: np.ndarray, *path) -> np.ndarray:
    """A cap in DKK (``cap``) or as a share of the scenario's capital (``cap_share``);
    ``inf`` for none."""
    share = v.optional(*path, "cap_share")
    return np.where(np.isfinite(share), share * capital, v.optional(*path, "cap"))


def contract_arrays(cfg: DealConfig, v: Values) -> ContractArrays:
    """The contract's terms for the scenarios of ``v``; caps given as a share of the
    capital follow the scenario's capital."""
    capital = v("investor", "capital")
    out = []
    for m, mech in enumerate(cfg.contract.mechanisms):
        base = ("contract", "mechanisms", m)
        terms: dict[str, np.ndarray] = {}
        if mech.kind == "savings_share":
            terms["share"] = v(*base, "share")
        elif mech.kind == "rate_card":
            terms["tariffs"] = np.stack(
                [
                    v(*base, "tariffs", ev) if ev in mech.tariffs else np.zeros(v.n)
                    for ev in OUTCOME_EVENTS
                ],
                1,
            )
            terms["per_citizen_cap"] = v.optional(*base, "per_citizen_cap")
        else:
            terms["threshold"] = v(*base, "threshold")
            terms["full"] = v(*base, "full") if mech.full is not None else np.full(v.n, np.nan)
            terms["payment"] = v(*base, "payment")
        if mech.kind != "target":
            terms["cap"] = _cap(v, capital, *base)
        out.append(terms)
    return ContractArrays(out, _cap(v, capital, "contract"))


def _rate(sim: KernelOut, arm: int, st: Structure, mech) -> tuple[np.ndarray, np.ndarray]:
    return target_rate(sim, arm, st, mech)


def reference_cost(
    cfg: DealConfig,
    la,
    sim: KernelOut,
    costs: dict,
    ctl: KernelOut | None,
    ctl_costs: dict | None,
    baseline: Baseline | None,
) -> np.ndarray:
    """The cost the contract measures savings against, float64 of shape (scenario,
    week): the counterfactual arm's, the control group's scaled to the enrolled cohort,
    or the baseline's."""
    persp = cfg.economics.perspective
    measurement = cfg.contract.measurement
    if measurement == "counterfactual":
        return costs[persp][:, COUNTERFACTUAL]
    if measurement == "control_group":
        enrolled = (sim.entry >= 0).sum(axis=1).astype(float)
        n_ctl = np.maximum((ctl.entry >= 0).sum(axis=1), 1).astype(float)
        return ctl_costs[persp][:, COUNTERFACTUAL] * (enrolled / n_ctl)[:, None]
    return baseline.cost(sim.entry, la, persp)


def measured_savings(
    cfg: DealConfig, costs: dict, reference: np.ndarray, arm: int = TREATMENT
) -> np.ndarray:
    """Savings as the contract measures them, float64 of shape (scenario, week): the
    measurement's reference cost (:func:`reference_cost`) less the cost of ``arm`` (the
    treatment arm; the counterfactual arm for the deadweight)."""
    return reference - costs[cfg.economics.perspective][:, arm]


def payments(
    cfg: DealConfig,
    st: Structure,
    ca: ContractArrays,
    sim: KernelOut,
    measured: np.ndarray,
    ctl: KernelOut | None,
    baseline: Baseline | None,
    arm: int = TREATMENT,
) -> np.ndarray:
    """Contract payments per week, float64 of shape (scenario, week), before the
    investor's return cap, on the outcomes of ``arm`` (``measured`` must be that arm's
    measured savings)."""
    measurement = cfg.contract.measurement
    total = np.zeros_like(measured)
    in_deal = measured * (np.arange(st.horizon) < st.deal_weeks)  # nothing after the deal
    for m, mech in enumerate(cfg.contract.mechanisms):
        terms = ca.mechanisms[m]
        window = getattr(mech, "window", None) or [0, st.deal_weeks]
        window = [window[0], min(window[1], st.deal_weeks)]
        if mech.kind == "savings_share":
            total += mechanisms.savings_share(
                in_deal, terms["share"], terms["cap"], window, st.period, st.pay_week
            )
        elif mech.kind == "rate_card":
            total += mechanisms.rate_card(
                sim.events[:, arm, :, :N_EVENTS],
                terms["tariffs"],
                terms["per_citizen_cap"],
                terms["cap"],
                window,
                st.period,
                st.pay_week,
            )
        else:
            rate, week = _rate(sim, arm, st, mech)
            if mech.basis == "difference":
                if measurement == "counterfactual":
                    ref_rate, _ = _rate(sim, COUNTERFACTUAL, st, mech)
                elif measurement == "control_group":
                    ref_rate, _ = _rate(ctl, COUNTERFACTUAL, st, mech)
                else:
                    ref_rate = baseline.rates[m]
                rate = rate - ref_rate
            total += mechanisms.target(
                rate,
                week,
                terms["threshold"],
                terms["full"],
                terms["payment"],
                st.period,
                st.pay_week,
            )
    return mechanisms.cap_cumulative(total, ca.cap)
