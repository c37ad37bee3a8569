"""A seeded mutator of deal files, and the check every mutant must pass.

Each mutant is an included deal with one change of the kinds an outside user makes by
mistake (or on purpose): a key dropped or added, a value of the wrong type, zero, a
negative, NaN, an infinity or a huge number, a probability above 1, an array one
element longer or shorter, an unknown name, a date out of range, a very long string,
deep nesting. The check: either the loader rejects it with lines that each name a
field, or it runs and its outputs are finite and consistent (counts non-negative,
never more than the cohort, every enrolled citizen in one state each week, dates
increasing).

``python -m tests.fuzz --mutants 3000`` runs a longer campaign than the test suite.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import math
import random
import re
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEALS = sorted(p for p in CONFIGS.glob("*.toml"))

NUMBERS = [0, -1, -1.5, 1.5, 2.0, 1e6, 1e308, -1e308, 2**63 - 1, -(2**63), 2**70, math.nan,
           math.inf, -math.inf]  # fmt: skip
LINE = re.compile(r"^(\S+): \S")
"""A problem line: ``field: what is wrong`` (the field may be a file or an option)."""


def leaves(node, path=()):
    """Every (path, value) in a TOML tree; containers too."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, path + (i,))


def _parent(raw, path):
    node = raw
    for p in path[:-1]:
        node = node[p]
    return node


def mutate(raw: dict, rng: random.Random) -> tuple[dict, str]:
    """One mutant of a deal's raw TOML data, and what was done."""
    raw = copy.deepcopy(raw)
    spots = [(p, v) for p, v in leaves(raw) if p]
    path, value = rng.choice(spots)
    parent = _parent(raw, path)
    key = path[-1]
    kind = rng.choice(
        ["drop", "unknown", "type", "number", "number", "number", "probability", "array",
         "name", "date", "string", "nesting", "edge", "edge", "edge"]
    )  # fmt: skip
    where = ".".join(map(str, path))
    if kind == "drop":
        if isinstance(parent, list) and len(parent) > 1:
            parent.pop(key)
        elif isinstance(parent, dict):
            parent.pop(key)
        else:
            kind = "number"
    if kind == "unknown":
        target = value if isinstance(value, dict) else parent if isinstance(parent, dict) else raw
        target["surprise_key"] = 1
    elif kind == "edge":  # a value at the edge of what the schema accepts
        if isinstance(value, bool) or not isinstance(value, int | float):
            parent[key] = rng.choice([0, 1, 2599, 2600])
        elif isinstance(value, int):
            parent[key] = rng.choice([0, 1, 519, 2599, 2600])
        else:
            parent[key] = rng.choice([0.0, 1e-12, 0.999999, 1.0, 999.0, 1e12])
    elif kind == "type":
        parent[key] = rng.choice(["text", True, [1, 2], {"a": 1}, 3])
    elif kind == "number":
        parent[key] = rng.choice(NUMBERS)
    elif kind == "probability":
        parent[key] = rng.choice([1.5, 1.0000001, -0.1, 100.0])
    elif kind == "array":
        if isinstance(value, list) and value:
            if rng.random() < 0.5:
                value.pop()
            else:
                value.append(copy.deepcopy(value[-1]))
        else:
            parent[key] = [value, value]
    elif kind == "name":
        parent[key] = rng.choice(["no_such_benefit", "limbo", "employed", "benefit", ""])
    elif kind == "date":
        parent[key] = rng.choice(
            [dt.date(1600, 1, 1), dt.date(2300, 1, 1), dt.date(9999, 12, 31), "2024-13-01"]
        )
    elif kind == "string":
        parent[key] = "x" * rng.choice([100_001, 1_000_000])
    elif kind == "nesting":
        deep = 1
        for _ in range(rng.choice([20, 200, 600])):
            deep = [deep]
        parent[key] = deep
    return raw, f"{kind} at {where}"


def check(raw: dict, source: str, n: int = 3) -> str:
    """Load the mutant and, if it loads, run it; raise AssertionError if it misbehaves.
    Returns ``rejected`` or ``ran``."""
    from simrisk import engine
    from simrisk.config import ConfigError, parse_deal
    from simrisk.results import build_dataset

    try:
        cfg = parse_deal(raw, source, DEALS[0].parent)
    except ConfigError as exc:
        assert exc.problems, f"{source}: rejected without a reason"
        for line in exc.problems:
            assert LINE.match(line), f"{source}: a problem line that names no field: {line!r}"
            assert len(line) < 2000, f"{source}: a problem line of {len(line)} characters"
        return "rejected"
    from simrisk.contracts import measures

    res = engine.run(cfg, 1, n, detail=True)
    for name, values in res.metrics.items():
        if name in ("investor_irr", "investor_moic"):
            continue  # undefined for some flows, by definition
        if name == "savings_measured" and not measures(cfg.contract.mechanisms):
            assert np.isnan(values).all(), f"{source}: measured savings of an unmeasured deal"
            continue  # none where no payment rests on a measurement
        assert np.all(np.isfinite(values)), f"{source}: {name} is not finite: {values}"
    counts = res.weekly.detail_states.astype(float)  # (scenario, arm, week, state)
    assert counts.min() >= 0, f"{source}: negative citizen counts"
    in_states = counts.sum(axis=3)
    assert in_states.max() <= cfg.cohort.size, f"{source}: more citizens than the cohort"
    enrolled = res.metrics["enrolled"]
    np.testing.assert_array_equal(in_states[:, 0, -1], enrolled, err_msg=source)
    assert np.all(np.diff(in_states[:, 0], axis=1) >= 0), f"{source}: citizens vanish"
    ds = build_dataset(cfg, res, 1)
    assert np.all(np.diff(ds["date"].values) > np.timedelta64(0)), f"{source}: dates"
    for name in ("payments_weekly_mean", "savings_weekly_mean", "state_count_mean"):
        assert np.all(np.isfinite(ds[name].values)), f"{source}: {name} not finite"
    return "ran"


def campaign(mutants: int, seed: int, seconds: float | None = None) -> dict[str, int]:
    """``mutants`` mutants of every included deal in turn; counts of each outcome."""
    rng = random.Random(seed)
    bases = [(p.stem, tomllib.loads(p.read_text(encoding="utf-8"))) for p in DEALS]
    counts = {"rejected": 0, "ran": 0}
    start = time.monotonic()
    for k in range(mutants):
        name, base = bases[k % len(bases)]
        raw, what = mutate(base, rng)
        counts[check(raw, f"{name} ({what})")] += 1
        if seconds is not None and time.monotonic() - start > seconds:
            break
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mutants", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    counts = campaign(args.mutants, args.seed)
    print(f"{sum(counts.values())} mutants in {time.monotonic() - t0:.0f} s: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
