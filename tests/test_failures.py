"""Failures of whole commands, as a user meets them: one line per problem, exit code 1
(130 when interrupted), no traceback, nothing half-written; outputs held by one writer;
other kinds of simrisk file refused by name; what reaches the terminal is escaped.

These run the installed ``simrisk`` entry point in subprocesses where signals or a
second process are involved, and click's CliRunner otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine, netcdf, resources
from simrisk.analysis import solve
from simrisk.cli import main
from simrisk.config import load_deal, parse_deal
from simrisk.distributed import ChunkStore
from simrisk.outputs import FLOWS, METRICS
from simrisk.simulation.inputs import simulated_weeks
from tests.conftest import CONFIGS, load_raw, write_toml

HOLBAEK = CONFIGS / "holbaek.toml"
SIMRISK = [sys.executable, "-c", "from simrisk.cli import entry; entry()"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert len(lines) >= 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_sigterm_during_a_run_removes_what_was_being_written(tmp_path):
    out = tmp_path / "r.nc"
    proc = subprocess.Popen(
        [*SIMRISK, "run", str(HOLBAEK), "-n", "200000", "--seed", "1", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = tmp_path / ".r.nc.lock"
    for _ in range(600):  # the lock appears once the deal is loaded, before the work
        if lock.exists():
            break
        time.sleep(0.1)
    assert lock.exists()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no output, no lock, no .part


def test_an_interruption_swallowed_on_the_way_still_stops_the_work(tmp_path, holbaek):
    """A signal that arrives while numba compiles raises inside a ctypes callback, which
    swallows the exception: the request is kept, and the run stops after its chunk, and
    an output is not put in place."""
    from simrisk import engine, files, interrupt

    try:
        interrupt.request()
    except KeyboardInterrupt:
        pass  # swallowed, as llvmlite's callback does
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.run(holbaek, seed=1, n_scenarios=20, chunk=10)
        out = tmp_path / "x.txt"
        with pytest.raises(KeyboardInterrupt):
            files.atomic_write(out, lambda tmp: tmp.write_text("half"))
        assert list(tmp_path.iterdir()) == []
    finally:
        interrupt.clear()
    # without a request, both go through
    engine.run(holbaek, seed=1, n_scenarios=20, chunk=10)
    files.atomic_write(out, lambda tmp: tmp.write_text("whole"))
    assert out.read_text() == "whole"


def test_a_signal_inside_llvmlite_is_kept_for_later_not_raised_there():
    """Inside llvmlite (numba compiling) the handler only records the request, so that no
    swallowed exception prints a traceback; elsewhere it raises at once; either way
    check() raises it afterwards."""
    from simrisk import interrupt

    ns: dict = {}
    code = compile("import sys\ninner = sys._getframe()", "/x/llvmlite/binding/ee.py", "exec")
    exec(code, ns)  # a frame whose code lives in llvmlite, as in its ctypes callback
    try:
        interrupt.request(15, ns["inner"])  # returns: nothing raised inside llvmlite
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        interrupt.clear()
        with pytest.raises(KeyboardInterrupt):
            interrupt.request(15, sys._getframe())
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    finally:
        interrupt.clear()


def test_a_second_run_to_the_same_output_is_refused_while_the_first_runs(tmp_path):
    out = tmp_path / "r.nc"
    first = subprocess.Popen(
        [*SIMRISK, "run", str(HOLBAEK), "-n", "1000000", "--seed", "1", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if (tmp_path / ".r.nc.lock").exists():
                break
            time.sleep(0.1)
        second = invoke("run", HOLBAEK, "-n", 10, "--seed", 1, "-o", out, "--overwrite")
        line = one_error(second)
        assert f"pid {first.pid}" in line and "being written by another simrisk process" in line
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)
    assert not out.exists()


def test_a_killed_writer_leaves_nothing_the_next_run_trips_on(tmp_path):
    out = tmp_path / "r.nc"
    (tmp_path / ".r.nc.lock").write_text("999999999")  # a writer that is gone
    (tmp_path / ".r.nc.999999999.abc.part").write_text("half a file")
    result = invoke("run", HOLBAEK, "-n", 8, "--seed", 1, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


@pytest.mark.parametrize("command", ["run", "stress"])
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, command):
    """run writes its file with simrisk.netcdf, the other commands with xarray."""

    def full(_contents_or_dataset, path, *args, **kw):
        open(path, "wb").write(b"partial")
        raise RuntimeError("NetCDF: HDF error")

    if command == "run":
        monkeypatch.setattr(netcdf, "write", full)
    else:
        monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    out = tmp_path / "r.nc"
    line = one_error(invoke(command, HOLBAEK, "-n", 8, "--seed", 1, "-o", out))
    assert "r.nc: writing failed (NetCDF: HDF error)" in line
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_that_cannot_be_written_fails_before_simulating(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    t0 = time.perf_counter()
    line = one_error(invoke("run", HOLBAEK, "-n", 100000, "--seed", 1, "-o", blocker / "r.nc"))
    assert "cannot write here" in line
    assert time.perf_counter() - t0 < 10  # no simulation happened


@pytest.fixture(scope="module")
def stress_and_sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("kinds")
    assert invoke("stress", HOLBAEK, "-n", 8, "--seed", 1, "-o", d / "s.nc").exit_code == 0
    r = invoke(
        "sweep", HOLBAEK, "--grid", "cohort.uptake=0.9", "-n", 8, "--seed", 1, "-o", d / "w.nc"
    )
    assert r.exit_code == 0, r.stderr
    return d / "s.nc", d / "w.nc"


@pytest.mark.parametrize("which", [0, 1])
def test_summary_of_stress_and_sweep_files_and_report_naming_their_kind(
    stress_and_sweep, tmp_path, which
):
    """summary prints a stress or sweep file's table of points, as the command did (its
    JSON the same rows); --drivers, and report of a sweep file, name the kind instead."""
    path = stress_and_sweep[which]
    kind = ("stress file of 'simrisk stress'", "sweep file of 'simrisk sweep'")[which]
    made = invoke(*(
        ("stress", HOLBAEK, "-n", 8, "--seed", 1, "-o", tmp_path / "again.nc", "--json")
        if which == 0 else
        ("sweep", HOLBAEK, "--grid", "cohort.uptake=0.9", "-n", 8, "--seed", 1, "-o",
         tmp_path / "again.nc", "--json")
    ))  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = invoke("summary", path, "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["points"]
    expected = json.loads(made.stdout)
    assert rows == expected["points"]
    # the whole JSON as the command gave it: the points, the deal, seed, scenarios, notes
    again = json.loads(invoke("summary", tmp_path / "again.nc", "--json").stdout)
    assert again == expected and again["kind"] == ("stress", "sweep")[which]
    text = invoke("summary", path)
    assert text.exit_code == 0 and "base" in text.stdout and "deadweight" in text.stdout
    assert kind in one_error(invoke("summary", path, "--drivers"))
    if which == 1:
        assert kind in one_error(invoke("report", path, "-o", tmp_path / "rep"))
        assert not (tmp_path / "rep").exists()


def test_a_partial_results_file_is_refused_by_what_it_lacks(tmp_path):
    out = tmp_path / "r.nc"
    assert invoke("run", HOLBAEK, "-n", 8, "--seed", 1, "-o", out).exit_code == 0
    ds = xr.load_dataset(out).drop_vars("municipal_net")
    ds.to_netcdf(tmp_path / "partial.nc")
    assert "no municipal_net" in one_error(invoke("summary", tmp_path / "partial.nc"))
    assert "no municipal_net" in one_error(
        invoke("report", tmp_path / "partial.nc", "-o", tmp_path / "x")
    )


def test_escape_sequences_in_a_deal_name_do_not_reach_the_terminal(tmp_path):
    raw = load_raw("holbaek")
    raw["deal"]["name"] = "Evil \x1b[2J\x1b]0;owned\x07 [bold]deal[/bold]"
    deal = tmp_path / "evil.toml"
    write_toml(deal, raw)
    result = invoke("run", deal, "-n", 8, "--seed", 1, "-o", tmp_path / "e.nc")
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[2J" in result.stdout and "[bold]deal[/bold]" in result.stdout


def test_a_run_too_large_for_the_memory_is_refused_before_it_starts(monkeypatch, tmp_path):
    monkeypatch.setattr(resources, "available_bytes", lambda: 300_000_000)
    line = one_error(invoke("run", HOLBAEK, "-n", 5_000_000, "--seed", 1, "-o", tmp_path / "r.nc"))
    assert "more than the 0.3 GB available" in line and "fewer scenarios (-n)" in line
    assert list(tmp_path.iterdir()) == []


def no_engine_runs(monkeypatch):
    """A refusal must come before any simulation: an engine run fails the test at once
    (instead of running the too-large job)."""

    def ran(*args, **kw):
        raise AssertionError("the job was not refused before it started")

    monkeypatch.setattr(engine, "run", ran)


def one_run_fits_in(monkeypatch, available: float):
    """The machine has ``available`` bytes, in which one metrics-only Holbæk run of
    1,000,000 scenarios on two threads fits; and no engine run may start."""
    cfg, _ = load_deal(HOLBAEK)
    assert resources.estimate(cfg, 1_000_000, 2, weekly=False).bytes < 0.8 * available
    monkeypatch.setattr(resources, "available_bytes", lambda: int(available))
    no_engine_runs(monkeypatch)


def test_the_memory_estimate_grows_with_what_a_run_keeps():
    cfg, _ = load_deal(HOLBAEK)
    small = resources.estimate(cfg, 10_000)
    assert resources.estimate(cfg, 1_000_000).bytes > small.bytes + 1_000_000 * 8 * 20
    assert resources.estimate(cfg, 10_000, detail=True).bytes > small.bytes
    assert resources.estimate(cfg, 10_000, threads=4).bytes > small.bytes
    assert resources.estimate(cfg, 20_000).seconds == pytest.approx(2 * small.seconds)
    # a run without weekly series keeps no count histograms (per thread) and no sample
    # of the money flows
    flows = len(FLOWS) * 10_000 * simulated_weeks(cfg) * 4
    assert resources.estimate(cfg, 10_000, weekly=False).bytes < small.bytes - flows
    # what a job holds of its other runs: a stress test's eight points, and their table
    one = resources.estimate(cfg, 100_000, weekly=False).bytes
    eight = resources.estimate(cfg, 100_000, weekly=False, held=resources.held_metrics(15))
    assert eight.bytes - one == 15 * 100_000 * len(METRICS) * 8


def test_the_time_estimate_counts_a_baseline_once(monkeypatch):
    """A baseline-measured deal simulates its baseline scenarios (both arms, everyone
    from week 0, one thread) before its runs, once for all of them."""
    raw = load_raw("slagelse")
    assert raw["contract"]["measurement"] == "baseline"
    with_base = parse_deal(raw, "slagelse")
    raw["contract"]["measurement"] = "counterfactual"
    without = parse_deal(raw, "slagelse, counterfactual")
    base = (
        2.0
        * with_base.contract.baseline_scenarios
        * with_base.cohort.size
        * simulated_weeks(with_base)
    )
    assert resources.baseline_citizen_weeks(with_base) == base
    assert resources.baseline_citizen_weeks(without) == 0.0
    one = resources.estimate(with_base, 10_000, 2)
    plain = resources.estimate(without, 10_000, 2)
    rate = resources.CITIZEN_WEEKS_PER_SECOND
    assert one.seconds == pytest.approx(plain.seconds + base / rate)
    eight = resources.check(with_base, 10_000, 2, runs=8)
    assert eight.seconds == pytest.approx(8 * plain.seconds + base / rate)
    assert eight.citizen_weeks == pytest.approx(8 * plain.citizen_weeks + base)


def test_a_stress_test_whose_points_do_not_fit_together_is_refused(monkeypatch, tmp_path):
    """One point of 1,000,000 scenarios fits in 2 GB, the eight points' metrics do not."""
    one_run_fits_in(monkeypatch, 2e9)
    out = tmp_path / "s.nc"
    line = one_error(invoke("stress", HOLBAEK, "-n", 1_000_000, "--seed", 1, "-o", out))
    assert "more than the 2.0 GB available" in line and "fewer scenarios (-n)" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["solve", "acceptability", "region"])
def test_a_search_over_terms_is_checked_for_one_run_since_it_keeps_no_run(
    monkeypatch, tmp_path, command
):
    """solve, acceptability and region run one value at a time and keep of each only what
    they measure there: one run of 5,000,000 scenarios does not fit in 0.3 GB and is
    refused; one of 1,000,000 fits in 2 GB and may start, though the metrics of the
    values tried (62 for solve's four goals, 201 values, a 15 x 15 grid) would not fit
    together."""
    term = "contract.mechanisms[0].tariffs.job_entry"
    goals = ["--breakeven", "--irr-hurdle", 0.03, "--max-municipal-loss", 0.2]
    goals += ["--max-investor-loss", 0.2]
    if command == "solve":
        args, values = ["--vary", term, "--range", "0,20000", *goals], 62
        assert solve.expected_evaluations([None] * 4) == 62
    elif command == "acceptability":
        args, values = ["--vary", term, "--range", "0,20000", "--points", 200], 201
    else:
        args = ["--vary", f"{term}=0,20000", "--vary", "contract.cap_share=0.8,1.6"]
        args, values = [*args, "--points", 15, *goals], 15 * 15
    args = [command, HOLBAEK, *args, "--seed", 1, "-o", tmp_path / "x.nc", "--threads", 2]
    no_engine_runs(monkeypatch)
    monkeypatch.setattr(resources, "available_bytes", lambda: 300_000_000)
    line = one_error(invoke(*args, "-n", 5_000_000))
    assert "more than the 0.3 GB available" in line and "fewer scenarios (-n)" in line
    assert list(tmp_path.iterdir()) == []
    one_run_fits_in(monkeypatch, 2e9)
    cfg, _ = load_deal(HOLBAEK)
    kept = resources.held_metrics(values, len(solve.EVALUATED))
    assert resources.estimate(cfg, 1_000_000, 2, weekly=False, held=kept).bytes > 0.8 * 2e9
    result = invoke(*args, "-n", 1_000_000)
    assert "not refused before it started" in str(result.exception)  # it started a run


def test_a_variance_split_too_large_is_refused_naming_its_options(monkeypatch, tmp_path):
    """The variance split simulates --outer x --inner scenarios in one run: more than the
    most in one run, or more than the memory holds, is refused before anything runs."""
    no_engine_runs(monkeypatch)
    args = ["sensitivity", HOLBAEK, "--method", "tornado", "-n", 8, "--seed", 1]
    out = tmp_path / "s.nc"
    line = one_error(invoke(*args, "--outer", 20_000, "--inner", 10_000, "-o", out))
    assert "--outer x --inner: at most 100,000,000 scenarios in one run" in line
    monkeypatch.setattr(resources, "available_bytes", lambda: 500_000_000)
    line = one_error(invoke(*args, "--outer", 2_000, "--inner", 1_000, "-o", out))
    assert line.startswith("error: --outer x --inner: 2,000,000 scenarios of this deal need")
    assert "fewer scenarios (--outer x --inner)" in line
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_says_which_stored_chunks_it_recomputed(tmp_path):
    out = tmp_path / "w.nc"
    args = [
        "sweep",
        HOLBAEK,
        "--grid",
        "cohort.uptake=0.9",
        "-n",
        8,
        "--seed",
        1,
        "--chunk",
        4,
        "-o",
        out,
    ]
    store = ChunkStore(str(out) + ".chunks")
    # an interrupted sweep's chunks, one of them edited afterwards
    from simrisk.analysis import sweep as sw
    from simrisk.distributed import LocalBackend

    plan, _ = sw.from_files([str(HOLBAEK)], ["cohort.uptake=0.9"], None, 8, 1, 4)
    sw.run_sweep(plan, LocalBackend(), store.dir)
    first = sorted(store.dir.iterdir())[0]
    with np.load(first) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["payments_total"] = arrays["payments_total"] + 1.0
    with open(first, "wb") as fh:
        np.savez(fh, **arrays)
    result = invoke(*args, "--resume")
    assert result.exit_code == 0, result.stderr
    assert "recomputed a stored chunk that did not verify" in result.stderr
    assert "does not match its checksum" in result.stderr
    fresh = tmp_path / "fresh.nc"
    assert invoke(*args[:-1], fresh).exit_code == 0
    a, b = xr.load_dataset(out), xr.load_dataset(fresh)
    np.testing.assert_array_equal(a["payments_total"].values, b["payments_total"].values)


END = (
    "import atexit, sys, threading, time\n"
    "from pathlib import Path\n"
    "from simrisk.cli import end\n"
    "out = Path(sys.argv[1])\n"
    "atexit.register(lambda: (out / 'handler').write_text('ran'))\n"
    "sys.stdout.write('buffered, no newline')\n"
    "if sys.argv[2] == 'thread':\n"
    "    def late():\n"
    "        time.sleep(0.5)\n"
    "        (out / 'thread').write_text('done')\n"
    "    threading.Thread(target=late).start()\n"
    "end(int(sys.argv[3]))\n"
    "(out / 'after').write_text('end returned')\n"
)


@pytest.mark.parametrize("thread", ["none", "thread"])
@pytest.mark.parametrize("code", [0, 1, 130])
def test_the_command_ends_with_its_code_its_handlers_run_and_its_output_flushed(
    tmp_path, thread, code
):
    """``end`` leaves out the interpreter's teardown, not what the usual exit does: the
    exit code, the exit handlers, buffered output; with another thread alive it waits for
    it, as the usual exit does."""
    proc = subprocess.run(
        [sys.executable, "-c", END, str(tmp_path), thread, str(code)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == "buffered, no newline"
    assert (tmp_path / "handler").read_text() == "ran"
    assert not (tmp_path / "after").exists()
    assert (tmp_path / "thread").exists() == (thread == "thread")


def test_the_command_line_gives_its_exit_codes():
    """The installed entry point, through ``end``: 0 done, 1 bad input, 2 usage."""
    ok = subprocess.run([*SIMRISK, "--version"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "simrisk" in ok.stdout
    bad = subprocess.run(
        [*SIMRISK, "validate", "/nonexistent/deal.toml"], capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("error: "), bad.stderr
    usage = subprocess.run([*SIMRISK, "run"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "Missing argument" in usage.stderr


def test_ctrl_c_is_one_line():
    proc = subprocess.run(
        [sys.executable, "-c",
         "import simrisk.jobs.deal as j\n"
         "def f(*a, **k): raise KeyboardInterrupt\n"
         "j.run = f\n"
         f"import sys; sys.argv = ['simrisk', 'run', {str(HOLBAEK)!r}, '-o', '/nonexistent/x.nc']\n"
         "from simrisk.cli import entry; entry()"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 130
    assert proc.stderr.strip().splitlines() == ["error: interrupted; nothing was left half-written"]
