"""The speed targets: the engine against a bare kernel, Holbæk at 100,000 scenarios, and
the start of a small run with a fresh and a warm compile cache.

Run from the repository root::

    python benchmarks/bench_speed.py [--scenarios 100000] [--repeat 3] [--no-start]

Prints a plain-text report, every figure with the reference it is compared with in the
same run:

a. **Engine against a bare kernel** on a three-state weekly model
   (``benchmarks/deals/three_state.toml``: benefit, employed, permanent exit; 180
   citizens, 260 weeks, one weekly hazard per transition). The bare kernel below is the
   least an event-driven simulation of that model does: one arm, one exponential draw
   per spell, the destination by its hazard, weekly state counts as difference arrays,
   on every core (``prange`` over scenarios), with the engine's random number generator.
   The engine does everything a run does: both arms, the programme, money, the contract,
   the investor and the metrics. Citizen-weeks are weeks enrolled, summed over
   citizens and scenarios, for each arm simulated. Two ratios are printed: the engine's
   citizen-weeks per second of *both* arms against the bare kernel's one arm, and the
   time the bare kernel takes for one arm of a scenario against the time the engine takes
   for a whole scenario (both arms: "per scenario-arm pair"), the stricter reading.
b. **Holbæk end to end**: ``engine.run(configs/holbaek.toml, seed 1, N)``, best of
   ``--repeat``, after a warm-up; wall, CPU, and the cores other processes used.
c. **Start of a 50-scenario run** as a user sees it: ``simrisk run configs/holbaek.toml
   -n 50`` in a new process, once with ``NUMBA_CACHE_DIR`` a fresh empty directory (numba
   compiles every kernel; a helper process compiles all but the simulation kernel
   meanwhile, :mod:`simrisk.compiled`) and twice with the warm cache (best of two); wall
   time from the process's start to its end. ``--simrisk`` times another installation's
   command, such as the README's install (no test extra).

Speed is never asserted in tests; the targets are printed beside the measurements.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba as nb
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_holbaek import Timed, load_average, time_engine  # noqa: E402

from simrisk.rng import STREAM_LABOUR, seed_key, stream, uniform  # noqa: E402

THREE_STATE = HERE / "deals" / "three_state.toml"
HOLBAEK = ROOT / "configs" / "holbaek.toml"
SEED = 1
TARGET_HOLBAEK = 8.0  # seconds for 100,000 scenarios
TARGET_BARE = 0.40  # of the bare kernel, per scenario-arm pair
TARGET_COLD, TARGET_WARM = 15.0, 1.5  # seconds


# --------------------------------------------------------------------------- bare kernel
@nb.njit(parallel=True, nogil=True, cache=True)
def bare_kernel(key, entry, haz, job_haz, counts):
    """One arm of a three-state model: ``haz`` (from, to) weekly hazards, the benefit ->
    employed hazard ``job_haz[s]`` of each scenario; weekly counts (scenario, week,
    state) as difference arrays, summed at the end."""
    ns, weeks = counts.shape[0], counts.shape[1] - 1
    n_states = haz.shape[0]
    for s in nb.prange(ns):
        counts[s] = 0.0
        h = np.empty(n_states)
        for i in range(entry.shape[0]):
            st = stream(key, s, i, STREAM_LABOUR)
            t = entry[i]
            state = 0
            while t < weeks:
                total = 0.0
                for d in range(n_states):
                    h[d] = job_haz[s] if (state == 0 and d == 1) else haz[state, d]
                    total += h[d]
                if total <= 0.0:  # absorbing
                    counts[s, t, state] += 1.0
                    counts[s, weeks, state] -= 1.0
                    break
                st, u = uniform(st)
                t_end = min(weeks, t + max(1, int(math.ceil(-math.log(u) / total))))
                counts[s, t, state] += 1.0
                counts[s, t_end, state] -= 1.0
                if t_end >= weeks:
                    break
                st, u = uniform(st)
                target = u * total
                dest = 0
                acc = h[0]
                while dest < n_states - 1 and (acc <= target or h[dest] == 0.0):
                    dest += 1
                    acc += h[dest]
                state = dest
                t = t_end
        for t in range(1, weeks + 1):
            for k in range(n_states):
                counts[s, t, k] += counts[s, t - 1, k]


def bare_inputs(cfg, n: int):
    """The bare kernel's inputs, built from the deal: planned entry weeks, the weekly
    hazards of its transitions, and the benefit -> employed hazard of each scenario
    drawn as the engine draws it."""
    from simrisk import simulation
    from simrisk.sampling import Sampler

    st = simulation.build_structure(cfg)
    names = ("benefit", "employed", "permanent")
    haz = np.zeros((3, 3))
    for tr in cfg.labour.transitions:
        p = tr.probability if np.isscalar(tr.probability) else tr.probability[0]
        haz[names.index(tr.from_state), names.index(tr.to)] = -math.log1p(-float(p))
    sampler = Sampler(cfg, SEED, n)
    draws = sampler.draw(0, n)  # the one uncertain input: benefit -> employed probability
    job = -np.log1p(-draws[:, 0]) * cfg.labour.job_entry_multiplier
    return np.ascontiguousarray(st.entry_planned, dtype=np.int64), haz, job, st.horizon


def time_bare(cfg, n: int, repeat: int) -> dict:
    entry, haz, job, weeks = bare_inputs(cfg, n)
    key = seed_key(SEED)
    counts = np.empty((n, weeks + 1, 3))
    bare_kernel(key, entry, haz, job[:2].copy(), counts[:2])  # compile or load
    best = None
    for _ in range(repeat):
        with Timed() as tm:
            bare_kernel(key, entry, haz, job, counts)
        best = tm if best is None or tm.wall < best.wall else best
    cw = float(counts[:, :weeks].sum())
    return {"timed": best, "citizen_weeks": cw}


def time_start(exe: Path, n: int = 50) -> dict:
    """Wall time of ``simrisk run configs/holbaek.toml -n 50`` in a new process, with a
    fresh and with a warm numba cache. Python writes and reuses its bytecode cache as it
    does by default (``PYTHONDONTWRITEBYTECODE`` is dropped), as on a user's machine."""
    cmd = [str(exe), "run", str(HOLBAEK), "-n", str(n), "--seed", str(SEED)]
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def once(env_extra: dict, out: Path) -> float:
        env = dict(base, **env_extra)
        t0 = time.perf_counter()
        proc = subprocess.run([*cmd, "-o", str(out)], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        return wall

    with tempfile.TemporaryDirectory(prefix="simrisk-start-") as tmp:
        cache = Path(tmp) / "numba-cache"
        cache.mkdir()
        fresh = {"NUMBA_CACHE_DIR": str(cache)}
        cold = once(fresh, Path(tmp) / "a.nc")
        warm_same = min(once(fresh, Path(tmp) / f"b{k}.nc") for k in range(2))
        warm_default = min(once({}, Path(tmp) / f"c{k}.nc") for k in range(2))
    return {"cold": cold, "warm": warm_same, "warm_default": warm_default}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", type=int, default=100_000, help="Holbæk run size")
    ap.add_argument("--bare-scenarios", type=int, default=100_000, help="three-state size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-start", action="store_true", help="skip c (about a minute)")
    ap.add_argument(
        "--simrisk",
        default=str(Path(sys.executable).with_name("simrisk")),
        help="the simrisk command c times (default: this environment's); a plain "
        "`pip install -e .` times the README's install",
    )
    args = ap.parse_args()

    from simrisk.config import load_deal

    print(
        f"simrisk speed benchmark — {platform.node()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, numba {nb.__version__} ({nb.get_num_threads()} threads), "
        f"python {platform.python_version()}, load {load_average()}"
    )
    three, _ = load_deal(THREE_STATE)
    n3 = args.bare_scenarios
    bare = time_bare(three, n3, args.repeat)
    eng3 = time_engine(three, n3, args.repeat)
    b_rate = bare["citizen_weeks"] / bare["timed"].wall
    e_rate = eng3["citizen_weeks"] / eng3["best_run"].wall
    pair = bare["timed"].wall / eng3["best_run"].wall  # one bare arm / one engine scenario
    print(f"a. three-state model, {n3:,} scenarios, best of {args.repeat}")
    print(
        f"   bare kernel, one arm:  {bare['timed']}  "
        f"{bare['citizen_weeks'] / 1e9:.2f}e9 citizen-weeks, {b_rate / 1e6:,.0f} M/s"
    )
    print(
        f"   engine, whole run:     {eng3['best_run']}  "
        f"{eng3['citizen_weeks'] / 1e9:.2f}e9 citizen-weeks (both arms), {e_rate / 1e6:,.0f} M/s"
    )
    print(f"   engine citizen-weeks/s (both arms) / bare (one arm): {e_rate / b_rate:6.1%}")
    print(
        f"   per scenario-arm pair (bare time for one arm / engine time for both): "
        f"{pair:6.1%}  target >= {TARGET_BARE:.0%}: {verdict(pair >= TARGET_BARE)}"
    )

    holbaek, _ = load_deal(HOLBAEK)
    n = args.scenarios
    eng = time_engine(holbaek, n, args.repeat)
    best = eng["best_run"]
    target = TARGET_HOLBAEK * n / 100_000
    print(f"b. Holbæk, engine.run, {n:,} scenarios, best of {args.repeat}")
    for k, r in enumerate(eng["runs"], 1):
        print(f"   run {k}: {r}")
    print(
        f"   best {best.wall:.2f} s = {best.wall / bare['timed'].wall:.1f} x the bare kernel's "
        f"{n3:,} three-state scenarios; {n / best.wall:,.0f} scenarios/s, "
        f"{eng['citizen_weeks'] / best.wall / 1e6:,.0f} M citizen-weeks/s; "
        f"target <= {target:.1f} s: {verdict(best.wall <= target)}"
    )

    if not args.no_start:
        st = time_start(Path(args.simrisk))
        print(f"c. simrisk run configs/holbaek.toml -n 50, a new process ({args.simrisk})")
        print(
            f"   fresh cache: {st['cold']:6.2f} s  target <= {TARGET_COLD:.0f} s: "
            f"{verdict(st['cold'] <= TARGET_COLD)}"
        )
        print(
            f"   warm cache:  {st['warm']:6.2f} s  (the default cache: {st['warm_default']:.2f} s)"
            f"  target <= {TARGET_WARM} s: {verdict(st['warm'] <= TARGET_WARM)}"
        )
    print(f"load at the end {load_average()}")


if __name__ == "__main__":
    main()
