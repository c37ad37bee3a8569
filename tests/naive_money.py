"""Slow, obvious twins of the money and contract kernels, for equivalence tests.

Every function here follows the *documented rule* of its fast counterpart, not its
code: plain Python loops over scenarios, citizens and weeks, Python floats, the
settlement calendar from the dates themselves, a deal's contract read from the raw
TOML dictionary. Nothing here imports simrisk, so a mistake in the fast path's
preparation (``contract_arrays``, ``settlement_periods``, the wrappers around the numba
kernels) shows up as a difference.

Arrays come in as numpy arrays (or nested lists) and go out as numpy arrays, so the
tests can compare them with ``np.testing``.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re

import numpy as np

DAYS_PER_YEAR = 365.25
EVENTS = (
    "job_entry", "education_entry", "sustained_13", "sustained_26", "sustained_52",
    "declared_fit", "off_benefit", "self_supporting_work",
)  # fmt: skip
BENEFIT, EMPLOYED, EDUCATION, PERMANENT, MOVED = range(5)
COUNTERFACTUAL, TREATMENT = 0, 1
INF = math.inf


# --------------------------------------------------------------------------- calendar


def settlement_calendar(start: dt.date, horizon: int, settlement: str) -> tuple[list, list]:
    """Settlement period of each week (the calendar month, quarter or year of the week's
    first day, numbered from 0) and the week each period is paid in (its last week)."""
    keys = []
    for t in range(horizon):
        d = start + dt.timedelta(days=7 * t)
        if settlement == "month":
            keys.append((d.year, d.month))
        elif settlement == "quarter":
            keys.append((d.year, (d.month - 1) // 3))
        elif settlement == "year":
            keys.append(d.year)
        else:
            raise ValueError(settlement)
    distinct = list(dict.fromkeys(keys))
    period = [distinct.index(k) for k in keys]
    pay_week = [max(t for t in range(horizon) if period[t] == p) for p in range(len(distinct))]
    return period, pay_week


def inside(window, t: int) -> bool:
    """Whether week ``t`` is in a ``[from, to)`` window (every week if None)."""
    return window is None or window[0] <= t < window[1]


# --------------------------------------------------------------------------- mechanisms


def settle(accrued, period, pay_week) -> np.ndarray:
    """Each week's accrual paid in the last week of its settlement period."""
    out = np.zeros(np.shape(accrued))
    for s, row in enumerate(accrued):
        for t, a in enumerate(row):
            if pay_week[period[t]] is not None:  # None: never paid
                out[s, pay_week[period[t]]] += float(a)
    return out


def cap_cumulative(flow, cap) -> np.ndarray:
    """Each payment cut to what is left under the scenario's cap (never below 0)."""
    out = np.zeros(np.shape(flow))
    for s, row in enumerate(flow):
        paid = 0.0
        for t, p in enumerate(row):
            p = min(float(p), max(float(cap[s]) - paid, 0.0))
            out[s, t] = p
            paid += p
    return out


def savings_share(measured, share, cap, window, period, pay_week) -> np.ndarray:
    """At each settlement: owed = min(cap, share x cumulative measured savings in the
    window so far); pay what is owed beyond what has been paid, never a refund."""
    out = np.zeros(np.shape(measured))
    n_periods = len(pay_week)
    for s, row in enumerate(measured):
        cumulative = 0.0
        paid = 0.0
        for p in range(n_periods):
            for t, x in enumerate(row):
                if period[t] == p and inside(window, t):
                    cumulative += float(x)
            owed = min(float(cap[s]), float(share[s]) * cumulative)
            pay = max(owed - paid, 0.0)
            if pay_week[p] is not None:  # owed even when never paid
                out[s, pay_week[p]] += pay
            paid += pay
    return out


def rate_card_accrual(events, tariffs, per_citizen_cap, window, horizon: int) -> np.ndarray:
    """Tariffs accrued in the week of each citizen's events, earliest first (ties in event
    order), until the citizen's cap is used up; events outside the window pay nothing."""
    out = np.zeros((len(events), horizon))
    for s, citizens in enumerate(events):
        for weeks in citizens:
            paid = [(int(w), e) for e, w in enumerate(weeks) if w >= 0 and inside(window, w)]
            room = float(per_citizen_cap[s])
            for w, e in sorted(paid):
                pay = min(float(tariffs[s][e]), max(room, 0.0))
                out[s, w] += pay
                room -= pay
    return out


def rate_card(events, tariffs, per_citizen_cap, cap, window, period, pay_week) -> np.ndarray:
    accrued = rate_card_accrual(events, tariffs, per_citizen_cap, window, len(period))
    return cap_cumulative(settle(accrued, period, pay_week), cap)


def target(rate, measured_week, threshold, full, payment, period, pay_week) -> np.ndarray:
    """``payment`` (a step at ``threshold``, or the linear fraction between ``threshold``
    and ``full``) paid in the last week of the period of the measurement week."""
    out = np.zeros((len(rate), len(period)))
    for s in range(len(rate)):
        r, w = float(rate[s]), int(measured_week[s])
        if w < 0 or math.isnan(r) or pay_week[period[w]] is None:
            continue
        thr, top = float(threshold[s]), float(full[s])
        if math.isnan(top):
            fraction = 1.0 if r >= thr else 0.0
        else:
            fraction = min(max((r - thr) / (top - thr), 0.0), 1.0)
        out[s, pay_week[period[w]]] = fraction * float(payment[s])
    return out


# --------------------------------------------------------------------------- outcomes


def outcome_rate(checks, check_run, events, entry, check_index, outcome, at_week, horizon,
                 measure="at", window=(1, -1)):  # fmt: skip
    """Share of enrolled citizens with the outcome ``at_week`` weeks after entry, citizen
    by citizen, from the table in :mod:`simrisk.contracts.outcomes`.

    Counted: enrolled citizens measured inside the horizon; ``at`` not those who have
    moved away by then; ``ever_by`` every one of them. Events: 0 job, 1 education,
    2-4 sustained 13/26/52, 5 declared fit, 6 off benefit, 7 self-support in a job, then
    the self-support windows (``window`` = (weeks, column))."""
    if outcome == "ever_employed":
        outcome, measure = "employed", "ever_by"
    first = {"employed": 0, "education": 1, "sustained_13": 2, "sustained_26": 3,
             "sustained_52": 4, "declared_fit": 5, "off_benefit": 6,
             "self_supporting_work": 7, "self_supporting": window[1]}  # fmt: skip
    rates, last = [], []
    for s in range(len(entry)):
        num = den = 0
        latest = -1
        for i, e in enumerate(entry[s]):
            e = int(e)
            if e < 0 or e + at_week >= horizon:
                continue
            latest = max(latest, e + at_week)
            if measure == "ever_by":
                w = int(events[s][i][first[outcome]])
                den += 1
                num += w >= 0 and w - e <= at_week
                continue
            state = int(checks[s][i][check_index])
            job, run = (int(x) for x in check_run[s][i][check_index])
            if state == MOVED:
                continue
            den += 1
            fit = int(events[s][i][5])
            num += {
                "employed": state == EMPLOYED,
                "education": state == EDUCATION,
                "off_benefit": run >= 1,
                "self_supporting": run >= window[0],
                "self_supporting_work": state == EMPLOYED and run >= 1,
                "declared_fit": 0 <= fit <= e + at_week and state != BENEFIT,
                "sustained_13": job >= 13,
                "sustained_26": job >= 26,
                "sustained_52": job >= 52,
            }[outcome]
        rates.append(num / den if den else math.nan)
        last.append(latest)
    return np.array(rates), np.array(last)


# --------------------------------------------------------------------------- a deal's contract


def set_leaf(raw: dict, path: str, value: float) -> None:
    """Set ``a.b[2].c`` in a raw deal dictionary."""
    node = raw
    parts = re.findall(r"([A-Za-z_0-9]+)|\[(\d+)\]", path)
    keys = [int(i) if i else name for name, i in parts]
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value


def scenario_deal(raw: dict, names: list[str], row) -> dict:
    """The raw deal of one scenario: every uncertain leaf set to its drawn value."""
    out = copy.deepcopy(raw)
    for name, value in zip(names, row, strict=True):
        set_leaf(out, name, float(value))
    return out


def contract_payments(
    raw: dict, events, checks, entry, measured, check_weeks=None, arm=TREATMENT, check_run=None
):
    """Weekly payments of one scenario from the raw deal's ``[contract]``, before the
    investor's cap; counterfactual measurement; the contract applied to the outcomes of
    ``arm`` (``measured`` that arm's measured savings).

    events : (arm, citizen, event); checks : (arm, citizen, check); entry : (citizen,);
    measured : (week,), measured savings; check_weeks : the weeks since entry of the
    ``checks`` columns (default: the contract's targets' ``at_week``, in order).
    """
    deal = raw["deal"]
    contract = raw["contract"]
    start = deal["start_date"]
    if isinstance(start, str):
        start = dt.date.fromisoformat(start)
    if check_run is None:  # no outcome here needs the weeks of spells and runs
        check_run = np.zeros(np.shape(checks) + (2,), np.int64)
    D = int(deal["horizon_weeks"])
    period, due = settlement_calendar(start, D, contract.get("settlement", "quarter"))
    # paid the lag after it falls due, not before the repayment window opens; never if
    # at or after it closes; the lag's weeks are one more period in which nothing accrues
    lag = int(contract.get("settlement_lag_weeks", 0))
    window = contract.get("repayment_window")
    pay_week = []
    for w in due:
        w += lag
        if window is not None:
            w = max(w, window[0])
            w = w if w < window[1] else None
        pay_week.append(w)
    H = D + lag
    period = period + [len(due)] * lag
    pay_week.append(None)
    measured = list(measured) + [0.0] * (H - len(measured))
    mechanisms = contract["mechanisms"]
    if check_weeks is None:
        check_weeks = sorted({m["at_week"] for m in mechanisms if m["kind"] == "target"})
    total = np.zeros((1, H))
    for mech in mechanisms:
        cap = [mech.get("cap", INF)]
        if mech["kind"] == "savings_share":
            total += savings_share(
                [measured], [mech["share"]], cap, mech.get("window"), period, pay_week
            )
        elif mech["kind"] == "rate_card":
            tariffs = [[float(mech["tariffs"].get(ev, 0.0)) for ev in EVENTS]]
            total += rate_card(
                [[row[: len(EVENTS)] for row in events[arm]]],  # the outcome events only
                tariffs,
                [mech.get("per_citizen_cap", INF)],
                cap,
                mech.get("window"),
                period,
                pay_week,
            )
        else:
            ci = check_weeks.index(mech["at_week"])

            def rate_of(arm, mech=mech, ci=ci):
                return outcome_rate(
                    [checks[arm]], [check_run[arm]], [events[arm]], [entry], ci, mech["outcome"],
                    mech["at_week"], D, mech.get("measure", "at"),
                )  # fmt: skip

            rate, week = rate_of(arm)
            if mech.get("basis", "absolute") == "difference":
                rate = rate - rate_of(COUNTERFACTUAL)[0]
            full = mech.get("full")
            total += target(
                rate,
                week,
                [mech["threshold"]],
                [math.nan if full is None else full],
                [mech["payment"]],
                period,
                pay_week,
            )
    return cap_cumulative(total, [contract.get("cap", INF)])[0]


# --------------------------------------------------------------------------- measurement


def baseline_cost(
    entry, benefit_weeks, refusion_weeks, work_fte, rates, tax, kept, perspective: str
) -> np.ndarray:
    """Each enrolled citizen's expected benefit weeks and full-time equivalents in work (by
    weeks since entry) placed at the citizen's entry week and valued at the scenario's
    rates and tax: the municipality pays gross less refusion, times what the equalisation
    leaves it (``kept``), less its part of the tax; the central government the refusion
    less its part of the tax; the public sector the gross less all the tax."""
    n_scen, H, B = np.shape(rates)
    out = np.zeros((n_scen, H))
    for s in range(n_scen):
        for e in entry[s]:
            e = int(e)
            if e < 0:
                continue
            for t in range(e, H):
                gross = refund = 0.0
                for b in range(B):
                    gross += float(benefit_weeks[t - e][b]) * float(rates[s][t][b])
                    refund += float(refusion_weeks[t - e][b]) * float(rates[s][t][b])
                fte = float(work_fte[t - e][0])
                tax_m, tax_c = float(tax[s][t][0]), float(tax[s][t][1])
                out[s, t] += {
                    "municipality": (gross - refund) * float(kept[s]) - fte * tax_m,
                    "central_government": refund - fte * tax_c,
                    "public": gross - fte * (tax_m + tax_c),
                }[perspective]
    return out


# --------------------------------------------------------------------------- investor


def weekly_rate(annual: float) -> float:
    """The weekly rate that compounds to ``annual`` over a year of 365.25 days."""
    return (1.0 + annual) ** (7.0 / DAYS_PER_YEAR) - 1.0


def cap_return(drawdown, payment, weekly_cap_rate) -> np.ndarray:
    """Payments cut so that they never exceed the investor's outstanding balance: every
    drawdown and every payment made so far compounded at the capped rate to this week."""
    out = np.zeros(np.shape(payment))
    for s, due in enumerate(payment):
        r = float(weekly_cap_rate[s])
        for t, p in enumerate(due):
            if math.isinf(r):
                out[s, t] = p
                continue
            balance = sum(float(drawdown[s][u]) * (1.0 + r) ** (t - u) for u in range(t + 1))
            balance -= sum(out[s, u] * (1.0 + r) ** (t - u) for u in range(t))
            out[s, t] = min(float(p), max(balance, 0.0))
    return out


def payback_week(flows) -> np.ndarray:
    """The first week, after the cumulative cash flow first went negative, at which it is
    back at or above 0; -1 if that never happens."""
    out = []
    for row in flows:
        cumulative, total = [], 0.0
        for f in row:
            total += float(f)
            cumulative.append(total)
        negative = [t for t, c in enumerate(cumulative) if c < 0]
        back = [t for t, c in enumerate(cumulative) if negative and t > negative[0] and c >= 0]
        out.append(back[0] if back else -1)
    return np.array(out)


def npv(flow, annual_rate: float) -> float:
    return sum(
        float(f) * (1.0 + annual_rate) ** (-7.0 * t / DAYS_PER_YEAR) for t, f in enumerate(flow)
    )


def irr_bisect(flow, lo: float = -0.5, hi: float = 0.5) -> float:
    """Annual IRR of a flow whose NPV changes sign once between the weekly rates ``lo`` and
    ``hi``, by plain bisection on the weekly rate."""

    def value(r):
        return sum(float(f) * (1.0 + r) ** -t for t, f in enumerate(flow))

    f_lo = value(lo)
    if (f_lo > 0) == (value(hi) > 0):
        raise ValueError("no sign change in the bracket")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f_mid = value(mid)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return (1.0 + 0.5 * (lo + hi)) ** (DAYS_PER_YEAR / 7.0) - 1.0
