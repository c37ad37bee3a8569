"""The report's words: a plain-language summary made from the numbers, the contract's
terms, and the rows of the tables that are not figures."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simrisk.labels import input_label
from simrisk.summary import drivers
from simrisk.tables import Table, fmt

MIO = 1e6

MEASUREMENT = {
    "counterfactual": "against the true course without the programme (the same citizens' "
    "business as usual, as simulated)",
    "control_group": "against a control group of {control_size} citizens",
    "baseline": "against a fixed baseline: the expected business-as-usual course at central values",
    "stays_on_benefit": "against the assumption that every citizen stays on benefit for the "
    "whole deal",
}
SETTLEMENT = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}
OVERRUN = {
    "top_up": "the investor pays what goes beyond its capital",
    "provider": "the provider bears what goes beyond the capital",
    "fewer_citizens": "fewer citizens are taken in once the capital is spent",
}


EVENT_WORDS = {
    "job_entry": "a job entry",
    "education_entry": "an education entry",
    "sustained_13": "a job held 13 weeks",
    "sustained_26": "a job held 26 weeks",
    "sustained_52": "a job held 52 weeks",
    "declared_fit": "declared fit for work",
    "off_benefit": "off benefit (self-support)",
    "self_supporting_work": "self-supporting in ordinary work",
    "self_supporting": "self-supporting",
    "employed": "in ordinary work",
    "education": "in education",
    "ever_employed": "ever in ordinary work",
}
"""Outcome events and target outcomes (:mod:`simrisk.vocabulary`) in words."""


def event_words(name: str) -> str:
    return EVENT_WORDS.get(name, name.replace("_", " "))


def _pct(x: float) -> str:
    return fmt(x, "pct")


def _money(x: float) -> str:
    return f"{x / MIO:,.2f} mio. DKK"


def plain_summary(ds: xr.Dataset, summ: dict, deal: dict) -> str:
    """One paragraph: who loses how often and by how much, and what drives it most."""
    n = summ["n_scenarios"]
    rows = {r["metric"]: r for r in summ["rows"]}
    profit = ds["investor_profit"].values
    losses = profit[profit < 0]
    capital = deal["investor"]["capital"]
    p_inv = summ["p_investor_loss"]
    if losses.size:
        investor = (
            f"the investor loses money in {_pct(p_inv)} of them, and when it does it loses "
            f"{_money(-float(np.median(losses)))} in the median case, of the "
            f"{_money(capital)} it commits"
        )
    else:
        investor = "the investor loses money in none of them"
    irr = rows["investor_irr"]["p50"]
    cap = deal["investor"].get("return_cap")
    irr_text = (
        f"its median annual return is {fmt(irr, 'pct')}"
        if np.isfinite(irr)
        else ("its median annual return is undefined")
    )
    if cap is not None and np.isfinite(irr) and abs(irr - cap) < 1e-4:
        irr_text += " (the return cap)"
    years = deal["deal"]["horizon_weeks"] / 52.18
    net = rows["municipal_net"]["p50"]
    p_mun = _pct(summ["p_municipal_net_negative"])
    municipality = (
        f"The municipality's true savings fall short of what it pays in {p_mun} "
        f"of futures over the deal's {years:.0f} years: its median net is "
        f"{net / MIO:+,.2f} mio. DKK, and in the worst 5 % of futures it loses more than "
        f"{_money(summ['municipal_var95'])}."
    )
    dead = (
        f"On average {_pct(summ['mean_deadweight_share'])} of what it pays is for outcomes "
        "that would have come without the programme."
    )
    out = [f"Over {n:,} simulated futures of the deal, {investor}; {irr_text}.", municipality,
           dead]  # fmt: skip
    top = _top_drivers(ds, deal)
    if top:
        out.append(top)
    return " ".join(out)


def _top_drivers(ds: xr.Dataset, deal: dict) -> str:
    rows = drivers(ds)
    if not rows:
        return ""
    parts = []
    for key, who in (("investor_profit", "the investor"), ("municipal_net", "the municipality")):
        best = max(rows, key=lambda r, k=key: abs(r[k]))
        c = best[key]
        if abs(c) < 0.05:
            parts.append(f"for {who}, no single uncertain input (every rank correlation is "
                         "below 0.05)")  # fmt: skip
            continue
        direction = "better" if c > 0 else "worse"
        parts.append(
            f"for {who}, {input_label(deal, best['parameter'])}: the higher it is, the "
            f"{direction} for {who} (rank correlation {c:+.2f})"
        )
    return "What moves the results most: " + "; ".join(parts) + "."


def contract_terms(deal: dict) -> Table:
    """The terms of the contract and of the investment, one per row."""
    c, inv = deal["contract"], deal["investor"]
    t = Table("Contract terms", [("term", "text"), ("value", "text")])
    for i, m in enumerate(c["mechanisms"]):
        t.add(f"payment {i + 1}", _mechanism(m, inv["capital"]))
    t.add("measured", MEASUREMENT[c["measurement"]].format(**c))
    lag = c.get("settlement_lag_weeks") or 0
    t.add(
        "settlement",
        f"{SETTLEMENT[c['settlement']]}; paid {lag} weeks after the period" if lag else
        f"{SETTLEMENT[c['settlement']]}, at the end of the period",
    )  # fmt: skip
    if c.get("repayment_window"):
        lo, hi = c["repayment_window"]
        t.add("repayment window", f"weeks {lo} to {hi} from the start (later payments lapse)")
    cap = _cap(c, inv["capital"])
    if cap:
        t.add("cap on all payments", cap)
    t.add("investor's capital", _money(inv["capital"]))
    t.add(
        "return cap",
        "none" if inv.get("return_cap") is None else f"{fmt(inv['return_cap'], 'pct')} a year",
    )
    t.add("investor's discount rate", f"{fmt(inv['discount_rate'], 'pct')} a year")
    t.add("cost beyond the capital", OVERRUN[inv["overrun"]])
    if inv.get("top_up_fee"):
        t.add("top-up fee", f"{fmt(inv['top_up_fee'], 'pct')} of the top-up")
    return t


def _cap(m: dict, capital: float) -> str:
    if m.get("cap") is not None:
        return f"{fmt(m['cap'], 'dkk')} DKK"
    if m.get("cap_share") is not None:
        return f"{fmt(m['cap_share'], 'pct')} of the capital ({_money(m['cap_share'] * capital)})"
    return ""


def _mechanism(m: dict, capital: float) -> str:
    kind = m["kind"]
    if kind == "rate_card":
        tariffs = "; ".join(
            f"{event_words(event)} {fmt(amount, 'dkk')} DKK"
            for event, amount in m["tariffs"].items()
        )
        text = f"rate card per outcome: {tariffs}"
        if m.get("per_citizen_cap") is not None:
            text += f"; at most {fmt(m['per_citizen_cap'], 'dkk')} DKK per citizen"
    elif kind == "savings_share":
        text = f"{fmt(m['share'], 'pct')} of the measured savings"
    else:  # target
        measure = "in that state at" if m["measure"] == "at" else "ever by"
        basis = (
            ""
            if m["basis"] == "absolute"
            else ", counted as the difference to the comparison group"
        )
        full = f" (in full at {fmt(m['full'], 'pct')})" if m.get("full") is not None else ""
        text = (
            f"{fmt(m['payment'], 'dkk')} DKK if the share {measure} week {m['at_week']} "
            f"({event_words(m['outcome'])}) reaches {fmt(m['threshold'], 'pct')}{full}"
            f"{basis}"
        )
    if m.get("window"):
        text += f"; outcomes in weeks {m['window'][0]} to {m['window'][1]}"
    cap = _cap(m, capital)
    if cap:
        text += f"; capped at {cap}"
    return text


def assumptions(deal: dict) -> Table:
    """Every uncertain input: its label, path, distribution and source; a calibration
    posterior as one row."""
    t = Table(
        "Uncertain inputs and their sources",
        [("input", "text"), ("path", "text"), ("distribution", "text"), ("source", "text")],
    )
    for p in deal["uncertainty"]["parameters"]:
        spec = {
            k: v
            for k, v in p.items()
            if k not in ("path", "source", "distribution", "label") and v is not None
        }
        t.add(
            input_label(deal, p["path"]),
            p["path"],
            f"{p['distribution']} " + ", ".join(f"{k} {v:g}" for k, v in spec.items()),
            p.get("source", ""),
        )
    post = deal["uncertainty"].get("posterior")
    if post:
        names = "; ".join(input_label(deal, p) for p in post["paths"])
        t.add(
            f"calibration posterior ({names})",
            ", ".join(post["paths"]),
            f"{len(post['draws'])} joint draws ({post['method']})",
            f"{post['source']}; fitted to {', '.join(post.get('fitted_to', []))}",
        )
    return t
