"""Scaling of a sweep: in-process, and on a dask LocalCluster with 1 and 2 workers.

Run from the repository root::

    python benchmarks/bench_sweep.py [--scenarios 1000] [--chunk 250] [--repeat 2]

The work: every deal in ``configs/`` x a 3 x 3 grid (``cohort.uptake`` x
``cohort.frailty_variance``) plus the base point, ``--scenarios`` scenarios per
point, split into chunks of ``--chunk`` scenarios. Prints, for the same chunks:

a. the in-process wall time (numba uses every core);
b. with 1 and 2 LocalCluster workers (one process each, numba threads = cores /
   workers): the cluster start-up (including a warm-up chunk on every worker,
   which loads the cached kernels) and the sweep's wall time, best of ``--repeat``;
c. the ratios: scaling 1 -> 2 workers (time with 1 / time with 2) and the overhead
   of the distributed path (1 worker / in-process, and 2 workers / in-process);
d. that every run's per-scenario metrics are bitwise identical.

The machine may be shared: the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simrisk.analysis import stress as stress_mod  # noqa: E402
from simrisk.analysis import sweep as sw  # noqa: E402
from simrisk.distributed import DaskBackend, LocalBackend, compute_chunk  # noqa: E402

GRID = ["cohort.uptake=0.7,0.85,1", "cohort.frailty_variance=0,0.5,1"]


def timed(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    deals = sorted(glob.glob(str(ROOT / "configs" / "*.toml")))
    sweep = sw.build(deals, stress_mod.parse_grid(GRID), args.seed, args.scenarios, args.chunk)
    specs = [s for _, s in sw.plan(sweep)]
    n_points = len(deals) * len(sweep.stress_names)
    print(
        f"simrisk sweep benchmark — {platform.node()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{len(deals)} deals x {len(sweep.stress_names)} points x {args.scenarios} scenarios "
        f"= {n_points * args.scenarios:,} deal-scenarios in {len(specs)} chunks of "
        f"{args.chunk}; best of {args.repeat}"
    )

    compute_chunk(specs[0])  # load the cached kernels in this process
    t_local, (ref, _) = timed(lambda: sw.run_sweep(sweep, LocalBackend()), args.repeat)
    print(f"a. in-process:              {t_local:8.2f} s")

    times = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        backend = DaskBackend.local(workers)
        backend.client.wait_for_workers(workers)
        warm = [s for s in specs[: workers * 2]]
        list(backend.run(warm))  # every worker loads the kernels once
        startup = time.perf_counter() - t0
        try:
            t, (metrics, _) = timed(lambda b=backend: sw.run_sweep(sweep, b), args.repeat)
        finally:
            backend.close()
        same = all(metrics[k].tobytes() == ref[k].tobytes() for k in ref)
        times[workers] = t
        print(
            f"b. {workers} worker(s): start-up {startup:6.2f} s, sweep {t:8.2f} s, "
            f"bitwise identical to in-process: {same}"
        )
        if not same:
            raise SystemExit("results differ")

    print(f"c. scaling 1 -> 2 workers:          {times[1] / times[2]:5.2f}x")
    print(f"   overhead 1 worker / in-process:  {times[1] / t_local:5.2f}")
    print(f"   2 workers / in-process:          {times[2] / t_local:5.2f}")
    print(f"d. all runs bitwise identical; load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    logging.getLogger("distributed").setLevel(logging.ERROR)
    main()
