"""Investor and municipal finance: IRR (:mod:`.irr`), the investor's position
(:mod:`.investor`), risk measures and conventions (:mod:`.risk`)."""

from simrisk.finance.investor import (
    cap_return,
    discount_factors,
    financing,
    moic,
    npv,
    payback_week,
    weekly_cap_rates,
)
from simrisk.finance.irr import (
    IRR_MULTIPLE,
    IRR_NO_FLOWS,
    IRR_NO_ROOT,
    IRR_OK,
    IRR_STATUS_NAMES,
    IRR_TOTAL_LOSS,
    annualise,
    irr,
    weekly_rate,
)
from simrisk.finance.risk import (
    investor_loss,
    irr_filled,
    irr_ranked,
    moic_filled,
    quantiles,
    var_cvar,
)

__all__ = [
    "IRR_MULTIPLE",
    "IRR_NO_FLOWS",
    "IRR_NO_ROOT",
    "IRR_OK",
    "IRR_STATUS_NAMES",
    "IRR_TOTAL_LOSS",
    "annualise",
    "cap_return",
    "discount_factors",
    "financing",
    "investor_loss",
    "irr",
    "irr_filled",
    "irr_ranked",
    "moic",
    "moic_filled",
    "npv",
    "payback_week",
    "quantiles",
    "var_cvar",
    "weekly_cap_rates",
    "weekly_rate",
]
