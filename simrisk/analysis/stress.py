"""Stress tests: named stress points and grids, all on common random numbers.

Every stress point runs the same scenarios with the same seed: the parameter
draws are the same (changes are applied after drawing) and every citizen's
random streams are the same, so the difference between two points is due to
the stress, not to noise. The standard error of a difference is the standard
deviation of the paired per-scenario differences over the square root of the
number of scenarios.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
import xarray as xr
from pydantic import ValidationError

import simrisk
from simrisk import engine, model
from simrisk.config import (
    ConfigError,
    DealConfig,
    StressPoint,
    read_toml,
    scenario_independent,
    validation_problems,
)


def default_stresses(cfg: DealConfig) -> list[StressPoint]:
    """The standard set, used when neither the deal nor a stress file names any."""
    start = cfg.deal.start_date
    shock_start = start + dt.timedelta(weeks=52)
    points = [
        {
            "name": "recession",
            "description": "30 % fewer job entries for everyone",
            "changes": [{"path": "labour.job_entry_multiplier", "scale": 0.7}],
        },
        {
            "name": "weak effect",
            "description": "the programme's excess hazard ratios halved",
            "changes": [
                {"path": f"effect.{k}[*]", "excess": 0.5}
                for k in ("job_entry", "education_entry", "job_loss")
                if getattr(cfg.effect, k) is not None
            ],
        },
        {
            "name": "enrolment shortfall",
            "description": "30 % fewer places filled",
            "changes": [{"path": "cohort.uptake", "scale": 0.7}],
        },
        {
            "name": "higher dropout",
            "description": "weekly dropout doubled in every phase",
            "changes": [{"path": "program.phases[*].dropout", "scale": 2.0}],
        },
        {
            "name": "delayed start",
            "description": "enrolment starts 26 weeks late",
            "changes": [{"path": "cohort.enrolment.delay_weeks", "add": 26.0}],
        },
        {
            "name": "rates frozen",
            "description": "no indexation of benefit rates",
            "changes": [{"path": "economics.benefits[*].indexation", "set": 0.0}],
        },
        {
            "name": "labour-market shock",
            "description": "job entries halved in the deal's second year",
            "calendar": [
                {
                    "start": shock_start,
                    "end": shock_start + dt.timedelta(weeks=52),
                    "job_entry_multiplier": 0.5,
                }
            ],
        },
    ]
    return [StressPoint.model_validate(p) for p in points]


def _tokens(path: str) -> list:
    out: list = []
    for chunk in path.split("."):
        name, _, rest = chunk.partition("[")
        if name:
            out.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            out.append("*" if idx == "*" else int(idx) if idx.isdigit() else None)
            rest = rest.lstrip("[")
    if not out or any(t is None or t == "" for t in out):
        raise ValueError(f"bad path '{path}'")
    return out


def expand(path: str, dumped: dict) -> list[tuple]:
    """Concrete paths matching ``path`` (``[*]`` matches every element or key)."""
    found: list[tuple] = []

    def walk(node, rest, prefix):
        if not rest:
            found.append(tuple(prefix))
            return
        head, tail = rest[0], rest[1:]
        if head == "*":
            keys = (
                range(len(node))
                if isinstance(node, list)
                else (list(node) if isinstance(node, dict) else [])
            )
            for k in keys:
                walk(node[k], tail, prefix + [k])
        elif isinstance(head, int):
            if isinstance(node, list) and head < len(node):
                walk(node[head], tail, prefix + [head])
        elif isinstance(node, dict) and head in node and node[head] is not None:
            walk(node[head], tail, prefix + [head])

    walk(dumped, _tokens(path), [])
    return found


@dataclass
class Prepared:
    """A stress point ready to run: its deal (calendar changes applied) and adjustments."""

    name: str
    description: str
    cfg: DealConfig
    adjust: list[model.Adjustment]


def prepare(cfg: DealConfig, points: list[StressPoint], where: str = "stress") -> list[Prepared]:
    """Resolve paths and check that every stressed value is one the deal accepts.

    Raises ConfigError with one line per problem."""
    dumped = cfg.model_dump(by_alias=True)
    problems = []
    out = [Prepared("base", "the deal as written", cfg, [])]
    names = {"base"}
    for i, pt in enumerate(points):
        if pt.name in names:
            problems.append(f"{where}[{i}].name: '{pt.name}' is used twice")
        names.add(pt.name)
        adjust = []
        trial = copy.deepcopy(dumped)
        trial["uncertainty"] = {"parameters": []}
        for j, ch in enumerate(pt.changes):
            at = f"{where}[{i}].changes[{j}].path"
            try:
                paths = expand(ch.path, dumped)
            except ValueError as exc:
                problems.append(f"{at}: {exc}")
                continue
            fixed = [p for p in paths if scenario_independent(p)]
            if fixed:
                problems.append(f"{at}: {scenario_independent(fixed[0])}")
                continue
            paths = [p for p in paths if _is_real(dumped, p)]
            if not paths:
                problems.append(f"{at}: '{ch.path}' names no real-valued field of the deal")
                continue
            op, value = ch.op
            for p in paths:
                a = model.Adjustment(p, op, value)
                adjust.append(a)
                node = trial
                for part in p[:-1]:
                    node = node[part]
                node[p[-1]] = float(a.apply(np.array([node[p[-1]]]))[0])
        trial["labour"]["calendar"] = list(trial["labour"]["calendar"]) + [
            c.model_dump(by_alias=True) for c in pt.calendar
        ]
        try:
            DealConfig.model_validate(trial)
        except ValidationError as err:
            problems.extend(
                f"{where}[{i}] ({pt.name}): {line}" for line in validation_problems(err)
            )
            continue
        point_cfg = cfg
        if pt.calendar:
            raw = cfg.model_dump(by_alias=True)
            raw["labour"]["calendar"] = trial["labour"]["calendar"]
            point_cfg = DealConfig.model_validate(raw)
        out.append(Prepared(pt.name, pt.description, point_cfg, adjust))
    if problems:
        raise ConfigError(where, problems)
    return out


def _is_real(dumped: dict, path: tuple) -> bool:
    node = dumped
    for part in path:
        node = node[part]
    return isinstance(node, float)


def parse_grid(specs: list[str]) -> list[StressPoint]:
    """``["effect.job_entry[2]=1.5,2,2.5", "cohort.uptake=0.8,1"]`` -> a full factorial."""
    axes = []
    problems = []
    for k, spec in enumerate(specs):
        path, sep, values = spec.partition("=")
        try:
            if not sep or not path.strip():
                raise ValueError
            vals = [float(v) for v in values.split(",") if v.strip()]
            if not vals:
                raise ValueError
        except ValueError:
            problems.append(f"--grid[{k}]: '{spec}' is not PATH=v1,v2,... with numbers")
            continue
        axes.append((path.strip(), vals))
    if problems:
        raise ConfigError("--grid", problems)
    points = []
    for combo in itertools.product(*[[(p, v) for v in vals] for p, vals in axes]):
        name = ", ".join(f"{p}={v:g}" for p, v in combo)
        points.append(StressPoint(name=name, changes=[{"path": p, "set": v} for p, v in combo]))
    return points


def load_stress_file(path: str) -> list[StressPoint]:
    raw, _ = read_toml(path)
    problems = []
    unknown = set(raw) - {"stress"}
    problems += [f"{k}: unknown key (a stress file holds [[stress]] tables)" for k in unknown]
    points = []
    for i, item in enumerate(raw.get("stress", [])):
        try:
            points.append(StressPoint.model_validate(item))
        except ValidationError as err:
            problems += [f"stress[{i}].{line}" for line in validation_problems(err)]
    if not points and not problems:
        problems.append("stress: the file names no [[stress]] points")
    if problems:
        raise ConfigError(path, problems)
    return points


def run_stress(
    cfg: DealConfig, prepared: list[Prepared], seed: int, n: int, progress=None
) -> list[dict]:
    """Run every point with the same seed and scenarios; per-scenario metrics per point."""
    st = model.build_structure(cfg)
    baseline = engine.compute_baseline(cfg, st) if cfg.contract.measurement == "baseline" else None
    out = []
    for p in prepared:
        raw = engine.run(p.cfg, seed, n, progress=progress, adjust=p.adjust, baseline=baseline)
        out.append(raw["metrics"])
    return out


KEY = (
    ("investor_profit", "investor profit", "mean"),
    ("investor_moic", "MOIC", "mean"),
    ("investor_loss", "P(investor loss)", "p"),
    ("municipal_net", "municipal net", "mean"),
    ("municipal_loss", "P(municipal net < 0)", "p"),
)


def _key_values(m: dict) -> dict[str, np.ndarray]:
    return {
        "investor_profit": m["investor_profit"],
        "investor_moic": np.nan_to_num(m["investor_moic"], nan=0.0),
        "investor_loss": (m["investor_profit"] < 0).astype(float),
        "municipal_net": m["municipal_net"],
        "municipal_loss": (m["municipal_net"] < 0).astype(float),
    }


def table(prepared: list[Prepared], metrics: list[dict]) -> list[dict]:
    """Key metrics per point and their differences to the base with standard errors."""
    base = _key_values(metrics[0])
    n = len(base["investor_profit"])
    rows = []
    for p, m in zip(prepared, metrics, strict=True):
        vals = _key_values(m)
        row = {"stress": p.name, "description": p.description}
        for key, _, _ in KEY:
            d = vals[key] - base[key]
            row[key] = float(vals[key].mean())
            row[f"{key}_diff"] = float(d.mean())
            row[f"{key}_diff_se"] = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        rows.append(row)
    return rows


def build_dataset(
    cfg: DealConfig, prepared: list[Prepared], metrics: list[dict], seed: int, deal_text: str
) -> xr.Dataset:
    """Per-scenario metrics with a ``stress`` dimension."""
    n = len(metrics[0]["municipal_net"])
    data = {}
    for name, (long_name, units) in engine.SCENARIO_METRICS.items():
        data[name] = xr.Variable(
            ("stress", "scenario"),
            np.stack([m[name] for m in metrics]),
            attrs={"long_name": long_name, "units": units},
        )
    data["stress_description"] = xr.Variable(("stress",), [p.description for p in prepared])
    ds = xr.Dataset(data, coords={"stress": [p.name for p in prepared], "scenario": np.arange(n)})
    ds.attrs = {
        "title": f"simrisk stress test: {cfg.deal.name}",
        "deal_name": cfg.deal.name,
        "seed": int(seed),
        "n_scenarios": int(n),
        "simrisk_version": simrisk.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "deal_file": deal_text,
        "stress_changes": "\n".join(
            f"{p.name}: "
            + "; ".join(f"{'.'.join(map(str, a.path))} {a.op} {a.value:g}" for a in p.adjust)
            for p in prepared
        ),
        "note": "every stress point uses the same seed and scenarios (common random numbers)",
    }
    return ds
