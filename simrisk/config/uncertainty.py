"""Deal schema: distributions of uncertain inputs, and stress points."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simrisk.config.base import MAX_AMOUNT, Name, Strict, Text
from simrisk.config.deal import CalendarShock

Real = Annotated[float, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
Positive = Annotated[float, Field(gt=0.0, le=MAX_AMOUNT)]


def _low_below_high(low: float, high: float) -> None:
    if high <= low:
        raise ValueError("'high' must be above 'low'")


class _Dist(Strict):
    path: Annotated[str, Field(min_length=1, max_length=500)]
    label: Text = ""
    """A readable name for tables and figures (default: made from the deal's structure)."""
    source: Text = ""


class Fixed(_Dist):
    distribution: Literal["fixed"]
    value: Real


class Uniform(_Dist):
    distribution: Literal["uniform"]
    low: Real
    high: Real

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        _low_below_high(self.low, self.high)
        return self


class Triangular(_Dist):
    distribution: Literal["triangular"]
    low: Real
    mode: Real
    high: Real

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not (self.low <= self.mode <= self.high) or self.high <= self.low:
            raise ValueError("need low <= mode <= high and low < high")
        return self


class Normal(_Dist):
    distribution: Literal["normal"]
    mean: Real
    sd: Positive
    low: Real | None = None
    high: Real | None = None

    @model_validator(mode="after")
    def _order(self) -> Normal:
        if self.low is not None and self.high is not None:
            _low_below_high(self.low, self.high)
        return self


class Lognormal(_Dist):
    distribution: Literal["lognormal"]
    median: Positive
    sigma: Annotated[float, Field(gt=0.0, le=10.0)]


class Beta(_Dist):
    distribution: Literal["beta"]
    alpha: Positive
    beta: Positive
    low: Real = 0.0
    high: Real = 1.0

    @model_validator(mode="after")
    def _order(self) -> Beta:
        _low_below_high(self.low, self.high)
        return self


class Gamma(_Dist):
    distribution: Literal["gamma"]
    shape: Positive
    scale: Positive


Distribution = Annotated[
    Fixed | Uniform | Triangular | Normal | Lognormal | Beta | Gamma,
    Field(discriminator="distribution"),
]


class Posterior(Strict):
    """Joint draws of calibrated parameters (a calibration's posterior), read from the
    file the deal names in ``uncertainty.posterior``: every scenario takes one whole
    draw, so the correlation between the parameters is kept."""

    file: Annotated[str, Field(max_length=1000)] = ""
    deal: Text = ""
    method: Text = Field(min_length=1)
    source: Text = Field(min_length=1)
    created: Text = ""
    fitted_to: list[Annotated[str, Field(max_length=500)]] = Field(default=[], max_length=2000)
    """The endpoints fitted, as ``study:endpoint@arm`` (the rest are out of sample)."""
    seed: int = Field(default=0, ge=0)
    particles: int = Field(default=0, ge=0)
    evaluations: int = Field(default=0, ge=0)
    paths: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=50
    )
    draws: list[list[Real]] = Field(min_length=2, max_length=100_000)

    @model_validator(mode="after")
    def _rows(self) -> Posterior:
        k = len(self.paths)
        if len(set(self.paths)) != k:
            raise ValueError("'paths' names a parameter twice")
        bad = next((i for i, row in enumerate(self.draws) if len(row) != k), None)
        if bad is not None:
            raise ValueError(f"draws[{bad}] has {len(self.draws[bad])} values for {k} paths")
        return self


class Correlation(Strict):
    """A Spearman rank correlation between two uncertain inputs (paths of
    ``uncertainty.parameters``, or a calibration posterior's parameter)."""

    between: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=2, max_length=2
    )
    rank: Annotated[float, Field(gt=-1.0, lt=1.0)]
    source: Text = ""

    @model_validator(mode="after")
    def _two(self) -> Correlation:
        if self.between[0] == self.between[1]:
            raise ValueError("'between' names the same input twice")
        return self


class Uncertainty(Strict):
    method: Literal["mc", "lhs", "sobol"] = "mc"
    parameters: list[Distribution] = Field(default=[], max_length=500)
    posterior: Posterior | None = None
    correlations: list[Correlation] = Field(default=[], max_length=1000)
    """Rank correlations between inputs, by a Gaussian copula (:mod:`simrisk.copula`)."""

    @property
    def n_parameters(self) -> int:
        """Uncertain leaves: those with a distribution and a posterior's parameters (the
        columns of a run's table of draws)."""
        return len(self.parameters) + (len(self.posterior.paths) if self.posterior else 0)

    @property
    def n_inputs(self) -> int:
        """Independent inputs: each distribution, and a posterior as one."""
        return len(self.parameters) + (self.posterior is not None)


# --------------------------------------------------------------------------- stress
OPERATIONS = ("set", "scale", "add", "excess")


class Change(Strict):
    """One change of a stress point: a path (``[*]`` for every element or key) and one
    operation: set, scale (multiply), add, or excess (multiply the excess over 1, for
    hazard ratios)."""

    path: Annotated[str, Field(min_length=1, max_length=500)]
    set: Real | None = None
    scale: Real | None = None
    add: Real | None = None
    excess: Real | None = None

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
    name: Name
    description: Text = ""
    changes: list[Change] = Field(default=[], max_length=1000)
    calendar: list[CalendarShock] = Field(default=[], max_length=100)

    @model_validator(mode="after")
    def _something(self) -> StressPoint:
        if not self.changes and not self.calendar:
            raise ValueError("a stress point needs 'changes' or 'calendar'")
        return self
