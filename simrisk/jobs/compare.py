"""The job of ``simrisk compare``: several results files side by side."""

from __future__ import annotations

from pathlib import Path

from simrisk.errors import ConfigError
from simrisk.files import exclusive
from simrisk.tables import Output


def compare(files: list[str], out_dir: str | Path | None = None, fmt: str = "png") -> Output:
    """Two or more results files of ``simrisk run`` side by side: the table of headline
    metrics and the sentences on which file is best for whom (for the terminal); with
    ``out_dir`` also ``compare.html`` and the figure (in ``fmt``) written there.

    Bad input (fewer than two files, a file given twice, a missing file or one that is
    not the results of ``simrisk run``, an output being written by another process)
    raises ConfigError, one line per problem, before anything is written."""
    from simrisk.report import compare as cmp  # matplotlib: only when comparing

    datasets = cmp.load(files)
    names = cmp.labels(datasets, files)
    table = cmp.comparison(datasets, names)
    sentences = cmp.verdict(datasets, names)
    data = {
        "files": [
            {
                "file": str(f),
                "column": name,
                "deal": ds.attrs.get("deal_name", ""),
                "seed": int(ds.attrs.get("seed", -1)),
                "n_scenarios": int(ds.sizes["scenario"]),
            }
            for f, name, ds in zip(files, names, datasets, strict=True)
        ],
        "table": table.as_dict(),
        "verdict": sentences,
    }
    lines = list(sentences)
    if out_dir is not None:
        try:
            with exclusive(out_dir):
                written = cmp.write_page(datasets, names, files, out_dir, fmt)
        except FileExistsError as exc:
            raise ConfigError(str(out_dir), [f"--output: {exc}"]) from None
        data["written"] = [str(p) for p in written]
        return Output(data, [table], lines, [f"wrote {p}" for p in written])
    return Output(data, [table], lines)
