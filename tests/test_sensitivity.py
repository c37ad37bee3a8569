"""Sensitivity: Sobol indices, tornado, variance split."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk.analysis import sensitivity as sa
from simrisk.cli import main
from tests.conftest import CONFIGS, simple_raw


def _one_parameter_deal(size=1500):
    import datetime as dt

    from simrisk.config import parse_deal

    raw = simple_raw(
        size=size,
        horizon=60,
        effect={"job_entry": [1.5]},
        transitions=[
            {"from": "benefit", "to": "employed", "probability": 0.03},
            {"from": "employed", "to": "benefit", "probability": 0.02},
        ],
    )
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["programme"]["phases"][0]["weeks"] = 30
    raw["uncertainty"] = {
        "parameters": [
            {"path": "effect.job_entry[0]", "distribution": "uniform", "low": 1.0, "high": 4.0}
        ]
    }
    return parse_deal(raw, "one")


def test_sobol_gives_the_only_uncertain_parameter_all_the_variance():
    """One uncertain parameter and a large cohort (little cohort noise): first-order and
    total indices near 1 (the cohort's share bounds the gap)."""
    cfg = _one_parameter_deal()
    idx, runs = sa.sobol(cfg, 128, 3, ["municipal_net"], n_boot=100)
    assert runs == 128 * 3
    _, par, coh = sa.variance_split(cfg, 20, 5, 3, ["municipal_net"])
    assert par[0] > 0.9
    assert idx["first"][0, 0] == pytest.approx(1.0, abs=0.1)
    assert idx["total"][0, 0] == pytest.approx(1.0, abs=0.1)
    assert idx["first_lo"][0, 0] <= idx["first"][0, 0] <= idx["first_hi"][0, 0]


def test_sobol_indices_of_an_irrelevant_parameter_are_zero():
    cfg = _one_parameter_deal(size=200)
    raw = cfg.model_dump(by_alias=True)
    # the set-up cost moves the investor's profit one for one but not the municipal net
    raw["uncertainty"]["parameters"].append(
        {"path": "program.setup_cost", "distribution": "uniform", "low": 0.0, "high": 1e6}
    )
    from simrisk.config import DealConfig

    cfg2 = DealConfig.model_validate(raw)
    idx, _ = sa.sobol(cfg2, 64, 2, ["municipal_net"], n_boot=50)
    assert idx["first"][0, 1] == pytest.approx(0.0, abs=1e-12)
    assert idx["total"][0, 1] == pytest.approx(0.0, abs=1e-12)


def test_tornado_swings_in_the_direction_of_the_effect():
    cfg = _one_parameter_deal(size=200)
    low, high, base, pct = sa.tornado(cfg, 50, 1, ["municipal_net", "investor_moic"])
    assert pct[0, 0] == pytest.approx(1.3) and pct[0, 1] == pytest.approx(3.7)
    assert high[0, 0] > base[0] > low[0, 0]  # a stronger effect saves more


def test_variance_split_without_parameters_is_all_cohort():
    cfg = _one_parameter_deal(size=100)
    raw = cfg.model_dump(by_alias=True)
    raw["uncertainty"]["parameters"][0] = {
        "path": "effect.job_entry[0]",
        "distribution": "fixed",
        "value": 2.0,
    }
    from simrisk.config import DealConfig

    total, par, coh = sa.variance_split(DealConfig.model_validate(raw), 30, 8, 1, ["municipal_net"])
    assert coh[0] > 0.8 and par[0] < 0.2 and total[0] > 0


def test_cli_sensitivity(tmp_path):
    out = tmp_path / "s.nc"
    res = CliRunner().invoke(
        main,
        [
            "sensitivity",
            str(CONFIGS / "slagelse.toml"),
            "-n",
            "16",
            "--outer",
            "4",
            "--inner",
            "3",
            "--seed",
            "1",
            "-o",
            str(out),
            "--output-metric",
            "municipal_net",
        ],
    )
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out)
    assert ds["sobol_total"].dims == ("output", "parameter")
    assert np.isfinite(ds["sobol_total"].values).all()
    assert ds["variance_share"].sum("component").values == pytest.approx(1.0)
    ds.close()
    bad = CliRunner().invoke(
        main,
        [
            "sensitivity",
            str(CONFIGS / "slagelse.toml"),
            "--output-metric",
            "happiness",
            "-o",
            str(tmp_path / "b.nc"),
        ],
    )
    assert bad.exit_code == 1 and "happiness" in bad.stderr
    assert not (tmp_path / "b.nc").exists()
