"""The ``simrisk`` command line end to end on small runs: every command (run, validate,
summary, stress, sensitivity, solve, calibrate, report, sweep, portfolio), its JSON, its
exit codes (0 success, 1 bad input, 2 usage), and what each command's output must agree
with (the file it wrote, another command, the library).

All runs go through click's CliRunner; stdout and stderr are kept apart (click >= 8.2).
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
from scipy import stats

import simrisk
from simrisk import distributions, engine, finance, summary
from simrisk.analysis import portfolio as pf
from simrisk.cli import main
from simrisk.config import load_deal, parse_path
from simrisk.sampling import Adjustment, Sampler
from tests.conftest import CONFIGS, load_raw, write_toml

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
    "mean_overpayment_share",
    "irr_status_counts",
}
ROW_KEYS = {"metric", "label", "kind", "unit", "mean", "p5", "p50", "p95", "n_defined"}


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
    # one column per uncertain parameter of the deal, named by its path; then the
    # calibration posterior's parameters
    params = RAW["uncertainty"]["parameters"]
    post = load_deal(HOLBAEK)[0].uncertainty.posterior.paths
    assert list(ds["parameter"].values) == [q["path"] for q in params] + post
    p = ds["parameters"].values
    assert np.isfinite(p).all()
    cfg, _ = load_deal(HOLBAEK)
    for j, rec in enumerate(cfg.uncertainty.parameters):
        lo, hi = distributions.support(rec)
        assert ((p[:, j] >= lo) & (p[:, j] <= hi)).all(), rec.path
        assert p[:, j].std() > 0, rec.path  # really drawn, not the nominal value
    # the draws are the sampler's: scenario k's parameters, whatever the run size
    np.testing.assert_array_equal(p, Sampler(cfg, SEED, N).draw(0, N))
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
    assert summ["seed"] == SEED
    assert summ["n_scenarios"] == N
    assert [r["metric"] for r in summ["rows"]] == [m for m, _, _ in summary.SUMMARY_METRICS]
    profit = ds["investor_profit"].values
    for row in summ["rows"]:
        assert set(row) == ROW_KEYS
        assert row["unit"] == {"pct": "fraction", "x": "multiple", "mio": "DKK"}[row["kind"]]
        x = ds[row["metric"]].values
        finite = x[np.isfinite(x)]
        assert row["n_defined"] == finite.size
        if not finite.size:  # the measured savings of a rate card: none, null in the JSON
            assert row["metric"] == "savings_measured" and row["mean"] is None
            continue
        assert row["mean"] == pytest.approx(float(finite.mean()), rel=1e-12)
        # empirical quantiles of the file's values (an undefined IRR ranks by the profit)
        ranked = finite
        if row["metric"] == "investor_irr":
            ranked = np.where(np.isfinite(x), x, np.where(profit < 0, -np.inf, np.inf))
        want = np.quantile(ranked, [0.05, 0.5, 0.95], method="inverted_cdf")
        assert [row["p5"], row["p50"], row["p95"]] == want.tolist(), row["metric"]
    assert summ["p_investor_loss"] == float(np.mean(profit < 0))
    assert summ["p_municipal_net_negative"] == float(np.mean(ds["municipal_net"].values < 0))
    net = np.sort(ds["municipal_net"].values)
    q = net[int(np.ceil(0.05 * N)) - 1]  # the empirical 5 % quantile: the 7th of 128
    assert summ["municipal_var95"] == pytest.approx(-q, rel=1e-12)
    assert summ["municipal_cvar95"] == pytest.approx(-net[net <= q].mean(), rel=1e-12)
    status = ds["investor_irr_status"].values
    assert summ["irr_status_counts"] == {
        name: int((status == code).sum()) for code, name in enumerate(finance.IRR_STATUS_NAMES)
    }
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
    # the simulated weeks: the deal's 312 and its 10-year appraisal, 522
    assert RAW["deal"]["horizon_weeks"] == 312 and RAW["economics"]["appraisal"]["years"] == 10
    assert sc.shape == (n, 2, 522, 8)
    assert list(ds["state"].values) == [
        "benefit", "employed", "education", "permanent", "moved", "unemployed", "subsidised",
        "fleksjob",
    ]  # fmt: skip
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
        f"{len(RAW['programme']['phases'])} phases",
        f"{RAW['deal']['horizon_weeks']} weeks",
        f"{len(RAW['contract']['mechanisms'])} payment mechanism",
        f"{load_deal(HOLBAEK)[0].uncertainty.n_parameters} uncertain parameter",
    )
    for part in expected:
        assert part in out, (part, out)


def test_validate_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("validate", HOLBAEK).exit_code == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "path, expected",
    [
        (
            CONFIGS / "stress" / "downturn.toml",
            (
                "ok — stress file; 4 stress point(s): recession,",
                "paths are checked against a deal by 'simrisk stress DEAL --stress-file FILE'",
            ),
        ),
        (
            CONFIGS / "sweeps" / "all_deals_grid.toml",
            (
                "ok — sweep file; 6 deal(s) x 9 stress point(s) and the base case x 2,000 "
                "scenarios",
                "'simrisk sweep FILE'",
            ),
        ),
        (
            CONFIGS / "funds" / "dsi_fund.toml",
            (
                "ok — fund file 'Illustrative Danish social impact fund'; 4 holding(s)",
                "'simrisk portfolio FILE'",
            ),
        ),
    ],
    ids=["stress", "sweep", "fund"],
)
def test_validate_recognises_stress_sweep_and_fund_files(path, expected):
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    (line,) = result.stdout.strip().splitlines()
    for part in expected:
        assert part in line, (part, line)


BROKEN = {
    "stress: its keys and values": (
        "[[stress]]\nname = 'a'\n"
        "changes = [{ path = 'labour.job_entry_multiplier', scale = 0.7, add = 1.0 }]\n"
        "[[stress]]\nname = 'b'\ndescripton = 'typo'\n"
        "calendar = [{ start = 2026-01-01, end = 2025-01-01, job_entry_multiplier = 0.5 }]\n",
        [
            "stress[0].changes[0]: give exactly one of 'set', 'scale', 'add', 'excess'",
            "stress[1].descripton: unknown key",
            "stress[1].calendar[0]: 'end' must be after 'start'",
        ],
    ),
    "stress: names and paths": (
        "[[stress]]\nname = 'a'\nchanges = [{ path = 'effect.job_entry[', set = 1.0 }]\n"
        "[[stress]]\nname = 'a'\nchanges = [{ path = 'uncertainty.method', set = 1.0 }]\n"
        "[[stress]]\nname = 'base'\n"
        "changes = [{ path = 'labour.calendar[0].job_entry_multiplier', set = 0.5 }]\n",
        [
            "stress[0].changes[0].path: bad path 'effect.job_entry['",
            "stress[1].name: 'a' is used twice",
            "stress[1].changes[0].path: the uncertainty section cannot itself be varied",
            "stress[2].name: 'base' is used twice",
            "stress[2].changes[0].path: calendar shocks are the same in every scenario; vary "
            "labour.job_entry_multiplier, or use a stress point's 'calendar'",
        ],
    ),
    "sweep: its keys and values": (
        f"deals = ['{HOLBAEK}']\nscenarios = 0\nseeds = 1\n",
        ["scenarios: Input should be greater than 0 (got 0)", "seeds: unknown key"],
    ),
    "sweep: its deals and points": (
        f"deals = ['{HOLBAEK}', 'missing.toml']\n[grid]\n'cohort.uptake' = [1.5]\n",
        [
            f"{HOLBAEK}: grid (cohort.uptake=1.5): cohort.uptake: Input should be less "
            "than or equal to 1 (got 1.5)",
            "{tmp}/missing.toml: no such file",
        ],
    ),
    "fund: its keys and values": (
        f"scenarios = 10\n[macro]\nrho = 2.0\n[[holdings]]\ndeal = '{HOLBAEK}'\n",
        [
            "name: Field required",
            "macro.rho: Input should be less than or equal to 1 (got 2.0)",
            "holdings[0].capital: Field required",
        ],
    ),
    "fund: without holdings": (
        "name = 'x'\n[macro]\nrho = 0.5\n",
        ["holdings: Field required"],
    ),
    "fund: only a fund's keys, no holdings and no macro": (
        "name = 'x'\nscenarios = 100\n",
        ["holdings: Field required"],
    ),
    "fund: its deals": (
        f"name = 'f'\n[macro]\npath = 'cohort.size'\n[[holdings]]\ndeal = '{HOLBAEK}'\n"
        f"capital = 1e12\n[[holdings]]\ndeal = '{CONFIGS / 'slagelse.toml'}'\ncapital = 1e6\n",
        [
            "holdings[0].capital: 1,000,000,000,000 DKK exceeds the deal's investor.capital "
            "({capital} DKK)",
            f"macro.path: 'cohort.size' names no real-valued field of {CONFIGS / 'slagelse.toml'}: "
            "cohort.size is a whole number; only real-valued fields vary",
        ],
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_validate_names_the_problems_of_a_stress_sweep_or_fund_file(tmp_path, case):
    text, expected = BROKEN[case]
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    result = invoke("validate", path)
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    capital = f"{load_deal(HOLBAEK)[0].investor.capital:,.0f}"
    expected = [f"error: {line.format(tmp=tmp_path, capital=capital)}" for line in expected]
    assert sorted(result.stderr.splitlines()) == sorted(expected)


def test_every_example_stress_sweep_and_fund_file_validates():
    for folder in ("stress", "sweeps", "funds"):
        files = sorted((CONFIGS / folder).glob("*.toml"))
        assert files, folder
        for path in files:
            result = invoke("validate", path)
            assert result.exit_code == 0, (path, result.output)
            assert " ok — " in result.stdout and result.stderr == "", (path, result.output)


def test_validate_checks_a_deals_own_stress_points(tmp_path):
    raw = load_raw("holbaek")
    raw["stress"] = [
        {"name": "r", "changes": [{"path": "labour.job_entry_multiplier", "scale": 0.7}]}
    ]
    good = invoke("validate", write_toml(tmp_path / "good.toml", raw))
    assert good.exit_code == 0 and good.stdout.strip().endswith(", 1 stress point(s)"), good.output
    raw["stress"][0]["changes"][0]["path"] = "cohort.size"
    bad = invoke("validate", write_toml(tmp_path / "bad.toml", raw))
    assert bad.exit_code == 1
    assert bad.stderr.splitlines() == [
        "error: stress[0].changes[0].path: 'cohort.size' names no real-valued field of the "
        "deal: cohort.size is a whole number; only real-valued fields vary"
    ]


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
    """The Holbæk run has every headline number defined but the measured savings, which
    its rate card does not measure (null in the JSON, not NaN)."""
    result = invoke("summary", base["out"], "--json")
    assert "NaN" not in result.stdout
    summ = json.loads(result.stdout)
    for row in summ["rows"]:
        for k in ("mean", "p5", "p50", "p95"):
            if row["metric"] == "savings_measured":
                assert row[k] is None
            else:
                assert math.isfinite(row[k]), (row["metric"], k)


def test_validate_warns_about_the_old_section_name(tmp_path):
    raw = load_raw("holbaek")
    raw["program"] = raw.pop("programme")
    deal = write_toml(tmp_path / "old.toml", raw)
    result = invoke("validate", deal)
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warnings) == 1 and "[programme]" in warnings[0], result.stderr
    assert "ok" in result.stdout and "warning" not in result.stdout


# ------------------------------------------------------------------- summary --drivers
def test_summary_drivers_are_the_rank_correlations_of_the_file(base):
    result = invoke("summary", base["out"], "--drivers", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ds = base["ds"]
    names = [str(p) for p in ds["parameter"].values]
    rows = data["drivers"]
    assert sorted(r["parameter"] for r in rows) == sorted(names)
    for r in rows:
        x = ds["parameters"].values[:, names.index(r["parameter"])]
        for metric in ("investor_profit", "municipal_net"):
            want = stats.spearmanr(x, ds[metric].values).statistic
            assert r[metric] == pytest.approx(want, abs=1e-12), (r["parameter"], metric)
    strength = [max(abs(r["investor_profit"]), abs(r["municipal_net"])) for r in rows]
    assert strength == sorted(strength, reverse=True)
    # the rest of the summary is the summary without --drivers
    plain = json.loads(invoke("summary", base["out"], "--json").stdout)
    assert {k: v for k, v in data.items() if k != "drivers"} == plain
    table = invoke("summary", base["out"], "--drivers")
    assert table.exit_code == 0
    assert "Drivers (Spearman rank correlation)" in table.stdout
    top = rows[0]
    assert f"{top['investor_profit']:+.2f}" in table.stdout
    # the inputs by their labels (the deal file's), as the report names them
    cfg, _ = load_deal(HOLBAEK)
    assert all(p.label in table.stdout for p in cfg.uncertainty.parameters)
    assert {r["label"] for r in rows} >= {p.label for p in cfg.uncertainty.parameters}


# ------------------------------------------------------------------------------ stress
def test_stress_agrees_with_its_file_and_with_run(tmp_path):
    out = tmp_path / "s.nc"
    result = invoke("stress", HOLBAEK, "-n", 16, "--seed", 2, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = [p["stress"] for p in data["points"]]
    assert names[0] == "base" and len(names) == 8  # the standard set of seven
    assert (data["seed"], data["n_scenarios"]) == (2, 16)
    ds = xr.load_dataset(out)
    assert ds["municipal_net"].dims == ("stress", "scenario")
    assert list(ds["stress"].values) == names
    base_net = ds["municipal_net"].sel(stress="base").values
    for row in data["points"]:
        net = ds["municipal_net"].sel(stress=row["stress"]).values
        d = net - base_net
        assert row["municipal_net"] == pytest.approx(net.mean(), rel=1e-12)
        assert row["municipal_net_diff"] == pytest.approx(d.mean(), rel=1e-9, abs=1e-6)
        assert row["municipal_net_diff_se"] == pytest.approx(
            d.std(ddof=1) / 4.0, rel=1e-9, abs=1e-9
        )  # sqrt(16) = 4
        assert row["municipal_loss"] == float((net < 0).mean())
    # the base point is the deal's own run on the same seed
    run_out = tmp_path / "r.nc"
    run_ok(HOLBAEK, "-n", 16, "--seed", 2, "-o", run_out)
    run_ds = xr.load_dataset(run_out)
    for name in ("municipal_net", "investor_profit", "payments_total"):
        np.testing.assert_array_equal(ds[name].sel(stress="base").values, run_ds[name].values)
    # a stress changes the numbers (recession: fewer job entries, less paid)
    rec = ds["payments_total"].sel(stress="recession").values
    assert rec.sum() < ds["payments_total"].sel(stress="base").values.sum()


def test_stress_grid_table(tmp_path):
    out = tmp_path / "g.nc"
    result = invoke(
        "stress", HOLBAEK, "-n", 4, "--seed", 1, "-o", out, "--grid", "cohort.uptake=0.8,1",
        "--grid", "effect.job_entry[1]=1.2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ds = xr.load_dataset(out)
    names = list(ds["stress"].values)
    assert names == [
        "base",
        "cohort.uptake=0.8, effect.job_entry[1]=1.2",
        "cohort.uptake=1, effect.job_entry[1]=1.2",
    ]
    assert all(name in result.stdout for name in names)
    assert f"wrote {out}" in result.stderr


# ------------------------------------------------------------------------- sensitivity
def test_sensitivity_sobol_json_and_file(tmp_path):
    out = tmp_path / "sa.nc"
    result = invoke(
        "sensitivity", CONFIGS / "slagelse.toml", "-n", 8, "--outer", 3, "--inner", 2,
        "--seed", 1, "-o", out, "--output-metric", "municipal_net", "--output-metric",
        "investor_moic", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    cfg, _ = load_deal(CONFIGS / "slagelse.toml")
    # one Sobol input per distribution, and the calibration posterior as one
    params = [name for name, _ in Sampler(cfg, 1, 8).inputs]
    assert params[-1].startswith("calibration posterior (")
    assert data["outputs"] == ["municipal_net", "investor_moic"]
    assert data["parameters"] == params and data["method"] == "sobol" and data["seed"] == 1
    ds = xr.load_dataset(out)
    assert ds["sobol_total"].dims == ("output", "parameter")
    assert ds["sobol_total"].shape == (2, len(params))
    np.testing.assert_array_equal(np.array(data["sobol_total"]), ds["sobol_total"].values)
    np.testing.assert_array_equal(np.array(data["variance_share"]), ds["variance_share"].values)


def test_sensitivity_tornado_table(tmp_path):
    out = tmp_path / "t.nc"
    result = invoke(
        "sensitivity", CONFIGS / "slagelse.toml", "--method", "tornado", "-n", 8, "--outer",
        2, "--inner", 2, "--seed", 1, "-o", out, "--output-metric", "municipal_net",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ds = xr.load_dataset(out)
    assert "tornado_low" in ds and "sobol_total" not in ds
    cfg, _ = load_deal(CONFIGS / "slagelse.toml")
    # every input by the label its deal file gives, in the file and in the table
    labels = dict(zip(ds["parameter"].values, ds["parameter_label"].values, strict=True))
    for p in cfg.uncertainty.parameters:
        assert p.label and labels[p.path] == p.label and p.label in result.stdout
    # the municipal net in mio. DKK, its swing signed, and the mean at the medians said
    lo, hi = ds["tornado_low"].values[0], ds["tornado_high"].values[0]
    i = int(np.argmax(np.abs(hi - lo)))
    assert (
        f"{lo[i] / 1e6:,.2f}" in result.stdout and f"{(hi[i] - lo[i]) / 1e6:+,.2f}" in result.stdout
    )
    assert f"at the medians it is {ds['tornado_base'].values[0] / 1e6:,.2f}" in result.stdout


# ------------------------------------------------------------------------------- solve
def test_solve_reports_the_goal_at_its_answer(tmp_path):
    path = "contract.mechanisms[0].share"
    result = invoke(
        "solve", CONFIGS / "slagelse.toml", "--vary", path, "--range", "0.1,1",
        "--max-municipal-loss", "0.5", "-n", 24, "--seed", 2, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["vary"], data["range"], data["n_scenarios"]) == (path, [0.1, 1.0], 24)
    (goal,) = data["goals"]
    assert goal["goal"] == "P(municipal net < 0) ≤ 50 %"
    # the figure at the answer is what a run at that value gives
    cfg, _ = load_deal(CONFIGS / "slagelse.toml")
    best = data["best"]
    assert 0.1 <= best <= 1.0
    m = engine.run(cfg, 2, 24, adjust=[Adjustment(parse_path(path), "set", best)]).metrics
    assert goal["value_at_best"] == float((m["municipal_net"] < 0).mean())
    # the table says the same
    table = invoke(
        "solve", CONFIGS / "slagelse.toml", "--vary", path, "--range", "0.1,1",
        "--max-municipal-loss", "0.5", "-n", 24, "--seed", 2,
    )  # fmt: skip
    assert table.exit_code == 0
    assert "P(municipal net < 0) ≤ 50 %" in table.stdout
    assert f"{100 * goal['value_at_best']:.1f} %" in table.stdout


# --------------------------------------------------------------------------- calibrate
def test_calibrate_writes_a_deal_with_the_fitted_value(tmp_path):
    deal = CONFIGS / "sundinvest_sygemeldte.toml"
    targets = CONFIGS / "targets" / "jobafklaring_baseline.toml"
    out = tmp_path / "cal.toml"
    result = invoke("calibrate", deal, "--targets", targets, "-o", out, "-n", 20, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (param,) = data["parameters"]
    assert param["path"] == "labour.job_entry_multiplier"
    assert 0.1 <= param["estimate"] <= 5.0  # the targets file's bounds
    cfg, text = load_deal(out)
    assert cfg.labour.job_entry_multiplier == float(f"{param['estimate']:.4g}")
    assert "# SundInvest" in text  # the deal's comments are kept
    assert f"wrote {out}" in result.stderr
    assert data["deviance"] == pytest.approx(sum(r["deviance"] for r in data["table"]))
    # an existing output is kept unless --overwrite
    before = out.read_bytes()
    again = invoke("calibrate", deal, "--targets", targets, "-o", out, "-n", 20)
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert out.read_bytes() == before


# ------------------------------------------------------------------------------ report
def test_report_from_a_run(tmp_path, base):
    out_dir = tmp_path / "rep"
    result = invoke("report", base["out"], "-o", out_dir)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(
        ["states.png", "effect.png", "cashflows.png", "distributions.png",
         "investor_vs_municipality.png", "report.html"]
    )  # fmt: skip
    # the files written are messages (stderr), as a run's "wrote" line is
    assert result.stdout == ""
    assert sorted(result.stderr.splitlines()) == sorted(f"wrote {out_dir / n}" for n in names)
    assert "Holbæk" in (out_dir / "report.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------- sweep
def test_sweep_base_points_are_the_deals_own_runs(tmp_path):
    out = tmp_path / "sw.nc"
    slagelse = CONFIGS / "slagelse.toml"
    result = invoke(
        "sweep", HOLBAEK, slagelse, "-n", 6, "--seed", 3, "--chunk", 4, "--grid",
        "cohort.uptake=0.8,1", "-o", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["seed"], data["n_scenarios"]) == (3, 6)
    ds = xr.load_dataset(out)
    assert ds.sizes == {"deal": 2, "stress": 3, "scenario": 6}
    assert len(data["points"]) == 6  # deals x stress points
    assert not (tmp_path / "sw.nc.chunks").exists()
    for k, deal in enumerate((HOLBAEK, slagelse)):
        run_out = tmp_path / f"r{k}.nc"
        run_ok(deal, "-n", 6, "--seed", 3, "-o", run_out)
        own = xr.load_dataset(run_out)
        for name in ("municipal_net", "investor_profit"):
            np.testing.assert_array_equal(
                ds[name].isel(deal=k).sel(stress="base").values, own[name].values
            )


# --------------------------------------------------------------------------- portfolio
def test_portfolio_without_a_macro_factor_adds_up_the_deals(tmp_path):
    fund = tmp_path / "fund.toml"
    fund.write_text(
        'name = "f"\nscenarios = 8\nseed = 5\nchunk = 4\n[macro]\nsigma = 0.0\nrho = 0.5\n'
        f'[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1.0e6\n'
        f'[[holdings]]\ndeal = "{CONFIGS / "slagelse.toml"}"\ncapital = 2.0e6\n',
        encoding="utf-8",
    )
    out = tmp_path / "f.nc"
    result = invoke("portfolio", fund, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["deal"] for d in data["deals"]] == ["holbaek", "slagelse"]
    assert (data["n_scenarios"], data["seed"], data["capital"]) == (8, 5, 3.0e6)
    ds = xr.load_dataset(out)
    profit = np.zeros(8)
    for d, deal in enumerate((HOLBAEK, CONFIGS / "slagelse.toml")):
        cfg, _ = load_deal(deal)
        seed = int(ds["deal_seed"].values[d])
        assert seed == pf.deal_seed(5, ("holbaek", "slagelse")[d])
        own = engine.run(cfg, seed, 8).metrics["investor_profit"]
        got = ds["deal_investor_profit"].sel(variant="shared").isel(deal=d).values
        np.testing.assert_array_equal(got, own)  # sigma 0: the deal's own run
        share = [1.0e6, 2.0e6][d] / cfg.investor.capital
        assert float(ds["share_of_deal"].values[d]) == pytest.approx(share)
        profit += share * own
    np.testing.assert_allclose(ds["fund_profit"].sel(variant="shared").values, profit)
    assert data["variants"]["shared"]["profit_mean"] == pytest.approx(profit.mean())
    assert data["variants"]["shared"]["p_loss"] == float((profit < 0).mean())
    table = invoke("portfolio", fund)
    assert table.exit_code == 0 and "P(fund loss)" in table.stdout


# ------------------------------------------------------------------ exit codes 1 and 2
def _bad_deal(folder):
    raw = load_raw("holbaek")
    raw["programme"]["phases"][1]["dropout"] = 1.5
    return write_toml(folder / "bad.toml", raw)


def _bad_fund(folder):
    return write_toml(folder / "fund.toml", {"name": "f", "holdings": [
        {"deal": str(folder / "missing.toml"), "capital": 1e6}]})  # fmt: skip


BAD_INPUT = [
    ("run", lambda d: ["run", _bad_deal(d), "-n", 4, "--seed", 1, "-o", d / "o.nc"],
     "programme.phases[1].dropout"),
    ("validate", lambda d: ["validate", _bad_deal(d)], "programme.phases[1].dropout"),
    ("summary", lambda d: ["summary", d / "missing.nc"], "no such file"),
    ("stress", lambda d: ["stress", HOLBAEK, "-n", 4, "--seed", 1, "-o", d / "o.nc", "--grid",
                          "cohort.uptake=2"], "--grid (cohort.uptake=2)"),
    ("sensitivity", lambda d: ["sensitivity", HOLBAEK, "-o", d / "o.nc", "--output-metric",
                               "happiness"], "happiness"),
    ("solve", lambda d: ["solve", HOLBAEK, "--vary", "cohort.size", "--range", "1,2",
                         "--breakeven", "-n", 10, "--seed", 1], "--vary"),
    ("calibrate", lambda d: ["calibrate", HOLBAEK, "--targets", d / "missing.toml", "-o",
                             d / "o.toml"], "missing.toml: no such file"),
    ("report", lambda d: ["report", d / "missing.nc", "-o", d / "rep"], "no such file"),
    ("sweep", lambda d: ["sweep", d / "missing.toml", "-n", 4, "-o", d / "o.nc"],
     "missing.toml: no such file"),
    ("portfolio", lambda d: ["portfolio", _bad_fund(d), "-o", d / "o.nc"], "holdings[0].deal"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "needle"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_exit_1_one_line_and_nothing_written(tmp_path, monkeypatch, name, args,
                                                          needle):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    argv = args(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*argv)
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == before


USAGE = [
    ("run", ["run", HOLBAEK, "-n", "0"], "-n"),
    ("validate", ["validate"], "FILE"),
    ("summary", ["summary"], "RESULT"),
    ("stress", ["stress", HOLBAEK, "-n", "1"], "-n"),
    ("sensitivity", ["sensitivity", HOLBAEK, "--method", "morris"], "--method"),
    ("solve", ["solve", HOLBAEK, "--range", "0,1"], "--vary"),
    ("calibrate", ["calibrate", HOLBAEK, "--method", "bayes"], "--method"),
    ("report", ["report", "r.nc"], "--output"),
    ("sweep", ["sweep"], "FILES"),
    ("portfolio", ["portfolio", "f.toml", "--workers", "0"], "--workers"),
    ("unknown-command", ["simulate"], "simulate"),
]


@pytest.mark.parametrize(("name", "argv", "needle"), USAGE, ids=[u[0] for u in USAGE])
def test_usage_errors_are_exit_2(tmp_path, monkeypatch, name, argv, needle):
    monkeypatch.chdir(tmp_path)
    result = invoke(*argv)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output and result.stdout == ""
    assert needle in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_command_has_help():
    for cmd in ("run", "validate", "summary", "stress", "sensitivity", "solve", "calibrate",
                "report", "sweep", "portfolio"):  # fmt: skip
        result = invoke(cmd, "--help")
        assert result.exit_code == 0 and result.stdout.startswith(f"Usage: main {cmd}"), cmd


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "funds/dsi_fund.toml"], "DEAL: {} is a fund file (run it with 'simrisk portfolio"),
        (["run", "evidence/hoff2022a.toml"], "DEAL: {} is an evidence file"),
        (["solve", "stress/downturn.toml", "--vary", "cohort.uptake", "--range", "0.5,1"],
         "DEAL: {} is a stress file"),
        (["stress", "holbaek.toml", "--stress-file", "funds/dsi_fund.toml"],
         "--stress-file: {} is a fund file"),
        (["sweep", "funds/dsi_fund.toml"], "FILES: {} is a fund file"),
        (["portfolio", "holbaek.toml"], "FUND: {} is a deal file"),
        (["portfolio", "sweeps/all_deals_grid.toml"], "FUND: {} is a sweep file"),
    ],
)  # fmt: skip
def test_a_file_of_another_kind_is_named_as_what_it_is(tmp_path, args, expected):
    """A fund, sweep, stress or evidence file where another kind is asked for gets one
    line saying what it is and what it is for (not a line for every key it lacks), exit
    code 1, and nothing on disk."""
    wrong = [a for a in args[1:] if a.endswith(".toml")][-1]
    argv = [args[0], *(str(CONFIGS / a) if a.endswith(".toml") else a for a in args[1:])]
    result = invoke(*argv, "-n", "10", "-o", tmp_path / "out.nc")
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: " + expected.format(CONFIGS / wrong)), line
    assert list(tmp_path.iterdir()) == []
