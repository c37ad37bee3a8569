"""Stress tests: the standard set, stress files, grids, points_for(), prepare() and common
random numbers."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import benefits, engine, report, simulation
from simrisk.analysis import portfolio, stress, sweep
from simrisk.cli import main
from simrisk.config import CalendarShock, ConfigError, StressPoint, load_deal, parse_deal
from simrisk.config.uncertainty import Change
from simrisk.contracts import compute_baseline
from simrisk.outputs import METRICS
from simrisk.sampling import Values
from tests.conftest import CONFIGS, load_raw, simple_deal, simple_raw, write_toml

SEED = 3
N = 100
LABOUR = ("enrolled", "ever_employed_counterfactual", "ever_employed_treatment")


def _same(a: dict, b: dict, names=METRICS) -> None:
    for k in names:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].tobytes() == b[k].tobytes(), k


def _paired(stressed: dict, base: dict, name: str) -> tuple[float, float]:
    """Mean of the per-scenario differences and its standard error: on common random
    numbers the differences are i.i.d. over scenarios, so SE = sd(d) / sqrt(n)."""
    d = stressed[name].astype(float) - base[name].astype(float)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


def _deal_with(**sections):
    raw = load_raw("holbaek")
    raw.update(sections)
    return parse_deal(raw, "holbaek+")


@pytest.fixture(scope="module")
def standard(holbaek):
    prepared = stress.points_for(holbaek)
    return prepared, stress.run_stress(holbaek, prepared, SEED, N)


# ----------------------------------------------------------------- common random numbers
def test_the_base_point_is_engine_run_of_the_deal(holbaek, standard):
    prepared, metrics = standard
    assert prepared[0].name == "base" and prepared[0].adjust == []
    assert prepared[0].cfg is holbaek
    _same(metrics[0], engine.run(holbaek, SEED, N).metrics)


def test_a_stress_that_changes_nothing_gives_the_base_bitwise(holbaek):
    points = [
        StressPoint(name="scale by one", changes=[{"path": "effect.job_entry[*]", "scale": 1.0}]),
        StressPoint(name="add zero", changes=[{"path": "cohort.enrolment.delay_weeks", "add": 0}]),
    ]
    prepared = stress.prepare(holbaek, points)
    metrics = stress.run_stress(holbaek, prepared, SEED, 60)
    for m in metrics[1:]:
        _same(m, metrics[0])
    for row in stress.table(prepared, metrics):
        for key, _, _ in stress.KEY:
            assert row[f"{key}_diff"] == 0.0 and row[f"{key}_diff_se"] == 0.0


def test_a_contract_stress_leaves_every_citizen_as_he_was(holbaek):
    """Common random numbers: doubling a tariff changes what is paid, not one simulated
    citizen, so every metric of the simulation and the ledger is bitwise the same."""
    point = StressPoint(
        name="double tariff",
        changes=[{"path": "contract.mechanisms[0].tariffs.job_entry", "scale": 2.0}],
    )
    base, doubled = stress.run_stress(holbaek, stress.prepare(holbaek, [point]), SEED, 60)
    # (a rate card measures no savings: its savings_measured are NaN in both)
    _same(doubled, base, LABOUR + ("programme_cost", "savings_true", "savings_municipality"))
    assert np.isnan(base["savings_measured"]).all()
    # (payments can go either way: earlier payments reach the investor's return cap sooner)
    assert not np.array_equal(doubled["payments_total"], base["payments_total"])


def test_the_effect_switched_off_makes_the_arms_equal(holbaek):
    """With every hazard ratio at 1 the treatment arm is the counterfactual, citizen by
    citizen: no true savings, the same employment; the rate card still pays for the
    treated citizens' outcomes, so the municipality loses in every scenario."""
    point = StressPoint(
        name="no effect",
        changes=[
            {"path": f"effect.{k}[*]", "set": 1.0}
            for k in ("job_entry", "education_entry", "job_loss")
        ],
    )
    base, none = stress.run_stress(holbaek, stress.prepare(holbaek, [point]), SEED, 60)
    np.testing.assert_array_equal(
        none["ever_employed_treatment"], none["ever_employed_counterfactual"]
    )
    assert np.abs(none["savings_true"]).max() <= 1e-9 * np.abs(base["savings_true"]).max()
    assert (none["payments_total"] > 0).all()
    assert (none["municipal_net"] < 0).all()


def test_a_calendar_point_runs_like_a_deal_written_with_the_shock():
    """A stress point's calendar is added to the deal's own; running the point is running
    the deal with both shocks in its file (same seed, same scenarios)."""
    own = {"start": dt.date(2025, 1, 1), "end": dt.date(2025, 6, 1), "job_entry_multiplier": 0.8}
    extra = {"start": dt.date(2026, 1, 1), "end": dt.date(2026, 9, 1), "job_entry_multiplier": 0.5}
    raw = load_raw("holbaek")
    raw["labour"]["calendar"] = [own]
    cfg = parse_deal(raw, "holbaek+shock")
    prepared = stress.prepare(cfg, [StressPoint(name="shock", calendar=[extra])])
    assert prepared[1].adjust == []
    assert [c.start for c in prepared[1].cfg.labour.calendar] == [own["start"], extra["start"]]
    assert [c.start for c in cfg.labour.calendar] == [own["start"]]  # the deal is untouched
    raw["labour"]["calendar"] = [own, extra]
    written = parse_deal(raw, "holbaek+both")
    _, shocked = stress.run_stress(cfg, prepared, SEED, 40)
    _same(shocked, engine.run(written, SEED, 40).metrics)


def test_a_baseline_contract_keeps_the_unstressed_baseline():
    """slagelse measures savings against a fixed baseline: at a stress point the contract
    still compares with the deal's own baseline, not one recomputed under the stress."""
    cfg, _ = load_deal(CONFIGS / "slagelse.toml")
    shock = StressPoint(
        name="shock",
        calendar=[
            {
                "start": cfg.deal.start_date + dt.timedelta(weeks=20),
                "end": cfg.deal.start_date + dt.timedelta(weeks=120),
                "job_entry_multiplier": 0.5,
            }
        ],
    )
    prepared = stress.prepare(cfg, [shock])
    _, got = stress.run_stress(cfg, prepared, SEED, 40)
    kept = compute_baseline(cfg, simulation.build_structure(cfg))
    _same(got, engine.run(prepared[1].cfg, SEED, 40, baseline=kept).metrics)
    # and it matters: the shocked deal's own baseline gives other measured savings
    own = engine.run(prepared[1].cfg, SEED, 40).metrics
    assert not np.array_equal(own["savings_measured"], got["savings_measured"])


# ----------------------------------------------------------------------- the standard set
def test_the_standard_set_is_used_when_the_deal_names_none(holbaek, standard):
    prepared, _ = standard
    assert holbaek.stress == []
    assert [p.name for p in prepared] == [
        "base",
        "recession",
        "weak effect",
        "enrolment shortfall",
        "higher dropout",
        "delayed start",
        "rates frozen",
        "labour-market shock",
    ]
    by = {p.name: p for p in prepared}
    # wildcards expand to every concrete field of the deal
    assert {a.path for a in by["higher dropout"].adjust} == {
        ("programme", "phases", i, "dropout") for i in range(4)
    }
    assert len(by["weak effect"].adjust) == 3 * 4  # job_entry, education_entry, job_loss
    assert {a.op for a in by["weak effect"].adjust} == {"excess"}
    # no regulation: the shared table's years and its assumed rate (no benefit of the deal
    # has an indexation of its own)
    years = len(holbaek.economics.regulation.years)
    assert years == 5
    assert {a.path for a in by["rates frozen"].adjust} == {
        ("economics", "regulation", "assumed"),
        *(("economics", "regulation", "years", i, "rate") for i in range(years)),
    }
    assert {(a.op, a.value) for a in by["rates frozen"].adjust} == {("set", 0.0)}
    shock = by["labour-market shock"].cfg.labour.calendar
    assert len(shock) == 1 and shock[0].job_entry_multiplier == 0.5
    assert shock[0].start == holbaek.deal.start_date + dt.timedelta(weeks=52)
    assert (shock[0].end - shock[0].start).days == 7 * 52


def test_rates_frozen_also_freezes_a_benefits_own_indexation():
    """A deal whose benefit has a flat indexation of its own: the stress sets it to 0 with
    the shared table's rates; every regulated rate is then its dated value."""
    raw = simple_raw(size=5, horizon=120)
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["economics"]["benefits"] = {
        "kontanthjaelp_30plus": {
            "unit": "week",
            "indexation": 0.05,
            "rates": [{"from": dt.date(2024, 1, 1), "value": 3000.0}],
        }
    }
    cfg = parse_deal(raw, "own")
    frozen = next(p for p in stress.points_for(cfg) if p.name == "rates frozen")
    paths = {a.path for a in frozen.adjust}
    assert ("economics", "benefits", "kontanthjaelp_30plus", "indexation") in paths
    assert ("economics", "regulation", "assumed") in paths
    plain = Values(cfg.model_dump(by_alias=True), {}, 1)
    rates = benefits.weekly(cfg, plain.adjusted(frozen.adjust), "kontanthjaelp_30plus", 120)
    np.testing.assert_array_equal(rates, 3000.0)
    unfrozen = benefits.weekly(cfg, plain, "kontanthjaelp_30plus", 120)
    assert unfrozen[0, -1] == pytest.approx(3000.0 * 1.05**2)  # 2026


def test_the_weak_effect_stress_skips_effects_the_deal_does_not_have():
    cfg = simple_deal(
        effect={"job_entry": [1.5, 2.0]},
        phases=[{"name": p, "weeks": 5, "cost_per_week": 100.0, "dropout": 0.0} for p in "ab"],
    )
    weak = next(p for p in stress.points_for(cfg) if p.name == "weak effect")
    assert [a.path for a in weak.adjust] == [("effect", "job_entry", 0), ("effect", "job_entry", 1)]


# Each standard stress moves the figure its description names, in its direction. On common
# random numbers the per-scenario differences are i.i.d., so their mean has the paired SE
# sd(d)/sqrt(n); "moves down" is asserted as mean + 4 SE < 0 (a stress without the effect
# would pass with probability < 4e-5). Figures the stress cannot touch must not move at all.
DIRECTIONS = {
    "recession": ("ever_employed_counterfactual", ()),
    "weak effect": ("ever_employed_treatment", ("enrolled", "ever_employed_counterfactual")),
    "enrolment shortfall": ("enrolled", ()),
    "higher dropout": ("programme_cost", ("enrolled", "ever_employed_counterfactual")),
    "delayed start": ("ever_employed_counterfactual", ("enrolled", "programme_cost")),
    "rates frozen": ("savings_true", LABOUR + ("programme_cost", "payments_total")),
    "labour-market shock": ("ever_employed_counterfactual", ("enrolled",)),
}


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_each_standard_stress_moves_its_figure_down(standard, name):
    prepared, metrics = standard
    m = metrics[[p.name for p in prepared].index(name)]
    figure, untouched = DIRECTIONS[name]
    mean, se = _paired(m, metrics[0], figure)
    assert se > 0 and mean + 4 * se < 0, (mean, se)
    _same(m, metrics[0], untouched)


def test_enrolment_shortfall_fills_seventy_percent_of_the_places(standard):
    """Each planned citizen enrols when his uniform is below the uptake; scaling the uptake
    by 0.7 after drawing keeps the uniforms, so the expected enrolment is 0.7 times the
    base's, scenario by scenario. The ratio of means R = mean(a) / mean(b) has the
    delta-method SE sd(a - R b) / (sqrt(n) mean(b)) (paired scenarios); within 4 SE."""
    prepared, metrics = standard
    a = metrics[[p.name for p in prepared].index("enrolment shortfall")]["enrolled"]
    b = metrics[0]["enrolled"]
    assert (a <= b).all()  # the same uniforms: who enrols under the shortfall enrolled anyway
    ratio = a.mean() / b.mean()
    se = (a - ratio * b).std(ddof=1) / (math.sqrt(a.size) * b.mean())
    assert 0 < se < 0.01 and abs(ratio - 0.7) < 4 * se, (ratio, se)


# ----------------------------------------------------------------- the table of differences
def test_table_differences_and_standard_errors_by_hand():
    """Four scenarios written out: the rows hold the means, the mean paired difference and
    its SE = sd(d, ddof=1) / sqrt(4)."""
    base = {
        "investor_profit": np.array([10.0, -5.0, 0.0, 20.0]),
        "investor_moic": np.array([1.5, 0.5, np.nan, 2.0]),
        "investor_irr": np.array([0.08, -0.3, np.nan, 0.12]),
        "municipal_net": np.array([1.0, -1.0, 2.0, -3.0]),
        "deadweight_share": np.array([0.5, 0.25, 0.0, 1.0]),
        "overpayment_share": np.array([0.0, 0.5, 0.0, 0.5]),
    }
    hit = {
        "investor_profit": np.array([8.0, -9.0, -1.0, 20.0]),
        "investor_moic": np.array([1.4, 0.2, np.nan, 2.0]),
        "investor_irr": np.array([0.07, np.nan, -0.01, 0.12]),
        "municipal_net": np.array([0.0, -2.0, 2.0, -3.0]),
        "deadweight_share": np.array([0.75, 0.25, 0.0, 1.0]),
        "overpayment_share": np.array([0.0, 0.5, 0.5, 0.5]),
    }
    prepared = [stress.Prepared("base", "", None, []), stress.Prepared("hit", "", None, [])]
    _, row = stress.table(prepared, [base, hit])
    # profit: d = (-2, -4, -1, 0), mean -1.75, deviations (-.25, -2.25, .75, 1.75),
    # sum of squares 8.75
    assert row["investor_profit"] == 4.5
    assert row["investor_profit_diff"] == -1.75
    assert row["investor_profit_diff_se"] == pytest.approx(math.sqrt(8.75 / 3) / 2)
    # the shares of payments: means 0.5 and 0.5625 (deadweight), 0.25 and 0.375 (overpaid)
    assert row["deadweight_share"] == 0.5
    assert row["deadweight_share_diff"] == 0.0625
    assert row["overpayment_share"] == 0.375 and row["overpayment_share_diff"] == 0.125
    # investor loss: indicators (0, 1, 0, 0) -> (0, 1, 1, 0); d = (0, 0, 1, 0)
    assert row["investor_loss"] == 0.5
    assert row["investor_loss_diff"] == 0.25
    assert row["investor_loss_diff_se"] == pytest.approx(math.sqrt(0.75 / 3) / 2)
    # an undefined multiple counts as 0: means 1.0 and 0.9
    assert row["investor_moic"] == pytest.approx(0.9)
    assert row["investor_moic_diff"] == pytest.approx(-0.1)
    # municipal net: d = (-1, -1, 0, 0); P(net < 0) stays 0.5
    assert row["municipal_net_diff"] == -0.5
    assert row["municipal_net_diff_se"] == pytest.approx(math.sqrt(1.0 / 3) / 2)
    assert row["municipal_loss"] == 0.5 and row["municipal_loss_diff"] == 0.0
    # the median IRR ranks the undefined one (a loss) lowest: (-inf, -0.01, 0.07, 0.12),
    # the lower median of four (inverted CDF) is -0.01; the VaR 95 % is the loss at the
    # lowest of four outcomes, 3
    assert row["investor_irr_median"] == -0.01
    assert row["municipal_var95"] == 3.0
    assert stress.definition({"description": "fewer jobs", "changes": "x scale 0.7"}) == (
        "fewer jobs: x scale 0.7"
    )


# ---------------------------------------------------------------- prepare() and bad input
def test_prepare_names_every_problem_at_once(holbaek):
    points = [
        StressPoint(name="too many", changes=[{"path": "cohort.uptake", "scale": 2.0}]),
        StressPoint(name="leave", changes=[{"path": "programme.phases[*].dropout", "set": 1.5}]),
        StressPoint(name="nowhere", changes=[{"path": "cohort.nothing", "set": 0.5}]),
        StressPoint(name="integer", changes=[{"path": "cohort.size", "set": 10}]),
        StressPoint(name="meta", changes=[{"path": "uncertainty.parameters[0].low", "set": 1}]),
        StressPoint(name="base", changes=[{"path": "cohort.uptake", "set": 0.5}]),
        StressPoint(name="no jobs", changes=[{"path": "labour.job_entry_multiplier", "add": -5}]),
        StressPoint(name="fine", changes=[{"path": "cohort.uptake", "set": 0.5}]),
    ]
    with pytest.raises(ConfigError) as err:
        stress.prepare(holbaek, points)
    problems = err.value.problems
    expected = [
        "stress[0] (too many): cohort.uptake: Input should be less than or equal to 1 (got 1.9)",
        "stress[2].changes[0].path: 'cohort.nothing' names no real-valued field of the deal: "
        "there is no 'nothing' in cohort",
        "stress[3].changes[0].path: 'cohort.size' names no real-valued field of the deal: "
        "cohort.size is a whole number; only real-valued fields vary",
        "stress[4].changes[0].path: the uncertainty section cannot itself be varied",
        "stress[5].name: 'base' is used twice",
        "stress[6] (no jobs): labour.job_entry_multiplier: Input should be greater than 0 "
        f"(got {holbaek.labour.job_entry_multiplier - 5:.4g})",
    ]
    for line in expected:
        assert line in problems, problems
    # one line per phase whose dropout would leave [0, 1]
    assert sum(p.startswith("stress[1] (leave): programme.phases[") for p in problems) == 4
    assert not any(p.startswith("stress[7]") for p in problems)
    assert len(problems) == len(expected) + 4


CAL, JEM = "labour.calendar", "job_entry_multiplier"


def test_prepare_rejects_calendar_paths():
    """A calendar shock is the same in every scenario: a change to it is refused (use a
    stress point's own calendar instead)."""
    raw = load_raw("holbaek")
    raw["labour"]["calendar"] = [
        {"start": dt.date(2025, 1, 1), "end": dt.date(2025, 6, 1), "job_entry_multiplier": 0.8}
    ]
    cfg = parse_deal(raw, "holbaek+shock")
    points = [
        StressPoint(name="one", changes=[{"path": f"{CAL}[0].{JEM}", "set": 1.0}]),
        StressPoint(name="all", changes=[{"path": f"{CAL}[*].{JEM}", "scale": 2.0}]),
    ]
    with pytest.raises(ConfigError) as err:
        stress.prepare(cfg, points)
    assert len(err.value.problems) == 2
    for i, p in enumerate(err.value.problems):
        assert p.startswith(f"stress[{i}].changes[0].path: calendar shocks are the same")


def test_prepare_applies_the_operation_to_check_the_value(holbaek):
    """The check uses the value the stress gives: scaling the uptake of 0.95 by 1.05
    passes (0.9975), by 1.06 it does not (1.007 > 1)."""
    ok = stress.prepare(
        holbaek, [StressPoint(name="a", changes=[{"path": "cohort.uptake", "scale": 1.05}])]
    )
    assert ok[1].adjust[0].path == ("cohort", "uptake") and ok[1].adjust[0].value == 1.05
    with pytest.raises(ConfigError) as err:
        stress.prepare(
            holbaek, [StressPoint(name="b", changes=[{"path": "cohort.uptake", "scale": 1.06}])]
        )
    assert err.value.problems == [
        "stress[0] (b): cohort.uptake: Input should be less than or equal to 1 (got 1.007)"
    ]


# ------------------------------------------------------------ grids, files, points_for()
def test_grid_is_a_full_factorial():
    points = stress.parse_grid(["effect.job_entry[2]=1.5,2,2.5", "cohort.uptake=0.8,1"])
    assert [p.name for p in points] == [
        f"effect.job_entry[2]={a:g}, cohort.uptake={b:g}" for a in (1.5, 2, 2.5) for b in (0.8, 1)
    ]
    assert [(c.path, c.op) for c in points[3].changes] == [
        ("effect.job_entry[2]", ("set", 2.0)),
        ("cohort.uptake", ("set", 1.0)),
    ]


def test_grid_values_that_print_alike_have_their_own_names():
    """Values equal in six digits are other values: each point is named by its value in
    full, and a value given twice is refused, naming the --grid."""
    points = stress.parse_grid(["investor.capital=2345678,2345681,2e6", "cohort.uptake=0.8"])
    assert [p.name for p in points] == [
        "investor.capital=2345678, cohort.uptake=0.8",
        "investor.capital=2345681, cohort.uptake=0.8",
        "investor.capital=2e+06, cohort.uptake=0.8",
    ]
    assert [p.changes[0].op for p in points] == [("set", 2345678.0), ("set", 2345681.0),
                                                 ("set", 2e6)]  # fmt: skip
    assert stress.value_text(1.5000001) == "1.5000001"
    with pytest.raises(ConfigError) as err:
        stress.parse_grid(["cohort.uptake=0.5", "effect.persistence=0.5,0.50,0.6"])
    assert err.value.problems == [
        "--grid[1]: 'effect.persistence=0.5,0.50,0.6': 0.5 given twice; give each value once"
    ]


def test_a_grid_value_beyond_every_bound_is_one_line():
    """A value a stress change cannot hold (above 10^12) is named with its --grid, not
    as a pydantic report of the StressPoint model."""
    with pytest.raises(ConfigError) as err:
        stress.parse_grid(["cohort.uptake=0.5", "effect.job_entry[2]=1e13,2,3e14"])
    assert err.value.problems == [
        "--grid[1]: value 1e+13: Input should be less than or equal to 1000000000000",
        "--grid[1]: value 3e+14: Input should be less than or equal to 1000000000000",
    ]


@pytest.mark.parametrize(
    "grid, why",
    [
        # the same path twice: the first value would be overwritten by the second
        (["cohort.uptake=0.5", "cohort.uptake=0.7,0.9"],
         "'cohort.uptake' is given twice in one point"),
        # a wildcard over a path already given
        (["effect.job_entry[2]=1.5", "effect.job_entry[*]=1"],
         "'effect.job_entry[*]' changes effect.job_entry[2], as 'effect.job_entry[2]' does"),
        # the alias of a section
        (["programme.phases[0].dropout=0.01", "program.phases[0].dropout=0.02"],
         "'program.phases[0].dropout' changes programme.phases[0].dropout, as "
         "'programme.phases[0].dropout' does"),
    ],
)  # fmt: skip
def test_a_field_changed_twice_in_a_point_is_refused(holbaek, grid, why):
    with pytest.raises(ConfigError) as err:
        stress.points_for(holbaek, grid=grid)
    assert err.value.problems[0] == f"--grid[1]: {why}; give each field one change"


@pytest.mark.parametrize(
    "spec", ["cohort.uptake", "cohort.uptake=", "cohort.uptake=a,b", "=0.5", "cohort.uptake=1,x"]
)
def test_bad_grid_specs(spec):
    with pytest.raises(ConfigError) as err:
        stress.parse_grid(["cohort.uptake=0.5", spec])
    assert err.value.problems == [f"--grid[1]: '{spec}' is not PATH=v1,v2,... with numbers"]


def test_a_grid_value_replaces_the_drawn_one(holbaek):
    """cohort.uptake is uncertain in holbaek; a grid point sets it after drawing, so every
    scenario runs at the grid value, and the other draws stay those of the base."""
    prepared = stress.points_for(holbaek, grid=["cohort.uptake=0.5"])
    assert [p.name for p in prepared] == ["base", "cohort.uptake=0.5"]
    base, half = stress.run_stress(holbaek, prepared, SEED, 40)
    # at uptake 0.5 each of the 180 planned citizens enrols with probability 1/2: the
    # mean over 40 scenarios is 90 with SE sqrt(180 / 4) / sqrt(40) = 1.06; within 4 SE
    assert abs(half["enrolled"].mean() - 90) < 4 * math.sqrt(180 / 4 / 40)
    # the same uniforms decide who enrols: under 0.5 only citizens who enrolled at the
    # drawn uptake (Beta(19, 1), below 0.5 with probability 2e-6)
    assert (half["enrolled"] <= base["enrolled"]).all()


def _stress_file(tmp_path, body: str) -> str:
    path = tmp_path / "points.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_points_for_chooses_grid_file_deal_or_standard(holbaek, tmp_path):
    f = _stress_file(
        tmp_path,
        '[[stress]]\nname = "from file"\nchanges = [{ path = "cohort.uptake", set = 0.6 }]\n',
    )
    own = _deal_with(stress=[{"name": "own", "changes": [{"path": "cohort.uptake", "scale": 0.9}]}])
    assert [p.name for p in stress.points_for(holbaek, stress_file=f)] == ["base", "from file"]
    assert [p.name for p in stress.points_for(own)] == ["base", "own"]
    # a grid or a stress file replaces the deal's own points
    assert [p.name for p in stress.points_for(own, stress_file=f)] == ["base", "from file"]
    assert [p.name for p in stress.points_for(own, grid=["cohort.uptake=1"])] == [
        "base",
        "cohort.uptake=1",
    ]
    assert len(stress.points_for(holbaek)) == 8  # the standard set
    with pytest.raises(ConfigError) as err:
        stress.points_for(holbaek, grid=["cohort.uptake=1"], stress_file=f)
    assert err.value.problems == ["--grid, --stress-file: give one of them, not both"]


def test_a_standard_point_the_deal_refuses_is_left_out_and_said(tmp_path):
    """Doubling a weekly dropout of 0.6 gives 1.2, which no deal accepts: the standard set
    runs without that point and says why (on the terminal and in the file), while the
    same change written by the user is an error."""
    raw = load_raw("holbaek")
    raw["programme"]["phases"][1]["dropout"] = 0.6
    cfg = parse_deal(raw, "holbaek, a dropout of 0.6")
    said: list[str] = []
    names = [p.name for p in stress.points_for(cfg, log=said.append)]
    assert names == [p.name for p in stress.points_for(load_deal(CONFIGS / "holbaek.toml")[0])
                     if p.name != "higher dropout"]  # fmt: skip
    assert said == [
        "the standard point 'higher dropout' is left out: programme.phases[1].dropout: Input "
        "should be less than or equal to 1 (got 1.2)"
    ]
    own = parse_deal({**raw, "stress": [{"name": "own", "changes": [
        {"path": "programme.phases[*].dropout", "scale": 2.0}]}]}, "own")  # fmt: skip
    with pytest.raises(ConfigError, match="got 1.2"):
        stress.points_for(own)
    deal = tmp_path / "d.toml"
    write_toml(deal, raw)
    out = tmp_path / "s.nc"
    res = CliRunner().invoke(main, ["stress", str(deal), "-n", "10", "--seed", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"note: {said[0]}" in res.stderr
    ds = xr.load_dataset(out)
    assert ds.attrs["left_out"] == said[0] and "higher dropout" not in ds["stress"].values
    # and wherever the file is read: its summary, the --json answer, the report's page
    shown = CliRunner().invoke(main, ["summary", str(out)])
    assert shown.exit_code == 0 and said[0] in " ".join(shown.stdout.split())
    res = CliRunner().invoke(
        main, ["stress", str(deal), "-n", "10", "--seed", "1", "-o", str(out), "--overwrite",
               "--json"])  # fmt: skip
    assert json.loads(res.stdout)["left_out"] == said
    run = tmp_path / "r.nc"
    args = ["run", str(deal), "-n", "10", "--seed", "1", "-o", str(run)]
    assert CliRunner().invoke(main, args).exit_code == 0
    report.write_report(run, tmp_path / "rep", stress=out)
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert html.escape(said[0]) in page


def test_a_change_that_takes_drawn_values_out_of_range_is_counted_and_warned(tmp_path, monkeypatch):
    """Holbæk draws the dropout of phase 1 from U(0.004, 0.015): adding 0.99 keeps the
    value as written (0.998) within 1, and takes some drawn values above it. The count
    is that of a value-by-value check of the drawn values plus 0.99 against the bound of
    1; the command warns with it, and the file, its summary and the --json answer keep
    it. A change of the same field that stays in range, and one of a field that is not
    drawn, give none."""
    cfg = load_deal(CONFIGS / "holbaek.toml")[0]
    path = ("programme", "phases", 1, "dropout")
    sampler = stress.Sampler(cfg, SEED, N)
    added = stress.chunk_values(cfg, sampler, sampler.draw(0, N))(*path) + 0.99
    expected = int((added > 1.0).sum())
    assert 0 < expected < N
    points = [
        StressPoint.model_validate({"name": n, "changes": [{"path": p, **ch}]})
        for n, p, ch in (
            ("far", "programme.phases[1].dropout", {"add": 0.99}),
            ("near", "programme.phases[1].dropout", {"scale": 2.0}),
            ("fixed", "programme.phases[0].dropout", {"add": 0.98}),
        )
    ]
    prepared = stress.prepare(cfg, points)
    (line,) = stress.beyond_bounds(prepared, SEED, N)
    assert line.startswith("stress point 'far' takes the drawn programme.phases[1].dropout ")
    assert f"in {expected:,} of {N:,} scenarios (at worst {added.max():g}: " in line
    # the same line whatever the number of scenarios drawn at a time
    monkeypatch.setattr(stress, "BOUNDS_CHUNK", 7)
    assert stress.beyond_bounds(prepared, SEED, N) == [line]
    monkeypatch.undo()
    deal = tmp_path / "d.toml"
    raw = load_raw("holbaek")
    raw["stress"] = [p.model_dump(by_alias=True, exclude_defaults=True) for p in points]
    write_toml(deal, raw)
    out = tmp_path / "s.nc"
    args = ["stress", str(deal), "-n", str(N), "--seed", str(SEED), "-o", str(out)]
    res = CliRunner().invoke(main, [*args, "--json"])
    assert res.exit_code == 0, res.output
    assert f"warning: {line}" in res.stderr.splitlines()
    assert json.loads(res.stdout)["beyond_bounds"] == [line]
    assert xr.load_dataset(out).attrs["beyond_bounds"] == line
    shown = CliRunner().invoke(main, ["summary", str(out)])
    assert shown.exit_code == 0 and f"warning: {line}" in " ".join(shown.stdout.split())


def test_grid_problems_name_the_grid(holbaek):
    with pytest.raises(ConfigError) as err:
        stress.points_for(holbaek, grid=["cohort.uptake=1.5", "cohort.size=10"])
    assert err.value.problems == [
        "--grid[1]: 'cohort.size' names no real-valued field of the deal: "
        "cohort.size is a whole number; only real-valued fields vary",
        "--grid (cohort.uptake=1.5, cohort.size=10): cohort.uptake: Input should be less "
        "than or equal to 1 (got 1.5)",
    ]
    # a bad path is said once, naming its --grid, however many points the grid has
    with pytest.raises(ConfigError) as err:
        stress.points_for(holbaek, grid=["cohort.uptake=0.8,0.9,1", "cohort.size=10,20"])
    assert err.value.problems == [
        "--grid[1]: 'cohort.size' names no real-valued field of the deal: cohort.size is a "
        "whole number; only real-valued fields vary"
    ]


def test_bad_stress_files(tmp_path):
    f = _stress_file(
        tmp_path,
        "[[stress]]\nname = 'x'\nchanges = [{path = 'cohort.uptake', scale = 0.5, set = 1.0}]\n"
        "[[stress]]\nname = 'y'\ncolour = 'red'\n",
    )
    with pytest.raises(ConfigError) as err:
        stress.load_stress_file(f)
    text = "\n".join(err.value.problems)
    assert "stress[0].changes[0]" in text and "stress[1].colour" in text
    empty = _stress_file(tmp_path, "# nothing here\n")
    with pytest.raises(ConfigError) as err:
        stress.load_stress_file(empty)
    assert err.value.problems == ["stress: the file names no [[stress]] points"]
    with pytest.raises(ConfigError) as err:
        stress.load_stress_file(str(tmp_path / "missing.toml"))
    assert "missing.toml" in str(err.value)


def test_the_example_stress_files_prepare_on_every_included_deal():
    for path in sorted((CONFIGS / "stress").glob("*.toml")):
        points = stress.load_stress_file(str(path))
        for deal in sorted(CONFIGS.glob("*.toml")):
            prepared = stress.prepare(load_deal(deal)[0], points)
            assert [p.name for p in prepared] == ["base"] + [p.name for p in points]


# ----------------------------------------------------------- the documented file formats
FORMATS = CONFIGS.parent / "docs" / "formats.md"


def _documented_keys(heading: str) -> list[str]:
    """The keys (first column, in backquotes) of the table under ``heading`` in
    docs/formats.md, up to the next heading."""
    lines = FORMATS.read_text(encoding="utf-8").splitlines()
    keys = []
    for line in lines[lines.index(heading) + 1 :]:
        if line.startswith("#"):
            break
        m = re.match(r"\| `(\w+)` \|", line)
        if m:
            keys.append(m.group(1))
    return keys


@pytest.mark.parametrize(
    "heading, model",
    [
        ("## Stress file", stress.StressFile),
        ("### Stress point", StressPoint),
        ("### Change", Change),
        ("### Calendar shock", CalendarShock),
        ("## Sweep file", sweep.SweepFile),
        ("## Fund file", portfolio.FundFile),
        ("### `[macro]`", portfolio.Macro),
        ("### `[[holdings]]`", portfolio.Holding),
    ],
)
def test_the_documented_keys_are_the_models_fields(heading, model):
    """docs/formats.md documents every key a file takes, and no other."""
    fields = [f.alias or name for name, f in model.model_fields.items()]
    assert sorted(_documented_keys(heading)) == sorted(fields)


# ------------------------------------------------------------------- dataset and command
def test_dataset_has_a_stress_dimension(holbaek):
    prepared = stress.points_for(holbaek, grid=["cohort.uptake=0.6,0.8"])
    ds, rows, table = stress.stress_test(holbaek, "deal text", prepared, SEED, 30)
    assert ds["municipal_net"].dims == ("stress", "scenario")
    assert list(ds["stress"].values) == [p.name for p in prepared]
    metrics = stress.run_stress(holbaek, prepared, SEED, 30)
    for s, m in enumerate(metrics):
        assert ds["investor_profit"].values[s].tobytes() == m["investor_profit"].tobytes()
        assert rows[s]["municipal_net"] == pytest.approx(float(m["municipal_net"].mean()))
    assert ds.attrs["kind"] == "stress" and ds.attrs["n_scenarios"] == 30
    assert "cohort.uptake=0.6: cohort.uptake set 0.6" in ds.attrs["stress_changes"]
    assert len(table.rows) == 3


def test_cli_stress_file_and_table_agree(tmp_path):
    out = tmp_path / "s.nc"
    res = CliRunner().invoke(
        main,
        [
            "stress",
            str(CONFIGS / "slagelse.toml"),
            *("-n", "40", "--seed", "2", "-o", str(out), "--json"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = [p["stress"] for p in data["points"]]
    assert names[0] == "base" and "labour-market shock" in names
    ds = xr.load_dataset(out)
    assert list(ds["stress"].values) == names
    rec = data["points"][names.index("recession")]
    assert rec["municipal_net"] == pytest.approx(
        float(ds["municipal_net"].sel(stress="recession").mean())
    )


@pytest.mark.parametrize(
    "grid,field",
    [
        ("cohort.uptake", "--grid[0]: 'cohort.uptake' is not PATH=v1,v2"),
        ("cohort.uptake=1.5", "--grid (cohort.uptake=1.5): cohort.uptake"),
        ("cohort.uptake=nan", "--grid[0]: 'cohort.uptake=nan': every value must be a finite"),
        ("cohort.uptake=0.9,inf", "--grid[0]: 'cohort.uptake=0.9,inf': every value must be"),
    ],
)
def test_cli_bad_grid_writes_nothing(tmp_path, grid, field):
    out = tmp_path / "s.nc"
    args = ["stress", str(CONFIGS / "holbaek.toml"), "-n", "10", "--seed", "1", "-o", str(out)]
    res = CliRunner().invoke(main, [*args, "--grid", grid])
    assert res.exit_code == 1, res.output
    assert field in res.stderr and "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "path, why",
    [
        ("deal.horizon_weeks", "deal.horizon_weeks is a whole number; only real-valued"),
        ("effect.job_entry[9]", "effect.job_entry has 4 element(s) ([0] to [3])"),
        ("effect.job_entry", "effect.job_entry is a list; name an element ([0]) or every element"),
        ("programme.phases[0]", "programme.phases[0] is a table; name one of its numbers"),
        ("cohort.nothing", "there is no 'nothing' in cohort"),
        ("nothing.x", "there is no 'nothing' in the deal's top level"),
        ("deal.name", "deal.name is text"),
        ("deal.start_date", "deal.start_date is a date"),
    ],
)  # fmt: skip
def test_a_path_that_names_no_number_says_what_is_there(holbaek, path, why):
    with pytest.raises(ConfigError) as err:
        stress.points_for(holbaek, grid=[f"{path}=1"])
    (line,) = err.value.problems
    assert line.startswith(f"--grid[0]: '{path}' names no real-valued field of the deal: {why}")


def test_a_calendar_shock_outside_the_simulated_weeks_is_noted(holbaek, tmp_path):
    """A point's shock that holds the first day of no simulated week (before the start,
    after the last week's first day, between two weeks' first days) changes nothing: the
    command says so (a note on stderr, not kept as a point left out); a shock that holds
    one is not noted."""
    body = ""
    # Holbæk's weeks begin on Thursdays, from 2024-02-01 to 2034-01-26 (522 weeks)
    for name, start, end in (("after", "2040-01-01", "2041-01-01"), ("before", "2020-01-01",
                             "2024-02-01"), ("between", "2025-01-03", "2025-01-08"),
                             ("last", "2034-01-27", "2034-03-01"),
                             ("overlap", "2034-01-01", "2035-01-01"),
                             ("one day", "2025-01-02", "2025-01-03")):  # fmt: skip
        body += (
            f'[[stress]]\nname = "{name}"\n[[stress.calendar]]\nstart = {start}\nend = {end}\n'
            "job_entry_multiplier = 0.5\n"
        )
    prepared = stress.points_for(holbaek, stress_file=_stress_file(tmp_path, body))
    notes = stress.idle_shocks(holbaek, prepared)
    # Holbæk starts on 2024-02-01 and simulates 522 weeks (a 10-year appraisal)
    assert notes == [
        f"stress point '{name}': its calendar shock from {a} to {b} holds the first day of no "
        "simulated week (2024-02-01 to 2034-01-26) and changes nothing"
        for name, a, b in (("after", "2040-01-01", "2041-01-01"),
                           ("before", "2020-01-01", "2024-02-01"),
                           ("between", "2025-01-03", "2025-01-08"),
                           ("last", "2034-01-27", "2034-03-01"))
    ]  # fmt: skip
    out = tmp_path / "s.nc"
    r = CliRunner().invoke(main, ["stress", str(CONFIGS / "holbaek.toml"), "--stress-file",
                                  _stress_file(tmp_path, body), "-n", "4", "--seed", "1",
                                  "-o", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert [line for line in r.stderr.splitlines() if line.startswith("note:")] == [
        f"note: {n}" for n in notes
    ]


def test_a_named_point_changes_one_field_in_steps(holbaek, tmp_path):
    """A stress point of a file may change one field twice: the changes apply one after
    the other (docs/formats.md), unlike a grid's axes, which would overwrite each other."""
    body = (
        '[[stress]]\nname = "steps"\nchanges = [{ path = "cohort.uptake", scale = 0.9 }, '
        '{ path = "cohort.uptake", add = -0.05 }, { path = "effect.job_entry[*]", excess = 0.5 },'
        ' { path = "effect.job_entry[0]", set = 1.0 }]\n'
    )
    base, steps = stress.points_for(holbaek, stress_file=_stress_file(tmp_path, body))
    assert [(a.path, a.op) for a in steps.adjust][:2] == [
        (("cohort", "uptake"), "scale"), (("cohort", "uptake"), "add")
    ]  # fmt: skip
    v = np.array([0.8])
    for a in steps.adjust[:2]:
        v = a.apply(v)
    assert v[0] == pytest.approx(0.8 * 0.9 - 0.05)
    assert len(steps.adjust) == 2 + len(holbaek.effect.job_entry) + 1
