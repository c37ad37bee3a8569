"""Deal schema and loading: TOML in, a validated :class:`DealConfig` out.

Every section forbids unknown keys. :func:`load_deal` collects every problem of
a file at once and raises :class:`ConfigError`, whose ``problems`` are lines of
the form ``program.phases[2].dropout: Input should be less than or equal to 1``.
Nothing is written anywhere while loading.
"""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

LABOUR_STATES = ("benefit", "employed", "education", "permanent", "moved")
"""Labour-market states, in the order used on the ``state`` axis everywhere."""
ABSORBING_STATES = ("permanent", "moved")
OUTCOME_EVENTS = ("job_entry", "education_entry", "sustained_13", "sustained_26", "sustained_52")
"""Outcome events a rate card can pay for, in the kernel's event order."""
TARGET_OUTCOMES = ("employed", "self_supporting", "off_benefit", "ever_employed")

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


class ConfigError(Exception):
    """A deal (or other input) file is invalid; ``problems`` has one line per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


class Strict(BaseModel):
    # strict: no silent coercion ("0.01" is not a number, true is not a size);
    # no infinities or NaN (TOML allows them; no amount or rate of a deal is infinite)
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, strict=True, allow_inf_nan=False
    )


# --------------------------------------------------------------------------- deal
class Deal(Strict):
    name: str = Field(min_length=1)
    currency: str = "DKK"
    start_date: dt.date
    horizon_weeks: int = Field(gt=0, le=2600)
    description: str = ""


# ------------------------------------------------------------------------- cohort
class Enrolment(Strict):
    schedule: Literal["uniform", "counts"] = "uniform"
    weeks: int | None = Field(default=None, gt=0)
    counts: list[Annotated[int, Field(ge=0)]] | None = None
    period_weeks: int = Field(default=4, gt=0)
    delay_weeks: NonNegative = 0.0

    @model_validator(mode="after")
    def _schedule_fields(self) -> Enrolment:
        if self.schedule == "uniform" and self.weeks is None:
            raise ValueError("schedule 'uniform' needs 'weeks' (length of the enrolment window)")
        if self.schedule == "counts" and not self.counts:
            raise ValueError("schedule 'counts' needs a non-empty 'counts' list")
        return self


class Segment(Strict):
    name: str = Field(min_length=1)
    benefit: str = Field(min_length=1)
    share: Probability
    weeks_on_benefit: int = Field(default=0, ge=0)
    job_hazard_ratio: Positive = 1.0


class Cohort(Strict):
    size: int = Field(gt=0, le=100_000)
    uptake: Probability = 1.0
    frailty_variance: NonNegative = 0.0
    enrolment: Enrolment
    segments: list[Segment] = Field(min_length=1)

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
    name: str = Field(min_length=1)
    weeks: int = Field(gt=0)
    cost_per_week: NonNegative
    dropout: Probability = 0.0


class Program(Strict):
    setup_cost: NonNegative = 0.0
    phases: list[Phase] = Field(min_length=1, max_length=12)

    @property
    def total_weeks(self) -> int:
        return sum(p.weeks for p in self.phases)


# -------------------------------------------------------------------------- labour
class Transition(Strict):
    from_state: Literal[LABOUR_STATES] = Field(alias="from")
    to: Literal[LABOUR_STATES]
    probability: Probability | list[Probability]
    from_week: list[Annotated[int, Field(ge=0)]] | None = None
    source: str = ""

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


class CalendarShock(Strict):
    start: dt.date
    end: dt.date
    job_entry_multiplier: Positive
    source: str = ""

    @model_validator(mode="after")
    def _order(self) -> CalendarShock:
        if self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self


class Labour(Strict):
    transitions: list[Transition] = Field(min_length=1)
    job_entry_multiplier: Positive = 1.0
    calendar: list[CalendarShock] = []

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
    job_entry: list[Positive] = Field(min_length=1)
    education_entry: list[Positive] | None = None
    job_loss: list[Positive] | None = None
    persistence: Probability = 0.5
    fade_block_weeks: int = Field(default=13, gt=0)
    source: str = ""


# ------------------------------------------------------------------------ economics
class RatePoint(Strict):
    valid_from: dt.date = Field(alias="from")
    value: NonNegative
    source: str = ""


class Benefit(Strict):
    unit: Literal["week", "month", "year"]
    rates: list[RatePoint] = Field(min_length=1)
    indexation: Annotated[float, Field(ge=-0.5, le=0.5)] = 0.0
    refusion: Literal["staircase"] | Probability = "staircase"
    source: str = ""

    @model_validator(mode="after")
    def _sorted(self) -> Benefit:
        dates = [r.valid_from for r in self.rates]
        if any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
            raise ValueError("rates must be in increasing order of 'from' date")
        return self


class RefusionStep(Strict):
    from_week: int = Field(ge=1)
    state_share: Probability


class Refusion(Strict):
    steps: list[RefusionStep] = Field(min_length=1)
    reset_weeks: int = Field(default=52, gt=0)
    source: str = ""

    @model_validator(mode="after")
    def _steps(self) -> Refusion:
        weeks = [s.from_week for s in self.steps]
        if weeks[0] != 1 or any(b <= a for a, b in zip(weeks, weeks[1:], strict=False)):
            raise ValueError("refusion steps must start at week 1 and increase")
        return self


class Economics(Strict):
    rules: str | None = "denmark"
    benefits: dict[str, Benefit] = {}
    refusion: Refusion | None = None
    permanent_benefit: str | None = None
    perspective: Literal["municipality", "state", "public"] = "municipality"

    @model_validator(mode="after")
    def _refusion_present(self) -> Economics:
        if self.refusion is None:
            raise ValueError("a refusion staircase is needed (economics.refusion or rules)")
        return self


# ------------------------------------------------------------------------- contract
Window = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)]


class SavingsShare(Strict):
    kind: Literal["savings_share"]
    share: Probability
    cap: NonNegative | None = None
    window: Window | None = None


class RateCard(Strict):
    kind: Literal["rate_card"]
    tariffs: dict[Literal[OUTCOME_EVENTS], NonNegative] = Field(min_length=1)
    per_citizen_cap: NonNegative | None = None
    cap: NonNegative | None = None
    window: Window | None = None


class Target(Strict):
    kind: Literal["target"]
    outcome: Literal[TARGET_OUTCOMES]
    at_week: int = Field(gt=0)
    threshold: Probability
    full: Probability | None = None
    payment: NonNegative
    basis: Literal["absolute", "difference"] = "absolute"
    source: str = ""

    @model_validator(mode="after")
    def _full(self) -> Target:
        if self.full is not None and self.full <= self.threshold:
            raise ValueError("'full' must be above 'threshold'")
        return self


Mechanism = Annotated[SavingsShare | RateCard | Target, Field(discriminator="kind")]


class Contract(Strict):
    measurement: Literal["counterfactual", "control_group", "baseline"] = "counterfactual"
    control_size: int | None = Field(default=None, gt=0, le=100_000)
    baseline_scenarios: int = Field(default=1000, gt=0, le=100_000)
    settlement: Literal["month", "quarter", "year"] = "quarter"
    cap: NonNegative | None = None
    mechanisms: list[Mechanism] = Field(min_length=1)

    @model_validator(mode="after")
    def _control(self) -> Contract:
        if self.measurement == "control_group" and self.control_size is None:
            raise ValueError("measurement 'control_group' needs 'control_size'")
        return self


# ------------------------------------------------------------------------- investor
class Investor(Strict):
    capital: Positive
    discount_rate: Annotated[float, Field(gt=-0.5, le=1.0)] = 0.05
    return_cap: NonNegative | None = None


# ---------------------------------------------------------------------- uncertainty
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
        ops = [k for k in ("set", "scale", "add", "excess") if getattr(self, k) is not None]
        if len(ops) != 1:
            raise ValueError("give exactly one of 'set', 'scale', 'add', 'excess'")
        return self

    @property
    def op(self) -> tuple[str, float]:
        for k in ("set", "scale", "add", "excess"):
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


# ------------------------------------------------------------------------- the deal
class DealConfig(Strict):
    deal: Deal
    cohort: Cohort
    program: Program
    labour: Labour
    effect: Effect
    economics: Economics
    contract: Contract
    investor: Investor
    uncertainty: Uncertainty = Uncertainty()
    stress: list[StressPoint] = []

    @model_validator(mode="after")
    def _cross(self) -> DealConfig:
        problems = []
        n_phases = len(self.program.phases)
        if self.program.total_weeks >= self.deal.horizon_weeks:
            problems.append(
                f"program.phases: the phases last {self.program.total_weeks} weeks, not less "
                f"than deal.horizon_weeks ({self.deal.horizon_weeks})"
            )
        for name in ("job_entry", "education_entry", "job_loss"):
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
        if self.cohort.enrolment.schedule == "uniform":
            last_entry = self.cohort.enrolment.weeks
        else:
            last_entry = len(self.cohort.enrolment.counts) * self.cohort.enrolment.period_weeks
        if last_entry >= self.deal.horizon_weeks:
            problems.append(
                f"cohort.enrolment: enrolment runs to week {last_entry}, beyond "
                f"deal.horizon_weeks ({self.deal.horizon_weeks})"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


# ------------------------------------------------------------------------- loading
def format_loc(loc: tuple) -> str:
    """Render a pydantic error location as ``a.b[2].c`` (union tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and (
            part in _UNION_TAGS or part.startswith("function-") or "[" in part
        ):
            continue
        else:
            out += ("." if out else "") + part
    return out


_UNION_TAGS = {
    "savings_share",
    "rate_card",
    "target",
    "fixed",
    "uniform",
    "triangular",
    "normal",
    "lognormal",
    "beta",
    "gamma",
    "str",
    "float",
    "list[float]",
    "constrained-float",
}


def _union_branch(loc: tuple) -> bool:
    return any(isinstance(p, str) and (p in _UNION_TAGS or "[" in p) for p in loc)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validation_problems(err: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem, each naming the field."""
    errors = err.errors(include_url=False)
    formatted = [format_loc(tuple(e["loc"])) for e in errors]
    branch_type = [
        _union_branch(e["loc"]) and e["type"] in ("float_type", "list_type") for e in errors
    ]
    lines = []
    said = set()
    for e, loc, skip in zip(errors, formatted, branch_type, strict=True):
        # a field that takes a number or a list reports a type error for the branch the
        # input did not take; keep only the other branch's (real) error
        if skip:
            if loc in said or any(
                not other_skip and (o.startswith(loc) or loc.startswith(o))
                for o, other_skip in zip(formatted, branch_type, strict=True)
            ):
                continue
            said.add(loc)
            e = dict(e, msg="Input should be a number or a list of numbers")
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] not in ("missing", "value_error") and "input" in e:
            msg += f" (got {_short(e['input'])})"
        for part in msg.split("\n"):
            head, sep, rest = part.partition(": ")
            if (
                loc
                and sep
                and head.replace(".", "").replace("_", "").isalnum()
                and (e["type"] == "value_error")
            ):
                lines.append(f"{loc}.{head}: {rest}")  # the validator named a sub-field
            else:
                lines.append(f"{loc}: {part}" if loc else part)
    return lines


def read_toml(path: str | Path) -> tuple[dict, str]:
    """Read a TOML file; raise ConfigError for a missing or malformed file."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(str(path), [f"{path}: no such file"])
    if p.is_dir():
        raise ConfigError(str(path), [f"{path}: is a directory, not a TOML file"])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"{path}: malformed TOML: {exc}"]) from None
    return data, text


def load_rules(name: str) -> dict:
    """Load shared economic rules (benefit rates, refusion) from package data or a path."""
    if name.endswith(".toml"):
        try:
            data, _ = read_toml(name)
        except ConfigError as exc:
            raise ConfigError(name, [f"economics.rules: {p}" for p in exc.problems]) from None
        return data
    res = resources.files("simrisk") / "data" / f"{name}.toml"
    if not res.is_file():
        available = sorted(
            f.name[:-5]
            for f in (resources.files("simrisk") / "data").iterdir()
            if f.name.endswith(".toml")
        )
        raise ConfigError(
            name, [f"economics.rules: unknown rules '{name}' (available: {', '.join(available)})"]
        )
    return tomllib.loads(res.read_text(encoding="utf-8"))


def merge_rules(raw: dict) -> dict:
    """Merge the shared rules named by ``economics.rules`` under the deal's own economics."""
    data = copy.deepcopy(raw)
    econ = data.get("economics")
    if not isinstance(econ, dict):
        return data
    rules = econ.get("rules", "denmark")
    if rules is None or not isinstance(rules, str):
        return data
    base = load_rules(rules)
    benefits = dict(base.get("benefits", {}))
    own = econ.get("benefits", {})
    if not isinstance(own, dict):
        return data  # validation reports the wrong type
    benefits.update(own)
    econ["benefits"] = benefits
    if "refusion" not in econ and "refusion" in base:
        econ["refusion"] = base["refusion"]
    return data


def parse_deal(raw: dict, source: str = "<deal>") -> DealConfig:
    """Validate a deal given as a dict (TOML names); raise ConfigError listing every problem."""
    data = merge_rules(raw)
    try:
        cfg = DealConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, validation_problems(err)) from None
    problems = check_uncertainty(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_deal(path: str | Path) -> tuple[DealConfig, str]:
    """Load and validate a deal file. Returns the config and the file's text."""
    raw, text = read_toml(path)
    return parse_deal(raw, str(path)), text


# --------------------------------------------------------------------------- paths
def parse_path(path: str) -> tuple:
    """``effect.job_entry[2]`` -> ``('effect', 'job_entry', 2)``."""
    parts: list = []
    for chunk in path.split("."):
        if not chunk:
            raise ValueError(f"empty component in path '{path}'")
        name, _, rest = chunk.partition("[")
        if name:
            parts.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            if not idx.isdigit():
                raise ValueError(f"bad index '[{idx}]' in path '{path}'")
            parts.append(int(idx))
            rest = rest.lstrip("[")
    return tuple(parts)


def get_path(data: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                raise KeyError(part)
        elif not isinstance(data, dict) or part not in data:
            raise KeyError(part)
        data = data[part]
    return data


def set_path(data: Any, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def scenario_independent(path: tuple) -> str:
    """Why a leaf cannot vary by scenario ('' if it can)."""
    if path[:2] == ("labour", "calendar"):
        return (
            "calendar shocks are the same in every scenario; vary "
            "labour.job_entry_multiplier, or use a stress point's 'calendar'"
        )
    if path[0] in ("uncertainty", "stress"):
        return f"the {path[0]} section cannot itself be varied"
    return ""


def rejection(dumped: dict, path: tuple, value: float) -> str | None:
    """Why the deal (as dumped by alias) would not accept ``value`` at ``path``, or None.

    The uncertainty section is left out, so only the leaf's own rules apply."""
    trial = copy.deepcopy(dumped)
    trial["uncertainty"] = {"parameters": []}
    set_path(trial, path, value)
    try:
        DealConfig.model_validate(trial)
    except ValidationError as err:
        return validation_problems(err)[0].split(": ", 1)[-1]
    return None


def check_uncertainty(cfg: DealConfig) -> list[str]:
    """Check that every uncertain path names a numeric, non-structural leaf and that the
    distribution stays within the values the leaf accepts."""
    from simrisk.sampling import distribution_support  # local: sampling imports config

    problems = []
    dumped = cfg.model_dump(by_alias=True)
    seen = set()
    for i, dist in enumerate(cfg.uncertainty.parameters):
        where = f"uncertainty.parameters[{i}].path"
        try:
            path = parse_path(dist.path)
            value = get_path(dumped, path)
        except (ValueError, KeyError):
            problems.append(f"{where}: '{dist.path}' names no field of the deal")
            continue
        if path in seen:
            problems.append(f"{where}: '{dist.path}' is given a distribution twice")
        seen.add(path)
        if path[0] in ("uncertainty", "stress") or path[:2] == ("labour", "calendar"):
            problems.append(f"{where}: {scenario_independent(path)}")
            continue
        if isinstance(value, bool) or not isinstance(value, float):
            kind = "a whole number (structural)" if isinstance(value, int) else "not a number"
            problems.append(
                f"{where}: '{dist.path}' is {kind}; only real-valued fields can be uncertain"
            )
            continue
        lo, hi = distribution_support(dist)
        for extreme in (lo, hi):
            first = rejection(dumped, path, extreme)
            if first is not None:
                problems.append(
                    f"uncertainty.parameters[{i}]: the {dist.distribution} distribution reaches "
                    f"{extreme:g}, which {dist.path} does not accept ({first}); narrow or "
                    f"bound the distribution"
                )
                break
    return problems
