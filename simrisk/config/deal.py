"""Deal schema, first part: the deal, its cohort, the programme, the labour market and
the programme's effect."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simrisk.config.base import (
    MAX_WEEKS,
    Date,
    Name,
    NonNegative,
    PositiveWeeks,
    Probability,
    Ratio,
    Strict,
    Text,
    Weeks,
)
from simrisk.vocabulary import ABSORBING_STATES, LABOUR_STATES


class Deal(Strict):
    name: Name
    currency: str = Field(default="DKK", min_length=1, max_length=10)
    start_date: Date
    horizon_weeks: PositiveWeeks
    description: Text = ""


# ------------------------------------------------------------------------- cohort
class Enrolment(Strict):
    schedule: Literal["uniform", "counts"] = "uniform"
    weeks: PositiveWeeks | None = None
    counts: list[Annotated[int, Field(ge=0, le=100_000)]] | None = Field(
        default=None, max_length=MAX_WEEKS
    )
    period_weeks: PositiveWeeks = 4
    delay_weeks: Annotated[float, Field(ge=0.0, le=MAX_WEEKS)] = 0.0

    @model_validator(mode="after")
    def _schedule_fields(self) -> Enrolment:
        if self.schedule == "uniform" and self.weeks is None:
            raise ValueError("schedule 'uniform' needs 'weeks' (length of the enrolment window)")
        if self.schedule == "counts" and not self.counts:
            raise ValueError("schedule 'counts' needs a non-empty 'counts' list")
        return self

    @property
    def last_week(self) -> int:
        """The week after the enrolment window (before any delay)."""
        if self.schedule == "uniform":
            return self.weeks
        return len(self.counts) * self.period_weeks


class PathStage(Strict):
    """A later benefit of a segment's path: from ``after_weeks`` weeks on benefit in the
    spell, a share of those still on the earlier benefit move to ``benefit`` (the rest stay,
    e.g. extended sygedagpenge)."""

    after_weeks: PositiveWeeks
    benefit: Name
    share: Probability = 1.0
    source: Text = ""


class Unemployed(Strict):
    """What a citizen of the segment receives when fit for work without a job (state
    ``unemployed``): an insured citizen ``insured`` (a-dagpenge) for ``insured_weeks``,
    then ``uninsured``; an uninsured citizen ``uninsured`` (kontanthjælp)."""

    insured: Name | None = None
    insured_weeks: PositiveWeeks = 104
    uninsured: Name
    source: Text = ""


class Segment(Strict):
    name: Name
    benefit: Name
    share: Probability
    weeks_on_benefit: Weeks = 0
    job_hazard_ratio: Ratio = 1.0
    path: list[PathStage] = Field(default=[], max_length=7)
    insured_share: Probability = 0.0
    unemployed: Unemployed | None = None
    source: Text = ""

    @model_validator(mode="after")
    def _path_order(self) -> Segment:
        weeks = [p.after_weeks for p in self.path]
        if any(b <= a for a, b in zip(weeks, weeks[1:], strict=False)):
            raise ValueError("path: the stages' 'after_weeks' must increase")
        return self

    @property
    def benefits(self) -> list[str]:
        """Every benefit the segment's citizens can receive."""
        out = [self.benefit] + [p.benefit for p in self.path]
        if self.unemployed is not None:
            out += [b for b in (self.unemployed.insured, self.unemployed.uninsured) if b]
        return out


class Cohort(Strict):
    size: int = Field(gt=0, le=100_000)
    uptake: Probability = 1.0
    frailty_variance: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    enrolment: Enrolment
    segments: list[Segment] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _shares_and_counts(self) -> Cohort:
        problems = []
        total = sum(s.share for s in self.segments)
        if abs(total - 1.0) > 1e-6:
            problems.append(f"segments: the shares must sum to 1 (they sum to {total:g})")
        if self.enrolment.schedule == "counts" and sum(self.enrolment.counts) != self.size:
            problems.append(
                f"enrolment.counts: they sum to {sum(self.enrolment.counts)}, not the cohort "
                f"size {self.size}"
            )
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            problems.append("segments: names must be unique")
        if problems:
            raise ValueError("\n".join(problems))
        return self


# ----------------------------------------------------------------------- programme
class Phase(Strict):
    name: Name
    weeks: PositiveWeeks
    cost_per_week: NonNegative
    dropout: Probability = 0.0


class Programme(Strict):
    setup_cost: NonNegative = 0.0
    phases: list[Phase] = Field(min_length=1, max_length=12)

    @property
    def total_weeks(self) -> int:
        return sum(p.weeks for p in self.phases)


# -------------------------------------------------------------------------- labour
class Transition(Strict):
    from_state: Literal[LABOUR_STATES] = Field(alias="from")
    to: Literal[LABOUR_STATES]
    probability: Probability | Annotated[list[Probability], Field(min_length=1, max_length=100)]
    from_week: Annotated[list[Weeks], Field(max_length=100)] | None = None
    source: Text = ""

    @model_validator(mode="after")
    def _pieces(self) -> Transition:
        if self.from_state == self.to:
            raise ValueError(f"a transition from '{self.to}' to itself is not a transition")
        if self.from_state in ABSORBING_STATES:
            raise ValueError(f"'{self.from_state}' is absorbing: no transitions out of it")
        probs = self.probabilities
        weeks = self.from_week
        if weeks is None:
            if len(probs) != 1:
                raise ValueError(
                    "several probabilities need 'from_week' (weeks in state per piece)"
                )
        else:
            if len(weeks) != len(probs):
                raise ValueError(
                    f"'from_week' has {len(weeks)} entries but 'probability' has {len(probs)}"
                )
            if weeks[0] != 0 or any(b <= a for a, b in zip(weeks, weeks[1:], strict=False)):
                raise ValueError("'from_week' must start at 0 and increase")
        return self

    @property
    def probabilities(self) -> list[float]:
        p = self.probability
        return list(p) if isinstance(p, list) else [p]

    @property
    def piece_starts(self) -> list[int]:
        return list(self.from_week) if self.from_week is not None else [0]

    @property
    def single(self) -> bool:
        """One probability given as a number (its path has no index)."""
        return self.from_week is None and not isinstance(self.probability, list)


class CalendarShock(Strict):
    start: Date
    end: Date
    job_entry_multiplier: Ratio
    source: Text = ""

    @model_validator(mode="after")
    def _order(self) -> CalendarShock:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self


class Hours(Strict):
    """Hours of a job: each job spell is full-time with probability ``full_time_share``,
    else part-time at ``part_time_hours`` of full time. ``full_time_wage`` is the gross
    monthly wage of a full-time job (for benefits reduced by earnings, and for tax)."""

    full_time_share: Probability = 1.0
    part_time_hours: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    full_time_wage: NonNegative = 0.0
    source: Text = ""


class Labour(Strict):
    transitions: list[Transition] = Field(min_length=1, max_length=100)
    job_entry_multiplier: Ratio = 1.0
    job_loss_multiplier: Ratio = 1.0
    """Scales the hazards of job loss (employed -> benefit, employed -> unemployed) in
    both arms: how long jobs last, which a calibration to weeks worked or to sustained
    jobs fits."""
    calendar: list[CalendarShock] = Field(default=[], max_length=100)
    hours: Hours = Hours()

    @model_validator(mode="after")
    def _unique(self) -> Labour:
        seen = set()
        for t in self.transitions:
            key = (t.from_state, t.to)
            if key in seen:
                raise ValueError(f"transition {t.from_state} -> {t.to} is given twice")
            seen.add(key)
        return self


# -------------------------------------------------------------------------- effect
class Effect(Strict):
    job_entry: list[Ratio] = Field(min_length=1)
    education_entry: list[Ratio] | None = None
    job_loss: list[Ratio] | None = None
    persistence: Probability = 0.5
    fade_block_weeks: PositiveWeeks = 13
    source: Text = ""
