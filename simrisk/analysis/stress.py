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
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr
from pydantic import ValidationError

from simrisk import engine, finance, simulation
from simrisk.analysis.bounds import Beyond
from simrisk.config import (
    ConfigError,
    DealConfig,
    StressPoint,
    expand,
    is_real,
    load_model,
    scenario_independent,
    validation_problems,
)
from simrisk.config.base import Strict
from simrisk.config.paths import not_real, path_text
from simrisk.config.uncertainty import Change
from simrisk.contracts import compute_baseline
from simrisk.metrics import derived
from simrisk.outputs import PAYMENT_SHARES_NOTE, provenance
from simrisk.rates import week_dates
from simrisk.results import metric_variables
from simrisk.sampling import Adjustment, Sampler, chunk_values
from simrisk.simulation.inputs import simulated_weeks
from simrisk.tables import Table
from simrisk.vocabulary import BASELINE_READINGS


def default_stresses(cfg: DealConfig) -> list[StressPoint]:
    """The standard set, used when neither the deal nor a stress file names any."""
    start = cfg.deal.start_date
    shock_start = start + dt.timedelta(weeks=52)
    # no regulation at all: the shared table's years and assumed rate, and any benefit's
    # own flat indexation
    frozen = [{"path": "economics.regulation.assumed", "set": 0.0}]
    if cfg.economics.regulation.years:
        frozen.append({"path": "economics.regulation.years[*].rate", "set": 0.0})
    if any(b.indexation is not None for b in cfg.economics.benefits.values()):
        frozen.append({"path": "economics.benefits[*].indexation", "set": 0.0})
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
            "changes": [{"path": "programme.phases[*].dropout", "scale": 2.0}],
        },
        {
            "name": "delayed start",
            "description": "enrolment starts 26 weeks late",
            "changes": [{"path": "cohort.enrolment.delay_weeks", "add": 26.0}],
        },
        {
            "name": "rates frozen",
            "description": "no regulation of benefit rates",
            "changes": frozen,
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


@dataclass
class Prepared:
    """A stress point ready to run: its deal (calendar changes applied) and adjustments."""

    name: str
    description: str
    cfg: DealConfig
    adjust: list[Adjustment]
    changes: str = ""

    def changes_text(self) -> str:
        """The changes as the point states them (paths with their wildcards, calendar
        shocks); else the resolved adjustments."""
        if self.changes:
            return self.changes
        return "; ".join(f"{'.'.join(map(str, a.path))} {a.op} {a.value:g}" for a in self.adjust)


def point_text(pt: StressPoint) -> str:
    """A stress point's changes in one line: ``path op value``, calendar shocks by date."""
    parts = [f"{ch.path} {ch.op[0]} {ch.op[1]:g}" for ch in pt.changes]
    parts += [
        f"job entries x {c.job_entry_multiplier:g} from {c.start} to {c.end}" for c in pt.calendar
    ]
    return "; ".join(parts)


def prepare(
    cfg: DealConfig, points: list[StressPoint], where: str | list[str] = "stress"
) -> list[Prepared]:
    """Resolve paths and check that every stressed value is one the deal accepts; the
    base case first. Raises ConfigError with one line per problem. ``where`` names the
    points in a problem: ``"stress"`` (``stress[i]``), ``"--grid"``, or one location per
    point (``"grid"`` for a sweep file's grid)."""
    dumped = cfg.model_dump(by_alias=True)
    problems: list[str] = []
    out = [_base(cfg)]
    names = {"base"}
    for i, pt in enumerate(points):
        loc = where[i] if isinstance(where, list) else where if where == "--grid" else (
            f"{where}[{i}]"
        )  # fmt: skip
        if pt.name in names:
            problems.append(f"{loc}.name: '{pt.name}' is used twice")
        names.add(pt.name)
        prepared, found = _prepare_point(cfg, dumped, pt, loc)
        for at, why in found:
            if f"{at}: {why}" not in problems:  # a grid's bad path: once, not at every point
                problems.append(f"{at}: {why}")
        if prepared is not None:
            out.append(prepared)
    if problems:
        raise ConfigError("stress", problems)
    return out


def _base(cfg: DealConfig) -> Prepared:
    return Prepared("base", "the deal as written", cfg, [])


def _prepare_point(
    cfg: DealConfig, dumped: dict, pt: StressPoint, loc: str
) -> tuple[Prepared | None, list[tuple[str, str]]]:
    """One point resolved and checked: the prepared point (None if the deal refuses it)
    and its problems as (where, why). ``loc``: the point's place (``stress[i]``, a grid's
    ``--grid`` or a sweep file's ``grid``)."""
    problems = []
    adjust = []
    touched: dict[tuple, int] = {}  # each field changed, and by which change
    trial = copy.deepcopy(dumped)
    trial["uncertainty"] = {"parameters": []}
    for j, ch in enumerate(pt.changes):
        # a grid's point j changes its j-th --grid's path: named by that option (by its
        # key in a sweep file's grid)
        at = (
            f"--grid[{j}]" if loc == "--grid" else f'grid."{ch.path}"' if loc == "grid"
            else f"{loc}.changes[{j}].path"
        )  # fmt: skip
        why = None
        try:
            paths = expand(ch.path, dumped)
        except ValueError as exc:
            why = str(exc)
        else:
            fixed = [p for p in paths if scenario_independent(p)]
            paths = [p for p in paths if is_real(dumped, p)]
            if fixed:
                why = scenario_independent(fixed[0])
            elif not paths:
                why = not_real(ch.path, dumped)
        # a named point's changes of one field apply one after the other (formats.md); a
        # grid's sets would overwrite each other, so its axes must name other fields
        if why is None and loc in ("--grid", "grid"):
            again = [p for p in paths if p in touched]
            if again:
                first = pt.changes[touched[again[0]]].path
                why = (
                    f"'{ch.path}' is given twice in one point"
                    if first == ch.path
                    else f"'{ch.path}' changes {path_text(again[0])}, as '{first}' does"
                ) + "; give each field one change"
            touched.update((p, j) for p in paths)
        if why is not None:
            problems.append((at, why))
            continue
        op, value = ch.op
        for p in paths:
            a = Adjustment(p, op, value)
            adjust.append(a)
            node = trial
            for part in p[:-1]:
                node = node[part]
            node[p[-1]] = float(a.apply(np.array([node[p[-1]]]))[0])
    trial["labour"]["calendar"] = list(trial["labour"]["calendar"]) + [
        c.model_dump(by_alias=True) for c in pt.calendar
    ]
    try:  # the changes whose paths resolve: are their values ones the deal accepts?
        DealConfig.model_validate(trial)
    except ValidationError as err:
        point = f"{loc} ({pt.name})"
        problems += [(point, line) for line in validation_problems(err)]
    if problems:
        return None, problems
    point_cfg = cfg
    if pt.calendar:
        raw = cfg.model_dump(by_alias=True)
        raw["labour"]["calendar"] = trial["labour"]["calendar"]
        point_cfg = DealConfig.model_validate(raw)
    return Prepared(pt.name, pt.description, point_cfg, adjust, point_text(pt)), []


def value_text(v: float) -> str:
    """A grid value in a point's name: short (``%g``) where that is the value, else in
    full, so that two values never share a name."""
    short = f"{v:g}"
    if float(short) == v:
        return short
    full = repr(float(v))
    return full[:-2] if full.endswith(".0") else full


def _change_problems(path: str, vals: list[float]) -> list[str]:
    """What a stress change refuses in a grid's path or values (a value beyond the bounds
    of every number, a path too long), one line each, without pydantic's framing."""
    lines = []
    for v in vals:
        try:
            Change(path=path, set=v)
        except ValidationError as err:
            for e in err.errors(include_url=False):
                field = e["loc"][0] if e["loc"] else "value"
                what = f"value {value_text(v)}" if field == "set" else "the path"
                line = f"{what}: {e['msg']}"
                if line not in lines:
                    lines.append(line)
    return lines


def parse_grid(specs: list[str], names: list[str] | None = None) -> list[StressPoint]:
    """``["effect.job_entry[2]=1.5,2,2.5", "cohort.uptake=0.8,1"]`` -> a full factorial.
    ``names``: what to call each spec in a problem (default ``--grid[k]``)."""
    axes = []
    problems = []
    for k, spec in enumerate(specs):
        at = names[k] if names is not None else f"--grid[{k}]"
        path, sep, values = spec.partition("=")
        try:
            if not sep or not path.strip():
                raise ValueError
            vals = [float(v) for v in values.split(",") if v.strip()]
            if not vals:
                raise ValueError
        except ValueError:
            problems.append(f"{at}: '{spec}' is not PATH=v1,v2,... with numbers")
            continue
        if not all(math.isfinite(v) for v in vals):
            problems.append(f"{at}: '{spec}': every value must be a finite number")
            continue
        twice = sorted({v for v in vals if vals.count(v) > 1})
        if twice:
            problems.append(
                f"{at}: '{spec}': {', '.join(value_text(v) for v in twice)} given twice; "
                "give each value once"
            )
            continue
        bad = _change_problems(path.strip(), vals)
        if bad:
            problems += [f"{at}: {line}" for line in bad]
            continue
        axes.append((path.strip(), vals))
    if problems:
        raise ConfigError("--grid", problems)
    points = []
    for combo in itertools.product(*[[(p, v) for v in vals] for p, vals in axes]):
        name = ", ".join(f"{p}={value_text(v)}" for p, v in combo)
        points.append(StressPoint(name=name, changes=[{"path": p, "set": v} for p, v in combo]))
    return points


class StressFile(Strict):
    stress: list[StressPoint] = []


def load_stress_file(path: str) -> list[StressPoint]:
    """The ``[[stress]]`` points of a stress file; ConfigError naming every problem."""
    sf, _ = load_model(StressFile, path)
    if not sf.stress:
        raise ConfigError(path, ["stress: the file names no [[stress]] points"])
    return sf.stress


def points_for(
    cfg: DealConfig,
    grid: list[str] | None = None,
    stress_file: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Prepared]:
    """The stress points to run: a grid, a stress file, the deal's own, else the standard
    set; prepared (checked) against the deal. A point given (a grid's, a file's, the
    deal's) that the deal refuses is an error; a standard point it refuses (dropout
    doubled where a phase's is above one half) is left out, and ``log`` told why."""
    if grid and stress_file:
        raise ConfigError("stress", ["--grid, --stress-file: give one of them, not both"])
    if grid:
        points = parse_grid(list(grid))
    elif stress_file:
        points = load_stress_file(stress_file)
    elif cfg.stress:
        points = cfg.stress
    else:
        dumped = cfg.model_dump(by_alias=True)
        out = [_base(cfg)]
        for i, pt in enumerate(default_stresses(cfg)):
            prepared, problems = _prepare_point(cfg, dumped, pt, f"stress[{i}]")
            if prepared is not None:
                out.append(prepared)
            elif log is not None:
                why = "; ".join(why for _, why in problems)
                log(f"the standard point '{pt.name}' is left out: {why}")
        return out
    return prepare(cfg, points, "--grid" if grid else "stress")


def idle_shocks(base: DealConfig, prepared: list[Prepared]) -> list[str]:
    """A note for each calendar shock of a point that holds the first day of no simulated
    week (a shock applies to the weeks that begin within it): before the deal's start,
    after its last simulated week, or between two weeks' first days. Such a shock changes
    nothing."""
    days = week_dates(base.deal.start_date, simulated_weeks(base))
    first, last = days[0], days[-1]
    own = len(base.labour.calendar)
    notes = []
    for p in prepared:
        for c in p.cfg.labour.calendar[own:]:
            start, end = np.datetime64(c.start, "D"), np.datetime64(c.end, "D")
            if not ((days >= start) & (days < end)).any():
                notes.append(
                    f"stress point '{p.name}': its calendar shock from {c.start} to {c.end} "
                    f"holds the first day of no simulated week ({first} to {last}) and "
                    "changes nothing"
                )
    return notes


BOUNDS_CHUNK = 4096
"""Scenarios drawn at a time by :func:`beyond_bounds` (the draws do not depend on it)."""


def beyond_bounds(prepared: list[Prepared], seed: int, n: int) -> list[str]:
    """Where a point's change takes a drawn value beyond what the deal accepts (a drawn
    probability scaled above 1): one line per point and field, with the number of the
    ``n`` scenarios of ``seed`` and the furthest value. The value as written was checked
    (:func:`prepare`); the run uses the drawn ones as they are."""
    lines = []
    for p in prepared:
        if not p.adjust:
            continue
        sampler = Sampler(p.cfg, seed, n)
        drawn = set(sampler.paths)
        paths = list(dict.fromkeys(a.path for a in p.adjust if a.path in drawn))
        if not paths:
            continue
        found = Beyond(p.cfg.model_dump(by_alias=True))
        for scen0 in range(0, n, BOUNDS_CHUNK):
            m = min(BOUNDS_CHUNK, n - scen0)
            values = chunk_values(p.cfg, sampler, sampler.draw(scen0, m), p.adjust, found.dumped)
            for path in paths:
                found.add(path, values(*path))
        lines += [
            f"stress point '{p.name}' takes the drawn {path_text(path)} beyond what the deal "
            f"accepts in {found.count[path]:,} of {n:,} scenarios (at worst "
            f"{found.worst[path]:g}: {found.why(path)}); the run uses those values as they are"
            for path in paths
            if path in found.count
        ]
    return lines


def run_stress(
    cfg: DealConfig, prepared: list[Prepared], seed: int, n: int, progress=None
) -> list[dict]:
    """Run every point with the same seed and scenarios; per-scenario metrics per point.
    A baseline-measured contract keeps the unstressed deal's baseline at every point."""
    baseline = None
    if cfg.contract.measurement in BASELINE_READINGS:
        baseline = compute_baseline(cfg, simulation.build_structure(cfg))
    return [
        engine.run(
            p.cfg, seed, n, progress=progress, adjust=p.adjust, baseline=baseline, weekly=False
        ).metrics
        for p in prepared
    ]


KEY = (
    ("investor_profit", "investor profit", "mio"),
    ("investor_moic", "MOIC", "x"),
    ("investor_loss", "P(investor loss)", "pct"),
    ("municipal_net", "municipal net", "mio"),
    ("municipal_loss", "P(municipal net < 0)", "pct"),
    ("deadweight_share", "deadweight share of payments", "pct"),
    ("overpayment_share", "overpayment share of payments", "pct"),
)


def table(prepared: list[Prepared], metrics: list[dict], changes: list[str] | None = None):
    """Key metrics per point and their differences to the base with standard errors; the
    median IRR (an undefined IRR ranked by the investor's profit) and the municipal VaR
    95 %. ``changes``: each point's changes as text (default: from ``prepared``)."""
    base = {k: derived(metrics[0], k) for k, _, _ in KEY}
    n = len(base["investor_profit"])
    rows = []
    for i, (p, m) in enumerate(zip(prepared, metrics, strict=True)):
        row = {
            "stress": p.name,
            "description": p.description,
            "changes": changes[i] if changes is not None else p.changes_text(),
        }
        for key, _, _ in KEY:
            vals = derived(m, key)
            d = vals - base[key]
            row[key] = float(vals.mean())
            row[f"{key}_diff"] = float(d.mean())
            row[f"{key}_diff_se"] = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        ranked = finance.irr_ranked(m["investor_irr"], m["investor_profit"])
        row["investor_irr_median"] = float(finance.quantiles(ranked, 0.5))
        row["municipal_var95"] = float(finance.var_cvar(m["municipal_net"], 0.95)[0])
        rows.append(row)
    return rows


def definition(row: dict) -> str:
    """What a stress point is: its description and the changes it makes."""
    parts = [x for x in (row.get("description"), row.get("changes")) if x]
    return ": ".join(parts) if parts else "the deal as written"


def stress_table(title: str, rows: list[dict]) -> Table:
    t = Table(
        title,
        [
            ("stress", "text"),
            ("P(inv. loss)", "pct"),
            ("IRR, median", "pct"),
            ("MOIC", "x"),
            ("inv. profit (mio.)", "mio"),
            ("Δ profit ± SE", "text"),
            ("mun. net (mio.)", "mio"),
            ("Δ net ± SE", "text"),
            ("P(net < 0)", "pct"),
            ("mun. VaR 95 % (mio.)", "mio"),
            ("deadweight", "pct"),
            ("overpaid", "pct"),
        ],
    )
    t.notes.append(
        "means over scenarios except the IRR (median; undefined IRRs ranked by the "
        "investor's profit) and the VaR (the loss exceeded in 5 % of futures); Δ: change "
        "against the base, ± one standard error of the paired differences"
    )
    t.notes.append(PAYMENT_SHARES_NOTE)
    for r in rows:
        t.add(
            r["stress"],
            r["investor_loss"],
            r["investor_irr_median"],
            r["investor_moic"],
            r["investor_profit"],
            f"{r['investor_profit_diff'] / 1e6:+.2f} ± {r['investor_profit_diff_se'] / 1e6:.2f}",
            r["municipal_net"],
            f"{r['municipal_net_diff'] / 1e6:+.2f} ± {r['municipal_net_diff_se'] / 1e6:.2f}",
            r["municipal_loss"],
            r["municipal_var95"],
            r["deadweight_share"],
            r["overpayment_share"],
        )
    return t


def report_table(title: str, rows: list[dict]) -> Table:
    """Each point with its definition and what a committee asks of it: P(investor loss),
    P(municipal net < 0), the median IRR and the municipal VaR, and the changes of the
    means against the base."""
    t = Table(
        title,
        [
            ("stress point", "text"),
            ("definition", "text"),
            ("P(investor loss)", "pct"),
            ("P(municipal net < 0)", "pct"),
            ("IRR, median", "pct"),
            ("municipal VaR 95 % (mio. DKK)", "mio"),
            ("Δ investor profit (mio. DKK)", "mio_signed"),
            ("Δ municipal net (mio. DKK)", "mio_signed"),
        ],
    )
    for r in rows:
        t.add(
            r["stress"], definition(r), r["investor_loss"], r["municipal_loss"],
            r["investor_irr_median"], r["municipal_var95"], r["investor_profit_diff"],
            r["municipal_net_diff"],
        )  # fmt: skip
    t.notes.append(
        "every point runs the same futures (same seed, same citizens' random numbers); Δ: "
        "change of the mean against the base; the IRR median ranks an undefined IRR by the "
        "investor's profit; VaR 95 %: the municipal loss exceeded in 5 % of futures"
    )
    return t


def definitions_table(rows: list[dict]) -> Table:
    """Each stress point's definition: what it means and the changes it makes."""
    t = Table("stress points", [("stress", "text"), ("what it means", "text"), ("changes", "text")])
    for r in rows:
        t.add(r["stress"], r.get("description") or "", r.get("changes") or "none")
    return t


def build_dataset(
    cfg: DealConfig, prepared: list[Prepared], metrics: list[dict], seed: int, deal_text: str
) -> xr.Dataset:
    """Per-scenario metrics with a ``stress`` dimension."""
    n = len(metrics[0]["municipal_net"])
    stacked = {k: np.stack([m[k] for m in metrics]) for k in metrics[0]}
    data = metric_variables(stacked, ("stress", "scenario"))
    data["stress_description"] = xr.Variable(("stress",), [p.description for p in prepared])
    ds = xr.Dataset(data, coords={"stress": [p.name for p in prepared], "scenario": np.arange(n)})
    ds.attrs = provenance(
        "stress test",
        cfg.deal.name,
        seed,
        kind="stress",
        n_scenarios=int(n),
        deal_file=deal_text,
        stress_changes="\n".join(f"{p.name}: {p.changes_text()}" for p in prepared),
        note="every stress point uses the same seed and scenarios (common random numbers)",
    )
    return ds


def from_dataset(ds: xr.Dataset) -> tuple[list[dict], Table]:
    """The rows and the table of a stress file, as ``simrisk stress`` printed them."""
    names = [str(x) for x in ds["stress"].values]
    desc = ds["stress_description"].values if "stress_description" in ds else [""] * len(names)
    prepared = [Prepared(n, str(d), None, []) for n, d in zip(names, desc, strict=True)]
    keys = [k for k in ds.data_vars if ds[k].dims == ("stress", "scenario")]
    metrics = [{k: ds[k].values[i] for k in keys} for i in range(len(names))]
    changes = dict(
        line.split(": ", 1) for line in ds.attrs.get("stress_changes", "").splitlines() if line
    )
    rows = table(prepared, metrics, [changes.get(n, "") for n in names])
    title = (
        f"{ds.attrs.get('deal_name', '')} — stress test, {ds.sizes['scenario']:,} scenarios "
        f"per point, seed {ds.attrs.get('seed')}"
    )
    t = stress_table(title, rows)
    t.notes.extend(left_out_notes(ds))
    return rows, t


def left_out_notes(ds: xr.Dataset) -> list[str]:
    """The notes a stress file keeps: the standard points its deal refused, and the points
    that took drawn values beyond what the deal accepts (:func:`beyond_bounds`), one line
    each (none if none)."""
    lines = [line for line in str(ds.attrs.get("left_out", "")).splitlines() if line]
    beyond = str(ds.attrs.get("beyond_bounds", "")).splitlines()
    return lines + [f"warning: {line}" for line in beyond if line]


def stress_test(
    cfg: DealConfig,
    deal_text: str,
    prepared: list[Prepared],
    seed: int,
    n: int,
    progress=None,
    left_out: list[str] | tuple = (),
    beyond: list[str] | tuple = (),
) -> tuple[xr.Dataset, list[dict], Table]:
    """Run the points; the Dataset, the rows and their table. ``left_out``: why standard
    points were left out (:func:`points_for`); ``beyond``: the points' drawn values beyond
    what the deal accepts (:func:`beyond_bounds`); both kept in the file and the table's
    notes."""
    metrics = run_stress(cfg, prepared, seed, n, progress=progress)
    ds = build_dataset(cfg, prepared, metrics, seed, deal_text)
    rows = table(prepared, metrics)
    if left_out:
        ds.attrs["left_out"] = "\n".join(left_out)
    if beyond:
        ds.attrs["beyond_bounds"] = "\n".join(beyond)
    title = f"{cfg.deal.name} — stress test, {n:,} scenarios per point, seed {seed}"
    t = stress_table(title, rows)
    t.notes.extend(left_out_notes(ds))
    return ds, rows, t
