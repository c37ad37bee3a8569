"""Chunks of scenarios as pure tasks, and the backends that run them.

A chunk is one deal (a stress point of it, with its adjustments) for the
scenarios ``[scen0, scen0 + m)`` of a run with ``n_total`` scenarios and a seed.
:func:`compute_chunk` rebuilds everything scenario-independent (structure,
baseline; cached per process) and calls the engine's own chunk code, so a
chunk's per-scenario metrics are bitwise those of ``engine.run`` for the same
scenarios, whatever backend, worker count or chunk size computes them.

Backends: :class:`LocalBackend` (in-process, one chunk after the other) and
:class:`DaskBackend` (a dask.distributed client: an embedded ``LocalCluster`` or
an existing scheduler). Dask reruns the tasks of a worker that dies; since the
tasks are pure, the result does not change.

:class:`ChunkStore` keeps finished chunks on disk (one ``.npz`` per chunk,
written atomically, named by the chunk's content key) so an interrupted run can
resume.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import simrisk
from simrisk import engine, parallel, rng, simulation
from simrisk.config import DealConfig
from simrisk.contracts import compute_baseline
from simrisk.files import atomic_write
from simrisk.metrics import METRIC_DTYPES
from simrisk.sampling import Adjustment, Sampler
from simrisk.vocabulary import BASELINE_READINGS

KEY_VERSION = 4  # bump when the chunk format, the key's contents or the numbers change


# --------------------------------------------------------------------------- chunks
def _cfg_json(cfg: DealConfig) -> str:
    return cfg.model_dump_json(by_alias=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _adjust_repr(adjust: Iterable[Adjustment]) -> list:
    out = []
    for a in adjust:
        value = a.value
        if isinstance(value, np.ndarray):
            arr = np.ascontiguousarray(value, dtype=np.float64)
            value = {"shape": list(arr.shape), "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
        else:
            value = float(value).hex()
        out.append([[str(p) for p in a.path], a.op, value])
    return out


@dataclass(frozen=True)
class ChunkSpec:
    """One chunk of work: a (stressed) deal for scenarios ``[scen0, scen0 + m)``.

    ``base_cfg`` is the deal whose baseline a ``baseline``-measured contract uses (the
    unstressed deal, as in :func:`simrisk.analysis.stress.run_stress`); ``adjust``
    lists :class:`~simrisk.sampling.Adjustment` applied after drawing; an adjustment's value may
    be an array of this chunk's ``m`` scenario values (a per-scenario factor).
    ``threads`` sets numba's thread count in the process that runs it (never changes
    a number).
    """

    cfg: DealConfig
    seed: int
    n_total: int
    scen0: int
    m: int
    adjust: tuple = ()
    base_cfg: DealConfig | None = None
    threads: int | None = None
    key: str = field(default="", compare=False)

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", chunk_key(self))


def chunk_key(spec: ChunkSpec) -> str:
    """Content key of a chunk: the deal, its baseline deal, adjustments, seed, scenario
    range, number of scenarios in the run, simrisk version and key version."""
    payload = {
        "deal": _digest(_cfg_json(spec.cfg)),
        "base": _digest(_cfg_json(spec.base_cfg)) if spec.base_cfg is not None else None,
        "adjust": _adjust_repr(spec.adjust),
        "seed": int(spec.seed),
        "n_total": int(spec.n_total),
        "scen0": int(spec.scen0),
        "m": int(spec.m),
        "version": simrisk.__version__,
        "key_version": KEY_VERSION,
    }
    return _digest(json.dumps(payload, sort_keys=True))


def split(n_total: int, chunk: int) -> list[tuple[int, int]]:
    """Scenario ranges ``(scen0, m)`` covering ``[0, n_total)``."""
    return [(s, min(chunk, n_total - s)) for s in range(0, n_total, chunk)]


_CACHE: dict[tuple, object] = {}
_CACHE_MAX = 64
_CACHE_LOCK = threading.RLock()


def _cached(kind: str, cfg: DealConfig, make: Callable):
    key = (kind, _digest(_cfg_json(cfg)))
    with _CACHE_LOCK:  # chunks may run in several threads
        if key not in _CACHE:
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = make()
        return _CACHE[key]


def compute_chunk(spec: ChunkSpec) -> dict[str, np.ndarray]:
    """Per-scenario metrics of one chunk (:data:`simrisk.outputs.METRICS`).

    Identical to ``engine.run(spec.cfg, spec.seed, spec.n_total, adjust=...,
    baseline=...).metrics`` restricted to the chunk's scenarios.
    """
    parallel.set_threads(spec.threads)
    cfg = spec.cfg
    st = _cached("structure", cfg, lambda: simulation.build_structure(cfg))
    baseline = None
    if cfg.contract.measurement in BASELINE_READINGS:
        base = spec.base_cfg if spec.base_cfg is not None else cfg
        baseline = _cached(
            "baseline",
            base,
            lambda: compute_baseline(
                base, _cached("structure", base, lambda: simulation.build_structure(base))
            ),
        )
    sampler = Sampler(cfg, spec.seed, spec.n_total)
    key = rng.seed_key(spec.seed)
    out: dict[str, np.ndarray] = {}
    for s0, res, _ in engine.chunk_stream(
        cfg, st, sampler, key, spec.scen0, spec.m, baseline,
        adjust=lambda s0, k: [_slice(a, s0, k) for a in spec.adjust] or None,
    ):  # fmt: skip
        for name, val in res.metrics.items():
            if name not in out:
                out[name] = np.empty(spec.m, dtype=val.dtype)
            out[name][s0 : s0 + val.shape[0]] = val
    return out


def _slice(a: Adjustment, s0: int, k: int) -> Adjustment:
    if isinstance(a.value, np.ndarray):
        return Adjustment(a.path, a.op, a.value[s0 : s0 + k])
    return a


# --------------------------------------------------------------------------- backends
class LocalBackend:
    """Runs chunks in this process, in order; with several numba threads, chunks run
    concurrently in a pool of threads (:func:`simrisk.parallel.in_order`)."""

    name = "in-process"

    def run(self, specs: list[ChunkSpec]) -> Iterator[tuple[ChunkSpec, dict]]:
        yield from parallel.in_order(lambda spec: (spec, compute_chunk(spec)), specs)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


NANNY_ENVIRON = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
"""dask configuration for the worker processes of an embedded cluster. dask's nanny sets
``MALLOC_TRIM_THRESHOLD_=65536`` in its workers' environment so that they give freed
memory back to the system. Setting it also turns off glibc's adjustment of its mmap
threshold, so every array above 128 KiB gets fresh pages from the system, and a chunk's
many large numpy temporaries then cost page faults and zeroing: a sweep on one worker
took 2.83 times as long as in-process (198.6 s against 70.2 s). A worker of a cluster
you start yourself keeps the setting unless its configuration says ``null`` for it
(README, "--workers and --scheduler")."""


class DaskBackend:
    """Runs chunks on a dask.distributed cluster; results are yielded as they finish.

    ``threads`` is the numba thread count each chunk sets in its worker process (for an
    embedded cluster: the cores this process may use, divided among the workers; for a
    cluster you connect to: 1, since its workers' own threads run chunks side by side)."""

    def __init__(self, client, cluster=None, threads: int | None = None, name: str = "dask"):
        self.client = client
        self.cluster = cluster
        self.threads = threads
        self.name = name

    @classmethod
    def local(cls, workers: int) -> DaskBackend:
        """An embedded LocalCluster of ``workers`` processes with one thread each.

        The workers start without the ``MALLOC_TRIM_THRESHOLD_`` that dask's nanny
        otherwise sets (:data:`NANNY_ENVIRON`)."""
        import logging

        import dask
        from distributed import Client, LocalCluster

        with dask.config.set(NANNY_ENVIRON):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",  # the local machine only
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
        threads = max(1, parallel.usable_cores() // workers)
        return cls(client, cluster, threads, f"LocalCluster with {workers} worker(s)")

    @classmethod
    def connect(cls, address: str, timeout: float = 10.0) -> DaskBackend:
        """Connect to an existing scheduler; raises ValueError naming the option."""
        from distributed import Client

        try:
            client = Client(address, timeout=timeout)
        except Exception as exc:  # OSError, TimeoutError, ValueError for a bad address
            raise ValueError(f"--scheduler: cannot connect to '{address}' ({exc})") from None
        return cls(client, None, 1, f"dask scheduler {address}")

    def run(self, specs: list[ChunkSpec]) -> Iterator[tuple[ChunkSpec, dict]]:
        from distributed import as_completed

        if self.threads is not None:
            specs = [_with_threads(s, self.threads) for s in specs]
        futures = {}
        for spec in specs:
            fut = self.client.submit(compute_chunk, spec, key=f"simrisk-chunk-{spec.key}")
            futures[fut.key] = (fut, spec)
        try:
            for fut in as_completed([f for f, _ in futures.values()]):
                res = fut.result()
                yield futures[fut.key][1], res
                fut.release()
        finally:
            for fut, _ in futures.values():
                fut.cancel()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _with_threads(spec: ChunkSpec, threads: int) -> ChunkSpec:
    return ChunkSpec(
        spec.cfg,
        spec.seed,
        spec.n_total,
        spec.scen0,
        spec.m,
        spec.adjust,
        spec.base_cfg,
        threads,
        key=spec.key,
    )


def backend_from_options(workers: int | None, scheduler: str | None):
    """The backend the CLI's ``--workers`` / ``--scheduler`` ask for."""
    if workers is not None and scheduler is not None:
        raise ValueError("--workers, --scheduler: give one of them, not both")
    if scheduler is not None:
        return DaskBackend.connect(scheduler)
    if workers is not None:
        return DaskBackend.local(workers)
    return LocalBackend()


# --------------------------------------------------------------------------- store
SEED_FILE = "seed.txt"
"""Beside the chunks, the seed of the run that stored them."""


class ChunkStore:
    """Finished chunks on disk: ``DIR/KEY.npz``, each written to a temporary file and
    renamed, so a chunk file is either complete or absent.

    A chunk carries its key (which digests the deal, the seed, the scenario range and the
    simrisk version) and a SHA-256 checksum of its key and content; :meth:`load` reuses a
    chunk only if both verify and every metric has the expected name, type and length.
    With ``seed``, the run's seed is kept beside the chunks (``SEED_FILE``), written with
    this store's first chunk.
    """

    def __init__(self, directory: str | Path, seed: int | None = None):
        self.dir = Path(directory)
        self.seed = seed
        self._seed_kept = False

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.npz"

    def keys(self) -> set[str]:
        """The keys of the chunk files on disk."""
        return {p.stem for p in self.dir.glob("*.npz")} if self.dir.is_dir() else set()

    def load_seed(self) -> int | None:
        """The seed kept beside the chunks, or None if there is none (or it is unreadable, or
        not a seed: 0 to 2^63 - 1)."""
        try:
            seed = int((self.dir / SEED_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return seed if 0 <= seed < 2**63 else None

    @staticmethod
    def checksum(key: str, metrics: dict[str, np.ndarray]) -> str:
        h = hashlib.sha256(key.encode())
        for name in sorted(metrics):
            a = np.ascontiguousarray(metrics[name])
            h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def load(self, key: str, m: int | None = None) -> tuple[dict[str, np.ndarray] | None, str]:
        """The stored metrics of chunk ``key`` (of ``m`` scenarios), or None and why not
        ('' if there is no such chunk)."""
        p = self.path(key)
        if not p.exists():
            return None, ""
        try:
            with np.load(p, allow_pickle=False) as z:
                stored_key = str(z["__key__"])
                stored_sum = str(z["__sha256__"])
                metrics = {k: z[k] for k in z.files if not k.startswith("__")}
        except Exception:  # unreadable or incomplete
            return None, "unreadable"
        if stored_key != key:
            return None, "its key is another chunk's"
        if self.checksum(key, metrics) != stored_sum:
            return None, "its content does not match its checksum"
        if set(metrics) != set(METRIC_DTYPES):
            return None, "its metrics are not the expected ones"
        for name, dtype in METRIC_DTYPES.items():
            a = metrics[name]
            if a.dtype != dtype or a.ndim != 1 or (m is not None and a.shape[0] != m):
                return None, f"{name} has the wrong type or length"
        return metrics, ""

    def save(self, key: str, metrics: dict[str, np.ndarray]) -> None:
        if self.seed is not None and not self._seed_kept:  # so that a resumed run uses it
            text = f"{self.seed}\n"
            atomic_write(self.dir / SEED_FILE, lambda tmp: tmp.write_text(text), overwrite=True)
            self._seed_kept = True

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    __key__=np.array(key),
                    __sha256__=np.array(self.checksum(key, metrics)),
                    **metrics,
                )

        atomic_write(self.path(key), write, overwrite=True)


@dataclass
class Stats:
    computed: int = 0
    reused: int = 0
    rejected: list[str] = field(default_factory=list)


def execute(
    specs: list[ChunkSpec],
    backend,
    store: ChunkStore | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], Stats]:
    """Results of every chunk by key, reusing stored chunks when ``resume``.

    Chunks with the same key are computed once. ``progress(1)`` is called for each
    finished (or reused) chunk; ``on_chunk(k)`` after the k-th computed chunk (a hook for
    tests: interrupting, killing a worker)."""
    unique: dict[str, ChunkSpec] = {}
    for s in specs:
        unique.setdefault(s.key, s)
    results: dict[str, dict[str, np.ndarray]] = {}
    stats = Stats()
    todo = []
    for key, spec in unique.items():
        got = None
        if store is not None and resume:
            got, why = store.load(key, spec.m)
            if why:
                stats.rejected.append(f"{store.path(key).name}: {why}")
        if got is not None:
            results[key] = got
            stats.reused += 1
            if progress is not None:
                progress(1)
        else:
            todo.append(spec)
    for spec, res in backend.run(todo):
        if store is not None:
            store.save(spec.key, res)
        results[spec.key] = res
        stats.computed += 1
        if progress is not None:
            progress(1)
        if on_chunk is not None:
            on_chunk(stats.computed)
    return results, stats
