"""Chunks as pure tasks: their keys, the chunk store, execute(), and the backends (in
process and a dask LocalCluster), each bitwise the same as engine.run."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import simrisk
from simrisk import distributed as dist
from simrisk import engine
from simrisk.analysis import portfolio as pf
from simrisk.analysis import stress as stress_mod
from simrisk.analysis import sweep as sw
from simrisk.config import load_deal
from simrisk.distributed import ChunkSpec, ChunkStore, DaskBackend, LocalBackend
from simrisk.outputs import METRICS
from simrisk.sampling import Adjustment
from tests.conftest import CONFIGS

# one deal per measurement: counterfactual, baseline, control group
NAMES = ("holbaek", "slagelse", "aarhus_din_vej_i_job")
DEALS = [str(CONFIGS / f"{d}.toml") for d in NAMES]
GRID = ["cohort.uptake=0.8,1", "labour.job_entry_multiplier=1.5"]
N = 40
SEED = 11
MULT = ("labour", "job_entry_multiplier")


@pytest.fixture(scope="module")
def deals():
    return {name: load_deal(path)[0] for name, path in zip(NAMES, DEALS, strict=True)}


@pytest.fixture(scope="module")
def runs(deals):
    """engine.run of every deal with the sweep's seed: what every chunk must reproduce."""
    return {name: engine.run(cfg, SEED, N).metrics for name, cfg in deals.items()}


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(METRICS) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].tobytes() == b[k].tobytes(), k


def _sweep(chunk: int, seed: int = SEED) -> sw.Sweep:
    return sw.build(DEALS, stress_mod.parse_grid(GRID), seed, N, chunk)


def _sweep_vs_runs(metrics: dict, runs: dict) -> None:
    """The base point (stress 0) of every deal is engine.run of the deal."""
    for d, name in enumerate(NAMES):
        _same({k: v[d, 0] for k, v in metrics.items()}, runs[name])


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ------------------------------------------------------------------------------- keys
def test_split_covers_every_scenario_once():
    assert dist.split(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert dist.split(8, 4) == [(0, 4), (4, 4)]
    assert dist.split(3, 10) == [(0, 3)]


def test_a_chunk_key_names_everything_that_changes_its_numbers(deals):
    cfg, other = deals["holbaek"], deals["slagelse"]
    adj = (Adjustment(MULT, "scale", 0.7),)
    base = ChunkSpec(cfg, 1, 100, 0, 50, adj, cfg)
    assert ChunkSpec(cfg, 1, 100, 0, 50, adj, cfg).key == base.key
    variants = {
        "deal": ChunkSpec(other, 1, 100, 0, 50, adj, cfg),
        "baseline deal": ChunkSpec(cfg, 1, 100, 0, 50, adj, other),
        "no baseline deal": ChunkSpec(cfg, 1, 100, 0, 50, adj, None),
        "seed": ChunkSpec(cfg, 2, 100, 0, 50, adj, cfg),
        "scenarios in the run": ChunkSpec(cfg, 1, 101, 0, 50, adj, cfg),
        "first scenario": ChunkSpec(cfg, 1, 100, 50, 50, adj, cfg),
        "size": ChunkSpec(cfg, 1, 100, 0, 49, adj, cfg),
        "value": ChunkSpec(cfg, 1, 100, 0, 50, (Adjustment(MULT, "scale", 0.7000001),), cfg),
        "operation": ChunkSpec(cfg, 1, 100, 0, 50, (Adjustment(MULT, "set", 0.7),), cfg),
        "no adjustment": ChunkSpec(cfg, 1, 100, 0, 50, (), cfg),
    }
    keys = {name: s.key for name, s in variants.items()}
    assert base.key not in keys.values()
    assert len(set(keys.values())) == len(keys)
    # the thread count never changes a number, so not the key either
    assert ChunkSpec(cfg, 1, 100, 0, 50, adj, cfg, threads=3).key == base.key


def test_an_array_adjustment_is_keyed_by_its_content(deals):
    cfg = deals["holbaek"]
    factor = np.linspace(0.5, 1.5, 20)

    def key(values):
        return ChunkSpec(cfg, 1, 20, 0, 20, (Adjustment(MULT, "scale", values),)).key

    strided = np.repeat(factor, 2)[::2]  # the same values, not contiguous
    assert key(factor) == key(factor.copy()) == key(strided)
    changed = factor.copy()
    changed[7] = np.nextafter(changed[7], 2.0)
    assert key(changed) != key(factor)
    assert key(factor[:19]) != key(factor)


def test_the_key_changes_with_the_version(deals, monkeypatch):
    spec = ChunkSpec(deals["holbaek"], 1, 10, 0, 10)
    monkeypatch.setattr(simrisk, "__version__", simrisk.__version__ + ".other")
    assert dist.chunk_key(spec) != spec.key
    monkeypatch.undo()
    monkeypatch.setattr(dist, "KEY_VERSION", dist.KEY_VERSION + 1)
    assert dist.chunk_key(spec) != spec.key


# ------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("name", NAMES)
def test_chunks_put_together_are_engine_run(deals, runs, name):
    """Any split of the scenarios: each chunk is engine.run restricted to its scenarios
    (structure and baseline rebuilt by the chunk, draws and streams by scenario index)."""
    cfg = deals[name]
    for chunk in (N, 7):
        parts = [
            dist.compute_chunk(ChunkSpec(cfg, SEED, N, s0, m)) for s0, m in dist.split(N, chunk)
        ]
        _same(_concat(parts), runs[name])


def test_a_per_scenario_adjustment_is_sliced_by_chunk(deals):
    cfg = deals["holbaek"]
    factor = np.exp(0.3 * np.random.default_rng(0).standard_normal(N))
    ref = engine.run(cfg, SEED, N, adjust=[Adjustment(MULT, "scale", factor)]).metrics
    parts = [
        dist.compute_chunk(
            ChunkSpec(cfg, SEED, N, s0, m, (Adjustment(MULT, "scale", factor[s0 : s0 + m]),))
        )
        for s0, m in dist.split(N, 16)
    ]
    _same(_concat(parts), ref)
    assert not np.array_equal(
        ref["investor_profit"], engine.run(cfg, SEED, N).metrics["investor_profit"]
    )


def test_a_stress_chunk_uses_the_baseline_of_its_base_deal(deals):
    """slagelse is measured against a baseline: a chunk of a stressed copy of the deal
    with base_cfg = the deal keeps the deal's baseline (as 'simrisk stress' does)."""
    cfg = deals["slagelse"]
    point = stress_mod.prepare(cfg, stress_mod.default_stresses(cfg))[-1]  # calendar shock
    assert point.name == "labour-market shock" and point.cfg is not cfg
    ref = stress_mod.run_stress(cfg, [point], SEED, N)[0]
    _same(dist.compute_chunk(ChunkSpec(point.cfg, SEED, N, 0, N, (), cfg)), ref)
    own = dist.compute_chunk(ChunkSpec(point.cfg, SEED, N, 0, N, (), None))
    assert not np.array_equal(own["savings_measured"], ref["savings_measured"])


# -------------------------------------------------------------------------- the store
def _chunk_metrics(m: int = 3) -> dict[str, np.ndarray]:
    """A chunk's metrics with the expected names and types (values arbitrary)."""
    from simrisk.metrics import METRIC_DTYPES

    return {k: np.arange(m).astype(d) for k, d in METRIC_DTYPES.items()}


def test_chunk_store_round_trip_and_verification(tmp_path):
    store = ChunkStore(tmp_path / "c")
    metrics = _chunk_metrics()
    store.save("abc", metrics)
    got, why = store.load("abc", 3)
    assert why == "" and set(got) == set(metrics)
    for k in metrics:
        assert got[k].dtype == metrics[k].dtype and got[k].tobytes() == metrics[k].tobytes()
    assert store.load("nothing") == (None, "")
    # a file stored under another key is not trusted
    store.path("abc").rename(store.path("def"))
    assert store.load("def") == (None, "its key is another chunk's")
    # nor an unreadable one
    store.path("ghi").write_bytes(b"not a zip file")
    assert store.load("ghi") == (None, "unreadable")
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["def.npz", "ghi.npz"]


def _tampered(store, key, change):
    """Rewrite a stored chunk with ``change(arrays)`` applied, keeping its key and sum."""
    with np.load(store.path(key)) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(store.path(key), "wb") as fh:
        np.savez(fh, **arrays)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda a: a.__setitem__("payments_total", a["payments_total"] + 1.0), "checksum"),
        (lambda a: a.__setitem__("__key__", np.array("other")), "another chunk"),
        (lambda a: a.pop("municipal_net"), "checksum"),
        (lambda a: a.__setitem__("savings_true", a["savings_true"].astype(np.float32)), "checksum"),
    ],
)
def test_the_store_rejects_edited_chunks(tmp_path, change, why):
    """An edited value, a copied key, a missing variable or another type: not reused."""
    store = ChunkStore(tmp_path)
    store.save("k1", _chunk_metrics())
    _tampered(store, "k1", change)
    got, reason = store.load("k1", 3)
    assert got is None and why in reason


def test_the_store_rejects_a_consistent_chunk_of_the_wrong_shape(tmp_path):
    """Re-summed after editing (so the checksum holds), a chunk that lacks a metric, has
    another type or another length is still refused."""
    store = ChunkStore(tmp_path)
    m = _chunk_metrics()
    bad = dict(m)
    bad.pop("municipal_net")
    store.save("a", bad)
    assert store.load("a", 3)[1] == "its metrics are not the expected ones"
    bad = dict(m, savings_true=m["savings_true"].astype(np.float32))
    store.save("b", bad)
    assert "wrong type" in store.load("b", 3)[1]
    store.save("c", m)
    assert "wrong type or length" in store.load("c", 4)[1]


def test_a_failed_save_leaves_no_file(tmp_path, monkeypatch):
    store = ChunkStore(tmp_path)

    def broken(fh, **arrays):
        fh.write(b"PK half a file")
        raise OSError("disk full")

    monkeypatch.setattr(dist.np, "savez", broken)
    with pytest.raises(OSError):
        store.save("abc", {"x": np.arange(3.0)})
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- execute
class Counting(LocalBackend):
    def __init__(self):
        self.specs = []

    def run(self, specs):
        self.specs.extend(specs)
        yield from super().run(specs)


def test_execute_computes_each_key_once(deals):
    cfg = deals["holbaek"]
    a = ChunkSpec(cfg, SEED, N, 0, 20)
    b = ChunkSpec(cfg, SEED, N, 20, 20)
    backend = Counting()
    done = []
    results, stats = dist.execute(
        [a, b, ChunkSpec(cfg, SEED, N, 0, 20)], backend, progress=done.append
    )
    assert [s.key for s in backend.specs] == [a.key, b.key]
    assert stats.computed == 2 and stats.reused == 0 and done == [1, 1]
    assert set(results) == {a.key, b.key}


class Interrupt(Exception):
    pass


def test_resume_after_interruption_reuses_the_stored_chunks(tmp_path, runs):
    chunks = tmp_path / "out.nc.chunks"
    sweep = _sweep(chunk=10)
    total = len(DEALS) * 3 * 4

    def stop(k):
        if k == 5:
            raise Interrupt

    with pytest.raises(Interrupt):
        sw.run_sweep(sweep, LocalBackend(), chunks, on_chunk=stop)
    files = sorted(chunks.glob("*.npz"))
    assert len(files) == 5 and len(list(chunks.iterdir())) == 6
    assert (chunks / "seed.txt").read_text() == f"{SEED}\n"  # the run's seed, beside them
    files[0].write_bytes(b"not a zip file")  # a damaged chunk is computed again
    backend = Counting()
    done = []
    metrics, stats = sw.run_sweep(sweep, backend, chunks, resume=True, progress=done.append)
    assert stats.reused == 4 and stats.computed == total - 4 == len(backend.specs)
    assert len(done) == total
    assert files[0].stem in {s.key for s in backend.specs}
    assert {f.stem for f in files[1:]}.isdisjoint(s.key for s in backend.specs)
    _sweep_vs_runs(metrics, runs)
    assert len(list(chunks.glob("*.npz"))) == total
    # without resume nothing is reused; another seed matches none of the stored chunks
    _, stats = sw.run_sweep(sweep, LocalBackend(), chunks)
    assert stats.reused == 0
    _, stats = sw.run_sweep(_sweep(chunk=10, seed=SEED + 1), LocalBackend(), chunks, resume=True)
    assert stats.reused == 0 and stats.computed == total


# ----------------------------------------------------------------------------- backends
def test_backend_from_options():
    assert isinstance(dist.backend_from_options(None, None), LocalBackend)
    with pytest.raises(ValueError, match="--workers, --scheduler: give one of them, not both"):
        dist.backend_from_options(2, "tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="--scheduler: cannot connect to 'nonsense:::'"):
        DaskBackend.connect("nonsense:::", timeout=2)


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of two worker processes for the whole module (slow to start),
    as ``--workers 2`` starts it."""
    backend = DaskBackend.local(2)
    yield backend.client
    backend.close()


def test_embedded_workers_keep_the_adaptive_malloc(client):
    """dask's nanny would set MALLOC_TRIM_THRESHOLD_, which turns off glibc's adaptive
    mmap threshold (every large array then page-faults afresh)."""
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ, "set in this process: workers inherit it"
    env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(env) == 2
    assert set(env.values()) == {None}


def test_local_cluster_sweep_is_bitwise_engine_run(client, runs):
    backend = DaskBackend(client, threads=1)
    metrics, stats = sw.run_sweep(_sweep(chunk=9), backend)
    assert stats.computed == len(DEALS) * 3 * 5
    _sweep_vs_runs(metrics, runs)
    local, _ = sw.run_sweep(_sweep(chunk=N), LocalBackend())
    for k in METRICS:
        assert metrics[k].tobytes() == local[k].tobytes(), k
    assert len(client.scheduler_info()["workers"]) == 2


def test_local_cluster_portfolio_is_the_in_process_one(client):
    ff = pf.FundFile.model_validate(
        {
            "name": "f",
            "macro": {"sigma": 0.3, "rho": 0.6},
            "holdings": [{"deal": DEALS[0], "capital": 1e6}, {"deal": DEALS[1], "capital": 2e6}],
        }
    )
    a, mult_a = pf.run_portfolio(pf.build(ff, SEED, N, 16), DaskBackend(client, threads=1))
    b, mult_b = pf.run_portfolio(pf.build(ff, SEED, N, N), LocalBackend())
    assert mult_a.tobytes() == mult_b.tobytes()
    for k in pf.DEAL_METRICS:
        assert a[k].tobytes() == b[k].tobytes(), k


def test_a_killed_worker_gives_the_same_result(client, runs):
    """Dask reruns the chunks of a worker that dies; chunks are pure, so nothing changes.
    (Last in the module: the cluster's nanny replaces the worker.)"""
    backend = DaskBackend(client, threads=1)
    before = set(client.scheduler_info()["workers"])
    killed = []

    def die():  # defined here so that it is pickled by value
        import os as _os
        import threading

        threading.Timer(0.05, _os._exit, args=(1,)).start()
        return _os.getpid()

    def kill(k):
        if k == 2:
            busy = [w for w, tasks in client.processing().items() if tasks]
            assert busy, "no worker had work in flight"
            client.run(die, workers=[busy[0]])
            killed.append(busy[0])

    metrics, stats = sw.run_sweep(_sweep(chunk=3), backend, on_chunk=kill)
    assert killed and killed[0] in before
    assert stats.computed == len(DEALS) * 3 * -(-N // 3)
    _sweep_vs_runs(metrics, runs)
    deadline = time.time() + 20
    while killed[0] in client.scheduler_info()["workers"] and time.time() < deadline:
        time.sleep(0.2)
    assert killed[0] not in client.scheduler_info()["workers"]
    # the nanny's replacement starts from the same environment, without the trim threshold
    while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline + 20:
        time.sleep(0.2)
    env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(env) == 2 and set(env.values()) == {None}


def test_a_kept_seed_is_read_back_only_if_it_is_a_seed(tmp_path):
    """The seed kept beside a sweep's chunks is used by a resumed run only if it is a
    whole number from 0 to 2^63 - 1; anything else (or no file) reads as no seed."""
    store = ChunkStore(tmp_path)
    assert store.load_seed() is None
    for text, seed in [("42\n", 42), (f"{2**63 - 1}\n", 2**63 - 1), ("-3\n", None),
                       (f"{2**63}\n", None), ("abc\n", None), ("", None)]:  # fmt: skip
        (tmp_path / "seed.txt").write_text(text)
        assert store.load_seed() == seed, text
