"""The report's HTML page: one self-contained file (images embedded as base64 PNG, style
inline), so it opens offline. Every user string is escaped."""

from __future__ import annotations

import base64
import html
import io
import json

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from simrisk.report.figures import MIO, SECTION_FIGURES, Figure
from simrisk.report.text import assumptions, contract_terms, plain_summary
from simrisk.summary import summary
from simrisk.tables import Table


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def html_table(t: Table, table_id: str, css: str = "data") -> str:
    """A :class:`Table` as HTML: numbers right-aligned, every cell escaped, its notes
    below it."""
    cls = [' class="num"' if kind != "text" else "" for _, kind in t.columns]

    def cells(tag: str, texts: list[str]) -> str:
        return "".join(
            f"<{tag}{c}>{html.escape(x)}</{tag}>" for x, c in zip(texts, cls, strict=True)
        )

    head = cells("th", [name for name, _ in t.columns])
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in t.text_rows())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in t.notes)
    return f'<table class="{css}" id="{table_id}"><tr>{head}</tr>{body}</table>' + (
        f'<ul class="notes">{notes}</ul>' if notes else ""
    )


def headline_rows(summ: dict) -> list[tuple[str, str]]:
    """The headline figures as (measure, value) text."""
    rows = {r["metric"]: r for r in summ["rows"]}

    def dkk(name):
        r = rows[name]
        return f"{r['p50'] / MIO:.2f} ({r['p5'] / MIO:.2f} to {r['p95'] / MIO:.2f})"

    irr = rows["investor_irr"]

    def pct(v):
        return "undefined" if not np.isfinite(v) else f"{100 * v:.1f} %"

    return [
        (
            "Investor IRR, median (P5 to P95)",
            f"{pct(irr['p50'])} ({pct(irr['p5'])} to {pct(irr['p95'])})",
        ),
        (
            "Investor MOIC, median (P5 to P95)",
            f"{rows['investor_moic']['p50']:.2f} ({rows['investor_moic']['p5']:.2f} to "
            f"{rows['investor_moic']['p95']:.2f})",
        ),
        ("P(investor loss)", f"{100 * summ['p_investor_loss']:.1f} %"),
        (f"{rows['savings_true']['label']}, mio. DKK, median (P5 to P95)", dkk("savings_true")),
        ("Payments, mio. DKK, median (P5 to P95)", dkk("payments_total")),
        ("Municipal net, mio. DKK, median (P5 to P95)", dkk("municipal_net")),
        ("P(municipal net < 0)", f"{100 * summ['p_municipal_net_negative']:.1f} %"),
        (
            "Municipal VaR 95 % / CVaR 95 %, mio. DKK",
            f"{summ['municipal_var95'] / MIO:.2f} / {summ['municipal_cvar95'] / MIO:.2f}",
        ),
        (
            "Deadweight share of payments (mean): paid for outcomes that happen without the "
            "programme",
            f"{100 * summ['mean_deadweight_share']:.1f} %",
        ),
        (
            "Overpayment share of payments (mean): paid beyond the true savings",
            f"{100 * summ['mean_overpayment_share']:.1f} %",
        ),
    ]


def description(ds: xr.Dataset) -> str:
    """The deal in one paragraph: its own description, cohort, phases, capital, payment."""
    deal = json.loads(ds.attrs["deal_json"])
    d = deal["deal"]
    return (
        f"{d.get('description', '').strip()} "
        f"The cohort has {deal['cohort']['size']} citizens, the programme "
        f"{len(deal['programme']['phases'])} phases over "
        f"{sum(p['weeks'] for p in deal['programme']['phases'])} weeks; the investor commits "
        f"{deal['investor']['capital'] / MIO:.2f} mio. {d.get('currency', 'DKK')}."
    )


STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #1a1a1a; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { padding: 0.35em 0.8em; border-bottom: 1px solid #ddd; text-align: left;
         vertical-align: top; }
table.headline th, table.data th, table.compare th { background: #1f3b5a; color: white; }
table.headline td:last-child, td.num, th.num { text-align: right;
         font-variant-numeric: tabular-nums; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; }
figcaption { color: #333; font-size: 0.95em; max-width: 60em; }
.meta, ul.notes { color: #555; font-size: 0.9em; }
p.summary { font-size: 1.05em; background: #f3f6f9; padding: 0.8em 1em;
            border-left: 4px solid #1f3b5a; max-width: 60em; }
"""


def _figure(f: Figure, png: bytes) -> str:
    return (
        f'<figure id="fig-{f.name}"><img alt="{html.escape(f.title)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption><b>{html.escape(f.title)}.</b> {html.escape(f.caption)}</figcaption>"
        "</figure>"
    )


def render_html(
    ds: xr.Dataset,
    figs: list[Figure],
    pngs: dict[str, bytes],
    sections: list[tuple[str, str, list[Table], list[str]]] = (),
) -> str:
    """The page: summary, headline figures, contract terms, the figures with their
    captions, then ``sections`` (id, title, tables, lines: stress, sensitivity,
    validation), and the uncertain inputs with their sources."""
    deal = json.loads(ds.attrs["deal_json"])
    summ = summary(ds)
    d = deal["deal"]
    head = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>"
        for a, b in headline_rows(summ)
    )
    by_name = {f.name: f for f in figs}
    main_figs = "".join(_figure(f, pngs[f.name]) for f in figs if f.name not in SECTION_FIGURES)
    extra = ""
    for sid, title, tables, lines in sections:
        fig = by_name.get(sid)
        extra += f'<h2 id="{sid}-section">{html.escape(title)}</h2>'
        extra += "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        if fig is not None:
            extra += _figure(fig, pngs[fig.name])
        for k, t in enumerate(tables):
            extra += f"<h3>{html.escape(t.title)}</h3>" + html_table(t, f"{sid}-{k}")
    check = (
        "<script>window.addEventListener('load', function () {"
        "var imgs = document.images, ok = 0;"
        "for (var i = 0; i < imgs.length; i++) { if (imgs[i].naturalWidth > 0) ok++; }"
        "document.body.setAttribute('data-images-loaded', ok + '/' + imgs.length);});</script>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(d["name"])} — simrisk report</title>
<style>{STYLE}</style>{check}</head>
<body>
<h1>{html.escape(d["name"])}</h1>
<p class="meta">{ds.sizes["scenario"]:,} scenarios, seed {ds.attrs.get("seed")},
simrisk {html.escape(str(ds.attrs.get("simrisk_version")))}, created
{html.escape(str(ds.attrs.get("created")))}. Start {html.escape(str(d["start_date"]))},
horizon {d["horizon_weeks"]} weeks.</p>
<h2>In short</h2>
<p class="summary" id="summary">{html.escape(plain_summary(ds, summ, deal))}</p>
<p>{html.escape(description(ds))}</p>
<h2>Headline figures</h2>
<table class="headline" id="headline"><tr><th>measure</th><th>value</th></tr>{head}</table>
<h2>Contract terms</h2>
{html_table(contract_terms(deal), "contract")}
<h2>Figures</h2>
{main_figs}
{extra}
<h2>Uncertain inputs and their sources</h2>
{html_table(assumptions(deal), "assumptions")}
</body></html>
"""
