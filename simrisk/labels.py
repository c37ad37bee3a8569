"""Readable names of the deal's inputs, for tables and figures.

A deal file may give each uncertain input (``[[uncertainty.parameters]]``) and each
calibrated parameter (``[[calibration.free]]``) a ``label``; :func:`label` returns
it, else a name made from the deal's own structure (phase, segment and state names)
by :func:`describe`, else the path itself.
"""

from __future__ import annotations

import re

from simrisk.config.paths import parse_path

_EFFECT = {
    "job_entry": "effect on job entry",
    "education_entry": "effect on education entry",
    "job_loss": "effect on job loss",
}
_FIXED = {
    "effect.persistence": "share of the programme's effect left per fade block",
    "labour.job_entry_multiplier": "business-as-usual job entry (multiplier of its hazards)",
    "labour.job_loss_multiplier": "job loss (multiplier of its hazards)",
    "labour.education_entry_multiplier": "education entry (multiplier of its hazards)",
    "labour.hours.full_time_share": "share of jobs that are full-time",
    "labour.hours.part_time_hours": "hours of a part-time job (share of full time)",
    "labour.hours.full_time_wage": "monthly wage of a full-time job (DKK)",
    "cohort.uptake": "share of places filled",
    "cohort.frailty_variance": "heterogeneity of job chances (frailty variance)",
    "cohort.size": "citizens in the cohort",
    "cohort.enrolment.delay_weeks": "weeks before enrolment starts",
    "economics.regulation.assumed": "yearly regulation of benefit rates after the known years",
    "investor.capital": "the investor's capital (DKK)",
    "contract.cap": "cap on all payments (DKK)",
    "contract.cap_share": "cap on all payments, as a share of the capital",
    "investor.return_cap": "the investor's return cap (a year)",
    "investor.discount_rate": "the investor's discount rate",
}
_MECHANISM = {
    "share": "share of the measured savings paid",
    "cap": "cap on payments (DKK)",
    "per_citizen_cap": "cap per citizen (DKK)",
    "cap_share": "cap as a share of the capital",
    "amount": "payment (DKK)",
    "threshold": "threshold",
}


def _name(node: dict, what: str, i: int) -> str:
    return f"'{node['name']}'" if isinstance(node, dict) and node.get("name") else f"{what} {i + 1}"


def describe(dumped: dict, path: str) -> str | None:
    """A readable name of ``path`` in a deal (``cfg.model_dump(by_alias=True)``), or None
    when the path is of no known kind."""
    if path in _FIXED:
        return _FIXED[path]
    try:
        parts = parse_path(path)
    except (ValueError, KeyError):
        return None
    try:
        if parts[0] == "effect" and len(parts) == 3 and parts[1] in _EFFECT:
            phase = dumped["programme"]["phases"][parts[2]]
            return f"{_EFFECT[parts[1]]} in phase {_name(phase, 'phase', parts[2])} (hazard ratio)"
        if parts[:2] == ("labour", "transitions") and len(parts) >= 4:
            tr = dumped["labour"]["transitions"][parts[2]]
            text = f"weekly probability {tr['from']} → {tr['to']}"
            if len(parts) == 5 and tr.get("from_week"):
                text += f" from week {tr['from_week'][parts[4]]} of the spell"
            return text
        if parts[:2] == ("programme", "phases") and len(parts) == 4:
            phase = dumped["programme"]["phases"][parts[2]]
            what = {"dropout": "weekly dropout", "cost_per_week": "cost per citizen-week (DKK)"}
            if parts[3] in what:
                return f"{what[parts[3]]} in phase {_name(phase, 'phase', parts[2])}"
        if parts[:2] == ("cohort", "segments"):
            seg = dumped["cohort"]["segments"][parts[2]]
            who = _name(seg, "segment", parts[2])
            if parts[3:] == ("insured_share",):
                return f"a-kasse members among {who}"
            if parts[3:] == ("share",):
                return f"share of the cohort in {who}"
            if len(parts) == 6 and parts[3] == "path" and parts[5] == "share":
                step = seg["path"][parts[4]]
                return (
                    f"share of {who} moved to {step['benefit']} after {step['after_weeks']} weeks"
                )
        if parts[:3] == ("economics", "regulation", "years") and parts[4:] == ("rate",):
            year = dumped["economics"]["regulation"]["years"][parts[3]]["year"]
            return f"regulation of benefit rates in {year}"
        if parts[:2] == ("contract", "mechanisms") and len(parts) >= 4:
            mech = dumped["contract"]["mechanisms"][parts[2]]
            kind = str(mech.get("kind", "")).replace("_", " ")
            if parts[3] == "tariffs" and len(parts) == 5:
                return f"{kind} tariff for {str(parts[4]).replace('_', ' ')} (DKK an outcome)"
            if parts[3] in _MECHANISM:
                return f"{kind}: {_MECHANISM[parts[3]]}"
    except (KeyError, IndexError, TypeError):
        return None
    return None


_DKK = (
    "tariffs",
    "cap",
    "per_citizen_cap",
    "capital",
    "cost_per_week",
    "payment",
    "amount",
    "full_time_wage",
    "setup_cost",
    "earnings_limit",
    "limit",
)
_PCT = (
    "share",
    "uptake",
    "return_cap",
    "rate",
    "cap_share",
    "persistence",
    "full_time_share",
    "part_time_hours",
    "assumed",
    "discount_rate",
    "inflation",
    "insured_share",
)


def value_kind(path: str) -> str:
    """How a value at ``path`` is shown (:mod:`simrisk.tables` kinds): amounts in DKK,
    shares and rates as percentages, anything else with four significant digits."""
    try:
        names = [p for p in parse_path(path) if isinstance(p, str)]
    except (ValueError, KeyError):
        return "num"
    if any(n in _DKK for n in names):
        return "dkk"
    if names and names[-1] in _PCT:
        return "pct"
    return "num"


def labels(dumped: dict) -> dict[str, str]:
    """The labels the deal file gives, by path (uncertain inputs, calibrated parameters)."""
    out = {}
    for p in dumped.get("uncertainty", {}).get("parameters", []):
        if p.get("label"):
            out[p["path"]] = p["label"]
    for p in (dumped.get("calibration") or {}).get("free", []):
        if p.get("label"):
            out.setdefault(p["path"], p["label"])
    return out


def label(dumped: dict, path: str) -> str:
    """The deal file's label of ``path``, else :func:`describe`, else the path."""
    own = labels(dumped).get(path)
    if own:
        return own
    return describe(dumped, path) or path


POSTERIOR = re.compile(r"^calibration posterior \((.*)\)$")


def input_label(dumped: dict, name: str) -> str:
    """The label of an uncertain input as the sampler names it: a path, or the
    calibration posterior with its parameters."""
    m = POSTERIOR.match(name)
    if m:
        inner = "; ".join(label(dumped, p.strip()) for p in m.group(1).split(","))
        return f"calibration posterior ({inner})"
    return label(dumped, name)
