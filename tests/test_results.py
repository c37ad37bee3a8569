"""Results: the Dataset of a run and its files, the registry of output variables and the
provenance, the headline figures (on a hand-built Dataset), the drivers, and the one
place numbers are formatted."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr

import simrisk
from simrisk import engine, finance, outputs, results, summary, tables
from simrisk.config import DealConfig, parse_deal
from simrisk.vocabulary import QUANTILES
from tests.conftest import load_raw

SEED = 9


@pytest.fixture(scope="module")
def run():
    cfg = parse_deal(load_raw("holbaek"), "holbaek.toml")
    res = engine.run(cfg, SEED, 64, detail=True)
    return cfg, res, results.build_dataset(cfg, res, SEED, "text of the deal")


def _assert_same_dataset(a: xr.Dataset, b: xr.Dataset):
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.variables:
        assert a[name].dims == b[name].dims, name
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
        assert set(a[name].attrs) <= set(b[name].attrs), name
        for k, v in a[name].attrs.items():
            np.testing.assert_array_equal(b[name].attrs[k], v, err_msg=f"{name}.{k}")
    for k, v in a.attrs.items():
        assert b.attrs[k] == v, k


# --------------------------------------------------------------------------- Dataset and files


def test_dataset_round_trip_netcdf(tmp_path, run):
    _, _, ds = run
    path = results.write_netcdf(ds, tmp_path / "r.nc")
    back = results.open_results(path)
    _assert_same_dataset(ds, back)
    assert back["state_count"].dims == ("scenario", "arm", "week", "state")
    with pytest.raises(FileExistsError):
        results.write_netcdf(ds, path)
    small = ds.isel(scenario=slice(0, 5))
    results.write_netcdf(small, path, overwrite=True)
    assert results.open_results(path).sizes["scenario"] == 5


def test_dataset_round_trip_zarr(tmp_path, run):
    _, _, ds = run
    # asked for by the suffix, or by fmt (the suffix is then made .zarr)
    p1 = results.write_results(ds, tmp_path / "a.zarr")
    p2 = results.write_results(ds, tmp_path / "b.nc", fmt="zarr")
    assert p2 == tmp_path / "b.zarr" and not (tmp_path / "b.nc").exists()
    for p in (p1, p2):
        _assert_same_dataset(ds, xr.open_zarr(p).load())
    # a small Dataset with the format left to simrisk: NetCDF
    p3 = results.write_results(ds, tmp_path / "c.nc")
    assert p3 == tmp_path / "c.nc" and p3.is_file()


def test_open_results_refuses_other_files(tmp_path, run):
    with pytest.raises(FileNotFoundError):
        results.open_results(tmp_path / "missing.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(ValueError, match="not a readable NetCDF"):
        results.open_results(junk)
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("a", [1.0])}).to_netcdf(other)
    with pytest.raises(ValueError, match="not a simrisk file, not the results of 'simrisk run'"):
        results.open_results(other)
    for kind in ("acceptability", "stress"):  # named with its article
        other = results.write_netcdf(
            xr.Dataset({"x": ("a", [1.0])}, attrs={"kind": kind}), tmp_path / f"{kind}.nc"
        )
        article = "an" if kind == "acceptability" else "a"
        with pytest.raises(ValueError, match=f"^{other}: {article} {kind} file of 'simrisk"):
            results.open_results(other)


def test_dataset_holds_the_run(run):
    cfg, res, ds = run
    for name, values in res.metrics.items():
        np.testing.assert_array_equal(ds[name].values, values, err_msg=name)
    np.testing.assert_array_equal(ds["parameters"].values, res.draws)
    assert list(ds["parameter"].values) == res.parameter_names
    np.testing.assert_array_equal(
        ds["state_count_quantile"].values, res.weekly.state_count_quantile
    )
    np.testing.assert_array_equal(ds["quantile"].values, QUANTILES)
    # the weeks' dates: the deal's start, then every 7 days, over the simulated weeks (the
    # deal's 312 and its 10-year appraisal: 522)
    start = np.datetime64(cfg.deal.start_date, "ns")
    assert res.structure.horizon == 522
    np.testing.assert_array_equal(
        ds["date"].values, start + np.arange(522) * np.timedelta64(7, "D")
    )
    assert list(ds["phase"].values) == [p.name for p in cfg.programme.phases] + [
        "completed",
        "dropped",
    ]
    assert list(ds["arm"].values) == ["counterfactual", "treatment"]


def test_every_variable_has_its_registry_attributes(run):
    _, _, ds = run
    n_q = ds.attrs["flow_quantile_scenarios"]
    expected = set(outputs.METRICS) | {"parameters", "state_count", "payment_week"}
    expected |= {"payments_on_date_mean"}
    expected |= set(outputs.FLOWS)  # the per-scenario detail
    for name in (*outputs.FLOWS, *outputs.COUNTS):
        expected |= {f"{name}_mean", f"{name}_quantile"}
    # the effect's mean is the difference of the arms' means: only its quantiles are kept
    expected.discard("state_effect_mean")
    assert set(ds.data_vars) == expected
    for name, var in ds.data_vars.items():
        base = outputs.base_name(name)
        stat = name[len(base) + 1 :] or None
        flow_quantile = stat == "quantile" and base in outputs.FLOWS
        note = f"over the first {n_q} scenarios" if flow_quantile else ""
        want = outputs.attrs(base, stat, note)
        assert var.attrs["long_name"] == want["long_name"], name
        assert var.attrs["units"] == outputs.variable(name).units == want["units"], name
        assert var.attrs.get("cell_methods") == want.get("cell_methods"), name
        assert var.attrs["long_name"].startswith(outputs.REGISTRY[base].long_name)
    # every payment falls on a payment date
    np.testing.assert_allclose(
        float(ds["payments_on_date_mean"].sum()), float(ds["payments_total"].mean()), rtol=1e-9
    )
    assert ds.sizes["payment"] > 1
    status = ds["investor_irr_status"].attrs
    assert status["flag_meanings"].split() == list(finance.IRR_STATUS_NAMES)
    np.testing.assert_array_equal(status["flag_values"], np.arange(5))


def test_registry_attributes_by_hand():
    assert outputs.attrs("state_count", "mean") == {
        "units": "citizens",
        "cell_methods": "scenario: mean",
        "long_name": "citizens in each state, mean",
    }
    assert outputs.attrs("payments_weekly", "quantile", "over the first 5 scenarios") == {
        "units": "DKK/week",
        "cell_methods": "scenario: quantile",
        "long_name": "payments per week, quantile over scenarios (over the first 5 scenarios)",
    }
    assert outputs.attrs("enrolled") == {"units": "citizens", "long_name": "citizens enrolled"}
    assert outputs.base_name("state_count_quantile") == "state_count"
    assert outputs.base_name("payments_weekly_mean") == "payments_weekly"
    assert outputs.base_name("investor_irr") == "investor_irr"
    assert outputs.base_name("unknown_mean") == "unknown_mean"
    with pytest.raises(KeyError):
        outputs.variable("unknown_mean")
    assert outputs.variable("programme_cost").label(mio=True) == (
        "programme cost (the investor draws it, less what the provider bears: investor_drawn) "
        "(mio. DKK)"
    )
    assert outputs.variable("payments_weekly").label() == "payments per week (DKK/week)"
    assert outputs.variable("investor_moic").label() == "investor multiple on invested capital"


def test_provenance(run):
    cfg, _, ds = run
    a = ds.attrs
    assert a["title"] == f"simrisk results: {cfg.deal.name}"
    assert a["deal_name"] == cfg.deal.name
    assert a["seed"] == SEED and a["n_scenarios"] == 64 and a["kind"] == "run"
    assert a["simrisk_version"] == simrisk.__version__
    assert a["Conventions"] == "CF-1.10"
    created = dt.datetime.fromisoformat(a["created"])
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 600
    assert (a["currency"], a["start_date"]) == ("DKK", "2024-02-01")
    assert (a["sampling_method"], a["perspective"], a["measurement"]) == (
        "mc",
        "municipality",
        "counterfactual",
    )
    assert a["flow_quantile_scenarios"] == 64
    assert a["deal_file"] == "text of the deal"
    assert DealConfig.model_validate_json(a["deal_json"]) == cfg
    extra = outputs.provenance("stress", "d", 3, method="x")
    assert (extra["title"], extra["seed"], extra["method"]) == ("simrisk stress: d", 3, "x")


# --------------------------------------------------------------------------- summary


def _hand_dataset(n_tiles: int = 4) -> xr.Dataset:
    """40 scenarios: a pattern of 10 IRRs and multiples repeated 4 times, money in
    round steps. Every figure of the summary is worked out in the tests below."""
    n = 10 * n_tiles
    irr = np.tile([np.nan, 0.10, 0.05, np.nan, -1.0, 0.20, 0.0, np.nan, 0.15, 0.08], n_tiles)
    profit = np.tile([-5.0, 3, 1, 2, -10, 8, 0, -1, 6, 2], n_tiles)
    status = np.tile([2, 0, 0, 3, 1, 0, 0, 4, 0, 0], n_tiles)
    moic = np.tile([0.5, 1.2, 1.1, np.nan, 0.0, 1.5, 1.0, 0.9, 1.3, 1.2], n_tiles)
    g = np.random.default_rng(12)
    m = {name: g.normal(1e6, 3e5, n) for name in outputs.METRICS}
    m |= {
        "investor_irr": irr,
        "investor_profit": profit,
        "investor_irr_status": status.astype(np.int8),
        "investor_moic": moic,
        "payments_total": np.arange(1.0, n + 1) * 1e6,
        "municipal_net": (np.arange(n) - 5.0) * 1e6,
        "public_net": (np.arange(n) - 10.0) * 1e6,
        "deadweight_share": np.linspace(0.0, 0.5, n),
        "overpayment_share": np.linspace(0.1, 0.2, n),
    }
    ds = xr.Dataset(results.metric_variables(m, ("scenario",)), coords={"scenario": np.arange(n)})
    ds.attrs = {"deal_name": "hand", "seed": 7}
    return ds


def test_summary_by_hand():
    s = summary.summary(_hand_dataset())
    assert (s["deal"], s["seed"], s["n_scenarios"]) == ("hand", 7, 40)
    rows = {r["metric"]: r for r in s["rows"]}
    # IRR: 28 defined; ranked, 8 undefined losses at -inf and 4 undefined profits at +inf:
    # P5 (2nd of 40) -inf, P50 (20th) 5 %, P95 (38th) +inf. The mean counts the undefined
    # losses (profits -5 and -1) at -100 % and the undefined gain (profit 2) at the
    # highest defined IRR, 20 %: a tile sums to -0.42 - 1 + 0.2 - 1 = -2.22
    irr = rows["investor_irr"]
    assert irr["n_defined"] == 28
    assert irr["mean"] == pytest.approx(-0.222)
    assert (irr["p5"], irr["p50"], irr["p95"]) == (-np.inf, 0.05, np.inf)
    # multiples: 36 defined; P5 (2nd) 0, P50 (18th) 1.1, P95 (35th) 1.5; mean 8.7 / 9
    moic = rows["investor_moic"]
    assert moic["n_defined"] == 36 and moic["mean"] == pytest.approx(8.7 / 9)
    assert (moic["p5"], moic["p50"], moic["p95"]) == (0.0, 1.1, 1.5)
    # payments 1 .. 40 mio.: P5 the 2nd, P50 the 20th, P95 the 38th
    pay = rows["payments_total"]
    assert (pay["mean"], pay["p5"], pay["p50"], pay["p95"]) == (20.5e6, 2e6, 20e6, 38e6)
    assert s["p_investor_loss"] == pytest.approx(0.3)  # profits -5, -10, -1 of 10
    assert s["p_municipal_net_negative"] == pytest.approx(5 / 40)  # -5 .. -1 mio.
    assert s["p_payments_exceed_public_savings"] == pytest.approx(10 / 40)
    # municipal net -5 .. 34 mio.: the 5 % quantile is the 2nd value, -4 mio.;
    # CVaR -mean(-5, -4) mio.
    assert s["municipal_var95"] == pytest.approx(4e6)
    assert s["municipal_cvar95"] == pytest.approx(4.5e6)
    assert s["mean_deadweight_share"] == pytest.approx(0.25)
    assert s["mean_overpayment_share"] == pytest.approx(0.15)
    assert s["irr_status_counts"] == {
        "ok": 24,
        "total_loss": 4,
        "no_root": 4,
        "multiple_roots": 4,
        "no_flows": 4,
    }


def test_summary_rows_are_direct_numpy_figures():
    ds = _hand_dataset()
    ds["savings_measured"][:] = np.nan  # a metric without any defined value
    s = summary.summary(ds)
    assert [r["metric"] for r in s["rows"]] == [m for m, _, _ in summary.SUMMARY_METRICS]
    for row in s["rows"]:
        x = ds[row["metric"]].values
        finite = x[np.isfinite(x)]
        if row["metric"] == "investor_irr":
            loss = ds["investor_profit"].values < 0
            x = np.where(np.isfinite(x), x, np.where(loss, -np.inf, np.inf))
        else:
            x = finite
        assert row["n_defined"] == finite.size
        if finite.size == 0:
            assert np.isnan([row["mean"], row["p5"], row["p50"], row["p95"]]).all()
            continue
        np.testing.assert_array_equal(
            [row["p5"], row["p50"], row["p95"]],
            np.quantile(x, [0.05, 0.5, 0.95], method="inverted_cdf"),
        )
        if row["metric"] == "investor_irr":  # the undefined at -100 % or the highest
            filled = finance.irr_filled(ds["investor_irr"].values, ds["investor_profit"].values)
            assert row["mean"] == pytest.approx(filled.mean(), rel=1e-12)
        else:
            assert row["mean"] == pytest.approx(finite.mean(), rel=1e-12)
    assert sum(r["n_defined"] > 0 for r in s["rows"]) == 7  # all but savings_measured


@pytest.mark.parametrize(
    "perspective, label",
    [
        ("municipality", "True savings"),
        ("public", "True savings (public perspective)"),
        ("central_government", "True savings (central-government perspective)"),
    ],
)
def test_true_savings_name_a_perspective_other_than_the_municipality_s(perspective, label):
    """The headline's true savings are the deal's perspective's, while its municipal net
    is always the municipality's: another perspective is named beside the figure."""
    ds = _hand_dataset()
    ds.attrs["perspective"] = perspective
    rows = {r["metric"]: r for r in summary.summary(ds)["rows"]}
    assert rows["savings_true"]["label"] == label
    assert rows["municipal_net"]["label"] == "Municipal net"


def test_summary_tables():
    head, risk = summary.summary_tables(summary.summary(_hand_dataset()))
    assert head.title == "hand — 40 scenarios, seed 7"
    text = {r[0]: r[1:] for r in head.text_rows()}
    assert text["Payments (mio. DKK)"] == ["20.50", "2.00", "20.00", "38.00"]
    assert text["Investor IRR"] == ["-22.2 %", "undef.", "5.0 %", "undef."]
    assert text["Investor MOIC"] == ["0.97", "0.00", "1.10", "1.50"]
    lines = dict(risk.text_rows())
    assert lines["P(investor loss)"] == "30.0 %"
    assert lines["Municipal VaR 95 % (mio. DKK)"] == "4.00"
    assert lines["Municipal CVaR 95 % (mio. DKK)"] == "4.50"
    assert lines["Deadweight share of payments (mean)"] == "25.0 %"
    assert lines["Overpayment share of payments (mean)"] == "15.0 %"
    assert risk.notes[0].startswith("deadweight: share of payments for outcomes")
    assert risk.notes[1].startswith(
        "IRR undefined or conventional in: 4 total loss, 4 no root, 4 multiple roots, 4 no flows"
    )
    assert risk.notes[1].endswith(
        "; the mean counts an undefined IRR as -100 % for a loss and as the highest defined "
        "IRR for a gain)"
    )
    ok = _hand_dataset()
    ok["investor_irr_status"][:] = 0
    assert summary.summary_tables(summary.summary(ok))[1].notes == [outputs.PAYMENT_SHARES_NOTE]
    # a contract that measures nothing: its measured savings are n/a, and said why
    ok["savings_measured"][:] = np.nan
    head, risk = summary.summary_tables(summary.summary(ok))
    assert (
        dict((r[0], r[1:]) for r in head.text_rows())["Measured savings (mio. DKK)"] == ["n/a"] * 4
    )
    assert risk.notes[1].startswith("measured savings: n/a, no payment of this contract rests")


# --------------------------------------------------------------------------- drivers


def test_drivers_rank_parameters_by_rank_correlation():
    g = np.random.default_rng(0)
    x = g.uniform(size=(200, 3))
    x[:, 2] = 0.5  # a parameter that does not vary
    ds = xr.Dataset(
        {
            "parameters": (("scenario", "parameter"), x),
            "investor_profit": ("scenario", np.exp(x[:, 1])),  # monotone in parameter b
            "municipal_net": ("scenario", -x[:, 1] + 0.5 * x[:, 0]),
        },
        coords={"parameter": ["a", "b", "c"]},
    )
    rows = summary.drivers(ds)
    assert [r["parameter"] for r in rows] == ["b", "a", "c"]
    assert rows[0]["investor_profit"] == pytest.approx(1.0)
    assert rows[0]["municipal_net"] < -0.8
    assert abs(rows[1]["investor_profit"]) < 0.3 and 0.2 < rows[1]["municipal_net"] < 0.7
    assert rows[2] == {"parameter": "c", "label": "c", "investor_profit": 0.0, "municipal_net": 0.0}
    t = summary.drivers_table(rows)
    assert t.text_rows()[0] == ["b", "+1.00", f"{rows[0]['municipal_net']:+.2f}"]
    # too few scenarios, or no parameters: no ranking
    assert summary.drivers(ds.isel(scenario=slice(0, 2))) == []
    assert summary.drivers(ds.isel(parameter=slice(0, 0))) == []


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (0.1234, "pct", "12.3 %"),
        (-0.012, "pp", "-1.2 pp"),
        (0.012, "pp", "+1.2 pp"),
        (1234567.0, "mio", "1.23"),
        (-1234567.0, "mio", "-1.23"),
        (1234567.0, "mio_signed", "+1.23"),
        (1234567.4, "dkk", "1,234,567"),
        (1.054, "x", "1.05"),
        (0.123, "corr", "+0.12"),
        (0.123, "index", "0.12"),
        (0.4655, "share3", "0.466"),
        (1.234, "dev", "1.23"),
        (12345.0, "int", "12,345"),
        (12345.678, "num", "12,346"),
        (2.691e5, "num", "269,100"),
        (0.00123456, "num", "0.001235"),
        ("as is", "pct", "as is"),
        ("text", None, "text"),
        (None, "text", ""),
        (None, "pct", "n/a"),
        (float("nan"), "mio", "n/a"),
        (float("inf"), "pct", "undef."),
        (float("-inf"), "x", "undef."),
        (-0.0, "mio", "0.00"),  # a zero is never signed
        (-0.0, "pct", "0.0 %"),
        (-1000.0, "mio", "-0.00"),  # a small loss keeps its sign
    ],
)
def test_fmt(value, kind, text):
    assert tables.fmt(value, kind) == text


def test_fmt_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        tables.fmt(1.0, "furlongs")


def test_table():
    t = tables.Table("T", [("name", "text"), ("share", "pct"), ("", None)])
    t.add("a", 0.5, (2e6, "mio"))
    t.add("b", float("nan"), 3)
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        t.add("c", 1.0)
    assert t.text_rows() == [["a", "50.0 %", "2.00"], ["b", "n/a", "3"]]
    # JSON keeps raw values and says their units: the column's, and a cell's own kind's
    assert t.as_dict()["rows"][0] == {"name": "a", "share": 0.5, "column_2": 2e6, "unit": "DKK"}
    assert t.as_dict()["rows"][1] == {"name": "b", "share": t.rows[1][1], "column_2": 3}
    assert t.as_dict()["units"] == {"share": "fraction"}
    assert t.as_dict()["title"] == "T"
