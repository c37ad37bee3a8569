"""Solve: terms known by construction, infeasible goals, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from simrisk import engine, model
from simrisk.analysis import solve as sv
from simrisk.cli import main
from simrisk.config import ConfigError
from tests.conftest import CONFIGS


def test_breakeven_setup_cost_is_recovered(holbaek):
    """The set-up cost lowers every scenario's profit one for one (no return cap binds
    once the investor loses), so the break-even set-up cost is the median profit at zero."""
    raw = holbaek.model_dump(by_alias=True)
    raw["investor"]["return_cap"] = None
    from simrisk.config import DealConfig

    cfg = DealConfig.model_validate(raw)
    at_zero = engine.run(
        cfg, 4, 300, adjust=[model.Adjustment(("program", "setup_cost"), "set", 0.0)]
    )["metrics"]
    expected = float(np.median(at_zero["investor_profit"]))
    assert expected > 0
    sol = sv.solve(
        cfg,
        "program.setup_cost",
        0.0,
        2 * expected,
        [sv.Goal("median_profit_at_least", 0.0)],
        300,
        4,
        xtol=1.0,
    )
    assert sol.feasible is not None
    assert sol.feasible[0] == 0.0
    assert sol.feasible[1] == pytest.approx(expected, abs=2.0)


def test_infeasible_goals_report_the_closest_point(holbaek):
    goals = [sv.Goal("p_investor_loss_at_most", 0.0), sv.Goal("p_municipal_loss_at_most", 0.0)]
    sol = sv.solve(holbaek, "contract.cap", 1e6, 2e7, goals, 100, 1)
    assert sol.feasible is None
    assert any("no value meets every goal" in n for n in sol.notes)
    assert 1e6 <= sol.best <= 2e7 and len(sol.best_values) == 2


def test_solve_bad_input(holbaek, tmp_path):
    with pytest.raises(ConfigError) as err:
        sv.solve(holbaek, "cohort.size", 1, 2, [], 10, 1)
    assert any("--vary" in p for p in err.value.problems)
    assert any("goals" in p for p in err.value.problems)
    res = CliRunner().invoke(
        main,
        [
            "solve",
            str(CONFIGS / "holbaek.toml"),
            "--vary",
            "contract.cap",
            "--range",
            "x,y",
            "--breakeven",
        ],
    )
    assert res.exit_code == 1 and "--range" in res.stderr
    res = CliRunner().invoke(
        main, ["solve", str(CONFIGS / "holbaek.toml"), "--vary", "contract.cap", "--range", "1,2"]
    )
    assert res.exit_code == 1 and "goals" in res.stderr


def test_cli_solve_json():
    res = CliRunner().invoke(
        main,
        [
            "solve",
            str(CONFIGS / "slagelse.toml"),
            "--vary",
            "contract.mechanisms[0].share",
            "--range",
            "0.1,1",
            "--max-municipal-loss",
            "0.45",
            "-n",
            "100",
            "--seed",
            "2",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["goals"][0]["goal"] == "P(municipal net < 0) <= 0.45"
    if data["feasible"]:
        assert data["goals"][0]["value_at_best"] <= 0.45
