"""Calibration targets: observed outcomes of one arm and the free parameters to fit.

A target is an outcome of one arm measured in weeks since each citizen's entry, in
the definition of the publication it comes from: the share in given states at a
week, the share that has ever entered a state by a week, the mean weeks in given
states over a window, a quantile of the weeks to a first entry, or the share of job
starters whose spell lasted a given number of weeks; each with its sample size
(binomial) or standard error (normal) and its source. Targets come from evidence
files (the endpoints a deal or targets file lists under ``calibrate``) or are written
inline in a targets file, which also names the free parameters (paths with bounds).
:func:`measure` measures a target on simulated citizens; :func:`deviance` and
:func:`log_likelihood` score it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from simrisk import simulation
from simrisk.config import (
    ConfigError,
    DealConfig,
    Strict,
    get_path,
    load_model,
    parse_path,
    rejection,
)
from simrisk.config.evidence import (
    EVENT_STATES,
    SUSTAINED_WEEKS,
    Endpoint,
    Evidence,
    EvidenceUse,
    FreeParameter,
)
from simrisk.config.load import load_evidence
from simrisk.contracts.outcomes import EVENT_OF
from simrisk.vocabulary import (
    COUNTERFACTUAL,
    EV_JOB,
    LABOUR_STATES,
    MOVED,
    TREATMENT,
)

NO_UNCERTAINTY = "the study gives no sample size or standard error for it"
KINDS = ("at_week", "ever_by", "weeks_in", "time_to_event", "sustained")
OLD_KINDS = {"share": "at_week", "ever": "ever_by"}
SUSTAINED_EVENTS = {w: EVENT_OF[f"sustained_{w}"] for w in SUSTAINED_WEEKS}


class Target(Strict):
    """One observed outcome of one arm, in weeks since each citizen's entry.

    * ``at_week``: share in ``states`` at ``week`` (the moved-away left out);
    * ``ever_by``: share who first entered ``states`` (a job, education, or the first
      week without benefit: ``off_benefit``) within ``week`` weeks;
    * ``weeks_in``: mean weeks in ``states`` over ``window``, over every citizen followed
      to its end: one who moved away has no such weeks after moving, as a mean over all
      of an arm's participants counts them;
    * ``time_to_event``: the ``quantile`` of weeks to the first entry (``observed`` in
      weeks); fitted as the share that has entered by the observed weeks, which is the
      quantile;
    * ``sustained``: of those whose first job began within ``week`` weeks, the share with
      a job spell of ``spell_weeks`` (13, 26 or 52) weeks.
    """

    name: str = Field(min_length=1)
    kind: str
    arm: Literal["treatment", "counterfactual"]
    states: list[Literal[LABOUR_STATES + EVENT_STATES[2:]]] = Field(min_length=1)
    week: int | None = Field(default=None, gt=0)
    window: (
        Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)] | None
    ) = None
    quantile: float | None = Field(default=None, gt=0.0, lt=1.0)
    spell_weeks: int | None = None
    observed: float
    n: int | None = Field(default=None, gt=0)
    se: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=1)
    key: str = ""
    """The evidence endpoint it comes from, ``study:endpoint@arm`` (empty when inline)."""

    @model_validator(mode="after")
    def _shape(self) -> Target:
        if self.kind in OLD_KINDS:
            raise ValueError(
                f"kind '{self.kind}' is now '{OLD_KINDS[self.kind]}' (say which the "
                "publication reports: a share at a week, or a share that has ever entered)"
            )
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        events = set(self.states) <= set(EVENT_STATES)
        if self.kind in ("at_week", "ever_by", "sustained", "time_to_event"):
            if self.kind != "time_to_event" and self.week is None:
                raise ValueError(f"kind '{self.kind}' needs 'week' (weeks since entry)")
            if self.kind != "time_to_event" and not 0.0 <= self.observed <= 1.0:
                raise ValueError("a share must be between 0 and 1")
        if self.kind in ("ever_by", "time_to_event") and not events:
            raise ValueError(f"kind '{self.kind}' counts entries into {', '.join(EVENT_STATES)}")
        if self.kind in ("at_week", "weeks_in") and set(self.states) & set(EVENT_STATES[2:]):
            raise ValueError(
                f"{', '.join(EVENT_STATES[2:])} are events: use kind 'ever_by' or 'time_to_event'"
            )
        if self.kind == "time_to_event":
            if self.quantile is None or self.n is None:
                raise ValueError("kind 'time_to_event' needs 'quantile' and 'n'")
            if not 0 < self.observed:
                raise ValueError("the weeks to an event must be positive")
        if self.kind == "sustained":
            if self.spell_weeks not in SUSTAINED_EVENTS:
                raise ValueError("kind 'sustained' needs 'spell_weeks' = 13, 26 or 52")
            if self.states != ["employed"]:
                raise ValueError("kind 'sustained' counts job spells: states = ['employed']")
        if self.kind == "weeks_in":
            if self.window is None or self.window[1] <= self.window[0]:
                raise ValueError("kind 'weeks_in' needs 'window' = [from, to) with to > from")
            if self.se is None:
                raise ValueError("kind 'weeks_in' needs 'se' (standard error of the mean)")
        elif (self.n is None) == (self.se is None):
            raise ValueError("give exactly one of 'n' (sample size) and 'se' (standard error)")
        return self

    @property
    def offsets(self) -> list[int]:
        if self.kind == "at_week":
            return [self.week]
        if self.kind == "weeks_in":
            return list(range(self.window[0], self.window[1]))
        return []

    @property
    def last_offset(self) -> int:
        if self.kind == "weeks_in":
            return self.window[1] - 1
        if self.kind == "time_to_event":
            return max(1, math.ceil(self.observed))
        if self.kind == "sustained":
            return self.week + self.spell_weeks
        return self.week

    @property
    def fitted_observed(self) -> float:
        """The observation on the scale the likelihood compares: the quantile itself for a
        time to an event (the share entered by the observed weeks), else ``observed``."""
        return self.quantile if self.kind == "time_to_event" else self.observed

    def variance(self, value: float) -> float:
        """Sampling variance of the observation if the simulated value were true."""
        if self.se is not None:
            return self.se**2
        p = min(max(value, 0.5 / self.n), 1 - 0.5 / self.n)
        return p * (1 - p) / self.n


class Targets(Strict):
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    description: str = ""
    free: list[FreeParameter] = Field(min_length=1)
    targets: list[Target] = []
    evidence: list[EvidenceUse] = []

    @model_validator(mode="after")
    def _some(self) -> Targets:
        if not self.targets and not any(u.calibrate for u in self.evidence):
            raise ValueError("targets: none (give [[targets]], or [[evidence]] with 'calibrate')")
        return self


def from_endpoint(ev: Evidence, e: Endpoint, arm: str, origin_week: int) -> Target:
    """The target an evidence endpoint makes for the deal's ``arm``; its weeks counted
    from the study's origin, which lies ``origin_week`` weeks after entry."""
    if e.kind not in KINDS:
        raise ValueError(f"a '{e.kind}' endpoint cannot be fitted")
    se = e.se
    if e.kind == "weeks_in" and se is None and e.sd is not None:
        se = e.sd / math.sqrt(e.n)
    if se is None and (e.n is None or e.kind == "weeks_in"):
        raise ValueError(NO_UNCERTAINTY)
    fields = {
        "name": f"{ev.id}: {e.id} ({ev.arm(e.arm).label})",
        "kind": e.kind,
        "arm": arm,
        "states": e.states if e.states is not None else ["employed"],
        "observed": e.value,
        "source": f"{ev.authors.split(',')[0]} et al. {ev.year}, {e.source}",
        "key": f"{ev.id}:{e.key}",
        "quantile": e.quantile,
        "spell_weeks": e.spell_weeks,
    }
    if e.kind == "weeks_in":
        fields.update(window=[w + origin_week for w in e.window], se=se)
    else:
        if e.week is not None:
            if e.week + origin_week < 1:
                raise ValueError(
                    "'week' 0 from an origin at entry (origin_week 0): nothing is measured "
                    "there yet"
                )
            fields["week"] = e.week + origin_week
        if e.n is not None:
            fields["n"] = e.n
        else:
            fields["se"] = se
    if e.kind == "time_to_event":
        fields["observed"] = e.value + origin_week
    return Target.model_validate(fields)


def endpoint_targets(ev: Evidence, use: EvidenceUse, only: list[str] | None = None):
    """(endpoint, target or the reason it has none) for every endpoint of ``ev`` whose arm
    the deal maps; ``only`` limits them to the named ones (``id`` or ``id@arm``)."""
    out = []
    for e in ev.endpoints:
        arm = use.arms.get(e.arm, "none")
        if only is not None and e.id not in only and e.key not in only:
            continue
        if arm == "none":
            continue
        try:
            out.append((e, from_endpoint(ev, e, arm, use.origin_week)))
        except ValidationError as exc:
            out.append((e, exc.errors()[0]["msg"].removeprefix("Value error, ")))
        except ValueError as exc:
            out.append((e, str(exc)))
    return out


def load_targets(path: str | Path, cfg: DealConfig | None = None) -> Targets:
    """Load a targets file, its evidence endpoints made into targets; ConfigError with one
    line per problem."""
    tg, _ = load_model(Targets, path)
    tg = resolve(tg, Path(path).parent, str(path))
    if cfg is not None:
        problems = check_targets(tg, cfg)
        if problems:
            raise ConfigError(str(path), problems)
    return tg


def deal_targets(cfg: DealConfig, base: Path | None, source: str) -> Targets:
    """The targets of the deal's own calibration: its ``[calibration]`` free parameters
    and the endpoints its ``[[evidence]]`` lists under ``calibrate``."""
    if cfg.calibration is None:
        raise ConfigError(
            source,
            ["calibration: the deal has no [calibration] section (free parameters to fit)"],
        )
    studies = ", ".join(Path(u.file).stem for u in cfg.evidence if u.calibrate)
    tg = Targets(
        name="the deal's evidence",
        source=f"the deal's evidence ({studies})",
        description=cfg.calibration.description,
        free=cfg.calibration.free,
        evidence=cfg.evidence,
    )
    tg = resolve(tg, base, source)
    problems = check_targets(tg, cfg)
    if problems:
        raise ConfigError(source, problems)
    return tg


def resolve(tg: Targets, base: Path | None, source: str) -> Targets:
    """``tg`` with the endpoints its evidence lists under ``calibrate`` added as targets."""
    targets = list(tg.targets)
    problems = []
    for i, use in enumerate(tg.evidence):
        if not use.calibrate:
            continue
        p = Path(use.file)
        ev = load_evidence(
            p if base is None or p.is_absolute() else base / p, f"evidence[{i}].file"
        )
        keys = {e.key for e in ev.endpoints} | {e.id for e in ev.endpoints}
        for name in use.calibrate:
            if name not in keys:
                problems.append(f"evidence[{i}].calibrate: {ev.id} has no endpoint '{name}'")
        for e, t in endpoint_targets(ev, use, use.calibrate):
            if isinstance(t, str):
                problems.append(f"evidence[{i}].calibrate: {ev.id} '{e.key}': {t}")
            else:
                targets.append(t)
    if problems:
        raise ConfigError(source, problems)
    if not targets:
        raise ConfigError(source, ["no endpoint to fit: the mapped arms have none"])
    return tg.model_copy(update={"targets": targets})


def check_targets(tg: Targets, cfg: DealConfig) -> list[str]:
    """Problems of a targets file against the deal it calibrates."""
    problems = []
    dumped = cfg.model_dump(by_alias=True)
    for i, fp in enumerate(tg.free):
        try:
            value = get_path(dumped, parse_path(fp.path))
        except (KeyError, ValueError):
            problems.append(f"free[{i}].path: '{fp.path}' names no field of the deal")
            continue
        if isinstance(value, bool) or not isinstance(value, float):
            problems.append(f"free[{i}].path: '{fp.path}' is not a real-valued field")
            continue
        for bound in ("low", "high"):
            first = rejection(dumped, parse_path(fp.path), getattr(fp, bound))
            if first is not None:
                problems.append(f"free[{i}].{bound}: {fp.path} does not accept it ({first})")
    horizon = cfg.deal.horizon_weeks
    for i, t in enumerate(tg.targets):
        if t.last_offset >= horizon:
            problems.append(
                f"targets[{i}]: measured {t.last_offset} weeks after entry, beyond the deal's "
                f"horizon ({horizon} weeks)" + (f" ({t.key})" if t.key else "")
            )
    return problems


def _first(sim, arm: int, states) -> np.ndarray:
    """Week of each citizen's first entry into any of ``states`` (-1: never)."""
    first = np.full(sim.entry.shape, -1, np.int64)
    for s in states:
        w = sim.events[:, arm, :, EVENT_OF[s]]
        better = (w >= 0) & ((first < 0) | (w < first))
        first = np.where(better, w, first)
    return first


def measure(
    sim: simulation.KernelOut, t: Target, st: simulation.Structure
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per scenario: the sum of the citizens' values, of their squares, and their number,
    on the scale the target is fitted on (a time to an event: entered by the observed
    weeks, 1 or 0)."""
    arm = TREATMENT if t.arm == "treatment" else COUNTERFACTUAL
    entry = sim.entry
    measurable = (entry >= 0) & (entry + t.last_offset < st.horizon)
    if t.kind in ("ever_by", "time_to_event"):
        first = _first(sim, arm, t.states)
        by = t.week if t.kind == "ever_by" else t.observed
        x = ((first >= 0) & (first - entry <= by)).astype(float)
    elif t.kind == "sustained":
        job = sim.events[:, arm, :, EV_JOB]
        measurable &= (job >= 0) & (job - entry <= t.week)
        # the first job's own spell: the event falls in its spell_weeks-th week
        sust = sim.events[:, arm, :, SUSTAINED_EVENTS[t.spell_weeks]]
        x = ((sust >= 0) & (sust == job + t.spell_weeks - 1)).astype(float)
    else:
        cols = [int(np.searchsorted(st.check_off, o)) for o in t.offsets]
        state = sim.checks[:, arm][:, :, cols]  # (scenario, citizen, offset)
        inside = np.isin(state, [LABOUR_STATES.index(s) for s in t.states])
        if t.kind == "at_week":
            measurable &= state[..., 0] != MOVED
            x = inside[..., 0].astype(float)
        else:
            x = inside.sum(axis=2).astype(float)
    x = np.where(measurable, x, 0.0)
    return x.sum(axis=1), (x * x).sum(axis=1), measurable.sum(axis=1).astype(float)


def pooled(s: np.ndarray, q: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error over the citizens counted in ``(s, q, c)``."""
    S, Q, C = float(s.sum()), float(q.sum()), float(c.sum())
    if C == 0:
        return float("nan"), float("nan")
    mean = S / C
    if C < 2:
        return mean, 0.0
    var = max(Q - C * mean * mean, 0.0) / (C - 1)
    return mean, math.sqrt(var / C)


def outcome(sim: simulation.KernelOut, t: Target, st: simulation.Structure) -> tuple[float, float]:
    """Simulated value of a target (on its fitted scale) and its Monte Carlo standard
    error."""
    return pooled(*measure(sim, t, st))


def time_quantile(sim, t: Target, st, scenarios: np.ndarray | None = None) -> float:
    """The simulated ``quantile`` of weeks to the first entry (a ``time_to_event`` target),
    over citizens followed for at least four times the observed weeks (two years at
    least); ``inf`` when fewer than that share have entered by then."""
    arm = TREATMENT if t.arm == "treatment" else COUNTERFACTUAL
    rows = slice(None) if scenarios is None else scenarios
    entry = sim.entry[rows]
    cap = min(st.horizon - 1, max(4 * math.ceil(t.observed), 104))
    first = _first(sim, arm, t.states)[rows]
    ok = (entry >= 0) & (entry + cap < st.horizon)
    wait = np.where((first >= 0) & (first - entry <= cap), first - entry, np.inf)[ok]
    if wait.size == 0:
        return float("nan")
    return float(np.quantile(wait, t.quantile, method="inverted_cdf"))


def deviance(t: Target, value: float) -> float:
    """Deviance of a simulated value (on the fitted scale) against the observation (0 at
    a perfect fit)."""
    if not math.isfinite(value):
        return 1e12
    if t.n is not None and t.kind != "weeks_in":
        p = min(max(value, 1e-9), 1 - 1e-9)
        k = t.fitted_observed * t.n
        dev = 0.0
        if k > 0:
            dev += k * math.log(k / (t.n * p))
        if t.n - k > 0:
            dev += (t.n - k) * math.log((t.n - k) / (t.n * (1 - p)))
        return 2.0 * dev
    return (value - t.fitted_observed) ** 2 / t.variance(t.fitted_observed)


def log_likelihood(t: Target, value: float, mc_se: float) -> float:
    """Normal log-likelihood of the observation given the simulated value: the sampling
    variance of the observation at that value plus the simulation's own (Monte Carlo)
    variance."""
    if not math.isfinite(value):
        return -1e12
    var = t.variance(value) + mc_se**2
    return -0.5 * ((t.fitted_observed - value) ** 2 / var + math.log(2 * math.pi * var))
