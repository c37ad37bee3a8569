"""Sweeps: deals x stress points x scenarios, the same numbers as engine.run and 'simrisk
stress' for any chunk size; sweep files; the command. (Backends and the chunk store:
test_distributed.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine
from simrisk.analysis import stress as stress_mod
from simrisk.analysis import sweep as sw
from simrisk.cli import main
from simrisk.config import ConfigError
from simrisk.distributed import LocalBackend
from simrisk.metrics import derived
from simrisk.outputs import METRICS
from tests.conftest import CONFIGS, copy_deal

# one deal per measurement: counterfactual, baseline, control group
DEALS = [str(CONFIGS / f"{d}.toml") for d in ("holbaek", "slagelse", "aarhus_din_vej_i_job")]
GRID = ["cohort.uptake=0.8,1", "labour.job_entry_multiplier=1.5"]
N = 40
SEED = 11


def _sweep(chunk: int, seed: int = SEED, deals=DEALS) -> sw.Sweep:
    return sw.build(list(deals), stress_mod.parse_grid(GRID), seed, N, chunk)


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(METRICS) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].tobytes() == b[k].tobytes(), k


@pytest.fixture(scope="module")
def reference():
    """The in-process sweep with one chunk per point."""
    metrics, stats = sw.run_sweep(_sweep(chunk=N), LocalBackend())
    assert stats.computed == len(DEALS) * 3 and stats.reused == 0
    return metrics


def test_each_deal_is_its_stress_test_and_its_base_is_engine_run(reference):
    """Each deal's slice is what 'simrisk stress' (engine.run per point, common random
    numbers) gives, and its base point is 'simrisk run DEAL --seed SEED'."""
    sweep = _sweep(chunk=N)
    assert sweep.stress_names == ["base", *(p.name for p in stress_mod.parse_grid(GRID))]
    for d, deal in enumerate(sweep.deals):
        ref = stress_mod.run_stress(deal.cfg, deal.prepared, SEED, N)
        for s in range(len(deal.prepared)):
            _same({k: v[d, s] for k, v in reference.items()}, ref[s])
        _same({k: v[d, 0] for k, v in reference.items()}, engine.run(deal.cfg, SEED, N).metrics)
    # and the points are stressed
    assert not np.array_equal(reference["enrolled"][0, 0], reference["enrolled"][0, 1])


@pytest.mark.parametrize("chunk", [1, 7, 16])
def test_chunk_size_does_not_change_results(reference, chunk):
    metrics, stats = sw.run_sweep(_sweep(chunk=chunk), LocalBackend())
    assert stats.computed == len(DEALS) * 3 * -(-N // chunk) == sw.n_chunks(_sweep(chunk))
    _same(metrics, reference)


def test_plan_labels_every_chunk(reference):
    sweep = _sweep(chunk=16)
    labelled = sw.plan(sweep)
    assert [label for label, _ in labelled[:4]] == [
        (0, 0, 0, 16),
        (0, 0, 16, 16),
        (0, 0, 32, 8),
        (0, 1, 0, 16),
    ]
    for (d, s, scen0, m), spec in labelled:
        deal = sweep.deals[d]
        assert spec.cfg is deal.prepared[s].cfg and spec.base_cfg is deal.cfg
        assert (spec.seed, spec.n_total, spec.scen0, spec.m) == (SEED, N, scen0, m)
        assert list(spec.adjust) == deal.prepared[s].adjust


def test_the_same_deal_twice_is_computed_once(tmp_path, reference):
    """Chunks are keyed by content: a copy of a deal under another name is the same work."""
    copy = tmp_path / "copy_of_holbaek.toml"
    copy_deal(DEALS[0], copy)
    sweep = _sweep(chunk=20, deals=[DEALS[0], str(copy)])
    assert sw.n_chunks(sweep) == len(sw.plan(sweep)) // 2 == 3 * 2
    metrics, stats = sw.run_sweep(sweep, LocalBackend())
    assert stats.computed == 6
    for k in METRICS:
        assert metrics[k][1].tobytes() == metrics[k][0].tobytes() == reference[k][0].tobytes()


def test_table_and_dataset(reference):
    sweep = _sweep(chunk=N)
    rows = sw.table(sweep, reference)
    assert [(r["deal"], r["stress"]) for r in rows[:3]] == [
        ("holbaek", s) for s in sweep.stress_names
    ]
    r = rows[4]  # slagelse, first grid point
    m = {k: v[1, 1] for k, v in reference.items()}
    assert r["investor_loss"] == float((m["investor_profit"] < 0).mean())
    assert r["municipal_loss"] == float((m["municipal_net"] < 0).mean())
    assert r["investor_moic"] == float(derived(m, "investor_moic").mean())
    ds = sw.build_dataset(sweep, reference)
    assert ds["municipal_net"].dims == ("deal", "stress", "scenario")
    assert list(ds["deal"].values) == ["holbaek", "slagelse", "aarhus_din_vej_i_job"]
    assert ds["investor_profit"].values.tobytes() == reference["investor_profit"].tobytes()
    assert ds.attrs["kind"] == "sweep" and ds.attrs["seed"] == SEED


def test_build_names_every_problem_of_every_deal(tmp_path):
    copy = tmp_path / "holbaek.toml"
    copy_deal(DEALS[0], copy)
    points = stress_mod.parse_grid(["cohort.uptake=1.5"])
    with pytest.raises(ConfigError) as err:
        sw.build([DEALS[0], str(copy), str(tmp_path / "none.toml")], points, 1, 10, 5)
    problems = err.value.problems
    assert sum(p.startswith(f"{DEALS[0]}: stress[0]") for p in problems) == 1
    assert sum(p.startswith(f"{copy}: stress[0]") for p in problems) == 1
    assert any(p.startswith(str(tmp_path / "none.toml")) for p in problems)
    points = stress_mod.parse_grid(["cohort.uptake=0.5"])
    with pytest.raises(ConfigError) as err:
        sw.build([DEALS[0], str(copy)], points, 1, 10, 5)
    assert err.value.problems == [f"deals: '{copy}' and '{DEALS[0]}' have the same name 'holbaek'"]


# ----------------------------------------------------------------------------- sweep files
def _write(tmp_path, body: str, name: str = "s.toml") -> str:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return str(p)


def _sweep_file(tmp_path, chunk=20) -> str:
    deals = ", ".join(f'"{d}"' for d in DEALS[:2])
    return _write(
        tmp_path,
        f"deals = [{deals}]\nscenarios = {N}\nseed = {SEED}\nchunk = {chunk}\n"
        '[grid]\n"cohort.uptake" = [0.8, 1.0]\n"labour.job_entry_multiplier" = [1.5]\n',
    )


def test_sweep_file_grid_keys_and_relative_paths(tmp_path):
    """Unquoted dotted keys nest in TOML; the grid reads them as paths. Deal paths are
    relative to the sweep file."""
    sub = tmp_path / "sweeps"
    sub.mkdir()
    copy_deal(DEALS[0], tmp_path / "h.toml")
    path = _write(sub, 'deals = ["../h.toml"]\n[grid]\ncohort.uptake = [0.5, 0.7]\n')
    sf = sw.load_sweep_file(path)
    assert sf.grid == {"cohort.uptake": [0.5, 0.7]}
    assert sf.deals == [str(sub / "../h.toml")]
    assert (sf.scenarios, sf.seed, sf.chunk) == (sw.DEFAULT_SCENARIOS, None, engine.CHUNK)
    assert [p.name for p in sw.grid_points(sf.grid)] == ["cohort.uptake=0.5", "cohort.uptake=0.7"]
    assert sw.is_sweep_file(path) and not sw.is_sweep_file(DEALS[0])
    assert not sw.is_sweep_file(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError) as err:
        sw.grid_points({"cohort.uptake": []})
    assert err.value.problems == ["grid.cohort.uptake: give at least one value"]


def test_options_override_the_sweep_file(tmp_path):
    sweep, out = sw.from_files([_sweep_file(tmp_path)], [], None, 12, 5, 4)
    assert (sweep.n, sweep.seed, sweep.chunk) == (12, 5, 4) and out == "s.nc"
    sweep, _ = sw.from_files([_sweep_file(tmp_path)], [], None, None, None, None)
    assert (sweep.n, sweep.seed, sweep.chunk) == (N, SEED, 20)
    assert len(sweep.stress_names) == 3
    plain, out = sw.from_files(DEALS[:1], [], None, None, None, None)
    assert plain.stress_names == ["base"] and plain.seed is None and out == "sweep.nc"
    assert (plain.n, plain.chunk) == (sw.DEFAULT_SCENARIOS, engine.CHUNK)


# ------------------------------------------------------------------------------ command
def test_cli_sweep_file_and_deal_files_agree(reference, tmp_path):
    out1, out2 = tmp_path / "a.nc", tmp_path / "b.nc"
    r = CliRunner().invoke(main, ["sweep", _sweep_file(tmp_path), "-o", str(out1)])
    assert r.exit_code == 0, r.output
    args = ["sweep", *DEALS[:2], "-n", str(N), "--seed", str(SEED), "--chunk", "13"]
    r = CliRunner().invoke(main, [*args, *sum((["--grid", g] for g in GRID), []), "-o", str(out2)])
    assert r.exit_code == 0, r.output
    a, b = xr.load_dataset(out1), xr.load_dataset(out2)
    assert a.sizes == {"deal": 2, "stress": 3, "scenario": N}
    assert list(a.stress.values) == list(b.stress.values)
    for name in METRICS:
        assert a[name].values.tobytes() == b[name].values.tobytes()
        assert a[name].values.tobytes() == reference[name][:2].tobytes()
    assert not (tmp_path / "a.nc.chunks").exists()
    assert a.attrs["seed"] == SEED


class Interrupt(Exception):
    pass


def test_cli_resume(tmp_path):
    sweep_path = _sweep_file(tmp_path, chunk=10)
    out = tmp_path / "out.nc"
    sf = sw.load_sweep_file(sweep_path)
    plan = sw.build(sf.deals, sw.grid_points(sf.grid), SEED, N, 10)

    def stop(k):
        if k == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        sw.run_sweep(plan, LocalBackend(), str(out) + ".chunks", on_chunk=stop)
    assert not out.exists()
    # without --resume the chunks are not silently reused or discarded
    r = CliRunner().invoke(main, ["sweep", sweep_path, "-o", str(out)])
    assert r.exit_code == 1 and "--resume" in r.output and not out.exists()
    r = CliRunner().invoke(main, ["sweep", sweep_path, "-o", str(out), "--resume"])
    assert r.exit_code == 0, r.output
    assert "reused 3 chunk(s), computed 21" in r.output
    assert not (tmp_path / "out.nc.chunks").exists()
    full = tmp_path / "full.nc"
    r = CliRunner().invoke(main, ["sweep", sweep_path, "-o", str(full)])
    assert r.exit_code == 0, r.output
    a, b = xr.load_dataset(out), xr.load_dataset(full)
    for name in METRICS:
        assert a[name].values.tobytes() == b[name].values.tobytes()


def test_an_interrupted_sweep_says_how_to_go_on(tmp_path, monkeypatch):
    """Interrupted after its first chunk, the sweep says where the finished chunks are
    and that --resume goes on from them (stderr), and ends as an interruption."""
    out = tmp_path / "x.nc"
    real = sw.run_sweep

    def interrupted(plan, backend, chunk_dir, resume, progress=None):
        def stop(k):
            if k == 1:
                raise KeyboardInterrupt

        return real(plan, backend, chunk_dir, resume, progress=progress, on_chunk=stop)

    monkeypatch.setattr(sw, "run_sweep", interrupted)
    args = ["sweep", DEALS[0], "-n", "20", "--chunk", "10", "--seed", "1", "-o", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code != 0  # click's runner ends an interruption as an abort
    assert (
        f"note: the finished chunks are kept in {out}.chunks; the same command with --resume "
        "goes on from them" in r.stderr
    )
    assert not out.exists() and (tmp_path / "x.nc.chunks").is_dir()


def test_cli_resume_without_a_seed_takes_the_interrupted_runs(tmp_path, monkeypatch):
    """A sweep without --seed draws one and keeps it beside its chunks. Interrupted after
    three chunks and resumed without --seed, it takes that seed and reuses the chunks, and
    its file is the straight run's with that seed. Resumed with another chunk size, the
    stored chunks are of another sweep: counted in a warning before the work, none reused."""
    import shutil

    out = tmp_path / "out.nc"
    chunks = tmp_path / "out.nc.chunks"
    args = ["sweep", DEALS[0], "--grid", "cohort.uptake=0.8", "-n", str(N), "-o", str(out)]
    plain = sw.run_sweep

    def interrupted(*a, **k):
        def stop(n):
            if n == 3:
                raise Interrupt

        return plain(*a, **k, on_chunk=stop)

    monkeypatch.setattr(sw, "run_sweep", interrupted)
    r = CliRunner().invoke(main, [*args, "--chunk", "10"])
    assert isinstance(r.exception, Interrupt) and not out.exists()
    drawn = int(r.output.split("seed: ")[1].split()[0])
    monkeypatch.setattr(sw, "run_sweep", plain)
    assert len(list(chunks.glob("*.npz"))) == 3
    assert (chunks / "seed.txt").read_text() == f"{drawn}\n"
    shutil.copytree(chunks, tmp_path / "kept")

    r = CliRunner().invoke(main, [*args, "--chunk", "20", "--resume"])
    assert r.exit_code == 0, r.output
    assert f"seed: {drawn} (the interrupted run's)" in r.output
    assert "warning: 3 stored chunk(s) are of another sweep" in r.output
    assert "chunk(s), computed" not in r.output and not chunks.exists()

    out.unlink()
    shutil.copytree(tmp_path / "kept", chunks)
    r = CliRunner().invoke(main, [*args, "--chunk", "10", "--resume"])
    assert r.exit_code == 0, r.output
    assert f"seed: {drawn} (the interrupted run's)" in r.output
    assert "reused 3 chunk(s), computed 5" in r.output and "another sweep" not in r.output
    full = tmp_path / "full.nc"
    r = CliRunner().invoke(main, [*args[:-1], str(full), "--chunk", "10", "--seed", str(drawn)])
    assert r.exit_code == 0, r.output
    a, b = xr.load_dataset(out), xr.load_dataset(full)
    assert a.attrs["seed"] == b.attrs["seed"] == drawn
    for name in METRICS:
        assert a[name].values.tobytes() == b[name].values.tobytes()


@pytest.mark.parametrize(
    "body, expected",
    [
        ("deals = []\nscenarios = 0\nbogus = 1\n", ["deals:", "scenarios:", "bogus:"]),
        ('deals = ["no_such_deal.toml"]\n', ["no_such_deal.toml: no such file"]),
        (
            f'deals = ["{DEALS[0]}"]\n[grid]\n"effect.nothing_here" = [1.0]\n',
            ['holbaek.toml: grid."effect.nothing_here": '],
        ),
        (
            f'deals = ["{DEALS[0]}"]\n[grid]\n"cohort.uptake" = [0.8, 0.8]\n'
            '[[stress]]\nname = "s"\n[[stress.changes]]\npath = "cohort.nothing"\nset = 1\n',
            ["grid.\"cohort.uptake\": 'cohort.uptake=0.8,0.8': 0.8 given twice"],
        ),
        (
            f'deals = ["{DEALS[0]}"]\n[grid]\n"cohort.uptake" = [0.8]\n'
            '[[stress]]\nname = "s"\n[[stress.changes]]\npath = "cohort.nothing"\nset = 1\n',
            ["holbaek.toml: stress[0].changes[0].path: "],
        ),
        (
            f'deals = ["{DEALS[0]}"]\nchunk = -1\n[grid]\n"cohort.uptake" = ["a"]\n',
            ["chunk:", "grid.cohort.uptake[0]:"],
        ),
    ],
)
def test_bad_sweep_files(tmp_path, body, expected):
    out = tmp_path / "x.nc"
    r = CliRunner().invoke(main, ["sweep", _write(tmp_path, body), "-o", str(out)])
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines), r.output
    assert len(lines) == len(expected)
    for e in expected:
        assert any(e in line for line in lines), (e, r.output)
    assert "Traceback" not in r.output
    assert not out.exists() and not (tmp_path / "x.nc.chunks").exists()


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], ["--workers, --scheduler"]),
        (["--scheduler", "nonsense:::"], ["--scheduler: cannot connect"]),
        (["--grid", "cohort.uptake"], ["--grid[0]"]),
        (["--grid", "cohort.uptake=1", "--stress-file", "x.toml"], ["--grid, --stress-file"]),
    ],
)
def test_bad_sweep_options(tmp_path, extra, expected):
    out = tmp_path / "x.nc"
    r = CliRunner().invoke(
        main, ["sweep", DEALS[0], "-n", "5", "--seed", "1", "-o", str(out), *extra]
    )
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == len(expected) and all(line.startswith("error: ") for line in lines)
    for e in expected:
        assert any(e in line for line in lines), (e, r.output)
    assert not out.exists() and not (tmp_path / "x.nc.chunks").exists()


@pytest.mark.parametrize(
    "missing, extra, expected",
    [
        ("distributed", ["--workers", "2"], "--workers: needs dask.distributed"),
        ("distributed", ["--scheduler", "tcp://127.0.0.1:1"], "--scheduler: needs dask"),
        ("zarr", ["--format", "zarr"], "--format: a Zarr store is asked for"),
        ("zarr", ["-o", "x.zarr"], "--output: a Zarr store is asked for"),
    ],
)
def test_what_the_dask_extra_brings_is_asked_for_before_anything_runs(
    tmp_path, monkeypatch, missing, extra, expected
):
    """Without the dask extra (the README's plain install), --workers, --scheduler and a
    Zarr output are refused in one line naming the option and the install, before
    anything is simulated: no traceback after the run, no chunks left behind."""
    from simrisk.jobs import batch

    monkeypatch.setattr(batch, "_installed", lambda module: module != missing)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["sweep", DEALS[0], "-n", "5", "--seed", "1", *extra])
    assert r.exit_code == 1, r.output
    (line,) = r.output.strip().splitlines()
    assert line.startswith(f"error: {expected}") and "pip install -e '.[dask]'" in line
    assert list(tmp_path.iterdir()) == []
    if missing == "distributed":
        fund = str(CONFIGS / "funds" / "dsi_fund.toml")
        r = CliRunner().invoke(main, ["portfolio", fund, "-n", "5", *extra])
        assert r.exit_code == 1 and r.output.startswith(f"error: {expected}"), r.output


def test_a_large_result_without_zarr_is_written_as_netcdf(tmp_path, monkeypatch):
    """A result over the Zarr threshold left to simrisk (--format auto) goes to NetCDF-4
    where zarr is not installed, instead of failing once the sweep is done."""
    from simrisk import results

    monkeypatch.setattr(results, "ZARR_THRESHOLD", 0)
    monkeypatch.setattr(results, "find_spec", lambda module: None)
    r = CliRunner().invoke(
        main, ["sweep", DEALS[0], "-n", "5", "--seed", "1", "-o", str(tmp_path / "s.nc")]
    )
    assert r.exit_code == 0, r.output
    assert [p.name for p in tmp_path.iterdir()] == ["s.nc"]
    monkeypatch.undo()
    monkeypatch.setattr(results, "ZARR_THRESHOLD", 0)
    r = CliRunner().invoke(
        main, ["sweep", DEALS[0], "-n", "5", "--seed", "1", "-o", str(tmp_path / "t.nc")]
    )
    assert r.exit_code == 0 and (tmp_path / "t.zarr").is_dir(), r.output


def test_overwrite_keeps_the_stored_chunks_when_the_scheduler_cannot_be_reached(tmp_path):
    """--overwrite discards an interrupted run's chunks only once the sweep can run: with
    a scheduler that cannot be reached it fails with one line and the chunks stay."""
    out = tmp_path / "x.nc"
    chunks = tmp_path / "x.nc.chunks"
    chunks.mkdir()
    (chunks / "seed.txt").write_text("1\n")
    r = CliRunner().invoke(
        main,
        ["sweep", DEALS[0], "-n", "5", "-o", str(out), "--overwrite", "--scheduler", "nonsense:::"],
    )
    assert r.exit_code == 1 and r.output.strip().splitlines()[-1].startswith("error: --scheduler")
    assert (chunks / "seed.txt").exists() and not out.exists()


def test_existing_output_is_not_replaced(tmp_path):
    out = tmp_path / "x.nc"
    out.write_text("keep")
    r = CliRunner().invoke(main, ["sweep", DEALS[0], "-n", "5", "--seed", "1", "-o", str(out)])
    assert r.exit_code == 1 and "--output" in r.output
    assert out.read_text() == "keep"


def test_sweep_writes_zarr_when_asked(tmp_path):
    """The same sweep to NetCDF and to a Zarr store gives the same numbers; the store is
    written whole (no temporary left beside it)."""
    args = ["sweep", DEALS[0], "--grid", "cohort.uptake=0.8,1", "-n", "40", "--seed", "3"]
    nc = CliRunner().invoke(main, [*args, "--chunk", "20", "-o", str(tmp_path / "s.nc")])
    zr = CliRunner().invoke(main, [*args, "--chunk", "20", "-o", str(tmp_path / "s.zarr")])
    assert nc.exit_code == 0 and zr.exit_code == 0, zr.output
    a = xr.load_dataset(tmp_path / "s.nc")
    b = xr.open_zarr(tmp_path / "s.zarr").load()
    for name in METRICS:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nc", "s.zarr"]


def test_a_point_that_takes_drawn_values_out_of_range_is_warned_per_deal(tmp_path):
    """Scaling cohort.uptake (drawn from Beta(19, 1) in both deals) by 1.04 keeps the
    value as written (0.988) within 1 and takes the draws above 1/1.04 beyond it: each
    deal's line is its stress test's, from its own draws, starting with its path; the
    command warns with them, and the file and its summary keep them."""
    deals = DEALS[:2]
    points = stress_mod.load_stress_file(
        _write(
            tmp_path,
            '[[stress]]\nname = "full"\n[[stress.changes]]\npath = "cohort.uptake"\nscale = 1.04\n',
        )  # fmt: skip
    )
    plan = sw.build(deals, points, SEED, N, 16)
    expected = [
        f"{d.path}: {line}"
        for d in plan.deals
        for line in stress_mod.beyond_bounds(d.prepared, SEED, N)
    ]
    assert sw.beyond_bounds(plan) == expected
    assert [e.split(": ", 1)[0] for e in expected] == deals
    out = tmp_path / "w.nc"
    args = ["sweep", *deals, "--stress-file", str(tmp_path / "s.toml"), "-n", str(N)]
    r = CliRunner().invoke(main, [*args, "--seed", str(SEED), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert [f"warning: {e}" for e in expected] == [
        line for line in r.stderr.splitlines() if line.startswith("warning: ")
    ]
    assert xr.load_dataset(out).attrs["beyond_bounds"].splitlines() == expected
    shown = " ".join(CliRunner().invoke(main, ["summary", str(out)]).stdout.split())
    assert all(f"warning: {e}" in shown for e in expected)


def test_a_deal_s_own_stress_points_are_said_to_be_left_out_of_a_sweep(tmp_path):
    deal = tmp_path / "own.toml"
    copy_deal(DEALS[0], deal)
    with open(deal, "a", encoding="utf-8") as fh:
        fh.write('\n[[stress]]\nname = "own"\nchanges = [{ path = "cohort.uptake", set = 0.5 }]\n')
    r = CliRunner().invoke(main, ["sweep", str(deal), "-n", "4", "--seed", "1",
                                  "-o", str(tmp_path / "s.nc")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "note: own.toml: its own 1 [[stress]] point(s) are not run by a sweep (put them in "
        "the sweep file or a --stress-file)" in r.stderr
    )
    assert list(xr.load_dataset(tmp_path / "s.nc")["stress"].values) == ["base"]
