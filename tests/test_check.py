"""Evidence files and the check against them: the schema's rules, the predicted values
against what the model itself generates, z-scores, in and out of sample, the command."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from simrisk.analysis import calibrate as cal
from simrisk.analysis import check as chk
from simrisk.analysis import targets as targets_mod
from simrisk.cli import main
from simrisk.config import ConfigError, load_deal
from simrisk.config.evidence import Evidence, EvidenceUse
from simrisk.config.load import load_evidence
from tests.conftest import CONFIGS, dump_toml, simple_raw
from tests.test_calibrate import SIZE, TRANSITIONS

STUDY = {
    "id": "synthetic2026",
    "title": "A study the model generates",
    "authors": "Model M, Engine S",
    "year": 2026,
    "journal": "none",
    "url": "https://example.org",
    "design": "rct",
    "country": "Denmark",
    "read": "full_text",
    "population": {"diagnosis": "none", "benefit": "kontanthjælp", "age": "30+"},
    "arms": [
        {"id": "usual", "label": "usual services", "role": "control", "n": 400},
        {"id": "prog", "label": "programme", "role": "intervention", "n": 400},
    ],
    "endpoints": [],
}


def _endpoint(**kw) -> dict:
    base = {"id": "e", "arm": "usual", "definition": "d", "source": "s"}
    return base | kw


def _raw():
    raw = simple_raw(size=SIZE, horizon=80, transitions=TRANSITIONS)
    raw["deal"]["start_date"] = dt.date(2024, 1, 1)
    raw["effect"] = {"job_entry": [2.0]}
    return raw


def _truth(arm: str, week: int, kind: str = "at_week") -> float:
    """The share employed at ``week`` (``ever_by``: ever by then) simulated on 40 x 100
    citizens (another seed)."""
    cfg_raw = _raw()
    from simrisk.config import parse_deal

    cfg = parse_deal(cfg_raw, "truth")
    spec = {
        "name": "t", "kind": kind, "arm": arm, "states": ["employed"], "week": week,
        "observed": 0.5, "n": 1, "source": "s",
    }  # fmt: skip
    tg = cal.Targets.model_validate(
        {"name": "t", "source": "s", "free": [{"path": "labour.job_entry_multiplier",
                                               "low": 0.5, "high": 2.0}], "targets": [spec]}
    )  # fmt: skip
    return cal.Objective(cfg, tg, 40, 99).outcomes(np.array([1.0]))[0][0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("check")
    study = copy.deepcopy(STUDY)
    u26, t26 = _truth("counterfactual", 26), _truth("treatment", 26)
    ever_u, ever_t = _truth("counterfactual", 26, "ever_by"), _truth("treatment", 26, "ever_by")
    hr26 = math.log1p(-ever_t) / math.log1p(-ever_u)
    study["endpoints"] = [
        _endpoint(id="work_26", kind="at_week", states=["employed"], week=26,
                  value=round(u26, 3), n=400),
        _endpoint(id="work_26", arm="prog", kind="at_week", states=["employed"], week=26,
                  value=round(t26, 3), n=400),
        _endpoint(id="work_26_far", kind="at_week", states=["employed"], week=26,
                  value=min(round(u26 + 0.25, 3), 1.0), n=400),
        _endpoint(id="rr_26", arm="prog", kind="contrast", measure="risk_ratio",
                  versus="usual", basis="at_week", states=["employed"], week=26,
                  value=round(t26 / u26, 3), ci=[round(t26 / u26 - 0.2, 3),
                                                  round(t26 / u26 + 0.2, 3)]),
        _endpoint(id="hr", arm="prog", kind="contrast", measure="hazard_ratio",
                  versus="usual", value=1.5, ci=[1.1, 2.0]),
        _endpoint(id="wellbeing", kind="other", value=0.3),
        _endpoint(id="work_52_no_n", kind="at_week", states=["employed"], week=52, value=0.5),
        _endpoint(id="hr_26", arm="prog", kind="contrast", measure="hazard_ratio",
                  versus="usual", basis="ever_by", states=["employed"], week=26,
                  value=round(hr26, 3), se=0.1),
    ]  # fmt: skip
    (d / "evidence").mkdir()
    (d / "evidence" / "synthetic2026.toml").write_text(dump_toml(study))
    raw = _raw()
    raw["evidence"] = [
        {"file": "evidence/synthetic2026.toml", "arms": {"usual": "counterfactual",
         "prog": "treatment"}, "calibrate": ["work_26"], "why": "it is the model's own"}
    ]  # fmt: skip
    (d / "deal.toml").write_text(dump_toml(raw))
    return d


def _rows(files) -> dict:
    cfg, _ = load_deal(files / "deal.toml")
    uses = chk.uses_for(cfg, files, None)
    rows = chk.check(cfg, uses, {"synthetic2026:work_26@usual"}, draws=20, replicates=10)
    return {(r.endpoint.split(": ")[1], r.arm): r for r in rows}


def test_predicted_values_match_what_the_model_generates(files):
    rows = _rows(files)
    for arm in ("usual services", "programme"):
        r = rows[("work_26", arm)]
        # 200 x 100 simulated citizens against 400 observed: |z| is a standard normal's
        assert abs(r.z) < 3.5, r
        assert r.predicted_low <= r.predicted <= r.predicted_high
        se = math.sqrt(r.observed * (1 - r.observed) / 400)
        assert r.observed_low == pytest.approx(r.observed - 1.959964 * se)
    assert rows[("work_26", "usual services")].used == "fit"
    assert rows[("work_26", "programme")].used == "out of sample"
    # an observation 25 points off is flagged
    assert rows[("work_26_far", "usual services")].z > 5


def test_contrasts_others_and_endpoints_without_a_sample_size(files):
    rows = _rows(files)
    rr = rows[("rr_26", "programme")]
    assert abs(rr.z) < 3.5 and rr.predicted == pytest.approx(rr.observed, rel=0.15)
    # a hazard ratio of first entries by week 26, simulated as the ratio of cumulative
    # hazards, against the same ratio on 4,000 other citizens: within 4 standard errors
    # (the se of 0.1 on the log scale is larger than the draws' own spread)
    hr = rows[("hr_26", "programme")]
    assert abs(hr.z) < 4 and hr.predicted == pytest.approx(hr.observed, rel=0.3)
    assert hr.predicted > 1.2  # the deal's effect, a hazard ratio of 2, shows
    assert math.isnan(rows[("hr", "programme")].z)
    assert "hazard ratio without the entries ('basis' = 'ever_by') it compares: not simulated" in (
        rows[("hr", "programme")].note
    )
    assert "not expressible" in rows[("wellbeing", "usual services")].note
    no_n = rows[("work_52_no_n", "usual services")]
    assert math.isnan(no_n.z) and not math.isnan(no_n.predicted)
    assert "no sample size" in no_n.note


def test_the_command_prints_the_table_and_its_json(files):
    res = CliRunner().invoke(
        main, ["check", str(files / "deal.toml"), "--draws", "10", "--replicates", "4", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["draws"] == 10 and len(data["rows"]) == 8  # one row per endpoint
    text = CliRunner().invoke(main, ["check", str(files / "deal.toml"), "--draws", "10"])
    assert "predicted against observed" in text.output
    assert re.search(r"fit: \d of 2 endpoints within \|z\| <= 2", text.output)


def test_a_file_the_deal_does_not_bind_is_mapped_by_role(files):
    cfg, _ = load_deal(files / "deal.toml")
    cfg = cfg.model_copy(update={"evidence": []})
    (use,) = [u for _, u in chk.uses_for(cfg, files, [str(files / "evidence/synthetic2026.toml")])]
    assert use.arms == {"usual": "counterfactual", "prog": "treatment"}


BAD_ENDPOINTS = [
    ({"kind": "at_week", "states": ["employed"], "week": 26, "value": 1.2}, "between 0 and 1"),
    ({"kind": "at_week", "states": ["employed"], "value": 0.2}, "needs 'week'"),
    ({"kind": "ever_by", "states": ["unemployed"], "week": 26, "value": 0.2}, "counts entries"),
    ({"kind": "weeks_in", "states": ["employed"], "window": [10, 5], "value": 3}, "to > from"),
    ({"kind": "time_to_event", "states": ["employed"], "value": 20}, "needs 'quantile'"),
    ({"kind": "contrast", "measure": "risk_ratio", "value": 1.2}, "needs 'versus'"),
    ({"kind": "at_week", "states": ["employed"], "week": 26, "value": 0.3, "ci": [0.4, 0.5]},
     "does not contain"),
    ({"kind": "at_week", "states": ["employed"], "week": 26, "value": 0.3, "arm": "nobody"},
     "no arm 'nobody'"),
    ({"kind": "contrast", "measure": "risk_ratio", "versus": "prog", "value": 1.2,
      "ci": [-0.1, 2.0]}, "above 0"),
    ({"kind": "ever_by", "states": ["employed"], "week": 0, "value": 0.2}, "'week' >= 1"),
    ({"kind": "sustained", "spell_weeks": 520, "week": 600, "value": 0.2},
     "'spell_weeks' = 520 is not one"),
    ({"kind": "sustained", "spell_weeks": 26, "week": 60, "value": 0.2,
      "states": ["education"]}, "states = ['employed']"),
]  # fmt: skip


@pytest.mark.parametrize("fields,needle", BAD_ENDPOINTS)
def test_evidence_rules(tmp_path, fields, needle):
    study = copy.deepcopy(STUDY)
    study["endpoints"] = [_endpoint(**fields)]
    path = tmp_path / "bad.toml"
    path.write_text(dump_toml(study))
    with pytest.raises(ConfigError) as err:
        load_evidence(path)
    assert any(needle in p for p in err.value.problems), err.value.problems


def test_a_deal_naming_an_unknown_arm_or_endpoint_is_refused(files, tmp_path):
    raw = _raw()
    raw["evidence"] = [
        {"file": str(files / "evidence/synthetic2026.toml"), "arms": {"placebo": "treatment"},
         "calibrate": ["nothing"], "why": "w"}
    ]  # fmt: skip
    path = tmp_path / "d.toml"
    path.write_text(dump_toml(raw))
    with pytest.raises(ConfigError) as err:
        load_deal(path)
    assert err.value.problems == [
        "evidence[0].arms: synthetic2026 has no arm 'placebo' (arms: prog, usual)",
        "evidence[0].calibrate: synthetic2026 has no endpoint 'nothing'",
    ]


def test_every_included_evidence_file_loads_and_every_deal_binds_existing_endpoints():
    files = sorted((CONFIGS / "evidence").glob("*.toml"))
    assert len(files) >= 20
    for f in files:
        ev = load_evidence(f)
        assert ev.id == f.stem and isinstance(ev, Evidence)
        for e in ev.endpoints:
            assert e.definition and e.source
    for deal in ("holbaek", "slagelse", "sundinvest_sygemeldte", "aarhus_din_vej_i_job",
                 "aarhus_ips_plus", "drc_herning_viborg"):  # fmt: skip
        cfg, _ = load_deal(CONFIGS / f"{deal}.toml")
        assert cfg.evidence and cfg.calibration is not None, deal
        assert not [w for w in cfg.warnings if w.startswith("evidence")], deal
        assert any(isinstance(u, EvidenceUse) and u.calibrate for u in cfg.evidence)


def test_a_contrast_whose_basis_cannot_be_simulated_says_why(files):
    cfg, _ = load_deal(files / "deal.toml")
    ((ev, use),) = chk.uses_for(cfg, files, None)
    bad = ev.endpoints[3].model_copy(update={"states": ["off_benefit"]})  # at_week basis
    reason = chk._contrast_targets(ev, bad, use)
    assert isinstance(reason, str) and reason.startswith("its basis cannot be simulated")


def test_calibrating_an_endpoint_of_an_unmapped_arm_is_refused(files, tmp_path):
    raw = _raw()
    raw["evidence"] = [
        {"file": str(files / "evidence/synthetic2026.toml"), "arms": {"usual": "counterfactual",
         "prog": "none"}, "calibrate": ["work_26@prog"], "why": "w"}
    ]  # fmt: skip
    path = tmp_path / "d.toml"
    path.write_text(dump_toml(raw))
    with pytest.raises(ConfigError) as err:
        load_deal(path)
    assert err.value.problems == [
        "evidence[0].calibrate: 'work_26@prog' is of an arm the deal does not map (arms)"
    ]


def test_validate_recognises_evidence_targets_and_posterior_files():
    runner = CliRunner()
    ev = runner.invoke(main, ["validate", str(CONFIGS / "evidence" / "hoff2022a.toml")])
    assert ev.exit_code == 0 and "ok — evidence file hoff2022a" in ev.output
    tg = runner.invoke(main, ["validate", str(CONFIGS / "targets" / "nk1_targets.toml")])
    assert tg.exit_code == 0 and "ok — targets file 'NK1 targets" in tg.output
    post = runner.invoke(main, ["validate", str(CONFIGS / "posteriors" / "holbaek.toml")])
    assert post.exit_code == 1
    assert "this is a calibration posterior, not a deal" in post.output


def test_validate_names_the_problems_of_an_evidence_file(tmp_path):
    study = copy.deepcopy(STUDY)
    study["endpoints"] = [_endpoint(kind="at_week", states=["employed"], week=26, value=1.5)]
    path = tmp_path / "bad.toml"
    path.write_text(dump_toml(study))
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 1
    (line,) = res.output.strip().splitlines()
    assert line.startswith("error: endpoints[0]") and "between 0 and 1" in line


def test_a_quantile_never_reached_is_said_so_not_printed_as_nan():
    """A time to an event that no draw reaches: the summary line says 'never reached'
    with its z (on the share scale, which exists), not 'nan'."""
    nan = float("nan")
    row = chk.Row("s", "s: tte", "control", "counterfactual", "time_to_event",
                    "out of sample", 10.0, nan, nan, nan, nan, nan, -140.36)  # fmt: skip
    (line,) = [x for x in chk.summary_lines([row]) if x.startswith("not reproduced")]
    assert line == (
        "not reproduced: s: tte (control): observed 10, predicted never reached (z = -140.4)"
    )


def test_a_week_at_entry_is_refused_with_a_reason():
    """'at_week' week 0 from an origin at entry measures nothing: the reason is said, not
    a bare 'Input should be greater than 0'."""
    study = copy.deepcopy(STUDY)
    study["endpoints"] = [_endpoint(kind="at_week", states=["employed"], week=0, value=0.2, n=100)]
    ev = Evidence.model_validate(study)
    use = EvidenceUse(
        file="x.toml", arms={"usual": "counterfactual", "prog": "treatment"}, why="test"
    )
    ((_, why),) = targets_mod.endpoint_targets(ev, use)
    assert why == "'week' 0 from an origin at entry (origin_week 0): nothing is measured there yet"


def test_a_share_s_interval_stays_within_0_and_1():
    """A share observed at 0 (or 1) of 100: 1.96 standard errors of the fitted scale
    around it, cut at the share's bounds; weeks are cut at 0."""
    for value, want in ((0.0, (0.0, None)), (1.0, (None, 1.0))):
        t = targets_mod.Target(name="x", kind="at_week", arm="counterfactual",
                               states=["employed"], observed=value, n=100, week=26,
                               source="s")  # fmt: skip
        e = chk.Endpoint.model_validate(
            {"id": "x", "arm": "a", "kind": "at_week", "states": ["employed"], "week": 26,
             "value": value, "n": 100, "definition": "d", "source": "s"}
        )  # fmt: skip
        lo, hi, se = chk._observed_interval(e, t)
        assert 0.0 <= lo <= hi <= 1.0 and se > 0
        assert (lo if want[0] is not None else hi) == (want[0] if want[0] is not None else want[1])


def test_a_hazard_ratio_is_the_ratio_of_cumulative_hazards():
    """Exponential entries with hazards 2h and h: the shares entered by any week give the
    hazard ratio 2 exactly, as the ratio of -log(1 - share); a ratio's 'se' is that of
    its logarithm, so its interval is the value times exp(±1.96 se)."""
    weeks = np.array([4.0, 26.0, 52.0])
    h = 0.01
    a, b = 1 - np.exp(-2 * h * weeks), 1 - np.exp(-h * weeks)
    np.testing.assert_allclose(chk._ratio("hazard_ratio", a, b), 2.0, rtol=1e-12)
    e = chk.Endpoint.model_validate(
        {"id": "hr", "arm": "a", "kind": "contrast", "measure": "hazard_ratio", "versus": "b",
         "value": 1.43, "se": 0.116, "basis": "ever_by", "states": ["employed"], "week": 52,
         "definition": "d", "source": "s"}
    )  # fmt: skip
    lo, hi, se = chk._observed_interval(e, None)
    assert se == 0.116
    assert (lo, hi) == pytest.approx((1.43 * math.exp(-1.959964 * 0.116),
                                      1.43 * math.exp(1.959964 * 0.116)), rel=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="its 'basis' is 'ever_by'"):
        chk.Endpoint.model_validate({**e.model_dump(), "basis": "at_week"})
