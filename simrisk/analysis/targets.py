"""Calibration targets: observed outcomes of one arm and the free parameters to fit.

A targets file lists observed outcomes of one arm, measured in weeks since each
citizen's entry: the share in given states at a week, the share that has ever
entered a state by a week, or the mean weeks spent in given states over a
window; each with its sample size (binomial) or standard error (normal) and its
source. It names the free parameters (paths with bounds). :func:`outcome`
measures a target on simulated citizens; :func:`deviance` scores it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

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
from simrisk.vocabulary import (
    COUNTERFACTUAL,
    EV_EDUCATION,
    EV_JOB,
    LABOUR_STATES,
    MOVED,
    TREATMENT,
)


class FreeParameter(Strict):
    path: str = Field(min_length=1)
    low: float
    high: float

    @model_validator(mode="after")
    def _bounds(self) -> FreeParameter:
        if self.high <= self.low:
            raise ValueError("'high' must be above 'low'")
        return self


class Target(Strict):
    name: str = Field(min_length=1)
    kind: Literal["share", "ever", "weeks_in"]
    arm: Literal["treatment", "counterfactual"]
    states: list[Literal[LABOUR_STATES]] = Field(min_length=1)
    week: int | None = Field(default=None, gt=0)
    window: (
        Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2, max_length=2)] | None
    ) = None
    observed: float
    n: int | None = Field(default=None, gt=0)
    se: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> Target:
        if self.kind in ("share", "ever"):
            if self.week is None:
                raise ValueError(f"kind '{self.kind}' needs 'week' (weeks since entry)")
            if not 0.0 <= self.observed <= 1.0:
                raise ValueError("a share must be between 0 and 1")
        if self.kind == "ever" and not set(self.states) <= {"employed", "education"}:
            raise ValueError("kind 'ever' works for 'employed' and 'education' only")
        if self.kind == "weeks_in":
            if self.window is None or self.window[1] <= self.window[0]:
                raise ValueError("kind 'weeks_in' needs 'window' = [from, to) with to > from")
            if self.se is None:
                raise ValueError("kind 'weeks_in' needs 'se' (standard error of the mean)")
        if (self.n is None) == (self.se is None):
            raise ValueError("give exactly one of 'n' (sample size) and 'se' (standard error)")
        return self

    @property
    def offsets(self) -> list[int]:
        if self.kind == "share":
            return [self.week]
        if self.kind == "weeks_in":
            return list(range(self.window[0], self.window[1]))
        return []

    @property
    def last_offset(self) -> int:
        return self.window[1] - 1 if self.kind == "weeks_in" else self.week


class Targets(Strict):
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    description: str = ""
    free: list[FreeParameter] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)


def load_targets(path: str | Path, cfg: DealConfig | None = None) -> Targets:
    """Load a targets file; ConfigError with one line per problem."""
    tg, _ = load_model(Targets, path)
    if cfg is not None:
        problems = check_targets(tg, cfg)
        if problems:
            raise ConfigError(str(path), problems)
    return tg


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
    first_entry = 0
    for i, t in enumerate(tg.targets):
        if first_entry + t.last_offset >= horizon:
            problems.append(
                f"targets[{i}]: measured {t.last_offset} weeks after entry, beyond the deal's "
                f"horizon ({horizon} weeks)"
            )
    return problems


def outcome(sim: simulation.KernelOut, t: Target, st: simulation.Structure) -> tuple[float, float]:
    """Simulated value of a target and its Monte Carlo standard error."""
    arm = TREATMENT if t.arm == "treatment" else COUNTERFACTUAL
    entry = sim.entry
    H = st.horizon
    codes = [LABOUR_STATES.index(s) for s in t.states]
    measurable = (entry >= 0) & (entry + t.last_offset < H)
    if t.kind == "ever":
        hit = np.zeros(entry.shape, bool)
        for s in t.states:
            ev = EV_JOB if s == "employed" else EV_EDUCATION
            w = sim.events[:, arm, :, ev]
            hit |= (w >= 0) & (w - entry <= t.week)
        x = hit[measurable].astype(float)
    else:
        cols = [int(np.searchsorted(st.check_off, o)) for o in t.offsets]
        state = sim.checks[:, arm][:, :, cols]  # (scenario, citizen, offset)
        inside = np.isin(state, codes)
        if t.kind == "share":
            moved = state[..., 0] == MOVED
            x = inside[..., 0][measurable & ~moved].astype(float)
        else:
            x = inside.sum(axis=2)[measurable].astype(float)
    if x.size == 0:
        return float("nan"), float("nan")
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0


def deviance(t: Target, value: float) -> float:
    """Deviance of a simulated value against the observation (0 at a perfect fit)."""
    if not math.isfinite(value):
        return 1e12
    if t.n is not None and t.kind in ("share", "ever"):
        p = min(max(value, 1e-9), 1 - 1e-9)
        k = t.observed * t.n
        dev = 0.0
        if k > 0:
            dev += k * math.log(k / (t.n * p))
        if t.n - k > 0:
            dev += (t.n - k) * math.log((t.n - k) / (t.n * (1 - p)))
        return 2.0 * dev
    se = t.se if t.se is not None else math.sqrt(t.observed * (1 - t.observed) / t.n)
    return ((value - t.observed) / se) ** 2
