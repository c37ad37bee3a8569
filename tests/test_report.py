"""The report (simrisk.report): every figure for every deal without warnings; a
self-contained page whose headline figures are the summary's, with every user string
escaped, that a real headless browser renders with its table and figures; the files
recognised by their contents; and nothing half-written left when building fails."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import shutil
import subprocess
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine, report, results, summary
from simrisk.analysis import sensitivity as sa
from simrisk.analysis import stress
from simrisk.cli import main
from simrisk.config import StressPoint, load_deal, parse_deal
from simrisk.errors import ConfigError
from simrisk.report import page
from simrisk.report.figures import Figure, figures
from simrisk.sampling import Sampler
from tests.conftest import CONFIGS, simple_raw

DEALS = sorted(p.stem for p in CONFIGS.glob("*.toml"))
FIGURES = ["states", "effect", "cashflows", "distributions", "investor_vs_municipality"]


def _result_files(folder, name, n=150, n_stress=40):
    cfg, text = load_deal(CONFIGS / f"{name}.toml")
    raw = engine.run(cfg, 1, n)
    res = results.write_netcdf(results.build_dataset(cfg, raw, 1, text), folder / "r.nc")
    prepared = stress.prepare(
        cfg,
        [
            StressPoint(
                name="recession", changes=[{"path": "labour.job_entry_multiplier", "scale": 0.7}]
            )
        ],
    )
    st = stress.build_dataset(cfg, prepared, stress.run_stress(cfg, prepared, 1, n_stress), 1, text)
    st_path = results.write_netcdf(st, folder / "s.nc")
    outputs = ["municipal_net", "investor_moic"]
    low, high, base, _ = sa.tornado(cfg, 10, 1, outputs)
    total, par, coh = sa.variance_split(cfg, 3, 2, 1, outputs)
    res_sa = {
        "labels": {
            "tornado_low": "a",
            "tornado_high": "b",
            "tornado_base": "c",
            "variance_share": "d",
        },
        "tornado_low": (("output", "parameter"), low),
        "tornado_high": (("output", "parameter"), high),
        "tornado_base": (("output",), base),
        "variance_share": (("output", "component"), np.stack([par, coh], 1)),
    }
    names = Sampler(cfg, 1, 1).names
    sa_ds = sa.build_dataset(cfg, "tornado", outputs, names, res_sa, 1, text, {})
    sa_path = results.write_netcdf(sa_ds, folder / "sa.nc")
    return res, st_path, sa_path


@pytest.fixture(scope="module")
def holbaek_files(tmp_path_factory):
    """A run, a stress file and a sensitivity file of the Holbæk deal."""
    return _result_files(tmp_path_factory.mktemp("holbaek_files"), "holbaek")


@pytest.fixture(scope="module")
def holbaek_report(tmp_path_factory, holbaek_files):
    out = tmp_path_factory.mktemp("holbaek_report") / "rep"
    res, st, sens = holbaek_files
    written = report.write_report(res, out, st, sens)
    return out, written


@pytest.mark.parametrize("deal", DEALS)
def test_every_figure_for_every_deal_without_warnings(tmp_path, deal):
    res, st, sens = _result_files(tmp_path, deal, n=60, n_stress=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = report.write_report(res, tmp_path / "rep", st, sens)
    names = {p.name for p in written}
    assert names == {f"{f}.png" for f in FIGURES} | {"stress.png", "sensitivity.png", "report.html"}
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == sorted(names)
    for p in written:
        assert p.stat().st_size > 5000


def test_a_run_in_which_nobody_was_enrolled_gets_its_report(tmp_path):
    """No citizen takes up the programme in any future: no state is ever occupied, and
    the state figures say so instead of failing; the page is written, without warnings."""
    raw = simple_raw(size=5, horizon=30)
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["cohort"]["uptake"] = 0.0
    cfg = parse_deal(raw)
    ds = results.build_dataset(cfg, engine.run(cfg, 1, 8), 1, "")
    assert float(ds["state_count_mean"].max()) == 0.0
    res = results.write_netcdf(ds, tmp_path / "r.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = report.write_report(res, tmp_path / "rep")
    assert {p.name for p in written} == {f"{f}.png" for f in FIGURES} | {"report.html"}
    for f in figures(xr.open_dataset(res)):
        if f.name in ("states", "effect"):
            texts = [t.get_text() for ax in f.fig.axes for t in ax.texts]
            assert texts == ["nobody was enrolled in any future"], f.name
        plt.close(f.fig)


def test_page_is_self_contained(holbaek_report):
    out, written = holbaek_report
    text = (out / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert len(sources) == 7
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in text and "http://" not in text and "https://" not in text
    # the embedded images are the figure files written beside the page
    for name in FIGURES + ["stress", "sensitivity"]:
        assert f'id="fig-{name}"' in text
    png = (out / "states.png").read_bytes()
    assert base64.b64encode(png).decode() in text


def _row(text: str, label: str) -> str:
    m = re.search(rf"<tr><td>{re.escape(html.escape(label))}</td><td>([^<]*)</td></tr>", text)
    assert m, label
    return m.group(1)


def test_headline_figures_are_the_summary_s(holbaek_files, holbaek_report):
    out, _ = holbaek_report
    text = (out / "report.html").read_text(encoding="utf-8")
    summ = summary.summary(results.open_results(holbaek_files[0]))
    rows = {r["metric"]: r for r in summ["rows"]}
    assert _row(text, "P(investor loss)") == f"{100 * summ['p_investor_loss']:.1f} %"
    assert _row(text, "P(municipal net < 0)") == (f"{100 * summ['p_municipal_net_negative']:.1f} %")
    net = rows["municipal_net"]
    assert _row(text, "Municipal net, mio. DKK, median (P5 to P95)") == (
        f"{net['p50'] / 1e6:.2f} ({net['p5'] / 1e6:.2f} to {net['p95'] / 1e6:.2f})"
    )
    moic = rows["investor_moic"]
    assert _row(text, "Investor MOIC, median (P5 to P95)").startswith(f"{moic['p50']:.2f} (")
    cfg, _ = load_deal(CONFIGS / "holbaek.toml")
    # every uncertain parameter is listed by its label, with its path and source
    for p in cfg.uncertainty.parameters:
        assert p.label and f"<td>{html.escape(p.label)}</td><td>{html.escape(p.path)}</td>" in text
    assert "150 scenarios, seed 1" in text


def test_user_strings_are_escaped(tmp_path):
    raw = simple_raw(size=20, horizon=30)
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["deal"]["name"] = "<script>alert(1)</script> & Co"
    raw["deal"]["description"] = 'A "quoted" <b>bold</b> claim'
    raw["uncertainty"] = {
        "parameters": [
            {"path": "cohort.uptake", "distribution": "uniform", "low": 0.5, "high": 1.0,
             "source": "<i>memo</i>"}
        ]
    }  # fmt: skip
    cfg = parse_deal(raw, "escape")
    ds = results.build_dataset(cfg, engine.run(cfg, 1, 8), 1, "")
    text = page.render_html(ds, [], {})
    assert "<script>alert" not in text and "<b>bold" not in text and "<i>memo" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "&lt;i&gt;memo&lt;/i&gt;" in text
    # the only script is the page's own image check
    assert text.count("<script>") == 1


# ------------------------------------------------------------------ files and folders
def test_files_of_another_deal_or_seed_are_refused(holbaek_files, tmp_path):
    """A stress file of another deal, of another version of the deal file or of another
    seed cannot go on a deal's page: one line each, and no folder written."""
    res, st, sens = holbaek_files
    other = xr.load_dataset(st)
    for change, words in [
        ({"deal_name": "Slagelse"}, "of the deal 'Slagelse', not"),
        ({"deal_file": "[deal]\nname = 'edited'"}, "another version of the deal file"),
        ({"seed": 2}, "seed 2,"),
    ]:
        ds = other.copy()
        ds.attrs = {**other.attrs, **change}
        path = results.write_netcdf(ds, tmp_path / f"s_{len(words)}.nc")
        with pytest.raises(ConfigError) as err:
            report.write_report(res, tmp_path / "rep", path, sens)
        assert len(err.value.problems) == 1 and words in err.value.problems[0]
        assert not (tmp_path / "rep").exists()


def test_every_figure_names_the_deal(holbaek_files):
    res, st, sens = holbaek_files
    ds = results.open_results(res, report.REPORT_NEEDS)
    figs = figures(ds, xr.load_dataset(st), xr.load_dataset(sens))
    assert len(figs) == 7
    for f in figs:
        first = f.fig.get_suptitle().splitlines()[0]
        assert first.startswith("Holbæk: tværfaglig beskæftigelsesindsats — ")
        n = {"stress": "40 scenarios, ", "sensitivity": ""}.get(f.name, "150 scenarios, ")
        assert first.endswith(f"— {n}seed 1")
        plt.close(f.fig)


def test_classify_recognises_files_by_their_contents(holbaek_files, tmp_path):
    res, st, sens = (str(p) for p in holbaek_files)
    for order in ([res, st, sens], [sens, res, st], [st, sens, res]):
        assert report.classify(order) == {"run": res, "stress": st, "sensitivity": sens}
    assert report.classify([res]) == {"run": res}
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("time", [1.0, 2.0])}).to_netcdf(other)
    text = tmp_path / "text.nc"
    text.write_text("not netcdf")
    with pytest.raises(report.ConfigError) as err:
        report.classify([res, str(other), str(text), str(tmp_path / "gone.nc")])
    lines = err.value.problems
    assert len(lines) == 3
    assert lines[0].startswith(f"{other}: not a simrisk file; the report takes the files of run")
    assert lines[1].startswith(f"{text}: not a readable NetCDF file")
    assert lines[2] == f"{tmp_path / 'gone.nc'}: no such file"
    with pytest.raises(report.ConfigError, match="RESULT"):
        report.classify([st, sens])


def test_an_existing_folder_keeps_its_other_files(holbaek_files, tmp_path):
    """A report written into a folder replaces an earlier report there: the files this
    one writes are replaced, and the figures the earlier page showed that this one does
    not have (its stress figure, its figures in another format, the report as PDF) are
    removed; everything else stays (the user's files, a folder of any name)."""
    out = tmp_path / "rep"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.html").write_text(
        '<!DOCTYPE html><figure id="fig-states"></figure><figure id="fig-stress"></figure>'
    )
    (out / "stress.png").write_bytes(b"the earlier report's stress figure")
    (out / "states.svg").write_bytes(b"the earlier report's figure in svg")
    (out / "report.pdf").write_bytes(b"the earlier report as pdf")
    (out / "sensitivity.pdf").write_bytes(b"not a figure the earlier page showed")
    (out / "stress.svg").mkdir()  # a folder is never removed
    written = report.write_report(holbaek_files[0], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["notes.txt", "report.html", "sensitivity.pdf", "stress.svg"]
        + [f"{f}.png" for f in FIGURES]
    )
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert len(written) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no temporary left


def test_a_folder_without_a_report_loses_nothing(holbaek_files, tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "stress.pdf").write_bytes(b"mine")
    (out / "report.pdf").write_bytes(b"mine too")
    report.write_report(holbaek_files[0], out)
    assert (out / "stress.pdf").read_bytes() == b"mine"
    assert (out / "report.pdf").read_bytes() == b"mine too"


def test_every_figure_a_report_draws_is_one_it_can_remove(holbaek_files):
    """The names a later report removes from its folder (report.FIGURE_NAMES) cover every
    figure drawn, with all the optional files."""
    res, st, sens = holbaek_files
    drawn = figures(xr.open_dataset(res), xr.open_dataset(st), xr.open_dataset(sens))
    assert {f.name for f in drawn} <= set(report.FIGURE_NAMES)
    assert {"stress", "sensitivity"} <= {f.name for f in drawn}
    for f in drawn:
        plt.close(f.fig)


def test_a_failure_leaves_nothing_half_written(holbaek_files, tmp_path, monkeypatch):
    def fail(*args, **kw):
        raise RuntimeError("no page")

    def one_small_figure(*args, **kw):  # the failure comes after a figure is drawn
        return [Figure("states", "s", plt.figure(figsize=(1, 1)))]

    monkeypatch.setattr(report, "figures", one_small_figure)
    monkeypatch.setattr(report, "render_html", fail)
    with pytest.raises(OSError, match="writing failed"):  # one line for the command line
        report.write_report(holbaek_files[0], tmp_path / "new")
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "states.png").write_bytes(b"old figure")
    with pytest.raises(RuntimeError):
        report.write_report(holbaek_files[0], old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    assert [p.name for p in old.iterdir()] == ["states.png"]
    assert (old / "states.png").read_bytes() == b"old figure"


def test_cli_report_formats_and_bad_input(holbaek_files, tmp_path):
    res, st, sens = holbaek_files
    out = CliRunner().invoke(
        main, ["report", str(sens), str(res), "-o", str(tmp_path / "svg"), "--format", "svg"]
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "svg" / "states.svg").read_text().lstrip().startswith("<?xml")
    assert "sensitivity.svg" in out.stderr and "stress" not in out.stderr
    assert sorted(p.name for p in (tmp_path / "svg").iterdir()) == sorted(
        [f"{f}.svg" for f in FIGURES] + ["sensitivity.svg", "report.html"]
    )
    bad = CliRunner().invoke(main, ["report", str(tmp_path / "nope.nc"), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "nope.nc: no such file" in bad.stderr
    only_stress = CliRunner().invoke(main, ["report", str(st), "-o", str(tmp_path / "y")])
    assert only_stress.exit_code == 1 and "RESULT" in only_stress.stderr
    assert "Traceback" not in bad.output + only_stress.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# -------------------------------------------------------------------- a real browser
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("Chromium is needed for this test (.ci/run installs Debian's chromium)")


def test_headless_browser_renders_table_and_figures(holbaek_report, tmp_path):
    import matplotlib.image as mpimg

    out, _ = holbaek_report
    page_path = out / "report.html"
    browser = _chromium()
    common = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [browser, *common, "--dump-dom", page_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # every image decoded in the real browser
    assert 'data-images-loaded="7/7"' in dom.stdout, dom.stderr[-2000:]
    assert 'id="headline"' in dom.stdout and "P(investor loss)" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *common, "--window-size=1300,2600", f"--screenshot={shot}", page_path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    img = mpimg.imread(shot)[..., :3]
    rgb = np.round(img * 255).astype(int)

    def count(colour, tol=6):
        return int((np.abs(rgb - np.array(colour)).max(axis=2) <= tol).sum())

    # the headline table's header band (#1f3b5a) and the figures' colours are on screen
    assert count((0x1F, 0x3B, 0x5A)) > 2000
    assert count((0x1F, 0x77, 0xB4)) > 500  # treatment arm lines in the state figure
    rows_with_ink = (rgb.min(axis=2) < 200).any(axis=1).sum()
    assert rows_with_ink > 1500  # a page full of content, not a blank or error page
