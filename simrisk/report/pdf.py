"""The whole report as one PDF: a first page with the summary, the headline figures and
the contract terms, a page per figure with its caption, then the tables (stress,
drivers, validation, uncertain inputs), across as many pages as they need."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages

from simrisk.report.figures import Figure, plain
from simrisk.report.page import description, headline_rows
from simrisk.report.text import assumptions, contract_terms, plain_summary
from simrisk.summary import summary
from simrisk.tables import Table

PAGE = (11.69, 8.27)  # A4 landscape, inches
MARGIN = 0.06
LINE = 0.021  # a line of 8-point text, as a share of the page height
CHARS = 190  # characters of 8-point text across the page


class _Pages:
    """Text and tables laid out top to bottom, a new page when one is full."""

    def __init__(self, pdf: PdfPages, header: str):
        self.pdf, self.header = pdf, header
        self.fig = None
        self.y = 0.0

    def _new(self) -> None:
        self.close()
        self.fig = plt.figure(figsize=PAGE)
        self.fig.text(MARGIN, 1 - MARGIN / 2, plain(self.header), fontsize=7, color="#555")
        self.y = 1 - MARGIN

    def close(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)
            plt.close(self.fig)
            self.fig = None

    def need(self, lines: float) -> None:
        if self.fig is None or self.y - lines * LINE < MARGIN:
            self._new()

    def text(self, text: str, size: float = 8, bold: bool = False, width: int = CHARS) -> None:
        wrapped = textwrap.wrap(text, int(width * 8 / size)) or [""]
        step = LINE * size / 8
        self.need(len(wrapped) * size / 8 + 0.5)
        for line in wrapped:
            self.fig.text(MARGIN, self.y, plain(line), fontsize=size,
                          weight="bold" if bold else "normal", va="top")  # fmt: skip
            self.y -= step
        self.y -= step * 0.4

    def table(self, t: Table, title: str | None = None) -> None:
        head = [name for name, _ in t.columns]
        rows = t.text_rows()
        width = [max([len(h)] + [len(r[c]) for r in rows]) for c, h in enumerate(head)]
        scale = min(1.0, CHARS / max(1, sum(w + 2 for w in width)))
        cols = [max(6, int(w * scale)) for w in width]
        x, edges = MARGIN, []
        for c in cols:
            edges.append(x)
            x += (c + 2) / CHARS * (1 - 2 * MARGIN)
        numeric = [kind != "text" for _, kind in t.columns]
        self.text(title or t.title, 9, bold=True)
        self._row(head, cols, edges, numeric, bold=True)
        for r in rows:
            self._row(r, cols, edges, numeric)
        for note in t.notes:
            self.text(note, 7)
        self.y -= LINE * 0.5

    def _row(self, cells, cols, edges, numeric, bold=False) -> None:
        wrapped = [textwrap.wrap(c, w) or [""] for c, w in zip(cells, cols, strict=True)]
        n = max(len(w) for w in wrapped)
        self.need(n + 0.4)
        for k, (lines, x) in enumerate(zip(wrapped, edges, strict=True)):
            for i, line in enumerate(lines):
                self.fig.text(x, self.y - i * LINE, plain(line), fontsize=7.5, va="top",
                              weight="bold" if bold else "normal",
                              family="monospace" if numeric[k] and not bold else None)  # fmt: skip
        self.y -= n * LINE
        self.fig.add_artist(plt.Line2D([MARGIN, 1 - MARGIN], [self.y + LINE * 0.15] * 2,
                                       color="#ddd", linewidth=0.5))  # fmt: skip
        self.y -= LINE * 0.3


def _figure_page(pdf: PdfPages, f: Figure, png: bytes, header: str) -> None:
    page = plt.figure(figsize=PAGE)
    page.text(MARGIN, 1 - MARGIN / 2, plain(header), fontsize=7, color="#555")
    page.text(MARGIN, 1 - MARGIN, plain(f.title), fontsize=12, weight="bold", va="top")
    caption = textwrap.fill(f.caption, 150)
    n_lines = caption.count("\n") + 1
    bottom = MARGIN + n_lines * LINE + 0.02
    ax = page.add_axes((MARGIN, bottom, 1 - 2 * MARGIN, 1 - 2 * MARGIN - bottom + 0.02))
    ax.imshow(mpimg.imread(io.BytesIO(png), format="png"))
    ax.set_axis_off()
    page.text(MARGIN, MARGIN + n_lines * LINE, plain(caption), fontsize=9, va="top")
    pdf.savefig(page)
    plt.close(page)


def write_pdf(path: Path, ds, figs: list[Figure], pngs: dict[str, bytes], sections) -> None:
    """The report as one PDF at ``path``: the same content as the HTML page."""
    deal = json.loads(ds.attrs["deal_json"])
    summ = summary(ds)
    header = (
        f"{deal['deal']['name']} — {ds.sizes['scenario']:,} scenarios, seed "
        f"{ds.attrs.get('seed')}, simrisk {ds.attrs.get('simrisk_version')}"
    )
    by_name = {f.name: f for f in figs}
    with PdfPages(path) as pdf:
        info = pdf.infodict()
        info["Title"] = f"{deal['deal']['name']} — simrisk report"
        pages = _Pages(pdf, header)
        pages.text(deal["deal"]["name"], 16, bold=True, width=100)
        pages.text("In short", 11, bold=True)
        pages.text(plain_summary(ds, summ, deal), 10)
        pages.text(description(ds), 8)
        head = Table("Headline figures", [("measure", "text"), ("value", "text")])
        for a, b in headline_rows(summ):
            head.add(a, b)
        pages.table(head)
        pages.table(contract_terms(deal))
        pages.close()
        for f in figs:
            if f.name not in ("stress", "sensitivity"):
                _figure_page(pdf, f, pngs[f.name], header)
        for sid, title, tables, lines in sections:
            if sid in by_name:
                _figure_page(pdf, by_name[sid], pngs[sid], header)
            pages.text(title, 12, bold=True)
            for line in lines:
                pages.text(line, 8)
            for t in tables:
                pages.table(t)
            pages.close()
        pages.table(assumptions(deal))
        pages.close()
