"""The registry of output variables, and the provenance every results file carries.

Every variable simrisk writes is named here once, with its ``long_name``,
``units`` and CF ``cell_methods``; Dataset builders take their attributes from
:func:`attrs`, and the report labels its figures from the same records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import simrisk


@dataclass(frozen=True)
class Variable:
    """One output quantity: its name, what it is, its units."""

    name: str
    long_name: str
    units: str

    def label(self, mio: bool = False) -> str:
        """An axis label: ``long_name (units)``, amounts in mio. DKK if ``mio``."""
        units = self.units
        if mio and units.startswith("DKK"):
            units = "mio. " + units
        return f"{self.long_name} ({units})" if units and units != "1" else self.long_name


def _table(*rows: tuple[str, str, str]) -> dict[str, Variable]:
    return {name: Variable(name, long_name, units) for name, long_name, units in rows}


METRICS = _table(
    ("savings_true", "true savings in the deal's perspective (economics.perspective; "
     "counterfactual minus treatment cost)", "DKK"),
    ("savings_municipality", "true savings, municipal perspective", "DKK"),
    ("savings_central_government", "true savings, central-government perspective", "DKK"),
    ("savings_public", "true savings, public sector total", "DKK"),
    ("savings_measured", "savings as measured by the contract (NaN where no payment rests on "
     "a measurement: a rate card, absolute targets)", "DKK"),
    ("payments_total", "payments by the municipality", "DKK"),
    ("programme_cost", "programme cost (the investor draws it, less what the provider "
     "bears: investor_drawn)", "DKK"),
    ("municipal_net", "municipal net budget effect (municipal true savings minus payments)",
     "DKK"),
    ("public_net", "public-sector net effect (true public savings minus payments)", "DKK"),
    ("municipal_net_pv", "municipal net over the appraisal horizon, discounted to the start",
     "DKK"),
    ("public_net_pv", "public-sector net over the appraisal horizon, discounted to the start",
     "DKK"),
    ("payments_deadweight", "payments the contract makes on the business-as-usual course "
     "(outcomes that happen without the programme; same random numbers, same caps)", "DKK"),
    ("deadweight_share", "share of payments for outcomes that happen without the programme "
     "(payments_deadweight / the outcome payments (payments_total less top_up_fee), at most "
     "1; 0 without payments)", "1"),
    ("overpayment", "payments beyond the true savings (payments - max(true savings, 0), at "
     "least 0)", "DKK"),
    ("overpayment_share", "share of payments not backed by true savings "
     "(overpayment / payments_total; 0 without payments)", "1"),
    ("investor_irr", "investor internal rate of return, annualised", "1"),
    ("investor_irr_status", "IRR status (0 ok, 1 total loss, 2 no root, 3 multiple, 4 none)", "1"),
    ("investor_moic", "investor multiple on invested capital", "1"),
    ("investor_npv", "investor net present value at the discount rate", "DKK"),
    ("investor_profit", "investor repayments minus drawdowns (undiscounted)", "DKK"),
    ("payback_week", "week the investor's cumulative cash flow turns non-negative (-1 never)",
     "week"),
    ("capital_shortfall", "programme cost beyond the capital commitment (whoever bears it: "
     "investor.overrun)", "DKK"),
    ("investor_drawn", "the investor's drawdowns (the programme cost, less what the provider "
     "bears)", "DKK"),
    ("provider_overrun", "programme cost beyond the capital borne by the provider "
     "(investor.overrun = 'provider')", "DKK"),
    ("top_up_fee", "the municipality's fee for the investor's top-up beyond the capital "
     "(investor.top_up_fee; part of payments_total)", "DKK"),
    ("enrolled", "citizens enrolled", "citizens"),
    ("ever_employed_treatment", "share of enrolled with a job entry, treatment arm", "1"),
    ("ever_employed_counterfactual", "share of enrolled with a job entry, counterfactual arm",
     "1"),
    ("fte_years_treatment", "full-time equivalent years in ordinary jobs, treatment arm",
     "year"),
    ("fte_years_counterfactual", "full-time equivalent years in ordinary jobs, counterfactual arm",
     "year"),
)  # fmt: skip
"""Per-scenario metrics (dimension ``scenario``)."""

PAYMENT_SHARES_NOTE = (
    "deadweight: share of payments for outcomes that happen without the programme (the"
    " contract applied to the business-as-usual arm, same random numbers and caps);"
    " overpayment (overpaid): share of payments beyond the true savings; means over"
    " scenarios"
)
"""What the two shares of payments mean, under every table that shows them."""

FLOWS = _table(
    ("savings_weekly", "true savings per week", "DKK/week"),
    ("measured_savings_weekly", "measured savings per week (NaN where no payment rests on a "
     "measurement)", "DKK/week"),
    ("payments_weekly", "payments per week", "DKK/week"),
    ("programme_cost_weekly", "programme cost per week", "DKK/week"),
    ("investor_cashflow_weekly", "investor cash flow per week (repayments - drawdowns)",
     "DKK/week"),
    ("investor_cumulative", "investor cumulative cash flow", "DKK"),
    ("municipal_net_cumulative", "municipal cumulative net (true savings - payments)", "DKK"),
    ("cost_counterfactual_weekly", "cost per week, counterfactual arm", "DKK/week"),
    ("cost_treatment_weekly", "cost per week, treatment arm", "DKK/week"),
)  # fmt: skip
"""Weekly money series (dimension ``week``), stored as mean and quantiles over scenarios."""

COUNTS = _table(
    ("state_count", "citizens in each state", "citizens"),
    ("programme_count", "citizens on the programme track", "citizens"),
    ("state_effect", "the programme's effect: citizens in each state in the treatment arm "
     "less the counterfactual arm, in the same scenario", "citizens"),
)  # fmt: skip
"""Weekly citizen counts, stored as mean and quantiles over scenarios."""

OTHER = _table(
    ("parameters", "drawn value of an uncertain parameter", "1"),
    ("payment_week", "week of each payment date (settlement, lag, repayment window)", "week"),
    (
        "payments_on_date",
        "payments on each payment date (a top-up fee falls in the weeks the top-up is drawn)",
        "DKK",
    ),
)

REGISTRY: dict[str, Variable] = {**METRICS, **FLOWS, **COUNTS, **OTHER}

STATS = {
    "mean": ("mean", "scenario: mean"),
    "quantile": ("quantile over scenarios", "scenario: quantile"),
}


def base_name(name: str) -> str:
    """The registry name of a stored variable (``state_count_mean`` -> ``state_count``)."""
    for stat in STATS:
        if name.endswith(f"_{stat}") and name[: -len(stat) - 1] in REGISTRY:
            return name[: -len(stat) - 1]
    return name


def variable(name: str) -> Variable:
    """The registry record of a stored variable (KeyError if it is not one)."""
    return REGISTRY[base_name(name)]


def attrs(name: str, stat: str | None = None, note: str = "") -> dict:
    """``long_name``, ``units`` and ``cell_methods`` of a variable; ``stat`` is ``mean`` or
    ``quantile`` for a statistic over scenarios."""
    var = REGISTRY[name]
    long_name = var.long_name
    out = {"units": var.units}
    if stat is not None:
        words, method = STATS[stat]
        long_name = f"{long_name}, {words}"
        out["cell_methods"] = method
    if note:
        long_name = f"{long_name} ({note})"
    out["long_name"] = long_name
    return out


def provenance(title: str, deal_name: str, seed: int, **extra) -> dict:
    """Attributes of every results file: what it is, of which deal, from which seed and
    simrisk version, when; ``extra`` adds kind-specific ones (the deal file's text, the
    number of scenarios, the method)."""
    out = {
        "title": f"simrisk {title}: {deal_name}",
        "deal_name": deal_name,
        "seed": int(seed),
        "simrisk_version": simrisk.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "Conventions": "CF-1.10",
    }
    out.update(extra)
    return out
