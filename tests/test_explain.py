"""The command line and the report explain themselves: a word before kernels compile, a
size warning before --detail writes a large file, stress points with their definitions,
solve saying on which side of a crossing a goal holds (and saving its answer), labels
for the uncertain inputs, and the committee's report (a summary made from the numbers,
the contract terms, captions, the stress and validation tables, one PDF)."""

from __future__ import annotations

import html
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import compiled, engine, resources, results, summary
from simrisk.analysis import check as chk
from simrisk.analysis import stress
from simrisk.cli import main
from simrisk.config import load_deal
from simrisk.labels import describe, label, value_kind
from simrisk.report import text as report_text
from tests.conftest import CONFIGS

HOLBAEK = CONFIGS / "holbaek.toml"


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


# ------------------------------------------------------------------- compiling kernels
def test_compiled_kernels_are_found_in_the_cache_after_a_run():
    cfg, _ = load_deal(HOLBAEK)
    engine.run(cfg, 1, 2)
    assert compiled.uncached() == []
    assert compiled.notice() is None


def test_an_empty_cache_is_announced(tmp_path):
    """In a fresh process with an empty numba cache every entry point is uncompiled."""
    code = "from simrisk import compiled; print(compiled.notice())"
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith(f"compiling the numba kernels ({len(compiled._entry_points())} of")
    assert compiled.COMPILE_SECONDS in line and "cached on disk" in line


def test_a_warm_cache_is_found_by_a_new_process():
    """After this session's runs the kernels are on disk: a fresh process, whose
    dispatchers have compiled nothing yet, finds every one of them in the cache."""
    cfg, _ = load_deal(HOLBAEK)
    engine.run(cfg, 1, 2)
    code = "from simrisk import compiled; print(compiled.uncached())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


_LOADED_BY_A_JOB = """
import json
import sys
from pathlib import Path
import numpy as np
from simrisk import compiled, engine
from simrisk.analysis import calibrate as cal
from simrisk.config import load_deal

deal = Path(sys.argv[1])
cfg, _ = load_deal(deal)
if sys.argv[2] == "simulation":  # what calibrate simulates
    obj = cal.Objective(cfg, cal.deal_targets(cfg, deal.parent, str(deal)), 4, 1)
    obj.simulate(np.array([f.low for f in obj.tg.free]))
else:
    engine.run(cfg, 1, 50, weekly=sys.argv[2] == "run")
named = {fn.__name__ for fn in compiled._entry_points(sys.argv[2])}
loaded = {fn.__name__ for fn in compiled._entry_points("run") if fn.signatures}
print(json.dumps([sorted(named - loaded), sorted(loaded - named), len(named)]))
"""


@pytest.mark.parametrize("uses", ["run", "metrics", "simulation"])
def test_a_job_is_told_of_the_kernels_it_calls_and_no_others(uses):
    """In a new process (a warm cache: its kernels are loaded when first called), a job
    of each kind loads every entry point the notice counts for that kind, and none of
    the others: a metrics-only run (stress, solve, sweep) does not call the count
    histograms' kernels, calibrate only the simulation kernel, so neither is told on
    every run that kernels it never compiles are to be compiled."""
    cfg, _ = load_deal(HOLBAEK)
    engine.run(cfg, 1, 2)  # every entry point of a run is in the cache
    out = subprocess.run([sys.executable, "-c", _LOADED_BY_A_JOB, str(HOLBAEK), uses],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    not_called, not_named, named = json.loads(out.stdout)
    assert not_called == [] and not_named == []
    assert named == {"run": 10, "metrics": 7, "simulation": 1}[uses]


@pytest.mark.parametrize(("command", "uses"), [("run", "run"), ("stress", "metrics")])
def test_the_notice_goes_to_stderr_before_the_run(tmp_path, monkeypatch, command, uses):
    """The notice counts the kernels of the command's kind of job (a stress test keeps
    no weekly series)."""
    from simrisk import jobs

    asked = []
    monkeypatch.setattr(jobs, "_announced", False)
    monkeypatch.setattr(compiled, "uncached", lambda u="run": asked.append(u) or ["x"])
    out = invoke(command, HOLBAEK, "-n", 5, "--seed", 1, "-o", tmp_path / "r.nc")
    assert out.exit_code == 0
    assert out.stderr.splitlines()[0].startswith("compiling the numba kernels (1 of them)")
    assert "compiling" not in out.stdout
    assert asked and set(asked) == {uses}


@pytest.mark.parametrize("command", ["sweep", "portfolio"])
def test_sweep_and_portfolio_start_the_compile_helper_in_process(tmp_path, monkeypatch, command):
    """Like run, an in-process sweep or fund has a helper compile the other kernels (with
    its first deal); on a cluster the workers compile, and no helper starts here."""
    from simrisk import jobs
    from simrisk.distributed import LocalBackend
    from simrisk.jobs import batch

    started = []
    monkeypatch.setattr(jobs, "_announced", False)
    monkeypatch.setattr(compiled, "uncached", lambda u="run": ["simulate_chunk", "payments"])
    monkeypatch.setattr(
        compiled, "start_compiling_rest", lambda cfg, uses: started.append((cfg, uses))
    )
    if command == "sweep":
        args = ["sweep", HOLBAEK, "--grid", "cohort.uptake=0.9", "-n", 4, "--seed", 1]
    else:  # the fund's first holding is Holbæk
        args = ["portfolio", CONFIGS / "funds" / "dsi_fund.toml", "-n", 4, "--seed", 1]
    out = invoke(*args, "-o", tmp_path / "x.nc")
    assert out.exit_code == 0, out.stderr
    assert len(started) == 1 and started[0][0].deal.name.startswith("Holbæk")
    cfg, uses = started[0]
    assert uses == "metrics"  # its chunks keep per-scenario metrics only
    assert batch._compiled_here(LocalBackend(), cfg) is cfg
    assert batch._compiled_here(object(), cfg) is None  # a dask backend


_COMPILED_BY_A_RUN = """
import sys
from numba.core import event
from simrisk import engine
from simrisk.config import load_deal

names = set()


class Seen(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        fn = ev.data["dispatcher"].py_func
        if fn.__module__.startswith("simrisk"):
            names.add(fn.__qualname__)


event.register("numba:compile", Seen())
cfg, _ = load_deal(sys.argv[1])
engine.run(cfg, 1, 50)
print(sorted(names))
"""


def test_the_helper_compiles_what_a_run_needs_but_the_simulation_kernel(tmp_path):
    """With an empty cache, the helper (python -m simrisk.compiled, the deal's JSON on
    stdin) leaves only the simulation kernel uncached, and a run after it compiles
    nothing else: the helper compiled the others for the argument types of a real run."""
    cfg, _ = load_deal(HOLBAEK)
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    helper = subprocess.run([sys.executable, "-m", "simrisk.compiled"],
                            input=compiled.encode_deal(cfg), capture_output=True, env=env,
                            timeout=300)  # fmt: skip
    assert helper.returncode == 0, helper.stderr.decode()
    code = "from simrisk import compiled; print(compiled.uncached())"
    left = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert left.stdout.strip() == "['simulate_chunk']", left.stderr
    run = subprocess.run([sys.executable, "-c", _COMPILED_BY_A_RUN, str(HOLBAEK)],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['simulate_chunk']"


def test_the_helper_is_started_only_when_the_kernel_and_others_are_uncached(monkeypatch):
    started = []

    class Proc:
        def __init__(self, args, **kw):
            started.append(args)
            self.stdin = open(__import__("os").devnull, "wb")

        def poll(self):
            return 0

    monkeypatch.setattr(compiled.subprocess, "Popen", Proc)
    cfg, _ = load_deal(HOLBAEK)
    cases = [  # (uncached, cores, started)
        (["simulate_chunk", "irr_kernel"], 2, True),
        (["simulate_chunk", "irr_kernel"], 1, False),  # no second core
        (["simulate_chunk"], 2, False),  # nothing for the helper to do
        (["irr_kernel", "weekly_cost"], 2, False),  # the run compiles them first anyway
        ([], 2, False),
    ]
    for missing, cores, expected in cases:
        started.clear()
        monkeypatch.setattr(compiled, "uncached", lambda uses="run", m=missing: m)
        monkeypatch.setattr(compiled, "_cores", lambda c=cores: c)
        proc = compiled.start_compiling_rest(cfg)
        assert (proc is not None) == expected == bool(started), (missing, cores)
        if expected:
            assert started[0][1:] == ["-P", "-m", "simrisk.compiled", str(os.getpid())]


_PARENT = """
import os, subprocess, sys, time
from simrisk import compiled
from simrisk.config import load_deal
args = [sys.executable, "-P", "-m", "simrisk.compiled", str(os.getpid())]
helper = subprocess.Popen(args, stdin=subprocess.PIPE)
helper.stdin.write(compiled.encode_deal(load_deal(sys.argv[1])[0]))
helper.stdin.close()
print(helper.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\tZ" not in next(line for line in f if line.startswith("State:"))
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_helper_ends_when_its_run_is_killed_outright(tmp_path):
    """SIGKILL leaves the run no time to stop its helper: the helper watches its parent and
    ends within a second or so, long before it would have finished compiling (several
    seconds with an empty cache)."""
    import signal
    import time

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(HOLBAEK)],
                              stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    helper = int(parent.stdout.readline())
    time.sleep(0.5)
    assert _alive(helper)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    t0 = time.monotonic()
    while _alive(helper) and time.monotonic() - t0 < 3.0:
        time.sleep(0.1)
    assert not _alive(helper)
    # it was stopped before it wrote the simulation kernel (a small helper function such
    # as the random-number table may be compiled and cached within the first half second)
    assert not list(tmp_path.rglob("kernel.simulate_chunk-*.nbi"))


def test_a_helper_still_compiling_is_stopped_with_the_run():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    compiled._stop(proc)
    assert proc.poll() is not None


# --------------------------------------------------------------------------- --detail
def test_detail_size_is_estimated_and_announced(tmp_path, monkeypatch):
    cfg, _ = load_deal(HOLBAEK)
    # the estimate is what the file grows by (int16 counts, float32 flows)
    r = engine.run(cfg, 1, 40, detail=True)
    plain = results.write_netcdf(results.build_dataset(cfg, engine.run(cfg, 1, 40), 1, ""),
                                 tmp_path / "a.nc")  # fmt: skip
    det = results.write_netcdf(results.build_dataset(cfg, r, 1, ""), tmp_path / "b.nc")
    grown = det.stat().st_size - plain.stat().st_size
    assert abs(grown - resources.detail_bytes(cfg, 40)) < 0.05 * grown
    lines = []
    resources.check(cfg, 20_000, 1, detail=True, log=lines.append)
    assert any(
        line.startswith("warning: --detail keeps every scenario's weekly series") for line in lines
    )
    assert f"{resources.detail_bytes(cfg, 20_000) / 1e6:,.0f} MB" in " ".join(lines)
    lines.clear()
    resources.check(cfg, 20_000, 1, detail=False, log=lines.append)
    resources.check(cfg, 100, 1, detail=True, log=lines.append)
    assert not any("--detail" in line for line in lines)


# ---------------------------------------------------------------------------- stress
def test_stress_prints_each_point_with_its_definition(tmp_path):
    out = invoke(
        "stress", HOLBAEK, "-n", 20, "--seed", 1, "-o", tmp_path / "s.nc",
        "--stress-file", CONFIGS / "stress" / "downturn.toml",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert "stress points" in text and "what it means" in text
    points = stress.load_stress_file(str(CONFIGS / "stress" / "downturn.toml"))
    flat = re.sub(r"[│\s]+", " ", text)
    for p in points:
        assert p.description in flat and p.name in flat
    assert "labour.job_entry_multiplier scale 0.7" in text
    assert "job entries x 0.5 from 2025-02-01 to 2026-02-01" in text
    # the file keeps the definitions: summary of it and the report's table show them
    ds = xr.load_dataset(tmp_path / "s.nc")
    rows, _ = stress.from_dataset(ds)
    assert rows[1]["changes"] == "labour.job_entry_multiplier scale 0.7"
    again = invoke("summary", tmp_path / "s.nc")
    assert "what it means" in again.stdout
    assert "job entries x 0.5 from 2025-02-01 to 2026-02-01" in again.stdout
    table = stress.report_table("t", rows)
    assert table.rows[1][1] == f"{points[0].description}: labour.job_entry_multiplier scale 0.7"


def test_stress_table_gives_the_committee_s_numbers(tmp_path):
    out = invoke("stress", HOLBAEK, "-n", 30, "--seed", 1, "-o", tmp_path / "s.nc", "--json")
    data = json.loads(out.stdout)
    ds = xr.load_dataset(tmp_path / "s.nc")
    from simrisk import finance

    for i, row in enumerate(data["points"]):
        irr = ds["investor_irr"].values[i]
        ranked = finance.irr_ranked(irr, ds["investor_profit"].values[i])
        assert row["investor_irr_median"] == pytest.approx(float(finance.quantiles(ranked, 0.5)))
        var, _ = finance.var_cvar(ds["municipal_net"].values[i], 0.95)
        assert row["municipal_var95"] == pytest.approx(var)


# ----------------------------------------------------------------------------- solve
def test_solve_says_where_each_goal_holds_and_saves_its_answer(tmp_path):
    path = "contract.mechanisms[0].share"
    args = ["solve", CONFIGS / "slagelse.toml", "--vary", path, "--range", "0.1,1",
            "--max-municipal-loss", "0.5", "-n", 24, "--seed", 2]  # fmt: skip
    out = invoke(*args, "-o", tmp_path / "solve.nc")
    assert out.exit_code == 0, out.output
    data = json.loads(invoke(*args, "--json").stdout)
    (goal,) = data["goals"]
    # a larger share pays more, so the municipality's goal holds below its crossing
    assert goal["holds"] == "below"
    # shown rounded down, so that the value printed itself meets the goal
    crossing = f"{math.floor(1000 * goal['crossing']) / 10:.1f} %"
    assert goal["holds_text"] == f"{path} ≤ {crossing}"
    assert f"{path} ≤ {crossing}" in out.stdout
    assert f"every goal holds for {path} ≤ {crossing}" in out.stdout
    assert data["label"] == "savings share: share of the measured savings paid"
    ds = xr.load_dataset(tmp_path / "solve.nc")
    assert ds.attrs["kind"] == "solve" and results.file_kind(ds) == "solve"
    assert ds["crossing"].values[0] == goal["crossing"]
    assert str(ds["goal_holds"].values[0]) == "below"
    assert len(ds["value"]) == data["evaluations"]
    best = list(ds["value"].values).index(data["best"])
    assert ds["goal_value"].values[best, 0] == goal["value_at_best"]
    again = invoke(*args, "-o", tmp_path / "solve.nc")
    assert again.exit_code == 1 and "--overwrite" in again.stderr


def test_value_kinds_and_labels():
    cfg, _ = load_deal(HOLBAEK)
    d = cfg.model_dump(by_alias=True)
    assert value_kind("contract.mechanisms[0].tariffs.job_entry") == "dkk"
    assert value_kind("contract.mechanisms[0].share") == "pct"
    assert value_kind("labour.transitions[0].probability[0]") == "num"
    assert describe(d, "programme.phases[1].dropout") == (
        "weekly dropout in phase 'aktiverings- og udviklingsforløb'"
    )
    assert (
        describe(d, "economics.regulation.years[4].rate") == "regulation of benefit rates in 2027"
    )
    assert label(d, "nothing.here") == "nothing.here"
    # every included deal labels every uncertain input and calibrated parameter
    for f in sorted(CONFIGS.glob("*.toml")):
        c, _ = load_deal(f)
        assert all(p.label for p in c.uncertainty.parameters), f
        assert all(p.label for p in c.calibration.free), f


# ---------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def committee(tmp_path_factory):
    """A run, a stress file and a check file of Holbæk, and the report of all three."""
    d = tmp_path_factory.mktemp("committee")
    assert invoke("run", HOLBAEK, "-n", 300, "--seed", 1, "-o", d / "r.nc").exit_code == 0
    assert invoke("stress", HOLBAEK, "-n", 60, "--seed", 1, "-o", d / "s.nc").exit_code == 0
    out = invoke("check", HOLBAEK, "--draws", 12, "--replicates", 2, "-o", d / "c.nc")
    assert out.exit_code == 0, out.output
    rep = invoke("report", d / "c.nc", d / "r.nc", d / "s.nc", "-o", d / "rep")
    assert rep.exit_code == 0, rep.output
    page = (d / "rep" / "report.html").read_text(encoding="utf-8")
    return d, page


def test_the_summary_is_made_from_the_numbers(committee):
    d, page = committee
    ds = results.open_results(d / "r.nc")
    summ = summary.summary(ds)
    m = re.search(r'<p class="summary" id="summary">([^<]*)</p>', page)
    assert m
    text = html.unescape(m.group(1))
    assert f"loses money in {100 * summ['p_investor_loss']:.1f} % of them" in text
    assert f"pays in {100 * summ['p_municipal_net_negative']:.1f} % of futures" in text
    assert f"loses more than {summ['municipal_var95'] / 1e6:,.2f} mio. DKK" in text
    # the top driver of the municipal net, by its label
    rows = summary.drivers(ds)
    top = max(rows, key=lambda r: abs(r["municipal_net"]))
    deal = json.loads(ds.attrs["deal_json"])
    assert f"for the municipality, {label(deal, top['parameter'])}" in text
    assert f"rank correlation {top['municipal_net']:+.2f}" in text


def test_the_report_shows_the_contract_terms_and_captions(committee):
    _, page = committee
    cfg, _ = load_deal(HOLBAEK)
    assert 'id="contract"' in page
    for event, amount in cfg.contract.mechanisms[0].tariffs.items():
        assert f"{report_text.event_words(event)} {amount:,.0f} DKK" in page
    assert f"{100 * cfg.investor.return_cap:.1f} % a year" in page
    captions = re.findall(r"<figcaption><b>([^<]*)\.</b> ([^<]+)</figcaption>", page)
    assert len(captions) == 6  # five of the run and the stress figure
    assert all(len(c) > 80 for _, c in captions)


def test_the_report_has_the_stress_and_validation_tables(committee):
    d, page = committee
    rows, _ = stress.from_dataset(xr.load_dataset(d / "s.nc"))
    for r in rows:
        assert html.escape(stress.definition(r)) in page
        assert f"{100 * r['investor_loss']:.1f} %" in page
    assert "P(municipal net &lt; 0)" in page and "municipal VaR 95 %" in page
    checked = chk.rows_from_dataset(xr.load_dataset(d / "c.nc"))
    assert 'id="validation-section"' in page
    for r in checked:
        assert html.escape(r.endpoint) in page
    for line in chk.summary_lines(checked):
        assert html.escape(line) in page


def test_a_check_of_another_deal_is_refused(committee, tmp_path):
    d, _ = committee
    ck = xr.load_dataset(d / "c.nc")
    ck.attrs["deal_name"] = "Slagelse"
    other = results.write_netcdf(ck, tmp_path / "c.nc")
    out = invoke("report", d / "r.nc", other, "-o", tmp_path / "rep")
    assert out.exit_code == 1 and "of the deal 'Slagelse'" in out.stderr
    assert not (tmp_path / "rep").exists()


def test_one_pdf_of_the_whole_report(committee, tmp_path):
    d, _ = committee
    out = invoke("report", d / "r.nc", d / "s.nc", d / "c.nc", "-o", tmp_path / "pdf",
                 "--format", "pdf")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert sorted(p.name for p in (tmp_path / "pdf").iterdir()) == ["report.html", "report.pdf"]
    pdf = (tmp_path / "pdf" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    # the first page, six figures and the tables (stress, validation, inputs)
    assert pages >= 1 + 6 + 3


def test_the_effect_band_is_the_quantile_of_the_paired_difference():
    cfg, text = load_deal(HOLBAEK)
    ds = results.build_dataset(cfg, engine.run(cfg, 3, 120, detail=True), 3, text)
    counts = ds["state_count"].values.astype(float)
    diff = counts[:, 1] - counts[:, 0]
    qs = ds["quantile"].values
    naive = np.quantile(diff, qs, axis=0, method="inverted_cdf")
    assert np.array_equal(ds["state_effect_quantile"].values, naive)


def test_bounds_are_rounded_to_the_side_where_they_hold():
    from simrisk.tables import fmt_bound

    assert fmt_bound(0.69229, "pct", up=True) == "69.3 %"
    assert fmt_bound(0.69229, "pct", up=False) == "69.2 %"
    assert fmt_bound(0.692, "pct", up=True) == "69.2 %"  # exact stays exact
    assert fmt_bound(12_345.2, "dkk", up=True) == "12,346"
    assert fmt_bound(0.0123456, "num", up=False) == "0.01234"
    assert fmt_bound(0.0123456, "num", up=True) == "0.01235"


def test_contract_terms_of_targets_and_savings_shares():
    cfg, _ = load_deal(CONFIGS / "drc_herning_viborg.toml")
    rows = dict(report_text.contract_terms(cfg.model_dump(by_alias=True)).text_rows())
    m = cfg.contract.mechanisms[0]
    # a linear target on a difference: nothing at its threshold, all at 'full', in points
    assert rows["payment 1"] == (
        f"on the share in ordinary work {m.at_week} weeks after each citizen's entry, less "
        f"the comparison's share: nothing at +{100 * m.threshold:.1f} pp above the "
        f"comparison, rising linearly to {m.payment:,.0f} DKK at +{100 * m.full:.1f} pp"
    )
    assert rows["measured"] == f"against a control group of {cfg.contract.control_size} citizens"
    cfg, _ = load_deal(CONFIGS / "sundinvest_sygemeldte.toml")
    rows = dict(report_text.contract_terms(cfg.model_dump(by_alias=True)).text_rows())
    m = cfg.contract.mechanisms[0]
    assert rows["payment 1"] == (
        f"{m.payment:,.0f} DKK if the share declared fit for work ever by {m.at_week} weeks "
        f"after each citizen's entry reaches {100 * m.threshold:.1f} %"
    )
    # absolute targets pay on the programme arm's own outcomes
    assert rows["measured"].startswith("not against anything")
    cfg, _ = load_deal(CONFIGS / "slagelse.toml")
    rows = dict(report_text.contract_terms(cfg.model_dump(by_alias=True)).text_rows())
    assert rows["payment 1"].startswith(f"{100 * cfg.contract.mechanisms[0].share:.1f} % of the")
    assert rows["measured"].startswith("against a fixed baseline")


def test_the_summary_of_a_losing_deal_and_of_a_safe_municipality():
    cfg, text = load_deal(CONFIGS / "drc_herning_viborg.toml")
    ds = results.build_dataset(cfg, engine.run(cfg, 1, 400), 1, text)
    summ = summary.summary(ds)
    deal = json.loads(ds.attrs["deal_json"])
    words = report_text.plain_summary(ds, summ, deal)
    profit = ds["investor_profit"].values
    median_loss = -np.median(profit[profit < 0])
    assert f"its median loss, when it loses, is {median_loss / 1e6:,.2f} mio. DKK" in words
    assert f"of a median {np.median(ds['investor_drawn'].values) / 1e6:,.2f} mio. DKK put in" in (
        words
    )
    total = summ["irr_status_counts"]["total_loss"] / 400
    assert (f"(everything it put in, in {100 * total:.1f} %)" in words) == (total > 0)
    # the deadweight is the share of the money, not the mean of the futures' shares
    paid = ds["payments_total"].values - ds["top_up_fee"].values
    share = np.minimum(ds["payments_deadweight"].values, paid).sum() / paid.sum()
    assert f"summed over the futures, {100 * share:.1f} % is for outcomes" in words
    # beside it the table's figure, the mean of the futures' shares, named as such
    mean = ds["deadweight_share"].values.mean()
    assert f"(in the average future {100 * mean:.1f} % of its payments: the deadweight" in words
    # a municipality that gains even in its worst futures is told so
    safe = {**summ, "municipal_var95": -1.5e6}
    assert "even in the worst 5 % of futures it gains at least 1.50 mio. DKK" in (
        report_text.plain_summary(ds, safe, deal)
    )


def test_a_driver_within_the_noise_is_not_named():
    cfg, text = load_deal(HOLBAEK)
    ds = results.build_dataset(cfg, engine.run(cfg, 1, 30), 1, text)
    deal = json.loads(ds.attrs["deal_json"])
    # with 30 futures a correlation must pass 2 / sqrt(29) = 0.37 to be named
    rows = summary.drivers(ds)
    words = report_text.plain_summary(ds, summary.summary(ds), deal)
    for key, who in (("investor_profit", "the investor"), ("municipal_net", "the municipality")):
        top = max(abs(r[key]) for r in rows)
        named = f"for {who}, no uncertain input stands out" not in words
        assert named == (top > 2 / np.sqrt(29))
