"""Solve: crossings checked against independent runs, known break-evens, infeasible goals,
goals by hand, bad input."""

from __future__ import annotations

import datetime as dt
import gc
import json
import weakref
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from simrisk import engine, resources
from simrisk.analysis import solve as sv
from simrisk.cli import main
from simrisk.config import ConfigError, DealConfig, load_deal, parse_deal
from simrisk.sampling import Adjustment
from tests.conftest import CONFIGS, load_raw, simple_raw

SHARE = "contract.mechanisms[0].share"
SHARE_PATH = ("contract", "mechanisms", 0, "share")
N = 100
SEED = 2


@pytest.fixture(scope="module")
def deal():
    """A small savings-share deal with an uncertain effect: a larger share makes the
    municipality lose more often and the investor less often (P(municipal loss) from 0.02
    to 0.8, P(investor loss) from 1 to 0.56 over shares 0.1 to 1)."""
    raw = simple_raw(size=60, horizon=104, effect={"job_entry": [1.5]})
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["programme"]["phases"][0]["cost_per_week"] = 800.0
    raw["uncertainty"] = {
        "parameters": [
            {"path": "effect.job_entry[0]", "distribution": "uniform", "low": 1.0, "high": 2.5}
        ]
    }
    return parse_deal(raw, "solve test")


def _at(cfg, path, x, n=N, seed=SEED) -> dict:
    """Metrics with one value set, run independently of solve()."""
    return engine.run(cfg, seed, n, adjust=[Adjustment(path, "set", float(x))]).metrics


# ------------------------------------------------------------------------ goals by hand
def test_goal_values_and_margins_by_hand():
    """Four scenarios. IRR ranked: (0.10, -inf, +inf, 0.02) (undefined: by the profit's
    sign), so P(IRR >= 5 %) = 2/4; losses (profit < 0) 1/4; municipal net < 0 in 2/4;
    median profit (1 + 1)/2 = 1."""
    m = {
        "investor_irr": np.array([0.10, np.nan, np.nan, 0.02]),
        "investor_profit": np.array([1.0, -1.0, 2.0, 1.0]),
        "municipal_net": np.array([-1.0, 3.0, -0.5, 0.0]),
    }
    irr = sv.Goal("p_irr_at_least", 0.6, hurdle=0.05)
    assert irr.value(m) == 0.5 and irr.margin(m) == pytest.approx(-0.1)
    assert irr.describe() == "P(IRR ≥ 5 %) ≥ 60 %"
    mun = sv.Goal("p_municipal_loss_at_most", 0.6)
    assert mun.value(m) == 0.5 and mun.margin(m) == pytest.approx(0.1)
    assert mun.describe() == "P(municipal net < 0) ≤ 60 %"
    inv = sv.Goal("p_investor_loss_at_most", 0.2)
    assert inv.value(m) == 0.25 and inv.margin(m) == pytest.approx(-0.05)
    med = sv.Goal("median_profit_at_least", 0.5)
    assert med.value(m) == 1.0 and med.margin(m) == 0.5
    assert sv.Goal("median_profit_at_least", 250_000).describe() == (
        "median investor profit ≥ 250,000 DKK"
    )


# ----------------------------------------------------------------- crossings, checked
def test_breakeven_setup_cost_is_the_median_profit_at_zero(holbaek):
    """Without a return cap the set-up cost lowers every scenario's profit one for one, so
    the median profit at set-up cost c is median(profit at 0) - c: the break-even is that
    median. Brent stops within xtol of it and steps to the side where the goal holds."""
    raw = holbaek.model_dump(by_alias=True)
    raw["investor"]["return_cap"] = None
    cfg = DealConfig.model_validate(raw)
    expected = float(
        np.median(_at(cfg, ("programme", "setup_cost"), 0.0, 300, 4)["investor_profit"])
    )
    assert expected > 0
    xtol = 1.0
    sol = sv.solve(
        cfg,
        "programme.setup_cost",
        0.0,
        2 * expected,
        [sv.Goal("median_profit_at_least", 0.0)],
        300,
        4,
        xtol=xtol,
    )
    assert sol.feasible[0] == 0.0
    assert expected - 2 * xtol <= sol.feasible[1] <= expected
    assert sol.crossings == [sol.feasible[1]] and sol.best == 0.0
    assert sol.notes == []


def test_the_crossing_is_where_the_goal_stops_holding(deal):
    """A larger savings share makes the municipality lose more often; P(municipal net < 0)
    <= 0.3 holds from the low end up to the crossing. Checked with runs of our own: the goal
    holds at the crossing and fails 2 xtol above it."""
    goal = sv.Goal("p_municipal_loss_at_most", 0.3)
    xtol = 1e-3
    sol = sv.solve(deal, SHARE, 0.1, 1.0, [goal], N, SEED, xtol=xtol)
    assert sol.feasible[0] == 0.1
    x = sol.crossings[0]
    assert sol.feasible[1] == x and 0.1 < x < 1.0
    assert goal.margin(_at(deal, SHARE_PATH, x)) >= 0
    assert goal.margin(_at(deal, SHARE_PATH, x + 2 * xtol)) < 0
    assert sol.best_values == [goal.value(_at(deal, SHARE_PATH, sol.best))]


def test_a_goal_that_holds_at_the_low_end_only_from_above(deal):
    """P(investor loss) <= 0.8 needs a large enough share: the interval runs from the
    crossing to the high end, and the goal fails 2 xtol below the crossing."""
    goal = sv.Goal("p_investor_loss_at_most", 0.8)
    xtol = 1e-3
    sol = sv.solve(deal, SHARE, 0.1, 1.0, [goal], N, SEED, xtol=xtol)
    x = sol.crossings[0]
    assert sol.feasible == (x, 1.0) and sol.best == x
    assert goal.margin(_at(deal, SHARE_PATH, x)) >= 0
    assert goal.margin(_at(deal, SHARE_PATH, x - 2 * xtol)) < 0


def test_a_goal_met_exactly_on_a_plateau_ends_where_it_stops_holding(deal, monkeypatch):
    """A probability is a step function of x: here P(investor loss) is 1 below 0.3, exactly
    the level 0.8 on [0.3, 0.7] and 0.5 above. The goal holds from 0.3 on; a margin of
    exactly 0 must count as met, or the root finder stops at its first step into the
    plateau (0.4, the secant point of the ends) and reports a too short interval."""

    def run(cfg, seed, n, *, adjust, baseline=None, weekly=True):
        assert not weekly  # the solver reads only metrics
        x = adjust[0].value
        losses = 10 if x < 0.3 else 8 if x <= 0.7 else 5
        profit = np.where(np.arange(10) < losses, -1.0, 1.0)
        return SimpleNamespace(
            metrics={"investor_profit": profit, "investor_irr": profit, "municipal_net": profit}
        )

    monkeypatch.setattr(sv, "engine", SimpleNamespace(run=run))
    xtol = 1e-4
    sol = sv.solve(deal, SHARE, 0.0, 1.0, [sv.Goal("p_investor_loss_at_most", 0.8)], 10, 1, xtol)
    assert 0.3 <= sol.feasible[0] <= 0.3 + 2 * xtol and sol.feasible[1] == 1.0


def _profit(x: float) -> np.ndarray:
    """A fake run's 50 profits at value x in [0, 1]: P(investor loss) falls from 1 to 0."""
    return np.linspace(-1.0, 1.0, 50) + 2 * x - 1


class _WatchedRuns:
    """A stand-in for ``engine.run`` (the metrics of :func:`_profit` at the first
    adjusted value) that counts, each time a run starts, the earlier runs' metric arrays
    still alive."""

    def __init__(self, monkeypatch):
        self.alive: list[weakref.ref] = []
        self.most_alive = 0
        monkeypatch.setattr(sv, "engine", SimpleNamespace(run=self.run))

    def run(self, cfg, seed, n, *, adjust, baseline=None, weekly=True):
        gc.collect()
        self.most_alive = max(self.most_alive, sum(r() is not None for r in self.alive))
        profit = _profit(adjust[0].value)
        m = {"investor_profit": profit, "investor_irr": profit.copy(), "municipal_net": -profit}
        self.alive.extend(weakref.ref(a) for a in m.values())
        return SimpleNamespace(metrics=m)


def test_a_solve_holds_the_metrics_of_one_run_at_a_time(deal, monkeypatch):
    """However many values Brent's method and the fallback grid try, a solve keeps of each
    only its goals' measures: when a run starts, no earlier run's metric arrays are alive
    (its memory is one run's, as the job's resource check assumes), and every value's
    measures are those of its own run."""
    runs = _WatchedRuns(monkeypatch)
    goals = [sv.Goal("p_investor_loss_at_most", 0.2), sv.Goal("p_municipal_loss_at_most", 0.3)]
    sol = sv.solve(deal, SHARE, 0.0, 1.0, goals, 50, 1)  # no value meets both: the grid too
    assert sol.feasible is None and sol.evaluations > 21
    assert runs.most_alive == 0 and len(runs.alive) == 3 * sol.evaluations
    for x, got in sol.evaluated.items():
        profit = _profit(x)
        assert got == [float((profit < 0).mean()), float((-profit < 0).mean())]


@pytest.mark.parametrize("command", ["acceptability", "region"])
def test_curves_and_maps_hold_the_metrics_of_one_run_at_a_time(deal, monkeypatch, command):
    """acceptability and region, like solve, keep nothing of a run once they have
    measured it: when a run starts, no earlier run's metric arrays are alive."""
    from simrisk.analysis import acceptability, region

    runs = _WatchedRuns(monkeypatch)
    if command == "acceptability":
        acceptability.curves(deal, SHARE, np.linspace(0.1, 1.0, 6), 50, 1, 0.0)
    else:
        goal = [sv.Goal("p_investor_loss_at_most", 0.5)]
        cost = "programme.phases[0].cost_per_week"
        region.region(deal, [SHARE, cost], [(0.1, 1.0), (500.0, 900.0)], 3, goal, 50, 1)
    assert len(runs.alive) == 3 * (6 if command == "acceptability" else 9)
    assert runs.most_alive == 0


def test_an_evaluation_gives_the_metrics_the_goals_read_as_a_run_gives_them(deal):
    """The evaluator gives only :data:`solve.EVALUATED` of each value tried, each equal
    to the run's own at that value; every goal and the acceptability curves read
    nothing else (the tests of solve, region and acceptability run on them)."""
    metrics = sv.evaluator(deal, SHARE, N, SEED)
    got = metrics(0.4)
    full = engine.run(deal, SEED, N, adjust=[Adjustment(SHARE_PATH, "set", 0.4)]).metrics
    assert set(got) == set(sv.EVALUATED)
    for k in sv.EVALUATED:
        np.testing.assert_array_equal(got[k], full[k])
    for kind in sv.GOAL_KINDS:
        sv.Goal(kind, 0.5).value(got)  # reads only what is kept


def test_goals_met_everywhere_or_nowhere(deal):
    everywhere = sv.Goal("p_municipal_loss_at_most", 1.0)
    sol = sv.solve(deal, SHARE, 0.1, 1.0, [everywhere], N, SEED)
    assert sol.crossings == [None] and sol.feasible == (0.1, 1.0)
    assert sol.evaluations == 2  # the two ends only
    nowhere = sv.Goal("median_profit_at_least", 1e9)
    sol = sv.solve(deal, SHARE, 0.1, 1.0, [everywhere, nowhere], N, SEED)
    assert sol.feasible is None and sol.crossings == [None, None]
    assert (
        "median investor profit ≥ 1,000,000,000 DKK: not met anywhere in [10.0 %, 100.0 %]"
        in sol.notes
    )


def test_two_goals_meet_on_the_intersection(deal):
    """P(investor loss) <= 0.8 holds above its crossing, P(municipal loss) <= 0.3 below its
    own, which is higher: every goal holds between them, and 'best' is the low end."""
    goals = [sv.Goal("p_investor_loss_at_most", 0.8), sv.Goal("p_municipal_loss_at_most", 0.3)]
    sol = sv.solve(deal, SHARE, 0.1, 1.0, goals, N, SEED)
    c_inv, c_mun = sol.crossings
    assert sol.feasible == (c_inv, c_mun) and c_inv < c_mun
    assert sol.best == c_inv and sol.notes == []
    m = _at(deal, SHARE_PATH, c_inv)
    assert sol.best_values == [g.value(m) for g in goals]
    assert all(g.margin(m) >= 0 for g in goals)


def test_infeasible_goals_report_the_point_of_smallest_worst_shortfall(deal):
    """P(municipal loss) <= 0.1 holds below its crossing c1, P(investor loss) <= 0.7 above
    its crossing c2 > c1. Below c1 the worst shortfall is the investor's, falling as the
    share falls; above c2 it is the municipality's, growing with the share: the best grid
    point (spacing 0.045) lies in [c1 - 0.045, c2 + 0.045]."""
    goals = [sv.Goal("p_municipal_loss_at_most", 0.1), sv.Goal("p_investor_loss_at_most", 0.7)]
    sol = sv.solve(deal, SHARE, 0.1, 1.0, goals, N, SEED)
    c1, c2 = sol.crossings
    assert c1 < c2
    assert sol.feasible is None
    assert sol.notes == [
        "no value meets every goal; 'best' is where the worst shortfall is smallest"
    ]
    step = 0.9 / 20
    assert c1 - step - 1e-12 <= sol.best <= c2 + step + 1e-12
    m = _at(deal, SHARE_PATH, sol.best)
    assert sol.best_values == [g.value(m) for g in goals]


# ---------------------------------------------------------------------------- bad input
def test_solve_names_every_problem(holbaek):
    with pytest.raises(ConfigError) as err:
        sv.solve(holbaek, "cohort.size", 2, 1, [], 10, 1)
    assert err.value.problems == [
        "--vary: 'cohort.size' names no real-valued field of the deal: "
        "cohort.size is a whole number; only real-valued fields vary",
        "--range: the upper end must be above the lower end",
        "goals: give at least one goal",
    ]


def test_solve_rejects_unset_and_scenario_independent_paths():
    raw = load_raw("holbaek")
    del raw["contract"]["cap_share"]  # Holbæk caps its payments at a share of the capital
    cfg = parse_deal(raw, "holbaek without cap")
    goal = [sv.Goal("p_investor_loss_at_most", 0.5)]
    with pytest.raises(ConfigError) as err:
        sv.solve(cfg, "contract.cap", 1e6, 2e6, goal, 10, 1)
    assert err.value.problems == [
        "--vary: 'contract.cap' is not set in the deal; give it a value to vary it"
    ]
    with pytest.raises(ConfigError) as err:
        sv.solve(cfg, "labour.calendar[0].job_entry_multiplier", 0.5, 1, goal, 10, 1)
    assert err.value.problems[0].startswith("--vary: calendar shocks are the same")


@pytest.mark.parametrize("command", ["solve", "acceptability", "region"])
def test_a_range_the_deal_would_refuse_is_refused(command, tmp_path, monkeypatch):
    """A term's values outside what the deal file accepts (an uptake above 1, a negative
    one) are refused before anything runs, naming the option and the deal's rule, as
    the same values in a deal file or a stress grid would be, and before the memory
    check (which this run would fail as well); an end the deal accepts passes."""
    monkeypatch.setattr(resources, "available_bytes", lambda: 500_000_000)
    deal = str(CONFIGS / "holbaek.toml")
    out = tmp_path / "x.nc"
    if command == "region":
        vary = ["--vary", "cohort.uptake=-0.5,1.5", "--vary", "contract.cap_share=0.5,1"]
        field = "--vary"
    else:
        vary = ["--vary", "cohort.uptake", "--range", "-0.5,1.5"]
        field = "--range"
    goal = ["--breakeven"] if command != "acceptability" else []
    args = [command, deal, *vary, *goal, "-n", "10000000", "--seed", "1", "-o", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.stderr.splitlines() == [
        f"error: {field}: the lower end -0.5 is not a value of cohort.uptake: "
        "Input should be greater than or equal to 0 (got -0.5)",
        f"error: {field}: the upper end 1.5 is not a value of cohort.uptake: "
        "Input should be less than or equal to 1 (got 1.5)",
    ]
    assert not out.exists()
    holbaek, _ = load_deal(CONFIGS / "holbaek.toml")
    assert sv.term_problems(holbaek, "cohort.uptake", 0.0, 1.0) == []
    assert sv.term_problems(holbaek, "contract.cap_share", 0.5, 3.0) == []


def test_cli_solve_finds_the_crossing():
    """The command on an included deal: P(municipal net < 0) <= 0.45 holds from the low
    end of the share up to the crossing, checked by runs of our own just at and above it
    (the default xtol is 1e-4 of the range)."""
    res = CliRunner().invoke(
        main,
        [
            "solve",
            str(CONFIGS / "slagelse.toml"),
            *("--vary", SHARE, "--range", "0.1,1", "--max-municipal-loss", "0.45"),
            *("-n", "50", "--seed", str(SEED), "--json"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    goal = sv.Goal("p_municipal_loss_at_most", 0.45)
    assert data["goals"][0]["goal"] == goal.describe() == "P(municipal net < 0) ≤ 45 %"
    x = data["goals"][0]["crossing"]
    assert data["feasible"] == [0.1, x] and data["best"] == 0.1
    assert data["goals"][0]["value_at_best"] <= 0.45
    cfg, _ = load_deal(CONFIGS / "slagelse.toml")
    assert goal.margin(_at(cfg, SHARE_PATH, x, 50)) >= 0
    assert goal.margin(_at(cfg, SHARE_PATH, x + 2e-4 * 0.9, 50)) < 0


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--range", "x,y", "--breakeven"], "--range: 'x,y' is not LOW,HIGH"),
        (["--range", "1,2"], "goals: give at least one of"),
    ],
)
def test_cli_solve_bad_input(extra, needle):
    res = CliRunner().invoke(
        main, ["solve", str(CONFIGS / "holbaek.toml"), "--vary", "contract.cap", *extra]
    )
    assert res.exit_code == 1 and needle in res.stderr, res.output


NON_FINITE = {
    "solve hurdle": (
        ["solve", "--vary", "cohort.uptake", "--range", "0.5,1", "--irr-hurdle", "nan"],
        "--irr-hurdle: nan is not an IRR above -100 % and at most 1,000 % (0.05 for 5 %)",
    ),
    "solve goal share": (
        ["solve", "--vary", "cohort.uptake", "--range", "0.5,1", "--max-municipal-loss", "nan"],
        "--max-municipal-loss: nan is not a share from 0 to 1",
    ),
    "region goal share": (
        ["region", "--vary", "cohort.uptake=0.5,1", "--vary", "contract.cap_share=0.8,1.2",
         "--irr-hurdle", "0.05", "--irr-prob", "nan"],
        "--irr-prob: nan is not a share from 0 to 1",
    ),
    "solve range": (
        ["solve", "--vary", "cohort.uptake", "--range", "nan,1", "--breakeven"],
        "--range: 'nan,1': both ends must be finite numbers",
    ),
    "solve wildcard": (
        ["solve", "--vary", "effect.job_entry[*]", "--range", "0.5,3", "--breakeven"],
        "--vary: bad index '[*]' in path 'effect.job_entry[*]' (give one field)",
    ),
    "acceptability hurdle": (
        ["acceptability", "--vary", "cohort.uptake", "--range", "0.5,1", "--hurdle", "inf"],
        "--hurdle: inf is not an IRR above -100 % and at most 1,000 % (0.05 for 5 %)",
    ),
    "acceptability wildcard": (
        ["acceptability", "--vary", "effect.job_entry[*]", "--range", "0.5,3"],
        "--vary: bad index '[*]' in path 'effect.job_entry[*]' (give one field)",
    ),
    "region hurdle": (
        ["region", "--vary", "cohort.uptake=0.5,1", "--vary", "contract.cap_share=0.8,1.2",
         "--irr-hurdle", "-1"],
        "--irr-hurdle: -1 is not an IRR above -100 % and at most 1,000 % (0.05 for 5 %)",
    ),
    "solve hurdle too high": (
        ["solve", "--vary", "cohort.uptake", "--range", "0.5,1", "--irr-hurdle", "1e300"],
        "--irr-hurdle: 1e+300 is not an IRR above -100 % and at most 1,000 % (0.05 for 5 %)",
    ),
    "region range": (
        ["region", "--vary", "cohort.uptake=0.5,1", "--vary", "contract.cap_share=0.8,inf",
         "--breakeven"],
        "--vary[1]: 'contract.cap_share=0.8,inf': both ends must be finite numbers",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(NON_FINITE))
def test_non_finite_goals_ranges_and_wildcards_are_refused(case, tmp_path):
    """A hurdle, a range end that is not a finite number, or a wildcard path: one line
    naming the option, exit 1, nothing written."""
    (command, *args), line = NON_FINITE[case]
    out = tmp_path / "x.nc"
    deal = str(CONFIGS / "holbaek.toml")
    args = [command, deal, *args, "-n", "10", "--seed", "1", "-o", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert res.stderr.splitlines() == [f"error: {line}"]
    assert not out.exists()


def test_a_bad_hurdle_and_bad_goal_shares_are_said_together(tmp_path):
    """Every bad goal option at once, one line each, in the options' order."""
    out = tmp_path / "x.nc"
    args = ["solve", str(CONFIGS / "holbaek.toml"), "--vary", "cohort.uptake", "--range",
            "0.5,1", "--irr-hurdle", "inf", "--irr-prob", "nan", "--max-investor-loss", "nan",
            "-n", "10", "-o", str(out)]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert res.stderr.splitlines() == [
        "error: --irr-hurdle: inf is not an IRR above -100 % and at most 1,000 % (0.05 for 5 %)",
        "error: --irr-prob: nan is not a share from 0 to 1",
        "error: --max-investor-loss: nan is not a share from 0 to 1",
    ]
    assert not out.exists()
