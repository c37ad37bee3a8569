"""The investor's position: the return cap, net present value, multiple and payback.

Weekly flows are float64 arrays of shape ``(scenario, week)`` seen from the
investor: negative = money out (drawdowns), positive = money in (repayments).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from simrisk.finance.irr import as_flows
from simrisk.vocabulary import WEEKS_PER_YEAR


def financing(
    cost: np.ndarray, capital: np.ndarray, overrun: str, top_up_fee: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Who pays the programme's weekly ``cost`` (scenario, week) beyond the ``capital``
    (scenario,): the investor's drawdowns and the municipality's top-up fee per week.

    ``top_up``: the investor pays all of it; the municipality pays ``top_up_fee`` (per
    scenario) per DKK drawn beyond the capital, in the week it is drawn. ``provider``:
    the investor's drawdowns stop at the capital (the provider bears the rest).
    ``fewer_citizens``: the investor pays all of it (the enrolment kept it within the
    capital).
    """
    within = np.diff(np.minimum(np.cumsum(cost, axis=1), capital[:, None]), axis=1, prepend=0.0)
    if overrun == "provider":
        return within, np.zeros_like(cost)
    return cost, top_up_fee[:, None] * (cost - within)


def weekly_cap_rates(return_cap: np.ndarray) -> np.ndarray:
    """Weekly rates of annual return caps (``inf`` where there is no cap)."""
    return np.where(
        np.isfinite(return_cap), (1.0 + return_cap) ** (1.0 / WEEKS_PER_YEAR) - 1.0, np.inf
    )


@nb.njit(nogil=True, cache=True)
def cap_return(drawdown, payment, weekly_cap_rate):
    """Cut payments so that the investor's return never exceeds the cap.

    The investor's balance grows at the capped weekly rate and by every drawdown;
    a payment is made only up to the balance outstanding.

    Parameters
    ----------
    drawdown : float64 (scenario, week), capital drawn (positive)
    payment : float64 (scenario, week), payments due to the investor
    weekly_cap_rate : float64 (scenario,), ``inf`` for no cap

    Returns
    -------
    float64 (scenario, week), the payments made
    """
    m, H = payment.shape
    out = np.empty_like(payment)
    for s in range(m):
        r = weekly_cap_rate[s]
        if not np.isfinite(r):
            for t in range(H):
                out[s, t] = payment[s, t]
            continue
        bal = 0.0
        for t in range(H):
            bal = bal * (1.0 + r) + drawdown[s, t]
            p = payment[s, t]
            if p > bal:
                p = max(bal, 0.0)
            out[s, t] = p
            bal -= p
    return out


def discount_factors(rate: np.ndarray, horizon: int) -> np.ndarray:
    """``(1 + rate)**(-week / WEEKS_PER_YEAR)``, shape (scenario, week); computed once per
    distinct rate (usually one for all scenarios)."""
    weeks = np.arange(horizon)
    distinct, which = np.unique(rate, return_inverse=True)
    rows = (1.0 + distinct[:, None]) ** (-weeks[None, :] / WEEKS_PER_YEAR)
    return rows[which.reshape(-1)]


def npv(flows: np.ndarray, annual_rate: float) -> np.ndarray:
    """Net present value at week 0 at the weekly equivalent of ``annual_rate`` (> -1),
    float64 of shape (scenario,)."""
    f = as_flows(flows)
    if not annual_rate > -1.0:
        raise ValueError(f"annual_rate must be > -1, got {annual_rate}")
    return f @ np.exp(-math.log1p(annual_rate) / WEEKS_PER_YEAR * np.arange(f.shape[1]))


def moic(repaid: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Multiple on invested capital: total repayments over total drawdowns (gross: a
    repayment in a week of larger drawdowns does not vanish in the week's net flow); NaN
    where nothing was drawn."""
    return np.where(drawn > 0, repaid / np.maximum(drawn, 1e-300), np.nan)


@nb.njit(nogil=True, cache=True)
def _payback_kernel(flows):
    out = np.full(flows.shape[0], -1, np.int64)
    for i in range(flows.shape[0]):
        c = 0.0
        was_negative = False
        for t in range(flows.shape[1]):
            c += flows[i, t]
            if c < 0.0:
                was_negative = True
            elif was_negative:
                out[i] = t
                break
    return out


def payback_week(flows: np.ndarray) -> np.ndarray:
    """First week at which the cumulative cash flow is >= 0 after having been negative;
    int64 of shape (scenario,), -1 if it never recovers or is never negative."""
    return _payback_kernel(as_flows(flows))
