"""Evidence files: what a published study reports, in its own definitions.

One file per study (trial, register study, evaluation, review) in
``configs/evidence/``: the study, its population, its arms with their sizes, and
every endpoint it reports at every follow-up. An endpoint is one of

* ``at_week``: the share in some states at a week since the study's origin;
* ``ever_by``: the share who have entered a state at least once by a week (a job,
  education, or the first week without public benefit, ``off_benefit``);
* ``weeks_in``: the mean weeks spent in some states over a window of weeks;
* ``time_to_event``: a quantile (the median: 0.5) of the weeks to the first entry;
* ``sustained``: among those who entered a job, the share whose first spell lasted
  at least ``spell_weeks`` weeks;
* ``contrast``: a comparison of two arms (hazard, risk or odds ratio, difference);
* ``other``: an endpoint the model's states cannot express (recorded, never fitted).

A deal binds an evidence file in its ``[[evidence]]`` section: which study arm is which
of the deal's arms, which endpoints its calibration uses, and where the study's time
origin lies in weeks after a citizen's entry.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, model_validator

from simrisk.config.base import Name, Strict, Text, Weeks, Window
from simrisk.vocabulary import LABOUR_STATES

DESIGNS = (
    "rct",
    "cluster_rct",
    "quasi_randomised",
    "register_cohort",
    "register_evaluation",
    "meta_analysis",
    "review",
    "administrative_statistics",
)
KINDS = ("at_week", "ever_by", "weeks_in", "time_to_event", "sustained", "contrast", "other")
SHARE_KINDS = ("at_week", "ever_by", "sustained")
EVENT_STATES = ("employed", "education", "off_benefit", "declared_fit", "self_supporting_work")
"""What an ``ever_by`` or ``time_to_event`` endpoint can count: the first week in a job,
in education, without public benefit (self-support in the sense of § 6), the end of the
benefit course for a destination fit for work, or self-support in an ordinary job."""
MEASURES = ("hazard_ratio", "risk_ratio", "odds_ratio", "difference")


class Population(Strict):
    diagnosis: Text
    benefit: Text
    age: Text
    setting: Text = ""
    description: Text = ""


class Arm(Strict):
    id: Name
    label: Name
    role: Literal["control", "intervention"]
    n: int | None = Field(default=None, gt=0, le=10_000_000)
    """Randomised or analysed (the description says which); None when not reported."""
    description: Text = ""


SUSTAINED_WEEKS = (13, 26, 52)
"""The lengths of job spell whose completion the simulation records (kind 'sustained')."""


class Endpoint(Strict):
    id: Name
    arm: Name
    kind: Literal[KINDS]
    states: list[Literal[LABOUR_STATES + EVENT_STATES[2:]]] | None = None
    week: Weeks | None = None
    window: Window | None = None
    quantile: float | None = Field(default=None, gt=0.0, lt=1.0)
    spell_weeks: int | None = Field(default=None, gt=0, le=520)
    measure: Literal[MEASURES] | None = None
    versus: Name | None = None
    basis: Literal["at_week", "ever_by"] | None = None
    value: float
    n: int | None = Field(default=None, gt=0, le=10_000_000)
    se: float | None = Field(default=None, gt=0.0)
    sd: float | None = Field(default=None, gt=0.0)
    ci: list[float] | None = Field(default=None, min_length=2, max_length=2)
    derived: Text = ""
    origin: Text = ""
    definition: Text = Field(min_length=1)
    source: Text = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> Endpoint:
        need = {
            "at_week": ("states", "week"),
            "ever_by": ("states", "week"),
            "weeks_in": ("states", "window"),
            "time_to_event": ("states", "quantile"),
            "sustained": ("spell_weeks", "week"),
            "contrast": ("measure", "versus"),
            "other": (),
        }[self.kind]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"kind '{self.kind}' needs {', '.join(repr(m) for m in missing)}")
        if not math.isfinite(self.value):
            raise ValueError("'value' must be a finite number")
        if self.kind in SHARE_KINDS and not 0.0 <= self.value <= 1.0:
            raise ValueError("a share must be between 0 and 1")
        if self.kind in ("weeks_in", "time_to_event") and self.value < 0:
            raise ValueError("weeks cannot be negative")
        if self.kind == "ever_by" and self.week < 1:
            raise ValueError(
                "kind 'ever_by' counts entries by a week after the origin: 'week' >= 1"
            )
        if self.kind == "sustained":
            if self.spell_weeks not in SUSTAINED_WEEKS:
                raise ValueError(
                    "kind 'sustained' counts job spells of "
                    f"{', '.join(map(str, SUSTAINED_WEEKS[:-1]))} or {SUSTAINED_WEEKS[-1]} "
                    f"weeks: 'spell_weeks' = {self.spell_weeks} is not one"
                )
            if self.states not in (None, ["employed"]):
                raise ValueError("kind 'sustained' counts job spells: states = ['employed']")
        if self.kind in ("ever_by", "time_to_event") and not set(self.states) <= set(EVENT_STATES):
            raise ValueError(f"kind '{self.kind}' counts entries into {', '.join(EVENT_STATES)}")
        if self.kind in ("at_week", "weeks_in") and set(self.states) & set(EVENT_STATES[2:]):
            raise ValueError(
                f"{', '.join(EVENT_STATES[2:])} are events: use kind 'ever_by' or 'time_to_event'"
            )
        if self.kind == "weeks_in":
            if self.window[1] <= self.window[0]:
                raise ValueError("'window' = [from, to) needs to > from")
            if self.sd is not None and self.n is None:
                raise ValueError("an 'sd' needs the 'n' it is of")
        if self.kind == "contrast" and self.basis is not None:
            if self.states is None or self.week is None:
                raise ValueError("a contrast with a 'basis' needs 'states' and 'week'")
            if self.measure == "hazard_ratio" and self.basis != "ever_by":
                raise ValueError(
                    "a hazard ratio compares entries: its 'basis' is 'ever_by' (the shares "
                    "ever entered by 'week', whose cumulative hazards it divides)"
                )
        if self.measure in ("hazard_ratio", "risk_ratio", "odds_ratio") and (
            self.value <= 0 or (self.ci is not None and self.ci[0] <= 0)
        ):
            raise ValueError("a ratio and its interval must be above 0")
        if self.ci is not None and not self.ci[0] <= self.value <= self.ci[1]:
            raise ValueError(f"'ci' {self.ci} does not contain the value {self.value}")
        return self

    @property
    def key(self) -> str:
        return f"{self.id}@{self.arm}"


class Evidence(Strict):
    id: Name
    title: Text = Field(min_length=1)
    authors: Text = Field(min_length=1)
    year: int = Field(ge=1900, le=2200)
    journal: Text = Field(min_length=1)
    doi: Text = ""
    url: Text = ""
    design: Literal[DESIGNS]
    country: Name
    read: Literal["full_text", "abstract", "summary"]
    notes: Text = ""
    population: Population
    arms: list[Arm] = Field(min_length=1, max_length=50)
    endpoints: list[Endpoint] = Field(default=[], max_length=2000)

    @model_validator(mode="after")
    def _links(self) -> Evidence:
        problems = []
        if not re.fullmatch(r"[a-z0-9_]{1,64}", self.id):
            problems.append("id: lower-case letters, digits and '_' only")
        ids = [a.id for a in self.arms]
        if len(set(ids)) != len(ids):
            problems.append("arms: two arms share an id")
        seen = set()
        for i, e in enumerate(self.endpoints):
            if e.arm not in ids:
                problems.append(f"endpoints[{i}].arm: no arm '{e.arm}' (arms: {', '.join(ids)})")
            if e.versus is not None and e.versus not in ids:
                problems.append(f"endpoints[{i}].versus: no arm '{e.versus}'")
            if e.key in seen:
                problems.append(f"endpoints[{i}]: a second endpoint '{e.id}' of arm '{e.arm}'")
            seen.add(e.key)
        if not self.doi and not self.url:
            problems.append("doi/url: give at least one of them")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def arm(self, arm_id: str) -> Arm:
        return next(a for a in self.arms if a.id == arm_id)


class EvidenceUse(Strict):
    """How a deal uses an evidence file."""

    file: str = Field(min_length=1, max_length=1000)
    arms: dict[Name, Literal["treatment", "counterfactual", "none"]] = Field(min_length=1)
    calibrate: list[Name] = []
    """Endpoints the calibration fits, as ``id`` (every arm mapped) or ``id@arm``."""
    origin_week: Weeks = 0
    """Weeks after a citizen's entry at which the study's time origin lies."""
    why: Text = Field(min_length=1)


class FreeParameter(Strict):
    """A parameter the calibration fits, with the range of its prior."""

    path: str = Field(min_length=1, max_length=500)
    low: float
    high: float
    prior: Literal["uniform", "log_uniform"] = "uniform"
    """Flat on the range, or flat on the logarithm (for ratios and multipliers)."""
    label: Text = ""
    """A readable name for tables and figures (default: made from the deal's structure)."""
    source: Text = ""

    @model_validator(mode="after")
    def _bounds(self) -> FreeParameter:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("'low' and 'high' must be finite")
        if self.high <= self.low:
            raise ValueError("'high' must be above 'low'")
        if self.prior == "log_uniform" and self.low <= 0:
            raise ValueError("a log-uniform prior needs 'low' > 0")
        return self


class Calibration(Strict):
    """What the deal's calibration fits: free parameters; the endpoints are those listed in
    ``calibrate`` of the deal's ``[[evidence]]``."""

    free: list[FreeParameter] = Field(min_length=1, max_length=20)
    description: Text = ""
