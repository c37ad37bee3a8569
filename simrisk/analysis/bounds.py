"""Drawn values that a change takes beyond what the deal accepts.

A stress point's ``scale``, ``add`` or ``excess`` and a fund's macro multiplier change
every scenario's value of a field after the deal's parameters are drawn. The value as
written is checked before anything runs; a drawn value can still be taken out of the
field's range (a probability above 1, a persistence above 1). Those runs go ahead with
the values as they are, and the commands say how many scenarios it concerns, and how
far.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simrisk.config.load import rejection


def refused(dumped: dict, path: tuple, x: np.ndarray) -> int:
    """Of sorted ``x``, how many the deal (dumped by alias) refuses at ``path``. Its
    accepted values are an interval, so the refused ones are a run at each end, each
    found by bisection."""

    def ok(k: int) -> bool:
        return rejection(dumped, path, float(x[k])) is None

    n = x.size
    if ok(0) and ok(n - 1):
        return 0
    if not any(ok(k) for k in (0, n // 2, n - 1)):
        return n  # (an interval that holds none of three spread values: treat all as out)
    first = 0 if ok(0) else n // 2 if ok(n // 2) else n - 1
    lo, hi = 0, first  # the first accepted index
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    below = lo
    lo, hi = first, n - 1  # the last accepted index
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return below + (n - 1 - lo)


@dataclass
class Beyond:
    """Counts, path by path, of the values a deal refuses, and the furthest of them (the
    refused value largest in magnitude), added chunk by chunk."""

    dumped: dict
    count: dict[tuple, int] = field(default_factory=dict)
    worst: dict[tuple, float] = field(default_factory=dict)

    def add(self, path: tuple, values: np.ndarray) -> None:
        x = np.sort(np.asarray(values, dtype=float).ravel())
        if x.size == 0:
            return
        k = refused(self.dumped, path, x)
        if not k:
            return
        self.count[path] = self.count.get(path, 0) + k
        end = float(x[-1]) if rejection(self.dumped, path, float(x[-1])) else float(x[0])
        if path not in self.worst or abs(end) > abs(self.worst[path]):
            self.worst[path] = end

    def why(self, path: tuple) -> str:
        """Why the deal refuses the furthest value at ``path``."""
        return rejection(self.dumped, path, self.worst[path]) or ""
