"""Sweeps: many deals x stress points x scenarios as one job.

Every (deal, stress point, scenario range) is one chunk (:mod:`simrisk.distributed`);
every deal runs with the sweep's seed, so its base point has the per-scenario
metrics of ``simrisk run DEAL --seed SEED`` and every stress point of a deal is on
the same random numbers as its base (as in ``simrisk stress``). The result is
one dataset of per-scenario metrics with dimensions ``(deal, stress, scenario)``.

A sweep file::

    deals = ["../holbaek.toml", "../slagelse.toml"]   # relative to this file
    scenarios = 2000
    seed = 1
    chunk = 500                                      # scenarios per chunk
    [grid]                                           # full factorial of 'set' values
    "cohort.uptake" = [0.7, 0.85, 1.0]
    [[stress]]                                       # and/or named points
    name = "recession"
    changes = [{ path = "labour.job_entry_multiplier", scale = 0.7 }]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from pydantic import Field

from simrisk import engine
from simrisk.analysis import stress as stress_mod
from simrisk.config import ConfigError, DealConfig, StressPoint, Strict, load_deal, validate
from simrisk.distributed import ChunkSpec, ChunkStore, execute, split
from simrisk.files import read_toml
from simrisk.metrics import derived
from simrisk.outputs import PAYMENT_SHARES_NOTE, provenance
from simrisk.results import metric_variables
from simrisk.tables import Table

DEFAULT_SCENARIOS = 1000


class SweepFile(Strict):
    deals: list[str] = Field(min_length=1)
    scenarios: int = Field(default=DEFAULT_SCENARIOS, gt=0)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    chunk: int = Field(default=engine.CHUNK, gt=0)
    grid: dict[str, list[float]] = {}
    stress: list[StressPoint] = []


def is_sweep_file(path: str) -> bool:
    """A TOML file with a top-level ``deals`` list is a sweep file (a deal has none)."""
    try:
        raw, _ = read_toml(path)
    except ConfigError:
        return False
    return "deals" in raw


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, name))
        else:
            out[name] = v
    return out


def load_sweep_file(path: str) -> SweepFile:
    """Read and validate a sweep file; deal paths become relative to the working dir."""
    raw, _ = read_toml(path)
    if isinstance(raw.get("grid"), dict):
        raw["grid"] = _flatten(raw["grid"])  # unquoted dotted keys nest in TOML
    sf = validate(SweepFile, raw, path)
    here = Path(path).parent
    sf.deals = [str(p) if Path(p).is_absolute() else str(here / p) for p in sf.deals]
    return sf


def grid_points(grid: dict[str, list[float]]) -> list[StressPoint]:
    """A ``[grid]`` table as the full factorial :func:`stress.parse_grid` makes."""
    problems = [f"grid.{k}: give at least one value" for k, v in grid.items() if not v]
    if problems:
        raise ConfigError("grid", problems)
    if not grid:
        return []
    return stress_mod.parse_grid(
        [f"{k}={','.join(repr(x) for x in v)}" for k, v in grid.items()],
        [f'grid."{k}"' for k in grid],
    )


@dataclass
class SweepDeal:
    path: str
    cfg: DealConfig
    text: str
    prepared: list[stress_mod.Prepared]


@dataclass
class Sweep:
    deals: list[SweepDeal]
    seed: int
    n: int
    chunk: int

    @property
    def stress_names(self) -> list[str]:
        return [p.name for p in self.deals[0].prepared]


def build(
    deal_paths: list[str],
    points: list[StressPoint],
    seed: int,
    n: int,
    chunk: int,
    where: str | list[str] = "stress",
) -> Sweep:
    """Load every deal and prepare every stress point for it; ConfigError lists every
    problem of every deal, each line starting with the deal's path."""
    problems = []
    deals = []
    seen: dict[str, str] = {}
    for path in deal_paths:
        try:
            cfg, text = load_deal(path)
        except ConfigError as exc:
            problems += [p if p.startswith(str(path)) else f"{path}: {p}" for p in exc.problems]
            continue
        try:
            prepared = stress_mod.prepare(cfg, points, where)
        except ConfigError as exc:
            problems += [f"{path}: {p}" for p in exc.problems]
            continue
        label = Path(path).stem
        if label in seen:
            problems.append(f"deals: '{path}' and '{seen[label]}' have the same name '{label}'")
        seen[label] = str(path)
        deals.append(SweepDeal(str(path), cfg, text, prepared))
    if problems:
        raise ConfigError("sweep", problems)
    return Sweep(deals, seed, n, chunk)


def plan(sweep: Sweep) -> list[tuple[tuple[int, int, int, int], ChunkSpec]]:
    """Every chunk, labelled ``(deal, stress, scen0, m)``."""
    out = []
    ranges = split(sweep.n, sweep.chunk)
    for d, deal in enumerate(sweep.deals):
        for s, p in enumerate(deal.prepared):
            for scen0, m in ranges:
                spec = ChunkSpec(p.cfg, sweep.seed, sweep.n, scen0, m, tuple(p.adjust), deal.cfg)
                out.append(((d, s, scen0, m), spec))
    return out


def run_sweep(
    sweep: Sweep,
    backend,
    chunk_dir: str | Path | None = None,
    resume: bool = False,
    progress=None,
    on_chunk=None,
):
    """Per-scenario metrics, each of shape (deal, stress, scenario), and the chunk stats."""
    labelled = plan(sweep)
    store = ChunkStore(chunk_dir, sweep.seed) if chunk_dir is not None else None
    results, stats = execute(
        [s for _, s in labelled], backend, store, resume, progress=progress, on_chunk=on_chunk
    )
    shape = (len(sweep.deals), len(sweep.stress_names), sweep.n)
    metrics: dict[str, np.ndarray] = {}
    for (d, s, scen0, m), spec in labelled:
        for name, val in results[spec.key].items():
            if name not in metrics:
                metrics[name] = np.empty(shape, dtype=val.dtype)
            metrics[name][d, s, scen0 : scen0 + m] = val
    return metrics, stats


def beyond_bounds(sweep: Sweep) -> list[str]:
    """Every deal's stress points that take drawn values beyond what the deal accepts
    (:func:`simrisk.analysis.stress.beyond_bounds`), each line starting with the deal's
    path."""
    return [
        f"{d.path}: {line}"
        for d in sweep.deals
        for line in stress_mod.beyond_bounds(d.prepared, sweep.seed, sweep.n)
    ]


def build_dataset(
    sweep: Sweep, metrics: dict[str, np.ndarray], beyond: list[str] | tuple = ()
) -> xr.Dataset:
    """Per-scenario metrics (deal, stress, scenario); ``beyond`` (:func:`beyond_bounds`)
    kept in the attributes."""
    data = metric_variables(metrics, ("deal", "stress", "scenario"))
    first = sweep.deals[0].prepared
    data["deal_name"] = xr.Variable(("deal",), [d.cfg.deal.name for d in sweep.deals])
    data["deal_path"] = xr.Variable(("deal",), [d.path for d in sweep.deals])
    data["deal_file"] = xr.Variable(("deal",), [d.text for d in sweep.deals])
    data["stress_description"] = xr.Variable(("stress",), [p.description for p in first])
    ds = xr.Dataset(
        data,
        coords={
            "deal": [Path(d.path).stem for d in sweep.deals],
            "stress": sweep.stress_names,
            "scenario": np.arange(sweep.n),
        },
    )
    ds.attrs = provenance(
        f"sweep of {len(sweep.deals)} deal(s) x {len(first)} stress point(s)",
        ", ".join(d.cfg.deal.name for d in sweep.deals),
        sweep.seed,
        kind="sweep",
        n_scenarios=int(sweep.n),
        chunk=int(sweep.chunk),
        stress_changes="\n".join(f"{p.name}: {p.changes_text()}" for p in first),
        note=(
            "every deal runs with the same seed (its base point equals 'simrisk run DEAL "
            "--seed SEED'); every stress point of a deal uses the same scenarios (common "
            "random numbers); the numbers do not depend on the chunk size, backend or "
            "number of workers"
        ),
    )
    if beyond:
        ds.attrs["beyond_bounds"] = "\n".join(beyond)
    return ds


def table(sweep: Sweep, metrics: dict[str, np.ndarray]) -> list[dict]:
    """Key figures per deal and stress point."""
    return _rows([Path(d.path).stem for d in sweep.deals], sweep.stress_names, metrics)


def from_dataset(ds: xr.Dataset) -> tuple[list[dict], Table]:
    """The rows and the table of a sweep file, as ``simrisk sweep`` printed them."""
    keys = [k for k in ds.data_vars if ds[k].dims == ("deal", "stress", "scenario")]
    rows = _rows(
        [str(x) for x in ds["deal"].values],
        [str(x) for x in ds["stress"].values],
        {k: ds[k].values for k in keys},
    )
    title = f"sweep — {ds.sizes['scenario']:,} scenarios per point, seed {ds.attrs.get('seed')}"
    beyond = [line for line in str(ds.attrs.get("beyond_bounds", "")).splitlines() if line]
    return rows, _sweep_table(title, rows, beyond)


def _rows(deals: list[str], stresses: list[str], metrics: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for d, deal in enumerate(deals):
        for s, name in enumerate(stresses):
            m = {k: v[d, s] for k, v in metrics.items()}
            rows.append(
                {
                    "deal": deal,
                    "stress": name,
                    "investor_loss": float(derived(m, "investor_loss").mean()),
                    "investor_profit": float(m["investor_profit"].mean()),
                    "investor_moic": float(derived(m, "investor_moic").mean()),
                    "municipal_net": float(m["municipal_net"].mean()),
                    "municipal_loss": float(derived(m, "municipal_loss").mean()),
                    "deadweight_share": float(m["deadweight_share"].mean()),
                    "overpayment_share": float(m["overpayment_share"].mean()),
                }
            )
    return rows


def sweep_table(sweep: Sweep, rows: list[dict], beyond: list[str] | tuple = ()) -> Table:
    title = f"sweep — {sweep.n:,} scenarios per point, seed {sweep.seed}"
    return _sweep_table(title, rows, beyond)


def _sweep_table(title: str, rows: list[dict], beyond: list[str] | tuple = ()) -> Table:
    t = Table(
        title,
        [
            ("deal", "text"),
            ("stress", "text"),
            ("P(inv. loss)", "pct"),
            ("MOIC", "x"),
            ("inv. profit (mio.)", "mio"),
            ("mun. net (mio.)", "mio"),
            ("P(net < 0)", "pct"),
            ("deadweight", "pct"),
            ("overpaid", "pct"),
        ],
    )
    t.notes.append(PAYMENT_SHARES_NOTE)
    t.notes.extend(f"warning: {line}" for line in beyond)
    for r in rows:
        t.add(
            r["deal"],
            r["stress"],
            r["investor_loss"],
            r["investor_moic"],
            r["investor_profit"],
            r["municipal_net"],
            r["municipal_loss"],
            r["deadweight_share"],
            r["overpayment_share"],
        )
    return t


def from_files(
    files: list[str],
    grid: list[str],
    stress_file: str | None,
    scenarios: int | None,
    seed: int | None,
    chunk: int | None,
) -> tuple[Sweep, str]:
    """The sweep a command line asks for: one sweep file, or deal files with a grid or a
    stress file; options override the sweep file's values. Returns the sweep (its seed
    None if neither gives one) and the default output name."""
    problems = []
    sweep_files = [f for f in files if is_sweep_file(f)]
    if sweep_files:
        if len(files) > 1:
            problems.append("FILES: give one sweep file, or deal files only")
        if grid:
            problems.append("--grid: not with a sweep file (put the grid in it)")
        if stress_file:
            problems.append("--stress-file: not with a sweep file (put [[stress]] in it)")
        if problems:
            raise ConfigError("sweep", problems)
        sf = load_sweep_file(files[0])
        grid_pts = grid_points(sf.grid)
        points = grid_pts + list(sf.stress)
        where: str | list[str] = ["grid"] * len(grid_pts) + [
            f"stress[{i}]" for i in range(len(sf.stress))
        ]
        deal_paths = sf.deals
        scenarios = scenarios or sf.scenarios
        seed = seed if seed is not None else sf.seed
        chunk = chunk or sf.chunk
        default_out = Path(files[0]).stem + ".nc"
    else:
        if grid and stress_file:
            raise ConfigError("sweep", ["--grid, --stress-file: give one of them, not both"])
        points = (
            stress_mod.parse_grid(list(grid))
            if grid
            else stress_mod.load_stress_file(stress_file)
            if stress_file
            else []
        )
        deal_paths = list(files)
        scenarios = scenarios or DEFAULT_SCENARIOS
        chunk = chunk or engine.CHUNK
        default_out = "sweep.nc"
    if not sweep_files:
        where = "--grid" if grid else "stress"
    sweep = build(deal_paths, points, 0, scenarios, chunk, where)
    sweep.seed = seed
    return sweep, default_out


def n_chunks(sweep: Sweep) -> int:
    """Distinct chunks of work (points with the same key are computed once)."""
    return len({s.key for _, s in plan(sweep)})
