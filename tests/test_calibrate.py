"""Calibration: recovery of known parameters, the calibrated file, bad targets files."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from click.testing import CliRunner

from simrisk.analysis import calibrate as cal
from simrisk.cli import main
from tests.conftest import CONFIGS, simple_deal

TRANSITIONS = [
    {"from": "benefit", "to": "employed", "probability": 0.02},
    {"from": "employed", "to": "benefit", "probability": 0.01},
]


def _targets(free, specs):
    return cal.Targets.model_validate(
        {"name": "synthetic", "source": "the model itself", "free": free, "targets": specs}
    )


def _synthetic(cfg, truth: dict, specs, n_sim=2000, seed=777):
    """Observed values = the model's own outcomes at known parameter values."""
    free = [{"path": p, "low": 0.1, "high": 6.0} for p in truth]
    obj = cal.Objective(cfg, _targets(free, specs), n_sim, seed)
    values = obj.outcomes(np.array(list(truth.values())))
    for spec, (v, _) in zip(specs, values, strict=True):
        spec["observed"] = v
    return _targets(free, specs), values


def test_recovers_a_known_multiplier_and_effect():
    """Targets generated at multiplier 1.8 and hazard ratio 2.5 (other streams, many
    citizens): the fit lands within 8 % of both (the targets' own sampling error is
    about 2 %)."""
    cfg = simple_deal(size=100, horizon=80, transitions=TRANSITIONS, effect={"job_entry": [2.0]})
    specs = [
        {
            "name": f"{arm} employed at {w}",
            "kind": "share",
            "arm": arm,
            "states": ["employed"],
            "week": w,
            "observed": 0.0,
            "n": 20000,
            "source": "synthetic",
        }
        for arm in ("counterfactual", "treatment")
        for w in (8, 26, 52)
    ]
    truth = {"labour.job_entry_multiplier": 1.8, "effect.job_entry[0]": 2.5}
    tg, _ = _synthetic(cfg, truth, specs)
    fit = cal.calibrate(cfg, tg, n_scenarios=100, seed=5)
    est = dict(zip(fit.names, fit.estimate, strict=True))
    for k, v in truth.items():
        assert est[k] == pytest.approx(v, rel=0.08), (k, est[k])
    assert fit.df == 4 and fit.p_value > 0.001
    # the fit is far better than the start
    start_loss = cal.Objective(cfg, tg, 100, 5).loss(fit.start)
    assert fit.loss < start_loss / 10


def test_objective_is_deterministic():
    cfg = simple_deal(size=50, horizon=60, transitions=TRANSITIONS)
    specs = [
        {
            "name": "x",
            "kind": "weeks_in",
            "arm": "counterfactual",
            "states": ["employed"],
            "window": [0, 40],
            "observed": 5.0,
            "se": 1.0,
            "source": "s",
        },
        {
            "name": "y",
            "kind": "ever",
            "arm": "counterfactual",
            "states": ["employed"],
            "week": 30,
            "observed": 0.4,
            "n": 100,
            "source": "s",
        },
    ]
    tg = _targets([{"path": "labour.job_entry_multiplier", "low": 0.5, "high": 3}], specs)
    a = cal.Objective(cfg, tg, 50, 1).outcomes(np.array([1.3]))
    b = cal.Objective(cfg, tg, 50, 1).outcomes(np.array([1.3]))
    assert a == b
    # weeks employed in [0, 40) and ever employed by week 30 move with the hazard
    c = cal.Objective(cfg, tg, 50, 1).outcomes(np.array([2.0]))
    assert c[0][0] > a[0][0] and c[1][0] > a[1][0]


def test_cli_writes_a_calibrated_deal_keeping_comments(tmp_path):
    out = tmp_path / "cal.toml"
    res = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(CONFIGS / "sundinvest_sygemeldte.toml"),
            "--targets",
            str(CONFIGS / "targets" / "jobafklaring_baseline.toml"),
            "-o",
            str(out),
            "-n",
            "60",
            "--propagate",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "# SundInvest: programme for sick-listed citizens" in text  # comments kept
    assert "fitted to the targets in" in text.splitlines()[0] + text.splitlines()[1]
    data = tomllib.loads(text)
    paths = [p["path"] for p in data["uncertainty"]["parameters"]]
    assert paths.count("labour.job_entry_multiplier") == 1
    rec = next(
        p for p in data["uncertainty"]["parameters"] if p["path"] == "labour.job_entry_multiplier"
    )
    assert rec["distribution"] == "normal" and rec["sd"] > 0
    # the written value is the fitted one
    import json

    fitted = json.loads(res.stdout)["parameters"][0]["estimate"]
    assert data["labour"]["job_entry_multiplier"] == pytest.approx(fitted, rel=1e-3)
    assert json.loads(res.stdout)["table"][0]["fitted"] == pytest.approx(0.25, abs=0.05)


BAD_TARGETS = {
    "unknown-key": (
        "[[targets]]\nname='a'\nkind='share'\narm='treatment'\nstates=['employed']\n"
        "week=10\nobserved=0.3\nn=10\nsource='s'\nweight=2\n",
        "targets[0].weight",
    ),
    "share-above-1": (
        "[[targets]]\nname='a'\nkind='share'\narm='treatment'\nstates=['employed']\n"
        "week=10\nobserved=1.3\nn=10\nsource='s'\n",
        "targets[0]",
    ),
    "no-n-or-se": (
        "[[targets]]\nname='a'\nkind='share'\narm='treatment'\nstates=['employed']\n"
        "week=10\nobserved=0.3\nsource='s'\n",
        "targets[0]",
    ),
    "unknown-state": (
        "[[targets]]\nname='a'\nkind='share'\narm='treatment'\nstates=['retired']\n"
        "week=10\nobserved=0.3\nn=5\nsource='s'\n",
        "targets[0].states[0]",
    ),
    "beyond-horizon": (
        "[[targets]]\nname='a'\nkind='share'\narm='treatment'\n"
        "states=['employed']\nweek=900\nobserved=0.3\nn=5\nsource='s'\n",
        "targets[0]",
    ),
}
FREE = "name='t'\nsource='s'\n[[free]]\npath='labour.job_entry_multiplier'\nlow=0.5\nhigh=2\n"


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_bad_targets_file(tmp_path, case):
    body, field = BAD_TARGETS[case]
    path = tmp_path / "t.toml"
    path.write_text(FREE + body)
    out = tmp_path / "out.toml"
    res = CliRunner().invoke(
        main, ["calibrate", str(CONFIGS / "holbaek.toml"), "--targets", str(path), "-o", str(out)]
    )
    assert res.exit_code == 1, res.output
    assert field in res.stderr and "Traceback" not in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    "free,field",
    [
        ("[[free]]\npath='labour.nothing'\nlow=0\nhigh=1\n", "free[0].path"),
        ("[[free]]\npath='cohort.size'\nlow=1\nhigh=100\n", "free[0].path"),
        ("[[free]]\npath='cohort.uptake'\nlow=0.5\nhigh=1.5\n", "free[0].high"),
        ("[[free]]\npath='cohort.uptake'\nlow=0.9\nhigh=0.5\n", "free[0]"),
    ],
)
def test_bad_free_parameters(tmp_path, free, field):
    path = tmp_path / "t.toml"
    path.write_text(
        "name='t'\nsource='s'\n" + free + "[[targets]]\nname='a'\nkind='share'\n"
        "arm='treatment'\nstates=['employed']\nweek=10\nobserved=0.3\nn=5\n"
        "source='s'\n"
    )
    res = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(CONFIGS / "holbaek.toml"),
            "--targets",
            str(path),
            "-o",
            str(tmp_path / "o.toml"),
        ],
    )
    assert res.exit_code == 1 and field in res.stderr, res.output
    assert not (tmp_path / "o.toml").exists()


def test_malformed_and_missing_targets(tmp_path):
    bad = tmp_path / "t.toml"
    bad.write_text("name = 'unterminated\n")
    for path in (bad, tmp_path / "missing.toml"):
        res = CliRunner().invoke(
            main,
            [
                "calibrate",
                str(CONFIGS / "holbaek.toml"),
                "--targets",
                str(path),
                "-o",
                str(tmp_path / "o.toml"),
            ],
        )
        assert res.exit_code == 1 and str(path) in res.stderr and "Traceback" not in res.output
