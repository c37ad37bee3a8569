"""Speed and memory of simrisk on the Holbæk deal, against a plain numpy reference.

Run from the repository root::

    python benchmarks/bench_holbaek.py [--scenarios 100000] [--numpy-scenarios 200] [--million]

Prints a plain-text report:

a. JIT compile time: a tiny ``engine.run`` in a child process whose
   ``NUMBA_CACHE_DIR`` is a fresh temporary directory (so numba must compile),
   minus the same run once warm;
b. the end-to-end ``engine.run(cfg, seed=1, n_scenarios=N)`` after a warm-up call
   (draws, both arms, money, contracts, metrics, weekly aggregation): best wall
   time of ``--repeat`` runs, scenarios/s and citizen-weeks/s, where citizen-weeks
   = ``raw["aggregator"].state_sum.sum()`` (weeks enrolled, summed over scenarios
   and both arms);
c. the numpy reference (``benchmarks/numpy_reference.py``) on the first
   ``--numpy-scenarios`` scenarios (same parameter draws), best of ``--repeat``;
d. the ratio engine/numpy of citizen-weeks per second and the targets
   (ratio >= 30x; 100,000 scenarios <= 15 s);
e. a statistical agreement check of the two implementations on the same
   scenarios (paired by scenario, so the parameter uncertainty cancels);
f. with ``--million``: wall time and peak memory (max RSS of a child process, via
   ``resource.getrusage``) of a 1,000,000-scenario ``engine.run`` without detail.

``--profile N`` adds a cProfile of an N-scenario run: where ``engine.run`` spends
its time. The machine may be shared: the load average is printed at the start
and the end, every timing is the best of several runs and shows how many cores
other processes used meanwhile, and ``--wait-idle S`` waits up to S seconds for
an idle machine before each timed run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEAL = ROOT / "configs" / "holbaek.toml"
SEED = 1
TARGET_RATIO = 30.0
TARGET_SECONDS = 15.0  # for 100,000 scenarios
TARGET_SCENARIOS = 100_000
TARGET_MEMORY_GB = 1.0  # a million scenarios in < 1 GB and <= 90 s
TARGET_MILLION_SECONDS = 90.0
CHECK_WEEKS = (26, 52, 104, 156, 208, 260, 311)


def load_cfg(path=DEAL):
    from simrisk.config import load_deal

    cfg, _ = load_deal(path)
    return cfg


def citizen_weeks(res) -> float:
    return float(round(float(res.weekly.state_count_mean.sum()) * res.n))


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# --------------------------------------------------------------------------- child processes
def child_compile(n: int) -> None:
    """In a child: import, a cold engine.run (compiles unless cached), a warm one."""
    t0 = time.perf_counter()
    from simrisk import engine

    cfg = load_cfg()
    t1 = time.perf_counter()
    engine.run(cfg, SEED, n)
    t2 = time.perf_counter()
    engine.run(cfg, SEED, n)
    t3 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "cold": t2 - t1, "warm": t3 - t2}))


def child_memory(n: int) -> None:
    """In a child: warm up, then one n-scenario engine.run; report wall time and max RSS."""
    from simrisk import engine

    cfg = load_cfg()
    engine.run(cfg, SEED, 2048)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Timed() as tm:
        raw = engine.run(cfg, SEED, n)
    wall = tm.wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": tm.cpu,
                "others": tm.others,
                "maxrss_kb": peak,
                "maxrss_before_kb": before,
                "citizen_weeks": citizen_weeks(raw),
            }
        )
    )


def run_child(args: list[str], env_extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- measurements
def measure_compile(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="simrisk-numba-cache-") as cache:
        fresh = run_child(["--child-compile", str(n)], {"NUMBA_CACHE_DIR": cache})
    cached = run_child(["--child-compile", str(n)])
    return {"fresh": fresh, "cached": cached}


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (from /proc/stat; 0 if unavailable)."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


WAIT_IDLE = 0.0  # seconds to wait for an idle machine before each timed run (--wait-idle)


def wait_idle(limit: float | None = None, threshold: float = 0.3) -> float:
    """Wait (up to ``limit`` seconds) until the rest of the machine uses less than
    ``threshold`` cores over a 2-second window; returns the seconds waited."""
    limit = WAIT_IDLE if limit is None else limit
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        b0, c0 = _machine_busy(), _own_cpu()
        time.sleep(2.0)
        if (_machine_busy() - b0 - (_own_cpu() - c0)) / 2.0 < threshold:
            break
    return time.perf_counter() - t0


class Timed:
    """Wall time, this process's CPU time, and the CPU time of everything else on the
    machine during a block (a measure of how contended the timing was)."""

    def __enter__(self):
        wait_idle()
        self.b0, self.c0, self.t0 = _machine_busy(), _own_cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = _own_cpu() - self.c0
        self.others = max(_machine_busy() - self.b0 - self.cpu, 0.0) / self.wall  # cores
        return False

    def __str__(self):
        return f"{self.wall:.2f} (cpu {self.cpu:.1f}, others {self.others:.1f} cores)"


def time_engine(cfg, n: int, repeat: int) -> dict:
    from simrisk import engine

    engine.run(cfg, SEED, 2048)  # warm-up: load the cached kernels, fault in memory
    runs, cw = [], None
    for _ in range(repeat):
        with Timed() as tm:
            raw = engine.run(cfg, SEED, n)
        runs.append(tm)
        cw = citizen_weeks(raw)
        del raw
    best = min(runs, key=lambda r: r.wall)
    return {"runs": runs, "best": best.wall, "best_run": best, "citizen_weeks": cw}


def time_numpy(cfg, n: int, repeat: int) -> dict:
    sys.path.insert(0, str(HERE))
    import numpy_reference

    numpy_reference.run(cfg, SEED, 2)  # warm-up (imports, first allocations)
    runs, out = [], None
    for _ in range(repeat):
        with Timed() as tm:
            out = numpy_reference.run(cfg, SEED, n)
        runs.append(tm)
    best = min(runs, key=lambda r: r.wall)
    return {
        "runs": runs,
        "best": best.wall,
        "best_run": best,
        "citizen_weeks": out["citizen_weeks"],
        "out": out,
    }


def engine_same_scenarios(cfg, ref: dict) -> dict:
    """The engine's simulation and ledger on the reference's scenarios (same parameter
    draws): exactly what engine.run computes for scenarios 0..n-1 with this seed."""
    import numpy as np

    from simrisk import engine, ledger, rng, simulation
    from simrisk.sampling import chunk_values

    st, sampler = ref["structure"], ref["sampler"]
    n = ref["arrays"]["uptake"].shape[0]
    key = rng.seed_key(SEED)
    parts = []
    for lo in range(0, n, engine.CHUNK):
        hi = min(lo + engine.CHUNK, n)
        v = chunk_values(cfg, sampler, sampler.draw(lo, hi - lo))
        sim = simulation.simulate(key, lo, st, simulation.kernel_inputs(cfg, st, v))
        la = ledger.ledger_arrays(cfg, st, v)
        costs = ledger.costs(sim, la)
        parts.append(
            {
                "states": sim.state_count.transpose(0, 1, 3, 2).copy(),  # (s, arm, state, week)
                "cost": costs["municipality"],
                "central": costs["central_government"],
                "fte": sim.work_fte[..., 0],
                "programme_cost": ledger.programme_cost(sim, la),
                "enrolled": (sim.entry >= 0).sum(axis=1),
            }
        )
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def agreement_rows(eng: dict, ref: dict) -> list[tuple]:
    """(label, engine values, numpy values) per scenario, for the paired comparison."""
    import numpy as np

    from simrisk.vocabulary import EMPLOYED, FLEKSJOB, LABOUR_STATES, UNEMPLOYED, WEEKS_PER_YEAR

    rows = [("citizens enrolled", eng["enrolled"].astype(float), ref["enrolled"].astype(float))]
    arm_name = ("counterfactual", "treatment")

    def share(state, arm, t):
        vals = []
        for d in (eng, ref):
            s = d["states"][:, arm, :, t]
            with np.errstate(invalid="ignore", divide="ignore"):
                vals.append(s[:, state] / s.sum(axis=1))  # in the state / enrolled by week t
        return (f"share {LABOUR_STATES[state]}, {arm_name[arm]}, week {t}", *vals)

    for arm in (0, 1):
        for t in CHECK_WEEKS:
            rows.append(share(EMPLOYED, arm, t))
    for arm in (0, 1):
        rows += [share(UNEMPLOYED, arm, 104), share(FLEKSJOB, arm, 311)]
    for arm in (0, 1):
        rows.append(
            (
                f"full-time equivalent years, {arm_name[arm]}",
                eng["fte"][:, arm].sum(axis=1) / WEEKS_PER_YEAR,
                ref["fte"][:, arm].sum(axis=1) / WEEKS_PER_YEAR,
            )
        )
    for arm in (0, 1):
        for key, what in (("cost", "municipal"), ("central", "central-government")):
            rows.append(
                (
                    f"{what} cost, {arm_name[arm]} (mio. DKK)",
                    eng[key][:, arm].sum(axis=1) / 1e6,
                    ref[key][:, arm].sum(axis=1) / 1e6,
                )
            )
    rows.append(
        (
            "municipal savings (mio. DKK)",
            (eng["cost"][:, 0] - eng["cost"][:, 1]).sum(axis=1) / 1e6,
            (ref["cost"][:, 0] - ref["cost"][:, 1]).sum(axis=1) / 1e6,
        )
    )
    rows.append(
        (
            "programme cost (mio. DKK)",
            eng["programme_cost"].sum(axis=1) / 1e6,
            ref["programme_cost"].sum(axis=1) / 1e6,
        )
    )
    return rows


QUALNAMES = {
    "aggregate.add_counts": "aggregate.Aggregator.add_counts",
    "aggregate.add_flows": "aggregate.Aggregator.add_flows",
}
STAGES = (
    ("simulation/__init__.py", "simulate", "simulation.simulate: the kernel"),
    ("simulation/kernel.py", "simulate_chunk", "  of which simulate_chunk"),
    ("ledger.py", "costs", "ledger.costs (weekly cost by perspective)"),
    ("contracts/__init__.py", "payments", "contracts.payments (rate card, caps)"),
    ("ledger.py", "programme_cost", "ledger.programme_cost"),
    ("finance/irr.py", "irr", "finance.irr"),
    ("sampling.py", "draw", "Sampler.draw (parameter draws)"),
    ("simulation/inputs.py", "kernel_inputs", "simulation.kernel_inputs"),
    ("ledger.py", "ledger_arrays", "ledger.ledger_arrays (dated rates)"),
    ("aggregate.py", "add_counts", "Aggregator.add_counts (histograms of counts)"),
    ("aggregate.py", "add_flows", "Aggregator.add_flows (running sums, flow sample)"),
)


def profile_engine(cfg, n: int, top: int = 18) -> list[str]:
    import cProfile
    import pstats

    import numba

    from simrisk import engine

    # one numba thread: the chunks run one after the other in this thread, where cProfile
    # sees them (with more threads they run in a pool), so the shares are of CPU time
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        engine.run(cfg, SEED, 2048)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        engine.run(cfg, SEED, n)
        prof.disable()
        wall = time.perf_counter() - t0
    finally:
        numba.set_num_threads(before)
    stats = pstats.Stats(prof).stats
    total = max(ct for (_, _, _, ct, _) in stats.values())
    rows = []
    for (file, _line, func), (_, ncalls, tt, ct, _) in stats.items():
        name = f"{Path(file).stem}.{func}" if file.startswith(str(ROOT)) else func
        name = QUALNAMES.get(name, name)
        rows.append((tt, ct, ncalls, name))
    rows.sort(reverse=True)
    out = [
        f"cProfile of engine.run on one thread, {n:,} scenarios: {wall:.2f} s wall "
        f"({total:.2f} s profiled)",
        f"  {'function (by own time)':44s} {'calls':>6s} {'own s':>7s} {'own %':>6s} {'cum s':>7s}",
    ]
    for tt, ct, ncalls, name in rows[:top]:
        out.append(f"  {name[:44]:44s} {ncalls:6d} {tt:7.2f} {100 * tt / total:5.1f}% {ct:7.2f}")
    out.append("  stages (cumulative time, % of engine.run):")
    for fname, func, label in STAGES:
        ct = sum(
            v[3]
            for (file, _, f), v in stats.items()
            if f == func and file.endswith("simrisk/" + fname)
        )
        out.append(f"    {label:52s} {ct:7.2f} s {100 * ct / total:5.1f}%")
    return out


# --------------------------------------------------------------------------- report
def fmt_rate(x: float) -> str:
    return f"{x / 1e6:,.2f} M" if x >= 1e6 else f"{x:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=TARGET_SCENARIOS)
    ap.add_argument("--numpy-scenarios", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best counts")
    ap.add_argument("--million", action="store_true", help="1,000,000-scenario memory run")
    ap.add_argument("--million-scenarios", type=int, default=1_000_000, help=argparse.SUPPRESS)
    ap.add_argument(
        "--check-scenarios",
        type=int,
        default=0,
        help="scenarios for the agreement check (default: the timed numpy run's)",
    )
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each timed run, wait up to S seconds for other processes to go idle",
    )
    ap.add_argument("--no-compile", action="store_true", help="skip the JIT compile measurement")
    ap.add_argument("--compile-scenarios", type=int, default=50)
    ap.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile an N-scenario run"
    )
    ap.add_argument("--child-compile", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-memory", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    global WAIT_IDLE
    WAIT_IDLE = args.wait_idle
    sys.stdout.reconfigure(line_buffering=True)  # show progress when redirected to a file
    if args.child_compile:
        child_compile(args.child_compile)
        return
    if args.child_memory:
        child_memory(args.child_memory)
        return

    import numba
    import numpy as np

    print("simrisk benchmark: Holbæk deal (configs/holbaek.toml)")
    print(f"date            {dt.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine         {platform.machine()}, {os.cpu_count()} cores, numba threads "
        f"{numba.get_num_threads()}; python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}"
    )
    print(f"load average    {load_average()} (other processes may share the machine)")
    print()

    # a. compile
    if not args.no_compile:
        print(f"a. JIT compile (child process, engine.run of {args.compile_scenarios} scenarios)")
        c = measure_compile(args.compile_scenarios)
        f, k = c["fresh"], c["cached"]
        print(
            f"   fresh NUMBA_CACHE_DIR: import {f['import']:.2f} s, first run {f['cold']:.2f} s, "
            f"warm run {f['warm']:.2f} s"
        )
        print(f"   -> JIT compile time            {f['cold'] - f['warm']:8.2f} s")
        print(
            f"   with the on-disk cache: first run {k['cold']:.2f} s, warm {k['warm']:.2f} s "
            f"-> cache load {k['cold'] - k['warm']:.2f} s"
        )
        print()

    cfg = load_cfg()

    # b. engine
    print(
        f"b. engine.run(cfg, seed={SEED}, n_scenarios={args.scenarios:,}), after a warm-up; "
        f"best of {args.repeat}"
    )
    e = time_engine(cfg, args.scenarios, args.repeat)
    e_rate = e["citizen_weeks"] / e["best"]
    print("   runs: wall s (cpu s of this process, other processes' load in cores)")
    for i, run in enumerate(e["runs"]):
        print(f"     {i + 1}. {run}")
    print(f"   wall time (best)               {e['best']:8.2f} s   (cpu {e['best_run'].cpu:.1f} s)")
    print(f"   scenarios/s                    {fmt_rate(args.scenarios / e['best']):>10s}")
    print(f"   citizen-weeks                  {e['citizen_weeks']:,.0f}")
    print(f"   citizen-weeks/s                {fmt_rate(e_rate):>10s}")
    print()

    # c. numpy reference
    print(
        f"c. numpy reference (benchmarks/numpy_reference.py), {args.numpy_scenarios:,} scenarios; "
        f"best of {args.repeat}"
    )
    r = time_numpy(cfg, args.numpy_scenarios, args.repeat)
    r_rate = r["citizen_weeks"] / r["best"]
    print("   runs: wall s (cpu s of this process, other processes' load in cores)")
    for i, run in enumerate(r["runs"]):
        print(f"     {i + 1}. {run}")
    print(f"   wall time (best)               {r['best']:8.2f} s   (cpu {r['best_run'].cpu:.1f} s)")
    print(f"   scenarios/s                    {fmt_rate(args.numpy_scenarios / r['best']):>10s}")
    print(f"   citizen-weeks                  {r['citizen_weeks']:,}")
    print(f"   citizen-weeks/s                {fmt_rate(r_rate):>10s}")
    print()

    # d. ratio and targets
    ratio = e_rate / r_rate
    t100k = e["best"] * TARGET_SCENARIOS / args.scenarios
    print("d. targets")
    print(
        f"   engine / numpy, citizen-weeks/s {ratio:8.1f} x   target >= {TARGET_RATIO:.0f} x   "
        f"{'MET' if ratio >= TARGET_RATIO else 'NOT MET'}"
    )
    scaled = "" if args.scenarios == TARGET_SCENARIOS else " (scaled from the run above)"
    print(
        f"   100,000 scenarios               {t100k:8.2f} s   target <= {TARGET_SECONDS:.0f} s    "
        f"{'MET' if t100k <= TARGET_SECONDS else 'NOT MET'}{scaled}"
    )
    cpu_ratio = (e["citizen_weeks"] / e["best_run"].cpu) / (r["citizen_weeks"] / r["best_run"].cpu)
    print(
        f"   (per CPU-second, engine / numpy: {cpu_ratio:.1f} x; the engine uses "
        f"{e['best_run'].cpu / e['best']:.2f} cores on average, numpy "
        f"{r['best_run'].cpu / r['best']:.2f})"
    )
    print()

    # e. agreement
    n = max(args.numpy_scenarios, args.check_scenarios)
    check_ref = r["out"]
    if n > args.numpy_scenarios:
        import numpy_reference

        check_ref = numpy_reference.run(cfg, SEED, n)
    print(
        f"e. statistical agreement, scenarios 0..{n - 1} (same parameter draws in both; "
        "paired by scenario;"
    )
    print("   engine = simrisk kernel + ledger.costs/programme_cost; numpy = the reference;")
    print("   share employed = employed / citizens enrolled by that week; mean +- standard error)")
    eng = engine_same_scenarios(cfg, check_ref)
    rows = agreement_rows(eng, check_ref)
    print(f"   {'quantity':44s} {'engine':>17s} {'numpy':>17s} {'diff +- SE':>19s} {'z':>6s}")
    zs = []
    for label, a, b in rows:
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        m = ok.sum()
        se_a, se_b = a.std(ddof=1) / np.sqrt(m), b.std(ddof=1) / np.sqrt(m)
        d = b - a
        se_d = d.std(ddof=1) / np.sqrt(m)
        z = d.mean() / se_d if se_d > 0 else 0.0
        zs.append(z)
        fmt = "{:8.4f} +-{:7.4f}" if abs(a.mean()) < 10 else "{:8.2f} +-{:7.2f}"
        print(
            f"   {label[:44]:44s} {fmt.format(a.mean(), se_a)} {fmt.format(b.mean(), se_b)} "
            f"{d.mean():+9.4f} +-{se_d:7.4f} {z:+6.2f}"
        )
    zs = np.abs(np.array(zs))
    print(
        f"   max |z| = {zs.max():.2f}; |z| > 2 in {int((zs > 2).sum())} of {len(zs)} rows "
        f"(about {math.erfc(2 / math.sqrt(2)) * len(zs):.1f} expected by chance); "
        f"{'AGREE' if zs.max() < 3.5 else 'CHECK: a difference beyond 3.5 SE'}"
    )
    print()

    # f. million
    if args.million:
        nm = args.million_scenarios
        print(f"f. memory: engine.run of {nm:,} scenarios without detail (child process)")
        mres = run_child(["--child-memory", str(nm), "--wait-idle", str(args.wait_idle)])
        gb = mres["maxrss_kb"] * 1024 / 1e9
        print(
            f"   wall time                      {mres['wall']:8.2f} s  "
            f"({fmt_rate(nm / mres['wall'])} scenarios/s, "
            f"{fmt_rate(mres['citizen_weeks'] / mres['wall'])} citizen-weeks/s; "
            f"cpu {mres['cpu']:.0f} s, others {mres['others']:.1f} cores)  "
            f"target <= {TARGET_MILLION_SECONDS:.0f} s for 1,000,000: "
            f"{'MET' if nm == 1_000_000 and mres['wall'] <= TARGET_MILLION_SECONDS else 'NOT MET'}"
        )
        print(
            f"   peak RSS (ru_maxrss)           {gb:8.2f} GB   "
            f"target < {TARGET_MEMORY_GB:.0f} GB   {'MET' if gb < TARGET_MEMORY_GB else 'NOT MET'}"
        )
        print(
            f"   peak RSS before the run        {mres['maxrss_before_kb'] * 1024 / 1e9:8.2f} GB "
            "(imports + warm-up)"
        )
        print()

    if args.profile:
        print("g. " + "\n   ".join(profile_engine(cfg, args.profile)))
        print()
    print(f"load average    {load_average()}")


if __name__ == "__main__":
    main()
