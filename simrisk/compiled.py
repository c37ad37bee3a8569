"""Whether the numba kernels are compiled and cached, so that a first run can say why it
is slow before it starts.

numba compiles a kernel the first time it is called and keeps the machine code in
a cache beside the source (or in ``NUMBA_CACHE_DIR``); the cache's index is stamped
with the source file's time and size, so an edited or newly installed source makes
it stale. :func:`uncached` reads the indexes of the entry-point kernels, which
take nearly all of the compile time.
"""

from __future__ import annotations

COMPILE_SECONDS = "about a minute on two cores"


def _entry_points() -> list:
    import importlib

    from simrisk import aggregate, ledger
    from simrisk.simulation import kernel

    irr = importlib.import_module("simrisk.finance.irr")  # the package exports irr()

    return [
        kernel.simulate_chunk,
        aggregate.accumulate_counts,
        aggregate.accumulate_rows,
        ledger._weekly_cost,
        ledger._programme_cost,
        irr._irr_kernel,
    ]


def uncached() -> list[str]:
    """The entry-point kernels with no usable compiled code on disk (none in the cache,
    or a cache for another version of the source)."""
    out = []
    for fn in _entry_points():
        cache = getattr(fn, "_cache", None)
        index = getattr(cache, "_cache_file", None)
        try:
            fresh = bool(index._load_index()) if index is not None else False
        except Exception:  # an unreadable index is recompiled by numba as well
            fresh = False
        if not fresh and not fn.signatures:
            out.append(fn.__name__)
    return out


def notice() -> str | None:
    """The line to show before a run that will compile kernels, or None."""
    missing = uncached()
    if not missing:
        return None
    return (
        f"compiling the numba kernels ({', '.join(missing)}): {COMPILE_SECONDS}, once; "
        "they are cached on disk for later runs"
    )
