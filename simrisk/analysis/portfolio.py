"""A fund holding several deals, linked by a shared labour-market factor.

Each scenario draws a common standard normal ``Z_c`` and, per deal, its own
``Z_d``; the deal's factor is ``X_d = rho Z_c + sqrt(1 - rho^2) Z_d`` and its
macro multiplier ``exp(sigma X_d)`` (lognormal, median 1) scales the deal's
``labour.job_entry_multiplier`` (or the fund file's ``macro.path``) after the
deal's own parameters are drawn (a per-scenario :class:`model.Adjustment`).
``rho`` is the correlation of each deal's factor with the common factor, so two
deals' log multipliers correlate with ``rho^2``.

The fund holds ``capital`` of each deal's investor position (a share
``capital / investor.capital``); its cash flows per scenario are the shares'
sum of the deals' drawdowns and repayments. The same run with ``rho = 0`` (the
same ``Z_d``, no common part) gives the independent case, against which the
diversification benefit is measured.

Each deal runs with its own seed (:func:`deal_seed`), so the deals' parameter
draws and citizens are independent apart from the macro factor (with one seed,
the same parameter index would draw the same uniform in every deal). Its seed and
its own normals are keyed by its name, not its place in the fund file, so the
order of the holdings changes no number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from pydantic import Field

from simrisk import engine, finance
from simrisk.analysis.bounds import Beyond
from simrisk.config import ConfigError, DealConfig, Strict, expand, is_real, load_deal, load_model
from simrisk.config.paths import not_real, path_text
from simrisk.distributed import ChunkSpec, execute, split
from simrisk.outputs import attrs, provenance
from simrisk.sampling import Adjustment, Sampler, chunk_values

MACRO_TAG = 0x4D4143524F  # "MACRO"
VARIANTS = ("shared", "independent")
DEAL_METRICS = (
    "investor_profit",
    "programme_cost",
    "investor_drawn",
    "payments_total",
    "investor_moic",
    "investor_irr",
    "municipal_net",
)


class Macro(Strict):
    path: str = "labour.job_entry_multiplier"
    sigma: float = Field(default=0.15, ge=0, le=3)
    rho: float = Field(default=0.5, ge=0, le=1)


class Holding(Strict):
    deal: str = Field(min_length=1)
    capital: float = Field(gt=0)


class FundFile(Strict):
    name: str = Field(min_length=1)
    scenarios: int = Field(default=1000, gt=0)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    chunk: int = Field(default=engine.CHUNK, gt=0)
    macro: Macro = Macro()
    holdings: list[Holding] = Field(min_length=1)


@dataclass
class FundDeal:
    path: str
    cfg: DealConfig
    capital: float
    share: float
    paths: list[tuple]  # concrete fields the macro multiplier scales

    @property
    def name(self) -> str:
        """The deal's name in the fund: its file's stem (unique in a fund)."""
        return Path(self.path).stem


@dataclass
class Fund:
    name: str
    deals: list[FundDeal]
    sigma: float
    rho: float
    macro_path: str
    n: int
    seed: int
    chunk: int


def load_fund_file(path: str) -> FundFile:
    ff, _ = load_model(FundFile, path)
    here = Path(path).parent
    for h in ff.holdings:
        if not Path(h.deal).is_absolute():
            h.deal = str(here / h.deal)
    return ff


def build(ff: FundFile, seed: int, n: int, chunk: int) -> Fund:
    """Load the deals; ConfigError lists every problem, naming the holding."""
    problems = []
    deals = []
    names: dict[str, int] = {}  # a deal's name in the results (its file's stem): holding
    for i, h in enumerate(ff.holdings):
        at = f"holdings[{i}]"
        try:
            cfg, _ = load_deal(h.deal)
        except ConfigError as exc:
            problems += [f"{at}.deal: {p}" for p in exc.problems]
            continue
        stem = Path(h.deal).stem
        if stem in names:
            j = names[stem]
            other = ff.holdings[j].deal
            problems.append(
                f"{at}.deal: the same deal file as holdings[{j}]; hold a deal once, with all "
                "the fund's capital in it" if _same_file(h.deal, other) else
                f"{at}.deal: '{h.deal}' and holdings[{j}]'s '{other}' have the same name "
                f"'{stem}'; rename one"
            )  # fmt: skip
            continue
        names[stem] = i
        if h.capital > cfg.investor.capital * (1 + 1e-12):
            problems.append(
                f"{at}.capital: {h.capital:,.0f} DKK exceeds the deal's investor.capital "
                f"({cfg.investor.capital:,.0f} DKK)"
            )
            continue
        dumped = cfg.model_dump(by_alias=True)
        try:
            paths = [p for p in expand(ff.macro.path, dumped) if is_real(dumped, p)]
        except ValueError as exc:
            problems.append(f"macro.path: {exc}")
            continue
        if not paths:
            problems.append(f"macro.path: {not_real(ff.macro.path, dumped, h.deal)}")
            continue
        deals.append(FundDeal(h.deal, cfg, h.capital, h.capital / cfg.investor.capital, paths))
    if problems:
        raise ConfigError("fund", problems)
    return Fund(ff.name, deals, ff.macro.sigma, ff.macro.rho, ff.macro.path, n, seed, chunk)


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:
        return False


def stream_key(name: str) -> list[int]:
    """A deal's part of the keys of a fund's random streams: its name (the file's stem,
    unique in a fund; length first, so that no name's key begins another's), so that the
    order of the holdings changes no number."""
    data = name.encode("utf-8")
    return [len(data), *data]


def deal_seed(seed: int, name: str) -> int:
    """The seed the fund's deal ``name`` runs with (independent streams per deal)."""
    state = np.random.SeedSequence([int(seed), *stream_key(name)]).generate_state(2, np.uint32)
    return int(((int(state[0]) << 32) | int(state[1])) & (2**63 - 1))


def normals(seed: int, n: int, name: str | None) -> np.ndarray:
    """Standard normals for scenarios ``[0, n)``: the common factor's (``name`` None) or
    the deal ``name``'s own. Scenario ``k``'s value does not depend on ``n``."""
    key = [0] if name is None else [1, *stream_key(name)]
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), MACRO_TAG, *key])
    ).standard_normal(n)


def multipliers(fund: Fund, rho: float) -> np.ndarray:
    """Macro multipliers, shape (deal, scenario)."""
    zc = normals(fund.seed, fund.n, None)
    out = np.empty((len(fund.deals), fund.n))
    for d in range(len(fund.deals)):
        x = rho * zc + np.sqrt(1.0 - rho * rho) * normals(fund.seed, fund.n, fund.deals[d].name)
        out[d] = np.exp(fund.sigma * x)
    return out


def plan(fund: Fund) -> tuple[dict[str, np.ndarray], list]:
    """Multipliers per variant and the labelled chunks ``((variant, deal, scen0, m), spec)``."""
    mult = {"shared": multipliers(fund, fund.rho), "independent": multipliers(fund, 0.0)}
    labelled = []
    for v, variant in enumerate(VARIANTS):
        for d, deal in enumerate(fund.deals):
            seed = deal_seed(fund.seed, deal.name)
            for scen0, m in split(fund.n, fund.chunk):
                factor = mult[variant][d, scen0 : scen0 + m].copy()
                adjust = tuple(Adjustment(p, "scale", factor) for p in deal.paths)
                spec = ChunkSpec(deal.cfg, seed, fund.n, scen0, m, adjust, deal.cfg)
                labelled.append(((v, d, scen0, m), spec))
    return mult, labelled


def beyond_bounds(fund: Fund, mult: dict[str, np.ndarray]) -> list[str]:
    """Where the macro factor takes a field beyond what its deal accepts (a probability
    above 1, a persistence above 1): one line per deal and field, with the number of
    scenarios and the furthest value. The run uses such values as they are."""
    lines = []
    for d, deal in enumerate(fund.deals):
        found = Beyond(deal.cfg.model_dump(by_alias=True))
        sampler = Sampler(deal.cfg, deal_seed(fund.seed, deal.name), fund.n)
        for scen0, m in split(fund.n, fund.chunk):  # the draws chunk by chunk, as run
            values = chunk_values(deal.cfg, sampler, sampler.draw(scen0, m), dumped=found.dumped)
            for p in deal.paths:
                found.add(p, [values(*p) * f[d, scen0 : scen0 + m] for f in mult.values()])
        for p in deal.paths:
            if p in found.count:
                lines.append(
                    f"macro: the factor takes {path_text(p)} of {deal.path} beyond what the "
                    f"deal accepts in {found.count[p]:,} of {len(mult) * fund.n:,} scenarios "
                    f"(both variants; at worst {found.worst[p]:g}: {found.why(p)}); the run "
                    "uses those values as they are"
                )
    return lines


def run_portfolio(fund: Fund, backend, progress=None):
    """Deal metrics, each (variant, deal, scenario), and the multipliers (variant, deal,
    scenario). With ``rho = 0`` both variants are the same chunks, computed once."""
    mult, labelled = plan(fund)
    results, _ = execute([s for _, s in labelled], backend, progress=progress)
    shape = (len(VARIANTS), len(fund.deals), fund.n)
    metrics = {k: np.empty(shape) for k in DEAL_METRICS}
    for (v, d, scen0, m), spec in labelled:
        for k in DEAL_METRICS:
            metrics[k][v, d, scen0 : scen0 + m] = results[spec.key][k]
    return metrics, np.stack([mult[v] for v in VARIANTS])


def fund_flows(fund: Fund, metrics: dict) -> dict[str, np.ndarray]:
    """The fund's profit, drawdowns, repayments and multiple, each (variant, scenario)."""
    # summed in the order of the deals' names, so that the holdings' order in the fund
    # file changes no bit of the fund's figures
    order = np.argsort([d.name for d in fund.deals], kind="stable")
    share = np.array([d.share for d in fund.deals])[order][None, :, None]

    def total(k: str) -> np.ndarray:
        return (share * metrics[k][:, order]).sum(axis=1)

    # what the investor put in: the programme's cost as far as the investor pays it (with
    # investor.overrun = "provider" the provider bears what goes beyond the capital)
    drawn = total("investor_drawn")
    repaid = total("payments_total")
    profit = total("investor_profit")
    multiple = finance.moic(repaid, drawn)
    return {"profit": profit, "drawn": drawn, "repaid": repaid, "multiple": multiple}


def _tail(profit: np.ndarray, level: float = 0.95) -> tuple[float, float, np.ndarray]:
    """VaR and CVaR of the loss (-profit) at ``level`` and the tail scenarios."""
    var, cvar = finance.var_cvar(profit, level)
    return var, cvar, profit <= -var


BOOTSTRAP = 200
"""Resamples of the scenarios for the standard error of the VaR's difference."""


def var_difference_se(a: np.ndarray, b: np.ndarray, seed: int, level: float = 0.95) -> float:
    """Standard error of VaR(a) - VaR(b) for paired samples (the same scenarios, common
    random numbers): the spread of the difference over :data:`BOOTSTRAP` resamples of the
    scenarios, each taken for both (a fixed stream of ``seed``: the same figure on every
    run)."""
    gen = np.random.default_rng([seed, 0x5E])
    n = a.shape[0]
    diffs = np.empty(BOOTSTRAP)
    for r in range(BOOTSTRAP):
        idx = gen.integers(0, n, n)
        diffs[r] = finance.var_cvar(a[idx], level)[0] - finance.var_cvar(b[idx], level)[0]
    return float(diffs.std(ddof=1))


def summary(fund: Fund, metrics: dict) -> dict:
    """The fund's return distribution, P(loss), contributions and diversification."""
    flows = fund_flows(fund, metrics)
    share = np.array([d.share for d in fund.deals])
    out = {
        "fund": fund.name,
        "n_scenarios": fund.n,
        "seed": fund.seed,
        "sigma": fund.sigma,
        "rho": fund.rho,
        "capital": math.fsum(d.capital for d in fund.deals),
        "variants": {},
    }
    for v, variant in enumerate(VARIANTS):
        profit = flows["profit"][v]
        mult = flows["multiple"][v]
        var95, cvar95, tail = _tail(profit)
        finite = mult[np.isfinite(mult)]
        out["variants"][variant] = {
            "profit_mean": float(profit.mean()),
            "profit_p5": float(finance.quantiles(profit, 0.05)),
            "profit_p50": float(finance.quantiles(profit, 0.5)),
            "profit_p95": float(finance.quantiles(profit, 0.95)),
            "multiple_mean": float(finite.mean()) if finite.size else float("nan"),
            "p_loss": float(finance.investor_loss(profit).mean()),
            "var95": var95,
            "cvar95": cvar95,
        }
        if variant == "shared":
            deal_profit = share[:, None] * metrics["investor_profit"][v]
            loss_mask = profit < 0
            total_loss = -profit[loss_mask].sum()
            rows = []
            for d, deal in enumerate(fund.deals):
                dp = deal_profit[d]
                rows.append(
                    {
                        "deal": deal.name,
                        "capital": deal.capital,
                        "share_of_deal": float(deal.share),
                        "profit_mean": float(dp.mean()),
                        "p_loss": float((dp < 0).mean()),
                        "standalone_var95": _tail(dp)[0],
                        # Euler allocation: the deal's part of the fund's CVaR and of its
                        # losses (the parts sum to the fund's CVaR / total loss)
                        "cvar95_contribution": float(-dp[tail].mean()),
                        "loss_share": float(-dp[loss_mask].sum() / total_loss)
                        if total_loss > 0
                        else float("nan"),
                    }
                )
            out["deals"] = rows
    sh, ind = out["variants"]["shared"], out["variants"]["independent"]
    standalone = math.fsum(r["standalone_var95"] for r in out["deals"])
    out["diversification"] = {
        "sum_standalone_var95": standalone,
        "var95_shared": sh["var95"],
        "var95_independent": ind["var95"],
        # is the shared factor's VaR above the independent deals' beyond the noise?
        "var95_difference_se": var_difference_se(
            *flows["profit"][[VARIANTS.index("shared"), VARIANTS.index("independent")]], fund.seed
        ),
        "benefit_shared": 1.0 - sh["var95"] / standalone if standalone > 0 else float("nan"),
        "benefit_independent": 1.0 - ind["var95"] / standalone if standalone > 0 else float("nan"),
        "p_loss_shared": sh["p_loss"],
        "p_loss_independent": ind["p_loss"],
    }
    return out


def build_dataset(fund: Fund, metrics: dict, mult: np.ndarray) -> xr.Dataset:
    flows = fund_flows(fund, metrics)
    data = {}
    for k in DEAL_METRICS:
        data[f"deal_{k}"] = xr.Variable(
            ("variant", "deal", "scenario"), metrics[k], attrs(k, note="the whole deal")
        )
    data["macro_multiplier"] = xr.Variable(
        ("variant", "deal", "scenario"),
        mult,
        attrs={"long_name": f"macro multiplier of {fund.macro_path}", "units": "1"},
    )
    for k, (long_name, units) in {
        "profit": ("fund profit (repayments minus drawdowns)", "DKK"),
        "drawn": ("fund drawdowns", "DKK"),
        "repaid": ("fund repayments", "DKK"),
        "multiple": ("fund multiple (repayments over drawdowns)", "1"),
    }.items():
        data[f"fund_{k}"] = xr.Variable(
            ("variant", "scenario"), flows[k], attrs={"long_name": long_name, "units": units}
        )
    data["capital"] = xr.Variable(
        ("deal",), [d.capital for d in fund.deals],
        {"long_name": "the fund's part of the deal's investor commitment", "units": "DKK"},
    )  # fmt: skip
    data["share_of_deal"] = xr.Variable(
        ("deal",), [d.share for d in fund.deals],
        {"long_name": "the fund's share of the deal's investor cash flows", "units": "1"},
    )  # fmt: skip
    data["deal_seed"] = xr.Variable(
        ("deal",), np.array([deal_seed(fund.seed, d.name) for d in fund.deals], np.int64)
    )
    data["deal_path"] = xr.Variable(("deal",), [d.path for d in fund.deals])
    ds = xr.Dataset(
        data,
        coords={
            "variant": list(VARIANTS),
            "deal": [d.name for d in fund.deals],
            "scenario": np.arange(fund.n),
        },
    )
    ds.attrs = provenance(
        "portfolio",
        fund.name,
        fund.seed,
        kind="portfolio",
        fund_name=fund.name,
        n_scenarios=int(fund.n),
        macro_path=fund.macro_path,
        macro_sigma=float(fund.sigma),
        macro_rho=float(fund.rho),
        note=(
            "variant 'shared': each deal's factor is rho Z_common + sqrt(1 - rho^2) Z_deal; "
            "'independent': the same Z_deal without the common part; multiplier = "
            "exp(sigma X), applied after the deal's own draws"
        ),
    )
    return ds


def from_dataset(ds: xr.Dataset) -> tuple[Fund, dict]:
    """The fund (without its deals' configurations) and the deal metrics a portfolio file
    holds, as :func:`summary` takes them: its table again, the same numbers."""
    a = ds.attrs
    deals = [
        FundDeal(str(path), None, float(cap), float(share), [])
        for path, cap, share in zip(
            ds["deal_path"].values, ds["capital"].values, ds["share_of_deal"].values,
            strict=True,
        )
    ]  # fmt: skip
    n = int(ds.sizes["scenario"])
    fund = Fund(str(a["fund_name"]), deals, float(a["macro_sigma"]), float(a["macro_rho"]),
                str(a["macro_path"]), n, int(a["seed"]), n)  # fmt: skip
    return fund, {k: ds[f"deal_{k}"].values for k in DEAL_METRICS}


def n_chunks(fund: Fund) -> int:
    """Distinct chunks of work."""
    return len({s.key for _, s in plan(fund)[1]})
