"""Deal schema: benefit rates and the refusion staircase."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simrisk.config.base import Date, Name, NonNegative, PositiveWeeks, Probability, Strict, Text


class RatePoint(Strict):
    valid_from: Date = Field(alias="from")
    value: NonNegative
    source: Text = ""


class Benefit(Strict):
    unit: Literal["week", "month", "year"]
    rates: list[RatePoint] = Field(min_length=1, max_length=1000)
    indexation: Annotated[float, Field(ge=-0.5, le=0.5)] = 0.0
    refusion: Literal["staircase"] | Probability = "staircase"
    source: Text = ""

    @model_validator(mode="after")
    def _sorted(self) -> Benefit:
        dates = [r.valid_from for r in self.rates]
        if any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
            raise ValueError("rates must be in increasing order of 'from' date")
        return self


class RefusionStep(Strict):
    from_week: PositiveWeeks
    state_share: Probability


class Refusion(Strict):
    steps: list[RefusionStep] = Field(min_length=1, max_length=100)
    reset_weeks: PositiveWeeks = 52
    source: Text = ""

    @model_validator(mode="after")
    def _steps(self) -> Refusion:
        weeks = [s.from_week for s in self.steps]
        if weeks[0] != 1 or any(b <= a for a, b in zip(weeks, weeks[1:], strict=False)):
            raise ValueError("refusion steps must start at week 1 and increase")
        return self


class Economics(Strict):
    rules: Name | None = "denmark"
    benefits: dict[Name, Benefit] = Field(default={}, max_length=200)
    refusion: Refusion | None = None
    permanent_benefit: Name | None = None
    perspective: Literal["municipality", "central_government", "public"] = "municipality"

    @model_validator(mode="after")
    def _refusion_present(self) -> Economics:
        if self.refusion is None:
            raise ValueError("a refusion staircase is needed (economics.refusion or rules)")
        return self
