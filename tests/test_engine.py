"""Whole-pipeline properties: reproducibility, measurement, a pinned regression."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from simrisk import engine, results
from simrisk.config import parse_deal
from tests.conftest import load_raw


def _metrics(cfg, seed, n, **kw):
    return engine.run(cfg, seed, n, **kw)["metrics"]


def _aggregates(agg):
    out = {"state_sum": agg.state_sum, "state_hist": agg.state_hist}
    out |= {"prog_sum": agg.prog_sum, "prog_hist": agg.prog_hist}
    out |= {f"sum {k}": v for k, v in agg.flow_sum.items()}
    return out | {f"sample {k}": v for k, v in agg.flow_sample.items()}


def _deal(name: str, method: str | None = None):
    raw = load_raw(name)
    if method:
        raw["uncertainty"]["method"] = method
    return parse_deal(raw, name)


@pytest.mark.parametrize(
    ("name", "method"),
    [("holbaek", None), ("holbaek", "sobol"), ("drc_herning_viborg", None)],
)
def test_thread_count_does_not_change_results(name, method):
    """One thread runs the chunks one after the other; two run them in a pool, each chunk
    on its own thread, and must give the same numbers bit for bit: per-scenario metrics,
    draws, every weekly aggregate (whose sums depend on the order of the scenarios) and
    every variable of the dataset. drc_herning_viborg measures against a control group
    (a second buffer per thread); Sobol draws come from one sequence."""
    cfg = _deal(name, method)
    kw = {"chunk": 40, "detail": True}
    assert engine.pool_size(8, 2) == (2 if engine._threadsafe_layer() else 1)
    one = engine.run(cfg, 21, 300, threads=1, **kw)
    two = engine.run(cfg, 21, 300, threads=2, **kw)
    for k in one["metrics"]:
        np.testing.assert_array_equal(one["metrics"][k], two["metrics"][k], err_msg=k)
    np.testing.assert_array_equal(one["draws"], two["draws"])
    a, b = _aggregates(one["aggregator"]), _aggregates(two["aggregator"])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    np.testing.assert_array_equal(one["aggregator"].detail_states, two["aggregator"].detail_states)
    ds1 = results.build_dataset(cfg, one, 21)
    ds2 = results.build_dataset(cfg, two, 21)
    assert set(ds1.data_vars) == set(ds2.data_vars)
    for k in ds1.data_vars:
        np.testing.assert_array_equal(ds1[k].values, ds2[k].values, err_msg=k)


def test_numba_thread_count_sets_the_pool():
    """Without ``threads``, the pool has numba's thread count (what ``--threads`` sets)."""
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert engine.pool_size(8) == 1
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        assert engine.pool_size(8) == (
            min(2, numba.config.NUMBA_NUM_THREADS) if engine._threadsafe_layer() else 1
        )
        assert engine.pool_size(1) == 1
    finally:
        numba.set_num_threads(before)


def test_an_error_in_a_worker_thread_surfaces(holbaek, monkeypatch):
    """An exception in a pooled chunk reaches the caller as itself, and the pool stops."""
    real = engine.run_chunk

    def failing(cfg, st, sampler, key, scen0, *args):
        if scen0 == 80:
            raise RuntimeError("chunk at scenario 80")
        return real(cfg, st, sampler, key, scen0, *args)

    monkeypatch.setattr(engine, "run_chunk", failing)
    with pytest.raises(RuntimeError, match="chunk at scenario 80"):
        engine.run(holbaek, 3, 400, chunk=40, threads=2)


def test_chunk_size_does_not_change_results(holbaek):
    a = engine.run(holbaek, 4, 250, chunk=1024)
    b = engine.run(holbaek, 4, 250, chunk=37)
    for k in a["metrics"]:
        np.testing.assert_array_equal(a["metrics"][k], b["metrics"][k], err_msg=k)
    np.testing.assert_array_equal(a["aggregator"].state_hist, b["aggregator"].state_hist)
    np.testing.assert_allclose(a["aggregator"].state_sum, b["aggregator"].state_sum, rtol=1e-12)


@pytest.mark.parametrize("method", ["mc", "sobol"])
def test_scenario_k_is_the_same_in_100_and_1000(method):
    raw = load_raw("holbaek")
    raw["uncertainty"]["method"] = method
    cfg = parse_deal(raw, "h")
    small = engine.run(cfg, 5, 100)
    large = engine.run(cfg, 5, 1000)
    np.testing.assert_array_equal(small["draws"], large["draws"][:100])
    for k in small["metrics"]:
        np.testing.assert_array_equal(small["metrics"][k], large["metrics"][k][:100], err_msg=k)


def test_latin_hypercube_is_stratified():
    raw = load_raw("holbaek")
    raw["uncertainty"]["method"] = "lhs"
    cfg = parse_deal(raw, "h")
    out = engine.run(cfg, 2, 200)
    uptake = out["draws"][:, out["sampler"].names.index("cohort.uptake")]
    from scipy import stats

    u = stats.beta(19, 1).cdf(uptake)
    counts = np.histogram(u, bins=200, range=(0, 1))[0]
    assert (counts == 1).all()


def _measurement_bias(measurement: str, n: int = 600):
    raw = load_raw("holbaek")
    raw["uncertainty"]["parameters"] = []
    raw["contract"]["measurement"] = measurement
    raw["contract"]["control_size"] = 180
    raw["contract"]["baseline_scenarios"] = 2000
    raw["contract"]["mechanisms"] = [{"kind": "savings_share", "share": 0.5}]
    cfg = parse_deal(raw, measurement)
    m = engine.run(cfg, 17, n)["metrics"]
    diff = m["savings_measured"] - m["savings_true"]
    return diff, m


@pytest.mark.parametrize("measurement", ["control_group", "baseline"])
def test_measured_savings_are_unbiased_without_drift(measurement):
    """Without parameter uncertainty the measured savings equal the true ones on average;
    tolerance: 4 Monte Carlo standard errors (plus the baseline's own error)."""
    diff, m = _measurement_bias(measurement)
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    if measurement == "baseline":
        se = np.hypot(se, diff.std(ddof=1) / np.sqrt(2000))
    assert abs(diff.mean()) < 4 * se
    assert diff.std() > 0  # the measurement is noisy, unlike the counterfactual


def test_counterfactual_measurement_is_exact(holbaek):
    m = _metrics(holbaek, 3, 50)
    np.testing.assert_array_equal(m["savings_measured"], m["savings_true"])
    np.testing.assert_allclose(m["municipal_net"], m["savings_municipality"] - m["payments_total"])


def test_dataset_round_trip(tmp_path, holbaek):
    raw = engine.run(holbaek, 9, 64, detail=True)
    ds = results.build_dataset(holbaek, raw, 9, "text of the deal")
    path = results.write_netcdf(ds, tmp_path / "r.nc")
    back = results.open_results(path)
    assert back.attrs["seed"] == 9 and back.attrs["deal_file"] == "text of the deal"
    for name in ("savings_true", "investor_irr", "state_count_mean", "payments_weekly_quantile"):
        assert back[name].attrs["long_name"] and "units" in back[name].attrs
        np.testing.assert_array_equal(back[name].values, ds[name].values)
    assert back["state_count"].dims == ("scenario", "arm", "week", "state")
    # every enrolled citizen is in exactly one state each week after entering
    total = back["state_count"].sum("state").isel(arm=0)
    assert float(total.max()) <= holbaek.cohort.size
    # histogram quantiles bracket the mean
    q = back["state_count_quantile"]
    assert (q.sel(quantile=0.05) <= q.sel(quantile=0.95)).all()
    with pytest.raises(FileExistsError):
        results.write_netcdf(ds, path)


# Pinned regression of the whole pipeline (deal, draws, kernel, money, contract,
# metrics). Update deliberately, with the reason in the commit, when the model changes.
PINNED = {
    "savings_true": 7601252.951570731,
    "payments_total": 5893484.945180914,
    "investor_npv": -29668.372870718573,
}


def test_pinned_regression():
    from pathlib import Path

    from simrisk.config import load_deal

    cfg, _ = load_deal(Path(__file__).parent / "data" / "pinned_deal.toml")
    m = _metrics(cfg, 2024, 200)
    got = {k: float(np.mean(m[k])) for k in PINNED}
    for k, v in PINNED.items():
        assert got[k] == pytest.approx(v, rel=1e-9), (k, got[k])


def test_drivers_rank_parameters_by_rank_correlation():
    import xarray as xr

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(200, 2))
    ds = xr.Dataset(
        {
            "parameters": (("scenario", "parameter"), x),
            "investor_profit": ("scenario", np.exp(x[:, 1])),  # monotone in parameter b
            "municipal_net": ("scenario", -x[:, 1]),
        },
        coords={"parameter": ["a", "b"]},
    )
    rows = results.drivers(ds)
    assert rows[0]["parameter"] == "b"
    assert rows[0]["investor_profit"] == pytest.approx(1.0)
    assert rows[0]["municipal_net"] == pytest.approx(-1.0)
    assert abs(rows[1]["investor_profit"]) < 0.3
