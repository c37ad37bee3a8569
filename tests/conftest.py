"""Shared fixtures: the included deals, and small deals built in code."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from simrisk.config import parse_deal

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def load_raw(name: str = "holbaek") -> dict:
    with open(CONFIGS / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


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
        "program": {
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
    import datetime as dt

    raw = copy.deepcopy(raw)
    raw["deal"]["start_date"] = dt.date.fromisoformat(raw["deal"]["start_date"])
    return parse_deal(raw, "simple")
