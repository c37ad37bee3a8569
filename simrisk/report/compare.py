"""Several results files side by side: deals, or contract variants of one deal.

:func:`load` opens the files (refusing anything but two or more distinct results files
of ``simrisk run``), :func:`labels` names their columns, :func:`comparison` is the
table of headline metrics (one column per file), :func:`verdict` says in a few
sentences which file is better for the investor and which for the municipality,
:func:`fig_compare` draws the distributions on common axes, and :func:`write_page` /
:func:`write_comparison` write ``compare.html`` and the figure file, built aside and
moved into place (nothing half-written on failure).
"""

from __future__ import annotations

import base64
import html
import os
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.patches import Patch

from simrisk import finance
from simrisk.errors import ConfigError
from simrisk.files import write_folder
from simrisk.outputs import PAYMENT_SHARES_NOTE
from simrisk.report.figures import FORMATS, LOSS, MIO, Figure, _label, plain
from simrisk.report.page import STYLE, _png, html_table
from simrisk.results import open_results
from simrisk.summary import summary
from simrisk.tables import Table, fmt

INVESTOR, MUNICIPALITY = "investor", "municipality"
HIGHER, LOWER = 1, -1
INVESTOR_UP, INVESTOR_DOWN = ((INVESTOR, HIGHER),), ((INVESTOR, LOWER),)
MUNICIPALITY_UP, MUNICIPALITY_DOWN = ((MUNICIPALITY, HIGHER),), ((MUNICIPALITY, LOWER),)

COMPARED = (
    # label, kind, where the value is (a summary key, or (metric, statistic)), who
    # prefers which direction
    ("Investor IRR, median", "pct", ("investor_irr", "p50"), INVESTOR_UP),
    ("Investor IRR, P5", "pct", ("investor_irr", "p5"), INVESTOR_UP),
    ("Investor IRR, P95", "pct", ("investor_irr", "p95"), INVESTOR_UP),
    ("Investor MOIC, median", "x", ("investor_moic", "p50"), INVESTOR_UP),
    ("P(investor loss)", "pct", "p_investor_loss", INVESTOR_DOWN),
    ("Investor profit, median (mio. DKK)", "mio", ("investor_profit", "p50"), INVESTOR_UP),
    ("True savings, median (mio. DKK)", "mio", ("savings_true", "p50"), MUNICIPALITY_UP),
    (
        "Payments, median (mio. DKK)",
        "mio",
        ("payments_total", "p50"),
        INVESTOR_UP + MUNICIPALITY_DOWN,
    ),
    ("Municipal net, median (mio. DKK)", "mio", ("municipal_net", "p50"), MUNICIPALITY_UP),
    ("Municipal net, P5 (mio. DKK)", "mio", ("municipal_net", "p5"), MUNICIPALITY_UP),
    ("P(municipal net < 0)", "pct", "p_municipal_net_negative", MUNICIPALITY_DOWN),
    ("Municipal VaR 95 % (mio. DKK)", "mio", "municipal_var95", MUNICIPALITY_DOWN),
    ("Deadweight share of payments (mean)", "pct", "mean_deadweight_share", MUNICIPALITY_DOWN),
    ("Overpayment share of payments (mean)", "pct", "mean_overpayment_share", MUNICIPALITY_DOWN),
)
"""The rows of the comparison table."""

METRIC, BETTER = "metric", "better for"
"""The first and the last column of the table (no file's column may be named so)."""


# ------------------------------------------------------------------------- the files
def load(files: list[str | Path]) -> list[xr.Dataset]:
    """The results files, in memory; ConfigError with one line per problem: fewer than
    two files, a file given twice, a missing or unreadable file, any file that is not
    the results of ``simrisk run``."""
    problems = []
    if len(files) < 2:
        problems.append(
            f"FILES: give two or more results files of 'simrisk run' to compare (got {len(files)})"
        )
    seen: dict[tuple[int, int], str | Path] = {}
    datasets = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            pass  # open_results says what is wrong with it
        else:
            if (st.st_dev, st.st_ino) in seen:
                first = seen[st.st_dev, st.st_ino]
                problems.append(f"{f}: the same file as {first}; give each file once")
                continue
            seen[st.st_dev, st.st_ino] = f
        try:
            datasets.append(open_results(f))
        except (FileNotFoundError, ValueError) as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("compare", problems)
    return datasets


def labels(datasets: list[xr.Dataset], files: list[str | Path]) -> list[str]:
    """A unique name per file for its column: the deal names when they differ; else (the
    same deal, e.g. contract variants) the file stems; else the paths as given."""
    deals = [str(ds.attrs.get("deal_name", "")) for ds in datasets]
    stems = [Path(f).stem for f in files]
    for names in (deals, stems):
        if all(names) and len(set(names)) == len(names) and not {METRIC, BETTER} & set(names):
            return names
    return [str(f) for f in files]


# ------------------------------------------------------------------------- the table
def _facts(ds: xr.Dataset) -> dict:
    """The summary of a results file (:func:`simrisk.summary.summary`) with its rows'
    statistics as ``(metric, statistic)`` keys, and the investor's median profit."""
    summ = summary(ds)
    for row in summ["rows"]:
        for stat in ("p5", "p50", "p95"):
            summ[row["metric"], stat] = row[stat]
    summ["investor_profit", "p50"] = float(finance.quantiles(ds["investor_profit"].values, 0.5))
    return summ


def _better(values: list[float], kind: str, names: list[str], prefs) -> str:
    """Which file is best on one row, for each party that cares: ``investor: A``; ties
    (equal as shown) name every file tied; ``equal`` when all are. A value that is not a
    number, or an IRR quantile that falls among undefined IRRs (±inf, shown ``undef.``:
    they are ranked by profit, not by a rate), is compared with nothing."""
    out = []
    shown = [fmt(v, kind) for v in values]
    for party, sign in prefs:
        valid = [i for i, v in enumerate(values) if np.isfinite(v)]
        if len(valid) < 2:
            continue
        top = max(valid, key=lambda i: sign * values[i])
        best = [names[i] for i in valid if shown[i] == shown[top]]
        out.append(f"{party}: {'equal' if len(best) == len(valid) else ', '.join(best)}")
    return "; ".join(out)


def comparison(datasets: list[xr.Dataset], names: list[str]) -> Table:
    """One row per headline metric, one column per file (named by ``names``), and which
    file is better on the row for the investor or the municipality. The numbers are
    those of :func:`simrisk.summary.summary` of each file; the notes say where the files
    are not alike (seeds, numbers of scenarios, one deal's variants)."""
    facts = [_facts(ds) for ds in datasets]
    t = Table(
        "Side by side: " + " | ".join(names),
        [(METRIC, "text"), *((n, None) for n in names), (BETTER, "text")],
    )
    undefined = False
    for label, kind, key, prefs in COMPARED:
        values = [f[key] for f in facts]
        undefined |= any(np.isinf(v) for v in values)
        t.add(label, *((v, kind) for v in values), _better(values, kind, names, prefs))
    t.notes.extend(_notes(datasets, names, facts))
    if undefined:
        t.notes.append(
            "undef.: the quantile falls among undefined IRRs (no single root), ranked by the "
            "investor's profit; it is not compared with the other files' rates"
        )
    t.notes.append(PAYMENT_SHARES_NOTE)
    return t


def _listing(names: list[str], values: list[str]) -> str:
    """``A 1, B 2``: each name with its value."""
    return ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))


def _notes(datasets: list[xr.Dataset], names: list[str], facts: list[dict]) -> list[str]:
    """Where the files are not alike: seeds, numbers of scenarios; which files are of one
    deal (from different deal files: contract variants)."""
    out = []
    seeds = [f["seed"] for f in facts]
    if len(set(seeds)) > 1:
        out.append(
            f"The files were run with different seeds ({_listing(names, [str(s) for s in seeds])})"
            ": their differences include sampling noise."
        )
    views = [str(ds.attrs.get("perspective", "municipality")) for ds in datasets]
    if len(set(views)) > 1:
        out.append(
            "The files' true savings are of different perspectives "
            f"({_listing(names, views)}): they do not compare; the municipal nets do."
        )
    elif views[0] != "municipality":
        out.append(f"True savings are of the {views[0].replace('_', '-')} perspective.")
    counts = [f["n_scenarios"] for f in facts]
    if len(set(counts)) > 1:
        out.append(
            "The files have different numbers of scenarios "
            f"({_listing(names, [fmt(c, 'int') for c in counts])}): the fewer, the noisier "
            "a file's figures."
        )
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(facts):
        groups.setdefault(f["deal"], []).append(i)
    for deal, members in groups.items():
        if len(members) < 2:
            continue
        texts = {datasets[i].attrs.get("deal_file", "") for i in members}
        how = (
            "from different versions of its deal file (variants)"
            if len(texts) > 1
            else "from the same deal file"
        )
        out.append(f"{', '.join(names[i] for i in members)}: the deal '{deal}', {how}.")
    return out


# ----------------------------------------------------------------------- the verdict
PARTIES = (
    # party, P(loss) key and its name, median key and its name, what a loss is
    (
        INVESTOR,
        ("p_investor_loss", "P(investor loss)"),
        (("investor_profit", "p50"), "median profit"),
        "loses money",
    ),
    (
        MUNICIPALITY,
        ("p_municipal_net_negative", "P(municipal net < 0)"),
        (("municipal_net", "p50"), "median net"),
        "has a negative net",
    ),
)


def _against(names: list[str], texts: list[str], best: int) -> str:
    """``40.0 % for B and 84.9 % for C``: the others' values."""
    parts = [f"{texts[i]} for {names[i]}" for i in range(len(names)) if i != best]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _best(facts: list[dict], p_key: str, m_key) -> tuple[int | None, list[int]]:
    """The file best for one party, and the files whose chance of a loss is within two
    standard errors of the lowest (independent binomial errors): the lowest chance
    decides; among the files close to it, the highest median (as shown); None when
    their medians are the same as shown."""
    p = np.array([f[p_key] for f in facts])
    n = np.array([f["n_scenarios"] for f in facts])
    low = int(np.argmin(p))
    se = np.sqrt(p * (1 - p) / n + p[low] * (1 - p[low]) / n[low])
    close = [i for i in range(len(facts)) if p[i] - p[low] <= 2 * se[i]]
    if len(close) == 1:
        return low, close
    top = max(close, key=lambda i: facts[i][m_key])
    shown = {fmt(facts[i][m_key], "mio") for i in close}
    return (None if len(shown) == 1 else top), close


def verdict(datasets: list[xr.Dataset], names: list[str]) -> list[str]:
    """Which file is best for the investor (judged by P(investor loss), then the median
    profit) and which for the municipality (P(municipal net < 0), then the median
    net), in plain sentences."""
    facts = [_facts(ds) for ds in datasets]
    out, winners = [], []
    for party, (p_key, p_name), (m_key, median), loses in PARTIES:
        best, close = _best(facts, p_key, m_key)
        winners.append(best)
        ps = [fmt(f[p_key], "pct") for f in facts]
        ms = [f[m_key] for f in facts]
        mio = [fmt(m, "mio") for m in ms]
        if best is None:
            alike = [names[i] for i in close]
            out.append(
                f"For the {party}, {', '.join(alike[:-1])} and {alike[-1]} cannot be told "
                f"apart: {p_name} {_listing(alike, [ps[i] for i in close])} (within two "
                f"standard errors), {median} {_listing(alike, [mio[i] for i in close])} "
                "mio. DKK."
            )
            continue
        top = max(range(len(facts)), key=lambda i: ms[i])
        line = (
            f"For the {party}, {names[best]} is best: it {loses} in {ps[best]} of futures, "
            f"against {_against(names, ps, best)}"
        )
        if len(close) > 1:
            line += (
                " — too close to tell apart at these numbers of scenarios (within two "
                f"standard errors) — and its {median} is the highest: {mio[best]} mio. DKK, "
                f"against {_against(names, mio, best)}."
            )
        elif mio[top] == mio[best]:
            line += (
                f"; its {median} is also the highest: {mio[best]} mio. DKK, against "
                f"{_against(names, mio, best)}."
            )
        else:
            line += (
                f"; but {names[top]} has the higher {median}: {mio[top]} mio. DKK, against "
                f"{_against(names, mio, top)}."
            )
        out.append(line)
    if None not in winners:
        out.append(
            f"{names[winners[0]]} is best for both."
            if winners[0] == winners[1]
            else "The investor and the municipality are best served by different files."
        )
    out.append(
        "(Best: the lowest chance of a loss; when chances are within two standard errors "
        "of each other, the higher median decides.)"
    )
    return out


# ------------------------------------------------------------------------ the figure
FIGURE_TITLE = "Distributions on common axes"
FIGURE_CAPTION = (
    "How to read: left, the share of each file's futures with an investor IRR at or below "
    "a value (an ECDF, not a histogram: the IRR piles up at return caps, which an ECDF "
    "shows as a vertical step); a curve further right is better for the investor, and "
    "where a curve crosses the dotted line is its median; undefined IRRs are drawn at "
    "-100 % for a loss, else at the file's highest IRR. Middle and right: the share of "
    "each file's scenarios in each bin, the same bins for every file; shaded: a loss."
)
COLOURS = plt.get_cmap("tab10").colors
LINESTYLES = ("-", "--", ":", "-.")


def fig_compare(datasets: list[xr.Dataset], names: list[str]) -> Figure:
    """Investor IRR (ECDF), investor profit and municipal net (step histograms with the
    same bins), one curve per file, on common axes."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4), layout="constrained")
    styles = [
        {"color": COLOURS[i % len(COLOURS)], "linestyle": LINESTYLES[i // len(COLOURS) % 4]}
        for i in range(len(datasets))
    ]
    ax = axes[0]
    for ds, style in zip(datasets, styles, strict=True):
        irr = finance.irr_filled(ds["investor_irr"].values, ds["investor_profit"].values)
        ax.ecdf(100 * irr, linewidth=1.6, **style)
    ax.axhline(0.5, color="#555555", linestyle=":", linewidth=0.8)
    ax.set_xlabel(_label(datasets[0]["investor_irr"]) + " (%)")
    ax.set_ylabel("share of futures at or below")
    ax.set_title("Investor IRR: further right is better")
    for ax, name in ((axes[1], "investor_profit"), (axes[2], "municipal_net")):
        values = [ds[name].values / MIO for ds in datasets]
        bins = np.histogram_bin_edges(np.concatenate(values), bins=50)
        for x, style in zip(values, styles, strict=True):
            ax.hist(x, bins=bins, weights=np.full(x.size, 1 / x.size), histtype="step",
                    linewidth=1.6, **style)  # fmt: skip
        ax.set_xlabel(_label(datasets[0][name], mio=True))
        ax.set_ylabel("share of scenarios")
    axes[1].set_title("Investor profit (same bins for every file)")
    axes[2].set_title("Municipal net (same bins for every file)")
    for ax in axes:
        lo, hi = ax.get_xlim()
        if lo < 0:
            ax.axvspan(lo, 0, color=LOSS, alpha=0.1, linewidth=0)
        ax.set_xlim(lo, hi)
        ax.axvline(0, color="black", linewidth=0.8)
    handles = [plt.Line2D([], [], linewidth=1.6, **s) for s in styles]
    handles.append(Patch(color=LOSS, alpha=0.1))
    legend = [textwrap.shorten(plain(n), 60, placeholder=" ...") for n in names] + ["loss"]
    per_row = max(1, min(len(legend), 180 // (max(map(len, legend)) + 8)))  # ~180 characters
    fig.legend(handles, legend, loc="outside lower center", ncols=per_row)
    runs = " · ".join(
        f"{n} ({ds.sizes['scenario']:,} scenarios, seed {ds.attrs.get('seed')})"
        for n, ds in zip(names, datasets, strict=True)
    )
    fig.suptitle(
        plain(textwrap.fill(runs, 160)) + f"\n{FIGURE_TITLE}: investor IRR, investor profit, "
        "municipal net",
        fontsize=10,
    )
    return Figure("compare", FIGURE_TITLE, fig)


# -------------------------------------------------------------------------- the page
def render_html(
    datasets: list[xr.Dataset],
    names: list[str],
    files: list[str | Path],
    fig: Figure,
    png: bytes,
) -> str:
    """``compare.html``: the files, the table, the verdict and the figure (embedded as
    base64 PNG); self-contained, every user string escaped."""
    table = comparison(datasets, names)
    files_table = Table(
        "Files",
        [
            ("column", "text"),
            ("file", "text"),
            ("deal", "text"),
            ("scenarios", "int"),
            ("seed", "text"),
            ("simrisk", "text"),
            ("created", "text"),
        ],
    )
    for name, f, ds in zip(names, files, datasets, strict=True):
        a = ds.attrs
        files_table.add(
            name, str(f), a.get("deal_name", ""), ds.sizes["scenario"], str(a.get("seed")),
            str(a.get("simrisk_version")), str(a.get("created")),
        )  # fmt: skip
    sentences = "".join(f"<p>{html.escape(s)}</p>" for s in verdict(datasets, names))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    title = html.escape(" vs ".join(names))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} — simrisk comparison</title>
<style>{STYLE}</style></head>
<body>
<h1>{title}</h1>
<p class="meta">A comparison of {len(names)} results files of <code>simrisk run</code>.</p>
{html_table(files_table, "files", "compare")}
<h2>Which is better for whom</h2>
<div id="verdict">{sentences}</div>
<h2>Headline figures side by side</h2>
{html_table(table, "comparison", "compare")}
<ul class="notes">{notes}</ul>
<h2>{html.escape(fig.title)}</h2>
<figure id="fig-{fig.name}"><img alt="{html.escape(fig.title)}"
src="data:image/png;base64,{base64.b64encode(png).decode()}">
<figcaption>{html.escape(FIGURE_CAPTION)}</figcaption></figure>
</body></html>
"""


def write_page(
    datasets: list[xr.Dataset],
    names: list[str],
    files: list[str | Path],
    out_dir: str | Path,
    fmt: str = "png",
) -> list[Path]:
    """Write ``compare.html`` and the figure (``compare.FMT``) into ``out_dir``: a new
    directory as a whole, into an existing one file by file (an earlier page's figure in
    another format removed, other files kept), built aside either way. Returns the files
    written."""
    fig = fig_compare(datasets, names)
    names_out = [f"{fig.name}.{fmt}", "compare.html"]

    def write(tmp: Path) -> None:
        png = _png(fig.fig)
        if fmt == "png":
            (tmp / names_out[0]).write_bytes(png)
        else:
            fig.fig.savefig(tmp / names_out[0], format=fmt)
        page = render_html(datasets, names, files, fig, png)
        (tmp / "compare.html").write_text(page, encoding="utf-8")

    out_dir = Path(out_dir)
    try:
        # an earlier page's figure in another format
        earlier = (out_dir / "compare.html").is_file()
        stale = [f"{fig.name}.{ext}" for ext in FORMATS] if earlier else []
        write_folder(out_dir, write, names_out, stale)
    finally:
        plt.close(fig.fig)
    return [out_dir / n for n in names_out]


def write_comparison(files: list[str | Path], out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Check and open ``files`` (:func:`load`), then write the page and the figure into
    ``out_dir`` (:func:`write_page`); returns the files written."""
    datasets = load(files)
    return write_page(datasets, labels(datasets, files), files, out_dir, fmt)
