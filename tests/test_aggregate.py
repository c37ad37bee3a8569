"""Weekly sums and quantiles over scenarios (simrisk.aggregate) against plain numpy
(np.sum, np.histogram, np.quantile with method "inverted_cdf"), by hand, and across
chunkings and worker parts."""

from __future__ import annotations

import numpy as np
import pytest

from simrisk.aggregate import (
    Aggregator,
    ChunkResult,
    Weekly,
    accumulate_counts,
    accumulate_rows,
    accumulate_states,
    accumulate_sums,
    hist_quantiles,
    hist_sums,
)
from simrisk.vocabulary import N_STATES, QUANTILES


def _counts(rng, m, A=2, H=7, C=3, top=12):
    return rng.integers(0, top + 1, size=(m, A, H, C)).astype(float)


def test_accumulate_counts_by_hand():
    """Three scenarios, one arm, one week, two columns; a count off a whole number by
    rounding goes to the nearest bin, a count above the histogram's top to the top bin
    (and both are summed as they are)."""
    counts = np.array([[[[2.0, 5.0]]], [[[2.0, 9.0]]], [[[3.0 - 1e-9, 5.0]]]])
    total = np.zeros((1, 1, 2))
    hist = np.zeros((1, 1, 2, 6), np.int64)  # values 0..5
    accumulate_counts(counts, total, hist)
    np.testing.assert_allclose(total, [[[7.0 - 1e-9, 19.0]]], rtol=1e-15)
    np.testing.assert_array_equal(hist[0, 0, 0], [0, 0, 2, 1, 0, 0])
    np.testing.assert_array_equal(hist[0, 0, 1], [0, 0, 0, 0, 0, 3])


def test_accumulate_counts_matches_numpy_over_chunks():
    """Running sums and histograms over three chunks of different sizes equal np.sum and
    np.histogram (one bin per integer) over all scenarios at once."""
    rng = np.random.default_rng(1)
    top = 12
    chunks = [_counts(rng, m, top=top) for m in (5, 1, 9)]
    total = np.zeros((2, 7, 3))
    hist = np.zeros((2, 7, 3, top + 1), np.int64)
    for c in chunks:
        accumulate_counts(c, total, hist)
    allc = np.concatenate(chunks)
    np.testing.assert_array_equal(total, np.sum(allc, axis=0))
    for a in range(2):
        for t in range(7):
            for c in range(3):
                h, _ = np.histogram(allc[:, a, t, c], bins=np.arange(top + 2) - 0.5)
                np.testing.assert_array_equal(hist[a, t, c], h)


@pytest.mark.parametrize("width", [1, 2, 3])
def test_accumulate_states_matches_numpy_over_chunks(width):
    """One pass over both arms, over chunks of different sizes: each arm's histograms
    equal np.histogram of its counts, the effect's (treatment less counterfactual, shifted
    by the cohort) np.histogram of the differences computed by numpy, in bins ``width``
    wide. The running sums (accumulate_sums) equal np.sum, and with bins one count wide
    so do the histograms' sums (hist_sums)."""
    rng = np.random.default_rng(5 + width)
    top, shift = 12, 12.0
    chunks = [_counts(rng, m, top=top) for m in (4, 1, 8)]
    allc = np.concatenate(chunks)
    diff = allc[:, 1] - allc[:, 0] + shift  # (scenario, week, column), 0 .. 24
    bins = -(-(top + 1) // width)
    effect_bins = -(-(2 * top + 1) // width)
    total = np.zeros((2, 7, 3))
    hist = np.zeros((2, 7, 3, bins), np.int64)
    effect = np.zeros((1, 7, 3, effect_bins), np.int64)
    for c in chunks:
        accumulate_states(c, hist, width, effect, width, shift)
        accumulate_sums(c, total)
    np.testing.assert_array_equal(total, np.sum(allc, axis=0))
    if width == 1:
        np.testing.assert_array_equal(hist_sums(hist), np.sum(allc, axis=0))
    for t in range(7):
        for c in range(3):
            for a in range(2):
                edges = np.arange(0, bins * width + 1, width) - 0.5
                h, _ = np.histogram(allc[:, a, t, c], bins=edges)
                np.testing.assert_array_equal(hist[a, t, c], h, err_msg=f"{a} {t} {c}")
            edges = np.arange(0, effect_bins * width + 1, width) - 0.5
            h, _ = np.histogram(diff[:, t, c], bins=edges)
            np.testing.assert_array_equal(effect[0, t, c], h, err_msg=f"effect {t} {c}")


def test_hist_sums_by_hand():
    """Three values 0, two 1s, one 4: 6."""
    assert hist_sums(np.array([[3, 2, 0, 0, 1]], np.int32)).tolist() == [6.0]


def test_accumulate_rows_sums_in_scenario_order():
    """The running total adds scenario after scenario, so any split into chunks gives the
    same bits as a plain loop (np.sum's pairwise order may differ in the last bits)."""
    rng = np.random.default_rng(2)
    rows = rng.normal(size=(37, 5)) * 10.0 ** rng.integers(-3, 9, size=(37, 5))
    plain = np.zeros(5)
    for s in range(37):
        for t in range(5):
            plain[t] += rows[s, t]
    for splits in ([37], [1, 36], [10, 10, 17], [3] * 12 + [1]):
        total = np.zeros(5)
        start = 0
        for m in splits:
            accumulate_rows(rows[start : start + m], total)
            start += m
        np.testing.assert_array_equal(total, plain)
    np.testing.assert_allclose(plain, np.sum(rows, axis=0), rtol=1e-9, atol=1e-6)


def test_hist_quantiles_by_hand():
    """20 samples: 0 x 1, 1 x 4, 2 x 10, 5 x 5. The 5 % quantile is the first value whose
    cumulative count reaches 1, the median the first to reach 10, the 95 % the first to
    reach 19."""
    hist = np.array([1, 4, 10, 0, 0, 5])
    np.testing.assert_array_equal(hist_quantiles(hist), [0.0, 2.0, 5.0])
    np.testing.assert_array_equal(hist_quantiles(hist, qs=(0.25, 0.26)), [1.0, 2.0])


@pytest.mark.parametrize("n", [1, 7, 20, 40, 100, 333])
def test_hist_quantiles_equal_numpy_inverted_cdf(n):
    """Quantiles from histograms equal np.quantile(method='inverted_cdf') of the samples,
    including sample sizes where n q is a whole number."""
    rng = np.random.default_rng(n)
    samples = rng.integers(0, 15, size=(n, 4, 3))  # (scenario, week, column)
    hist = np.zeros((4, 3, 15), np.int64)
    for x in samples:
        for t in range(4):
            for c in range(3):
                hist[t, c, x[t, c]] += 1
    qs = (0.05, 0.1, 0.25, 0.5, 0.75, 0.95)
    got = hist_quantiles(hist, qs)
    expected = np.quantile(samples, qs, axis=0, method="inverted_cdf")
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (len(qs), 4, 3)


def _chunk_result(state, prog, flows):
    return ChunkResult(metrics={}, state_count=state, programme_count=prog, flows=flows)


def test_aggregator_parts_merge_to_the_plain_statistics():
    """Chunks added to two worker parts in any order, flows in scenario order: the means
    are the plain means, the count quantiles the empirical quantiles over every scenario,
    the flow quantiles the empirical quantiles over the first ``q_n`` scenarios, and the
    detail arrays every scenario's rows."""
    rng = np.random.default_rng(3)
    n, H, K, cohort = 23, 6, 2, 10
    state = _counts(rng, n, A=2, H=H, C=N_STATES, top=cohort)
    prog = rng.integers(0, cohort + 1, size=(n, H, K + 2)).astype(float)
    flows = {"a": rng.normal(size=(n, H)) * 1e3, "b": rng.normal(size=(n, H))}
    agg = Aggregator(n, H, K, cohort, list(flows), detail=True)
    agg.q_n = 17  # flow quantiles over the first 17 scenarios
    agg.flow_sample = {k: np.empty((17, H), np.float32) for k in flows}
    parts = [agg.part(), agg.part()]
    bounds = [(0, 8), (8, 9), (9, 20), (20, 23)]
    for j, (lo, hi) in reversed(list(enumerate(bounds))):  # counts: any order
        res = _chunk_result(state[lo:hi], prog[lo:hi], {k: f[lo:hi] for k, f in flows.items()})
        agg.add_counts(lo, res, parts[j % 2])
    for lo, hi in bounds:  # flows: scenario order
        agg.add_flows(lo, _chunk_result(None, None, {k: f[lo:hi] for k, f in flows.items()}))
        # the sample is released with the chunk that completes it (scenarios 9-19)
        assert (agg.flow_sample is None) == (hi >= 17)
    agg.merge()
    wk = Weekly.from_aggregator(agg)
    np.testing.assert_array_equal(wk.state_count_mean, state.sum(axis=0) / n)
    np.testing.assert_array_equal(
        wk.state_count_quantile, np.quantile(state, QUANTILES, axis=0, method="inverted_cdf")
    )
    np.testing.assert_array_equal(wk.programme_count_mean, prog.sum(axis=0) / n)
    np.testing.assert_array_equal(
        wk.programme_count_quantile, np.quantile(prog, QUANTILES, axis=0, method="inverted_cdf")
    )
    for k, f in flows.items():
        plain = np.zeros(H)
        for s in range(n):
            plain += f[s]
        np.testing.assert_array_equal(wk.flow_mean[k], plain / n)
        first = f[:17].astype(np.float32).astype(float)
        q = np.quantile(first, QUANTILES, axis=0, method="inverted_cdf")
        np.testing.assert_array_equal(wk.flow_quantile[k], q)
        # a quantile is a value of the sample (of each week's column)
        assert all(np.isin(wk.flow_quantile[k][:, t], first[:, t]).all() for t in range(H))
        np.testing.assert_array_equal(wk.detail_flows[k], f.astype(np.float32))
    np.testing.assert_array_equal(wk.detail_states, state.astype(np.int16))
    assert wk.flow_quantile_scenarios == 17


def test_quantile_ranks_are_numpys_inverted_cdf():
    """The ranks that give the flow quantiles from a partitioned sample pick numpy's
    'inverted_cdf' quantiles for every sample size up to 600 and for 10,000 (the sample
    of a long run), ties included."""
    from simrisk.aggregate import quantile_ranks

    rng = np.random.default_rng(9)
    qs = (*QUANTILES, 0.0, 0.01, 0.25, 1 / 3, 0.999, 1.0)
    for n in (*range(1, 601), 10_000):
        v = rng.normal(size=(n, 3)).astype(np.float32)
        v[: n // 4, 2] = v[0, 2]  # ties
        expected = np.quantile(v, qs, axis=0, method="inverted_cdf")
        np.testing.assert_array_equal(np.sort(v, axis=0)[quantile_ranks(n, qs)], expected)


def test_weekly_series_are_refused_before_the_flow_sample_is_complete():
    rng = np.random.default_rng(5)
    agg = Aggregator(6, 3, 1, 4, ["a"], detail=False)
    agg.add_flows(0, _chunk_result(None, None, {"a": rng.normal(size=(4, 3))}))
    with pytest.raises(ValueError, match="first 6 scenarios are not all in"):
        Weekly.from_aggregator(agg)
    agg.add_flows(4, _chunk_result(None, None, {"a": rng.normal(size=(2, 3))}))
    assert Weekly.from_aggregator(agg).flow_quantile["a"].shape == (len(QUANTILES), 3)


def test_flow_quantiles_of_a_week_with_an_undefined_value_are_undefined():
    """As numpy's quantile of a sample holding a NaN: NaN in that week (partitioning
    alone would rank the NaN last and give numbers), the other weeks numpy's."""
    rng = np.random.default_rng(6)
    flows = rng.normal(size=(8, 4))
    flows[3, 1] = np.nan
    agg = Aggregator(8, 4, 1, 4, ["a"], detail=False)
    agg.add_flows(0, _chunk_result(None, None, {"a": flows}))
    got = Weekly.from_aggregator(agg).flow_quantile["a"]
    expected = np.quantile(flows.astype(np.float32), QUANTILES, axis=0, method="inverted_cdf")
    assert np.isnan(got[:, 1]).all() and np.isnan(expected[:, 1]).all()
    np.testing.assert_array_equal(got[:, [0, 2, 3]], expected[:, [0, 2, 3]])


def test_aggregator_takes_the_kernels_int32_counts_over_several_week_blocks():
    """Counts as the kernel gives them (int32) over a horizon of more than two blocks of
    ``WEEK_BLOCK`` weeks, in chunks on two parts: the means and quantiles of the states,
    the programme and the effect are numpy's over every scenario."""
    from simrisk.aggregate import WEEK_BLOCK

    rng = np.random.default_rng(11)
    n, H, K, cohort = 40, 2 * WEEK_BLOCK + 3, 2, 30
    state = rng.integers(0, cohort + 1, size=(n, 2, H, N_STATES)).astype(np.int32)
    prog = rng.integers(0, cohort + 1, size=(n, H, K + 2)).astype(np.int32)
    agg = Aggregator(n, H, K, cohort, [], detail=True)
    parts = [agg.part(), agg.part()]
    for j, lo in enumerate(range(0, n, 16)):
        res = _chunk_result(state[lo : lo + 16], prog[lo : lo + 16], {})
        agg.add_counts(lo, res, parts[j % 2])
    agg.merge()
    wk = Weekly.from_aggregator(agg)
    q = {"axis": 0, "method": "inverted_cdf"}
    np.testing.assert_array_equal(wk.state_count_mean, state.sum(axis=0) / n)
    np.testing.assert_array_equal(wk.state_count_quantile, np.quantile(state, QUANTILES, **q))
    np.testing.assert_array_equal(wk.programme_count_mean, prog.sum(axis=0) / n)
    np.testing.assert_array_equal(wk.programme_count_quantile, np.quantile(prog, QUANTILES, **q))
    effect = state[:, 1].astype(int) - state[:, 0]
    np.testing.assert_array_equal(wk.state_effect_quantile, np.quantile(effect, QUANTILES, **q))
    np.testing.assert_array_equal(wk.detail_states, state)


def test_detail_keeps_the_counts_of_a_cohort_too_large_for_int16():
    """Per-scenario state counts are int16 while the cohort fits, int32 beyond; a count of
    40,000 is kept as it is."""
    from simrisk.aggregate import detail_state_dtype

    assert detail_state_dtype(32_767) == np.int16 and detail_state_dtype(32_768) == np.int32
    H, cohort = 3, 40_000
    state = np.full((2, 2, H, N_STATES), 40_000, np.int32)
    agg = Aggregator(2, H, 1, cohort, [], detail=True)
    agg.add_counts(0, _chunk_result(state, np.zeros((2, H, 3), np.int32), {}), agg.part())
    assert agg.detail_states.dtype == np.int32
    np.testing.assert_array_equal(agg.detail_states, state)


@pytest.mark.parametrize("cohort", [5, 600])
def test_aggregator_without_detail_and_one_part(cohort):
    """A single worker part (the totals themselves) gives the same weekly series, with
    bins one count wide (the sums from the histograms) and two wide (running sums)."""
    rng = np.random.default_rng(4)
    n, H = 9, 4
    state = _counts(rng, n, A=2, H=H, C=N_STATES, top=cohort)
    prog = rng.integers(0, cohort + 1, size=(n, H, 3)).astype(float)
    agg = Aggregator(n, H, 1, cohort, ["a"], detail=False)
    part = agg.part()
    agg.add_counts(0, _chunk_result(state, prog, {}), part)
    agg.add_flows(0, _chunk_result(None, None, {"a": rng.normal(size=(n, H))}))
    agg.merge()
    wk = Weekly.from_aggregator(agg)
    assert wk.detail_states is None and wk.detail_flows is None
    np.testing.assert_array_equal(wk.state_count_mean, state.mean(axis=0))
    assert agg.width == (1 if cohort < 511 else 2)
    median = np.quantile(state, 0.5, axis=0, method="inverted_cdf")
    # the lower edge of the exact median's bin
    np.testing.assert_array_equal(wk.state_count_quantile[1], median // agg.width * agg.width)


def test_histograms_of_a_large_cohort_use_wider_bins_and_lower_edges():
    from simrisk.aggregate import MAX_BINS, bin_width

    assert bin_width(MAX_BINS - 1) == 1 and bin_width(MAX_BINS) == 2
    width = bin_width(2000)
    assert width == 4
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 2001, (200, 1, 3, 2)).astype(float)
    total = np.zeros((1, 3, 2))
    hist = np.zeros((1, 3, 2, -(-2001 // width)), np.int64)
    accumulate_counts(counts, total, hist, width)
    np.testing.assert_array_equal(total, counts.sum(axis=0))
    q = hist_quantiles(hist, (0.05, 0.5, 0.95), width)
    exact = np.quantile(counts, (0.05, 0.5, 0.95), axis=0, method="inverted_cdf")
    # the quantile is the lower edge of the exact quantile's bin
    np.testing.assert_array_equal(q, (exact // width) * width)


def test_a_histogram_bin_holds_the_most_scenarios_a_run_may_ask_for():
    """The histograms are int32 (half the memory, and a block of weeks stays in the
    cache): a bin counts scenarios, so the largest run must fit."""
    from simrisk.resources import MAX_SCENARIOS

    agg = Aggregator(10, 5, 2, 20, ["x"], False)
    for h in (agg.state_hist, agg.programme_hist, agg.effect_hist):
        assert np.iinfo(h.dtype).max >= MAX_SCENARIOS
