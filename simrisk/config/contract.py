"""Deal schema: the contract (measurement, settlement, payment mechanisms) and the
investor."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simrisk.config.base import (
    NonNegative,
    Positive,
    PositiveWeeks,
    Probability,
    Strict,
    Text,
    Window,
)
from simrisk.vocabulary import OUTCOME_EVENTS, TARGET_OUTCOMES


def _ordered(window: list[int] | None, name: str = "window") -> None:
    """A window [from, to) of weeks that holds at least one week; ``name``: its field."""
    if window is not None and window[1] <= window[0]:
        raise ValueError(
            f"{name}: [{window[0]}, {window[1]}) is empty; give [from, to) with to > from"
        )


CapShare = Annotated[float, Field(gt=0.0, le=100.0)]
"""A cap given as a share of the investor's capital (1.3: 130 % of it)."""


def _one_cap(m) -> None:
    if m.cap is not None and m.cap_share is not None:
        raise ValueError("give 'cap' (DKK) or 'cap_share' (of the capital), not both")


class SavingsShare(Strict):
    kind: Literal["savings_share"]
    share: Probability
    cap: NonNegative | None = None
    cap_share: CapShare | None = None
    window: Window | None = None

    @model_validator(mode="after")
    def _window(self) -> SavingsShare:
        _ordered(self.window)
        _one_cap(self)
        return self


class RateCard(Strict):
    kind: Literal["rate_card"]
    tariffs: dict[Literal[OUTCOME_EVENTS], NonNegative] = Field(min_length=1)
    per_citizen_cap: NonNegative | None = None
    cap: NonNegative | None = None
    cap_share: CapShare | None = None
    window: Window | None = None

    @model_validator(mode="after")
    def _window(self) -> RateCard:
        _ordered(self.window)
        _one_cap(self)
        return self


class Target(Strict):
    """Pay when an outcome rate passes a threshold. ``measure``: the outcome ``at`` the
    week since entry, or ``ever_by`` it; ``window_weeks``: the unbroken weeks of
    self-support that make a citizen ``self_supporting``."""

    kind: Literal["target"]
    outcome: Literal[TARGET_OUTCOMES]
    at_week: PositiveWeeks
    measure: Literal["at", "ever_by"] = "at"
    window_weeks: PositiveWeeks = 1
    threshold: Probability
    full: Probability | None = None
    payment: NonNegative
    basis: Literal["absolute", "difference"] = "absolute"
    source: Text = ""

    @model_validator(mode="after")
    def _full(self) -> Target:
        if self.full is not None and self.full <= self.threshold:
            raise ValueError("'full' must be above 'threshold'")
        if self.window_weeks != 1 and self.outcome != "self_supporting":
            raise ValueError("'window_weeks' is a term of the outcome 'self_supporting' only")
        return self


Mechanism = Annotated[SavingsShare | RateCard | Target, Field(discriminator="kind")]


class Contract(Strict):
    """How the municipality pays. Settlement: what accrues in a period (month, quarter,
    year) falls due in the period's last week and is paid ``settlement_lag_weeks`` later
    (register data arrive one to three months after the period). ``repayment_window``
    [from, to), weeks since the start: a payment due before ``from`` is paid at
    ``from``, one due at or after ``to`` is not paid (default: every payment is made).
    """

    measurement: Literal["counterfactual", "control_group", "baseline", "stays_on_benefit"] = (
        "counterfactual"
    )
    control_size: int | None = Field(default=None, gt=0, le=100_000)
    baseline_scenarios: int = Field(default=1000, gt=0, le=100_000)
    settlement: Literal["month", "quarter", "year"] = "quarter"
    settlement_lag_weeks: int = Field(default=0, ge=0, le=104)
    repayment_window: Window | None = None
    cap: NonNegative | None = None
    cap_share: CapShare | None = None
    mechanisms: list[Mechanism] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _control(self) -> Contract:
        if self.measurement == "control_group" and self.control_size is None:
            raise ValueError("measurement 'control_group' needs 'control_size'")
        _one_cap(self)
        _ordered(self.repayment_window, "repayment_window")
        return self


class Investor(Strict):
    """The investor's terms. ``overrun`` says what happens when the programme costs more
    than the capital: ``top_up`` (the investor pays the rest, and the municipality pays it
    ``top_up_fee`` per DKK of top-up as it is drawn), ``provider`` (the provider bears
    the rest: the investor's drawdowns stop at the capital) or ``fewer_citizens`` (the
    programme takes citizens, in the order of their planned entry, only while the
    set-up and a full course for each fit in the capital)."""

    capital: Positive
    discount_rate: Annotated[float, Field(gt=-0.5, le=1.0)] = 0.05
    return_cap: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    overrun: Literal["top_up", "provider", "fewer_citizens"] = "top_up"
    top_up_fee: Annotated[float, Field(ge=0.0, le=10.0)] = 0.0
    source: Text = ""


def measures(mechanisms: list) -> bool:
    """Whether any payment of a contract (its mechanisms, as models or dumped) rests on its
    measurement: a share of the measured savings, or a target on the difference against
    the measurement's reference. A rate card and absolute targets count the programme
    arm's outcomes and measure nothing."""

    def get(m, key: str):
        return m.get(key) if isinstance(m, dict) else getattr(m, key, None)

    return any(
        get(m, "kind") == "savings_share"
        or (get(m, "kind") == "target" and get(m, "basis") == "difference")
        for m in mechanisms
    )
