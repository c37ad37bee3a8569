"""Shared fixtures: the included deals, small deals built in code, and a small TOML writer
(for deal files changed in a test)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
import tomllib
from pathlib import Path

import pytest

from simrisk.config import parse_deal

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def load_raw(name: str = "holbaek") -> dict:
    """An included deal as read from TOML, its file names (evidence, posterior) made
    absolute so that it parses from any folder."""
    with open(CONFIGS / f"{name}.toml", "rb") as fh:
        return absolute(tomllib.load(fh), CONFIGS)


def absolute(raw: dict, base: Path) -> dict:
    """``raw`` with the relative file names it holds resolved against ``base``."""
    raw = copy.deepcopy(raw)
    for use in raw.get("evidence", []):
        use["file"] = str(base / use["file"])
    unc = raw.get("uncertainty", {})
    if isinstance(unc.get("posterior"), str):
        unc["posterior"] = str(base / unc["posterior"])
    return raw


@pytest.fixture
def holbaek_raw() -> dict:
    return load_raw("holbaek")


@pytest.fixture(scope="session")
def holbaek():
    return parse_deal(load_raw("holbaek"), "holbaek.toml")


def simple_raw(
    *,
    size: int = 50,
    horizon: int = 60,
    transitions: list | None = None,
    phases: list | None = None,
    effect: dict | None = None,
    weeks_on_benefit: int = 0,
) -> dict:
    """A small deal: everyone enters in week 0 on kontanthjælp, constant probabilities."""
    raw = {
        "deal": {"name": "test", "start_date": "2024-01-01", "horizon_weeks": horizon},
        "cohort": {
            "size": size,
            "enrolment": {"schedule": "counts", "counts": [size], "period_weeks": 1},
            "segments": [
                {
                    "name": "all",
                    "benefit": "kontanthjaelp_30plus",
                    "share": 1.0,
                    "weeks_on_benefit": weeks_on_benefit,
                }
            ],
        },
        "programme": {
            "phases": phases
            or [{"name": "only", "weeks": 10, "cost_per_week": 100.0, "dropout": 0.0}]
        },
        "labour": {
            "transitions": transitions
            if transitions is not None
            else [
                {"from": "benefit", "to": "employed", "probability": 0.05},
                {"from": "benefit", "to": "moved", "probability": 0.01},
                {"from": "employed", "to": "benefit", "probability": 0.03},
                {"from": "employed", "to": "education", "probability": 0.02},
                {"from": "education", "to": "benefit", "probability": 0.04},
            ]
        },
        "effect": effect or {"job_entry": [1.0]},
        "economics": {"rules": "denmark", "permanent_benefit": "foertidspension"},
        "contract": {"mechanisms": [{"kind": "savings_share", "share": 0.5}]},
        "investor": {"capital": 1e6},
    }
    return raw


def simple_deal(**kw):
    raw = simple_raw(**kw)
    # start dates as TOML would give them
    raw = copy.deepcopy(raw)
    raw["deal"]["start_date"] = dt.date.fromisoformat(raw["deal"]["start_date"])
    return parse_deal(raw, "simple")


# ------------------------------------------------------------------ a tiny TOML writer
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        # JSON string escapes (\" \\ \n \t \uXXXX) are valid TOML basic-string escapes.
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(d: dict, prefix: list[str], out: list[str]) -> None:
    for k, v in d.items():
        if v is None:
            continue  # TOML has no null: a key left out
        if not isinstance(v, dict) and not _is_table_array(v):
            out.append(f"{_key(k)} = {_value(v)}")
    for k, v in d.items():
        name = ".".join(_key(p) for p in [*prefix, k])
        if isinstance(v, dict):
            out.append("")
            out.append(f"[{name}]")
            _table(v, [*prefix, k], out)
        elif _is_table_array(v):
            for item in v:
                out.append("")
                out.append(f"[[{name}]]")
                _table(item, [*prefix, k], out)


def dump_toml(data: dict) -> str:
    """``data`` as TOML text (``None`` values are left out)."""
    out: list[str] = []
    _table(data, [], out)
    return "\n".join(out).lstrip("\n") + "\n"


def write_toml(path: Path, data: dict) -> Path:
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


def copy_deal(src, dst) -> None:
    """Copy a deal file and the posterior it names (a deal needs its posterior to run; its
    evidence files only to calibrate and check)."""
    import shutil

    src, dst = Path(src), Path(dst)
    shutil.copy(src, dst)
    with open(src, "rb") as fh:
        post = tomllib.load(fh).get("uncertainty", {}).get("posterior")
    if isinstance(post, str):
        (dst.parent / post).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src.parent / post, dst.parent / post)
