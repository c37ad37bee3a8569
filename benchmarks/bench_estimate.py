"""How close the time estimate (:func:`simrisk.resources.estimate`) comes to the time a
run takes: the six included deals, the three-state benchmark deal and Holbæk with a
cohort of 10,000, each run by ``engine.run`` on all cores after a warm-up.

Run from the repository root::

    python benchmarks/bench_estimate.py [--scenarios 20000] [--threads K]

Prints, per deal, the estimate, the measured wall time and their ratio. The estimate
only says what a large run will take before it starts (``simrisk run`` prints it for a
run of more than a minute); its constants are fitted to these figures on a 2-core
machine (``benchmarks/README.md``), so on another machine the ratios show how far to
trust it.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIGS = ROOT / "configs"
LARGE_COHORT = 10_000


def deals(scenarios: int) -> list[tuple[str, object, int]]:
    """(name, config, scenarios) of every deal timed."""
    from simrisk.config import load_deal, parse_deal
    from simrisk.files import read_toml

    out = [(p.stem, load_deal(p)[0], scenarios) for p in sorted(CONFIGS.glob("*.toml"))]
    out.append(("three_state", load_deal(HERE / "deals" / "three_state.toml")[0], scenarios))
    raw, _ = read_toml(CONFIGS / "holbaek.toml")
    raw = copy.deepcopy(raw)
    raw["cohort"]["size"] = LARGE_COHORT
    big = parse_deal(raw, f"holbaek, {LARGE_COHORT:,} citizens", CONFIGS)
    out.append((f"holbaek_{LARGE_COHORT}", big, max(scenarios // 100, 20)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from simrisk import engine, resources

    threads = resources.threads_in_use(args.threads)
    print(f"time estimate against measured wall time, {threads} threads")
    print(f"{'deal':<24} {'scenarios':>9} {'estimate s':>10} {'measured s':>10} {'ratio':>6}")
    ratios = []
    for name, cfg, n in deals(args.scenarios):
        engine.run(cfg, 1, min(n, 512), threads=args.threads)  # compile and warm up
        est = resources.estimate(cfg, n, threads)
        start = time.perf_counter()
        engine.run(cfg, 1, n, threads=args.threads)
        wall = time.perf_counter() - start
        ratios.append(est.seconds / wall)
        print(f"{name:<24} {n:>9,} {est.seconds:>10.2f} {wall:>10.2f} {ratios[-1]:>6.2f}")
    print(f"ratio estimate / measured: {min(ratios):.2f} to {max(ratios):.2f}")


if __name__ == "__main__":
    main()
