"""Payment mechanisms: savings share, rate card and outcome target, with their caps.

Each mechanism turns simulated outcomes of a chunk of scenarios into weekly
payments from the municipality, shape (scenario, week). Accruals are settled per
period (month, quarter or year, from the deal's start date) and paid in the period's
payment week (``pay_week``: its last week plus the settlement lag, within the repayment
window; -1 for a period that is never paid). Caps apply to cumulative payments; nothing
is ever clawed back.
"""

from __future__ import annotations

import numba as nb
import numpy as np


def settle(accrued: np.ndarray, period: np.ndarray, pay_week: np.ndarray) -> np.ndarray:
    """Sum weekly accruals per settlement period and pay them in the period's payment week.

    Parameters
    ----------
    accrued : ndarray of float64, shape (scenario, week)
    period : ndarray of int64, shape (week,), period of each week (non-decreasing)
    pay_week : ndarray of int64, shape (period,), -1: never paid
    """
    starts = np.flatnonzero(np.r_[True, np.diff(period) != 0])
    return pay_periods(np.add.reduceat(accrued, starts, axis=1), pay_week, accrued.shape)


def pay_periods(per_period: np.ndarray, pay_week: np.ndarray, shape) -> np.ndarray:
    """Amounts per period (scenario, period) placed in their payment weeks; periods paid
    in the same week (deferred to the repayment window's start) add up; periods that are
    never paid (-1) are dropped."""
    out = np.zeros(shape)
    paid = pay_week >= 0
    weeks = pay_week[paid]
    if np.unique(weeks).size == weeks.size:  # one period per week: placed as they are
        out[:, weeks] = per_period[:, paid]
    else:
        for p in np.flatnonzero(paid):  # in period order: the same sums for every layout
            out[:, pay_week[p]] += per_period[:, p]
    return out


@nb.njit(nogil=True, cache=True)
def _cap_cumulative(flow, cap):
    out = np.empty_like(flow)
    for s in range(flow.shape[0]):
        room = cap[s]
        for t in range(flow.shape[1]):
            p = flow[s, t]
            if p > room:
                p = max(room, 0.0)
            out[s, t] = p
            room -= p
    return out


def cap_cumulative(flow: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Cut non-negative weekly payments so that their running total never exceeds ``cap``.

    Parameters
    ----------
    flow : ndarray of float64, shape (scenario, week)
    cap : ndarray of float64, shape (scenario,), ``inf`` for no cap
    """
    if np.all(np.isinf(cap)):
        return flow
    return _cap_cumulative(np.ascontiguousarray(flow), np.ascontiguousarray(cap, float))


def window_mask(window: list[int] | None, horizon: int) -> np.ndarray:
    """Boolean mask of the weeks inside a ``[from, to)`` window (all weeks if None)."""
    mask = np.ones(horizon, dtype=bool)
    if window is not None:
        mask[:] = False
        mask[window[0] : min(window[1], horizon)] = True
    return mask


def savings_share(
    measured: np.ndarray,
    share: np.ndarray,
    cap: np.ndarray,
    window: list[int] | None,
    period: np.ndarray,
    pay_week: np.ndarray,
) -> np.ndarray:
    """Pay ``share`` of cumulative measured savings, settled per period.

    At each settlement the municipality owes ``min(cap, share x cumulative measured
    savings in the window)``, less what it has paid; a period of negative savings
    is carried forward (later savings first make it good), and nothing is repaid.

    Parameters
    ----------
    measured : ndarray of float64, shape (scenario, week), measured savings per week
    share, cap : ndarray of float64, shape (scenario,)
    """
    H = measured.shape[1]
    accrued = measured * window_mask(window, H)[None, :]
    starts = np.flatnonzero(np.r_[True, np.diff(period) != 0])
    per_period = np.add.reduceat(accrued, starts, axis=1)
    due = np.clip(share[:, None] * np.cumsum(per_period, axis=1), 0.0, cap[:, None])
    paid = np.maximum.accumulate(due, axis=1)
    return pay_periods(np.diff(paid, axis=1, prepend=0.0), pay_week, measured.shape)


@nb.njit(nogil=True, cache=True)
def _rate_card_accrual(events, tariffs, per_citizen_cap, inside):
    """Weekly tariff accruals, each citizen's total capped.

    events : int32 (scenario, citizen, event), week of first event or -1
    tariffs : float64 (scenario, event)
    per_citizen_cap : float64 (scenario,)
    inside : bool (week,), weeks inside the mechanism's window
    Returns float64 (scenario, week), accrued amounts in the week of each event.
    """
    m, n_cit, n_ev = events.shape
    H = inside.shape[0]
    out = np.zeros((m, H))
    for s in range(m):
        order = np.empty(n_ev, np.int64)
        for i in range(n_cit):
            # events in time order (insertion sort; ties keep event order)
            k = 0
            for e in range(n_ev):
                w = events[s, i, e]
                if w < 0 or not inside[w] or tariffs[s, e] == 0.0:
                    continue
                j = k
                while j > 0 and events[s, i, order[j - 1]] > w:
                    order[j] = order[j - 1]
                    j -= 1
                order[j] = e
                k += 1
            room = per_citizen_cap[s]
            for j in range(k):
                e = order[j]
                pay = min(tariffs[s, e], room)
                if pay <= 0.0:
                    break
                out[s, events[s, i, e]] += pay
                room -= pay
    return out


def rate_card(
    events: np.ndarray,
    tariffs: np.ndarray,
    per_citizen_cap: np.ndarray,
    cap: np.ndarray,
    window: list[int] | None,
    period: np.ndarray,
    pay_week: np.ndarray,
) -> np.ndarray:
    """Pay a tariff per outcome event, each citizen's total capped, settled per period.

    Parameters
    ----------
    events : ndarray of int32, shape (scenario, citizen, event), week of each citizen's
        first outcome event (order of ``vocabulary.OUTCOME_EVENTS``) or -1
    tariffs : ndarray of float64, shape (scenario, event)
    per_citizen_cap, cap : ndarray of float64, shape (scenario,)
    """
    inside = window_mask(window, period.shape[0])
    accrued = _rate_card_accrual(
        np.ascontiguousarray(events), np.ascontiguousarray(tariffs), per_citizen_cap, inside
    )
    return cap_cumulative(settle(accrued, period, pay_week), cap)


def target(
    rate: np.ndarray,
    measured_week: np.ndarray,
    threshold: np.ndarray,
    full: np.ndarray,
    payment: np.ndarray,
    period: np.ndarray,
    pay_week: np.ndarray,
) -> np.ndarray:
    """Pay when an outcome rate passes a threshold: a step, or linear up to ``full``.

    Parameters
    ----------
    rate : ndarray of float64, shape (scenario,), the measured outcome (rate or difference)
    measured_week : ndarray of int64, shape (scenario,), -1 if never measurable
    threshold, full, payment : ndarray of float64, shape (scenario,); ``full`` NaN for a step
    """
    m = rate.shape[0]
    H = period.shape[0]
    with np.errstate(invalid="ignore"):
        step = (rate >= threshold).astype(float)
        linear = np.clip((rate - threshold) / (full - threshold), 0.0, 1.0)
    fraction = np.where(np.isnan(full), step, linear)
    fraction = np.where(np.isnan(rate) | (measured_week < 0), 0.0, fraction)
    out = np.zeros((m, H))
    weeks = pay_week[period[np.clip(measured_week, 0, H - 1)]]
    ok = (measured_week >= 0) & (weeks >= 0)
    out[np.flatnonzero(ok), weeks[ok]] = (fraction * payment)[ok]
    return out
