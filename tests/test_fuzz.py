"""Mutated deal files: a clean rejection naming a field, or a run whose outputs are finite
and consistent (the mutator and the check are in tests/fuzz.py; ``python -m tests.fuzz``
runs a longer campaign)."""

from __future__ import annotations

import copy
import random

import pytest

from tests import fuzz

BATCHES = 8
PER_BATCH = 250


@pytest.mark.parametrize("batch", range(BATCHES))
def test_mutated_deals_are_rejected_cleanly_or_run_consistently(batch):
    counts = fuzz.campaign(PER_BATCH, seed=1000 + batch)
    assert sum(counts.values()) == PER_BATCH
    assert counts["rejected"] > 0 and counts["ran"] > 0  # both ways are exercised


def test_the_mutator_makes_every_kind_of_change():
    rng = random.Random(5)
    raw = fuzz.tomllib.loads(fuzz.DEALS[0].read_text(encoding="utf-8"))
    kinds = {fuzz.mutate(raw, rng)[1].split(" ")[0] for _ in range(500)}
    assert kinds == {
        "drop", "unknown", "type", "number", "probability", "array", "name", "date",
        "string", "nesting", "edge",
    }  # fmt: skip


def test_the_check_fails_on_what_it_guards():
    raw = fuzz.tomllib.loads(fuzz.DEALS[0].read_text(encoding="utf-8"))
    bad = copy.deepcopy(raw)
    bad["cohort"]["size"] = 0
    assert fuzz.check(bad, "size 0") == "rejected"
    assert fuzz.check(copy.deepcopy(raw), "as is") == "ran"
    assert fuzz.LINE.match("cohort.size: Input should be greater than 0")
    assert not fuzz.LINE.match("something went wrong")
