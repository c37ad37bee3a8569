"""Deal schema: distributions of uncertain inputs, and stress points."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simrisk.config.base import Positive, Strict
from simrisk.config.deal import CalendarShock


class _Dist(Strict):
    path: str = Field(min_length=1)
    source: str = ""


class Fixed(_Dist):
    distribution: Literal["fixed"]
    value: float


class Uniform(_Dist):
    distribution: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high <= self.low:
            raise ValueError("'high' must be above 'low'")
        return self


class Triangular(_Dist):
    distribution: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not (self.low <= self.mode <= self.high) or self.high <= self.low:
            raise ValueError("need low <= mode <= high and low < high")
        return self


class Normal(_Dist):
    distribution: Literal["normal"]
    mean: float
    sd: Positive
    low: float | None = None
    high: float | None = None


class Lognormal(_Dist):
    distribution: Literal["lognormal"]
    median: Positive
    sigma: Positive


class Beta(_Dist):
    distribution: Literal["beta"]
    alpha: Positive
    beta: Positive
    low: float = 0.0
    high: float = 1.0


class Gamma(_Dist):
    distribution: Literal["gamma"]
    shape: Positive
    scale: Positive


Distribution = Annotated[
    Fixed | Uniform | Triangular | Normal | Lognormal | Beta | Gamma,
    Field(discriminator="distribution"),
]


class Uncertainty(Strict):
    method: Literal["mc", "lhs", "sobol"] = "mc"
    parameters: list[Distribution] = []


# --------------------------------------------------------------------------- stress
OPERATIONS = ("set", "scale", "add", "excess")


class Change(Strict):
    """One change of a stress point: a path (``[*]`` for every element or key) and one
    operation: set, scale (multiply), add, or excess (multiply the excess over 1, for
    hazard ratios)."""

    path: str = Field(min_length=1)
    set: float | None = None
    scale: float | None = None
    add: float | None = None
    excess: float | None = None

    @model_validator(mode="after")
    def _one_op(self) -> Change:
        ops = [k for k in OPERATIONS if getattr(self, k) is not None]
        if len(ops) != 1:
            raise ValueError("give exactly one of 'set', 'scale', 'add', 'excess'")
        return self

    @property
    def op(self) -> tuple[str, float]:
        for k in OPERATIONS:
            if getattr(self, k) is not None:
                return k, getattr(self, k)
        raise AssertionError("unreachable")  # pragma: no cover


class StressPoint(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    changes: list[Change] = []
    calendar: list[CalendarShock] = []

    @model_validator(mode="after")
    def _something(self) -> StressPoint:
        if not self.changes and not self.calendar:
            raise ValueError("a stress point needs 'changes' or 'calendar'")
        return self
