"""Deal schema: benefit rates and the refusion staircase."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simrisk.config.base import Date, Name, NonNegative, PositiveWeeks, Probability, Strict, Text


class RatePoint(Strict):
    valid_from: Date = Field(alias="from")
    value: NonNegative
    source: Text = ""


class EarningsRule(Strict):
    """An earnings rule of a benefit in force from a date (``earnings_changes``): the
    fields of the benefit's own ``earnings_*`` rule without the prefix; a field left out
    takes its default, not the earlier rule's value."""

    valid_from: Date = Field(alias="from")
    disregard: NonNegative = 0.0
    disregard_per_hour: NonNegative = 0.0
    deduction: Probability = 1.0
    ceiling: Name | None = None
    ceiling_share: Annotated[float, Field(gt=0.0, le=2.0)] = 1.0
    limit: NonNegative | None = None
    deduction_above: Probability = 1.0
    source: Text = ""


class Benefit(Strict):
    """A benefit's dated rates and how it is financed and reduced.

    ``indexation``: a flat yearly regulation after the last rate (None: the shared
    ``economics.regulation``). ``refusion``: the staircase, or a fixed central-government
    share. ``on_staircase``: weeks on it count on the citizen's refusion counter (and are
    not self-support). ``self_support``: weeks on it count as self-support (SU).
    ``partial``: how a part-time job reduces it: ``none`` (it stops), ``hours`` (paid for
    the hours not worked), ``earnings`` (less ``earnings_deduction`` of the counted
    earnings above ``earnings_disregard`` DKK a month; ``earnings_counted`` of the gross
    wage is counted; ``earnings_disregard_per_hour`` more for each hour worked, at most
    160 hours a month), and from where benefit and earnings together reach
    ``earnings_ceiling_share`` of the rate of ``earnings_ceiling`` earnings are deducted
    krone for krone. With ``earnings_limit`` (DKK a month of counted earnings),
    ``earnings_deduction`` applies to the counted earnings up to the limit and
    ``earnings_deduction_above`` to those above it (the ressourceforløbsydelse's
    lønindtægtsgrænse); a limit below the disregard leaves the first share nothing to
    deduct, and the second applies above the disregard. ``full_time_job_ends``: a
    full-time job ends the benefit whatever its earnings rule leaves (the citizen is
    then fit for work); the rule applies to part-time jobs. ``earnings_changes``: later
    earnings rules, each in force from its date (:class:`EarningsRule`); a job keeps
    what the rule in force in its first week leaves. ``partial_max_weeks``: a job keeps
    the reduced benefit for at most this many weeks of the job spell (None: for the
    whole spell)."""

    unit: Literal["week", "month", "year"]
    rates: list[RatePoint] = Field(min_length=1, max_length=1000)
    indexation: Annotated[float, Field(ge=-0.5, le=0.5)] | None = None
    refusion: Literal["staircase"] | Probability = "staircase"
    on_staircase: bool = True
    self_support: bool = False
    partial: Literal["none", "hours", "earnings"] = "none"
    earnings_disregard: NonNegative = 0.0
    earnings_disregard_per_hour: NonNegative = 0.0
    earnings_deduction: Probability = 1.0
    earnings_counted: Probability = 0.92
    earnings_ceiling: Name | None = None
    earnings_ceiling_share: Annotated[float, Field(gt=0.0, le=2.0)] = 1.0
    earnings_limit: NonNegative | None = None
    earnings_deduction_above: Probability = 1.0
    full_time_job_ends: bool = False
    earnings_changes: list[EarningsRule] = Field(default_factory=list, max_length=100)
    partial_max_weeks: PositiveWeeks | None = None
    source: Text = ""

    @model_validator(mode="after")
    def _sorted(self) -> Benefit:
        dates = [r.valid_from for r in self.rates]
        if any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
            raise ValueError("rates must be in increasing order of 'from' date")
        changes = [r.valid_from for r in self.earnings_changes]
        if any(b <= a for a, b in zip(changes, changes[1:], strict=False)):
            raise ValueError("earnings_changes must be in increasing order of 'from' date")
        if changes and self.partial != "earnings":
            raise ValueError(
                f"earnings_changes: the benefit is reduced by '{self.partial}', not by "
                'earnings (set partial = "earnings")'
            )
        # (values, not the fields given: a dumped deal is validated again with every field)
        if self.partial != "earnings":
            for f, unset in (("earnings_limit", None), ("earnings_deduction_above", 1.0)):
                if getattr(self, f) != unset:
                    raise ValueError(
                        f"{f}: the benefit is reduced by '{self.partial}', not by earnings "
                        '(set partial = "earnings")'
                    )
        rules = [("earnings_", self.earnings_limit, self.earnings_deduction_above)] + [
            (f"earnings_changes[{k}].", r.limit, r.deduction_above)
            for k, r in enumerate(self.earnings_changes)
        ]
        for at, limit, above in rules:
            if limit is None and above != 1.0:
                raise ValueError(
                    f"{at}deduction_above: applies above a limit, and no {at}limit is given"
                )
        if self.full_time_job_ends and self.partial == "none":
            raise ValueError(
                'full_time_job_ends: every job ends this benefit (partial = "none") already'
            )
        if self.partial_max_weeks is not None and self.partial == "none":
            raise ValueError(
                'partial_max_weeks: a job ends this benefit (partial = "none"), so there '
                "is no reduced benefit to limit"
            )
        if self.on_staircase and self.self_support:
            raise ValueError(
                "self_support: weeks on a benefit on the refusion staircase are not "
                "self-support (set on_staircase = false)"
            )
        return self


class RefusionStep(Strict):
    from_week: PositiveWeeks
    state_share: Probability


class Refusion(Strict):
    """The refusion staircase by the citizen's weeks on benefit; the count restarts once
    the citizen has had ``reset_weeks`` weeks of self-support in total within the last
    ``reset_window_weeks`` weeks (in the week it reaches them), the weeks counted after
    the last placement on the staircase: from entry, and after a restart from the next
    week on a benefit on the staircase (§ 6 of the refusion law)."""

    steps: list[RefusionStep] = Field(min_length=1, max_length=100)
    reset_weeks: PositiveWeeks = 52
    reset_window_weeks: int = Field(default=156, gt=0, le=312)
    source: Text = ""

    @model_validator(mode="after")
    def _steps(self) -> Refusion:
        weeks = [s.from_week for s in self.steps]
        if weeks[0] != 1 or any(b <= a for a, b in zip(weeks, weeks[1:], strict=False)):
            raise ValueError("refusion steps must start at week 1 and increase")
        if self.reset_window_weeks < self.reset_weeks:
            raise ValueError("reset_window_weeks: must be at least reset_weeks")
        return self


class RegulationYear(Strict):
    year: int = Field(ge=1900, le=2200)
    rate: Annotated[float, Field(ge=-0.2, le=0.5)]
    source: Text = ""


class Regulation(Strict):
    """The yearly regulation of benefit rates (satsregulering) each 1 January: the
    published rate per year, and an assumed rate for the years after."""

    years: list[RegulationYear] = Field(default=[], max_length=200)
    assumed: Annotated[float, Field(ge=-0.2, le=0.5)] = 0.0
    source: Text = ""

    @model_validator(mode="after")
    def _years(self) -> Regulation:
        ys = [y.year for y in self.years]
        if any(b <= a for a, b in zip(ys, ys[1:], strict=False)):
            raise ValueError("years: must be given in increasing order, once each")
        return self


class Tax(Strict):
    """Tax on earnings from ordinary jobs, counted in the central-government and public
    perspectives (``municipal_share`` of it in the municipality's)."""

    rate: Probability
    municipal_share: Probability = 0.0
    source: Text = ""


class Appraisal(Strict):
    """A discounted net over a horizon of up to 10 years from the deal's start (as in
    Socialstyrelsen's SØM), beside the undiscounted net over the deal's horizon.

    ``discount_rate`` is a real rate (Finansministeriet's is 3.5 %); simrisk's flows are
    nominal (the rates regulated each year, the tariffs fixed in kroner), so they are
    first deflated to the start's prices by ``inflation``, the expected yearly growth of
    consumer prices: a flow in year t is divided by (1 + inflation)^t (1 +
    discount_rate)^t. ``inflation = 0`` discounts the nominal flows at the real rate
    as they are, which overstates a present value."""

    discount_rate: Annotated[float, Field(ge=0.0, le=0.2)] = 0.035
    inflation: Annotated[float, Field(ge=-0.05, le=0.2)] = 0.0
    years: int = Field(default=10, ge=1, le=10)
    source: Text = ""


class Economics(Strict):
    rules: Name | None = "denmark"
    benefits: dict[Name, Benefit] = Field(default={}, max_length=200)
    refusion: Refusion | None = None
    regulation: Regulation = Regulation()
    permanent_benefit: Name | None = None
    education_benefit: Name | None = None
    subsidised_benefit: Name | None = None
    fleksjob_benefit: Name | None = None
    perspective: Literal["municipality", "central_government", "public"] = "municipality"
    tax: Tax | None = None
    appraisal: Appraisal | None = None
    equalisation_share: Probability = 0.0

    @model_validator(mode="after")
    def _refusion_present(self) -> Economics:
        if self.refusion is None:
            raise ValueError("a refusion staircase is needed (economics.refusion or rules)")
        return self
