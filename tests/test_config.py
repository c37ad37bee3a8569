"""The deal file as data (simrisk.config): every section's rules, the cross-section
checks, the path grammar, the renamed [program] section, shared rules and the checks of
the uncertainty section.

Deals are the small deal of tests/conftest.py changed in one place; each bad value is
paired with one just inside the rule, so a rule that is too loose or too strict fails.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import tomllib
from pathlib import Path

import pytest

from simrisk.config import (
    ConfigError,
    DealConfig,
    Strict,
    check_uncertainty,
    expand,
    get_path,
    is_real,
    load_deal,
    load_model,
    parse_deal,
    parse_path,
    path_text,
    rejection,
    scenario_independent,
    set_path,
    validate,
)
from simrisk.config.errors import format_loc
from simrisk.config.load import load_rules
from simrisk.sampling import Sampler
from tests.conftest import CONFIGS, ROOT, load_raw, simple_raw, write_toml

D = dt.date


def deal_raw(**kw) -> dict:
    raw = simple_raw(**kw)
    raw["deal"]["start_date"] = D(2024, 1, 1)
    return raw


def edited(edit) -> dict:
    raw = deal_raw()
    edit(raw)
    return raw


def problems_of(edit) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_deal(edited(edit), "t.toml")
    return err.value.problems


def accepts(edit) -> DealConfig:
    return parse_deal(edited(edit), "t.toml")


def put(*path, value):
    """An edit that sets ``raw[path] = value``."""

    def edit(raw):
        node = raw
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value

    return edit


def extend(*path, item):
    def edit(raw):
        node = raw
        for p in path:
            node = node[p]
        node.append(copy.deepcopy(item))

    return edit


def both(*edits):
    def edit(raw):
        for e in edits:
            e(raw)

    return edit


def benefit(**kw) -> dict:
    b = {"unit": "week", "rates": [{"from": D(2024, 1, 1), "value": 100.0}]}
    b.update(kw)
    return b


def unc(*records, method="mc"):
    return put("uncertainty", value={"method": method, "parameters": list(records)})


TRANSITION = {"from": "benefit", "to": "education", "probability": 0.01}
SHOCK = {"start": D(2024, 5, 1), "end": D(2024, 6, 1), "job_entry_multiplier": 0.5}
TARGET = {"kind": "target", "outcome": "employed", "at_week": 20, "threshold": 0.3, "payment": 1.0}

# ------------------------------------------------------------ every section's own rules
# (id, bad edit, field the one problem line names, words on that line, a good edit just
# inside the same rule)
SECTION_RULES = [
    # [deal]
    ("deal-name-empty", put("deal", "name", value=""), "deal.name", "at least 1 character",
     put("deal", "name", value="x")),
    ("horizon-zero", put("deal", "horizon_weeks", value=0), "deal.horizon_weeks",
     "greater than 0", None),
    ("horizon-too-long", put("deal", "horizon_weeks", value=2601), "deal.horizon_weeks",
     "less than or equal to 2600", put("deal", "horizon_weeks", value=2600)),
    ("start-date-missing", lambda r: r["deal"].pop("start_date"), "deal.start_date",
     "Field required", None),
    ("start-date-a-string", put("deal", "start_date", value="2024-01-01"), "deal.start_date",
     "2024-01-01", None),
    # [cohort]
    ("size-zero", put("cohort", "size", value=0), "cohort.size", "greater than 0", None),
    ("size-too-large", put("cohort", "size", value=100_001), "cohort.size",
     "less than or equal to 100000", None),
    ("size-a-float", put("cohort", "size", value=50.0), "cohort.size", "valid integer", None),
    ("size-a-bool", put("cohort", "size", value=True), "cohort.size", "valid integer", None),
    ("uptake-above-one", put("cohort", "uptake", value=1.01), "cohort.uptake",
     "less than or equal to 1", put("cohort", "uptake", value=1.0)),
    ("frailty-negative", put("cohort", "frailty_variance", value=-0.1),
     "cohort.frailty_variance", "greater than or equal to 0",
     put("cohort", "frailty_variance", value=0.0)),
    ("uniform-needs-weeks",
     put("cohort", "enrolment", value={"schedule": "uniform"}), "cohort.enrolment",
     "needs 'weeks'", put("cohort", "enrolment", value={"schedule": "uniform", "weeks": 5})),
    ("counts-needs-counts",
     put("cohort", "enrolment", value={"schedule": "counts", "counts": []}),
     "cohort.enrolment", "non-empty 'counts'", None),
    ("counts-sum", put("cohort", "enrolment", "counts", value=[20, 20]),
     "cohort.enrolment.counts", "they sum to 40, not the cohort size 50",
     put("cohort", "enrolment", "counts", value=[20, 30])),
    ("period-zero", put("cohort", "enrolment", "period_weeks", value=0),
     "cohort.enrolment.period_weeks", "greater than 0", None),
    ("negative-delay", put("cohort", "enrolment", "delay_weeks", value=-1.0),
     "cohort.enrolment.delay_weeks", "greater than or equal to 0", None),
    ("no-segments", put("cohort", "segments", value=[]), "cohort.segments",
     "at least 1 item", None),
    ("shares", put("cohort", "segments", 0, "share", value=0.9), "cohort.segments",
     "the shares must sum to 1 (they sum to 0.9)", None),
    ("segment-names", extend("cohort", "segments", item={
        "name": "all", "benefit": "kontanthjaelp_30plus", "share": 0.0}),
     "cohort.segments", "names must be unique", extend("cohort", "segments", item={
        "name": "other", "benefit": "kontanthjaelp_30plus", "share": 0.0})),
    ("segment-hazard-ratio", put("cohort", "segments", 0, "job_hazard_ratio", value=0.0),
     "cohort.segments[0].job_hazard_ratio", "greater than 0", None),
    ("segment-weeks-negative", put("cohort", "segments", 0, "weeks_on_benefit", value=-1),
     "cohort.segments[0].weeks_on_benefit", "greater than or equal to 0", None),
    # [programme]
    ("no-phases", put("programme", "phases", value=[]), "programme.phases",
     "at least 1 item", None),
    ("thirteen-phases", put("programme", "phases", value=[
        {"name": f"p{i}", "weeks": 1, "cost_per_week": 1.0} for i in range(13)]),
     "programme.phases", "at most 12 items", both(put("programme", "phases", value=[
        {"name": f"p{i}", "weeks": 1, "cost_per_week": 1.0} for i in range(12)]),
        put("effect", "job_entry", value=[1.0] * 12))),
    ("phase-weeks-zero", put("programme", "phases", 0, "weeks", value=0),
     "programme.phases[0].weeks", "greater than 0", None),
    ("dropout-above-one", put("programme", "phases", 0, "dropout", value=1.5),
     "programme.phases[0].dropout", "less than or equal to 1", None),
    ("negative-cost", put("programme", "phases", 0, "cost_per_week", value=-1.0),
     "programme.phases[0].cost_per_week", "greater than or equal to 0", None),
    ("negative-setup", put("programme", "setup_cost", value=-1.0), "programme.setup_cost",
     "greater than or equal to 0", None),
    # [labour]
    ("self-transition", extend("labour", "transitions", item={
        "from": "benefit", "to": "benefit", "probability": 0.1}),
     "labour.transitions[5]", "from 'benefit' to itself", None),
    ("out-of-absorbing", extend("labour", "transitions", item={
        "from": "moved", "to": "benefit", "probability": 0.1}),
     "labour.transitions[5]", "'moved' is absorbing", None),
    ("unknown-state", extend("labour", "transitions", item={
        "from": "benefit", "to": "retired", "probability": 0.1}),
     "labour.transitions[5].to", "'retired'", None),
    ("twice", extend("labour", "transitions", item={
        "from": "benefit", "to": "employed", "probability": 0.1}),
     "labour", "benefit -> employed is given twice",
     extend("labour", "transitions", item=TRANSITION)),
    ("pieces-need-weeks", put("labour", "transitions", 0, "probability", value=[0.1, 0.2]),
     "labour.transitions[0]", "several probabilities need 'from_week'",
     both(put("labour", "transitions", 0, "probability", value=[0.1, 0.2]),
          put("labour", "transitions", 0, "from_week", value=[0, 5]))),
    ("pieces-count", both(put("labour", "transitions", 0, "probability", value=[0.1, 0.2]),
                          put("labour", "transitions", 0, "from_week", value=[0])),
     "labour.transitions[0]", "'from_week' has 1 entries but 'probability' has 2", None),
    ("pieces-start-at-0", both(put("labour", "transitions", 0, "probability", value=[0.1, 0.2]),
                               put("labour", "transitions", 0, "from_week", value=[1, 5])),
     "labour.transitions[0]", "must start at 0 and increase", None),
    ("pieces-increase", both(put("labour", "transitions", 0, "probability", value=[0.1, 0.2]),
                             put("labour", "transitions", 0, "from_week", value=[0, 0])),
     "labour.transitions[0]", "must start at 0 and increase", None),
    ("piece-probability", both(put("labour", "transitions", 0, "probability", value=[0.1, 1.2]),
                               put("labour", "transitions", 0, "from_week", value=[0, 5])),
     "labour.transitions[0].probability[1]", "less than or equal to 1", None),
    ("multiplier-zero", put("labour", "job_entry_multiplier", value=0.0),
     "labour.job_entry_multiplier", "greater than 0", None),
    ("shock-order", put("labour", "calendar", value=[dict(SHOCK, end=D(2024, 5, 1))]),
     "labour.calendar[0]", "'end' must be after 'start'",
     put("labour", "calendar", value=[dict(SHOCK, end=D(2024, 5, 2))])),
    # [effect]
    ("no-hazard-ratios", put("effect", "job_entry", value=[]), "effect.job_entry",
     "at least 1 item", None),
    ("hazard-ratio-zero", put("effect", "job_entry", value=[0.0]), "effect.job_entry[0]",
     "greater than 0", None),
    ("persistence", put("effect", "persistence", value=1.1), "effect.persistence",
     "less than or equal to 1", put("effect", "persistence", value=1.0)),
    ("fade-block", put("effect", "fade_block_weeks", value=0), "effect.fade_block_weeks",
     "greater than 0", None),
    # [economics]
    ("benefit-unit", put("economics", "benefits", value={"x": benefit(unit="day")}),
     "economics.benefits.x.unit", "'week', 'month' or 'year'", None),
    ("rates-order", put("economics", "benefits", value={"x": benefit(rates=[
        {"from": D(2024, 1, 1), "value": 1.0}, {"from": D(2024, 1, 1), "value": 2.0}])}),
     "economics.benefits.x", "increasing order of 'from' date", None),
    ("no-rates", put("economics", "benefits", value={"x": benefit(rates=[])}),
     "economics.benefits.x.rates", "at least 1 item", None),
    ("negative-rate", put("economics", "benefits", value={"x": benefit(rates=[
        {"from": D(2024, 1, 1), "value": -1.0}])}),
     "economics.benefits.x.rates[0].value", "greater than or equal to 0", None),
    ("indexation", put("economics", "benefits", value={"x": benefit(indexation=0.6)}),
     "economics.benefits.x.indexation", "less than or equal to 0.5",
     put("economics", "benefits", value={"x": benefit(indexation=0.5)})),
    ("self-support-on-staircase", put("economics", "benefits", value={
        "x": benefit(self_support=True)}),
     "economics.benefits.x.self_support", "not self-support (set on_staircase = false)",
     put("economics", "benefits", value={"x": benefit(self_support=True, on_staircase=False)})),
    ("refusion-word", put("economics", "benefits", value={"x": benefit(refusion="flat")}),
     "economics.benefits.x.refusion", "'staircase'",
     put("economics", "benefits", value={"x": benefit(refusion=0.3)})),
    ("refusion-share", put("economics", "benefits", value={"x": benefit(refusion=1.5)}),
     "economics.benefits.x.refusion", "less than or equal to 1", None),
    ("steps-start-at-1", put("economics", "refusion", value={
        "steps": [{"from_week": 2, "state_share": 0.5}]}),
     "economics.refusion", "must start at week 1 and increase",
     put("economics", "refusion", value={"steps": [{"from_week": 1, "state_share": 0.5}]})),
    ("steps-increase", put("economics", "refusion", value={"steps": [
        {"from_week": 1, "state_share": 0.5}, {"from_week": 1, "state_share": 0.2}]}),
     "economics.refusion", "must start at week 1 and increase", None),
    ("no-staircase", put("economics", "rules", value=None), "economics",
     "a refusion staircase is needed", None),
    ("perspective", put("economics", "perspective", value="state"), "economics.perspective",
     "'central_government'", put("economics", "perspective", value="central_government")),
    # [contract]
    ("no-mechanisms", put("contract", "mechanisms", value=[]), "contract.mechanisms",
     "at least 1 item", None),
    ("unknown-mechanism", put("contract", "mechanisms", value=[{"kind": "bonus"}]),
     "contract.mechanisms[0]", "'bonus'", None),
    ("share-above-one", put("contract", "mechanisms", 0, "share", value=1.2),
     "contract.mechanisms[0].share", "less than or equal to 1", None),
    ("window-length", put("contract", "mechanisms", 0, "window", value=[1]),
     "contract.mechanisms[0].window", "at least 2 items",
     put("contract", "mechanisms", 0, "window", value=[0, 30])),
    ("no-tariffs", put("contract", "mechanisms", value=[{"kind": "rate_card", "tariffs": {}}]),
     "contract.mechanisms[0].tariffs", "at least 1 item", None),
    ("unknown-event", put("contract", "mechanisms", value=[
        {"kind": "rate_card", "tariffs": {"happiness": 1.0}}]),
     "contract.mechanisms[0].tariffs.happiness", "'job_entry'",
     put("contract", "mechanisms", value=[{"kind": "rate_card",
                                           "tariffs": {"sustained_26": 1.0}}])),
    ("target-week", put("contract", "mechanisms", value=[dict(TARGET, at_week=0)]),
     "contract.mechanisms[0].at_week", "greater than 0", None),
    ("target-full", put("contract", "mechanisms", value=[dict(TARGET, full=0.3)]),
     "contract.mechanisms[0]", "'full' must be above 'threshold'",
     put("contract", "mechanisms", value=[dict(TARGET, full=0.31)])),
    ("target-outcome", put("contract", "mechanisms", value=[dict(TARGET, outcome="rich")]),
     "contract.mechanisms[0].outcome", "'self_supporting'", None),
    ("control-size-needed", put("contract", "measurement", value="control_group"), "contract",
     "needs 'control_size'", both(put("contract", "measurement", value="control_group"),
                                  put("contract", "control_size", value=10))),
    ("settlement", put("contract", "settlement", value="week"), "contract.settlement",
     "'month', 'quarter' or 'year'", put("contract", "settlement", value="year")),
    ("negative-cap", put("contract", "cap", value=-1.0), "contract.cap",
     "greater than or equal to 0", put("contract", "cap", value=0.0)),
    # [investor]
    ("capital-zero", put("investor", "capital", value=0.0), "investor.capital",
     "greater than 0", None),
    ("capital-nan", put("investor", "capital", value=math.nan), "investor.capital",
     "finite number", None),
    ("capital-inf", put("investor", "capital", value=math.inf), "investor.capital",
     "finite number", None),
    ("capital-a-string", put("investor", "capital", value="1e6"), "investor.capital",
     "valid number", None),
    ("discount-low", put("investor", "discount_rate", value=-0.5), "investor.discount_rate",
     "greater than -0.5", put("investor", "discount_rate", value=-0.49)),
    ("discount-high", put("investor", "discount_rate", value=1.01), "investor.discount_rate",
     "less than or equal to 1", put("investor", "discount_rate", value=1.0)),
    # [uncertainty]
    ("method", put("uncertainty", value={"method": "qmc"}), "uncertainty.method",
     "'mc', 'lhs' or 'sobol'", put("uncertainty", value={"method": "lhs"})),
    ("uniform-order", unc({"path": "cohort.uptake", "distribution": "uniform", "low": 0.9,
                           "high": 0.9}),
     "uncertainty.parameters[0]", "'high' must be above 'low'", None),
    ("triangular-mode", unc({"path": "cohort.uptake", "distribution": "triangular", "low": 0.5,
                             "mode": 0.95, "high": 0.9}),
     "uncertainty.parameters[0]", "low <= mode <= high", unc(
         {"path": "cohort.uptake", "distribution": "triangular", "low": 0.5, "mode": 0.9,
          "high": 0.9})),
    ("normal-order", unc({"path": "cohort.uptake", "distribution": "normal", "mean": 0.5,
                          "sd": 0.1, "low": 0.6, "high": 0.6}),
     "uncertainty.parameters[0]", "'high' must be above 'low'", unc(
         {"path": "cohort.uptake", "distribution": "normal", "mean": 0.5, "sd": 0.1,
          "low": 0.6, "high": 0.7})),
    ("beta-order", unc({"path": "cohort.uptake", "distribution": "beta", "alpha": 2,
                        "beta": 2, "low": 0.7, "high": 0.7}),
     "uncertainty.parameters[0]", "'high' must be above 'low'", unc(
         {"path": "cohort.uptake", "distribution": "beta", "alpha": 2, "beta": 2,
          "low": 0.7, "high": 0.9})),
    ("normal-sd", unc({"path": "cohort.uptake", "distribution": "normal", "mean": 0.5,
                       "sd": 0.0}),
     "uncertainty.parameters[0].sd", "greater than 0", None),
    ("lognormal-median", unc({"path": "cohort.uptake", "distribution": "lognormal",
                              "median": 0.0, "sigma": 0.1}),
     "uncertainty.parameters[0].median", "greater than 0", None),
    ("beta-alpha", unc({"path": "cohort.uptake", "distribution": "beta", "alpha": 0.0,
                        "beta": 1.0}),
     "uncertainty.parameters[0].alpha", "greater than 0", None),
    ("gamma-scale", unc({"path": "cohort.uptake", "distribution": "gamma", "shape": 1.0,
                         "scale": -1.0}),
     "uncertainty.parameters[0].scale", "greater than 0", None),
    ("unknown-distribution", unc({"path": "cohort.uptake", "distribution": "poisson"}),
     "uncertainty.parameters[0]", "'poisson'", None),
    ("distribution-extra-key", unc({"path": "cohort.uptake", "distribution": "fixed",
                                    "value": 0.5, "mean": 0.5}),
     "uncertainty.parameters[0].mean", "unknown key", None),
    # [[stress]]
    ("stress-empty", put("stress", value=[{"name": "x"}]), "stress[0]",
     "needs 'changes' or 'calendar'", put("stress", value=[{"name": "x", "calendar": [SHOCK]}])),
    ("stress-no-op", put("stress", value=[{"name": "x", "changes": [{"path": "cohort.uptake"}]}]),
     "stress[0].changes[0]", "exactly one of 'set', 'scale', 'add', 'excess'", None),
    ("stress-two-ops", put("stress", value=[{"name": "x", "changes": [
        {"path": "cohort.uptake", "set": 1.0, "add": 0.1}]}]),
     "stress[0].changes[0]", "exactly one of", put("stress", value=[{"name": "x", "changes": [
         {"path": "cohort.uptake", "excess": 0.5}]}])),
    # capital
    ("cap-and-share", lambda r: r["contract"].update(cap=1e6, cap_share=1.3), "contract",
     "'cap' (DKK) or 'cap_share'", lambda r: (r["contract"].pop("cap", None),
                                               r["contract"].update(cap_share=1.3))),
    ("overrun-unknown", put("investor", "overrun", value="municipality"), "investor.overrun",
     "'top_up', 'provider' or 'fewer_citizens'", put("investor", "overrun", value="provider")),
    ("top-up-fee-negative", put("investor", "top_up_fee", value=-0.1), "investor.top_up_fee",
     "greater than or equal to 0", put("investor", "top_up_fee", value=0.05)),
    # anywhere
    ("unknown-section", put("extra", value={"a": 1}), "extra", "unknown key", None),
    ("unknown-key", put("cohort", "sizee", value=3), "cohort.sizee", "unknown key", None),
    ("missing-section", lambda r: r.pop("investor"), "investor", "Field required", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "edit", "field", "words", "good"), SECTION_RULES, ids=[c[0] for c in SECTION_RULES]
)
def test_each_rule_gives_one_line_naming_the_field(name, edit, field, words, good):
    lines = problems_of(edit)
    assert len(lines) == 1, lines
    head, _, message = lines[0].partition(": ")
    assert head == field, lines
    assert words in message, lines
    if good is not None:
        accepts(good)


OVER_CAPITAL = {"aarhus_din_vej_i_job", "aarhus_ips_plus", "drc_herning_viborg"}
"""Included deals whose expected programme cost exceeds the capital (their files say so)."""


def test_the_small_deal_and_every_included_deal_load_without_warnings():
    """No warning but the capital's where the expected cost exceeds it; every included
    deal says what happens then."""
    assert accepts(lambda r: None).warnings == []
    for path in sorted(CONFIGS.glob("*.toml")):
        cfg, text = load_deal(path)
        expected = 1 if path.stem in OVER_CAPITAL else 0
        assert len(cfg.warnings) == expected, (path, cfg.warnings)
        assert all(w.startswith("investor.capital: the expected programme") for w in cfg.warnings)
        assert text == path.read_text(encoding="utf-8")
        assert "overrun" in tomllib.loads(text)["investor"], path


def test_a_planned_cost_beyond_the_capital_is_a_warning():
    """Set-up and the average course for every planned citizen who enrols, at the file's
    values, against the capital: beyond it, one warning naming the field and what the
    deal's overrun rule then does; within it, none."""
    cfg = accepts(lambda r: None)
    course = cfg.expected_course_cost
    assert course == cfg.course_cost  # no dropout in the small deal
    dropping = accepts(put("programme", "phases", 0, "dropout", value=0.1))
    # 0.1 a week over the phase's weeks: (1 - 0.9^w) / 0.1 weeks on average
    w = cfg.programme.phases[0].weeks
    assert dropping.expected_course_cost == pytest.approx(
        cfg.course_cost - cfg.programme.phases[0].cost_per_week * (w - (1 - 0.9**w) / 0.1)
    )
    planned = cfg.programme.setup_cost + cfg.cohort.size * cfg.cohort.uptake * course
    for overrun, words in [
        ("top_up", "the investor pays what goes beyond it"),
        ("provider", "the provider bears what goes beyond it"),
        ("fewer_citizens", "the programme takes fewer citizens"),
    ]:
        low = accepts(put("investor", value={"capital": 0.9 * planned, "overrun": overrun}))
        (w,) = low.warnings
        assert w.startswith("investor.capital: the expected programme cost") and words in w
    assert accepts(put("investor", "capital", value=planned)).warnings == []


def test_fewer_citizens_needs_a_capital_that_holds_the_set_up():
    """With overrun = 'fewer_citizens' enrolment stops before the capital runs out; a
    capital below the set-up cost leaves nothing to stop, and is refused (at the set-up
    cost exactly, nobody is enrolled, with a warning); the other overruns accept it."""

    setup = 100_000.0

    def at(capital, overrun="fewer_citizens"):
        return both(
            put("programme", "setup_cost", value=setup),
            put("investor", value={"capital": capital, "overrun": overrun}),
        )

    assert problems_of(at(setup - 1)) == [
        f"investor.capital: the capital, {setup - 1:,.0f} DKK, is below programme.setup_cost "
        f"({setup:,.0f} DKK): with investor.overrun = 'fewer_citizens' not even the set-up "
        "fits in it (raise the capital, or choose 'top_up' or 'provider')"
    ]
    (w,) = accepts(at(setup)).warnings
    assert "the programme takes fewer citizens" in w
    for overrun in ("top_up", "provider"):
        assert accepts(at(setup - 1, overrun)).investor.capital == setup - 1

    # both uncertain: each end passes against the other's value, but together the
    # highest set-up cost does not fit in the lowest capital
    def uncertain(capital_low, overrun="fewer_citizens"):
        def edit(raw):
            at(2 * setup, overrun)(raw)
            raw["uncertainty"] = {"parameters": [
                {"path": "investor.capital", "distribution": "uniform", "low": capital_low,
                 "high": 3 * setup, "source": "test"},
                {"path": "programme.setup_cost", "distribution": "uniform", "low": 0.5 * setup,
                 "high": 1.5 * setup, "source": "test"},
            ]}  # fmt: skip

        return edit

    assert problems_of(uncertain(1.2 * setup)) == [
        "uncertainty.parameters[0], uncertainty.parameters[1]: the capital can be as low as "
        f"{1.2 * setup:,.0f} DKK and programme.setup_cost as high as {1.5 * setup:,.0f} DKK; "
        "with investor.overrun = 'fewer_citizens' the set-up must fit in the capital in "
        "every scenario (narrow the distributions, or choose 'top_up' or 'provider')"
    ]
    assert accepts(uncertain(1.5 * setup)).investor.overrun == "fewer_citizens"
    assert accepts(uncertain(1.2 * setup, "top_up")).investor.overrun == "top_up"


def test_a_dumped_deal_loads_back_the_same():
    cfg, _ = load_deal(CONFIGS / "holbaek.toml")
    again = parse_deal(cfg.model_dump(by_alias=True), "again", CONFIGS)
    assert again == cfg


def test_every_problem_of_a_deal_at_once():
    lines = problems_of(
        both(
            put("programme", "phases", 0, "dropout", value=1.5),
            put("contract", "cap", value=-1.0),
            put("cohort", "sizee", value=3),
            put("investor", "capital", value="lots"),
        )
    )
    heads = sorted(line.split(": ")[0] for line in lines)
    assert heads == sorted(
        ["programme.phases[0].dropout", "contract.cap", "cohort.sizee", "investor.capital"]
    )


def test_derived_properties_of_the_sections():
    cfg = accepts(
        both(
            put("cohort", "enrolment", value={"schedule": "counts", "counts": [20, 30, 0],
                                              "period_weeks": 3}),
            put("programme", "phases", value=[
                {"name": "a", "weeks": 4, "cost_per_week": 1.0},
                {"name": "b", "weeks": 7, "cost_per_week": 1.0}]),
            put("effect", "job_entry", value=[1.0, 1.5]),
            put("labour", "transitions", 0, "probability", value=[0.1, 0.2]),
            put("labour", "transitions", 0, "from_week", value=[0, 5]),
            put("stress", value=[{"name": "x", "changes": [{"path": "a", "excess": 0.5}]}]),
        )
    )  # fmt: skip
    assert cfg.cohort.enrolment.last_week == 9  # 3 periods of 3 weeks
    assert cfg.programme.total_weeks == 11
    t0, t1 = cfg.labour.transitions[:2]
    assert (t0.probabilities, t0.piece_starts, t0.single) == ([0.1, 0.2], [0, 5], False)
    assert (t1.probabilities, t1.piece_starts, t1.single) == ([0.01], [0], True)
    assert cfg.stress[0].changes[0].op == ("excess", 0.5)
    uniform = accepts(put("cohort", "enrolment", value={"schedule": "uniform", "weeks": 7}))
    assert uniform.cohort.enrolment.last_week == 7


# ------------------------------------------------------------------ cross-section checks
def _permanent(raw):
    raw["labour"]["transitions"].append({"from": "benefit", "to": "permanent",
                                          "probability": 0.01})  # fmt: skip


CROSS = [
    ("phases-reach-horizon", put("deal", "horizon_weeks", value=10), "programme.phases",
     "the phases last 10 weeks, not less than deal.horizon_weeks (10)",
     put("deal", "horizon_weeks", value=11)),
    ("hazard-ratios-count", put("effect", "job_entry", value=[1.0, 1.2]), "effect.job_entry",
     "2 hazard ratios for 1 programme phases", None),
    ("education-hazard-ratios", put("effect", "education_entry", value=[1.0, 1.2]),
     "effect.education_entry", "2 hazard ratios for 1", put("effect", "education_entry",
                                                              value=[1.2])),
    ("job-loss-hazard-ratios", put("effect", "job_loss", value=[]), "effect.job_loss",
     "0 hazard ratios for 1", put("effect", "job_loss", value=[0.8])),
    ("segment-benefit", put("cohort", "segments", 0, "benefit", value="dagpenge_x"),
     "cohort.segments[0].benefit", "no rates for benefit 'dagpenge_x'",
     both(put("cohort", "segments", 0, "benefit", value="dagpenge_x"),
          put("economics", "benefits", value={"dagpenge_x": benefit()}))),
    ("permanent-needs-a-benefit", both(_permanent, put("economics", "permanent_benefit",
                                                        value=None)),
     "economics.permanent_benefit", "transitions into 'permanent' need", _permanent),
    ("permanent-benefit-unknown", put("economics", "permanent_benefit", value="pension_x"),
     "economics.permanent_benefit", "no rates for benefit 'pension_x'", None),
    ("enrolment-beyond-horizon", put("cohort", "enrolment", "period_weeks", value=60),
     "cohort.enrolment", "enrolment runs to week 60, beyond deal.horizon_weeks (60)",
     put("cohort", "enrolment", "period_weeks", value=59)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "edit", "field", "words", "good"), CROSS,
                         ids=[c[0] for c in CROSS])  # fmt: skip
def test_cross_section_checks(name, edit, field, words, good):
    lines = problems_of(edit)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{field}: ") and words in lines[0], lines
    if good is not None:
        accepts(good)


def test_cross_section_checks_report_every_problem():
    lines = problems_of(
        both(
            put("deal", "horizon_weeks", value=1),  # phases and enrolment too long
            put("cohort", "segments", 0, "benefit", value="dagpenge_x"),
            put("effect", "job_loss", value=[1.0, 1.0]),
        )
    )
    heads = sorted(line.split(": ")[0] for line in lines)
    assert heads == sorted(
        ["programme.phases", "cohort.enrolment", "cohort.segments[0].benefit", "effect.job_loss"]
    )


def test_known_benefits_are_listed_when_one_is_missing():
    (line,) = problems_of(
        both(
            put("economics", "rules", value=None),
            put("economics", "refusion", value={"steps": [{"from_week": 1, "state_share": 0.5}]}),
            put("economics", "permanent_benefit", value=None),
            put("economics", "benefits", value={"b": benefit(), "a": benefit()}),
        )
    )
    assert line.endswith("(known: a, b)"), line


# ------------------------------------------------------------------------- path grammar
@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("effect.job_entry[2]", ("effect", "job_entry", 2)),
        ("cohort.uptake", ("cohort", "uptake")),
        ("economics.benefits.sygedagpenge.indexation",
         ("economics", "benefits", "sygedagpenge", "indexation")),
        ("labour.transitions[0].probability[12]", ("labour", "transitions", 0, "probability", 12)),
        ("a[1][2].b", ("a", 1, 2, "b")),
    ],
)  # fmt: skip
def test_parse_path_and_path_text_are_inverse(text, parts):
    assert parse_path(text) == parts
    assert path_text(parts) == text
    assert parse_path(path_text(parts)) == parts


@pytest.mark.parametrize(
    "text", ["", "a..b", ".a", "a.", "a[x]", "a[-1]", "a[]", "a[*]", "a[1", "a]b", "a[1]x",
             "a[1]2]", "a[٣]"]
)  # fmt: skip
def test_malformed_paths_are_refused(text):
    with pytest.raises(ValueError):
        parse_path(text)


def test_old_section_name_in_a_path_means_programme():
    assert parse_path("program.phases[1].dropout") == ("programme", "phases", 1, "dropout")
    # only as the first component
    assert parse_path("a.program") == ("a", "program")


DUMPED = {
    "programme": {"phases": [{"dropout": 0.1, "weeks": 3}, {"dropout": 0.2, "weeks": 4}]},
    "economics": {"benefits": {"x": {"indexation": 0.02}, "y": {"indexation": 0.0}}},
    "effect": {"job_entry": [1.0, 2.0], "job_loss": None},
    "deal": {"name": "n"},
}


def test_get_and_set_path():
    assert get_path(DUMPED, ("programme", "phases", 1, "dropout")) == 0.2
    assert get_path(DUMPED, ("economics", "benefits", "y")) == {"indexation": 0.0}
    for missing in (
        ("programme", "phases", 2, "dropout"),  # index out of range
        ("programme", "phase"),
        ("effect", 0),  # an index into a table
        ("programme", "phases", "x"),  # a key into a list
        ("deal", "name", "first"),  # below a leaf
    ):
        with pytest.raises(KeyError):
            get_path(DUMPED, missing)
    data = copy.deepcopy(DUMPED)
    set_path(data, ("effect", "job_entry", 1), 3.5)
    assert data["effect"]["job_entry"] == [1.0, 3.5]
    assert DUMPED["effect"]["job_entry"] == [1.0, 2.0]


def test_is_real_only_for_float_leaves():
    assert is_real(DUMPED, ("programme", "phases", 0, "dropout"))
    assert is_real(DUMPED, ("effect", "job_entry", 1))
    assert not is_real(DUMPED, ("programme", "phases", 0, "weeks"))  # int
    assert not is_real(DUMPED, ("deal", "name"))
    assert not is_real(DUMPED, ("effect", "job_loss"))  # None
    assert not is_real(DUMPED, ("effect", "job_entry"))  # a list
    assert not is_real(DUMPED, ("effect", "job_entry", 2))  # out of range


def test_expand_with_wildcards():
    assert expand("programme.phases[*].dropout", DUMPED) == [
        ("programme", "phases", 0, "dropout"),
        ("programme", "phases", 1, "dropout"),
    ]
    assert expand("program.phases[*].dropout", DUMPED) == expand(
        "programme.phases[*].dropout", DUMPED
    )
    assert expand("economics.benefits[*].indexation", DUMPED) == [
        ("economics", "benefits", "x", "indexation"),
        ("economics", "benefits", "y", "indexation"),
    ]
    assert expand("effect.job_entry[*]", DUMPED) == [("effect", "job_entry", 0),
                                                      ("effect", "job_entry", 1)]  # fmt: skip
    assert expand("effect.job_loss[*]", DUMPED) == []  # unset
    assert expand("effect.job_entry[5]", DUMPED) == []
    assert expand("effect.nothing", DUMPED) == []
    assert expand("effect.job_entry[1]", DUMPED) == [("effect", "job_entry", 1)]
    assert expand("deal.name[*]", DUMPED) == []  # a wildcard below a leaf matches nothing
    with pytest.raises(ValueError, match="bad path 'effect..x'"):
        expand("effect..x", DUMPED)


def test_scenario_independent_leaves():
    assert "calendar shocks" in scenario_independent(("labour", "calendar", 0, "x"))
    assert "cannot itself be varied" in scenario_independent(("uncertainty", "parameters", 0))
    assert "cannot itself be varied" in scenario_independent(("stress", 0))
    assert scenario_independent(("labour", "job_entry_multiplier")) == ""


def test_format_loc_drops_union_tags():
    assert format_loc(("contract", "mechanisms", 0, "savings_share", "share")) == (
        "contract.mechanisms[0].share"
    )
    assert format_loc(("labour", "transitions", 0, "probability", "list[float]", 1)) == (
        "labour.transitions[0].probability[1]"
    )
    assert format_loc(("a", "function-after[_x(), B]", "b")) == "a.b"


# ------------------------------------------------------- the old section name [program]
def test_program_section_is_accepted_with_a_warning(tmp_path):
    raw = deal_raw()
    raw["program"] = raw.pop("programme")
    cfg = parse_deal(copy.deepcopy(raw), "old.toml")
    assert cfg.programme == accepts(lambda r: None).programme
    (warning,) = cfg.warnings
    assert warning.startswith("program: ") and "[programme]" in warning
    # and from a file
    path = write_toml(tmp_path / "old.toml", raw)
    assert "[program]" in path.read_text()
    cfg, _ = load_deal(path)
    assert len(cfg.warnings) == 1 and "[programme]" in cfg.warnings[0]


def test_old_and_new_section_together_is_an_error():
    def edit(raw):
        raw["program"] = copy.deepcopy(raw["programme"])

    assert problems_of(edit) == ["program: unknown key"]


def test_errors_in_an_old_section_name_the_new_one():
    def edit(raw):
        raw["program"] = raw.pop("programme")
        raw["program"]["phases"][0]["dropout"] = 1.5

    (line,) = problems_of(edit)
    assert line.startswith("programme.phases[0].dropout: ")


def test_old_paths_in_the_uncertainty_section_mean_programme():
    record = {"path": "program.phases[0].dropout", "distribution": "uniform", "low": 0.0,
              "high": 0.1}  # fmt: skip
    cfg = accepts(unc(record))
    sampler = Sampler(cfg, 1, 4)
    assert sampler.paths == [("programme", "phases", 0, "dropout")]
    # the same leaf under both names is one leaf given twice
    (line,) = problems_of(unc(record, dict(record, path="programme.phases[0].dropout")))
    assert line.startswith("uncertainty.parameters[1].path: ") and "twice" in line
    # the range check reaches the leaf through the old name
    (line,) = problems_of(unc(dict(record, high=1.5)))
    assert "program.phases[0].dropout does not accept" in line


# ------------------------------------------------------------------------ shared rules
def test_rules_are_merged_from_the_package_data():
    shared = load_rules("denmark")
    with open(ROOT / "simrisk" / "data" / "denmark.toml", "rb") as fh:
        assert shared == tomllib.load(fh)
    cfg = accepts(lambda r: None)
    assert sorted(cfg.economics.benefits) == sorted(shared["benefits"])
    kh = cfg.economics.benefits["kontanthjaelp_30plus"]
    assert kh.unit == shared["benefits"]["kontanthjaelp_30plus"]["unit"]
    assert [r.value for r in kh.rates] == [
        r["value"] for r in shared["benefits"]["kontanthjaelp_30plus"]["rates"]
    ]
    steps = [(s.from_week, s.state_share) for s in cfg.economics.refusion.steps]
    assert steps == [(s["from_week"], s["state_share"]) for s in shared["refusion"]["steps"]]
    assert cfg.economics.refusion.reset_weeks == shared["refusion"]["reset_weeks"]


def test_a_deal_s_own_benefits_and_refusion_win_over_the_rules():
    own = benefit(unit="month", rates=[{"from": D(2020, 1, 1), "value": 1.0}])
    cfg = accepts(
        both(
            put("economics", "benefits", value={"kontanthjaelp_30plus": own, "extra": benefit()}),
            put("economics", "refusion", value={"steps": [{"from_week": 1, "state_share": 0.1}]}),
        )
    )
    kh = cfg.economics.benefits["kontanthjaelp_30plus"]
    assert (kh.unit, [r.value for r in kh.rates]) == ("month", [1.0])
    assert "extra" in cfg.economics.benefits
    assert "sygedagpenge" in cfg.economics.benefits  # the rest still from the rules
    assert [(s.from_week, s.state_share) for s in cfg.economics.refusion.steps] == [(1, 0.1)]


def test_no_rules_means_only_the_deal_s_own():
    cfg = accepts(
        both(
            put("economics", "rules", value=None),
            put("economics", "refusion", value={"steps": [{"from_week": 1, "state_share": 0.5}]}),
            put("economics", "permanent_benefit", value=None),
            put("economics", "benefits", value={"kontanthjaelp_30plus": benefit()}),
        )
    )
    assert list(cfg.economics.benefits) == ["kontanthjaelp_30plus"]


def test_unknown_rules_name_the_available_ones():
    (line,) = problems_of(put("economics", "rules", value="narnia"))
    assert line.startswith("economics.rules: unknown rules 'narnia'")
    assert "available: denmark" in line


RULES = {
    "refusion": {"steps": [{"from_week": 1, "state_share": 0.25}], "reset_weeks": 10},
    "benefits": {"kontanthjaelp_30plus": benefit(rates=[{"from": D(2024, 1, 1), "value": 7.0}]),
                 "foertidspension": benefit()},
}  # fmt: skip


def test_rules_file_is_resolved_relative_to_the_deal_file(tmp_path, monkeypatch):
    deal_dir = tmp_path / "deals"
    (deal_dir / "rules").mkdir(parents=True)
    write_toml(deal_dir / "rules" / "mine.toml", RULES)
    write_toml(deal_dir / "deal.toml", edited(put("economics", "rules", value="rules/mine.toml")))
    # a decoy where a path relative to the working directory would look
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "rules").mkdir(parents=True)
    decoy = copy.deepcopy(RULES)
    decoy["benefits"]["kontanthjaelp_30plus"]["rates"][0]["value"] = 999.0
    write_toml(elsewhere / "rules" / "mine.toml", decoy)
    monkeypatch.chdir(elsewhere)
    for path in (deal_dir / "deal.toml", Path("..") / "deals" / "deal.toml"):
        cfg, _ = load_deal(path)
        rates = cfg.economics.benefits["kontanthjaelp_30plus"].rates
        assert [r.value for r in rates] == [7.0], path
        assert cfg.economics.refusion.reset_weeks == 10
        assert sorted(cfg.economics.benefits) == ["foertidspension", "kontanthjaelp_30plus"]


def test_missing_or_bad_rules_file_names_the_field(tmp_path):
    write_toml(tmp_path / "deal.toml", edited(put("economics", "rules", value="nosuch.toml")))
    with pytest.raises(ConfigError) as err:
        load_deal(tmp_path / "deal.toml")
    (line,) = err.value.problems
    assert line.startswith("economics.rules: ") and "nosuch.toml: no such file" in line
    (tmp_path / "broken.toml").write_text("a = = 1\n")
    write_toml(tmp_path / "deal.toml", edited(put("economics", "rules", value="broken.toml")))
    with pytest.raises(ConfigError) as err:
        load_deal(tmp_path / "deal.toml")
    (line,) = err.value.problems
    assert line.startswith("economics.rules: ") and "malformed TOML" in line


def test_benefits_that_are_not_a_table_are_reported():
    lines = problems_of(put("economics", "benefits", value=5))
    assert [line.split(": ")[0] for line in lines] == ["economics.benefits"]


# ------------------------------------------------------------------- uncertainty checks
def record(path, **dist):
    return {"path": path, **dist}


UNIFORM = {"distribution": "uniform", "low": 0.2, "high": 0.8}

UNCERTAIN_BAD = [
    ("names-no-field", record("effect.job_entry_x", **UNIFORM),
     "uncertainty.parameters[0].path", "names no field"),
    ("index-out-of-range", record("effect.job_entry[1]", **UNIFORM),
     "uncertainty.parameters[0].path", "names no field"),
    ("malformed", record("effect.job_entry[", **UNIFORM),
     "uncertainty.parameters[0].path", "names no field"),
    ("whole-number", record("cohort.size", **UNIFORM), "uncertainty.parameters[0].path",
     "'cohort.size' is a whole number (structural)"),
    ("text", record("deal.name", **UNIFORM), "uncertainty.parameters[0].path",
     "'deal.name' is not a number"),
    ("a-table", record("cohort.enrolment", **UNIFORM), "uncertainty.parameters[0].path",
     "not a number"),
    ("calendar", record("labour.calendar[0].job_entry_multiplier", **UNIFORM),
     "uncertainty.parameters[0].path", "calendar shocks are the same in every scenario"),
    ("itself", record("uncertainty.parameters[0].low", **UNIFORM),
     "uncertainty.parameters[0].path", "cannot itself be varied"),
    ("normal-on-probability", record("cohort.uptake", distribution="normal", mean=0.5, sd=0.1),
     "uncertainty.parameters[0]", "the normal distribution reaches"),
    ("uniform-beyond-one", record("cohort.uptake", distribution="uniform", low=0.8, high=1.2),
     "uncertainty.parameters[0]", "reaches 1.2, which cohort.uptake does not accept"),
    ("uniform-below-zero", record("cohort.uptake", distribution="uniform", low=-0.01, high=0.5),
     "uncertainty.parameters[0]", "which cohort.uptake does not accept"),
    ("normal-on-positive", record("effect.job_entry[0]", distribution="normal", mean=1.5,
                                  sd=0.5),
     "uncertainty.parameters[0]", "effect.job_entry[0] does not accept (Input should be "
     "greater than 0 (got -2.0"),
    ("fixed-outside", record("programme.phases[0].dropout", distribution="fixed", value=2.0),
     "uncertainty.parameters[0]", "the fixed distribution reaches 2"),
    ("gamma-on-probability", record("cohort.uptake", distribution="gamma", shape=2.0,
                                    scale=0.1),
     "uncertainty.parameters[0]", "the gamma distribution reaches"),
    ("beta-scaled-beyond", record("cohort.uptake", distribution="beta", alpha=2.0, beta=2.0,
                                  low=0.5, high=1.5),
     "uncertainty.parameters[0]", "which cohort.uptake does not accept"),
    ("regulation-beyond", record("economics.regulation.years[0].rate", distribution="uniform",
                                 low=0.4, high=0.6),
     "uncertainty.parameters[0]", "which economics.regulation.years[0].rate does not accept"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "rec", "field", "words"), UNCERTAIN_BAD,
                         ids=[c[0] for c in UNCERTAIN_BAD])  # fmt: skip
def test_check_uncertainty_rejects(name, rec, field, words):
    edit = unc(rec)
    if name == "calendar":
        edit = both(put("labour", "calendar", value=[SHOCK]), edit)
    lines = problems_of(edit)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{field}: ") and words in lines[0], lines


UNCERTAIN_GOOD = [
    record("cohort.uptake", distribution="uniform", low=0.0, high=1.0),
    record("cohort.uptake", distribution="normal", mean=0.9, sd=0.3, low=0.0, high=1.0),
    record("cohort.uptake", distribution="beta", alpha=19.0, beta=1.0),
    record("cohort.uptake", distribution="triangular", low=0.5, mode=1.0, high=1.0),
    record("effect.job_entry[0]", distribution="lognormal", median=1.5, sigma=0.8),
    record("effect.job_entry[0]", distribution="gamma", shape=3.0, scale=0.5),
    record("economics.regulation.assumed", distribution="uniform", low=-0.2, high=0.5),
    record("programme.phases[0].cost_per_week", distribution="fixed", value=0.0),
    record("labour.transitions[0].probability", distribution="uniform", low=0.0, high=0.2),
]  # fmt: skip


@pytest.mark.parametrize("rec", UNCERTAIN_GOOD, ids=lambda r: r["distribution"])
def test_check_uncertainty_accepts_distributions_inside_the_range(rec):
    cfg = accepts(unc(rec))
    assert check_uncertainty(cfg) == []


def test_check_uncertainty_lists_every_problem():
    cfg = accepts(lambda r: None)
    bad = cfg.model_copy(
        update={
            "uncertainty": cfg.uncertainty.model_validate(
                {"parameters": [record("cohort.size", **UNIFORM), record("x.y", **UNIFORM),
                                record("cohort.uptake", **UNIFORM),
                                record("cohort.uptake", **UNIFORM)]}
            )
        }
    )  # fmt: skip
    problems = check_uncertainty(bad)
    assert [p.split(": ")[0] for p in problems] == [
        "uncertainty.parameters[0].path",
        "uncertainty.parameters[1].path",
        "uncertainty.parameters[3].path",
    ]
    assert "twice" in problems[2]


def test_rejection_names_the_leaf_s_own_rule():
    dumped = accepts(lambda r: None).model_dump(by_alias=True)
    assert rejection(dumped, ("cohort", "uptake"), 1.0) is None
    assert rejection(dumped, ("cohort", "uptake"), 1.0 + 1e-9) == (
        "Input should be less than or equal to 1 (got 1.000000001)"
    )
    assert "greater than 0" in rejection(dumped, ("investor", "capital"), 0.0)
    assert dumped["cohort"]["uptake"] == 1.0  # the deal itself is not changed


def test_the_support_bound_is_checked_not_only_the_nominal_value():
    """A uniform on [0.9, 1.0 + 1e-6] has its median inside but its top outside."""
    (line,) = problems_of(unc(record("cohort.uptake", distribution="uniform", low=0.9,
                                     high=1.0 + 1e-6)))  # fmt: skip
    assert "cohort.uptake does not accept" in line


# --------------------------------------------------------------- loading other files
class Small(Strict):
    a: int
    b: list[float] = []


def test_load_model_reads_and_validates_a_file(tmp_path):
    (tmp_path / "ok.toml").write_text("a = 3\nb = [1.5, 2]\n")
    model, raw = load_model(Small, tmp_path / "ok.toml")
    assert (model.a, model.b, raw) == (3, [1.5, 2.0], {"a": 3, "b": [1.5, 2]})
    (tmp_path / "bad.toml").write_text("a = 'x'\nb = [1.5, 'y']\nc = 1\n")
    with pytest.raises(ConfigError) as err:
        load_model(Small, tmp_path / "bad.toml")
    assert [p.split(": ")[0] for p in err.value.problems] == ["a", "b[1]", "c"]
    assert err.value.source == str(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="no such file"):
        load_model(Small, tmp_path / "missing.toml")


def test_validate_prefixes_every_line():
    with pytest.raises(ConfigError) as err:
        validate(Small, {"a": "x", "c": 1}, "src", prefix="holdings[2]")
    assert err.value.problems == [
        "holdings[2].a: Input should be a valid integer (got 'x')",
        "holdings[2].c: unknown key",
    ]
    assert str(err.value) == "src: " + "; ".join(err.value.problems)


def test_load_deal_problems_are_not_silently_coerced(tmp_path):
    """Strict models: TOML strings or booleans where numbers go are errors."""
    raw = load_raw("holbaek")
    raw["programme"]["phases"][1]["dropout"] = "0.01"
    raw["deal"]["horizon_weeks"] = 312.0
    path = write_toml(tmp_path / "d.toml", raw)
    with pytest.raises(ConfigError) as err:
        load_deal(path)
    assert sorted(p.split(": ")[0] for p in err.value.problems) == [
        "deal.horizon_weeks",
        "programme.phases[1].dropout",
    ]


def test_nan_in_a_rate_is_an_error():
    lines = problems_of(
        put("economics", "benefits", value={"x": benefit(rates=[{"from": D(2024, 1, 1),
                                                                   "value": math.nan}])})
    )  # fmt: skip
    assert lines == ["economics.benefits.x.rates[0].value: Input should be a finite number "
                     "(got nan)"]  # fmt: skip


# ------------------------------------------------------- bounds that match the kernel
# Each: an edit beyond a bound, the field named, words of the message, a value within it.
BOUNDS = [
    (
        "horizon",
        put("deal", "horizon_weeks", value=2601),
        "deal.horizon_weeks",
        "less than or equal to 2600",
        put("deal", "horizon_weeks", value=2600),
    ),
    (
        "start-late",
        put("deal", "start_date", value=D(2300, 1, 1)),
        "deal.start_date",
        "from 1900-01-01 up to, not including, 2200-01-01",
        put("deal", "start_date", value=D(2199, 12, 31)),
    ),
    (
        "start-early",
        put("deal", "start_date", value=D(1600, 1, 1)),
        "deal.start_date",
        "up to, not including",
        None,
    ),
    (
        "rate-date",
        put(
            "economics",
            "benefits",
            value={"x": benefit(rates=[{"from": D(9999, 12, 31), "value": 1.0}])},
        ),
        "economics.benefits.x.rates[0].from",
        "up to, not including",
        None,
    ),
    (
        "weeks-on-benefit",
        put("cohort", "segments", 0, "weeks_on_benefit", value=2**63 - 1),
        "cohort.segments[0].weeks_on_benefit",
        "less than or equal to 2600",
        put("cohort", "segments", 0, "weeks_on_benefit", value=2600),
    ),
    (
        "from-week",
        put(
            "labour",
            "transitions",
            0,
            value={
                "from": "benefit",
                "to": "employed",
                "probability": [0.1, 0.1, 0.1],
                "from_week": [0, 22, 2**63 - 1],
            },
        ),
        "labour.transitions[0].from_week[2]",
        "less than or equal to 2600",
        None,
    ),
    (
        "delay-huge",
        put("cohort", "enrolment", "delay_weeks", value=1e308),
        "cohort.enrolment.delay_weeks",
        "less than or equal to 2600",
        None,
    ),
    (
        "delay-beyond-horizon",
        put("cohort", "enrolment", "delay_weeks", value=60.0),
        "cohort.enrolment.delay_weeks",
        "leave nobody enrolled",
        put("cohort", "enrolment", "delay_weeks", value=59.0),
    ),
    (
        "cost-huge",
        put("programme", "phases", 0, "cost_per_week", value=1e308),
        "programme.phases[0].cost_per_week",
        "less than or equal to",
        put("programme", "phases", 0, "cost_per_week", value=1e6),
    ),
    (
        "ratio-huge",
        put("effect", "job_entry", value=[1e6]),
        "effect.job_entry[0]",
        "less than or equal to 1000",
        None,
    ),
    (
        "window-empty",
        put(
            "contract",
            "mechanisms",
            value=[{"kind": "savings_share", "share": 0.5, "window": [300, 10]}],
        ),
        "contract.mechanisms[0].window",
        "is empty",
        None,
    ),
    (
        "window-late",
        put(
            "contract",
            "mechanisms",
            value=[{"kind": "savings_share", "share": 0.5, "window": [60, 70]}],
        ),
        "contract.mechanisms[0].window",
        "after deal.horizon_weeks",
        put(
            "contract",
            "mechanisms",
            value=[{"kind": "savings_share", "share": 0.5, "window": [50, 700]}],
        ),
    ),
    (
        "target-late",
        put("contract", "mechanisms", value=[dict(TARGET, at_week=1_000_000)]),
        "contract.mechanisms[0].at_week",
        "less than or equal to 2600",
        None,
    ),
    (
        "target-beyond",
        put("contract", "mechanisms", value=[dict(TARGET, at_week=60)]),
        "contract.mechanisms[0].at_week",
        "beyond deal.horizon_weeks",
        put("contract", "mechanisms", value=[dict(TARGET, at_week=59)]),
    ),
    (
        "long-name",
        put("deal", "name", value="x" * 100_000),
        "deal.name",
        "at most 200 characters",
        None,
    ),
    (
        "many-segments",
        put(
            "cohort",
            "segments",
            value=[
                {"name": f"s{i}", "benefit": "kontanthjaelp_30plus", "share": 1 / 101}
                for i in range(101)
            ],
        ),
        "cohort.segments",
        "at most 100 items",
        None,
    ),
    (
        "lognormal-sigma",
        unc({"path": "cohort.uptake", "distribution": "lognormal", "median": 0.5, "sigma": 50.0}),
        "uncertainty.parameters[0].sigma",
        "less than or equal to 10",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "edit", "field", "words", "good"), BOUNDS, ids=[b[0] for b in BOUNDS]
)
def test_bounds_give_one_line_naming_the_field(name, edit, field, words, good):
    lines = problems_of(edit)
    assert any(line.startswith(f"{field}: ") and words in line for line in lines), lines
    assert all(len(line) <= 300 for line in lines)
    if good is not None:
        accepts(good)


def test_a_deeply_nested_deal_is_refused_without_recursion():
    deep = 1
    for _ in range(5000):
        deep = [deep]
    lines = problems_of(put("cohort", "segments", 0, "name", value=deep))
    assert len(lines) == 1 and "nested more than" in lines[0]


def test_validation_is_linear_in_the_number_of_uncertain_inputs():
    """A distribution is checked against its leaf without copying the whole deal; 100
    segments with 100 uncertain shares validate in well under a second each."""
    import time

    segs = [{"name": f"s{i}", "benefit": "kontanthjaelp_30plus", "share": 0.01} for i in range(100)]
    records = [
        {"path": f"cohort.segments[{i}].job_hazard_ratio", "distribution": "uniform", "low": 0.5, "high": 2.0}
        for i in range(100)
    ]  # fmt: skip
    raw = edited(both(put("cohort", "segments", value=segs), unc(*records)))
    t0 = time.perf_counter()
    parse_deal(raw, "t.toml")
    assert time.perf_counter() - t0 < 20.0
