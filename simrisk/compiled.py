"""Whether the numba kernels are compiled and cached, so that a first run can say why it
is slow before it starts.

numba compiles a kernel the first time it is called and keeps the machine code in
a cache beside the source (or in ``NUMBA_CACHE_DIR``); the cache's index is stamped
with the source file's time and size, so an edited or newly installed source makes
it stale. :func:`uncached` reads the indexes of the entry-point kernels, which
take nearly all of the compile time.

numba compiles one function at a time in a process. When the simulation kernel and
others are to be compiled and there is a second core, :func:`start_compiling_rest`
starts a helper process that compiles the others into the same cache
(:func:`compile_rest`) while the run compiles the kernel, which takes longer; the run
then finds them compiled when it reaches them. The helper only writes numba's cache:
whether it finishes, fails or is stopped, the run's numbers are the same.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

COMPILE_SECONDS = "about 12 s on two cores, 18 s on one"


USES = ("run", "metrics", "simulation")
"""What a job runs, for the kernels it compiles: ``run`` a run with its weekly series
(``simrisk run``), ``metrics`` runs that keep per-scenario metrics only (stress,
sensitivity, solve, acceptability, region, sweep, portfolio: no count histograms or
weekly sums), ``simulation`` the simulation kernel alone (calibrate, check)."""


def _entry_points(uses: str = "run") -> list:
    """The kernels a job of kind ``uses`` (:data:`USES`) calls from Python (those only
    some contracts call, such as a rate card's, and the few that compile in a second or
    two outside a run, such as the parameter draws', are left out, so that a job that
    never calls them is not told it compiles on every run)."""
    import importlib

    from simrisk import aggregate, ledger, rng
    from simrisk.finance import investor
    from simrisk.simulation import kernel

    if uses not in USES:
        raise ValueError(f"uses: one of {', '.join(USES)}, not {uses!r}")
    if uses == "simulation":
        return [kernel.simulate_chunk]
    irr = importlib.import_module("simrisk.finance.irr")  # the package exports irr()
    weekly = [aggregate.accumulate_counts, aggregate.accumulate_states, aggregate.accumulate_rows]
    return [
        kernel.simulate_chunk,
        *(weekly if uses == "run" else []),
        ledger._weekly_cost,
        ledger._programme_cost,
        irr._irr_kernel,
        investor.cap_return,
        investor._payback_kernel,
        rng.uniform_table,
    ]


def uncached(uses: str = "run") -> list[str]:
    """The entry-point kernels of a job of kind ``uses`` (:data:`USES`) with no usable
    compiled code on disk (none in the cache, or a cache for another version of the
    source). Empty when numba does not compile (``NUMBA_DISABLE_JIT``) or its cache
    cannot be read the way this expects: the notice is then left out rather than shown
    on every run."""
    out = []
    try:
        for fn in _entry_points(uses):
            if not hasattr(fn, "signatures"):  # a plain function: the JIT is off
                return []
            index = fn._cache._cache_file
            if not fn.signatures and not index._load_index():
                out.append(fn.__name__.lstrip("_"))
    except Exception:  # numba's private cache API moved: say nothing
        return []
    return out


def compile_rest(cfg) -> None:
    """Compile every kernel a run of ``cfg`` calls except the simulation kernel: a run of
    two scenarios in which the simulation kernel is left out (no citizen enrolls), so the
    others are compiled for the argument types of a real run (two, not one: numpy calls
    an array with a single row contiguous where a real chunk's is not)."""
    from simrisk import engine, simulation

    simulation.leave_kernel_out()
    engine.run(cfg, 0, 2, threads=1)


def start_compiling_rest(cfg, uses: str = "run") -> subprocess.Popen | None:
    """Start a helper process that compiles the kernels other than the simulation kernel
    (:func:`compile_rest`), when the simulation kernel and others a job of kind ``uses``
    calls are uncached and there is a second core; None otherwise. The helper is stopped
    when this process exits."""
    missing = uncached(uses)
    if "simulate_chunk" not in missing or len(missing) < 2 or _cores() < 2:
        return None
    try:
        deal = encode_deal(cfg)
        proc = subprocess.Popen(
            # -P: not the working directory first on the path (another checkout there
            # would be compiled instead)
            [sys.executable, "-P", "-m", "simrisk.compiled", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except Exception:  # noqa: BLE001 - no helper: the run compiles everything itself
        return None
    atexit.register(_stop, proc)
    try:
        proc.stdin.write(deal)
        proc.stdin.close()
    except OSError:  # the helper has gone already: the run compiles the rest itself
        pass
    return proc


def encode_deal(cfg) -> bytes:
    """What the helper reads on stdin: the deal as JSON (data, validated again there)."""
    return cfg.model_dump_json(by_alias=True).encode()


def _watch_parent(pid: int) -> None:
    """In the helper: end when the run that started it is gone (even killed outright),
    polling twice a second from a daemon thread."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _cores() -> int:
    """The threads the run may use (``--threads``, else numba's count: the cores it may
    run on); the helper takes a second one only if there is one."""
    from simrisk.resources import threads_in_use

    return threads_in_use(None)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


def notice(uses: str = "run") -> str | None:
    """The line to show before a job of kind ``uses`` (:data:`USES`) that will compile
    kernels, or None."""
    missing = uncached(uses)
    if not missing:
        return None
    return (
        f"compiling the numba kernels ({len(missing)} of them): {COMPILE_SECONDS}, once; "
        "they are cached on disk for later runs"
    )


if __name__ == "__main__":  # the helper of start_compiling_rest: the deal's JSON on stdin
    try:
        if len(sys.argv) > 1:
            _watch_parent(int(sys.argv[1]))
        from simrisk.config import DealConfig

        # data only, validated like any deal file
        compile_rest(DealConfig.model_validate_json(sys.stdin.buffer.read()))
    except KeyboardInterrupt:  # stopped with the run (Ctrl-C reaches both)
        sys.exit(130)
