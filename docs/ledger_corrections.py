"""How much each correction of the Danish ledger moved each deal: writes
docs/ledger_corrections.md.

The deals and the rules before the corrections are read from the git history
(commit BEFORE), so this script needs a git checkout. Steps, cumulative on the deal
files as they were before:

0. before: the old rules (a flat 2 % indexation, jobafklaring priced at the
   sygedagpenge maximum, the refusion count reset after 52 consecutive weeks of
   self-support);
1. jobafklaring priced as ressourceforløbsydelse at kontanthjælp level;
2. dated rates through 2026, the published regulation per year and the kontanthjælp of
   1 July 2025 (the current rules file), the old reset still;
3. the reset of § 6 (52 weeks of self-support in total within 3 years);
4. the deal files rewritten on the corrected ledger (benefit paths, exits that are not
   savings, part-time work, SU, corrected deal facts).

Then, from step 4, one rule taken out at a time, to show its own weight.

Usage: ``python docs/ledger_corrections.py [-n 20000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import subprocess
import tempfile
import tomllib
from pathlib import Path

import numpy as np

from simrisk import engine
from simrisk.config import parse_deal
from simrisk.config.load import RENAMED

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "9afae01"
"""The commit whose deal files and rules precede the corrections."""
DEALS = (
    "holbaek",
    "slagelse",
    "sundinvest_sygemeldte",
    "aarhus_din_vej_i_job",
    "aarhus_ips_plus",
    "drc_herning_viborg",
)
OLD_JOBAFKLARING = {
    "unit": "month",
    "refusion": "staircase",
    "indexation": 0.02,
    "source": "ressourceforløbsydelse at kontanthjælp level (2024 official)",
    "rates": [
        {"from": dt.date(2023, 1, 1), "value": 11944.0},
        {"from": dt.date(2024, 1, 1), "value": 12326.0},
    ],
}


def _git(path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _old(name: str) -> dict:
    raw = tomllib.loads(_git(f"configs/{name}.toml"))
    for old, new in RENAMED.items():
        if old in raw:
            raw[new] = raw.pop(old)
    return raw


def _with_rules(raw: dict, rules: Path, window: int | None) -> dict:
    raw = copy.deepcopy(raw)
    raw["economics"]["rules"] = str(rules)
    if window is not None:
        shared = tomllib.loads(rules.read_text(encoding="utf-8"))
        raw["economics"]["refusion"] = dict(shared["refusion"], reset_window_weeks=window)
    return raw


def _figures(raw: dict, n: int, seed: int) -> dict[str, float]:
    cfg = parse_deal(raw, "step", ROOT / "configs")
    m = engine.run(cfg, seed, n).metrics
    net = m["municipal_net"]
    return {
        "loss": float(np.mean(m["investor_profit"] < 0)),
        "net": float(np.median(net)) / 1e6,
        "p_net": float(np.mean(net < 0)),
        "public": float(np.median(m["public_net"])) / 1e6,
    }


def steps(name: str, old_rules: Path, new_rules: Path) -> list[tuple[str, dict]]:
    old = _old(name)
    rfy = copy.deepcopy(old)
    rfy.setdefault("economics", {}).setdefault("benefits", {})["jobafklaring"] = OLD_JOBAFKLARING
    new = tomllib.loads((ROOT / "configs" / f"{name}.toml").read_text(encoding="utf-8"))
    out = [
        ("0 before", _with_rules(old, old_rules, 52)),
        ("1 jobafklaring at kontanthjælp level", _with_rules(rfy, old_rules, 52)),
        ("2 dated rates, regulation, kontanthjælp 2025", _with_rules(old, new_rules, 52)),
        ("3 the reset of § 6", _with_rules(old, new_rules, None)),
        ("4 the deal rewritten (all rules)", new),
    ]
    no_path = copy.deepcopy(new)
    for seg in no_path["cohort"]["segments"]:
        seg.pop("path", None)
    no_path["uncertainty"]["parameters"] = [
        p for p in no_path["uncertainty"].get("parameters", []) if ".path[" not in p["path"]
    ]
    full = copy.deepcopy(new)
    full["labour"].setdefault("hours", {})["full_time_share"] = 1.0
    full["uncertainty"]["parameters"] = [
        p for p in full["uncertainty"].get("parameters", []) if "hours" not in p["path"]
    ]
    no_exits = copy.deepcopy(new)
    dropped = []
    for i, t in enumerate(no_exits["labour"]["transitions"]):
        if t["to"] in ("unemployed", "fleksjob"):
            p = t["probability"]
            t["probability"] = [0.0] * len(p) if isinstance(p, list) else 0.0
            dropped.append(f"labour.transitions[{i}].")
    no_exits["uncertainty"]["parameters"] = [
        p
        for p in no_exits["uncertainty"].get("parameters", [])
        if not any(p["path"].startswith(d) for d in dropped)
    ]
    out += [
        ("4 without the benefit paths", no_path),
        ("4 with every job full-time", full),
        ("4 without exits to unemployment and fleksjob", no_exits),
    ]
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    lines = [
        "# How each correction of the ledger moved each deal",
        "",
        f"`python docs/ledger_corrections.py -n {args.n} --seed {args.seed}` (steps "
        "explained in its docstring). Columns: P(investor loss), the median municipal net "
        "and P(municipal net < 0), and the median public net, in mio. DKK. Steps 0-3 use "
        f"the deal files as they were before the corrections (commit {BEFORE}); step 4 the "
        "current ones, then with one rule taken out at a time (in the last row the "
        "transitions into unemployment and fleksjob are set to 0, their probability not "
        "given to other exits).",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        old_rules = Path(tmp) / "denmark_before.toml"
        old_rules.write_text(_git("simrisk/data/denmark.toml"), encoding="utf-8")
        new_rules = ROOT / "simrisk" / "data" / "denmark.toml"
        for name in DEALS:
            lines += [
                f"## {name}",
                "",
                "| step | P(inv. loss) | mun. net P50 | P(net < 0) | public net P50 |",
                "|---|---|---|---|---|",
            ]
            for label, raw in steps(name, old_rules, new_rules):
                f = _figures(raw, args.n, args.seed)
                lines.append(
                    f"| {label} | {100 * f['loss']:.1f} % | {f['net']:+.2f} | "
                    f"{100 * f['p_net']:.1f} % | {f['public']:+.2f} |"
                )
                print(name, label, f, flush=True)
            lines.append("")
    (ROOT / "docs" / "ledger_corrections.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
