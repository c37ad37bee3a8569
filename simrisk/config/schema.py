"""The whole deal: every section, and the checks that span sections."""

from __future__ import annotations

from pydantic import Field, PrivateAttr, model_validator

from simrisk.config.base import Strict
from simrisk.config.contract import Contract, Investor
from simrisk.config.deal import Cohort, Deal, Effect, Labour, Programme
from simrisk.config.economics import Economics
from simrisk.config.evidence import Calibration, EvidenceUse
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
    evidence: list[EvidenceUse] = Field(default=[], max_length=100)
    calibration: Calibration | None = None
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
        problems += self._benefit_problems()
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
        last_pay = H + self.contract.settlement_lag_weeks
        window = self.contract.repayment_window
        if window is not None and window[1] > last_pay:
            problems.append(
                f"contract.repayment_window: ends in week {window[1]}, after the weeks in which "
                f"payments can fall (before week {last_pay}: deal.horizon_weeks + "
                "settlement_lag_weeks)"
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
        if (
            self.investor.overrun == "fewer_citizens"
            and self.programme.setup_cost > self.investor.capital
        ):
            problems.append(
                f"investor.capital: the capital, {self.investor.capital:,.0f} DKK, is below "
                f"programme.setup_cost ({self.programme.setup_cost:,.0f} DKK): with "
                "investor.overrun = 'fewer_citizens' not even the set-up fits in it (raise "
                "the capital, or choose 'top_up' or 'provider')"
            )
        if problems:
            raise ValueError("\n".join(problems))
        self._warnings.extend(self._capital_warnings() + self._appraisal_warnings())
        return self

    def _appraisal_warnings(self) -> list[str]:
        """An appraisal that discounts the nominal flows at its real rate undeflated."""
        a = self.economics.appraisal
        drawn = {p.path for p in self.uncertainty.parameters}
        if a is None or a.inflation != 0:
            return []
        if "economics.appraisal.inflation" in drawn:
            return []
        return [
            "economics.appraisal.inflation: 0, so the nominal flows are discounted at the "
            f"real rate of {a.discount_rate:g} as they are, which makes the present values "
            "too high; give the expected yearly price growth (the included deals take 0.02)"
        ]

    @property
    def course_cost(self) -> float:
        """What a full course of the programme costs per citizen, at the file's values."""
        return sum(p.weeks * p.cost_per_week for p in self.programme.phases)

    @property
    def expected_course_cost(self) -> float:
        """What a citizen's course costs on average, at the file's values: each phase's
        weeks weighted by the chance of not having dropped out (weekly dropout)."""
        total, alive = 0.0, 1.0
        for p in self.programme.phases:
            stay = 1.0 - p.dropout
            weeks = p.weeks if p.dropout == 0 else (1.0 - stay**p.weeks) / p.dropout
            total += alive * weeks * p.cost_per_week
            alive *= stay**p.weeks
        return total

    def _capital_warnings(self) -> list[str]:
        """The expected cost (set-up, and the average course of every planned citizen
        who enrols) against the capital, at the file's values."""
        planned = self.programme.setup_cost + self.cohort.size * self.cohort.uptake * (
            self.expected_course_cost
        )
        capital = self.investor.capital
        if planned <= capital:
            return []
        what = {
            "top_up": "the investor pays what goes beyond it"
            + (
                f" and the municipality a fee of {self.investor.top_up_fee:g} per DKK"
                if self.investor.top_up_fee > 0
                else ""
            ),
            "provider": "the provider bears what goes beyond it",
            "fewer_citizens": "the programme takes fewer citizens",
        }[self.investor.overrun]
        return [
            f"investor.capital: the expected programme cost, {planned / 1e6:.2f} mio. DKK "
            f"(set-up and the average course, with dropout, of {self.cohort.size} x "
            f"{self.cohort.uptake:g} citizens), exceeds the capital of {capital / 1e6:.2f} mio."
            f" DKK; with investor.overrun = '{self.investor.overrun}' {what}"
        ]

    def _benefit_problems(self) -> list[str]:
        """Every benefit named exists; every state the transitions reach has what it needs."""
        problems = []
        econ = self.economics
        known = sorted(econ.benefits)

        def missing(where: str, name: str | None) -> None:
            if name is not None and name not in econ.benefits:
                problems.append(
                    f"{where}: no rates for benefit '{name}' in economics.benefits "
                    f"(known: {', '.join(known) or 'none'})"
                )

        reached = {t.to for t in self.labour.transitions}
        for i, seg in enumerate(self.cohort.segments):
            at = f"cohort.segments[{i}]"
            missing(f"{at}.benefit", seg.benefit)
            for k, stage in enumerate(seg.path):
                missing(f"{at}.path[{k}].benefit", stage.benefit)
            if seg.unemployed is not None:
                missing(f"{at}.unemployed.insured", seg.unemployed.insured)
                missing(f"{at}.unemployed.uninsured", seg.unemployed.uninsured)
                if seg.insured_share > 0 and seg.unemployed.insured is None:
                    problems.append(
                        f"{at}.unemployed.insured: insured_share is {seg.insured_share:g}, so "
                        "insured citizens need their benefit (a-dagpenge)"
                    )
            elif "unemployed" in reached:
                problems.append(
                    f"{at}.unemployed: transitions into 'unemployed' need the benefits paid "
                    "there (insured, uninsured)"
                )
        for state, field in (
            ("permanent", "permanent_benefit"),
            ("subsidised", "subsidised_benefit"),
            ("fleksjob", "fleksjob_benefit"),
        ):
            name = getattr(econ, field)
            if state in reached and name is None:
                problems.append(
                    f"economics.{field}: transitions into '{state}' need the benefit paid there"
                )
            missing(f"economics.{field}", name)
        missing("economics.education_benefit", econ.education_benefit)
        for name, ben in econ.benefits.items():
            missing(f"economics.benefits.{name}.earnings_ceiling", ben.earnings_ceiling)
            for k, rule in enumerate(ben.earnings_changes):
                missing(f"economics.benefits.{name}.earnings_changes[{k}].ceiling", rule.ceiling)
        earnings = [n for n, b in econ.benefits.items() if b.partial == "earnings"]
        used = {b for seg in self.cohort.segments for b in seg.benefits}
        if (
            self.labour.hours.full_time_share < 1.0
            and self.labour.hours.full_time_wage <= 0.0
            and any(n in used for n in earnings)
        ):
            problems.append(
                "labour.hours.full_time_wage: part-time jobs reduce "
                f"{', '.join(n for n in earnings if n in used)} by earnings, so the full-time "
                "wage is needed"
            )
        return problems
