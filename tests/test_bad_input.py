"""Bad input on the command line: exit code 1, one ``error:`` line per problem naming
the field, no traceback, and nothing written.

Bad deal files are built by loading ``configs/holbaek.toml``, changing the dict and
writing it back with the small TOML writer of tests/conftest.py (no extra dependency).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from simrisk.cli import main
from tests.conftest import CONFIGS, dump_toml, load_raw

HOLBAEK = CONFIGS / "holbaek.toml"


def test_toml_writer_round_trips_the_included_deal():
    raw = load_raw("holbaek")
    assert tomllib.loads(dump_toml(raw)) == raw
    tricky = {"a": {"b c": 'x "y" \\ z\nw', "d": [1, 2.5, True, dt.date(2024, 2, 1)]}}
    assert tomllib.loads(dump_toml(tricky)) == tricky


# ----------------------------------------------------------------------------- helpers
def run_cli(*args: str):
    runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=True)


def error_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]


def assert_bad_input(result, *needles: str) -> list[str]:
    """Exit code 1, no traceback, every needle on some ``error:`` line; returns the lines."""
    text = result.output
    assert result.exit_code == 1, (result.exit_code, text, result.exception)
    # an exit of 1 must come from BadInput, not from an escaped exception
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in text
    lines = error_lines(result)
    assert lines, f"no 'error:' line on stderr: {result.stderr!r}"
    assert result.stdout == "", f"bad input must not print to stdout: {result.stdout!r}"
    for needle in needles:
        assert any(needle in ln for ln in lines), f"{needle!r} not in {lines}"
    return lines


def write_deal(path: Path, edit: Callable[[dict], None]) -> Path:
    raw = load_raw("holbaek")
    edit(raw)
    path.write_text(dump_toml(raw), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- the bad deals
def _set(*path, value):
    def edit(raw):
        d = raw
        for p in path[:-1]:
            d = d[p]
        d[path[-1]] = value

    return edit


# Facts of the included deal the cases below rely on (read, not hard-coded, so the
# tests follow edits of configs/holbaek.toml).
_BASE = load_raw("holbaek")
_PARAMS = [p["path"] for p in _BASE["uncertainty"]["parameters"]]
N_PARAMS = len(_PARAMS)
N_PHASES = len(_BASE["programme"]["phases"])
PHASE_WEEKS = sum(ph["weeks"] for ph in _BASE["programme"]["phases"])
SHORT_HORIZON = PHASE_WEEKS - 4


def _param(path: str) -> int:
    """Index of the uncertain parameter with this path in the included deal."""
    return _PARAMS.index(path)


def _replace_param(path: str, record: dict):
    def edit(raw):
        raw["uncertainty"]["parameters"][_param(path)] = record

    return edit


def _append_param(record: dict):
    def edit(raw):
        raw["uncertainty"]["parameters"].append(record)

    return edit


def _negative_probability(raw):
    assert isinstance(raw["labour"]["transitions"][0]["probability"], list)
    raw["labour"]["transitions"][0]["probability"][0] = -0.1


def _phases_beyond_horizon(raw):
    raw["deal"]["horizon_weeks"] = SHORT_HORIZON


def _unknown_benefit(raw):
    raw["cohort"]["segments"][1]["benefit"] = "dagpenge_x"


def _unknown_key(raw):
    raw["cohort"]["sizee"] = 180


def _shares(raw):
    segs = raw["cohort"]["segments"]
    segs[0]["share"] = round(segs[0]["share"] - 0.1, 6)  # total 0.9


def _old_section_bad_dropout(raw):
    raw["program"] = raw.pop("programme")
    raw["program"]["phases"][1]["dropout"] = 1.5


def _own_benefit_refusion(raw):
    raw["economics"]["benefits"] = {
        "own": {"unit": "week", "refusion": 1.5, "rates": [{"from": dt.date(2024, 1, 1),
                                                           "value": 100.0}]}
    }  # fmt: skip


N_TRANSITIONS = len(_BASE["labour"]["transitions"])
_UNIFORM = {"distribution": "uniform", "low": 1.0, "high": 2.0}

# (id, edit, needles that must appear on an error line)
BAD_DEALS = [
    (
        "negative-probability",
        _negative_probability,
        ["labour.transitions[0].probability[0]", "greater than or equal to 0"],
    ),
    (
        "probability-above-one",
        _set("programme", "phases", 1, "dropout", value=1.5),
        ["programme.phases[1].dropout", "less than or equal to 1"],
    ),
    (
        "phases-longer-than-horizon",
        _phases_beyond_horizon,
        ["programme.phases", f"{PHASE_WEEKS} weeks", f"deal.horizon_weeks ({SHORT_HORIZON})"],
    ),
    (
        "missing-benefit-rate",
        _unknown_benefit,
        ["cohort.segments[1].benefit", "dagpenge_x"],
    ),
    ("unknown-key", _unknown_key, ["cohort.sizee", "unknown key"]),
    ("wrong-type", _set("cohort", "size", value="many"), ["cohort.size", "'many'"]),
    ("empty-cohort", _set("cohort", "size", value=0), ["cohort.size", "greater than 0"]),
    ("shares-not-summing-to-one", _shares, ["cohort.segments", "shares must sum to 1", "0.9"]),
    (
        "unknown-distribution",
        _replace_param(
            "effect.persistence",
            {"path": "effect.persistence", "distribution": "poisson", "lam": 3.0},
        ),
        [f"uncertainty.parameters[{_param('effect.persistence')}]", "poisson"],
    ),
    ("negative-cap", _set("contract", "cap", value=-1), ["contract.cap", "greater than or equal"]),
    (
        "unparseable-date",
        _set("deal", "start_date", value="2024-13-45"),
        ["deal.start_date", "2024-13-45"],
    ),
    (
        "uncertain-path-names-no-field",
        _append_param({"path": "effect.job_entry_x", **_UNIFORM}),
        [f"uncertainty.parameters[{N_PARAMS}].path", "effect.job_entry_x", "names no field"],
    ),
    (
        "uncertain-index-out-of-range",
        _append_param({"path": "effect.job_entry[9]", **_UNIFORM}),
        [f"uncertainty.parameters[{N_PARAMS}].path", "effect.job_entry[9]", "names no field"],
    ),
    (
        "uncertain-whole-number",
        _append_param({"path": "cohort.size", **_UNIFORM}),
        [f"uncertainty.parameters[{N_PARAMS}].path", "cohort.size", "whole number"],
    ),
    (
        "normal-on-probability-unbounded",
        _replace_param(
            "programme.phases[1].dropout",
            {
                "path": "programme.phases[1].dropout",
                "distribution": "normal",
                "mean": 0.01,
                "sd": 0.003,
            },
        ),
        [
            f"uncertainty.parameters[{_param('programme.phases[1].dropout')}]",
            "normal",
            "programme.phases[1].dropout",
        ],
    ),
    (
        "uniform-beyond-one",
        _replace_param(
            "cohort.uptake",
            {"path": "cohort.uptake", "distribution": "uniform", "low": 0.8, "high": 1.2},
        ),
        [f"uncertainty.parameters[{_param('cohort.uptake')}]", "cohort.uptake", "1.2"],
    ),
    (
        "unknown-rules",
        _set("economics", "rules", value="narnia"),
        ["economics.rules", "narnia"],
    ),
    (
        "phase-hazard-ratios-count",
        lambda raw: raw["effect"]["job_entry"].pop(),
        ["effect.job_entry", f"{N_PHASES - 1} hazard ratios for {N_PHASES}"],
    ),
    (
        "bad-value-under-the-old-section-name",
        _old_section_bad_dropout,
        ["programme.phases[1].dropout", "less than or equal to 1"],
    ),
    (
        "refusion-share-above-one",
        _own_benefit_refusion,
        ["economics.benefits.own.refusion", "less than or equal to 1"],
    ),
    (
        "uncertain-path-unclosed-bracket",
        _append_param({"path": "effect.job_entry[2", **_UNIFORM}),
        [f"uncertainty.parameters[{N_PARAMS}].path", "effect.job_entry[2", "names no field"],
    ),
    (
        "uncertain-path-twice",
        _append_param({"path": _PARAMS[0], "distribution": "fixed", "value": 1.5}),
        [f"uncertainty.parameters[{N_PARAMS}].path", "twice"],
    ),
    (
        "transition-to-itself",
        lambda raw: raw["labour"]["transitions"].append(
            {"from": "employed", "to": "employed", "probability": 0.1}
        ),
        [f"labour.transitions[{N_TRANSITIONS}]", "to itself"],
    ),
]
BAD_IDS = [b[0] for b in BAD_DEALS]


@pytest.mark.parametrize(("name", "edit", "needles"), BAD_DEALS, ids=BAD_IDS)
def test_run_rejects_bad_deal(tmp_path, monkeypatch, name, edit, needles):
    monkeypatch.chdir(tmp_path)
    deal = write_deal(tmp_path / "bad.toml", edit)
    out = tmp_path / "out.nc"
    result = run_cli("run", deal, "-n", "64", "--seed", "1", "-o", out)
    assert_bad_input(result, *needles)
    assert not out.exists()
    # nothing else written either (no default-named output, no temporary file)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize(("name", "edit", "needles"), BAD_DEALS, ids=BAD_IDS)
def test_validate_rejects_bad_deal(tmp_path, monkeypatch, name, edit, needles):
    monkeypatch.chdir(tmp_path)
    deal = write_deal(tmp_path / "bad.toml", edit)
    result = run_cli("validate", deal)
    assert_bad_input(result, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_each_bad_deal_has_one_line_per_problem(tmp_path):
    """A single problem gives exactly one error line (no duplicates, no union noise)."""
    # (two real problems for the horizon case; the list-probability case has its own test)
    single = [
        b for b in BAD_DEALS if b[0] not in ("phases-longer-than-horizon", "negative-probability")
    ]
    report = {}
    for name, edit, _ in single:
        deal = write_deal(tmp_path / f"{name}.toml", edit)
        result = run_cli("validate", deal)
        assert result.exit_code == 1, name
        report[name] = error_lines(result)
    several = {k: v for k, v in report.items() if len(v) != 1}
    assert not several, json.dumps(several, indent=1, ensure_ascii=False)


def test_negative_probability_in_a_list_gives_one_line(tmp_path):
    """``probability = [-0.1, ...]``: one problem, one line, naming the element. (The union
    ``float | list[float]`` must not add a line saying the list is not a number.)"""
    deal = write_deal(tmp_path / "bad.toml", _negative_probability)
    result = run_cli("validate", deal)
    lines = assert_bad_input(result, "labour.transitions[0].probability[0]")
    assert len(lines) == 1, lines
    assert not any("valid number" in ln for ln in lines), lines


def test_negative_probability_given_as_a_number(tmp_path):
    def edit(raw):
        raw["labour"]["transitions"][1]["probability"] = -0.001

    deal = write_deal(tmp_path / "bad.toml", edit)
    result = run_cli("validate", deal)
    lines = assert_bad_input(result, "labour.transitions[1].probability", "greater than or equal")
    assert len(lines) == 1, lines


def test_several_problems_give_one_line_each(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def edit(raw):
        raw["programme"]["phases"][1]["dropout"] = 1.5
        raw["contract"]["cap"] = -1
        raw["cohort"]["sizee"] = 3
        raw["cohort"]["size"] = 0
        raw["investor"]["capital"] = "lots"

    deal = write_deal(tmp_path / "bad.toml", edit)
    expected = [
        "programme.phases[1].dropout",
        "contract.cap",
        "cohort.sizee",
        "cohort.size:",
        "investor.capital",
    ]
    for args in (["validate", deal], ["run", deal, "-n", "64", "--seed", "1", "-o", "out.nc"]):
        result = run_cli(*args)
        lines = assert_bad_input(result, *expected)
        assert len(lines) == len(expected), lines
        for field in expected:
            assert sum(field in ln for ln in lines) == 1, (field, lines)
    assert not (tmp_path / "out.nc").exists()


def test_cross_checks_report_every_problem(tmp_path):
    """The whole-deal checks list each problem on its own line, each naming a field."""

    def edit(raw):
        raw["deal"]["horizon_weeks"] = SHORT_HORIZON  # phases and enrolment too long
        raw["cohort"]["segments"][0]["benefit"] = "dagpenge_x"
        raw["effect"]["education_entry"].pop()

    deal = write_deal(tmp_path / "bad.toml", edit)
    result = run_cli("validate", deal)
    lines = assert_bad_input(
        result,
        "programme.phases:",
        "cohort.enrolment:",
        "cohort.segments[0].benefit",
        "effect.education_entry",
    )
    assert len(lines) == 4, lines


def test_malformed_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = HOLBAEK.read_text(encoding="utf-8").replace("size = 180", "size = = 180", 1)
    assert text != HOLBAEK.read_text(encoding="utf-8")
    deal = tmp_path / "broken.toml"
    deal.write_text(text, encoding="utf-8")
    lineno = next(i for i, ln in enumerate(text.splitlines(), 1) if "size = = 180" in ln)
    for args in (["validate", deal], ["run", deal, "-n", "64", "--seed", "1", "-o", "out.nc"]):
        result = run_cli(*args)
        lines = assert_bad_input(result, "broken.toml", "malformed TOML", f"line {lineno}")
        assert len(lines) == 1, lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.toml"]


def test_missing_deal_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (
        ["validate", "nosuch.toml"],
        ["run", "nosuch.toml", "-n", "64", "--seed", "1", "-o", "out.nc"],
    ):
        result = run_cli(*args)
        lines = assert_bad_input(result, "nosuch.toml", "no such file")
        assert len(lines) == 1, lines
    assert list(tmp_path.iterdir()) == []


def test_a_deal_copied_without_its_posterior_says_where_it_looked(tmp_path, monkeypatch):
    """A file a deal names is read relative to the deal file: a copy taken elsewhere
    without it is one line naming the field, the name and the path looked for."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copy").mkdir()
    deal = tmp_path / "copy" / "slagelse.toml"
    deal.write_text((CONFIGS / "slagelse.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("validate", "copy/slagelse.toml")
    expected = tmp_path / "copy" / "posteriors" / "slagelse.toml"
    assert error_lines(result) == [
        "error: uncertainty.posterior: posteriors/slagelse.toml: no such file (looked for "
        f"{expected}, relative to the deal file)"
    ]
    assert result.exit_code == 1
    # a name the system cannot look up at all (too long for a file name)
    text = deal.read_text(encoding="utf-8").replace("posteriors/slagelse.toml", "x" * 300)
    deal.write_text(text, encoding="utf-8")
    result = run_cli("validate", "copy/slagelse.toml")
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: uncertainty.posterior: cannot read ")
    assert result.exit_code == 1


def test_a_missing_posterior_does_not_hide_the_deals_other_problems(tmp_path, monkeypatch):
    """The copy without its posterior, with a misspelt field and a probability of 1.5:
    one line for each, the posterior's first."""
    monkeypatch.chdir(tmp_path)
    text = (CONFIGS / "holbaek.toml").read_text(encoding="utf-8")
    assert "\nsize = 180 " in text and "probability = 0.001 " in text
    text = text.replace("\nsize = 180 ", "\nsise = 180 ").replace(
        "probability = 0.001 ", "probability = 1.5 ", 1
    )
    (tmp_path / "broken.toml").write_text(text, encoding="utf-8")
    for args in (["validate", "broken.toml"], ["run", "broken.toml", "-n", "64", "-o", "x.nc"]):
        result = run_cli(*args)
        lines = error_lines(result)
        assert result.exit_code == 1
        assert lines[0].startswith("error: uncertainty.posterior: posteriors/holbaek.toml: no ")
        assert "error: cohort.size: Field required" in lines
        assert "error: cohort.sise: unknown key" in lines
        assert any("probability" in line and "(got 1.5)" in line for line in lines), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.toml"]


def test_missing_results_file_for_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("summary", "nosuch.nc")
    lines = assert_bad_input(result, "nosuch.nc", "no such file")
    assert len(lines) == 1


def test_summary_of_a_file_that_is_not_netcdf(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deal.nc").write_text("not a netcdf file\n")
    result = run_cli("summary", "deal.nc")
    assert_bad_input(result, "deal.nc", "not a readable NetCDF")


def test_non_utf8_deal_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    deal = tmp_path / "latin1.toml"
    deal.write_bytes(HOLBAEK.read_text(encoding="utf-8").encode("latin-1", "replace"))
    result = run_cli("validate", deal)
    assert_bad_input(result, "latin1.toml")


# ------------------------------------------------------------------------ usage errors
@pytest.mark.parametrize(
    "extra",
    [
        ["-n", "0"],
        ["-n", "many"],
        ["--seed", "-1"],
        ["--seed", str(2**63)],
        ["--threads", "0"],
        ["--chunk", "0"],
        ["--no-such-option"],
    ],
    ids=lambda a: " ".join(a),
)
def test_bad_option_is_a_usage_error(tmp_path, monkeypatch, extra):
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", HOLBAEK, *extra, "-o", "out.nc")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    option = extra[0]
    assert option in result.stderr or option.lstrip("-") in result.stderr, result.stderr
    assert not (tmp_path / "out.nc").exists()
    assert list(tmp_path.iterdir()) == []


def test_validate_without_argument_is_a_usage_error():
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "Missing argument 'FILE'" in result.stderr


def test_existing_output_is_not_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.nc"
    out.write_bytes(b"precious")
    before = out.stat()
    result = run_cli("run", HOLBAEK, "-n", "64", "--seed", "1", "-o", out)
    lines = assert_bad_input(result, "--output", "out.nc", "--overwrite")
    assert len(lines) == 1
    assert out.read_bytes() == b"precious"
    assert out.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


@pytest.mark.parametrize("command", ["run", "stress", "sensitivity", "check"])
def test_the_output_is_never_the_deal_file_itself(tmp_path, monkeypatch, command):
    """-o naming the deal file (by another spelling, with --overwrite) is refused before
    any work: the deal is left as it was."""
    shutil.copytree(CONFIGS, tmp_path / "configs")
    monkeypatch.chdir(tmp_path / "configs")
    deal = tmp_path / "configs" / "holbaek.toml"
    before = deal.read_bytes()
    files = sorted(p.name for p in deal.parent.iterdir())
    size = ["--draws", "10", "--replicates", "1"] if command == "check" else ["-n", "8"]
    args = [*size, "--seed", "1", "-o", "../configs/holbaek.toml", "--overwrite"]
    result = run_cli(command, "holbaek.toml", *args)
    lines = assert_bad_input(result, "--output", "../configs/holbaek.toml", "input file itself")
    assert len(lines) == 1
    assert deal.read_bytes() == before
    assert sorted(p.name for p in deal.parent.iterdir()) == files


OTHER_INPUTS = {
    # command line, and the input file -o names (relative to the copied configs folder)
    "a stress file": (["stress", "holbaek.toml", "--stress-file", "stress/downturn.toml"],
                      "stress/downturn.toml"),
    "a results file": (["voi", "r.nc"], "r.nc"),
    "a sweep file": (["sweep", "sweeps/all_deals_grid.toml"], "sweeps/all_deals_grid.toml"),
    "a deal of a sweep": (["sweep", "holbaek.toml", "slagelse.toml"], "slagelse.toml"),
    "a fund file": (["portfolio", "funds/dsi_fund.toml"], "funds/dsi_fund.toml"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(OTHER_INPUTS))
def test_the_output_is_never_another_input_file(tmp_path, monkeypatch, case):
    """The same for the other files a command reads: a stress file, the results file voi
    reads, a sweep file or one of its deals, a fund file."""
    shutil.copytree(CONFIGS, tmp_path / "configs")
    monkeypatch.chdir(tmp_path / "configs")
    (tmp_path / "configs" / "r.nc").write_bytes(b"a results file")
    args, target = OTHER_INPUTS[case]
    before = (tmp_path / "configs" / target).read_bytes()
    size = [] if args[0] == "voi" else ["-n", "8", "--seed", "1"]  # voi reads a run
    result = run_cli(*args, *size, "-o", target, "--overwrite")
    lines = assert_bad_input(result, "--output", target, "input file itself")
    assert len(lines) == 1
    assert (tmp_path / "configs" / target).read_bytes() == before


def test_existing_default_output_is_not_overwritten(tmp_path, monkeypatch):
    """Without -o the output is DEAL's name with .nc in the working directory."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "holbaek.nc"
    out.write_bytes(b"precious")
    result = run_cli("run", HOLBAEK, "-n", "64", "--seed", "1")
    lines = assert_bad_input(result, "holbaek.nc", "--overwrite")
    # the message says the name is the default one, not one the user gave
    assert lines == [
        "error: --output: holbaek.nc (the default name, as no -o was given) exists (use "
        "--overwrite to replace it, or -o to write another file)"
    ]
    assert out.read_bytes() == b"precious"


# ----------------------------------------------------- values the schema must not accept
@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("programme", "phases", 1, "cost_per_week"), "programme.phases[1].cost_per_week"),
        (("investor", "capital"), "investor.capital"),
        (("contract", "cap"), "contract.cap"),
    ],
    ids=["cost_per_week", "capital", "contract-cap"],
)
def test_infinite_amount_is_bad_input(tmp_path, monkeypatch, path, field):
    """TOML allows ``inf``; an infinite amount of money is bad input, not a crash later."""
    monkeypatch.chdir(tmp_path)
    deal = write_deal(tmp_path / "bad.toml", _set(*path, value=math.inf))
    result = run_cli("run", deal, "-n", "64", "--seed", "1", "-o", "out.nc")
    assert_bad_input(result, field)
    assert not (tmp_path / "out.nc").exists()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("cohort", "size"), True, "cohort.size"),
        (("programme", "phases", 1, "dropout"), "0.01", "programme.phases[1].dropout"),
        (("deal", "horizon_weeks"), "312", "deal.horizon_weeks"),
    ],
    ids=["bool-for-int", "string-for-float", "string-for-int"],
)
def test_wrong_toml_type_is_not_coerced(tmp_path, path, value, field):
    """A TOML boolean or string where a number belongs is a wrong type (like "many")."""
    deal = write_deal(tmp_path / "bad.toml", _set(*path, value=value))
    result = run_cli("validate", deal)
    assert_bad_input(result, field)


def test_benefits_that_are_not_a_table(tmp_path):
    """``economics.benefits = 5`` must be reported, not replaced by the shared rules."""
    deal = write_deal(tmp_path / "bad.toml", _set("economics", "benefits", value=5))
    result = run_cli("validate", deal)
    assert_bad_input(result, "economics.benefits")


def test_missing_rules_file_names_the_field(tmp_path):
    deal = write_deal(tmp_path / "bad.toml", _set("economics", "rules", value="nosuch.toml"))
    result = run_cli("validate", deal)
    lines = assert_bad_input(result, "nosuch.toml")
    assert any("economics.rules" in ln for ln in lines), lines
