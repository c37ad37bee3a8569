"""Portfolios: deals linked by a shared macro factor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from simrisk import engine, model
from simrisk.analysis import portfolio as pf
from simrisk.cli import main
from simrisk.distributed import LocalBackend

from .conftest import CONFIGS, ROOT

HOLBAEK = str(CONFIGS / "holbaek.toml")
SLAGELSE = str(CONFIGS / "slagelse.toml")
N = 30
SEED = 5
PATH = ("labour", "job_entry_multiplier")


def _fund(rho: float, sigma: float = 0.3, deals=(HOLBAEK, SLAGELSE), chunk: int = 12) -> pf.Fund:
    ff = pf.FundFile.model_validate(
        {
            "name": "test fund",
            "macro": {"sigma": sigma, "rho": rho},
            "holdings": [{"deal": d, "capital": 1.0e6 * (i + 1)} for i, d in enumerate(deals)],
        }
    )
    return pf.build(ff, SEED, N, chunk)


def _alone(fund: pf.Fund, d: int, mult: np.ndarray | None) -> dict:
    """Deal d run on its own with engine.run, its seed and (optionally) its multiplier."""
    deal = fund.deals[d]
    adjust = [model.Adjustment(PATH, "scale", mult)] if mult is not None else None
    return engine.run(deal.cfg, pf.deal_seed(SEED, d), N, adjust=adjust)["metrics"]


def test_zero_correlation_matches_independent_runs():
    fund = _fund(rho=0.0)
    metrics, mult = pf.run_portfolio(fund, LocalBackend())
    flows = pf.fund_flows(fund, metrics)
    expected_profit = np.zeros(N)
    for d, deal in enumerate(fund.deals):
        # the deal's own factor, drawn from its own stream
        own = np.exp(0.3 * pf.normals(SEED, N, d + 1))
        assert np.array_equal(mult[0, d], own)
        ref = _alone(fund, d, own)
        for k in pf.DEAL_METRICS:
            assert metrics[k][0, d].tobytes() == ref[k].tobytes(), k
        expected_profit += deal.share * ref["investor_profit"]
    np.testing.assert_allclose(flows["profit"][0], expected_profit, rtol=1e-12, atol=1e-6)
    # with rho = 0 'shared' is the independent case
    for k in pf.DEAL_METRICS:
        assert metrics[k][0].tobytes() == metrics[k][1].tobytes()
    # a deal's results do not depend on the other holdings
    single, _ = pf.run_portfolio(_fund(rho=0.0, deals=(HOLBAEK,)), LocalBackend())
    assert single["investor_profit"][0, 0].tobytes() == metrics["investor_profit"][0, 0].tobytes()


def test_no_macro_factor_is_the_plain_run():
    fund = _fund(rho=0.5, sigma=0.0)
    metrics, mult = pf.run_portfolio(fund, LocalBackend())
    assert np.all(mult == 1.0)
    for d in range(len(fund.deals)):
        ref = _alone(fund, d, None)
        assert metrics["investor_profit"][0, d].tobytes() == ref["investor_profit"].tobytes()


def test_shared_factor_links_the_deals():
    fund = _fund(rho=1.0, sigma=0.4)
    metrics, mult = pf.run_portfolio(fund, LocalBackend())
    assert np.array_equal(mult[0, 0], mult[0, 1])  # one factor for all
    assert not np.array_equal(mult[1, 0], mult[1, 1])  # independent variant
    # the factor acts: more job entries with a higher multiplier
    assert not np.array_equal(metrics["investor_profit"][0, 0], metrics["investor_profit"][1, 0])
    # correlation of the deals' log multipliers is rho^2 (here exactly 1)
    fund_half = _fund(rho=0.7, sigma=0.4)
    fund_half.n = 20000  # only the factors: a tight check needs many scenarios
    m = np.log(pf.multipliers(fund_half, 0.7))
    assert abs(np.corrcoef(m)[0, 1] - 0.49) < 0.03
    assert abs(m.std(axis=1) - 0.4).max() < 0.01


def test_chunk_size_does_not_change_the_fund():
    a, _ = pf.run_portfolio(_fund(rho=0.6, chunk=N), LocalBackend())
    b, _ = pf.run_portfolio(_fund(rho=0.6, chunk=7), LocalBackend())
    for k in pf.DEAL_METRICS:
        assert a[k].tobytes() == b[k].tobytes()


def test_summary_contributions_add_up():
    fund = _fund(rho=0.6)
    metrics, _ = pf.run_portfolio(fund, LocalBackend())
    s = pf.summary(fund, metrics)
    sh = s["variants"]["shared"]
    parts = sum(r["cvar95_contribution"] for r in s["deals"])
    assert parts == pytest.approx(sh["cvar95"], rel=1e-9)
    if sh["p_loss"] > 0:
        assert sum(r["loss_share"] for r in s["deals"]) == pytest.approx(1.0)
    profit = pf.fund_flows(fund, metrics)["profit"][0]
    assert sh["p_loss"] == pytest.approx((profit < 0).mean())
    assert sum(r["profit_mean"] for r in s["deals"]) == pytest.approx(profit.mean())


def _fund_file(tmp_path, body: str) -> str:
    p = tmp_path / "fund.toml"
    p.write_text(body, encoding="utf-8")
    return str(p)


def test_cli_portfolio(tmp_path):
    body = (
        f'name = "f"\nscenarios = {N}\nseed = {SEED}\nchunk = 16\n[macro]\nsigma = 0.3\nrho = 0.0\n'
        f'[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1.0e6\n'
        f'[[holdings]]\ndeal = "{SLAGELSE}"\ncapital = 2.0e6\n'
    )
    out = tmp_path / "f.nc"
    r = CliRunner().invoke(
        main, ["portfolio", _fund_file(tmp_path, body), "-o", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    summ = json.loads(r.output[r.output.index("{") :])
    assert [d["deal"] for d in summ["deals"]] == ["holbaek", "slagelse"]
    ds = xr.load_dataset(out)
    fund = _fund(rho=0.0)
    ref0 = _alone(fund, 0, np.exp(0.3 * pf.normals(SEED, N, 1)))
    assert ds["deal_investor_profit"].sel(variant="shared", deal="holbaek").values.tobytes() == (
        ref0["investor_profit"].tobytes()
    )
    assert summ["variants"]["shared"]["p_loss"] == summ["variants"]["independent"]["p_loss"]


def test_example_fund_file_is_valid():
    ff = pf.load_fund_file(str(ROOT / "configs" / "funds" / "dsi_fund.toml"))
    fund = pf.build(ff, 1, 10, 10)
    assert len(fund.deals) == 4 and all(0 < d.share <= 1 for d in fund.deals)


@pytest.mark.parametrize(
    "body, expected",
    [
        ('name = "f"\nbogus = 1\n', ["holdings:", "bogus:"]),
        (
            f'name = "f"\n[macro]\nrho = 1.5\nsigma = -1\n[[holdings]]\ndeal = "{HOLBAEK}"\n'
            "capital = 1e6\n",
            ["macro.rho:", "macro.sigma:"],
        ),
        (
            f'name = "f"\n[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1e9\n'
            '[[holdings]]\ndeal = "missing.toml"\ncapital = 1e6\n',
            ["holdings[0].capital:", "holdings[1].deal:"],
        ),
        (
            f'name = "f"\n[macro]\npath = "labour.nothing"\n[[holdings]]\ndeal = "{HOLBAEK}"\n'
            "capital = 1e6\n",
            ["macro.path:"],
        ),
    ],
)
def test_bad_fund_files(tmp_path, body, expected):
    out = tmp_path / "x.nc"
    r = CliRunner().invoke(main, ["portfolio", _fund_file(tmp_path, body), "-o", str(out)])
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines), r.output
    assert len(lines) == len(expected), r.output
    for e in expected:
        assert any(e in line for line in lines), (e, r.output)
    assert "Traceback" not in r.output and not out.exists()


def test_bad_portfolio_options(tmp_path):
    fund = str(ROOT / "configs" / "funds" / "dsi_fund.toml")
    out = tmp_path / "x.nc"
    r = CliRunner().invoke(
        main, ["portfolio", fund, "--workers", "2", "--scheduler", "tcp://x:1", "-o", str(out)]
    )
    assert r.exit_code == 1 and r.output.strip() == (
        "error: --workers, --scheduler: give one of them, not both"
    )
    assert not out.exists()
