"""Loading: TOML in, a validated model out, every problem at once.

:func:`load_deal` reads a deal file, merges the shared rules it names
(``economics.rules``), validates it and checks its uncertainty section;
:func:`load_model` does the same for the other kinds of input file (targets,
stress, sweep, fund). Problems are raised as one :class:`ConfigError` whose
lines name the field. Nothing is written while loading.
"""

from __future__ import annotations

import copy
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from simrisk import copula, distributions
from simrisk.config.errors import validation_problems
from simrisk.config.evidence import Evidence
from simrisk.config.paths import RENAMED, get_path, parse_path, scenario_independent
from simrisk.config.schema import DealConfig
from simrisk.errors import ConfigError
from simrisk.files import MAX_DEPTH, read_toml, too_deep

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], raw: dict, source: str, prefix: str = "") -> M:
    """``model.model_validate(raw)``, or ConfigError with one line per problem."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(source, validation_problems(err, prefix)) from None


def load_model(model: type[M], path: str | Path) -> tuple[M, dict]:
    """Read a TOML file and validate it as ``model``; returns the model and the raw data."""
    raw, _ = read_toml(path)
    return validate(model, raw, str(path)), raw


def load_rules(name: str, base: Path | None = None) -> dict:
    """Shared economic rules (benefit rates, refusion) from package data or a TOML path
    (relative to ``base``, the deal file's folder, if given)."""
    if len(name) > 1000:
        raise ConfigError(
            "economics.rules", ["economics.rules: a name or path of at most 1,000 characters"]
        )
    if name.endswith(".toml"):
        return read_named(name, base, "economics.rules")
    res = resources.files("simrisk") / "data" / f"{name}.toml"
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", name) or not res.is_file():
        available = sorted(
            f.name[:-5]
            for f in (resources.files("simrisk") / "data").iterdir()
            if f.name.endswith(".toml")
        )
        raise ConfigError(
            name, [f"economics.rules: unknown rules '{name}' (available: {', '.join(available)})"]
        )
    return tomllib.loads(res.read_text(encoding="utf-8"))


def merge_rules(raw: dict, base: Path | None = None) -> dict:
    """Merge the shared rules named by ``economics.rules`` under the deal's own economics."""
    data = copy.deepcopy(raw)
    econ = data.get("economics")
    if not isinstance(econ, dict):
        return data
    rules = econ.get("rules", "denmark")
    if rules is None or not isinstance(rules, str):
        return data
    shared = load_rules(rules, base)
    benefits = dict(shared.get("benefits", {}))
    own = econ.get("benefits", {})
    if not isinstance(own, dict):
        return data  # validation reports the wrong type
    benefits.update(own)
    econ["benefits"] = benefits
    for key in ("refusion", "regulation"):
        if key not in econ and key in shared:
            econ[key] = shared[key]
    return data


def _renamed(raw: dict) -> tuple[dict, list[str]]:
    """Accept old section names (``[program]``) with a warning."""
    warnings = []
    for old, new in RENAMED.items():
        if old in raw and new not in raw:
            raw = dict(raw)
            raw[new] = raw.pop(old)
            warnings.append(
                f"{old}: the section is now called [{new}] (and paths start with '{new}.'); "
                f"rename it in the file"
            )
    return raw, warnings


def parse_deal(raw: dict, source: str = "<deal>", base: Path | None = None) -> DealConfig:
    """Validate a deal given as a dict (TOML names); raise ConfigError listing every
    problem. ``base`` is the folder relative paths in the deal are resolved against."""
    deep = too_deep(raw)
    if deep is not None:
        raise ConfigError(source, [f"{deep}: nested more than {MAX_DEPTH} levels deep"])
    raw, warnings = _renamed(raw)
    try:
        raw = read_posterior(raw, base)
    except ConfigError as exc:  # the file's problem, and every other problem of the deal
        unc = {k: x for k, x in raw["uncertainty"].items() if k != "posterior"}
        try:
            validate(DealConfig, merge_rules({**raw, "uncertainty": unc}, base), source)
        except ConfigError as rest:
            raise ConfigError(source, exc.problems + rest.problems) from None
        raise ConfigError(source, exc.problems) from None
    cfg = validate(DealConfig, merge_rules(raw, base), source)
    missing: list[str] = []
    problems = check_uncertainty(cfg) + check_evidence(cfg, base, missing)
    if problems:
        raise ConfigError(source, problems)
    post = cfg.uncertainty.posterior
    if post is not None and post.deal and post.deal != cfg.deal.name:
        warnings.append(
            f"uncertainty.posterior: {post.file} was fitted for the deal '{post.deal}', not "
            f"'{cfg.deal.name}'"
        )
    cfg._warnings.extend(warnings + missing)
    return cfg


def _relative(name: str, base: Path | None) -> Path:
    p = Path(name)
    return p if base is None or p.is_absolute() else base / p


def read_named(name: str, base: Path | None, field: str) -> dict:
    """The TOML file a deal's ``field`` names (relative to ``base``); its problems on that
    field."""
    path = _relative(name, base)
    try:
        if not path.exists():
            where = (
                "" if Path(name).is_absolute() or base is None else ", relative to the deal file"
            )
            raise ConfigError(name, [f"{name}: no such file (looked for {path.absolute()}{where})"])
        data, _ = read_toml(path)
    except OSError as exc:
        raise ConfigError(name, [f"{field}: cannot read {name} ({exc.strerror})"]) from None
    except ConfigError as exc:
        raise ConfigError(name, [f"{field}: {q}" for q in exc.problems]) from None
    return data


def read_posterior(raw: dict, base: Path | None) -> dict:
    """Put the content of the posterior file that ``uncertainty.posterior`` names in its
    place (with ``file`` set to the name), so that the draws are part of the deal."""
    unc = raw.get("uncertainty")
    name = unc.get("posterior") if isinstance(unc, dict) else None
    if not isinstance(name, str):
        return raw
    if len(name) > 1000:
        raise ConfigError(name[:60], ["uncertainty.posterior: a path of at most 1,000 characters"])
    data = read_named(name, base, "uncertainty.posterior")
    raw = dict(raw)
    raw["uncertainty"] = {**unc, "posterior": {**data, "file": name}}
    return raw


def load_evidence(path: str | Path, where: str | None = None) -> Evidence:
    """Load and validate an evidence file; with ``where`` (the field naming it), a file
    that cannot be read is a ConfigError on that field."""
    if where is None:
        ev, _ = load_model(Evidence, path)
        return ev
    try:
        ev, _ = load_model(Evidence, path)
    except OSError as exc:
        raise ConfigError(str(path), [f"{where}: cannot read {path} ({exc.strerror})"]) from None
    return ev


def check_evidence(cfg: DealConfig, base: Path | None, missing: list[str]) -> list[str]:
    """The arms and endpoints the deal refers to exist in the evidence files it names.
    A file that cannot be read is not needed to run the deal, only to calibrate and check
    it: it goes to ``missing`` (a warning), not to the problems."""
    problems = []
    for i, use in enumerate(cfg.evidence):
        where = f"evidence[{i}]"
        path = _relative(use.file, base)
        if not path.is_file():
            missing.append(
                f"{where}.file: there is no file {use.file}; 'calibrate' and 'check' need it"
            )
            continue
        try:
            ev = load_evidence(path)
        except OSError as exc:
            problems.append(f"{where}.file: cannot read {use.file} ({exc.strerror})")
            continue
        except ConfigError as exc:
            problems += [f"{where}.file: {use.file}: {q}" for q in exc.problems]
            continue
        arms = {a.id for a in ev.arms}
        for arm in use.arms:
            if arm not in arms:
                problems.append(
                    f"{where}.arms: {ev.id} has no arm '{arm}' (arms: {', '.join(sorted(arms))})"
                )
        keys = {e.key for e in ev.endpoints} | {e.id for e in ev.endpoints}
        for name in use.calibrate:
            if name not in keys:
                problems.append(f"{where}.calibrate: {ev.id} has no endpoint '{name}'")
            elif all(
                use.arms.get(e.arm, "none") == "none" for e in ev.endpoints if name in (e.id, e.key)
            ):
                problems.append(
                    f"{where}.calibrate: '{name}' is of an arm the deal does not map (arms)"
                )
    if cfg.calibration is not None and not any(u.calibrate for u in cfg.evidence):
        problems.append(
            "calibration: no [[evidence]] lists endpoints in 'calibrate' to fit the free "
            "parameters to"
        )
    return problems


def load_deal(path: str | Path) -> tuple[DealConfig, str]:
    """Load and validate a deal file. Returns the config and the file's text."""
    raw, text = read_toml(path)
    return parse_deal(raw, str(path), Path(path).parent), text


def with_value(dumped: dict, path: tuple, value) -> dict:
    """A copy of ``dumped`` with ``value`` at ``path``: only the containers on the path are
    copied (the rest is shared), so the cost does not grow with the deal's size."""
    top = dict(dumped)
    node = top
    for part in path[:-1]:
        child = node[part]
        child = list(child) if isinstance(child, list) else dict(child)
        node[part] = child
        node = child
    node[path[-1]] = value
    return top


def rejection(dumped: dict, path: tuple, value: float) -> str | None:
    """Why the deal (as dumped by alias) would not accept ``value`` at ``path``, or None.

    The uncertainty section is left out, so only the leaf's own rules apply (and the
    deal-wide checks that involve it)."""
    trial = with_value(dumped, path, value)
    trial["uncertainty"] = {"parameters": []}
    trial["stress"] = []
    try:
        DealConfig.model_validate(trial)
    except ValidationError as err:
        return validation_problems(err)[0].split(": ", 1)[-1]
    return None


def check_uncertainty(cfg: DealConfig) -> list[str]:
    """Check that every uncertain path names a numeric, non-structural leaf and that the
    distribution stays within the values the leaf accepts."""
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
        why = scenario_independent(path)
        if why:
            problems.append(f"{where}: {why}")
            continue
        if isinstance(value, bool) or not isinstance(value, float):
            kind = "a whole number (structural)" if isinstance(value, int) else "not a number"
            problems.append(
                f"{where}: '{dist.path}' is {kind}; only real-valued fields can be uncertain"
            )
            continue
        lo, hi = distributions.support(dist)
        for extreme in (lo, hi):
            first = rejection(dumped, path, extreme)
            if first is not None:
                problems.append(
                    f"uncertainty.parameters[{i}]: the {dist.distribution} distribution reaches "
                    f"{extreme:g}, which {dist.path} does not accept ({first}); narrow or "
                    f"bound the distribution"
                )
                break
    problems += _set_up_within_capital(cfg)
    post = cfg.uncertainty.posterior
    if post is not None:
        problems += _posterior_problems(post, dumped, seen)
    return problems + correlation_problems(cfg)


def _set_up_within_capital(cfg: DealConfig) -> list[str]:
    """With overrun = 'fewer_citizens', the set-up must fit in the capital in every
    scenario: when both are uncertain, the highest set-up cost in the lowest capital (each
    alone is checked against the other's value, as every leaf is)."""
    if cfg.investor.overrun != "fewer_citizens":
        return []
    ends = {}
    for i, dist in enumerate(cfg.uncertainty.parameters):
        if dist.path in ("investor.capital", "programme.setup_cost"):
            ends[dist.path] = (i, distributions.support(dist))
    if len(ends) < 2:
        return []
    i, (capital, _) = ends["investor.capital"]
    j, (_, setup) = ends["programme.setup_cost"]
    if capital >= setup:
        return []
    return [
        f"uncertainty.parameters[{i}], uncertainty.parameters[{j}]: the capital can be as low "
        f"as {capital:,.0f} DKK and programme.setup_cost as high as {setup:,.0f} DKK; with "
        "investor.overrun = 'fewer_citizens' the set-up must fit in the capital in every "
        "scenario (narrow the distributions, or choose 'top_up' or 'provider')"
    ]


def correlation_inputs(cfg: DealConfig) -> tuple[list[tuple[int, int, float]], list[int], str]:
    """The correlations as (a, b, rank) over the sampler's unit dimensions (one per
    distribution, then one for a posterior), the dimensions named, and the posterior
    parameter that orders its draws ('' if none). ValueError names a problem."""
    unc = cfg.uncertainty
    dims: dict[tuple, int] = {}
    for j, d in enumerate(unc.parameters):
        dims.setdefault(parse_path(d.path), j)
    post_dim = len(unc.parameters)
    post_paths = [parse_path(p) for p in unc.posterior.paths] if unc.posterior else []
    pairs, order = [], ""
    for i, c in enumerate(unc.correlations):
        ends = []
        try:
            both = all(parse_path(name) in post_paths for name in c.between)
        except (ValueError, KeyError):
            both = False
        if both:
            raise ValueError(
                f"uncertainty.correlations[{i}].between: both are the calibration posterior, "
                "one input (its draws keep their own correlation)"
            )
        for name in c.between:
            try:
                path = parse_path(name)
            except (ValueError, KeyError):
                raise ValueError(
                    f"uncertainty.correlations[{i}].between: bad path '{name}'"
                ) from None
            if path in dims:
                if unc.parameters[dims[path]].distribution == "fixed":
                    raise ValueError(
                        f"uncertainty.correlations[{i}].between: '{name}' is fixed; a "
                        "correlation needs two inputs that vary"
                    )
                ends.append(dims[path])
            elif path in post_paths:
                if order and order != name:
                    raise ValueError(
                        f"uncertainty.correlations[{i}].between: '{name}': the posterior's "
                        f"draws are already ordered by '{order}'; correlate one of its "
                        "parameters only"
                    )
                order = name
                ends.append(post_dim)
            else:
                raise ValueError(
                    f"uncertainty.correlations[{i}].between: '{name}' is not an uncertain "
                    "input (give it a distribution in uncertainty.parameters, or name a "
                    "parameter of the calibration posterior)"
                )
        pairs.append((ends[0], ends[1], c.rank))
    named = sorted({d for a, b, _ in pairs for d in (a, b)})
    return pairs, named, order


def correlation_problems(cfg: DealConfig) -> list[str]:
    """One line per problem of the deal's rank correlations: an input that is not
    uncertain, a pair given twice, a matrix that is not a correlation matrix."""
    if not cfg.uncertainty.correlations:
        return []
    try:
        pairs, named, _ = correlation_inputs(cfg)
    except ValueError as exc:
        return [str(exc)]
    seen, problems = set(), []
    for i, (a, b, _) in enumerate(pairs):
        key = (min(a, b), max(a, b))
        if key in seen:
            problems.append(f"uncertainty.correlations[{i}]: this pair is given twice")
        seen.add(key)
    if problems:
        return problems
    index = {d: k for k, d in enumerate(named)}
    c = copula.matrix([(index[a], index[b], r) for a, b, r in pairs], len(named))
    low = copula.smallest_eigenvalue(c)
    if low <= 1e-9:
        problems.append(
            "uncertainty.correlations: the rank correlations are not possible together (the "
            f"copula's correlation matrix has an eigenvalue of {low:.3g}, not above 0); "
            "weaken some of them"
        )
    return problems


def _posterior_problems(post, dumped: dict, seen: set) -> list[str]:
    problems = []
    draws = np.asarray(post.draws, float)
    for j, name in enumerate(post.paths):
        where = f"uncertainty.posterior.paths[{j}]"
        try:
            path = parse_path(name)
            value = get_path(dumped, path)
        except (ValueError, KeyError):
            problems.append(f"{where}: '{name}' names no field of the deal")
            continue
        if path in seen:
            problems.append(f"{where}: '{name}' also has a distribution in uncertainty.parameters")
            continue
        why = scenario_independent(path)
        if why:
            problems.append(f"{where}: {why}")
            continue
        if isinstance(value, bool) or not isinstance(value, float):
            problems.append(f"{where}: '{name}' is not a real-valued field")
            continue
        for extreme in (draws[:, j].min(), draws[:, j].max()):
            first = rejection(dumped, path, float(extreme))
            if first is not None:
                problems.append(
                    f"uncertainty.posterior: a draw of {name} is {extreme:g}, which the field "
                    f"does not accept ({first})"
                )
                break
    return problems
