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

from simrisk.report.figures import MIO, Figure
from simrisk.summary import summary


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _headline_rows(summ: dict) -> list[tuple[str, str]]:
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
        ("True savings, mio. DKK, median (P5 to P95)", dkk("savings_true")),
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


def _assumptions(deal: dict) -> list[tuple[str, str, str]]:
    rows = []
    for p in deal["uncertainty"]["parameters"]:
        spec = {
            k: v
            for k, v in p.items()
            if k not in ("path", "source", "distribution") and v is not None
        }
        rows.append(
            (
                p["path"],
                f"{p['distribution']} " + ", ".join(f"{k} {v:g}" for k, v in spec.items()),
                p.get("source", ""),
            )
        )
    return rows


STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #1a1a1a; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { padding: 0.35em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
table.headline th { background: #1f3b5a; color: white; }
table.headline td:last-child { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
.meta { color: #555; font-size: 0.9em; }
"""


def render_html(ds: xr.Dataset, figs: list[Figure], pngs: dict[str, bytes]) -> str:
    deal = json.loads(ds.attrs["deal_json"])
    summ = summary(ds)
    d = deal["deal"]
    paragraph = (
        f"{html.escape(d.get('description', '').strip())} "
        f"The cohort has {deal['cohort']['size']} citizens, the programme "
        f"{len(deal['programme']['phases'])} phases over "
        f"{sum(p['weeks'] for p in deal['programme']['phases'])} weeks; the investor commits "
        f"{deal['investor']['capital'] / MIO:.2f} mio. {html.escape(d.get('currency', 'DKK'))}. "
        f"Payment: {', '.join(m['kind'].replace('_', ' ') for m in deal['contract']['mechanisms'])}"
        f", measured against the {deal['contract']['measurement'].replace('_', ' ')}."
    )
    head = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td></tr>"
        for a, b in _headline_rows(summ)
    )
    assum = "".join(
        f"<tr><td><code>{html.escape(a)}</code></td><td>{html.escape(b)}</td>"
        f"<td>{html.escape(c)}</td></tr>"
        for a, b, c in _assumptions(deal)
    )
    body_figs = "".join(
        f'<figure id="fig-{f.name}"><img alt="{html.escape(f.title)}" '
        f'src="data:image/png;base64,{base64.b64encode(pngs[f.name]).decode()}">'
        f"<figcaption>{html.escape(f.title)}</figcaption></figure>"
        for f in figs
    )
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
<p>{paragraph}</p>
<h2>Headline figures</h2>
<table class="headline" id="headline"><tr><th>measure</th><th>value</th></tr>{head}</table>
<h2>Key assumptions and their sources</h2>
<table id="assumptions"><tr><th>parameter</th><th>distribution</th><th>source</th></tr>{assum}
</table>
<h2>Figures</h2>
{body_figs}
</body></html>
"""
