"""The ``simrisk`` command line on the included deal: run, summary, validate.

All runs are small (64-128 scenarios) and go through click's CliRunner; stdout
and stderr are kept apart (click >= 8.2).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numba
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import simrisk
from simrisk import results
from simrisk.cli import main
from tests.conftest import CONFIGS, load_raw

HOLBAEK = CONFIGS / "holbaek.toml"
RAW = load_raw("holbaek")
N = 128
SEED = 3

PER_SCENARIO = (
    "savings_true",
    "savings_measured",
    "payments_total",
    "programme_cost",
    "municipal_net",
    "investor_irr",
    "investor_irr_status",
    "investor_moic",
    "investor_npv",
    "payback_week",
)
SUMMARY_KEYS = {
    "deal",
    "seed",
    "n_scenarios",
    "rows",
    "p_investor_loss",
    "p_municipal_net_negative",
    "p_payments_exceed_public_savings",
    "municipal_var95",
    "municipal_cvar95",
    "mean_deadweight_share",
    "irr_status_counts",
}
ROW_KEYS = {"metric", "label", "kind", "mean", "p5", "p50", "p95", "n_defined"}


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"simrisk {' '.join(map(str, args))} raised") from result.exception
    return result


def run_ok(*args):
    result = invoke("run", *args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def scenario_vars(ds: xr.Dataset) -> list[str]:
    return sorted(v for v in ds.data_vars if "scenario" in ds[v].dims)


def assert_same_values(a: xr.Dataset, b: xr.Dataset, names) -> None:
    for name in names:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def without_created(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "created"}
    return ds


@pytest.fixture(autouse=True)
def _restore_numba_threads():
    """``--threads`` sets numba's thread count for the process; put it back."""
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """``simrisk run configs/holbaek.toml -n 128 --seed 3 -o out.nc`` (table output)."""
    d = tmp_path_factory.mktemp("cli_base")
    out = d / "out.nc"
    result = run_ok(HOLBAEK, "-n", N, "--seed", SEED, "-o", out)
    ds = xr.load_dataset(out, engine="netcdf4")
    return {"dir": d, "out": out, "result": result, "ds": ds}


@pytest.fixture(scope="module")
def base_json(tmp_path_factory):
    """The same run with ``--json``."""
    d = tmp_path_factory.mktemp("cli_json")
    out = d / "out.nc"
    result = run_ok(HOLBAEK, "-n", N, "--seed", SEED, "-o", out, "--json")
    return {"out": out, "result": result, "ds": xr.load_dataset(out, engine="netcdf4")}


# --------------------------------------------------------------------------------- run
def test_run_writes_netcdf_with_per_scenario_variables(base):
    result, ds = base["result"], base["ds"]
    assert base["out"].is_file()
    assert f"wrote {base['out']}" in result.stderr
    assert result.stderr.count("wrote") == 1
    assert ds.sizes["scenario"] == N
    for name in PER_SCENARIO:
        assert name in ds, name
        assert ds[name].dims == ("scenario",), (name, ds[name].dims)
        assert ds[name].attrs.get("long_name"), name
    assert ds["parameters"].dims == ("scenario", "parameter")
    # one column per uncertain parameter of the deal, named by its path
    params = RAW["uncertainty"]["parameters"]
    assert list(ds["parameter"].values) == [q["path"] for q in params]
    p = ds["parameters"].values
    assert np.isfinite(p).all()
    for j, q in enumerate(params):
        if q["distribution"] in ("uniform", "triangular"):
            assert ((p[:, j] >= q["low"]) & (p[:, j] <= q["high"])).all(), q["path"]
        if q["distribution"] != "fixed":
            assert p[:, j].std() > 0, q["path"]  # really drawn, not the nominal value
    # money is finite and the programme has a cost in every scenario
    for name in ("savings_true", "payments_total", "programme_cost", "municipal_net"):
        assert np.isfinite(ds[name].values).all(), name
    assert (ds["programme_cost"].values > 0).all()
    np.testing.assert_allclose(
        ds["municipal_net"].values,
        ds["savings_true"].values - ds["payments_total"].values,
        rtol=1e-9,
        atol=1e-3,
    )
    # no weekly per-scenario series without --detail
    assert "state_count" not in ds
    assert all(set(ds[v].dims) != {"scenario", "week"} for v in ds.data_vars)


def test_run_stores_provenance_attributes(base):
    attrs = base["ds"].attrs
    assert int(attrs["seed"]) == SEED
    assert attrs["simrisk_version"] == simrisk.__version__
    created = dt.datetime.fromisoformat(attrs["created"])
    assert created.tzinfo is not None
    age = dt.datetime.now(dt.UTC) - created
    assert dt.timedelta(0) <= age < dt.timedelta(hours=1), attrs["created"]
    assert attrs["deal_file"] == HOLBAEK.read_text(encoding="utf-8")
    assert int(attrs["n_scenarios"]) == N


def test_run_prints_the_table_on_stdout(base):
    out = base["result"].stdout
    assert "Holbæk" in out
    assert f"{N} scenarios, seed {SEED}" in out
    for label in ("Investor IRR", "Investor MOIC", "Municipal net", "P(investor loss)"):
        assert label in out
    # messages go to stderr, not stdout
    assert "wrote" not in out


def test_json_prints_the_summary(base_json):
    result, ds = base_json["result"], base_json["ds"]
    summ = json.loads(result.stdout)  # stdout is only JSON
    assert set(summ) == SUMMARY_KEYS
    assert set(summ) == set(results.summary(ds))
    assert summ["seed"] == SEED
    assert summ["n_scenarios"] == N
    assert [r["metric"] for r in summ["rows"]] == [m for m, _, _ in results.SUMMARY_METRICS]
    for row in summ["rows"]:
        assert set(row) == ROW_KEYS
        x = ds[row["metric"]].values
        x = x[np.isfinite(x)]
        assert row["n_defined"] == x.size
        assert row["mean"] == pytest.approx(float(x.mean()), rel=1e-12)
        assert row["p5"] <= row["p50"] <= row["p95"]
    assert summ["p_investor_loss"] == pytest.approx(
        float(np.mean(ds["investor_profit"].values < 0))
    )
    assert summ["p_municipal_net_negative"] == pytest.approx(
        float(np.mean(ds["municipal_net"].values < 0))
    )
    assert sum(summ["irr_status_counts"].values()) == N
    assert "wrote" in result.stderr


def test_table_and_json_runs_agree(base, base_json):
    """--json changes only how the summary is printed, not the run."""
    assert_same_values(base["ds"], base_json["ds"], scenario_vars(base["ds"]))
    summ = json.loads(base_json["result"].stdout)
    table = base["result"].stdout
    rows = {r["metric"]: r for r in summ["rows"]}
    irr = rows["investor_irr"]
    assert f"{100 * irr['mean']:.1f} %" in table
    moic = rows["investor_moic"]
    assert f"{moic['p50']:.2f}" in table
    net = rows["municipal_net"]
    assert f"{net['p95'] / 1e6:,.2f}" in table
    assert f"{100 * summ['p_investor_loss']:.1f} %" in table


def test_summary_command_agrees_with_run(base, base_json):
    table = invoke("summary", base["out"])
    assert table.exit_code == 0, table.output
    assert table.stdout == base["result"].stdout
    as_json = invoke("summary", base["out"], "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(base_json["result"].stdout)


def test_run_without_seed_draws_prints_and_stores_it(tmp_path):
    out = tmp_path / "out.nc"
    result = run_ok(HOLBAEK, "-n", 64, "-o", out, "--json")
    m = re.search(r"seed: (\d+) \(drawn; pass --seed \1 to repeat this run\)", result.stderr)
    assert m, result.stderr
    seed = int(m.group(1))
    assert "seed:" not in result.stdout
    ds = xr.load_dataset(out, engine="netcdf4")
    assert int(ds.attrs["seed"]) == seed
    assert json.loads(result.stdout)["seed"] == seed
    # and the printed seed repeats the run
    again = tmp_path / "again.nc"
    run_ok(HOLBAEK, "-n", 64, "--seed", seed, "-o", again)
    assert_same_values(ds, xr.load_dataset(again, engine="netcdf4"), scenario_vars(ds))


def test_same_run_twice_is_identical(tmp_path, base):
    out = tmp_path / "again.nc"
    run_ok(HOLBAEK, "-n", N, "--seed", SEED, "-o", out)
    again = xr.load_dataset(out, engine="netcdf4")
    names = scenario_vars(base["ds"])
    assert set(PER_SCENARIO) <= set(names)
    assert_same_values(base["ds"], again, names)
    xr.testing.assert_identical(without_created(base["ds"]), without_created(again))


def test_other_seed_gives_other_values(tmp_path, base):
    out = tmp_path / "other.nc"
    run_ok(HOLBAEK, "-n", N, "--seed", SEED + 1, "-o", out)
    other = xr.load_dataset(out, engine="netcdf4")
    assert not np.array_equal(base["ds"]["savings_true"].values, other["savings_true"].values)
    assert not np.array_equal(base["ds"]["parameters"].values, other["parameters"].values)


def test_thread_count_does_not_change_the_file(tmp_path):
    files = {}
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.nc"
        run_ok(HOLBAEK, "-n", N, "--seed", SEED, "-o", out, "--threads", threads)
        files[threads] = xr.load_dataset(out, engine="netcdf4")
    one, two = files[1], files[2]
    assert_same_values(one, two, scenario_vars(one))
    xr.testing.assert_identical(without_created(one), without_created(two))


def test_chunk_size_does_not_change_per_scenario_values(tmp_path, base):
    out = tmp_path / "c50.nc"
    run_ok(HOLBAEK, "-n", N, "--seed", SEED, "-o", out, "--chunk", 50)
    c50 = xr.load_dataset(out, engine="netcdf4")
    assert_same_values(base["ds"], c50, scenario_vars(base["ds"]))
    # counts and their quantiles are exact whatever the chunking
    assert_same_values(
        base["ds"],
        c50,
        [
            "state_count_mean",
            "state_count_quantile",
            "programme_count_mean",
            "programme_count_quantile",
            "payments_weekly_quantile",
        ],
    )


def test_chunk_size_does_not_change_the_file(tmp_path, base):
    """``--chunk`` help: 'Results do not depend on it' -- every stored value identical."""
    out = tmp_path / "c50.nc"
    run_ok(HOLBAEK, "-n", N, "--seed", SEED, "-o", out, "--chunk", 50)
    c50 = xr.load_dataset(out, engine="netcdf4")
    differ = [
        v
        for v in base["ds"].data_vars
        if not np.array_equal(base["ds"][v].values, c50[v].values, equal_nan=True)
    ]
    assert not differ, f"--chunk 50 changes {differ}"


def test_detail_adds_weekly_series_per_scenario(tmp_path):
    n = 64
    out = tmp_path / "detail.nc"
    run_ok(HOLBAEK, "-n", n, "--seed", SEED, "-o", out, "--detail")
    ds = xr.load_dataset(out, engine="netcdf4")
    sc = ds["state_count"]
    assert sc.dims == ("scenario", "arm", "week", "state")
    assert sc.shape == (n, 2, RAW["deal"]["horizon_weeks"], 5)
    assert list(ds["state"].values) == ["benefit", "employed", "education", "permanent", "moved"]
    assert list(ds["arm"].values) == ["counterfactual", "treatment"]
    counts = sc.values.astype(np.int64)
    assert (counts >= 0).all()
    # at the end everyone enrolled is in exactly one state, in both arms
    final = counts[:, :, -1, :].sum(axis=-1)
    np.testing.assert_array_equal(final[:, 0], ds["enrolled"].values)
    np.testing.assert_array_equal(final[:, 1], ds["enrolled"].values)
    # the stored mean is the mean of the per-scenario counts
    np.testing.assert_allclose(counts.mean(axis=0), ds["state_count_mean"].values, atol=1e-9)
    # weekly money per scenario adds up to the per-scenario totals
    assert ds["payments_weekly"].dims == ("scenario", "week")
    np.testing.assert_allclose(
        ds["payments_weekly"].sum("week").values, ds["payments_total"].values, rtol=1e-5
    )
    np.testing.assert_allclose(
        ds["programme_cost_weekly"].sum("week").values, ds["programme_cost"].values, rtol=1e-5
    )


def test_detail_does_not_change_per_scenario_metrics(tmp_path, base):
    out = tmp_path / "detail.nc"
    run_ok(HOLBAEK, "-n", N, "--seed", SEED, "-o", out, "--detail")
    ds = xr.load_dataset(out, engine="netcdf4")
    assert_same_values(base["ds"], ds, scenario_vars(base["ds"]))


def test_default_output_name_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_ok(HOLBAEK, "-n", 64, "--seed", SEED)
    assert (tmp_path / "holbaek.nc").is_file()
    assert "wrote holbaek.nc" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holbaek.nc"]


def test_overwrite_replaces_an_existing_file(tmp_path):
    out = tmp_path / "out.nc"
    out.write_bytes(b"old")
    run_ok(HOLBAEK, "-n", 64, "--seed", SEED, "-o", out, "--overwrite")
    ds = xr.load_dataset(out, engine="netcdf4")
    assert ds.sizes["scenario"] == 64
    assert int(ds.attrs["seed"]) == SEED
    # no temporary files left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


def test_more_scenarios_extend_the_same_draws(tmp_path, base):
    """Monte Carlo: scenario k draws the same parameters whatever the number of scenarios."""
    out = tmp_path / "small.nc"
    run_ok(HOLBAEK, "-n", 64, "--seed", SEED, "-o", out)
    small = xr.load_dataset(out, engine="netcdf4")
    np.testing.assert_array_equal(small["parameters"].values, base["ds"]["parameters"].values[:64])


# ---------------------------------------------------------------------------- validate
def test_validate_accepts_the_included_deal():
    result = invoke("validate", HOLBAEK)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = result.stdout
    assert "ok" in out
    expected = (
        f"{RAW['cohort']['size']} citizens",
        f"{len(RAW['program']['phases'])} phases",
        f"{RAW['deal']['horizon_weeks']} weeks",
        f"{len(RAW['contract']['mechanisms'])} payment mechanism",
        f"{len(RAW['uncertainty']['parameters'])} uncertain parameter",
    )
    for part in expected:
        assert part in out, (part, out)


def test_validate_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("validate", HOLBAEK).exit_code == 0
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- misc
def test_version_and_help():
    version = invoke("--version")
    assert version.exit_code == 0
    assert simrisk.__version__ in version.stdout
    for cmd in ("run", "validate", "summary"):
        result = invoke(cmd, "--help")
        assert result.exit_code == 0
        assert "Usage" in result.stdout


def test_summary_json_numbers_are_finite(base):
    """The Holbæk run has every headline number defined (no NaN in the JSON)."""
    result = invoke("summary", base["out"], "--json")
    summ = json.loads(result.stdout)
    for row in summ["rows"]:
        for k in ("mean", "p5", "p50", "p95"):
            assert math.isfinite(row[k]), (row["metric"], k)
