"""Weekly means and quantiles over scenarios, accumulated chunk by chunk.

Integer citizen counts (states, programme track) are summed and histogrammed
exactly, per worker thread, and the threads' parts are added at the end, so
their means and quantiles do not depend on the number of threads. Money flows
are floating point: their sums are taken in scenario order (chunks arrive in
order), and their quantiles from the first scenarios' rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numba as nb
import numpy as np

from simrisk.vocabulary import COUNTERFACTUAL, N_STATES, QUANTILES, TREATMENT

FLOW_QUANTILE_SCENARIOS = 10_000
"""Weekly money quantiles are taken over the first this many scenarios."""


@dataclass
class ChunkResult:
    """Everything one chunk contributes: per-scenario metrics and weekly series.

    metrics : name -> (scenario,)
    state_count : (scenario, arm, week, state)
    programme_count : (scenario, week, phase)
    flows : name -> (scenario, week)
    """

    metrics: dict[str, np.ndarray]
    state_count: np.ndarray | None
    programme_count: np.ndarray | None
    flows: dict[str, np.ndarray]


@nb.njit(nogil=True, cache=True)
def accumulate_rows(rows, total):
    """Add rows (scenario, week) to a running total in scenario order, so that the sum does
    not depend on how scenarios are split into chunks."""
    for s in range(rows.shape[0]):
        for t in range(rows.shape[1]):
            total[t] += rows[s, t]


WEEK_BLOCK = 64
"""Weeks whose histograms :func:`accumulate_counts` and :func:`accumulate_states` fill
together. A chunk's counts are read a block of weeks of one scenario at a time, so a
longer block reads longer runs of memory, and a shorter one keeps the block's
histograms in a smaller cache (Holbæk: 64 weeks of its histograms are 1.5 MB). Only the
speed depends on it: on an Intel Xeon with 2 MB of L2 cache a core, 64 weeks took about
half the time of 8, and a little less than 32 or 256 (``benchmarks/README.md``)."""


@nb.njit(inline="always", cache=True)
def _bin(hist, a, t, c, x, width, top):
    """Add one integer-valued count ``x`` to its histogram bin."""
    v = int(x + 0.5)
    if width > 1:
        v //= width
    if v > top:
        v = top
    hist[a, t, c, v] += 1


@nb.njit(nogil=True, cache=True)
def accumulate_counts(counts, total, hist, width=1):
    """Add integer-valued weekly counts of a chunk to running sums and histograms.

    Parameters
    ----------
    counts : (scenario, arm, week, column), integer-valued (int32 from the kernel, or
        float), e.g. columns = states
    total : float64 (arm, week, column), running sum over scenarios (updated in place)
    hist : int32 (arm, week, column, bin), running histogram (updated in place); a count
        ``v`` falls in bin ``v // width``

    The weeks are taken in blocks of ``WEEK_BLOCK``, so that a block's histograms stay in
    the cache while the chunk's scenarios are read in memory order; every sum still adds
    the scenarios in order.
    """
    m, A, H, C = counts.shape
    top = hist.shape[3] - 1
    for a in range(A):
        for t0 in range(0, H, WEEK_BLOCK):
            for s in range(m):
                for t in range(t0, min(H, t0 + WEEK_BLOCK)):
                    for c in range(C):
                        x = counts[s, a, t, c]
                        total[a, t, c] += x
                        _bin(hist, a, t, c, x, width, top)


@nb.njit(nogil=True, cache=True)
def accumulate_states(counts, hist, width, effect_hist, effect_width, shift):
    """A chunk's state counts of both arms in one pass: each arm's histograms, and those
    of the programme's effect, the treatment arm's count less the counterfactual's in the
    same scenario plus ``shift`` (the cohort, so that it is not negative).

    Parameters
    ----------
    counts : (scenario, arm, week, state), integer-valued (int32 from the kernel, or float)
    hist : int32 (arm, week, state, bin), a count ``v`` in bin ``v // width``
    effect_hist : int32 (1, week, state, bin), an effect ``x`` in bin ``x // effect_width``

    With bins one count wide the sums are the histograms' (:func:`hist_sums`), exactly;
    otherwise :func:`accumulate_sums` adds them. Weeks are taken in blocks of
    ``WEEK_BLOCK``, as in :func:`accumulate_counts`.
    """
    m, _, H, C = counts.shape
    top = hist.shape[3] - 1
    effect_top = effect_hist.shape[3] - 1
    for t0 in range(0, H, WEEK_BLOCK):
        for s in range(m):
            for t in range(t0, min(H, t0 + WEEK_BLOCK)):
                for c in range(C):
                    x0 = counts[s, COUNTERFACTUAL, t, c]
                    x1 = counts[s, TREATMENT, t, c]
                    _bin(hist, COUNTERFACTUAL, t, c, x0, width, top)
                    _bin(hist, TREATMENT, t, c, x1, width, top)
                    _bin(effect_hist, 0, t, c, x1 - x0 + shift, effect_width, effect_top)


@nb.njit(nogil=True, cache=True)
def accumulate_sums(counts, total):
    """Add a chunk's counts (scenario, arm, week, column) to running sums (arm, week,
    column), scenario by scenario."""
    m, A, H, C = counts.shape
    for s in range(m):
        for a in range(A):
            for t in range(H):
                for c in range(C):
                    total[a, t, c] += counts[s, a, t, c]


def hist_sums(hist: np.ndarray) -> np.ndarray:
    """The sum of the values counted in histograms (..., bin) of bins one count wide."""
    return hist @ np.arange(hist.shape[-1], dtype=float)


def hist_quantiles(hist: np.ndarray, qs=QUANTILES, width: int = 1) -> np.ndarray:
    """Quantiles (lower, like numpy's 'inverted_cdf') from histograms (..., bin) of bins
    ``width`` wide (the lower edge of the quantile's bin); shape (quantile, ...)."""
    cdf = np.cumsum(hist, axis=-1)
    total = cdf[..., -1:]
    return width * np.stack([np.argmax(cdf >= q * total, axis=-1) for q in qs]).astype(float)


def quantile_ranks(n: int, qs=QUANTILES) -> np.ndarray:
    """The ranks (0-based, in sorted order) of the empirical quantiles ``qs`` of ``n``
    values: the smallest value at which the empirical distribution reaches q, the
    ceil(n q)-th smallest, as numpy's 'inverted_cdf' quantile takes it. The quantile is a
    value of the sample, so a float32 sample gives it exactly."""
    return np.clip(np.ceil(n * np.asarray(qs)).astype(np.int64) - 1, 0, n - 1)


MAX_BINS = 512
"""Histogram bins per cell: counts are exact for cohorts up to MAX_BINS - 1 citizens; for a
larger cohort a bin holds ``ceil((cohort + 1) / MAX_BINS)`` counts, and the weekly count
quantiles are the lower edges of their bins."""


def bin_width(cohort: int) -> int:
    return max(1, -(-(cohort + 1) // MAX_BINS))


def detail_state_dtype(cohort: int) -> np.dtype:
    """The type of the weekly state counts kept per scenario (``--detail``): int16 while a
    count (at most the cohort) fits, int32 for a larger cohort."""
    return np.dtype(np.int16 if cohort <= np.iinfo(np.int16).max else np.int32)


def effect_bin_width(cohort: int) -> int:
    """Bin width of the effect's histograms (treatment less counterfactual count, from
    -cohort to +cohort): twice the bins of a count's, so exact up to the same cohort."""
    return max(1, -(-(2 * cohort + 1) // (2 * MAX_BINS)))


class Aggregator:
    """Weekly sums, histograms and flow samples of a run.

    Parameters
    ----------
    n : scenarios in the run
    horizon, n_phases, cohort : weeks, programme phases, cohort size
    flow_names : names of the money series
    detail : keep every scenario's weekly series
    """

    def __init__(self, n: int, horizon: int, n_phases: int, cohort: int, flow_names, detail: bool):
        H = horizon
        K2 = n_phases + 2
        self.n = n
        self.detail = detail
        self.state_sum = np.zeros((2, H, N_STATES))
        self.width = bin_width(cohort)
        bins = -(-(cohort + 1) // self.width)
        self.state_hist = np.zeros((2, H, N_STATES, bins), np.int32)
        self.programme_sum = np.zeros((1, H, K2))
        self.programme_hist = np.zeros((1, H, K2, bins), np.int32)
        # the programme's effect: treatment minus counterfactual count, shifted by the
        # cohort so that it is non-negative
        self.cohort = cohort
        self.effect_width = effect_bin_width(cohort)
        effect_bins = -(-(2 * cohort + 1) // self.effect_width)
        self.effect_hist = np.zeros((1, H, N_STATES, effect_bins), np.int32)
        self.flow_sum = {k: np.zeros(H) for k in flow_names}
        self.q_n = min(n, FLOW_QUANTILE_SCENARIOS)
        self.flow_sample = {k: np.empty((self.q_n, H), np.float32) for k in flow_names}
        self.flow_quantile: dict[str, np.ndarray] | None = None
        self.detail_states = (
            np.empty((n, 2, H, N_STATES), detail_state_dtype(cohort)) if detail else None
        )
        self.detail_flows = (
            {k: np.empty((n, H), np.float32) for k in flow_names} if detail else None
        )
        self._parts: list[tuple] = []
        self._lock = threading.Lock()

    def part(self) -> tuple:
        """Running sums and histograms of the integer counts for one worker thread; the
        parts are added up at the end, exactly, in any order."""
        with self._lock:
            if not self._parts:
                p = (
                    self.state_sum,
                    self.state_hist,
                    self.programme_sum,
                    self.programme_hist,
                    self.effect_hist,
                )
            else:
                p = tuple(np.zeros_like(a) for a in self._parts[0])
            self._parts.append(p)
        return p

    def add_counts(self, scen0: int, res: ChunkResult, part: tuple) -> None:
        """Add a chunk's state and programme counts (exact integer arithmetic) to ``part``
        and its per-scenario detail to its own rows. Any order; safe to call from several
        threads, each with its own part."""
        m = res.state_count.shape[0]
        state_sum, state_hist, programme_sum, programme_hist, effect_hist = part
        accumulate_states(
            res.state_count, state_hist, self.width, effect_hist, self.effect_width,
            float(self.cohort),
        )  # fmt: skip
        if self.width > 1:  # otherwise the histograms give the sums (merge)
            accumulate_sums(res.state_count, state_sum)
        accumulate_counts(res.programme_count[:, None], programme_sum, programme_hist, self.width)
        if self.detail:
            self.detail_states[scen0 : scen0 + m] = res.state_count

    def add_flows(self, scen0: int, res: ChunkResult) -> None:
        """Add a chunk's money flows; chunks in scenario order, since the floating-point
        running sums must see the scenarios in order. Once the first ``q_n`` scenarios
        are in, their weekly quantiles are taken and the sample is released (for a long
        run it is most of the memory that does not grow with the scenarios)."""
        m = next(iter(res.flows.values())).shape[0]
        for k, f in res.flows.items():
            accumulate_rows(f, self.flow_sum[k])
            if scen0 < self.q_n:
                take = min(m, self.q_n - scen0)
                self.flow_sample[k][scen0 : scen0 + take] = f[:take]
            if self.detail:
                self.detail_flows[k][scen0 : scen0 + m] = f
        if scen0 < self.q_n <= scen0 + m:
            # each flow's sample is partitioned in place (no copy while the run's buffers
            # are in use) and released as soon as its quantiles are taken
            rows = quantile_ranks(self.q_n)
            self.flow_quantile = {}
            sample, self.flow_sample = self.flow_sample, None
            for k in list(sample):
                v = sample.pop(k)
                undefined = np.isnan(v).any(axis=0)  # as np.quantile: NaN, not a number
                v.partition(rows, axis=0)
                self.flow_quantile[k] = v[rows].astype(float)
                self.flow_quantile[k][:, undefined] = np.nan
                del v

    def merge(self) -> None:
        """Add the worker threads' parts into the totals (integer-valued, so exact); with
        bins one count wide, the state sums are the histograms'."""
        for p in self._parts[1:]:
            for total, a in zip(self._parts[0], p, strict=True):
                total += a
        del self._parts[1:]
        if self.width == 1:
            self.state_sum[...] = hist_sums(self.state_hist)


@dataclass
class Weekly:
    """The weekly series of a run, ready for a Dataset.

    state_count_mean : (arm, week, state); state_count_quantile : (quantile, arm, week,
    state); programme_count_mean : (week, phase); programme_count_quantile : (quantile,
    week, phase); state_effect_quantile : (quantile, week, state), of the treatment arm's
    count less the counterfactual's in the same scenario; flow_mean / flow_quantile :
    name -> (week,) / (quantile, week);
    flow_quantile_scenarios : scenarios the flow quantiles are over; detail_* : per
    scenario, or None.
    """

    state_count_mean: np.ndarray
    state_count_quantile: np.ndarray
    programme_count_mean: np.ndarray
    programme_count_quantile: np.ndarray
    state_effect_quantile: np.ndarray
    flow_mean: dict[str, np.ndarray]
    flow_quantile: dict[str, np.ndarray]
    flow_quantile_scenarios: int
    detail_states: np.ndarray | None
    detail_flows: dict[str, np.ndarray] | None

    @classmethod
    def from_aggregator(cls, agg: Aggregator) -> Weekly:
        if agg.flow_quantile is None and agg.flow_sample:
            raise ValueError(f"the money flows of the first {agg.q_n} scenarios are not all in")
        return cls(
            state_count_mean=agg.state_sum / agg.n,
            state_count_quantile=hist_quantiles(agg.state_hist, width=agg.width),
            programme_count_mean=agg.programme_sum[0] / agg.n,
            programme_count_quantile=hist_quantiles(agg.programme_hist, width=agg.width)[:, 0],
            state_effect_quantile=hist_quantiles(agg.effect_hist, width=agg.effect_width)[:, 0]
            - agg.cohort,
            flow_mean={k: v / agg.n for k, v in agg.flow_sum.items()},
            flow_quantile=agg.flow_quantile or {},
            flow_quantile_scenarios=agg.q_n,
            detail_states=agg.detail_states,
            detail_flows=agg.detail_flows,
        )
