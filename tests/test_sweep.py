"""Sweeps: deals x stress points x scenarios, on any backend, resumable."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine
from simrisk.analysis import stress as stress_mod
from simrisk.analysis import sweep as sw
from simrisk.cli import main
from simrisk.distributed import ChunkStore, DaskBackend, LocalBackend

from .conftest import CONFIGS

# one deal per measurement: counterfactual, baseline (a baseline per worker), control group
DEALS = [str(CONFIGS / f"{d}.toml") for d in ("holbaek", "slagelse", "aarhus_din_vej_i_job")]
GRID = ["cohort.uptake=0.8,1", "labour.job_entry_multiplier=1.5"]
N = 40
SEED = 11


def _sweep(chunk: int, seed: int = SEED, n: int = N) -> sw.Sweep:
    return sw.build(DEALS, stress_mod.parse_grid(GRID), seed, n, chunk)


def _same(a: dict, b: dict) -> None:
    assert set(a) == set(engine.SCENARIO_METRICS) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].tobytes() == b[k].tobytes(), k


@pytest.fixture(scope="module")
def reference():
    """The in-process sweep with one chunk per point."""
    metrics, stats = sw.run_sweep(_sweep(chunk=N), LocalBackend())
    assert stats.computed == len(DEALS) * 3 and stats.reused == 0
    return metrics


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    cl = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cl)
    yield client
    client.close()
    cl.close()


def test_sweep_equals_stress_runs_of_each_deal(reference):
    """Each deal's slice is what 'simrisk stress' (engine.run per point) gives."""
    sweep = _sweep(chunk=N)
    assert sweep.stress_names[0] == "base" and len(sweep.stress_names) == 3
    for d, deal in enumerate(sweep.deals):
        ref = stress_mod.run_stress(deal.cfg, deal.prepared, SEED, N)
        for s in range(len(deal.prepared)):
            _same({k: v[d, s] for k, v in reference.items()}, ref[s])
    # and the points differ from the base (the stress is applied)
    assert not np.array_equal(
        reference["investor_profit"][0, 0], reference["investor_profit"][0, 2]
    )


@pytest.mark.parametrize("chunk", [7, 16])
def test_chunk_size_does_not_change_results(reference, chunk):
    metrics, stats = sw.run_sweep(_sweep(chunk=chunk), LocalBackend())
    assert stats.computed == len(DEALS) * 3 * -(-N // chunk)
    _same(metrics, reference)


def test_local_cluster_bitwise_equal(reference, cluster):
    backend = DaskBackend(cluster, threads=1)
    metrics, stats = sw.run_sweep(_sweep(chunk=9), backend)
    assert stats.computed == len(DEALS) * 3 * 5
    _same(metrics, reference)
    # the chunks really ran on the workers
    assert len(cluster.scheduler_info()["workers"]) == 2


def test_killed_worker_gives_same_result(reference, cluster):
    backend = DaskBackend(cluster, threads=1)
    before = set(cluster.scheduler_info()["workers"])
    killed = []

    def die():  # defined here so that it is pickled by value
        import os as _os
        import threading

        threading.Timer(0.05, _os._exit, args=(1,)).start()
        return _os.getpid()

    def kill(k):
        if k == 2:
            busy = [w for w, tasks in cluster.processing().items() if tasks]
            assert busy, "no worker had work in flight"
            cluster.run(die, workers=[busy[0]])
            killed.append(busy[0])

    metrics, stats = sw.run_sweep(_sweep(chunk=3), backend, on_chunk=kill)
    assert killed
    _same(metrics, reference)
    assert stats.computed == len(DEALS) * 3 * -(-N // 3)
    # the killed worker is gone (its nanny starts a new one on another address)
    deadline = time.time() + 20
    while killed[0] in cluster.scheduler_info()["workers"] and time.time() < deadline:
        time.sleep(0.2)
    assert killed[0] not in set(cluster.scheduler_info()["workers"])
    assert killed[0] in before


class Interrupt(Exception):
    pass


def test_resume_after_interruption(reference, tmp_path):
    chunks = tmp_path / "out.nc.chunks"
    sweep = _sweep(chunk=10)
    total = len(DEALS) * 3 * 4

    def stop(k):
        if k == 5:
            raise Interrupt

    with pytest.raises(Interrupt):
        sw.run_sweep(sweep, LocalBackend(), chunks, progress=None, on_chunk=stop)
    files = sorted(chunks.glob("*.npz"))
    assert len(files) == 5
    assert not list(chunks.glob("*.part"))
    # a corrupted chunk file is recomputed, not trusted
    files[0].write_bytes(b"not a zip file")
    computed_specs = []

    class Counting(LocalBackend):
        def run(self, specs):
            computed_specs.extend(specs)
            yield from super().run(specs)

    metrics, stats = sw.run_sweep(sweep, Counting(), chunks, resume=True)
    assert stats.reused == 4 and stats.computed == total - 4 == len(computed_specs)
    assert files[0].stem in {s.key for s in computed_specs}
    _same(metrics, reference)
    # another seed matches none of the stored chunks
    _, stats = sw.run_sweep(_sweep(chunk=10, seed=SEED + 1), LocalBackend(), chunks, resume=True)
    assert stats.reused == 0 and stats.computed == total


def test_chunk_store_roundtrip_checks_key(tmp_path):
    store = ChunkStore(tmp_path / "c")
    store.save("abc", {"x": np.arange(3.0)})
    assert np.array_equal(store.load("abc")["x"], np.arange(3.0))
    os.replace(store.path("abc"), store.path("def"))
    assert store.load("def") is None  # stored under another key: not reused


# ----------------------------------------------------------------------------- CLI
def _write_sweep(tmp_path, body: str) -> str:
    p = tmp_path / "s.toml"
    p.write_text(body, encoding="utf-8")
    return str(p)


def _sweep_file(tmp_path, chunk=20) -> str:
    deals = ", ".join(f'"{d}"' for d in DEALS[:2])
    return _write_sweep(
        tmp_path,
        f"deals = [{deals}]\nscenarios = {N}\nseed = {SEED}\nchunk = {chunk}\n"
        '[grid]\n"cohort.uptake" = [0.8, 1.0]\n"labour.job_entry_multiplier" = [1.5]\n',
    )


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
    for name in engine.SCENARIO_METRICS:
        assert a[name].values.tobytes() == b[name].values.tobytes()
        assert a[name].values.tobytes() == reference[name][:2].tobytes()
    assert not (tmp_path / "a.nc.chunks").exists()
    assert a.attrs["seed"] == SEED


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
    for name in engine.SCENARIO_METRICS:
        assert a[name].values.tobytes() == b[name].values.tobytes()


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            "deals = []\nscenarios = 0\nbogus = 1\n",
            ["deals:", "scenarios:", "bogus:"],
        ),
        (
            'deals = ["no_such_deal.toml"]\n',
            ["no_such_deal.toml: no such file"],
        ),
        (
            f'deals = ["{DEALS[0]}"]\n[grid]\n"effect.nothing_here" = [1.0]\n',
            ["holbaek.toml: stress[0].changes[0].path"],
        ),
        (
            f'deals = ["{DEALS[0]}"]\nchunk = -1\n[grid]\n"cohort.uptake" = ["a"]\n',
            ["chunk:", "grid.cohort.uptake[0]:"],
        ),
    ],
)
def test_bad_sweep_files(tmp_path, body, expected):
    out = tmp_path / "x.nc"
    r = CliRunner().invoke(main, ["sweep", _write_sweep(tmp_path, body), "-o", str(out)])
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


def test_existing_output_is_not_replaced(tmp_path):
    out = tmp_path / "x.nc"
    out.write_text("keep")
    r = CliRunner().invoke(main, ["sweep", DEALS[0], "-n", "5", "--seed", "1", "-o", str(out)])
    assert r.exit_code == 1 and "--output" in r.output
    assert out.read_text() == "keep"


def test_sweep_writes_zarr_when_asked(tmp_path):
    """The same sweep to NetCDF and to a Zarr store gives the same numbers; the store is
    written whole (no temporary left beside it)."""
    args = [
        "sweep",
        str(CONFIGS / "holbaek.toml"),
        "--grid",
        "cohort.uptake=0.8,1",
        "-n",
        "40",
        "--seed",
        "3",
        "--chunk",
        "20",
    ]
    nc = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "s.nc")])
    zr = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "s.zarr")])
    assert nc.exit_code == 0 and zr.exit_code == 0, zr.output
    a = xr.load_dataset(tmp_path / "s.nc")
    b = xr.open_zarr(tmp_path / "s.zarr").load()
    for name in ("municipal_net", "investor_profit", "payments_total"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nc", "s.zarr"]
