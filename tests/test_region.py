"""The two-term map: every grid point is a run of the deal with both terms set (common
random numbers), each goal's measure there is the goal's own, 'all hold' is every goal
holding, the best point has the largest smallest margin; the command writes NetCDF and
the report draws the map; bad input is one line each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine, report
from simrisk.analysis import region as rg
from simrisk.analysis.solve import Goal
from simrisk.cli import main
from simrisk.config import ConfigError, load_deal, parse_path
from simrisk.sampling import Adjustment
from tests.conftest import CONFIGS

SLAGELSE = CONFIGS / "slagelse.toml"
A, B = "contract.mechanisms[0].share", "investor.return_cap"
GOALS = [Goal("p_investor_loss_at_most", 0.9), Goal("p_municipal_loss_at_most", 0.6)]


@pytest.fixture(scope="module")
def grid():
    cfg, text = load_deal(SLAGELSE)
    return cfg, rg.region(cfg, [A, B], [(0.3, 1.0), (0.04, 0.1)], 3, GOALS, 40, 2, text)


def test_every_point_is_a_run_with_both_terms_set(grid):
    cfg, ds = grid
    for i, a in enumerate(ds["a"].values):
        for j, b in enumerate(ds["b"].values):
            adj = [Adjustment(parse_path(A), "set", float(a)),
                   Adjustment(parse_path(B), "set", float(b))]  # fmt: skip
            m = engine.run(cfg, 2, 40, adjust=adj).metrics
            for k, g in enumerate(GOALS):
                assert ds["goal_value"].values[i, j, k] == g.value(m)
                assert bool(ds["goal_holds"].values[i, j, k]) == (g.margin(m) >= 0)
    assert np.array_equal(ds["all_hold"].values, ds["goal_holds"].values.all(axis=2))
    assert list(ds["goal_party"].values) == ["investor", "municipality"]


def test_the_best_point_has_the_largest_smallest_margin(grid):
    _, ds = grid
    margins = np.stack(
        [ds["goal_level"].values[k] - ds["goal_value"].values[:, :, k] for k in range(2)], 2
    )  # both goals are 'at most': the margin is level less value
    worst = margins.min(axis=2)
    i, j = np.unravel_index(np.argmax(worst), worst.shape)
    assert (ds.attrs["best_a"], ds.attrs["best_b"]) == (ds["a"].values[i], ds["b"].values[j])
    assert ds.attrs["best_all_hold"] == int(worst[i, j] >= 0)
    table = rg.map_table(ds)
    cells = [c for row in table.text_rows() for c in row[1:]]
    assert cells.count("ok") == int(ds["all_hold"].values.sum())


def test_bad_input_is_refused_one_line_each():
    cfg, _ = load_deal(SLAGELSE)
    with pytest.raises(ConfigError) as err:
        rg.region(cfg, [A], [(0.3, 1.0)], 1, [], 20, 1)
    lines = err.value.problems
    assert len(lines) == 3 and any("two different terms" in p for p in lines)
    res = CliRunner().invoke(main, ["region", str(SLAGELSE), "--vary", "x", "--vary",
                                    f"{B}=0,1", "--breakeven"])  # fmt: skip
    assert res.exit_code == 1 and res.stderr.strip() == "error: --vary[0]: 'x' is not PATH=LOW,HIGH"


def test_the_command_and_the_report(tmp_path):
    out = tmp_path / "g.nc"
    res = CliRunner().invoke(main, [
        "region", str(SLAGELSE), "--vary", f"{A}=0.3,1", "--vary", f"{B}=0.04,0.1",
        "--points", "2", "--max-municipal-loss", "0.6", "-n", "20", "--seed", "3",
        "-o", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    ds = xr.load_dataset(out)
    assert data["all_hold"] == ds["all_hold"].values.tolist()
    assert data["goals"] == ["P(municipal net < 0) ≤ 60 %"]
    run = tmp_path / "r.nc"
    assert CliRunner().invoke(main, ["run", str(SLAGELSE), "-n", "20", "--seed", "3", "-o",
                                     str(run)]).exit_code == 0  # fmt: skip
    written = report.write_report(run, tmp_path / "rep", region=out)
    assert "region.png" in {p.name for p in written}
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert 'id="region-section"' in page and "The terms both sides can sign." in page
