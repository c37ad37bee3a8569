"""The report's figures, drawn from results files.

Labels come from the output registry (:mod:`simrisk.outputs`); amounts are shown
in mio. DKK; time axes are dates.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from simrisk.outputs import variable  # noqa: E402
from simrisk.summary import summary  # noqa: E402
from simrisk.vocabulary import LABOUR_STATES  # noqa: E402

ARM_COLOURS = {"counterfactual": "#8c8c8c", "treatment": "#1f77b4"}
LOSS = "#d62728"
MIO = 1e6


FIGURE_NAMES = (
    "states", "effect", "cashflows", "distributions", "investor_vs_municipality", "stress",
    "sensitivity", "acceptability", "region",
)  # fmt: skip
"""Every figure a report can have, by its file name (without the format's suffix)."""
FORMATS = ("png", "svg", "pdf")


@dataclass
class Figure:
    """A figure of the report: its file name, title, how to read it, and the figure."""

    name: str
    title: str
    fig: plt.Figure
    caption: str = ""


def plain(text: str) -> str:
    """A user's string as matplotlib shows it literally (no mathtext between dollars)."""
    return str(text).replace("$", r"\$")


def _label(da: xr.DataArray, mio: bool = False) -> str:
    return textwrap.fill(variable(str(da.name)).label(mio), 48)


def _dates(ax) -> None:
    """Years on a time axis, at most about five labels."""
    lo, hi = ax.get_xlim()
    years = max(1, int((hi - lo) / 365.25))
    ax.xaxis.set_major_locator(mdates.YearLocator(base=max(1, -(-years // 5))))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))


def _band(ax, dates, q: xr.DataArray, colour: str, line: str, band: str | None = None) -> None:
    """A weekly median (``line`` its label) and its 5-95 % band over scenarios."""
    ax.fill_between(
        dates, q.sel(quantile=0.05), q.sel(quantile=0.95), color=colour, alpha=0.25,
        linewidth=0, label=band,
    )  # fmt: skip
    ax.plot(dates, q.sel(quantile=0.5), color=colour, label=line)


def _state_grid(ds: xr.Dataset):
    """One panel per state anyone is ever in (moving away left out): the figure, its
    axes, the states and the number of columns."""
    mean = ds["state_count_mean"]
    states = [s for s in LABOUR_STATES if s != "moved" and float(mean.sel(state=s).max()) > 0]
    if not states:  # nobody enrolled in any future: one panel that says so
        fig, ax = plt.subplots(figsize=(6.0, 2.4), layout="constrained")
        ax.text(0.5, 0.5, "nobody was enrolled in any future", ha="center", va="center")
        ax.set_axis_off()
        return fig, np.array([ax]), states, 1
    cols = min(len(states), 4)
    rows = -(-len(states) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 3.0 * rows + 0.4), sharey=True, layout="constrained"
    )
    axes = np.atleast_1d(axes).ravel()
    for ax in axes[len(states) :]:
        ax.set_visible(False)
    return fig, axes, states, cols


def fig_states(ds: xr.Dataset) -> Figure:
    """Weekly state shares, both arms: median and 5-95 % band."""
    size = json.loads(ds.attrs["deal_json"])["cohort"]["size"]
    q = ds["state_count_quantile"] / size
    dates = ds["date"].values
    fig, axes, states, cols = _state_grid(ds)
    for ax, s in zip(axes, states, strict=False):
        for arm, colour in ARM_COLOURS.items():
            _band(ax, dates, q.sel(state=s, arm=arm), colour, arm)
        ax.set_title(s)
        _dates(ax)
    for ax in axes[::cols]:
        ax.set_ylabel("share of the cohort")
    if states:
        axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Citizens by state: median and 5-95 % of scenarios")
    return Figure(
        "states",
        "Weekly state shares, both arms",
        fig,
        "Share of the cohort in each state, week by week, with the programme (blue) and "
        "without it (grey, business as usual): the line is each week's median over futures, "
        "the band holds 90 % of futures. The bands overlap because futures differ in much "
        "more than the programme; its effect is the next figure.",
    )


def fig_effect(ds: xr.Dataset) -> Figure:
    """The programme's effect: treatment minus counterfactual share per state, in the same
    scenario, median and 5-95 % band."""
    size = json.loads(ds.attrs["deal_json"])["cohort"]["size"]
    q = ds["state_effect_quantile"] / size
    dates = ds["date"].values
    fig, axes, states, cols = _state_grid(ds)
    colour = ARM_COLOURS["treatment"]
    for ax, s in zip(axes, states, strict=False):
        _band(ax, dates, q.sel(state=s), colour, "median", "5-95 % of scenarios")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(s)
        _dates(ax)
    for ax in axes[::cols]:
        ax.set_ylabel("share of the cohort, with less without")
    if states:
        axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("The programme's effect: with the programme less without it, same future")
    return Figure(
        "effect",
        "The programme's effect on each state",
        fig,
        "In each future the same citizens are followed with and without the programme, on "
        "the same random numbers; this is the difference, as a share of the cohort (above "
        "zero: more citizens in that state because of the programme). Line: each week's median; "
        "band: 90 % of futures.",
    )


def fig_cashflows(ds: xr.Dataset) -> Figure:
    """Cumulative cash flows of investor and municipality (fans)."""
    dates = ds["date"].values
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    for ax, name, colour in (
        (axes[0], "investor_cumulative", "#2ca02c"),
        (axes[1], "municipal_net_cumulative", "#9467bd"),
    ):
        _band(ax, dates, ds[f"{name}_quantile"] / MIO, colour, "median", "5-95 %")
        ax.plot(dates, ds[f"{name}_mean"] / MIO, color=colour, linestyle="--", label="mean")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_ylabel(_label(ds[f"{name}_mean"], mio=True))
        _dates(ax)
        ax.legend(loc="best", fontsize=8)
    axes[0].set_title("Investor")
    axes[1].set_title("Municipality")
    return Figure(
        "cashflows",
        "Cumulative cash flows",
        fig,
        "Money over time, added up from the start: the investor's repayments less its "
        "drawdowns (left) and the municipality's true savings less its payments (right). "
        "Below zero: out of pocket so far. Solid line: median; dashed: mean; band: 90 % of "
        "futures.",
    )


def fig_distributions(ds: xr.Dataset, summ: dict) -> Figure:
    """Investor IRR and MOIC, municipal net: histograms with loss regions and VaR/CVaR."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    irr = ds["investor_irr"].values
    irr = irr[np.isfinite(irr)] * 100
    ax = axes[0]
    cap = return_cap(ds)
    at_cap = np.zeros(irr.shape, bool) if cap is None else np.abs(irr - 100 * cap) < 0.01
    below = irr[~at_cap]
    if below.size:
        ax.hist(below, bins=60, color="#2ca02c", alpha=0.8)
    ax.axvspan(min(irr.min(), -1) if irr.size else -100, 0, color=LOSS, alpha=0.1, label="loss")
    if cap is not None:
        share = at_cap.sum() / ds.sizes["scenario"]
        ax.axvline(
            100 * cap,
            color="black",
            linestyle="--",
            label=f"return cap {100 * cap:g} %: {100 * share:.0f} % of futures (not drawn)",
        )
    ax.set_xlabel(_label(ds["investor_irr"]).replace("(1)", "") + " (%)")
    ax.set_ylabel("scenarios")
    undefined = int(np.isnan(ds["investor_irr"].values).sum())
    ax.set_title(f"Investor IRR ({undefined:,} scenarios undefined)")
    ax.legend(fontsize=8)
    ax = axes[1]
    moic = ds["investor_moic"].values
    moic = moic[np.isfinite(moic)]
    ax.hist(moic, bins=60, color="#17becf", alpha=0.8)
    ax.axvspan(
        min(moic.min(), 0.9) if moic.size else 0,
        1.0,
        color=LOSS,
        alpha=0.1,
        label="loss (MOIC < 1)",
    )
    ax.set_xlabel(_label(ds["investor_moic"]))
    ax.set_title(f"Investor multiple; P(loss) = {100 * summ['p_investor_loss']:.1f} %")
    ax.legend(fontsize=8)
    ax = axes[2]
    net = ds["municipal_net"].values / MIO
    ax.hist(net, bins=60, color="#9467bd", alpha=0.8)
    ax.axvspan(min(net.min(), -0.1), 0, color=LOSS, alpha=0.1, label="net loss")
    ax.axvline(
        -summ["municipal_var95"] / MIO,
        color=LOSS,
        linestyle="--",
        label=f"VaR 95 % ({summ['municipal_var95'] / MIO:.2f})",
    )
    ax.axvline(
        -summ["municipal_cvar95"] / MIO,
        color=LOSS,
        linestyle=":",
        label=f"CVaR 95 % ({summ['municipal_cvar95'] / MIO:.2f})",
    )
    ax.set_xlabel(_label(ds["municipal_net"], mio=True))
    ax.set_title(f"Municipal net; P(net < 0) = {100 * summ['p_municipal_net_negative']:.1f} %")
    ax.legend(fontsize=8)
    return Figure(
        "distributions",
        "Distributions of return and municipal net",
        fig,
        "How often each outcome happens over the simulated futures. Left: the investor's "
        "annual return; the futures where it reaches the return cap are counted in the "
        "legend, not drawn, so that the rest can be seen. Middle: what the investor gets back "
        "per krone. Right: the municipality's net; the dashed line is the loss exceeded in 5 % "
        "of futures (VaR), the dotted line the average loss in those 5 % (CVaR). Red: losses.",
    )


def return_cap(ds: xr.Dataset) -> float | None:
    """The investor's return cap (a year), or None."""
    cap = json.loads(ds.attrs["deal_json"])["investor"].get("return_cap")
    return None if cap is None else float(cap)


def fig_scatter(ds: xr.Dataset) -> Figure:
    """Investor profit against municipal net, scenario by scenario."""
    n = ds.sizes["scenario"]
    take = np.arange(min(n, 5000))
    x = ds["investor_profit"].values[take] / MIO
    y = ds["municipal_net"].values[take] / MIO
    fig, ax = plt.subplots(figsize=(6, 4.6), layout="constrained")
    ax.scatter(x, y, s=4, alpha=0.35, color="#1f77b4", linewidths=0)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(_label(ds["investor_profit"], mio=True))
    ax.set_ylabel(_label(ds["municipal_net"], mio=True))
    both = float(np.mean((x < 0) & (y < 0)))
    ax.set_title(
        f"Investor vs municipality ({len(take):,} scenarios; both lose in {100 * both:.1f} %)"
    )
    return Figure(
        "investor_vs_municipality",
        "Investor profit against municipal net",
        fig,
        "Each dot is one future: the investor's profit across, the municipality's net up. "
        "Bottom left: both lose; top right: both gain; a cloud along a falling line means "
        "that what one gains the other pays.",
    )


def fig_stress(st: xr.Dataset) -> Figure:
    """Mean change of investor profit and municipal net per stress point, ± 2 SE."""
    names = [str(s) for s in st["stress"].values]
    base_p = st["investor_profit"].isel(stress=0)
    base_n = st["municipal_net"].isel(stress=0)
    n = st.sizes["scenario"]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5), layout="constrained")
    ypos = np.arange(len(names))
    for off, var, base, colour, label in (
        (-0.2, "investor_profit", base_p, "#2ca02c", "investor profit"),
        (0.2, "municipal_net", base_n, "#9467bd", "municipal net"),
    ):
        d = (st[var] - base) / MIO
        mean = d.mean("scenario").values
        se = d.std("scenario", ddof=1).values / np.sqrt(n)
        ax.barh(ypos + off, mean, height=0.38, xerr=2 * se, color=colour, label=label)
    ax.set_yticks(ypos, [plain(n) for n in names])
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("change against the base case (mio. DKK), ± 2 standard errors")
    ax.legend(fontsize=8)
    ax.set_title("Stress tests (common random numbers)")
    return Figure(
        "stress",
        "Stress tests",
        fig,
        "How each stress point moves the average investor profit and municipal net against "
        "the deal as written, on the same futures (same citizens, same random numbers); the "
        "whiskers are two standard errors of the change. The table below gives the "
        "probabilities.",
    )


def fig_acceptability(ac: xr.Dataset) -> Figure:
    """Both parties' acceptability curves against one term, ± 2 standard errors, the
    deal's own value marked."""
    a = ac.attrs
    kind = a.get("value_kind", "num")
    x = ac["value"].values * (100 if kind == "pct" else 1)
    unit = " (%)" if kind == "pct" else " (DKK)" if kind == "dkk" else ""
    fig, ax = plt.subplots(figsize=(8, 4.4), layout="constrained")
    for var, colour, name in (
        ("p_investor", "#2ca02c", f"investor: P(IRR ≥ {100 * a['hurdle']:g} %)"),
        ("p_municipality", "#9467bd", "municipality: P(net ≥ 0)"),
    ):
        p, se = ac[var].values, ac[f"{var}_se"].values
        ax.fill_between(x, np.clip(p - 2 * se, 0, 1), np.clip(p + 2 * se, 0, 1),
                        color=colour, alpha=0.2, linewidth=0)  # fmt: skip
        ax.plot(x, p, color=colour, marker="o", markersize=3, label=name)
    own = a["deal_value"] * (100 if kind == "pct" else 1)
    ax.axvline(own, color="black", linestyle="--", linewidth=0.8, label="the deal's value")
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_xlabel(plain(textwrap.fill(f"{a['vary_label']}{unit}", 70)))
    ax.legend(fontsize=8)
    fig.suptitle(f"Acceptability: {a['vary']}")
    return Figure(
        "acceptability",
        "Acceptability curves",
        fig,
        "For each value of the term, the chance that the investor's return reaches its "
        "hurdle (green) and the chance that the municipality does not lose (purple), over "
        "the same futures at every value; bands: ± two standard errors. Where both curves "
        "are high, both sides can sign; where they cross, one side's gain is the other's "
        "risk.",
    )


def fig_region(rg: xr.Dataset) -> Figure:
    """The grid of two terms: where every goal holds (shaded), each goal's boundary in
    its party's colour, the deal's own terms and the best point."""
    a = rg.attrs

    def scaled(values, kind):
        return np.asarray(values) * (100 if kind == "pct" else 1)

    xa, xb = scaled(rg["a"].values, a["kind_a"]), scaled(rg["b"].values, a["kind_b"])
    fig, ax = plt.subplots(figsize=(7.5, 5.2), layout="constrained")
    ok = rg["all_hold"].values.astype(float)
    ax.pcolormesh(xb, xa, ok, shading="nearest", cmap="Greens", vmin=0, vmax=1.6, alpha=0.8)
    colours = {"investor": "#2ca02c", "municipality": "#9467bd"}
    styles = ["-", "--", ":", "-."]
    for k, g in enumerate(rg["goal"].values):
        holds = rg["goal_holds"].values[:, :, k].astype(float)
        who = str(rg["goal_party"].values[k])
        if holds.max() > 0:  # where this goal holds, lightly in its party's colour
            ax.contourf(xb, xa, holds, levels=[0.5, 1.5], colors=[colours[who]], alpha=0.12)
        if 0 < holds.mean() < 1:
            ax.contour(xb, xa, holds, levels=[0.5], colors=colours[who],
                       linestyles=styles[k % len(styles)], linewidths=1.6)  # fmt: skip
        ax.plot([], [], color=colours[who], linestyle=styles[k % len(styles)],
                label=plain(f"{who}: {g}"))  # fmt: skip
    ax.plot(scaled(a["deal_b"], a["kind_b"]), scaled(a["deal_a"], a["kind_a"]), "kx",
            markersize=9, label="the deal's terms")  # fmt: skip
    ax.plot(scaled(a["best_b"], a["kind_b"]), scaled(a["best_a"], a["kind_a"]), "r*",
            markersize=12, label="best point")  # fmt: skip

    def axis(name, kind):
        unit = {"pct": " (%)", "dkk": " (DKK)"}.get(kind, "")
        return plain(textwrap.fill(name + ("" if "DKK" in name else unit), 60))

    ax.set_xlabel(axis(a["label_b"], a["kind_b"]))
    ax.set_ylabel(axis(a["label_a"], a["kind_a"]))
    ax.legend(fontsize=7, loc="best")
    fig.suptitle("Where every goal holds")
    return Figure(
        "region",
        "The terms both sides can sign",
        fig,
        "Each point of the grid is a contract with those two terms, run on the same futures. "
        "Dark green: every stated goal holds. Each goal's area is tinted in its party's "
        "colour (green: the investor's, purple: the municipality's) and its line is the "
        "boundary. The cross is the deal as written; the star is the point whose "
        "smallest margin over the goals is largest.",
    )


SECTION_FIGURES = ("stress", "sensitivity", "acceptability", "region")
"""Figures shown in their own sections of the report (with their tables), not among the
run's figures."""

OUTPUT_TITLES = {
    "investor_irr": "Investor IRR",
    "investor_moic": "Investor multiple (MOIC)",
    "investor_loss": "P(investor loss)",
    "municipal_net": "Municipal net",
    "investor_profit": "Investor profit",
}


def fig_sensitivity(sa: xr.Dataset) -> Figure:
    """Tornado swings (in the output's unit, from the base) or Sobol indices per output,
    inputs by their labels, the strongest first."""
    from simrisk.analysis.sensitivity import output_kind, parameter_labels

    outputs = [str(o) for o in sa["output"].values]
    labels = parameter_labels(sa)
    sobol = "sobol_total" in sa
    if sobol:
        strength = np.nanmax(sa["sobol_total"].values, axis=0)
    else:  # each output's swings as shares of its largest, so that units do not mix
        swing = np.abs(sa["tornado_high"].values - sa["tornado_low"].values)
        top = np.nanmax(swing, axis=1, keepdims=True)
        strength = np.nanmax(swing / np.where(top > 0, top, 1.0), axis=0)
    order = np.argsort(-strength)
    fig, axes = plt.subplots(
        1,
        len(outputs),
        figsize=(4.2 * len(outputs) + 3, 0.4 * len(labels) + 2),
        layout="constrained",
        sharey=True,
    )
    axes = np.atleast_1d(axes)
    ypos = np.arange(len(labels))
    for o, ax in enumerate(axes):
        if sobol:
            ax.barh(
                ypos - 0.2,
                sa["sobol_first"].values[o][order],
                height=0.38,
                label="first order",
                color="#1f77b4",
            )
            ax.barh(ypos + 0.2, sa["sobol_total"].values[o][order], height=0.38,
                    label="total", color="#ff7f0e")  # fmt: skip
            ax.set_xlabel("Sobol index (share of variance)")
        else:
            kind, _ = output_kind(outputs[o])
            scale, unit = {"pct": (100, "pp"), "mio": (1 / MIO, "mio. DKK")}.get(kind, (1, ""))
            base = sa["tornado_base"].values[o]
            lo = (sa["tornado_low"].values[o] - base)[order] * scale
            hi = (sa["tornado_high"].values[o] - base)[order] * scale
            ax.barh(ypos, lo, color="#1f77b4", label="input at its P10")
            ax.barh(ypos, hi, color="#ff7f0e", label="input at its P90", alpha=0.85)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_xlabel(f"change of the mean{f' ({unit})' if unit else ''}")
        ax.set_title(OUTPUT_TITLES.get(outputs[o], outputs[o].replace("_", " ")))
    axes[0].set_yticks(ypos, [plain(textwrap.shorten(labels[i], 60)) for i in order])
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8)
    kind = "Sobol indices" if sobol else "Tornado (P10/P90 swings)"
    fig.suptitle(kind)
    if sobol:
        caption = (
            "Which uncertain input matters most, strongest first: the share of each result's "
            "variance due to the input alone (first order) and with its interactions "
            "(total). A total near 0 means the input could be fixed without changing the "
            "answer."
        )
    else:
        caption = (
            "Which uncertain input matters most, strongest first: how far the mean result "
            "moves when one input is set to its 10th (blue) or 90th (orange) percentile and "
            "every other input stays at its median; in the result's own unit (percentage "
            "points of IRR or of a probability, mio. DKK)."
        )
    return Figure("sensitivity", kind, fig, caption)


def figures(
    ds: xr.Dataset,
    stress: xr.Dataset | None = None,
    sens: xr.Dataset | None = None,
    accept: xr.Dataset | None = None,
    region: xr.Dataset | None = None,
) -> list[Figure]:
    summ = summary(ds)
    out = [fig_states(ds)]
    if "state_effect_quantile" in ds:
        out.append(fig_effect(ds))
    out += [fig_cashflows(ds), fig_distributions(ds, summ), fig_scatter(ds)]
    for f in out:
        _name_the_deal(f.fig, ds)
    for extra, make in (
        (stress, fig_stress),
        (sens, fig_sensitivity),
        (accept, fig_acceptability),
        (region, fig_region),
    ):
        if extra is not None:
            out.append(make(extra))
            _name_the_deal(out[-1].fig, extra)
    return out


def _name_the_deal(fig: plt.Figure, ds: xr.Dataset) -> None:
    """Every figure says whose it is: the deal, the number of scenarios and the seed, on
    its first line (a figure is often read away from the page)."""
    a = ds.attrs
    n = ds.sizes.get("scenario", a.get("n_scenarios"))
    runs = f"{int(n):,} scenarios, " if n else ""
    line = f"{a.get('deal_name', '')} — {runs}seed {a.get('seed')}"
    title = fig.get_suptitle()
    fig.suptitle(plain(line + (f"\n{title}" if title else "")), fontsize=10)
