"""The whole deal: every section, and the checks that span sections."""

from __future__ import annotations

from pydantic import PrivateAttr, model_validator

from simrisk.config.base import Strict
from simrisk.config.contract import Contract, Investor
from simrisk.config.deal import Cohort, Deal, Effect, Labour, Programme
from simrisk.config.economics import Economics
from simrisk.config.uncertainty import StressPoint, Uncertainty
from simrisk.vocabulary import HR_KINDS


class DealConfig(Strict):
    deal: Deal
    cohort: Cohort
    programme: Programme
    labour: Labour
    effect: Effect
    economics: Economics
    contract: Contract
    investor: Investor
    uncertainty: Uncertainty = Uncertainty()
    stress: list[StressPoint] = []
    _warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Things the loader noticed that are not errors (deprecated names)."""
        return self._warnings

    @model_validator(mode="after")
    def _cross(self) -> DealConfig:
        problems = []
        n_phases = len(self.programme.phases)
        if self.programme.total_weeks >= self.deal.horizon_weeks:
            problems.append(
                f"programme.phases: the phases last {self.programme.total_weeks} weeks, not "
                f"less than deal.horizon_weeks ({self.deal.horizon_weeks})"
            )
        for name in HR_KINDS:
            hrs = getattr(self.effect, name)
            if hrs is not None and len(hrs) != n_phases:
                problems.append(
                    f"effect.{name}: {len(hrs)} hazard ratios for {n_phases} programme phases"
                )
        known = sorted(self.economics.benefits)
        for i, seg in enumerate(self.cohort.segments):
            if seg.benefit not in self.economics.benefits:
                problems.append(
                    f"cohort.segments[{i}].benefit: no rates for benefit '{seg.benefit}' in "
                    f"economics.benefits (known: {', '.join(known) or 'none'})"
                )
        uses_permanent = any(t.to == "permanent" for t in self.labour.transitions)
        pb = self.economics.permanent_benefit
        if uses_permanent and pb is None:
            problems.append(
                "economics.permanent_benefit: transitions into 'permanent' need the benefit "
                "paid there"
            )
        if pb is not None and pb not in self.economics.benefits:
            problems.append(
                f"economics.permanent_benefit: no rates for benefit '{pb}' in economics.benefits"
            )
        last_entry = self.cohort.enrolment.last_week
        H = self.deal.horizon_weeks
        if last_entry >= H:
            problems.append(
                f"cohort.enrolment: enrolment runs to week {last_entry}, beyond "
                f"deal.horizon_weeks ({H})"
            )
        if self.cohort.enrolment.delay_weeks >= H:
            problems.append(
                f"cohort.enrolment.delay_weeks: {self.cohort.enrolment.delay_weeks:g} weeks of "
                f"delay leave nobody enrolled within deal.horizon_weeks ({H})"
            )
        for m, mech in enumerate(self.contract.mechanisms):
            at = f"contract.mechanisms[{m}]"
            window = getattr(mech, "window", None)
            if window is not None and window[0] >= H:
                problems.append(
                    f"{at}.window: starts in week {window[0]}, after deal.horizon_weeks ({H})"
                )
            if mech.kind == "target" and mech.at_week >= H:
                problems.append(
                    f"{at}.at_week: week {mech.at_week} after entry lies beyond "
                    f"deal.horizon_weeks ({H}) for every citizen"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self
