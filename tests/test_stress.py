"""Stress tests: common random numbers, grids, stress files, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk.analysis import stress
from simrisk.cli import main
from simrisk.config import ConfigError, StressPoint
from tests.conftest import CONFIGS


def test_a_stress_that_changes_nothing_gives_zero_differences(holbaek):
    points = [
        StressPoint(name="scale by one", changes=[{"path": "effect.job_entry[*]", "scale": 1.0}]),
        StressPoint(
            name="set to itself", changes=[{"path": "cohort.enrolment.delay_weeks", "set": 0.0}]
        ),
    ]
    prepared = stress.prepare(holbaek, points)
    metrics = stress.run_stress(holbaek, prepared, seed=3, n=150)
    for m in metrics[1:]:
        for k in ("investor_profit", "municipal_net", "payments_total", "savings_true"):
            np.testing.assert_array_equal(m[k], metrics[0][k])
    rows = stress.table(prepared, metrics)
    assert all(r["municipal_net_diff"] == 0.0 and r["municipal_net_diff_se"] == 0.0 for r in rows)


def test_stress_moves_results_in_the_expected_direction(holbaek):
    points = [
        StressPoint(
            name="no effect",
            changes=[
                {"path": "effect.job_entry[*]", "set": 1.0},
                {"path": "effect.education_entry[*]", "set": 1.0},
                {"path": "effect.job_loss[*]", "set": 1.0},
            ],
        ),
    ]
    prepared = stress.prepare(holbaek, points)
    base, none = stress.run_stress(holbaek, prepared, seed=3, n=200)
    # without any effect the treatment arm is the counterfactual: no true savings, but the
    # municipality still pays the programme's rate card -> it loses every time
    assert np.abs(none["savings_true"]).max() < 1e-6 * np.abs(base["savings_true"]).max()
    assert (none["municipal_net"] <= 0).all()


def test_common_random_numbers_make_small_stresses_precise(holbaek):
    """A small stress measured on the same streams is far more precise than the spread of
    the results themselves (an independent pair of runs would be noisier than either)."""
    points = [
        StressPoint(
            name="slightly weaker", changes=[{"path": "effect.job_entry[*]", "excess": 0.9}]
        )
    ]
    prepared = stress.prepare(holbaek, points)
    base, weaker = stress.run_stress(holbaek, prepared, seed=5, n=200)
    d = weaker["municipal_net"] - base["municipal_net"]
    assert d.mean() < 0
    assert d.std() < 0.25 * base["municipal_net"].std()


def test_wildcards_expand_over_lists_and_keys(holbaek):
    dumped = holbaek.model_dump(by_alias=True)
    assert len(stress.expand("programme.phases[*].dropout", dumped)) == 4
    assert ("economics", "benefits", "sygedagpenge", "indexation") in stress.expand(
        "economics.benefits[*].indexation", dumped
    )


def test_grid_is_a_full_factorial():
    points = stress.parse_grid(["effect.job_entry[2]=1.5,2,2.5", "cohort.uptake=0.8,1"])
    assert len(points) == 6
    assert points[0].name == "effect.job_entry[2]=1.5, cohort.uptake=0.8"


@pytest.mark.parametrize(
    "spec,field",
    [
        (["cohort.uptake"], "--grid[0]"),
        (["cohort.uptake=a,b"], "--grid[0]"),
        (["cohort.nothing=1,2"], "--grid[0].changes[0].path"),
        (["cohort.uptake=1.5"], "uptake"),
        (["cohort.size=10"], "--grid[0].changes[0].path"),
    ],
)
def test_bad_grid_input(tmp_path, spec, field):
    args = [
        "stress",
        str(CONFIGS / "holbaek.toml"),
        "-n",
        "10",
        "--seed",
        "1",
        "-o",
        str(tmp_path / "s.nc"),
    ]
    for s in spec:
        args += ["--grid", s]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert field in res.stderr and "Traceback" not in res.output
    assert not (tmp_path / "s.nc").exists()


def test_bad_stress_file(tmp_path):
    f = tmp_path / "st.toml"
    f.write_text(
        "[[stress]]\nname = 'x'\nchanges = [{path = 'cohort.uptake', scale = 0.5,"
        " set = 1.0}]\n[[stress]]\nname = 'y'\ncolour = 'red'\n"
    )
    res = CliRunner().invoke(
        main,
        [
            "stress",
            str(CONFIGS / "holbaek.toml"),
            "--stress-file",
            str(f),
            "-o",
            str(tmp_path / "s.nc"),
        ],
    )
    assert res.exit_code == 1
    assert "stress[0].changes[0]" in res.stderr and "stress[1].colour" in res.stderr
    with pytest.raises(ConfigError):
        stress.load_stress_file(str(tmp_path / "missing.toml"))


def test_cli_stress_writes_a_stress_dimension(tmp_path):
    out = tmp_path / "s.nc"
    res = CliRunner().invoke(
        main,
        [
            "stress",
            str(CONFIGS / "slagelse.toml"),
            "-n",
            "60",
            "--seed",
            "2",
            "-o",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = [p["stress"] for p in data["points"]]
    assert names[0] == "base" and "recession" in names and "labour-market shock" in names
    ds = xr.open_dataset(out)
    assert ds["municipal_net"].dims == ("stress", "scenario")
    assert list(ds["stress"].values) == names
    # the table agrees with the file
    rec = data["points"][names.index("recession")]
    got = float(ds["municipal_net"].sel(stress="recession").mean())
    assert rec["municipal_net"] == pytest.approx(got)
    ds.close()
