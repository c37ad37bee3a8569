"""Whether the numba kernels are compiled and cached, so that a first run can say why it
is slow before it starts.

numba compiles a kernel the first time it is called and keeps the machine code in
a cache beside the source (or in ``NUMBA_CACHE_DIR``); the cache's index is stamped
with the source file's time and size, so an edited or newly installed source makes
it stale. :func:`uncached` reads the indexes of the entry-point kernels, which
take nearly all of the compile time.
"""

from __future__ import annotations

COMPILE_SECONDS = "about 20 s on two cores"


def _entry_points() -> list:
    """The kernels every run calls from Python (those only some contracts call, such as
    a rate card's, compile in a second or two and are left out, so that a deal that
    never calls them is not told it compiles on every run)."""
    import importlib

    from simrisk import aggregate, ledger, rng
    from simrisk.finance import investor
    from simrisk.simulation import kernel

    irr = importlib.import_module("simrisk.finance.irr")  # the package exports irr()
    return [
        kernel.simulate_chunk,
        aggregate.accumulate_counts,
        aggregate.accumulate_effect,
        aggregate.accumulate_rows,
        ledger._weekly_cost,
        ledger._programme_cost,
        irr._irr_kernel,
        investor.cap_return,
        investor._payback_kernel,
        rng.uniform_table,
    ]


def uncached() -> list[str]:
    """The entry-point kernels with no usable compiled code on disk (none in the cache,
    or a cache for another version of the source). Empty when numba does not compile
    (``NUMBA_DISABLE_JIT``) or its cache cannot be read the way this expects: the notice
    is then left out rather than shown on every run."""
    out = []
    try:
        for fn in _entry_points():
            if not hasattr(fn, "signatures"):  # a plain function: the JIT is off
                return []
            index = fn._cache._cache_file
            if not fn.signatures and not index._load_index():
                out.append(fn.__name__.lstrip("_"))
    except Exception:  # numba's private cache API moved: say nothing
        return []
    return out


def notice() -> str | None:
    """The line to show before a run that will compile kernels, or None."""
    missing = uncached()
    if not missing:
        return None
    return (
        f"compiling the numba kernels ({len(missing)} of them): {COMPILE_SECONDS}, once; "
        "they are cached on disk for later runs"
    )
