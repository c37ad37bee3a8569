"""Calibration: fit free deal parameters to observed outcomes.

The targets are the endpoints of the deal's evidence that its ``[[evidence]]`` lists
under ``calibrate`` (or a targets file), and the free parameters those of its
``[calibration]`` (see :mod:`simrisk.analysis.targets`).

Every evaluation simulates the same scenarios with the same random streams (common
random numbers) and the deal's central parameter values, so the outcomes are a
deterministic function of the free parameters.

Two methods: ``smc`` (the default) samples the posterior of the free parameters by
sequential Monte Carlo (:mod:`simrisk.analysis.bayes`); its joint draws are written to
a posterior file that the calibrated deal names, so that ``run`` samples them with
their correlation. ``point`` minimises the deviance (-2 log-likelihood ratio) summed
over targets; at the optimum it is approximately chi-squared with (targets - free
parameters) degrees of freedom.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tomlkit
from scipy import optimize, stats
from scipy.special import expit

from simrisk import interrupt, rng, simulation
from simrisk.analysis import bayes
from simrisk.analysis.targets import (
    Targets,
    deal_targets,
    deviance,
    load_targets,
    log_likelihood,
    outcome,
)
from simrisk.config import ConfigError, DealConfig, get_path, parse_deal, parse_path
from simrisk.sampling import Values, central_overrides

__all__ = [
    "Fit",
    "Objective",
    "Targets",
    "calibrate",
    "deal_targets",
    "load_targets",
    "posterior_fit",
    "write_calibrated",
]


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
    at_bounds: list[tuple[int, str]] = field(default_factory=list)
    """(parameter index, "lower" or "upper") of the estimates at a bound of their range"""
    posterior: bayes.Posterior | None = None
    """The joint draws, for the ``smc`` method (``estimate`` is then their median)."""


class Objective:
    """Deterministic simulated outcomes as a function of the free parameters."""

    def __init__(self, cfg: DealConfig, tg: Targets, n_scenarios: int, seed: int):
        self.cfg = cfg
        self.tg = tg
        self.n = n_scenarios
        self.key = rng.seed_key(seed)
        offsets = sorted({o for t in tg.targets for o in t.offsets})
        self.st = simulation.build_structure(cfg, extra_checks=offsets)
        self.paths = [parse_path(f.path) for f in tg.free]
        self.base = central_overrides(cfg, n_scenarios)
        self.dumped = cfg.model_dump(by_alias=True)
        self.evaluations = 0

    def simulate(self, theta: np.ndarray) -> simulation.KernelOut:
        over = dict(self.base)
        for p, value in zip(self.paths, theta, strict=True):
            over[p] = np.full(self.n, float(value))
        v = Values(self.dumped, over, self.n)
        kin = simulation.kernel_inputs(self.cfg, self.st, v)
        self.evaluations += 1
        return simulation.simulate(self.key, 0, self.st, kin)

    def outcomes(self, theta: np.ndarray) -> list[tuple[float, float]]:
        """(simulated value, its Monte Carlo standard error) per target."""
        sim = self.simulate(theta)
        return [outcome(sim, t, self.st) for t in self.tg.targets]

    def log_likelihood(self, thetas: np.ndarray) -> np.ndarray:
        """Log-likelihood of the targets at each row of ``thetas`` (particle, parameter)."""
        out = np.empty(thetas.shape[0])
        for i, theta in enumerate(thetas):
            interrupt.check()
            out[i] = sum(
                log_likelihood(t, v, se)
                for t, (v, se) in zip(self.tg.targets, self.outcomes(theta), strict=True)
            )
        return out

    def loss(self, theta: np.ndarray) -> float:
        interrupt.check()  # an interruption swallowed while numba compiled
        return float(
            sum(
                deviance(t, v)
                for t, (v, _) in zip(self.tg.targets, self.outcomes(theta), strict=True)
            )
        )


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
    table, loss, df, p_value = fit_at(obj, tg, est)
    cov = hessian_covariance(obj, est, lo, hi) if propagate else None
    at_bounds = _at_bounds(obj, est, lo, hi, loss)
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
        at_bounds,
    )


def posterior_fit(
    cfg: DealConfig,
    tg: Targets,
    n_scenarios: int = 20,
    seed: int = 20240201,
    particles: int = 500,
    progress=None,
) -> Fit:
    """Sample the posterior of the free parameters (sequential Monte Carlo); the estimate is
    the posterior median, the table the fit there."""
    obj = Objective(cfg, tg, n_scenarios, seed)
    prior = bayes.Prior(
        np.array([f.low for f in tg.free], float),
        np.array([f.high for f in tg.free], float),
        np.array([f.prior == "log_uniform" for f in tg.free]),
    )
    post = bayes.smc(obj.log_likelihood, prior, particles, seed, progress=progress)
    dumped = cfg.model_dump(by_alias=True)
    start = np.array([get_path(dumped, parse_path(f.path)) for f in tg.free], float)
    est = np.median(post.draws, axis=0)
    table, loss, df, p_value = fit_at(obj, tg, est)
    cov = np.atleast_2d(np.cov(post.draws.T))
    message = (
        f"{particles} particles, {len(post.temperatures) - 1} tempering steps, "
        f"{post.evaluations} simulations of {n_scenarios} scenarios"
    )
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
        piled_at_bounds(post.draws, prior),
        post,
    )


def fit_at(obj: Objective, tg: Targets, theta: np.ndarray):
    """The fit at ``theta``: its table, total deviance, degrees of freedom and p-value."""
    table = fit_table(obj, tg, theta)
    loss = float(sum(r["deviance"] for r in table))
    df = len(tg.targets) - len(tg.free)
    p_value = float(stats.chi2.sf(loss, df)) if df > 0 else float("nan")
    return table, loss, df, p_value


def fit_table(obj: Objective, tg: Targets, theta: np.ndarray) -> list[dict]:
    table = []
    for t, (v, se) in zip(tg.targets, obj.outcomes(theta), strict=True):
        table.append(
            {
                "target": t.name,
                "arm": t.arm,
                "observed": t.fitted_observed,
                "fitted": v,
                "mc_se": se,
                "deviance": deviance(t, v),
                "source": t.source,
            }
        )
    return table


PILED = 0.2
"""A posterior with this share of its draws in the outer 5 % of a parameter's range sits at
that bound."""


def piled_at_bounds(draws: np.ndarray, prior: bayes.Prior) -> list[tuple[int, str]]:
    """The parameters whose posterior piles up at a bound of the prior's range (its outer
    5 % on the prior's own scale, linear or logarithmic): the evidence would take them
    beyond it, or does not pin them down."""
    out = []
    u_all = expit(prior.to_z(draws))
    for i in range(draws.shape[1]):
        u = u_all[:, i]
        if np.mean(u < NEAR_BOUND) > PILED:
            out.append((i, "lower"))
        if np.mean(u > 1 - NEAR_BOUND) > PILED:
            out.append((i, "upper"))
    return out


def _at_bounds(obj: Objective, est, lo, hi, loss: float) -> list[tuple[int, str]]:
    """The estimates near a bound (within 5 % of the range) where the deviance at the bound
    itself is no higher: the optimiser stopped short of a bound it was heading for."""
    out = []
    for i in range(len(est)):
        for side, bound in (("lower", lo[i]), ("upper", hi[i])):
            if abs(est[i] - bound) <= NEAR_BOUND * (hi[i] - lo[i]):
                x = est.copy()
                x[i] = bound
                if obj.loss(x) <= loss + 1e-9 * max(1.0, abs(loss)):
                    out.append((i, side))
    return out


NEAR_BOUND = 0.05
"""An estimate within this share of its range from a bound, with a deviance at the bound
no higher than its own, sits at the bound."""
POOR_P = 0.05
"""A goodness of fit below this p-value is poor."""
MISSED_DEVIANCE = stats.chi2.ppf(0.95, 1)
"""A target whose own deviance exceeds this (the 95 % point of chi-squared on one degree
of freedom) is missed."""


def fit_warnings(fit: Fit, tg: Targets) -> list[str]:
    """What a user must know before trusting a fit: parameters at a bound of their
    range (the optimum may lie beyond it, or the targets may not identify them), a poor
    goodness of fit, targets the model misses."""
    out = []
    for i, side in fit.at_bounds:
        f = tg.free[i]
        bound = f.low if side == "lower" else f.high
        what = (
            f"the posterior of {fit.names[i]} piles up at"
            if fit.posterior is not None
            else f"{fit.names[i]} = {fit.estimate[i]:.4g} sits at"
        )
        out.append(
            f"{what} the {side} bound {bound:g} of its range: the best fit may lie beyond "
            "it, or the targets do not pin it down"
        )
    if fit.df > 0 and fit.p_value < POOR_P:
        out.append(
            f"poor fit: deviance {fit.loss:.2f} on {fit.df} degrees of freedom (p = "
            f"{fit.p_value:.3g} < {POOR_P}): the model does not reproduce these targets"
        )
    for r in fit.table:
        if r["deviance"] > MISSED_DEVIANCE:
            out.append(
                f"target '{r['target']}' missed: fitted {r['fitted']:.3f} against observed "
                f"{r['observed']:.3f} (deviance {r['deviance']:.2f} > {MISSED_DEVIANCE:.2f})"
            )
    return out


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


def posterior_text(fit: Fit, tg: Targets, cfg: DealConfig, seed: int, n_scenarios: int) -> str:
    """The posterior file: the joint draws with what they were fitted to and how."""
    post = fit.posterior
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Posterior of the calibration of {cfg.deal.name}: written by"))
    doc.add(tomlkit.comment("'simrisk calibrate'; the deal that names it samples one whole draw"))
    doc.add(tomlkit.comment("per scenario. Recalibrate rather than edit it by hand."))
    doc["deal"] = cfg.deal.name
    doc["method"] = (
        "sequential Monte Carlo with likelihood tempering (normal likelihood of the published "
        f"endpoints; {fit.message})"
    )
    doc["source"] = tg.source if tg.source.startswith(tg.name) else f"{tg.name} ({tg.source})"
    doc["created"] = dt.date.today().isoformat()
    doc["fitted_to"] = [t.key or t.name for t in tg.targets]
    doc["seed"] = int(seed)
    doc["particles"] = int(post.particles)
    doc["evaluations"] = int(post.evaluations)
    doc["paths"] = list(fit.names)
    rows = tomlkit.array()
    rows.multiline(True)
    for row in post.draws:
        rows.append([float(f"{x:.6g}") for x in row])
    doc["draws"] = rows
    return tomlkit.dumps(doc)


def write_calibrated(
    deal_text: str,
    fit: Fit,
    tg: Targets,
    targets_path: str,
    propagate: bool,
    warnings: list[str] | None = None,
    posterior_file: str | None = None,
    moved: tuple[Path, Path] | None = None,
) -> str:
    """The deal's text with the fitted values set, comments kept, and notes on what was
    fitted to what; with ``propagate`` the fitted parameters get normal distributions
    (sd from the approximate covariance, truncated to the bounds) in the uncertainty
    section, replacing any distribution they had."""
    warnings = warnings if warnings is not None else []
    doc = tomlkit.parse(without_header(deal_text))
    if moved is not None:
        rebase(doc, *moved)
    today = dt.date.today().isoformat()
    what = Path(targets_path).name if targets_path else "the deal's evidence"
    note = f"calibrated to {what} ({tg.name})"
    if posterior_file is not None:
        note = f"posterior median of the calibration to {tg.source}"
    for path, value, start in zip(fit.names, fit.estimate, fit.start, strict=True):
        parts = parse_path(path)
        node = parent = doc
        key = None
        try:
            for part in parts[:-1]:
                parent, key = node, part
                node = node[part]
            if isinstance(parts[-1], str) and isinstance(node, dict) and parts[-1] not in node:
                # a field the deal leaves at its default: written now
                old = f"the default {start:g}"
            else:
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
        if removed and not propagate and posterior_file is None:
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
    unc = doc.get("uncertainty")
    if posterior_file is None and unc is not None and "posterior" in unc:
        warnings.append(
            f"the posterior {unc['posterior']} of an earlier calibration was removed: its draws "
            "would override the values fitted now"
        )
        del unc["posterior"]
    if posterior_file is not None:
        unc = doc.setdefault("uncertainty", tomlkit.table())
        unc["posterior"] = posterior_file
        header = [
            f"Calibrated by simrisk on {today}: {', '.join(fit.names)} fitted to",
            f"{tg.source} by sequential Monte Carlo; the joint posterior draws are in",
            f"{posterior_file} (uncertainty.posterior), the values below are their medians.",
            f"At the medians: deviance {fit.loss:.2f} on {fit.df} degrees of freedom"
            + (f" (p = {fit.p_value:.2f})." if fit.df > 0 else "."),
        ]
    else:
        header = [
            f"Calibrated by simrisk on {today}: {', '.join(fit.names)} fitted to the targets in",
            f"{what} ({tg.name}; {tg.source}).",
            f"Deviance {fit.loss:.2f} on {fit.df} degrees of freedom"
            + (f" (p = {fit.p_value:.2f})." if fit.df > 0 else "."),
        ]
    header += [f"Warning: {w}" for w in fit_warnings(fit, tg)]
    if propagate:
        header.append(
            "Calibration uncertainty is in the uncertainty section (marginal normals; the"
        )
        header.append("correlation between fitted parameters is not kept).")
    text = tomlkit.dumps(doc)
    return "".join(f"# {line}\n" for line in header) + "#\n" + text


CITIZENS = 4000
"""Simulated citizens per evaluation by default: the Monte Carlo error of a simulated share
is then at most 0.8 points, against the 3 points or more of a study of a few hundred
people (and it enters the likelihood's variance)."""


def default_scenarios(cfg: DealConfig) -> int:
    """Scenarios per evaluation that simulate about :data:`CITIZENS` citizens (at least 10)."""
    per = max(1.0, cfg.cohort.size * cfg.cohort.uptake)
    return max(10, math.ceil(CITIZENS / per))


HEADER = "# Calibrated by simrisk"


def rebase(doc, old: Path, new: Path) -> None:
    """Rewrite the deal's relative file names (evidence files, shared rules given as a
    file) from folder ``old`` to folder ``new``, where the calibrated deal is written."""
    if old.resolve() == new.resolve():
        return

    def moved(name: str) -> str:
        p = Path(name)
        if p.is_absolute():
            return name
        return Path(os.path.relpath((old / p).resolve(), new.resolve())).as_posix()

    for use in doc.get("evidence", []):
        use["file"] = moved(str(use["file"]))
    econ = doc.get("economics")
    if econ is not None and str(econ.get("rules", "")).endswith(".toml"):
        econ["rules"] = moved(str(econ["rules"]))


def default_posterior(output: str | Path) -> Path:
    """Where the posterior of a calibrated deal goes: ``posteriors/<deal>.toml`` beside it."""
    out = Path(output)
    return out.parent / "posteriors" / f"{out.stem}.toml"


def without_header(text: str) -> str:
    """The deal's text without the header of an earlier calibration (its lines up to the
    first bare ``#``)."""
    if not text.startswith(HEADER):
        return text
    lines = text.splitlines(keepends=True)
    end = next((i for i, line in enumerate(lines) if line.strip() == "#"), -1)
    return "".join(lines[end + 1 :])


def calibrated_config(
    text: str, source: str, base: Path | None = None, posterior: str | None = None
) -> DealConfig:
    """Parse a calibrated deal text (to check it before writing); ``posterior`` is the text
    of the posterior file it names, not yet written."""
    import tomllib

    raw = tomllib.loads(text)
    if posterior is not None:
        unc = dict(raw["uncertainty"])
        unc["posterior"] = {**tomllib.loads(posterior), "file": unc["posterior"]}
        raw["uncertainty"] = unc
    return parse_deal(raw, source, base)
