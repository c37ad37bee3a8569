"""The deal's benefits (simrisk.benefits): which benefits a deal pays and in what order,
the share of a benefit a job keeps by the hours and earnings rules, worked out by hand
from the shared rates, and the regulated wage and the regulation of a benefit."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest

from simrisk import benefits
from simrisk.config import parse_deal
from simrisk.config.load import load_rules
from simrisk.errors import ConfigError
from simrisk.sampling import Values
from simrisk.vocabulary import WEEKS_PER_YEAR
from tests.conftest import simple_raw

WAGE = 21632.0  # DKK a month, full time
COUNTED = 0.92 * WAGE  # 19,901.44: the earnings an earnings-tested benefit counts


def _deal(start="2024-03-01", wage=WAGE, full_time_share=0.8, benefits_=None, **economics):
    raw = simple_raw(size=2, horizon=30)
    raw["deal"]["start_date"] = dt.date.fromisoformat(start)
    raw["labour"]["hours"] = {
        "full_time_share": full_time_share,
        "part_time_hours": 0.5,
        "full_time_wage": wage,
    }
    raw["economics"].update(economics)
    if benefits_:
        raw["economics"]["benefits"] = copy.deepcopy(benefits_)
    return parse_deal(raw, "benefits")


def _kept(cfg, names, week=0):
    """Kept shares (benefit, full-time / part-time) of one scenario at the deal's values,
    of a job started in ``week``."""
    v = Values(cfg.model_dump(by_alias=True), {}, 1)
    out, in_force = benefits.kept_shares(cfg, names, v, week + 1)
    return np.stack([out[0, b, in_force[b, week]] for b in range(len(names))])


def test_benefit_types_in_the_order_of_first_use():
    """Each segment's benefit, its path's and its unemployed benefits, then the fixed
    benefits of education, førtidspension, løntilskud and fleksjob; each once."""
    raw = simple_raw(size=2, horizon=30)
    raw["cohort"]["segments"] = [
        {
            "name": "a",
            "benefit": "sygedagpenge",
            "share": 0.5,
            "insured_share": 0.5,
            "path": [{"after_weeks": 22, "benefit": "jobafklaring"}],
            "unemployed": {"insured": "a_dagpenge", "uninsured": "kontanthjaelp_30plus"},
        },
        {
            "name": "b",
            "benefit": "kontanthjaelp_30plus",
            "share": 0.5,
            "unemployed": {"uninsured": "kontanthjaelp_30plus"},
        },
    ]
    raw["economics"].update(
        education_benefit="su", subsidised_benefit="loentilskud", fleksjob_benefit="a_dagpenge"
    )
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    cfg = parse_deal(raw, "order")
    assert benefits.benefit_types(cfg) == [
        "sygedagpenge",
        "jobafklaring",
        "a_dagpenge",
        "kontanthjaelp_30plus",
        "su",
        "foertidspension",
        "loentilskud",
    ]


# The shared rates in force on 2024-03-01 (at the 2024 level): kontanthjælp 12,326 a
# month, jobafklaring 12,326, uddannelseshjælp (away) 6,754, a-dagpenge 20,359. A
# part-time job is half time: counted earnings 9,950.72 a month, full time 19,901.44;
# 80.442 hours a month (half of 37 x 365.25 / 84), full time 160.884, of which the hourly
# disregard counts at most 160.
HALF_HOURS = 0.5 * 37 * 365.25 / 84
KEPT_2024 = {
    # hours: the hours not worked
    "sygedagpenge": (0.0, 0.5),
    "a_dagpenge": (0.0, 0.5),
    # no partial rule: a job ends it
    "su": (0.0, 0.0),
    # earnings: 30 % of the whole wage (before tax: all of it counted) up to the 2024
    # limit of 16,323, 55 % above; half time 12,326 - 0.3 x 10,816 = 9,081.2; a
    # full-time job ends it
    "jobafklaring": (0.0, 9081.2 / 12326),
    # a ressourceforløb: nothing deducted up to the limit, which half time stays under
    "ressourceforloebsydelse": (0.0, 1.0),
    # earnings before July 2025: krone for krone above 30 DKK an hour worked (at most 160
    # hours). Full time: 12,326 - (19,901.44 - 4,800) < 0; half time: 12,326 - (9,950.72 -
    # 30 x 80.442) = 4,788.5...
    "kontanthjaelp_30plus": (0.0, (12326 - (9950.72 - 30 * HALF_HOURS)) / 12326),
    # the same rule: half time 6,754 - 7,537.4... < 0
    "uddannelseshjaelp_away": (0.0, 0.0),
}
# From July 2025 (a deal starting 2025-09-01: kontanthjælp 13,590, uddannelseshjælp
# 8,297, a-dagpenge 21,092, all at the 2025 level): 65 % of the counted earnings above a
# monthly disregard, benefit and counted earnings at most a share of a-dagpenge.
KEPT_2025 = {
    # 2,500 and 100 %. Full time: 13,590 - 0.65 x 17,401.44 = 2,279.064, ceiling 21,092 -
    # 19,901.44 = 1,190.56 (binds); half time: 13,590 - 0.65 x 7,450.72 = 8,747.032,
    # ceiling 21,092 - 9,950.72 = 11,141.28 (does not bind)
    "kontanthjaelp_30plus": (1190.56 / 13590, 8747.032 / 13590),
    # 5,000 and 85 % (17,928.2). Full time: 8,297 - 0.65 x 14,901.44 < 0; half time 8,297 -
    # 0.65 x 4,950.72 = 5,079.032, ceiling 17,928.2 - 9,950.72 = 7,977.48
    "uddannelseshjaelp_away": (0.0, 5079.032 / 8297),
    # jobafklaring at 12,326 x 1.036 = 12,769.736: half time 12,769.736 - 0.3 x 10,816
    "jobafklaring": (0.0, (12769.736 - 0.3 * 10816) / 12769.736),
}


@pytest.mark.parametrize("name", list(KEPT_2024))
def test_kept_shares_by_hand(name):
    cfg = _deal()
    got = _kept(cfg, [name])
    np.testing.assert_allclose(got[0], KEPT_2024[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(KEPT_2025))
def test_kept_shares_under_the_2025_earnings_rule_by_hand(name):
    cfg = _deal(start="2025-09-01")
    got = _kept(cfg, [name])
    np.testing.assert_allclose(got[0], KEPT_2025[name], rtol=1e-12, atol=1e-15)


def test_a_job_keeps_what_the_rule_of_its_first_week_leaves():
    """A deal from 2025-06-02: weeks 0-4 (to 2025-06-30) under the old rule, from week 5
    (2025-07-07, the first week that starts on or after 1 July) the new one, evaluated
    at the rates of week 5 (kontanthjælp 13,590; a-dagpenge 21,092)."""
    cfg = _deal(start="2025-06-02")
    names = ["kontanthjaelp_30plus", "sygedagpenge"]
    v = Values(cfg.model_dump(by_alias=True), {}, 1)
    out, in_force = benefits.kept_shares(cfg, names, v, 30)
    np.testing.assert_array_equal(in_force[0], [0] * 5 + [1] * 25)
    np.testing.assert_array_equal(in_force[1], [0] * 30)  # one rule (by hours)
    old = (12326 * 1.036 - (9950.72 - 30 * HALF_HOURS)) / (12326 * 1.036)  # the 2025 level
    np.testing.assert_allclose(out[0, 0, 0], [0.0, old], rtol=1e-12)
    np.testing.assert_allclose(out[0, 0, 1], KEPT_2025["kontanthjaelp_30plus"], rtol=1e-12)
    np.testing.assert_allclose(_kept(cfg, names, 4), [[0.0, old], [0.0, 0.5]], rtol=1e-12)
    np.testing.assert_allclose(_kept(cfg, names, 5)[0], KEPT_2025["kontanthjaelp_30plus"])


def test_a_later_rule_is_valued_at_the_wage_of_its_first_week():
    """A deal from 2024-03-01: the 2025 rule (first week 2025-07-07) at the 2025 rates and
    the wage regulated by 3.6 % into 2025: counted earnings 19,901.44 x 1.036 =
    20,617.89 full time. Full time: 13,590 - 0.65 x (20,617.89 - 2,500) = 1,813.37, the
    ceiling 21,092 - 20,617.89 = 474.11 binds; half time 13,590 - 0.65 x (10,308.95 -
    2,500) = 8,514.18."""
    cfg = _deal()
    v = Values(cfg.model_dump(by_alias=True), {}, 1)
    out, in_force = benefits.kept_shares(cfg, ["kontanthjaelp_30plus"], v, 80)
    first = int(np.argmax(in_force[0] == 1))
    assert first == 70  # 2025-07-07
    full, half = COUNTED * 1.036, COUNTED * 1.036 / 2
    expected = [(21092 - full) / 13590, (13590 - 0.65 * (half - 2500)) / 13590]
    np.testing.assert_allclose(out[0, 0, 1], expected, rtol=1e-12)


def test_earnings_changes_must_be_in_order_and_on_an_earnings_rule():
    own = {
        "kh": {
            "unit": "month",
            "partial": "earnings",
            "rates": [{"from": dt.date(2024, 1, 1), "value": 12326.0}],
            "earnings_changes": [
                {"from": dt.date(2025, 7, 1), "deduction": 0.65},
                {"from": dt.date(2025, 1, 1), "deduction": 0.5},
            ],
        }
    }
    with pytest.raises(ConfigError, match="increasing order"):
        _deal(benefits_=own)
    own["kh"]["earnings_changes"] = [{"from": dt.date(2025, 7, 1), "ceiling": "nowhere"}]
    with pytest.raises(ConfigError, match=r"earnings_changes\[0\]\.ceiling: no rates"):
        _deal(benefits_=own)
    own["kh"]["partial"] = "hours"
    own["kh"]["earnings_changes"] = [{"from": dt.date(2025, 7, 1)}]
    with pytest.raises(ConfigError, match="not by earnings"):
        _deal(benefits_=own)
    own["kh"]["partial"] = "none"
    own["kh"]["earnings_changes"] = []
    own["kh"]["partial_max_weeks"] = 5
    with pytest.raises(ConfigError, match="partial_max_weeks: a job ends this benefit"):
        _deal(benefits_=own)
    del own["kh"]["partial_max_weeks"]
    own["kh"]["full_time_job_ends"] = True
    with pytest.raises(ConfigError, match="full_time_job_ends: every job ends this benefit"):
        _deal(benefits_=own)
    own["kh"] |= {"partial": "earnings", "earnings_limit": -1.0}
    with pytest.raises(ConfigError, match="earnings_limit"):
        _deal(benefits_=own)
    # a share above a limit that is not there, and a limit on a rule by hours
    own["kh"] |= {"earnings_limit": None, "full_time_job_ends": False}
    own["kh"]["earnings_changes"] = [{"from": dt.date(2025, 7, 1), "deduction_above": 0.5}]
    with pytest.raises(ConfigError, match=r"earnings_changes\[0\]\.deduction_above: applies"):
        _deal(benefits_=own)
    own["kh"] |= {"earnings_changes": [], "earnings_deduction_above": 0.5}
    with pytest.raises(ConfigError, match="earnings_deduction_above: applies above a limit"):
        _deal(benefits_=own)
    own["kh"] = {k: v for k, v in own["kh"].items() if not k.startswith("earnings_")}
    own["kh"] |= {"partial": "hours", "earnings_limit": 100.0}
    with pytest.raises(ConfigError, match="earnings_limit: the benefit is reduced by 'hours'"):
        _deal(benefits_=own)


def test_kept_share_without_a_ceiling_by_hand():
    """Kontanthjælp's earnings rule without its ceiling: full time keeps 1,015.064 of
    12,326 (the 65 % deduction alone)."""
    own = {
        "kh": {
            "unit": "month",
            "partial": "earnings",
            "earnings_disregard": 2500.0,
            "earnings_deduction": 0.65,
            "rates": [{"from": dt.date(2024, 1, 1), "value": 12326.0}],
        }
    }
    got = _kept(_deal(benefits_=own), ["kh"])
    np.testing.assert_allclose(got, [[1015.064 / 12326, 7483.032 / 12326]], rtol=1e-12)
    # and the counted share of the wage: all of it counted, full time 12,326 - 0.65 x
    # 19,132 = -110 -> nothing; half time 12,326 - 0.65 x 8,316 = 6,920.6
    own["kh"]["earnings_counted"] = 1.0
    got = _kept(_deal(benefits_=own), ["kh"])
    np.testing.assert_allclose(got, [[0.0, 6920.6 / 12326]], rtol=1e-12)


def test_a_wage_above_the_limit_is_deducted_at_the_higher_share():
    """Jobafklaring with a full-time job allowed to keep it (full_time_job_ends off):
    counted earnings of 21,632 cross the limit. 2024: 12,326 - 0.3 x 16,323 - 0.55 x
    5,309 = 4,509.15. 2025 (limit 16,911, rate 12,769.736): 12,769.736 - 5,073.3 - 0.55
    x 4,721 = 5,099.886. With the flag on, as the shared rules have it, the full-time
    job ends it."""
    own = {"jobafklaring": load_rules("denmark")["benefits"]["jobafklaring"]}
    assert own["jobafklaring"]["full_time_job_ends"] is True
    own["jobafklaring"]["full_time_job_ends"] = False
    for start, rate, want in (("2024-03-01", 12326, 4509.15), ("2025-03-01", 12769.736, 5099.886)):
        got = _kept(_deal(start=start, benefits_=own), ["jobafklaring"])
        np.testing.assert_allclose(got[0, 0], want / rate, rtol=1e-12, err_msg=start)
    # a ressourceforløb's benefit, kept whole up to the limit: 12,326 - 0.55 x 5,309
    res = {"ressourceforloebsydelse": load_rules("denmark")["benefits"]["ressourceforloebsydelse"]}
    res["ressourceforloebsydelse"]["full_time_job_ends"] = False
    got = _kept(_deal(benefits_=res), ["ressourceforloebsydelse"])
    np.testing.assert_allclose(got[0], [(12326 - 0.55 * 5309) / 12326, 1.0], rtol=1e-12)
    # a limit below the disregard: everything above the disregard at the higher share
    own["jobafklaring"] |= {"earnings_disregard": 18000.0, "earnings_changes": []}
    got = _kept(_deal(benefits_=own), ["jobafklaring"])
    np.testing.assert_allclose(got[0], [(12326 - 0.55 * 3632) / 12326, 1.0], rtol=1e-12)


def test_without_a_wage_a_job_ends_an_earnings_tested_benefit():
    """No wage (and so only full-time jobs, the schema's rule): an earnings-tested benefit
    would keep all of itself (nothing earned, the ceiling far off); the rule ends it.
    A benefit by hours keeps the hours not worked, which a full-time job leaves none."""
    cfg = _deal(wage=0.0, full_time_share=1.0)
    got = _kept(cfg, ["kontanthjaelp_30plus", "jobafklaring", "sygedagpenge"])
    np.testing.assert_array_equal(got, [[0.0, 0.0], [0.0, 0.0], [0.0, 0.5]])
    # the same deal with a wage of 1 DKK a month keeps nearly all of it
    nearly = _kept(_deal(wage=1.0, full_time_share=1.0), ["kontanthjaelp_30plus"])
    assert nearly[0, 0] == 1.0


def test_kept_shares_use_the_dated_regulated_rates_of_the_rules_first_week():
    """A deal starting 2026-03-01: kontanthjælp 13,590 from 2025-07-01 regulated by the
    2026 rate (4.5 %) to 14,201.55; a-dagpenge 22,041 (dated 2026-01-01). Full time:
    14,201.55 - 11,310.936 = 2,890.614, ceiling 22,041 - 19,901.44 = 2,139.56 (binds);
    half time: 14,201.55 - 4,842.968 = 9,358.582."""
    got = _kept(_deal(start="2026-03-01"), ["kontanthjaelp_30plus"])
    kh = 13590 * 1.045
    np.testing.assert_allclose(got, [[2139.56 / kh, (kh - 4842.968) / kh]], rtol=1e-12)


def test_kept_shares_per_scenario():
    """Drawn rules: the disregard and the part-time hours per scenario, each row the
    one-scenario answer (half time: 7,483.032 at a 2,500 disregard; at 0: 12,326 -
    0.65 x 9,950.72 = 5,858.032; at 0.25 hours and 2,500: 12,326 - 0.65 x 2,475.36)."""
    cfg = _deal(start="2025-09-01")
    dumped = cfg.model_dump(by_alias=True)
    path = ("economics", "benefits", "kontanthjaelp_30plus", "earnings_changes", 0, "disregard")
    v = Values(
        dumped,
        {
            path: np.array([2500.0, 0.0, 2500.0]),
            ("labour", "hours", "part_time_hours"): np.array([0.5, 0.5, 0.25]),
        },
        3,
    )
    got, in_force = benefits.kept_shares(cfg, ["kontanthjaelp_30plus", "sygedagpenge"], v, 1)
    assert in_force.tolist() == [[1], [0]]
    part = np.array([8747.032, 13590 - 0.65 * 9950.72, 13590 - 0.65 * (0.25 * COUNTED - 2500)])
    np.testing.assert_allclose(got[:, 0, 1, 1], part / 13590, rtol=1e-12)
    np.testing.assert_allclose(got[:, 1, 0, 1], [0.5, 0.5, 0.75], rtol=1e-15)


def test_wage_and_rates_are_regulated_by_the_shared_table():
    """A deal starting 2024-12-02: the wage (at the 2024 level) per week is 21,632 x 12 /
    (365.25 / 7) in weeks 0-4 (December 2024) and 3.6 % more from week 5 (2025-01-06);
    a benefit with its own flat indexation (2 %) ignores the table."""
    own = {
        "flat": {
            "unit": "week",
            "indexation": 0.02,
            "rates": [{"from": dt.date(2024, 1, 1), "value": 100.0}],
        }
    }
    cfg = _deal(start="2024-12-02", benefits_=own)
    v = Values(cfg.model_dump(by_alias=True), {}, 1)
    wage = benefits.wage_weekly(cfg, v, 10)[0]
    per_week = WAGE * 12 / WEEKS_PER_YEAR
    np.testing.assert_allclose(wage, [per_week] * 5 + [per_week * 1.036] * 5, rtol=1e-13)
    flat = benefits.weekly(cfg, v, "flat", 10)[0]
    np.testing.assert_allclose(flat, [100.0] * 5 + [102.0] * 5, rtol=1e-13)
    kh = benefits.weekly(cfg, v, "kontanthjaelp_30plus", 10)[0]
    np.testing.assert_allclose(kh, [12326 * 12 / WEEKS_PER_YEAR] * 5 + [
        12326 * 1.036 * 12 / WEEKS_PER_YEAR] * 5, rtol=1e-13)  # fmt: skip


# The aktivitetsparat youth rates (LAS §§ 23-24 until 30 June 2025, § 19 after it): the
# rate of uddannelseshjælp away from home plus the aktivitetstillæg, then the grundsats,
# the single supplement and the særligt ungetillæg; a month at the year's level.
ACTIVITY = {
    # 2023: 6,545 + 1,154; 2024: 7,699 x 1.032; July 2025: 7,205 + 1,092 + 1,036
    "uddannelseshjaelp_activity_u25": (7699.0, 7699 * 1.032, 9333.0),
    # 2023: 6,545 + 5,399 = kontanthjælp 30+ (11,944), and in 2024 the published 12,326
    "uddannelseshjaelp_activity_25_29": (11944.0, 11944 * 1.032, 10887.0),
}


@pytest.mark.parametrize("name", list(ACTIVITY))
def test_aktivitetsparat_youth_rates_by_hand(name):
    cfg = _deal(start="2023-01-02")
    v = Values(cfg.model_dump(by_alias=True), {}, 1)
    horizon = 3 * 52
    week = benefits.weekly(cfg, v, name, horizon)[0]
    per_week = benefits.UNIT_TO_WEEK["month"]
    for monthly, day in zip(
        ACTIVITY[name], ("2023-06-01", "2024-06-01", "2025-09-01"), strict=True
    ):
        t = (dt.date.fromisoformat(day) - dt.date(2023, 1, 2)).days // 7
        assert week[t] == pytest.approx(monthly * per_week, rel=1e-12)
