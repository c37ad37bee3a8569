"""The value of information: EVPI and EVPPI against closed forms and nested Monte Carlo
on synthetic decisions, a group worth at least its members, and the command on a run
of an included deal."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from scipy import stats

from simrisk import engine, report, results
from simrisk.analysis import voi
from simrisk.cli import main
from simrisk.config import load_deal
from simrisk.tables import fmt
from tests.conftest import CONFIGS


def _normal_max(m: float, s: float) -> float:
    """E[max(X, 0)] for X ~ N(m, s^2)."""
    return m * stats.norm.cdf(m / s) + s * stats.norm.pdf(m / s)


def test_evpi_and_evppi_against_the_closed_form():
    """NB = θ + ε, θ ~ N(0.2, 1), ε ~ N(0, 0.5²): EVPPI(θ) = E[max(θ, 0)] - 0.2 and
    EVPI = E[max(NB, 0)] - 0.2, both in closed form."""
    g = np.random.default_rng(0)
    n = 40_000
    theta = g.normal(0.2, 1.0, n)
    nb = theta + g.normal(0.0, 0.5, n)
    want_evppi = _normal_max(0.2, 1.0) - 0.2
    want_evpi = _normal_max(0.2, np.hypot(1.0, 0.5)) - 0.2
    # Monte Carlo error of a mean of max(., 0) over 40,000 draws: about 0.005; 4 of them
    assert voi.evpi(nb) == pytest.approx(want_evpi, abs=0.02)
    assert voi.evppi(theta, nb) == pytest.approx(want_evppi, abs=0.02)


def test_evppi_against_nested_monte_carlo_for_a_group():
    """NB = sin(3 θ1) + θ2² - 0.3 + noise: the inner expectation by nested Monte Carlo
    (1,000 inner draws per outer draw) against the additive regression."""
    g = np.random.default_rng(1)
    n = 20_000
    th = g.uniform(-1, 1, (n, 3))

    def mean_nb(t):
        return np.sin(3 * t[..., 0]) + t[..., 1] ** 2 - 0.3

    nb = mean_nb(th) + g.normal(0, 1.0, n)
    outer = th[:400]
    inner = np.stack([mean_nb(outer) + g.normal(0, 1.0, (1000, 400)).mean(0)])
    nested = float(np.mean(np.maximum(inner[0], 0))) - max(float(nb.mean()), 0.0)
    got = voi.evppi(th[:, :2], nb)
    assert got == pytest.approx(nested, abs=0.03)
    # the third input carries nothing: its EVPPI is near 0, and a group is worth at least
    # the most of its members
    # ... up to the regression's own noise: a running mean of k draws keeps sd(NB)/sqrt(k)
    # of noise, worth at most about that times phi(0) in a balanced decision
    k = round(np.sqrt(n))
    assert voi.evppi(th[:, 2], nb) < nb.std() / np.sqrt(k) * stats.norm.pdf(0) + 0.01
    assert got >= max(voi.evppi(th[:, 0], nb), voi.evppi(th[:, 1], nb)) - 0.005
    assert got <= voi.evpi(nb)


def test_the_noise_floor_of_a_balanced_decision_against_the_closed_form():
    """NB ~ N(0, 1), centred, so E[NB] = 0 exactly: a running mean of k draws of an
    unrelated input is N(0, 1/k), and its EVPPI E[max(., 0)] = 1 / sqrt(2 pi k). The
    noise floor averages 20 columns: tolerance 4 Monte Carlo standard errors, the
    columns' own spread over sqrt(20). An input that carries the outcome stands far above
    the floor, and the floor is the same for the same seed."""
    g = np.random.default_rng(5)
    n = 20_000
    theta = g.normal(0.0, 1.0, n)
    nb = theta + g.normal(0.0, 0.05, n)
    nb -= nb.mean()
    k = round(np.sqrt(n))
    noise = voi.noise_columns(n, 7)
    floor, sd = voi.noise_floor(nb, noise, k)
    # the Monte Carlo standard error of the floor: the spread of its 20 columns' values
    se = sd / np.sqrt(voi.NOISE_COLUMNS)
    assert 0 < se < 0.05 / np.sqrt(2 * np.pi * k)
    assert floor == pytest.approx(1 / np.sqrt(2 * np.pi * k), abs=4 * se)
    assert not voi.within_noise(voi.evppi(theta, nb, k), floor, sd)
    assert voi.within_noise(voi.evppi(g.uniform(size=n), nb, k), floor, sd)
    np.testing.assert_array_equal(noise, voi.noise_columns(n, 7))
    assert not np.array_equal(noise, voi.noise_columns(n, 8))


def test_a_sure_decision_has_no_value_of_information():
    nb = np.full(1000, 5.0) + np.linspace(0, 1, 1000)
    assert voi.evpi(nb) == 0.0 and voi.evppi(np.arange(1000.0), nb) == 0.0


def test_the_command_on_a_run(tmp_path):
    cfg, text = load_deal(CONFIGS / "holbaek.toml")
    run = results.write_netcdf(
        results.build_dataset(cfg, engine.run(cfg, 1, 600), 1, text), tmp_path / "r.nc"
    )
    out = tmp_path / "v.nc"
    res = CliRunner().invoke(main, ["voi", str(run), "--group",
                                    "effects=effect.job_entry[3],effect.persistence",
                                    "-o", str(out), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    v = xr.load_dataset(out)
    ds = results.open_results(run)
    assert data["evpi_investor"] == pytest.approx(voi.evpi(ds["investor_npv"].values))
    assert data["evpi_municipality"] == pytest.approx(voi.evpi(ds["municipal_net_pv"].values))
    assert "effects" in data["inputs"] and "all uncertain inputs" in data["inputs"]
    for party in ("investor", "municipality"):
        vals = v[f"evppi_{party}"].values
        assert (vals >= 0).all() and (vals <= v.attrs[f"evpi_{party}"] + 1e-9).all()
    assert data["sentences"][0].startswith("The investor, on what is known now, ")
    # the noise floor is a row of the table and a part of each party's sentence
    for party in ("investor", "municipality"):
        nb = voi.net_benefit(ds, party)
        floor, sd = voi.noise_floor(nb, voi.noise_columns(nb.size, 1))
        assert float(v[f"noise_floor_{party}"]) == floor and float(v[f"noise_sd_{party}"]) == sd
    table = voi.table(v)
    (row,) = [r for r in table.text_rows() if r[0] == voi.NOISE_FLOOR]
    assert row[2] == fmt(float(v["noise_floor_municipality"]), "dkk")
    assert "plus two standard deviations" in data["sentences"][1]
    # groups (the calibration posterior, --group effects) are not single inputs: the
    # noise floor is that of one column, so they are neither counted nor judged by it
    cols = dict(zip(v["input"].values, v["input_columns"].values, strict=True))
    assert cols["effects"] == 2 and cols["all uncertain inputs"] == len(ds["parameter"])
    singles = sum(1 for name, c in cols.items() if c == 1)
    assert f"of the {singles} single inputs are worth no more" in data["sentences"][1]
    # the sentences give the table's figures under the table's names: EVPI is knowing
    # how it turns out, the cohort's luck included; every input alone is less
    every = data["inputs"].index("all uncertain inputs")
    for party, text in zip(("investor", "municipality"), data["sentences"], strict=True):
        evpi_dkk = fmt(v.attrs[f"evpi_{party}"], "dkk")
        inputs_dkk = fmt(float(v[f"evppi_{party}"].values[every]), "dkk")
        assert f"the cohort's own luck (EVPI), would be worth {evpi_dkk} DKK" in text
        assert (
            f"Knowing every uncertain input, the part of that which could be learnt, "
            f"would be worth {inputs_dkk} DKK." in text
        )
    written = report.write_report(run, tmp_path / "rep", voi=out)
    page = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert 'id="voi-section"' in page and "EVPI" in page
    bad = CliRunner().invoke(main, ["voi", str(run), "--group", "x=nothing.here"])
    assert bad.exit_code == 1 and "--group x: nothing.here is not an uncertain input" in bad.stderr
    assert written


def test_evppi_of_the_posterior_against_nested_monte_carlo_through_the_kernel():
    """Holbæk, the municipality's decision, the calibration posterior as θ. Nested: 150
    outer draws of θ, each with 60 scenarios whose other inputs are drawn afresh (every
    scenario its own citizens); the regression: another run of 9,000 scenarios.
    Both estimate E_θ[max(E[NB | θ], 0)] - max(E[NB], 0); they agree within their
    Monte Carlo noise."""
    cfg, _ = load_deal(CONFIGS / "holbaek.toml")
    from simrisk.sampling import Sampler

    outer, inner = 150, 60
    s = Sampler(cfg, 5, outer * inner)
    draws = s.draw(0, outer * inner)
    cols = [j for j, n in enumerate(s.names) if n in cfg.uncertainty.posterior.paths]
    theta = s.draw(outer * inner, outer)[:, cols]  # the outer draws of the posterior
    draws[:, cols] = np.repeat(theta, inner, axis=0)
    nb = engine.run(cfg, 5, outer * inner, draws=draws).metrics["municipal_net_pv"]
    cond = nb.reshape(outer, inner).mean(axis=1)
    nested = float(np.mean(np.maximum(cond, 0))) - max(float(nb.mean()), 0.0)
    # the regression on an ordinary run of 9,000 scenarios (every θ its own draw)
    psa = engine.run(cfg, 6, outer * inner)
    got = voi.evppi(psa.draws[:, cols], psa.metrics["municipal_net_pv"])
    # noise: the nested value's outer mean (sd of max(cond, 0) / sqrt(150)) and each
    # inner mean's own error, which inflates it by at most sd(NB) / sqrt(60) * phi(0)
    se = np.std(np.maximum(cond, 0)) / np.sqrt(outer) + nb.std() / np.sqrt(inner) * 0.4
    assert abs(got - nested) < 3 * se, (got, nested, se)
    assert got > 0


@pytest.mark.parametrize(
    "groups, line",
    [
        (["all uncertain inputs=effect.persistence"], "--group all uncertain inputs: the name of"),
        ([f"{voi.EVPI_ROW}=effect.persistence"], f"--group {voi.EVPI_ROW}: the name of a row"),
        (["g=effect.persistence", "g=cohort.uptake"], "--group g: given twice"),
        (["g=effect.persistence,effect.persistence"], "--group g: effect.persistence given twice"),
    ],
)
def test_a_group_that_would_hide_or_repeat_a_row_is_refused(tmp_path, groups, line):
    cfg, text = load_deal(CONFIGS / "holbaek.toml")
    run = results.write_netcdf(
        results.build_dataset(cfg, engine.run(cfg, 1, 60), 1, text), tmp_path / "r.nc"
    )
    out = tmp_path / "v.nc"
    res = CliRunner().invoke(main, ["voi", str(run), *sum((["--group", g] for g in groups), []),
                                    "-o", str(out)])  # fmt: skip
    assert res.exit_code == 1, res.output
    assert len(res.stderr.splitlines()) == 1 and res.stderr.startswith(f"error: {line}")
    assert not out.exists()
