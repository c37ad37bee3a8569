"""Calibration: fit free deal parameters to observed outcomes.

A targets file lists observed outcomes of one arm, measured in weeks since each
citizen's entry: the share in given states at a week, the share that has ever
entered a state by a week, or the mean weeks spent in given states over a
window; each with its sample size (binomial) or standard error (normal) and its
source. It names the free parameters (paths with bounds).

Every evaluation of the objective simulates the same scenarios with the same
random streams (common random numbers) and the deal's central parameter values,
so the objective is a deterministic function of the free parameters. The loss
is the deviance (-2 log-likelihood ratio) summed over targets; at the optimum it
is approximately chi-squared with (targets - free parameters) degrees of freedom.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import tomlkit
from pydantic import Field, ValidationError, model_validator
from scipy import optimize, stats

from simrisk import kernel, model
from simrisk.config import (
    LABOUR_STATES,
    ConfigError,
    DealConfig,
    Strict,
    get_path,
    parse_deal,
    parse_path,
    read_toml,
    rejection,
    validation_problems,
)
from simrisk.engine import central_overrides


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
    raw, _ = read_toml(path)
    try:
        tg = Targets.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(str(path), validation_problems(err)) from None
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


@dataclass
class Fit:
    """Result of a calibration."""

    names: list[str]
    start: np.ndarray
    estimate: np.ndarray
    loss: float
    df: int
    p_value: float
    table: list[dict]
    covariance: np.ndarray | None
    evaluations: int
    message: str


class Objective:
    """Deterministic simulated outcomes as a function of the free parameters."""

    def __init__(self, cfg: DealConfig, tg: Targets, n_scenarios: int, seed: int):
        self.cfg = cfg
        self.tg = tg
        self.n = n_scenarios
        self.key = kernel.seed_key(seed)
        offsets = sorted({o for t in tg.targets for o in t.offsets})
        self.st = model.build_structure(cfg, extra_checks=offsets)
        self.paths = [parse_path(f.path) for f in tg.free]
        self.base = central_overrides(cfg, n_scenarios)
        self.dumped = cfg.model_dump(by_alias=True)
        self.evaluations = 0

    def simulate(self, theta: np.ndarray) -> dict:
        over = dict(self.base)
        for p, value in zip(self.paths, theta, strict=True):
            over[p] = np.full(self.n, float(value))
        v = model.Values(self.dumped, over, self.n)
        arr = model.scenario_arrays(self.cfg, self.st, v)
        self.evaluations += 1
        return model.simulate(self.key, 0, self.st, arr, self.st.entry_planned)

    def outcomes(self, theta: np.ndarray) -> list[tuple[float, float]]:
        """(simulated value, its Monte Carlo standard error) per target."""
        sim = self.simulate(theta)
        return [outcome(sim, t, self.st) for t in self.tg.targets]

    def loss(self, theta: np.ndarray) -> float:
        return float(
            sum(
                deviance(t, v)
                for t, (v, _) in zip(self.tg.targets, self.outcomes(theta), strict=True)
            )
        )


def outcome(sim: dict, t: Target, st: model.Structure) -> tuple[float, float]:
    """Simulated value of a target and its Monte Carlo standard error."""
    arm = 1 if t.arm == "treatment" else 0
    entry = sim["entry"]
    H = st.horizon
    codes = [LABOUR_STATES.index(s) for s in t.states]
    measurable = (entry >= 0) & (entry + t.last_offset < H)
    if t.kind == "ever":
        hit = np.zeros(entry.shape, bool)
        for s in t.states:
            ev = kernel.EV_JOB if s == "employed" else kernel.EV_EDUCATION
            w = sim["events"][:, arm, :, ev]
            hit |= (w >= 0) & (w - entry <= t.week)
        x = hit[measurable].astype(float)
    else:
        cols = [int(np.searchsorted(st.check_off, o)) for o in t.offsets]
        state = sim["checks"][:, arm][:, :, cols]  # (scenario, citizen, offset)
        inside = np.isin(state, codes)
        if t.kind == "share":
            moved = state[..., 0] == kernel.MOVED
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


def calibrate(
    cfg: DealConfig,
    tg: Targets,
    n_scenarios: int = 200,
    seed: int = 20240201,
    propagate: bool = False,
) -> Fit:
    """Minimise the deviance over the free parameters within their bounds."""
    obj = Objective(cfg, tg, n_scenarios, seed)
    lo = np.array([f.low for f in tg.free])
    hi = np.array([f.high for f in tg.free])
    dumped = cfg.model_dump(by_alias=True)
    start = np.array([get_path(dumped, parse_path(f.path)) for f in tg.free], float)
    x0 = np.clip(start, lo + 1e-6 * (hi - lo), hi - 1e-6 * (hi - lo))

    # optimise on the unit cube so that every parameter has the same scale
    def f(u):
        return obj.loss(lo + np.clip(u, 0.0, 1.0) * (hi - lo))

    u0 = (x0 - lo) / (hi - lo)
    if len(tg.free) == 1:
        res = optimize.minimize_scalar(
            lambda u: f(np.array([u])),
            bounds=(0.0, 1.0),
            method="bounded",
            options={"xatol": 1e-4},
        )
        u_best, message = np.array([res.x]), str(res.message)
    else:
        simplex = [u0] + [
            np.clip(
                u0 + np.where(np.arange(len(u0)) == i, 0.15 if u0[i] < 0.85 else -0.15, 0.0), 0, 1
            )
            for i in range(len(u0))
        ]
        res = optimize.minimize(
            f,
            u0,
            method="Nelder-Mead",
            bounds=[(0.0, 1.0)] * len(u0),
            options={
                "initial_simplex": np.array(simplex),
                "xatol": 1e-4,
                "fatol": 1e-4,
                "maxfev": 400,
            },
        )
        u_best, message = np.clip(res.x, 0, 1), str(res.message)
    est = lo + u_best * (hi - lo)
    values = obj.outcomes(est)
    table = []
    for t, (v, se) in zip(tg.targets, values, strict=True):
        table.append(
            {
                "target": t.name,
                "arm": t.arm,
                "observed": t.observed,
                "fitted": v,
                "mc_se": se,
                "deviance": deviance(t, v),
                "source": t.source,
            }
        )
    loss = float(sum(r["deviance"] for r in table))
    df = len(tg.targets) - len(tg.free)
    p_value = float(stats.chi2.sf(loss, df)) if df > 0 else float("nan")
    cov = hessian_covariance(obj, est, lo, hi) if propagate else None
    return Fit(
        [f.path for f in tg.free],
        start,
        est,
        loss,
        df,
        p_value,
        table,
        cov,
        obj.evaluations,
        message,
    )


def hessian_covariance(obj: Objective, est: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Approximate covariance of the estimate: 2 x inverse Hessian of the deviance, by
    central differences with steps of 5 % of the estimate (within the bounds)."""
    k = len(est)
    h = np.maximum(0.05 * np.abs(est), 1e-3 * (hi - lo))
    h = np.minimum(h, 0.49 * (hi - lo))

    def loss_at(x):
        return obj.loss(np.clip(x, lo, hi))

    f0 = loss_at(est)
    H = np.empty((k, k))
    for i in range(k):
        ei = np.eye(k)[i] * h[i]
        H[i, i] = (loss_at(est + ei) - 2 * f0 + loss_at(est - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.eye(k)[j] * h[j]
            H[i, j] = H[j, i] = (
                loss_at(est + ei + ej)
                - loss_at(est + ei - ej)
                - loss_at(est - ei + ej)
                + loss_at(est - ei - ej)
            ) / (4 * h[i] * h[j])
    try:
        cov = 2.0 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
        return None
    return cov


def write_calibrated(
    deal_text: str,
    fit: Fit,
    tg: Targets,
    targets_path: str,
    propagate: bool,
    warnings: list[str] | None = None,
) -> str:
    """The deal's text with the fitted values set, comments kept, and notes on what was
    fitted to what; with ``propagate`` the fitted parameters get normal distributions
    (sd from the approximate covariance, truncated to the bounds) in the uncertainty
    section, replacing any distribution they had."""
    warnings = warnings if warnings is not None else []
    doc = tomlkit.parse(deal_text)
    today = dt.date.today().isoformat()
    note = f"calibrated to {Path(targets_path).name} ({tg.name})"
    for path, value in zip(fit.names, fit.estimate, strict=True):
        parts = parse_path(path)
        node = parent = doc
        key = None
        try:
            for part in parts[:-1]:
                parent, key = node, part
                node = node[part]
            old = node[parts[-1]]
        except (KeyError, IndexError, tomlkit.exceptions.NonExistentKey):
            raise ConfigError(
                targets_path,
                [
                    f"free: '{path}' is not written in the deal file itself (it comes "
                    f"from defaults or shared rules); add it to the deal to calibrate it"
                ],
            ) from None
        rounded = float(f"{value:.4g}")
        node[parts[-1]] = rounded
        if isinstance(node, tomlkit.items.Array):
            parent[key].comment(f"{note}; [{parts[-1]}] was {old}")
        else:
            node[parts[-1]].comment(f"{note}; was {old}")
    # a distribution left on a fitted path would override the fitted value: remove it
    # (and, with propagate, put the calibration uncertainty in its place)
    unc = doc.get("uncertainty")
    params = unc.get("parameters") if unc is not None else None
    if params is not None:
        keep = [p for p in params if p.get("path") not in fit.names]
        removed = [p.get("path") for p in params if p.get("path") in fit.names]
        while len(params):
            params.pop(0)
        for p in keep:
            params.append(p)
        if removed and not propagate:
            warnings.append(
                f"the distributions on {', '.join(removed)} were removed so that the fitted "
                "values apply (use --propagate to replace them by the calibration uncertainty)"
            )
    if propagate and fit.covariance is not None:
        sds = np.sqrt(np.diag(fit.covariance))
        unc = doc.setdefault("uncertainty", tomlkit.table())
        params = unc.get("parameters")
        if params is None:
            params = tomlkit.aot()
            unc["parameters"] = params
        for path, value, sd, fp in zip(fit.names, fit.estimate, sds, tg.free, strict=True):
            rec = tomlkit.table()
            rec["path"] = path
            rec["distribution"] = "normal"
            rec["mean"] = float(f"{value:.4g}")
            rec["sd"] = float(f"{sd:.3g}")
            rec["low"] = fp.low
            rec["high"] = fp.high
            rec["source"] = f"{note}: approximate calibration uncertainty (inverse Hessian)"
            params.append(rec)
    header = [
        f"Calibrated by simrisk on {today}: {', '.join(fit.names)} fitted to the targets in",
        f"{Path(targets_path).name} ({tg.name}; {tg.source}).",
        f"Deviance {fit.loss:.2f} on {fit.df} degrees of freedom"
        + (f" (p = {fit.p_value:.2f})." if fit.df > 0 else "."),
    ]
    if propagate:
        header.append(
            "Calibration uncertainty is in the uncertainty section (marginal normals; the"
        )
        header.append("correlation between fitted parameters is not kept).")
    text = tomlkit.dumps(doc)
    return "".join(f"# {line}\n" for line in header) + "#\n" + text


def calibrated_config(text: str, source: str) -> DealConfig:
    """Parse a calibrated deal text (to check it before writing)."""
    import tomllib

    return parse_deal(tomllib.loads(text), source)
