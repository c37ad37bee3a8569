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
d. that every run's per-scenario metrics are bitwise identical;
e. the projection to ``--project`` scenarios (default 10^8) on a dask cluster of
   ``--cores`` cores (default 64), from what was measured here: the CPU time per
   deal-scenario in-process, the distributed overhead per chunk (the 1-worker sweep less
   the in-process one, per chunk: scheduling, serialisation, transfer), the bytes of
   results per scenario, and the time to write the sweep's NetCDF per scenario; and the
   chunk size at which the per-chunk overhead, paid serially by the one scheduler, stays
   under 1 % of the cluster's wall time. It assumes the deals' mix and the per-core speed
   of this machine, and that the scheduler's cost per chunk is no more than the whole
   overhead measured here (an upper bound: part of it is paid on the worker).

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

GRID = ["cohort.uptake=0.7,0.85,1", "cohort.frailty_variance=0,0.5,1"]  # 3 x 3 = 9 points


def _empty(x):
    return x


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
    ap.add_argument("--project", type=float, default=1e8, help="scenarios to project to")
    ap.add_argument("--cores", type=int, default=64, help="cores of the projected cluster")
    ap.add_argument(
        "--target-scenarios",
        type=int,
        default=100_000,
        help="scenarios per point for the in-process target (3 min)",
    )
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
    total = n_points * args.scenarios
    cpu_per = t_local * (os.cpu_count() or 1) / total
    target_total = n_points * args.target_scenarios
    print(
        f"a. in-process:              {t_local:8.2f} s  ({total / t_local:,.0f} deal-scenarios/s, "
        f"{1e3 * cpu_per:.3f} ms of CPU each)"
    )
    print(
        f"   {len(deals)} deals x {len(sweep.stress_names)} points x "
        f"{args.target_scenarios:,} at this rate: {target_total / total * t_local:7.1f} s "
        f"(target < 180 s: {'met' if target_total / total * t_local < 180 else 'NOT met'})"
    )

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
            if workers == 2:  # the scheduler's own cost per task: empty tasks, round trip
                n_empty = 2000
                t0 = time.perf_counter()
                backend.client.gather(backend.client.map(_empty, range(n_empty), pure=False))
                sched_task = (time.perf_counter() - t0) / n_empty
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
    project(args, sweep, ref, t_local, times, len(specs), cpu_per, sched_task)


def project(args, sweep, metrics, t_local, times, n_specs, cpu_per, sched_task) -> None:
    """Section e: 10^8 scenarios on a cluster, from this run's measurements."""
    import tempfile

    total = metrics[next(iter(metrics))].size
    bytes_per = sum(a.dtype.itemsize for a in metrics.values())
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sw.build_dataset(sweep, metrics).to_netcdf(Path(tmp) / "sweep.nc")
        write_per = (time.perf_counter() - t0) / total
    worker_over = max(times[1] - t_local, 0.0) / n_specs  # per chunk, on the worker side
    n, cores = args.project, args.cores
    work = n * cpu_per / cores  # wall seconds of compute on the cluster
    chunk = sweep.chunk
    sched = n / chunk * sched_task  # serial, on the one scheduler
    min_sched = 100 * sched_task * cores / cpu_per
    min_worker = 100 * worker_over / cpu_per
    print(f"e. projection: {n:.0e} scenarios on {cores} cores (this machine's per-core speed)")
    print(f"   compute: {n:.0e} x {1e3 * cpu_per:.3f} ms / {cores} cores = {work / 60:,.1f} min")
    print(
        f"   scheduler: {1e3 * sched_task:.2f} ms per task (2,000 empty tasks, round trip); "
        f"with chunks of {chunk:,} ({n / chunk:,.0f} chunks) {sched / 60:,.1f} min = "
        f"{sched / work:.1%} of the compute; under 1 % from {min_sched:,.0f} scenarios "
        f"per chunk ({n / max(min_sched, 1):,.0f} chunks)"
    )
    print(
        f"   worker side: {1e3 * worker_over:.0f} ms per chunk more than in-process "
        f"(1-worker sweep less in-process, {n_specs} chunks: set-up, serialisation, "
        f"transfer); under 1 % of a chunk's compute from {min_worker:,.0f} scenarios"
    )
    print(
        f"   results: {bytes_per} bytes per scenario = {n * bytes_per / 1e9:,.1f} GB to the "
        f"client; the final write at this machine's {1e6 * write_per:.2f} us per scenario: "
        f"{n * write_per / 60:,.1f} min (serial, after the compute)"
    )
    worker = n / chunk * worker_over / cores
    print(
        f"   projected wall: {(work + worker + n * write_per) / 60:,.1f} min (compute, the "
        f"worker-side cost {worker / 60:,.1f} min with chunks of {chunk:,}, and the write; "
        f"the scheduler's work overlaps the compute while under 100 %; perfect scaling)"
    )


if __name__ == "__main__":
    logging.getLogger("distributed").setLevel(logging.ERROR)
    main()
