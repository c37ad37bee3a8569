"""Portfolios: deals linked by a shared macro factor; the fund's figures by hand; each deal
bitwise engine.run with its own seed and multiplier."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from scipy import stats

from simrisk import engine
from simrisk.analysis import portfolio as pf
from simrisk.cli import main
from simrisk.distributed import LocalBackend
from simrisk.sampling import Adjustment
from tests.conftest import CONFIGS, ROOT, copy_deal

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
    adjust = [Adjustment(PATH, "scale", mult)] if mult is not None else None
    return engine.run(deal.cfg, pf.deal_seed(SEED, deal.name), N, adjust=adjust).metrics


@pytest.fixture(scope="module")
def shared():
    fund = _fund(rho=0.6)
    return fund, *pf.run_portfolio(fund, LocalBackend())


# ------------------------------------------------------------------ each deal is a run
def test_each_deal_is_engine_run_with_its_seed_and_multiplier(shared):
    fund, metrics, mult = shared
    for v in range(2):
        for d in range(len(fund.deals)):
            ref = _alone(fund, d, mult[v, d])
            for k in pf.DEAL_METRICS:
                assert metrics[k][v, d].tobytes() == ref[k].tobytes(), (v, d, k)
    # the variants differ only by the common part of the factor
    assert not np.array_equal(mult[0], mult[1])


def test_zero_correlation_is_the_independent_case():
    fund = _fund(rho=0.0)
    metrics, mult = pf.run_portfolio(fund, LocalBackend())
    for d in range(len(fund.deals)):
        own = np.exp(0.3 * pf.normals(SEED, N, fund.deals[d].name))  # the deal's own only
        assert mult[0, d].tobytes() == own.tobytes() == mult[1, d].tobytes()
    for k in pf.DEAL_METRICS:
        assert metrics[k][0].tobytes() == metrics[k][1].tobytes()
    assert pf.n_chunks(fund) == len(pf.plan(fund)[1]) // 2  # the same chunks, computed once
    # a deal's results do not depend on the other holdings
    single, _ = pf.run_portfolio(_fund(rho=0.0, deals=(HOLBAEK,)), LocalBackend())
    assert single["investor_profit"][0, 0].tobytes() == metrics["investor_profit"][0, 0].tobytes()


def test_no_macro_factor_is_the_plain_run():
    fund = _fund(rho=0.5, sigma=0.0)
    metrics, mult = pf.run_portfolio(fund, LocalBackend())
    assert (mult == 1.0).all()
    for d in range(len(fund.deals)):
        ref = _alone(fund, d, None)
        assert metrics["investor_profit"][0, d].tobytes() == ref["investor_profit"].tobytes()


def test_the_order_of_the_holdings_changes_no_number(shared):
    """Each deal's seed and own normals are keyed by its name and the fund's sums run in
    the names' order: the holdings listed the other way round give every deal the same
    numbers and the fund the same figures, bit for bit."""
    fund, metrics, mult = shared
    other = _fund(rho=0.6, deals=(SLAGELSE, HOLBAEK))
    assert [d.name for d in other.deals] == ["slagelse", "holbaek"]
    # the same capital in each deal as before (the helper gives the second holding more)
    for d, cap in zip(other.deals, [f.capital for f in fund.deals][::-1], strict=True):
        d.capital, d.share = cap, cap / d.cfg.investor.capital
    m2, mult2 = pf.run_portfolio(other, LocalBackend())
    assert mult2[:, ::-1].tobytes() == mult.tobytes()
    for k in pf.DEAL_METRICS:
        assert m2[k][:, ::-1].tobytes() == metrics[k].tobytes(), k
    a, b = pf.fund_flows(fund, metrics), pf.fund_flows(other, m2)
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), k
    sa, sb = pf.summary(fund, metrics), pf.summary(other, m2)
    assert sa["variants"] == sb["variants"] and sa["diversification"] == sb["diversification"]
    assert sa["deals"] == sb["deals"][::-1]


def test_chunk_size_does_not_change_the_fund(shared):
    fund, metrics, mult = shared
    for chunk in (N, 7):
        other, m = pf.run_portfolio(_fund(rho=0.6, chunk=chunk), LocalBackend())
        assert m.tobytes() == mult.tobytes()
        for k in pf.DEAL_METRICS:
            assert other[k].tobytes() == metrics[k].tobytes(), k


def test_deal_seeds_differ_and_do_not_depend_on_the_number_of_deals():
    # keyed by the name, length first: "a" + "b" is not "ab"
    names = ["holbaek", "slagelse", "a", "ab", "b"]
    seeds = [pf.deal_seed(SEED, name) for name in names]
    assert len(set(seeds)) == len(names) and all(0 <= s < 2**63 for s in seeds)
    assert pf.deal_seed(SEED + 1, "holbaek") != seeds[0]
    streams = [pf.normals(SEED, 20, name).tobytes() for name in [None, *names]]
    assert len(set(streams)) == len(names) + 1
    # a scenario's normal does not depend on the number of scenarios
    assert pf.normals(SEED, 50, "a")[:20].tobytes() == pf.normals(SEED, 20, "a").tobytes()


# -------------------------------------------------------------------------- the factor
def _bare_fund(n: int, rho: float, sigma: float, deals: int = 2) -> pf.Fund:
    holdings = [pf.FundDeal(f"d{i}.toml", None, 1.0, 1.0, []) for i in range(deals)]
    return pf.Fund("f", holdings, sigma, rho, "labour.job_entry_multiplier", n, SEED, n)


def test_the_factor_correlates_log_multipliers_with_rho_squared():
    """log multiplier = sigma (rho Z_c + sqrt(1 - rho^2) Z_d): normal with sd sigma, and two
    deals correlate with rho^2 = 0.49. With n = 20,000: the sample correlation's SE is
    (1 - r^2) / sqrt(n) = 0.0054, the sample sd's SE sigma / sqrt(2n) = 0.002, the mean's
    sigma / sqrt(n) = 0.0028; each within 4 SE."""
    n, rho, sigma = 20_000, 0.7, 0.4
    m = np.log(pf.multipliers(_bare_fund(n, rho, sigma), rho))
    assert abs(np.corrcoef(m)[0, 1] - rho**2) < 4 * (1 - rho**4) / math.sqrt(n)
    assert np.abs(m.std(axis=1) - sigma).max() < 4 * sigma / math.sqrt(2 * n)
    assert np.abs(m.mean(axis=1)).max() < 4 * sigma / math.sqrt(n)
    one = pf.multipliers(_bare_fund(100, 1.0, sigma), 1.0)
    assert one[0].tobytes() == one[1].tobytes()  # rho = 1: one factor for all


# ---------------------------------------------------------------- the fund's figures by hand
def _hand_case():
    """Ten scenarios, deal A (half the deal held) and deal B (all of it). Fund parts of
    the profit, shared variant: A (-10, 5 x 9), B (-8, -2, 4 x 8): both lose in scenario 0.
    Independent variant: A's loss moves to scenario 1."""
    fund = pf.Fund(
        "hand",
        [
            pf.FundDeal("x/a.toml", None, 2.0, 0.5, []),
            pf.FundDeal("x/b.toml", None, 3.0, 1.0, []),
        ],
        0.3,
        0.5,
        "labour.job_entry_multiplier",
        10,
        1,
        10,
    )
    a_shared = np.array([-20.0] + [10.0] * 9)  # the whole deal's profit
    a_indep = np.array([10.0, -20.0] + [10.0] * 8)
    b = np.array([-8.0, -2.0] + [4.0] * 8)
    profit = np.array([[a_shared, b], [a_indep, b]])
    cost = np.array([[np.full(10, 100.0), np.full(10, 50.0)]] * 2)
    metrics = {
        "investor_profit": profit,
        "programme_cost": cost + 7.0,  # the provider bears 7 beyond what the investor draws
        "investor_drawn": cost,
        "payments_total": cost + profit,
    }
    return fund, metrics


def test_fund_flows_by_hand():
    """Drawn 0.5 x 100 + 50 = 100 in every scenario (what the investor drew, not the
    programme's cost); repaid = drawn + profit; shared fund profit (-18, 3, 9 x 8),
    multiple (0.82, 1.03, 1.09 x 8)."""
    fund, metrics = _hand_case()
    flows = pf.fund_flows(fund, metrics)
    np.testing.assert_array_equal(flows["drawn"], np.full((2, 10), 100.0))
    np.testing.assert_array_equal(flows["profit"][0], [-18.0, 3.0] + [9.0] * 8)
    np.testing.assert_array_equal(flows["profit"][1], [-3.0, -12.0] + [9.0] * 8)
    np.testing.assert_allclose(flows["multiple"][0], [0.82, 1.03] + [1.09] * 8, rtol=1e-12)


def test_summary_by_hand():
    """Ten scenarios: the empirical 5 % quantile is the smallest value, so VaR 95 = CVaR 95
    = minus the worst outcome. Shared: fund worst -18 (VaR 18); A's part -10, B's -8 in
    that scenario (the CVaR's Euler parts, also the shares 10/18 and 8/18 of the fund's
    only loss). Stand-alone VaRs 10 and 8 add to 18: no diversification when both lose
    together. Independent: worst -12, so 1 - 12/18 = 1/3 below the stand-alone sum."""
    fund, metrics = _hand_case()
    s = pf.summary(fund, metrics)
    assert s["capital"] == 5.0
    sh, ind = s["variants"]["shared"], s["variants"]["independent"]
    assert sh["profit_mean"] == pytest.approx(5.7)  # (-18 + 3 + 8 x 9) / 10
    assert (sh["profit_p5"], sh["profit_p50"], sh["profit_p95"]) == (-18.0, 9.0, 9.0)
    assert sh["multiple_mean"] == pytest.approx(1.057)  # (0.82 + 1.03 + 8 x 1.09) / 10
    assert (sh["p_loss"], sh["var95"], sh["cvar95"]) == (0.1, 18.0, 18.0)
    assert (ind["p_loss"], ind["var95"], ind["cvar95"]) == (0.2, 12.0, 12.0)
    a, b = s["deals"]
    assert (a["deal"], b["deal"]) == ("a", "b")
    assert a["profit_mean"] == pytest.approx(3.5) and b["profit_mean"] == pytest.approx(2.2)
    assert (a["p_loss"], b["p_loss"]) == (0.1, 0.2)
    assert (a["standalone_var95"], b["standalone_var95"]) == (10.0, 8.0)
    assert (a["cvar95_contribution"], b["cvar95_contribution"]) == (10.0, 8.0)
    assert a["loss_share"] == pytest.approx(10 / 18) and b["loss_share"] == pytest.approx(8 / 18)
    div = s["diversification"]
    assert div["sum_standalone_var95"] == 18.0
    assert div["benefit_shared"] == 0.0
    assert div["benefit_independent"] == pytest.approx(1 / 3)
    assert (div["p_loss_shared"], div["p_loss_independent"]) == (0.1, 0.2)


def test_the_var_difference_standard_error_against_the_quantile_s_theory():
    """Two independent standard normal samples of 20,000: the 5 % quantile's standard
    error is sqrt(0.05 x 0.95 / n) / phi(z_0.05) = 0.01495, so the difference's is
    sqrt(2) times that, 0.0211. The bootstrap's own spread (200 resamples, about 5 %) and
    the quantile's discreteness allow 20 %. A sample paired with itself has none; the
    figure is the same on every call."""
    gen = np.random.default_rng(7)
    a, b = gen.standard_normal((2, 20_000))
    q = stats.norm.ppf(0.05)
    theory = math.sqrt(2 * 0.05 * 0.95 / 20_000) / stats.norm.pdf(q)
    se = pf.var_difference_se(a, b, seed=3)
    assert se == pytest.approx(theory, rel=0.2)
    assert pf.var_difference_se(a, a.copy(), seed=3) == 0.0
    assert pf.var_difference_se(a, b, seed=3) == se


def test_contributions_add_up_on_a_real_fund(shared):
    """Euler allocation: the deals' CVaR parts add to the fund's CVaR, their loss shares
    to 1, their mean profits to the fund's."""
    fund, metrics, _ = shared
    s = pf.summary(fund, metrics)
    sh = s["variants"]["shared"]
    assert sh["p_loss"] > 0
    assert sum(r["cvar95_contribution"] for r in s["deals"]) == pytest.approx(sh["cvar95"])
    assert sum(r["loss_share"] for r in s["deals"]) == pytest.approx(1.0)
    assert sum(r["profit_mean"] for r in s["deals"]) == pytest.approx(sh["profit_mean"])


def test_dataset(shared):
    fund, metrics, mult = shared
    ds = pf.build_dataset(fund, metrics, mult)
    assert ds["deal_investor_profit"].dims == ("variant", "deal", "scenario")
    assert list(ds["variant"].values) == ["shared", "independent"]
    assert list(ds["deal"].values) == ["holbaek", "slagelse"]
    flows = pf.fund_flows(fund, metrics)
    assert ds["fund_profit"].values.tobytes() == flows["profit"].tobytes()
    assert ds["macro_multiplier"].values.tobytes() == mult.tobytes()
    assert ds["deal_seed"].values.tolist() == [pf.deal_seed(SEED, d.name) for d in fund.deals]
    assert ds.attrs["macro_rho"] == 0.6


# ------------------------------------------------------------------------------ command
def _fund_file(tmp_path, body: str) -> str:
    p = tmp_path / "fund.toml"
    p.write_text(body, encoding="utf-8")
    return str(p)


def test_cli_portfolio(tmp_path, shared):
    fund, metrics, _ = shared
    body = (
        f'name = "test fund"\nscenarios = {N}\nseed = {SEED}\nchunk = 16\n'
        "[macro]\nsigma = 0.3\nrho = 0.6\n"
        f'[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1.0e6\n'
        f'[[holdings]]\ndeal = "{SLAGELSE}"\ncapital = 2.0e6\n'
    )
    out = tmp_path / "f.nc"
    r = CliRunner().invoke(
        main, ["portfolio", _fund_file(tmp_path, body), "-o", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    summ = json.loads(r.output[r.output.index("{") :])
    assert summ == json.loads(json.dumps(pf.summary(fund, metrics)))
    div = summ["diversification"]
    diff = (div["var95_shared"] - div["var95_independent"]) / 1e6
    text = CliRunner().invoke(main, ["portfolio", _fund_file(tmp_path, body), "-o",
                                     str(tmp_path / "g.nc")]).output  # fmt: skip
    assert (
        f"independent deals: {diff:+,.2f} ± {div['var95_difference_se'] / 1e6:,.2f} mio. DKK"
        in " ".join(text.split())
    )
    ds = xr.load_dataset(out)
    assert ds["deal_investor_profit"].values.tobytes() == metrics["investor_profit"].tobytes()


def test_example_fund_file_is_valid():
    ff = pf.load_fund_file(str(ROOT / "configs" / "funds" / "dsi_fund.toml"))
    fund = pf.build(ff, 1, 10, 10)
    assert [d.capital for d in fund.deals] == [3.0e6, 2.0e6, 2.0e6, 1.5e6]
    for d in fund.deals:
        assert d.share == d.capital / d.cfg.investor.capital
        assert d.paths == [PATH]


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
        (
            f'name = "f"\n[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1e6\n'
            f'[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1e6\n',
            ["holdings[1].deal: the same deal file as holdings[0]; hold a deal once"],
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


def test_a_factor_that_leaves_a_field_s_range_is_counted_and_warned(tmp_path):
    """The multiplier has no upper bound: on effect.persistence (at most 1) some scenarios
    leave the range. The count is that of a value-by-value check of the deal's own rule
    (the scaled persistence above 1), and the command warns with it; on the job-entry
    multiplier nothing is out."""
    ff = pf.FundFile.model_validate(
        {
            "name": "f",
            "macro": {"path": "effect.persistence", "sigma": 1.0, "rho": 0.5},
            "holdings": [{"deal": HOLBAEK, "capital": 1.0e6}],
        }
    )
    fund = pf.build(ff, SEED, N, 10)
    mult, _ = pf.plan(fund)
    deal = fund.deals[0]
    sampler = pf.Sampler(deal.cfg, pf.deal_seed(SEED, deal.name), N)
    values = pf.chunk_values(deal.cfg, sampler, sampler.draw(0, N))
    scaled = np.concatenate([values("effect", "persistence") * m[0] for m in mult.values()])
    expected = int((scaled > 1.0).sum())
    assert 0 < expected < scaled.size
    (line,) = pf.beyond_bounds(fund, mult)
    assert f"in {expected:,} of {2 * N:,} scenarios" in line
    assert line.startswith(f"macro: the factor takes effect.persistence of {HOLBAEK}")
    assert f"at worst {scaled.max():g}" in line
    plain = _fund(rho=0.6)
    assert pf.beyond_bounds(plain, pf.plan(plain)[0]) == []
    body = (
        f'name = "f"\nscenarios = {N}\nseed = {SEED}\n'
        '[macro]\npath = "effect.persistence"\nsigma = 1.0\nrho = 0.5\n'
        f'[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1.0e6\n'
    )
    r = CliRunner().invoke(main, ["portfolio", _fund_file(tmp_path, body)])
    assert r.exit_code == 0, r.output
    assert f"warning: {line}" in r.stderr.splitlines()


def test_two_holdings_of_one_name_are_refused(tmp_path):
    """Two deal files with the same name (from other folders) would be one name in the
    results: refused, naming both; the same file given twice would hold the deal twice."""
    other = tmp_path / "sub" / Path(HOLBAEK).name
    other.parent.mkdir()
    copy_deal(HOLBAEK, other)
    body = (
        f'name = "f"\n[[holdings]]\ndeal = "{HOLBAEK}"\ncapital = 1e6\n'
        f'[[holdings]]\ndeal = "{other}"\ncapital = 1e6\n'
    )
    r = CliRunner().invoke(main, ["validate", _fund_file(tmp_path, body)])
    assert r.exit_code == 1, r.output
    assert r.stderr.splitlines() == [
        f"error: holdings[1].deal: '{other}' and holdings[0]'s '{HOLBAEK}' have the same name "
        "'holbaek'; rename one"
    ]


def test_the_fund_puts_in_what_its_deals_draw_when_the_provider_bears_overruns(tmp_path):
    """With investor.overrun = "provider" the investor draws at most its capital and the
    provider pays the rest: one whole holding without a macro factor has the deal's own
    multiple and profit in every scenario (its drawdowns are the deal's investor_drawn,
    below the programme's cost wherever it overran)."""
    deal = tmp_path / "holbaek_provider.toml"
    copy_deal(HOLBAEK, deal)
    text = deal.read_text(encoding="utf-8")
    text = text.replace("capital = 6900000", "capital = 5000000", 1)
    deal.write_text(text.replace('overrun = "top_up"', 'overrun = "provider"', 1), "utf-8")
    ff = pf.FundFile.model_validate(
        {"name": "one deal", "macro": {"sigma": 0.0, "rho": 0.0},
         "holdings": [{"deal": str(deal), "capital": 5.0e6}]}
    )  # fmt: skip
    fund = pf.build(ff, SEED, N, 12)
    metrics, _ = pf.run_portfolio(fund, LocalBackend())
    flows = pf.fund_flows(fund, metrics)
    alone = engine.run(fund.deals[0].cfg, pf.deal_seed(SEED, fund.deals[0].name), N).metrics
    assert (alone["programme_cost"] > alone["investor_drawn"]).any()  # the provider paid
    np.testing.assert_allclose(flows["multiple"][0], alone["investor_moic"], rtol=1e-12)
    np.testing.assert_allclose(flows["repaid"][0] - flows["drawn"][0], flows["profit"][0],
                               rtol=1e-9, atol=1e-3)  # fmt: skip


def test_the_fund_sums_its_deals_in_the_order_of_their_names():
    """Floating-point sums depend on their order: (1e16 + 1) - 1e16 is 0 and
    (1e16 - 1e16) + 1 is 1. The fund adds its deals in their names' order (a, b, c), so
    both listings give a's, b's and c's sum, bit for bit."""
    profit = {"a": 1e16, "b": 1.0, "c": -1e16}
    for order in (("a", "b", "c"), ("a", "c", "b"), ("c", "a", "b"), ("b", "c", "a")):
        deals = [pf.FundDeal(f"x/{n}.toml", None, 1.0, 1.0, []) for n in order]
        fund = pf.Fund("f", deals, 0.0, 0.0, "labour.job_entry_multiplier", 1, SEED, 1)
        p = np.array([[[profit[n]] for n in order]] * 2)  # (variant, deal, scenario)
        flows = pf.fund_flows(
            fund, {"investor_profit": p, "investor_drawn": np.ones_like(p), "payments_total": p}
        )
        assert flows["profit"][0, 0] == (1e16 + 1.0) - 1e16 == 0.0, order


def test_a_holding_of_another_kind_of_file_is_named_as_what_it_is(tmp_path):
    fund_file = str(ROOT / "configs" / "funds" / "dsi_fund.toml")
    body = f'name = "f"\n[[holdings]]\ndeal = "{fund_file}"\ncapital = 1e6\n'
    r = CliRunner().invoke(main, ["portfolio", _fund_file(tmp_path, body), "-n", "4"])
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        f"error: holdings[0].deal: {fund_file} is a fund file (run it with 'simrisk "
        "portfolio FILE'), not a deal file"
    ]


def test_the_fund_keys_that_tell_a_file_s_kind_are_the_fund_file_s():
    from simrisk.jobs.deal import FUND_KEYS

    assert set(pf.FundFile.model_fields) == FUND_KEYS


def test_summary_of_a_portfolio_file_is_the_command_s_output(tmp_path):
    """summary of a portfolio file prints the fund's tables again, and its JSON is the
    command's, number for number (the bootstrap's standard error included)."""
    out = tmp_path / "f.nc"
    fund = str(ROOT / "configs" / "funds" / "dsi_fund.toml")
    made = CliRunner().invoke(main, ["portfolio", fund, "-n", "12", "--seed", "2", "-o",
                                     str(out), "--json"])  # fmt: skip
    assert made.exit_code == 0, made.output
    again = CliRunner().invoke(main, ["summary", str(out), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads(made.stdout)
    text = CliRunner().invoke(main, ["summary", str(out)])
    assert "Mean fund multiple" in text.stdout and "P(fund loss)" in text.stdout
    ds = xr.load_dataset(out)
    assert ds["capital"].attrs["units"] == "DKK"
    older = tmp_path / "older.nc"
    ds.drop_vars("deal_investor_drawn").to_netcdf(older)
    r = CliRunner().invoke(main, ["summary", str(older)])
    assert r.exit_code == 1 and "run the fund again" in r.output
