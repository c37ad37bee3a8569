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

from simrisk.report.figures import SECTION_FIGURES, Figure, plain
from simrisk.report.page import description, headline_rows
from simrisk.report.text import assumptions, contract_terms, plain_summary
from simrisk.summary import summary
from simrisk.tables import Table

PAGE = (11.69, 8.27)  # A4 landscape, inches
MARGIN = 0.06
LINE = 0.021  # a line of 8-point text, as a share of the page height
TABLE_SIZE = 7.0  # points; tables are set in a monospaced font, so widths are known
WIDTH_PT = (1 - 2 * MARGIN) * PAGE[0] * 72


def chars(size: float) -> int:
    """Characters of ``size``-point text that fit across the page: a monospaced
    character is about 0.6 of its size wide (0.66 leaves room), and proportional text is
    narrower on average."""
    return int(WIDTH_PT / (0.66 * size))


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken between words (a word longer than
    a line is broken too, rather than running off the page)."""
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


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

    def text(self, text: str, size: float = 8, bold: bool = False, width: int | None = None):
        wrapped = wrap(text, width or chars(size))
        step = LINE * size / 8
        self.need(len(wrapped) * size / 8 + 0.5)
        for line in wrapped:
            self.fig.text(MARGIN, self.y, plain(line), fontsize=size,
                          weight="bold" if bold else "normal", va="top")  # fmt: skip
            self.y -= step
        self.y -= step * 0.4

    def table(self, t: Table, title: str | None = None) -> None:
        """``t`` with its header, notes below; its header again on every new page."""
        head = [name for name, _ in t.columns]
        rows = t.text_rows()
        total = chars(TABLE_SIZE)
        gap = 2
        numeric = [kind not in (None, "text") for _, kind in t.columns]
        cols = _widths(head, rows, numeric, total - gap * len(head))
        edges, x = [], MARGIN
        for c in cols:
            edges.append(x)
            x += (c + gap) / total * (1 - 2 * MARGIN)
        self.text(title or t.title, 9, bold=True)
        self._head = (head, cols, edges)
        self._row(head, cols, edges, bold=True)
        for r in rows:
            self._row(r, cols, edges)
        self._head = None
        for note in t.notes:
            self.text(note, 7)
        self.y -= LINE * 0.5

    _head = None

    def _row(self, cells, cols, edges, bold=False) -> None:
        wrapped = [wrap(c, w) for c, w in zip(cells, cols, strict=True)]
        n = max(len(w) for w in wrapped)
        line = LINE * TABLE_SIZE / 8
        if self.fig is None or self.y - (n + 0.4) * line < MARGIN:
            self._new()
            if self._head is not None and not bold:  # the header again on a new page
                self._row(*self._head, bold=True)
        for lines, x in zip(wrapped, edges, strict=True):
            for i, text in enumerate(lines):
                self.fig.text(x, self.y - i * line, plain(text), fontsize=TABLE_SIZE, va="top",
                              family="monospace", weight="bold" if bold else "normal")  # fmt: skip
        self.y -= n * line
        self.fig.add_artist(plt.Line2D([MARGIN, 1 - MARGIN], [self.y + line * 0.15] * 2,
                                       color="#ddd", linewidth=0.5))  # fmt: skip
        self.y -= line * 0.4


def _widths(head: list[str], rows: list[list[str]], numeric: list[bool], room: int) -> list[int]:
    """Column widths in characters that fit in ``room``: each column first gets its
    least (its longest word, up to 20; a number column its longest cell), then what is left
    goes to the columns that want more, in proportion to what they want."""
    natural = [max([len(h)] + [len(r[c]) for r in rows]) for c, h in enumerate(head)]

    def longest_word(c: int) -> int:
        return max([0] + [len(w) for r in rows for w in r[c].split()])

    least = [
        max([8, min(longest_word(c), 20)] + [len(w) for w in h.split()]
            + ([len(r[c]) for r in rows] if numeric[c] else []))
        for c, h in enumerate(head)
    ]  # fmt: skip
    least = [min(a, b) for a, b in zip(least, natural, strict=True)]
    if sum(natural) <= room:
        return natural
    spare = max(room - sum(least), 0)
    want = [n - a for n, a in zip(natural, least, strict=True)]
    total = sum(want) or 1
    return [a + int(spare * w / total) for a, w in zip(least, want, strict=True)]


def _figure_page(pdf: PdfPages, f: Figure, png: bytes, header: str) -> None:
    page = plt.figure(figsize=PAGE)
    page.text(MARGIN, 1 - MARGIN / 2, plain(header), fontsize=7, color="#555")
    page.text(MARGIN, 1 - MARGIN, plain(f.title), fontsize=12, weight="bold", va="top")
    caption = "\n".join(wrap(f.caption, chars(9)))
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
        pages.text(deal["deal"]["name"], 16, bold=True)
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
            if f.name not in SECTION_FIGURES:
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
