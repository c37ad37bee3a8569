"""What a run will cost before it is spent: memory and (roughly) time.

:func:`estimate` adds up the arrays a run holds (per-scenario metrics and draws,
each thread's kernel buffers and count histograms, the flow samples, the
per-scenario weekly series with ``--detail``); :func:`check` refuses a run that
would not fit in the machine's available memory, with a line saying what to
change, and says when a run is large.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from simrisk.aggregate import (
    FLOW_QUANTILE_SCENARIOS,
    bin_width,
    detail_state_dtype,
    effect_bin_width,
)
from simrisk.config import DealConfig
from simrisk.contracts.measurement import baseline_chunk
from simrisk.errors import ConfigError
from simrisk.outputs import FLOWS, METRICS
from simrisk.simulation.inputs import chunk_cap, simulated_weeks
from simrisk.vocabulary import BASELINE_READINGS, N_EVENTS, N_STATES

SECONDS_PER_SCENARIO_WEEK = 0.35e-6
SECONDS_PER_SCENARIO_CITIZEN = 1.2e-6
"""What a core spends on a scenario (both arms, money, contract and metrics) per
simulated week and per citizen (cohort and control group): the kernel's cost grows with
the citizens' events, not their weeks. Fitted to the included deals, the three-state
deal, Holbæk with 10,000 citizens and a 100,000-citizen deal over 50 years on a 2-core
machine, within a factor of 0.55-1.5 of the time taken (``benchmarks/bench_estimate.py``
measures it against runs)."""
CITIZEN_WEEKS_PER_SECOND = 3.5e8
"""Citizen-weeks a core simulates per second in the kernel alone (both arms), as
measured on the Holbæk deal (benchmarks/): the time of a baseline's scenarios."""
MAX_SCENARIOS = 100_000_000
"""The most scenarios one run may ask for."""
LARGE_BYTES = 1 << 30
LARGE_SECONDS = 60.0


@dataclass
class Estimate:
    bytes: int
    seconds: float
    citizen_weeks: float

    def describe(self) -> str:
        return (
            f"about {self.bytes / 1e9:.2f} GB of memory and roughly "
            f"{_duration(self.seconds)} ({self.citizen_weeks:.3g} citizen-weeks)"
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate(
    cfg: DealConfig,
    n: int,
    threads: int = 1,
    chunk: int = 256,
    detail: bool = False,
    weekly: bool = True,
    held: int = 0,
) -> Estimate:
    """Memory (bytes) and time (s) of ``engine.run(cfg, ..., n, weekly=weekly)``;
    ``held``: further bytes a scenario holds besides the run (the metrics of a job's
    other runs, :func:`held_metrics`)."""
    H = simulated_weeks(cfg)
    N = cfg.cohort.size
    N_ctl = cfg.contract.control_size or 0
    B = len({b for s in cfg.cohort.segments for b in s.benefits}) + 4
    K2 = len(cfg.programme.phases) + 2
    C = 4 + len(cfg.contract.mechanisms)
    P = cfg.uncertainty.n_parameters
    m = min(chunk, n, chunk_cap(cfg))
    # the kernel's weekly arrays: int32 counts of states and phases, float64 weighted weeks
    week_rows = ((2 * N_STATES + K2) * 4 + 2 * (2 * B + 1) * 8) * (H + 1)
    citizens = 2 * (N + N_ctl) * (N_EVENTS * 4 + C + 4)
    transient = (3 * 2 + len(FLOWS) + 4) * H * 8 + N_STATES * N_STATES * 8 * 8
    per_scenario = 2 * week_rows + citizens + transient  # buffers, and what a chunk makes
    per_chunk = m * per_scenario
    bins = -(-(N + 1) // bin_width(N))
    effect_bins = -(-(2 * N + 1) // effect_bin_width(N))
    # histograms: int32 bins and a float64 sum per cell
    hist = (2 * N_STATES + K2) * H * (bins * 4 + 8) + N_STATES * H * (effect_bins * 4 + 8)
    per_thread = per_chunk + (hist if weekly else 0)
    q = min(n, FLOW_QUANTILE_SCENARIOS)
    # the metrics and draws fill as the scenarios come in; the money flows' sample of the
    # first q scenarios is released once they are in (Aggregator.add_flows)
    row = (len(METRICS) + P + 2) * 8
    run_wide = n * row
    if weekly:
        run_wide = max(run_wide, q * row + len(FLOWS) * q * H * 4) + len(FLOWS) * H * 8
    run_wide += n * held
    if detail:
        run_wide += detail_bytes(cfg, n)
    if cfg.contract.measurement in BASELINE_READINGS:  # its own chunks, before the run
        run_wide += 2 * H * B * 8 + baseline_chunk(cfg) * per_scenario
    total = int(threads * per_thread + run_wide + 200e6)  # + the interpreter and libraries
    uptake = cfg.cohort.uptake
    cw = 2.0 * n * N * uptake * max(H - cfg.cohort.enrolment.last_week / 2, 1)
    base = baseline_citizen_weeks(cfg)
    per_scenario = SECONDS_PER_SCENARIO_WEEK * H + SECONDS_PER_SCENARIO_CITIZEN * (N + N_ctl)
    seconds = n * per_scenario / max(threads, 1) + base / CITIZEN_WEEKS_PER_SECOND
    return Estimate(total, seconds, cw + base)


def baseline_citizen_weeks(cfg: DealConfig) -> float:
    """What a baseline-measured deal simulates before its run, on one thread: its baseline
    scenarios, both arms, everyone from week 0 (0 for other measurements)."""
    if cfg.contract.measurement not in BASELINE_READINGS:
        return 0.0
    return 2.0 * cfg.contract.baseline_scenarios * cfg.cohort.size * simulated_weeks(cfg)


DETAIL_WARN_BYTES = 300e6
"""With ``--detail``, a results file larger than this is announced before the run."""


def detail_bytes(cfg: DealConfig, n: int) -> int:
    """What ``--detail`` adds to a run's memory and its results file: every scenario's
    weekly state counts (both arms, int16 or for a large cohort int32) and money flows
    (float32)."""
    H = simulated_weeks(cfg)
    count = detail_state_dtype(cfg.cohort.size).itemsize
    return n * (2 * H * N_STATES * count + len(FLOWS) * H * 4)


def available_bytes() -> int | None:
    """Memory the machine can give now (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check(
    cfg: DealConfig,
    n: int,
    threads: int,
    chunk: int = 256,
    detail: bool = False,
    log=None,
    runs: int = 1,
    weekly: bool = True,
    held: int = 0,
    field: str = "-n",
) -> Estimate:
    """Refuse a run that would not fit in memory (ConfigError, one line); say through
    ``log`` what a large one will take. ``runs`` runs of ``n`` scenarios each (stress
    points, sensitivity designs) take ``runs`` times as long; ``weekly`` and ``held`` as
    in :func:`estimate`; ``field``: the option that sets ``n``, for the message."""
    if n > MAX_SCENARIOS:
        raise ConfigError(field, [f"{field}: at most {MAX_SCENARIOS:,} scenarios in one run"])
    est = estimate(cfg, n, threads, chunk, detail, weekly, held)
    base = baseline_citizen_weeks(cfg)  # computed once, for all the runs
    est.seconds = (est.seconds - base / CITIZEN_WEEKS_PER_SECOND) * runs
    est.seconds += base / CITIZEN_WEEKS_PER_SECOND
    est.citizen_weeks = (est.citizen_weeks - base) * runs + base
    avail = available_bytes()
    if avail is not None and est.bytes > 0.8 * avail:
        hints = [f"fewer scenarios ({field})"]
        if detail:
            hints.insert(0, "no --detail")
        if threads > 1:
            hints.append("fewer threads (--threads)")
        raise ConfigError(
            "resources",
            [
                f"{field}: {n:,} scenarios of this deal need {est.describe()}, more than the "
                f"{avail / 1e9:.1f} GB available; use {', or '.join(hints)}"
            ],
        )
    if log is not None and (est.bytes > LARGE_BYTES or est.seconds > LARGE_SECONDS):
        log(f"this run needs {est.describe()}")
    if log is not None and detail and detail_bytes(cfg, n) > DETAIL_WARN_BYTES:
        log(
            f"warning: --detail keeps every scenario's weekly series: the results file will be "
            f"about {detail_bytes(cfg, n) / 1e6:,.0f} MB larger ({n:,} scenarios x "
            f"{simulated_weeks(cfg)} weeks); leave out --detail, or use fewer scenarios, "
            "unless the series of single scenarios are needed"
        )
    return est


def held_metrics(copies: int, metrics: int = len(METRICS)) -> int:
    """Bytes a scenario holds in ``copies`` sets of ``metrics`` per-scenario metrics
    (float64): the runs of a job that are kept while the next one runs."""
    return copies * metrics * 8


def threads_in_use(threads: int | None) -> int:
    import numba

    return max(1, threads or numba.get_num_threads())


__all__ = [
    "Estimate", "MAX_SCENARIOS", "available_bytes", "check", "detail_bytes", "estimate",
    "held_metrics", "threads_in_use",
]  # fmt: skip
