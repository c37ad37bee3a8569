"""Acceptability curves: at every value the two probabilities are those of a run of the
deal at that value (common random numbers), with binomial standard errors; the deal's own
value is among the points; the command writes NetCDF, the report draws both parties on
one chart; bad input is one line each."""

from __future__ import annotations

import json
import math

import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine, finance, report, results
from simrisk.analysis import acceptability as acc
from simrisk.cli import main
from simrisk.config import ConfigError, load_deal, parse_path
from simrisk.sampling import Adjustment
from tests.conftest import CONFIGS

SLAGELSE = CONFIGS / "slagelse.toml"
SHARE = "contract.mechanisms[0].share"


@pytest.fixture(scope="module")
def curve():
    cfg, text = load_deal(SLAGELSE)
    return cfg, acc.acceptability(cfg, SHARE, 0.3, 0.9, 3, 60, 4, 0.05, text)


def test_each_point_is_a_run_at_that_value(curve):
    cfg, ds = curve
    # 0.3, 0.6, 0.9 and the deal's own 1.0 lies outside: not added
    assert ds["value"].values.tolist() == pytest.approx([0.3, 0.6, 0.9])
    for i, x in enumerate(ds["value"].values):
        m = engine.run(cfg, 4, 60, adjust=[Adjustment(parse_path(SHARE), "set", float(x))]).metrics
        ranked = finance.irr_ranked(m["investor_irr"], m["investor_profit"])
        p_inv = float((ranked >= 0.05).mean())
        p_mun = float((m["municipal_net"] >= 0).mean())
        assert ds["p_investor"].values[i] == p_inv
        assert ds["p_municipality"].values[i] == p_mun
        assert ds["p_investor_se"].values[i] == pytest.approx(math.sqrt(p_inv * (1 - p_inv) / 60))
        assert ds["municipal_net_median"].values[i] == float(
            finance.quantiles(m["municipal_net"], 0.5)
        )
    # a larger share of the savings paid: the municipality keeps less (same futures)
    med = ds["municipal_net_median"].values
    assert med[0] > med[1] > med[2]
    assert ds.attrs["kind"] == "acceptability" and ds.attrs["hurdle"] == 0.05


def test_the_deal_s_own_value_is_a_point_and_marked():
    cfg, text = load_deal(SLAGELSE)
    cap = "contract.mechanisms[0].cap_share"  # 1.25 of the capital
    ds = acc.acceptability(cfg, cap, 1.0, 1.5, 2, 20, 1, None, text)
    assert 1.25 in ds["value"].values.tolist()
    assert ds.attrs["hurdle"] == cfg.investor.discount_rate
    rows = acc.table(ds).text_rows()
    assert [r[0] for r in rows] == ["100.0 %", "125.0 % (the deal's)", "150.0 %"]


def test_only_the_deal_s_own_value_is_marked_in_a_narrow_range():
    # a range narrower than numpy's default closeness (1e-5 relative): every point was
    # "close" to the deal's 1.25 and marked as it
    vals = [1.2499990, 1.2499995, 1.25, 1.2500005]
    assert acc.own_index(vals, 1.25) == 2
    assert acc.own_index(vals, 1.2499997) == -1  # between points: none is the deal's
    cfg, text = load_deal(SLAGELSE)
    cap = "contract.mechanisms[0].cap_share"
    ds = acc.acceptability(cfg, cap, 1.249999, 1.2500005, 3, 20, 1, None, text)
    assert ds.sizes["value"] == 4 and 1.25 in ds["value"].values.tolist()
    marked = [r[0] for r in acc.table(ds).text_rows() if "(the deal's)" in r[0]]
    assert len(marked) == 1


def test_bad_terms_are_refused_one_line_each():
    cfg, _ = load_deal(SLAGELSE)
    with pytest.raises(ConfigError) as err:
        acc.acceptability(cfg, "cohort.size", 1.0, 0.5, 1, 20, 1)
    assert len(err.value.problems) == 3
    assert any("--range" in p for p in err.value.problems)
    assert any("--points" in p for p in err.value.problems)


def test_the_command_and_the_report(tmp_path):
    out = tmp_path / "a.nc"
    res = CliRunner().invoke(main, [
        "acceptability", str(SLAGELSE), "--vary", SHARE, "--range", "0.4,1", "--points", "3",
        "-n", "30", "--seed", "2", "-o", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    ds = xr.load_dataset(out)
    assert data["values"] == ds["value"].values.tolist() == pytest.approx([0.4, 0.7, 1.0])
    assert data["p_municipality"] == ds["p_municipality"].values.tolist()
    run = tmp_path / "r.nc"
    assert CliRunner().invoke(main, ["run", str(SLAGELSE), "-n", "30", "--seed", "2", "-o",
                                     str(run)]).exit_code == 0  # fmt: skip
    written = report.write_report(run, tmp_path / "rep", accept=out)
    assert "acceptability.png" in {p.name for p in written}
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert 'id="acceptability-section"' in page and "Acceptability curves." in page
    # the report takes the file by its contents too
    rep = CliRunner().invoke(main, ["report", str(out), str(run), "-o", str(tmp_path / "r2")])
    assert rep.exit_code == 0, rep.output
    # of another deal: refused
    other = xr.load_dataset(out)
    other.attrs["deal_name"] = "Holbæk"
    bad = results.write_netcdf(other, tmp_path / "b.nc")
    rep = CliRunner().invoke(main, ["report", str(run), str(bad), "-o", str(tmp_path / "r3")])
    assert rep.exit_code == 1 and "of the deal 'Holbæk'" in rep.stderr


def test_bad_input_on_the_command_line(tmp_path):
    res = CliRunner().invoke(main, [
        "acceptability", str(SLAGELSE), "--vary", "nothing.here", "--range", "0,1", "-n", "20",
        "-o", str(tmp_path / "x.nc")])  # fmt: skip
    assert res.exit_code == 1 and res.stderr.startswith("error: --vary:")
    assert "Traceback" not in res.output and not (tmp_path / "x.nc").exists()
    assert len(res.stderr.splitlines()) == 1
