"""The report's words: a plain-language summary made from the numbers, the contract's
terms, and the rows of the tables that are not figures."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simrisk import finance
from simrisk.config.contract import measures
from simrisk.labels import input_label
from simrisk.report.figures import MIO
from simrisk.summary import drivers
from simrisk.tables import Table, fmt

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
    drawn = float(np.median(ds["investor_drawn"].values))
    p_inv = summ["p_investor_loss"]
    if losses.size:
        total = summ["irr_status_counts"].get("total_loss", 0) / n
        everything = f" (everything it put in, in {_pct(total)})" if total > 0 else ""
        p5 = float(finance.quantiles(profit, 0.05))
        investor = (
            f"the investor loses money in {_pct(p_inv)} of them{everything}; its median "
            f"loss, when it loses, is {_money(-float(np.median(losses)))} of a median "
            f"{_money(drawn)} put in"
        )
        if p5 < 0:
            investor += f", and in the worst 5 % of futures it loses more than {_money(-p5)}"
    else:
        investor = f"the investor loses money in none of them (it puts in {_money(drawn)}, median)"
    irr = rows["investor_irr"]["p50"]
    cap = deal["investor"].get("return_cap")
    irr_text = (
        f"its median annual return is {fmt(irr, 'pct')}"
        if np.isfinite(irr)
        else "its median annual return is undefined"
    )
    if cap is not None and np.isfinite(irr) and abs(irr - cap) < 1e-4:
        irr_text += " (the return cap)"
    years = deal["deal"]["horizon_weeks"] / 52.18
    net = rows["municipal_net"]["p50"]
    p_mun = _pct(summ["p_municipal_net_negative"])
    var = summ["municipal_var95"]
    worst = (
        f"in the worst 5 % of futures it loses more than {_money(var)}"
        if var > 0
        else f"even in the worst 5 % of futures it gains at least {_money(-var)}"
    )
    municipality = (
        f"The municipality's true savings fall short of what it pays in {p_mun} "
        f"of futures over the deal's {years:.0f} years: its median net is "
        f"{net / MIO:+,.2f} mio. DKK, and {worst}."
    )
    paid = ds["payments_total"].values - ds["top_up_fee"].values
    if paid.sum() > 0:
        share = float(np.minimum(ds["payments_deadweight"].values, paid).sum() / paid.sum())
        mean = float(ds["deadweight_share"].values.mean())
        dead = (
            f"Of all it pays for outcomes, summed over the futures, {_pct(share)} is for "
            "outcomes that would have come without the programme (in the average future "
            f"{_pct(mean)} of its payments: the deadweight share of the table below)."
        )
    else:
        dead = "It pays nothing in any future."
    out = [f"Over {n:,} simulated futures of the deal, {investor}; {irr_text}.", municipality,
           dead]  # fmt: skip
    top = _top_drivers(ds, deal)
    if top:
        out.append(top)
    return " ".join(out)


def _top_drivers(ds: xr.Dataset, deal: dict) -> str:
    """The uncertain input with the strongest rank correlation with each party's result,
    when it stands out from the noise (beyond two standard errors, about 2 / sqrt(n))."""
    rows = drivers(ds)
    if not rows:
        return "The deal has no uncertain inputs: its spread is the cohort's own randomness."
    noise = 2.0 / np.sqrt(max(ds.sizes["scenario"] - 1, 1))
    parts = []
    for key, who in (("investor_profit", "the investor"), ("municipal_net", "the municipality")):
        best = max(rows, key=lambda r, k=key: abs(r[k]))
        c = best[key]
        if abs(c) <= noise:
            parts.append(
                f"for {who}, no uncertain input stands out (every rank correlation is within "
                f"±{noise:.2f}, the noise of {ds.sizes['scenario']:,} futures)"
            )
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
    if measures(c["mechanisms"]):
        t.add("measured", MEASUREMENT[c["measurement"]].format(**c))
    else:
        t.add(
            "measured",
            "not against anything: the payments count the programme arm's outcomes, "
            "including those that would have come without the programme",
        )
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
        when = (
            f"{m['at_week']} weeks after each citizen's entry"
            if m["measure"] == "at"
            else f"ever by {m['at_week']} weeks after each citizen's entry"
        )
        what = event_words(m["outcome"])
        if m["basis"] == "difference":
            rate = f"the share {what} {when}, less the comparison's share"
            unit = "pp"
            above = "above the comparison"
        else:
            rate = f"the share {what} {when}"
            unit = "pct"
            above = ""
        lo = fmt(m["threshold"], unit)
        pay = f"{fmt(m['payment'], 'dkk')} DKK"
        if m.get("full") is not None:
            hi = fmt(m["full"], unit)
            text = (
                f"on {rate}: nothing at {lo}{' ' + above if above else ''}, rising "
                f"linearly to {pay} at {hi}"
            )
        else:
            text = f"{pay} if {rate} reaches {lo}{' ' + above if above else ''}"
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
    for c in deal["uncertainty"].get("correlations", []):
        x, y = c["between"]
        t.add(
            f"rank correlation of {input_label(deal, x)} and {input_label(deal, y)}",
            f"{x}, {y}",
            f"Spearman {c['rank']:+.2f} (Gaussian copula)",
            c.get("source", ""),
        )
    return t
