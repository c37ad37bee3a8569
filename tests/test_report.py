"""The report: every figure for every deal without warnings; a self-contained page that a
real headless browser renders with its table and figures."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from simrisk import engine, report, results
from simrisk.analysis import sensitivity as sa
from simrisk.analysis import stress
from simrisk.cli import main
from simrisk.config import StressPoint, load_deal
from tests.conftest import CONFIGS

DEALS = sorted(p.stem for p in CONFIGS.glob("*.toml"))


def _result_files(tmp_path, name, n=150):
    cfg, text = load_deal(CONFIGS / f"{name}.toml")
    raw = engine.run(cfg, 1, n)
    res = results.write_netcdf(results.build_dataset(cfg, raw, 1, text), tmp_path / "r.nc")
    prepared = stress.prepare(
        cfg,
        [
            StressPoint(
                name="recession", changes=[{"path": "labour.job_entry_multiplier", "scale": 0.7}]
            )
        ],
    )
    st = stress.build_dataset(cfg, prepared, stress.run_stress(cfg, prepared, 1, 40), 1, text)
    st_path = results.write_netcdf(st, tmp_path / "s.nc")
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
    names = [p.path for p in cfg.uncertainty.parameters]
    sa_ds = sa.build_dataset(cfg, "tornado", outputs, names, res_sa, 1, text, {})
    sa_path = results.write_netcdf(sa_ds, tmp_path / "sa.nc")
    return res, st_path, sa_path


@pytest.mark.parametrize("deal", DEALS)
def test_every_figure_for_every_deal_without_warnings(tmp_path, deal):
    res, st, sens = _result_files(tmp_path, deal)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = report.write_report(res, tmp_path / "rep", st, sens)
    names = {p.name for p in written}
    assert names == {
        "states.png",
        "cashflows.png",
        "distributions.png",
        "investor_vs_municipality.png",
        "stress.png",
        "sensitivity.png",
        "report.html",
    }
    for p in written:
        assert p.stat().st_size > 5000


def test_page_is_self_contained(tmp_path):
    res, st, sens = _result_files(tmp_path, "holbaek")
    page = [p for p in report.write_report(res, tmp_path / "rep", st, sens) if p.suffix == ".html"][
        0
    ]
    text = page.read_text()
    sources = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert len(sources) == 6
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in text and "http://" not in text and "https://" not in text
    assert 'id="headline"' in text and "P(investor loss)" in text


def test_cli_report_formats_and_bad_input(tmp_path):
    res, st, sens = _result_files(tmp_path, "slagelse")
    out = CliRunner().invoke(
        main, ["report", str(sens), str(res), "-o", str(tmp_path / "svg"), "--format", "svg"]
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "svg" / "states.svg").read_text().lstrip().startswith("<?xml")
    assert "sensitivity.svg" in out.stdout and "stress" not in out.stdout
    bad = CliRunner().invoke(main, ["report", str(tmp_path / "nope.nc"), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "nope.nc: no such file" in bad.stderr
    only_stress = CliRunner().invoke(main, ["report", str(st), "-o", str(tmp_path / "y")])
    assert only_stress.exit_code == 1 and "RESULT" in only_stress.stderr
    assert not (tmp_path / "y").exists()


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


def test_headless_browser_renders_table_and_figures(tmp_path):
    import matplotlib.image as mpimg

    res, st, sens = _result_files(tmp_path, "holbaek")
    page = tmp_path / "rep" / "report.html"
    report.write_report(res, tmp_path / "rep", st, sens)
    browser = _chromium()
    common = CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [browser, *common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    # every image decoded in the real browser
    assert 'data-images-loaded="6/6"' in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, *common, "--window-size=1300,2600", f"--screenshot={shot}", page.as_uri()],
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
