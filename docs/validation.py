"""Predicted against observed for the six included deals: writes docs/validation.md.

For each deal, ``simrisk check`` on the deal's own evidence (the same as
``simrisk check configs/DEAL.toml --draws D --seed S``), as a markdown table: the
endpoint, the study arm and the deal's arm it is compared with, whether the
calibration fitted it, the observation with its interval, the prediction with the
interval of 95 % of the parameter draws, and z.

Usage: ``python docs/validation.py [--draws 200] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from simrisk.analysis import check as chk
from simrisk.config import load_deal

ROOT = Path(__file__).resolve().parents[1]
DEALS = [
    "holbaek",
    "slagelse",
    "sundinvest_sygemeldte",
    "aarhus_din_vej_i_job",
    "aarhus_ips_plus",
    "drc_herning_viborg",
]


def _cell(v: float, lo: float, hi: float, kind: str) -> str:
    return chk._value_text(v, lo, hi, kind)


def markdown(rows: list[chk.Row]) -> list[str]:
    out = [
        "| endpoint | study arm | deal arm | used | observed [95 %] "
        "| predicted [95 % of draws] | z |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pred = (
            _cell(r.predicted, r.predicted_low, r.predicted_high, r.kind)
            if not math.isnan(r.predicted)
            else r.note
        )
        z = "n/a" if math.isnan(r.z) else f"{r.z:+.1f}"
        if not math.isnan(r.z) and abs(r.z) > 2:
            z = f"**{z}**"
        out.append(
            f"| {r.endpoint} ({r.kind}) | {r.arm} | {r.model_arm} | {r.used} | "
            f"{_cell(r.observed, r.observed_low, r.observed_high, r.kind)} | {pred} | {z} |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    lines = [
        "# Predicted against observed",
        "",
        f"Written by `python docs/validation.py --draws {args.draws} --seed {args.seed}`: "
        "for every deal, every endpoint of its evidence, the prediction of the deal as it "
        "runs (its parameter uncertainty and calibration posterior; 10 scenarios of the "
        "deal's cohort per draw) against the observation. z beyond ±2 is in bold.",
        "",
    ]
    for name in DEALS:
        path = ROOT / "configs" / f"{name}.toml"
        cfg, _ = load_deal(path)
        uses = chk.uses_for(cfg, path.parent, None)
        fitted = set(cfg.uncertainty.posterior.fitted_to) if cfg.uncertainty.posterior else set()
        rows = chk.check(cfg, uses, fitted, args.draws, 10, args.seed)
        lines += [f"## {cfg.deal.name} (`configs/{name}.toml`)", ""]
        lines += markdown(rows)
        lines += [""] + [f"- {s}" for s in chk.summary_lines(rows)] + [""]
        print(f"{name}: {len(rows)} endpoints")
    (ROOT / "docs" / "validation.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
