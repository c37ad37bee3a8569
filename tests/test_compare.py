"""simrisk compare: the table's numbers are each file's summary; the verdict picks the
file with the lower chance of a loss for each party (the median only when the chances
cannot be told apart); columns are named by deal or, for variants of one deal, by file;
the page is self-contained, escapes user strings and is written whole or not at all;
the command refuses bad input with one line per problem and writes nothing."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess

import matplotlib.image as mpimg
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine, results, summary
from simrisk.analysis import stress
from simrisk.cli import main
from simrisk.config import StressPoint, parse_deal
from simrisk.errors import ConfigError
from simrisk.finance.risk import QUANTILE_METHOD
from simrisk.jobs.compare import compare
from simrisk.report import compare as cmp
from tests.conftest import dump_toml, load_raw
from tests.test_report import CHROMIUM_FLAGS, _chromium

N = 150


def _variant(folder, name: str, tariff_scale: float):
    """A results file of the Holbæk deal with its rate card's tariffs scaled."""
    raw = load_raw("holbaek")
    mech = raw["contract"]["mechanisms"][0]
    mech["tariffs"] = {k: v * tariff_scale for k, v in mech["tariffs"].items()}
    cfg = parse_deal(copy.deepcopy(raw), f"{name}.toml")
    ds = results.build_dataset(cfg, engine.run(cfg, 1, N), 1, dump_toml(raw))
    return results.write_netcdf(ds, folder / f"{name}.nc"), cfg


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """Two contract variants of one deal: 'generous' pays full tariffs (the investor
    rarely loses), 'lean' 60 % of them (the investor nearly always loses, the
    municipality less often)."""
    folder = tmp_path_factory.mktemp("variants")
    generous, cfg = _variant(folder, "generous", 1.0)
    lean, _ = _variant(folder, "lean", 0.6)
    return generous, lean, cfg


@pytest.fixture(scope="module")
def stress_file(variants, tmp_path_factory):
    _, _, cfg = variants
    prepared = stress.prepare(
        cfg,
        [
            StressPoint(
                name="recession", changes=[{"path": "labour.job_entry_multiplier", "scale": 0.7}]
            )
        ],
    )
    st = stress.build_dataset(cfg, prepared, stress.run_stress(cfg, prepared, 1, 10), 1, "")
    return results.write_netcdf(st, tmp_path_factory.mktemp("stress") / "st.nc")


def _rows(table) -> dict[str, list]:
    return {row[0]: row for row in table.rows}


# ---------------------------------------------------------------------- the numbers
def test_table_numbers_are_each_file_s_summary(variants):
    generous, lean, _ = variants
    datasets = cmp.load([generous, lean])
    names = cmp.labels(datasets, [generous, lean])
    assert names == ["generous", "lean"]  # one deal: columns by file
    rows = _rows(cmp.comparison(datasets, names))
    assert len(rows) == len(cmp.COMPARED) == 14
    for col, ds in enumerate(datasets, start=1):
        summ = summary.summary(ds)
        stat = {(r["metric"], k): r[k] for r in summ["rows"] for k in ("p5", "p50", "p95")}
        expected = {
            "Investor IRR, median": stat["investor_irr", "p50"],
            "Investor IRR, P5": stat["investor_irr", "p5"],
            "Investor IRR, P95": stat["investor_irr", "p95"],
            "Investor MOIC, median": stat["investor_moic", "p50"],
            "P(investor loss)": summ["p_investor_loss"],
            "Investor profit, median (mio. DKK)": float(
                np.quantile(ds["investor_profit"].values, 0.5, method=QUANTILE_METHOD)
            ),
            "True savings, median (mio. DKK)": stat["savings_true", "p50"],
            "Payments, median (mio. DKK)": stat["payments_total", "p50"],
            "Municipal net, median (mio. DKK)": stat["municipal_net", "p50"],
            "Municipal net, P5 (mio. DKK)": stat["municipal_net", "p5"],
            "P(municipal net < 0)": summ["p_municipal_net_negative"],
            "Municipal VaR 95 % (mio. DKK)": summ["municipal_var95"],
            "Deadweight share of payments (mean)": summ["mean_deadweight_share"],
            "Overpayment share of payments (mean)": summ["mean_overpayment_share"],
        }
        assert set(expected) == set(rows)
        for label, value in expected.items():
            assert rows[label][col][0] == pytest.approx(value, rel=1e-12, abs=0), label
    # shown in the unit of the row: a share as a percentage, an amount in mio. DKK
    t = cmp.comparison(datasets, names)
    text = {r[0]: r for r in t.text_rows()}
    p = summary.summary(datasets[1])["p_investor_loss"]
    assert text["P(investor loss)"][2] == f"{100 * p:.1f} %"
    net = summary.summary(datasets[0])["rows"][-1]
    assert net["metric"] == "municipal_net"
    assert text["Municipal net, median (mio. DKK)"][1] == f"{net['p50'] / 1e6:,.2f}"


def test_verdict_picks_the_lower_chance_of_a_loss_for_each_party(variants):
    generous, lean, _ = variants
    for files in ([generous, lean], [lean, generous]):  # not by position
        datasets = cmp.load(files)
        names = cmp.labels(datasets, files)
        summ = {n: summary.summary(ds) for n, ds in zip(names, datasets, strict=True)}
        assert summ["generous"]["p_investor_loss"] < 0.05 < 0.95 < summ["lean"]["p_investor_loss"]
        assert (
            summ["lean"]["p_municipal_net_negative"]
            < summ["generous"]["p_municipal_net_negative"] - 0.1
        )
        lines = cmp.verdict(datasets, names)
        assert lines[0].startswith("For the investor, generous is best: it loses money in ")
        assert lines[1].startswith("For the municipality, lean is best: it has a negative net")
        assert "too close" not in lines[0] + lines[1]
        assert lines[2] == "The investor and the municipality are best served by different files."
        rows = _rows(cmp.comparison(datasets, names))
        assert rows["P(investor loss)"][-1] == "investor: generous"
        assert rows["P(municipal net < 0)"][-1] == "municipality: lean"
        assert rows["Payments, median (mio. DKK)"][-1] == "investor: generous; municipality: lean"


def test_an_undefined_irr_quantile_is_compared_with_nothing():
    """An IRR quantile among undefined IRRs (+inf: ranked above every rate by the
    investor's profit) says nothing of which rate is higher: no file is called better on
    that row for it; among the defined ones the higher rate is."""
    up = (("investor", 1),)
    names = ["a", "b", "c"]
    assert cmp._better([np.inf, 0.07, 0.05], "pct", names, up) == "investor: b"
    assert cmp._better([np.inf, 0.07, np.nan], "pct", names, up) == ""
    assert cmp._better([-np.inf, 0.07, 0.05], "pct", names, up) == "investor: b"


def test_chances_within_noise_are_decided_by_the_median(variants, tmp_path):
    """The same futures with 100,000 DKK more profit in each: the chance of a loss is
    within two standard errors, so the higher median profit decides."""
    generous, _, _ = variants
    ds = xr.load_dataset(generous)
    richer = ds.copy()
    richer["investor_profit"] = ds["investor_profit"] + 1e5
    path = results.write_netcdf(richer, tmp_path / "richer.nc")
    datasets = cmp.load([generous, path])
    lines = cmp.verdict(datasets, ["generous", "richer"])
    assert lines[0].startswith("For the investor, richer is best: ")
    assert "too close to tell apart" in lines[0]
    # the municipality's figures are the same: no winner, and no "best for both"
    assert lines[1].startswith("For the municipality, generous and richer cannot be told apart")
    assert len(lines) == 3


def test_columns_are_named_by_deal_and_differences_noted(variants, tmp_path):
    generous, lean, _ = variants
    other = xr.load_dataset(lean).isel(scenario=slice(0, 100))
    other.attrs = {**other.attrs, "deal_name": "Other <deal>", "seed": 2}
    path = results.write_netcdf(other, tmp_path / "other.nc")
    datasets = cmp.load([generous, path])
    names = cmp.labels(datasets, [generous, path])
    assert names == [datasets[0].attrs["deal_name"], "Other <deal>"]
    notes = cmp.comparison(datasets, names).notes
    assert any("different seeds" in n and "Other <deal> 2" in n for n in notes)
    assert any(
        "numbers of scenarios" in n and "150" in n and "Other <deal> 100" in n for n in notes
    )
    # one deal's variants: said so, by file
    datasets = cmp.load([generous, lean])
    notes = cmp.comparison(datasets, ["generous", "lean"]).notes
    assert any(n.startswith("generous, lean: the deal 'Holbæk") and "variants" in n for n in notes)
    assert not any("seeds" in n or "numbers of scenarios" in n for n in notes)


# ------------------------------------------------------------------------- the page
def test_page_is_self_contained_and_has_the_table(variants, tmp_path):
    generous, lean, _ = variants
    written = cmp.write_comparison([generous, lean], tmp_path / "page")
    assert [p.name for p in written] == ["compare.png", "compare.html"]
    assert sorted(p.name for p in (tmp_path / "page").iterdir()) == ["compare.html", "compare.png"]
    text = (tmp_path / "page" / "compare.html").read_text(encoding="utf-8")
    sources = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert "<link" not in text and "<script" not in text and "url(" not in text
    assert "http://" not in text and "https://" not in text
    png = (tmp_path / "page" / "compare.png").read_bytes()
    assert base64.b64encode(png).decode() in text
    assert 'id="comparison"' in text and 'id="verdict"' in text
    p = summary.summary(results.open_results(lean))["p_investor_loss"]
    assert f"{100 * p:.1f} %" in text
    assert "For the investor, generous is best" in text
    assert "ECDF" in text  # the caption says how to read the figure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page"]  # no temporary left


def test_user_strings_are_escaped(variants, tmp_path):
    generous, lean, _ = variants
    ds = xr.load_dataset(lean)
    ds.attrs = {**ds.attrs, "deal_name": "<script>alert(1)</script> & $x$ Co"}
    path = results.write_netcdf(ds, tmp_path / "<b>bold</b>.nc")
    cmp.write_comparison([generous, path], tmp_path / "page")
    text = (tmp_path / "page" / "compare.html").read_text(encoding="utf-8")
    assert "<script>" not in text and "<b>bold" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; $x$ Co" in text
    assert "&lt;b&gt;bold&lt;/b&gt;.nc" in text


def test_a_failure_leaves_nothing_half_written(variants, tmp_path, monkeypatch):
    generous, lean, _ = variants

    def fail(*args, **kw):
        raise RuntimeError("no page")

    monkeypatch.setattr(cmp, "render_html", fail)
    with pytest.raises(OSError, match="writing failed"):
        cmp.write_comparison([generous, lean], tmp_path / "new")
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "compare.html").write_text("old page")
    with pytest.raises(RuntimeError):
        cmp.write_comparison([generous, lean], old)
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert [p.name for p in old.iterdir()] == ["compare.html"]
    assert (old / "compare.html").read_text() == "old page"


def test_a_page_written_again_in_another_format_leaves_no_old_figure(variants, tmp_path):
    generous, lean, _ = variants
    out = tmp_path / "page"
    cmp.write_comparison([generous, lean], out, fmt="svg")
    (out / "mine.txt").write_text("kept")
    cmp.write_comparison([generous, lean], out)
    assert sorted(p.name for p in out.iterdir()) == ["compare.html", "compare.png", "mine.txt"]


def test_refusals_one_line_per_problem(variants, stress_file, tmp_path):
    generous, lean, _ = variants
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("time", [1.0, 2.0])}).to_netcdf(foreign)
    with pytest.raises(ConfigError) as err:
        cmp.load([generous, stress_file, tmp_path / "gone.nc", foreign, generous])
    lines = err.value.problems
    assert len(lines) == 4, lines
    assert lines[0].startswith(f"{stress_file}: a stress file of 'simrisk stress'")
    assert lines[1] == f"{tmp_path / 'gone.nc'}: no such file"
    assert lines[2].startswith(f"{foreign}: not a simrisk file")
    assert lines[3] == f"{generous}: the same file as {generous}; give each file once"
    with pytest.raises(ConfigError, match="two or more"):
        cmp.load([generous])


# -------------------------------------------------------------------- the command
@pytest.mark.parametrize(
    "case, words",
    [
        ("one", ["FILES: give two or more results files"]),
        ("stress", ["a stress file of 'simrisk stress', not the results of 'simrisk run'"]),
        ("missing", ["gone.nc: no such file"]),
        ("twice", ["the same file as"]),
        ("all", ["a stress file", "gone.nc: no such file"]),
    ],
)
def test_cli_refuses_bad_input_and_writes_nothing(variants, stress_file, tmp_path, case, words):
    generous, lean, _ = variants
    files = {
        "one": [generous],
        "stress": [generous, stress_file],
        "missing": [generous, tmp_path / "gone.nc"],
        "twice": [generous, lean, generous],
        "all": [stress_file, tmp_path / "gone.nc"],
    }[case]
    out = CliRunner().invoke(main, ["compare", *map(str, files), "-o", str(tmp_path / "page")])
    assert out.exit_code == 1, out.output
    lines = out.stderr.splitlines()
    assert len(lines) == len(words) and all(line.startswith("error: ") for line in lines)
    for line, w in zip(lines, words, strict=True):
        assert w in line
    assert out.stdout == "" and "Traceback" not in out.output
    assert not (tmp_path / "page").exists()


def test_cli_prints_table_and_verdict_and_writes_the_page(variants, tmp_path):
    generous, lean, _ = variants
    out = CliRunner().invoke(
        main, ["compare", str(generous), str(lean), "-o", str(tmp_path / "p"), "--format", "svg"]
    )
    assert out.exit_code == 0, out.output
    assert "P(investor loss)" in out.stdout and "better for" in out.stdout
    assert "For the investor, generous is best" in out.stdout
    assert (tmp_path / "p" / "compare.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "p" / "compare.html").exists()
    # without -o nothing is written
    out = CliRunner().invoke(main, ["compare", str(generous), str(lean)])
    assert out.exit_code == 0 and "For the municipality, lean is best" in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_cli_json(variants, tmp_path):
    generous, lean, _ = variants
    out = CliRunner().invoke(
        main, ["compare", str(generous), str(lean), "--json", "-o", str(tmp_path / "p")]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [f["column"] for f in data["files"]] == ["generous", "lean"]
    assert [f["n_scenarios"] for f in data["files"]] == [N, N]
    rows = {r["metric"]: r for r in data["table"]["rows"]}
    for name, path in (("generous", generous), ("lean", lean)):
        summ = summary.summary(results.open_results(path))
        assert rows["P(investor loss)"][name] == summ["p_investor_loss"]
        assert rows["Municipal VaR 95 % (mio. DKK)"][name] == summ["municipal_var95"]
    assert rows["P(investor loss)"]["better for"] == "investor: generous"
    assert data["verdict"][0].startswith("For the investor, generous is best")
    assert data["written"] == [str(tmp_path / "p" / n) for n in ("compare.png", "compare.html")]
    assert compare([str(generous), str(lean)]).data.keys() == {"files", "table", "verdict"}


# -------------------------------------------------------------------- a real browser
def test_headless_browser_renders_table_and_figure(variants, tmp_path):
    generous, lean, _ = variants
    cmp.write_comparison([generous, lean], tmp_path / "page")
    uri = (tmp_path / "page" / "compare.html").as_uri()
    browser = _chromium()
    common = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [browser, *common, "--dump-dom", uri], capture_output=True, text=True, timeout=120
    )
    assert 'id="comparison"' in dom.stdout and "P(municipal net &lt; 0)" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *common, "--window-size=1300,2000", f"--screenshot={shot}", uri],
        capture_output=True,
        timeout=120,
        check=True,
    )
    rgb = np.round(mpimg.imread(shot)[..., :3] * 255).astype(int)

    def count(colour, tol=30):
        return int((np.abs(rgb - np.array(colour)).max(axis=2) <= tol).sum())

    assert count((0x1F, 0x3B, 0x5A), tol=6) > 2000  # the tables' header bands
    assert count((0x1F, 0x77, 0xB4)) > 300 and count((0xFF, 0x7F, 0x0E)) > 300  # two files


def test_files_of_other_perspectives_are_said_not_to_compare(variants):
    generous, lean, _ = variants
    datasets = cmp.load([generous, lean])
    names = cmp.labels(datasets, [generous, lean])
    assert not any("perspective" in n for n in cmp.comparison(datasets, names).notes)
    datasets[1].attrs["perspective"] = "public"
    notes = cmp.comparison(datasets, names).notes
    assert (
        f"The files' true savings are of different perspectives ({names[0]} municipality, "
        f"{names[1]} public): they do not compare; the municipal nets do." in notes
    )
