"""The README's table of commands and the command line's --help agree, option for
option: the same commands, the same options (by any of their names), and an option is
shown in brackets exactly when it is optional. Every option has help text."""

from __future__ import annotations

import re

import click
import pytest

from simrisk.cli import main
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _synopses() -> dict[str, str]:
    """Command name -> its synopsis in the README's table of commands."""
    section = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        m = re.match(r"^\| (`simrisk [^|]*?(?:\\\|[^|]*?)*`) \|", line)
        if m:
            spans = re.findall(r"`([^`]*)`", m.group(1))
            synopsis = " ".join(spans).replace("\\|", "|")
            name = synopsis.split()[1]
            assert name not in out, f"{name} twice in the README's table"
            out[name] = synopsis
    return out


SYNOPSES = _synopses()


def _options(synopsis: str) -> dict[str, bool]:
    """Option names in a synopsis -> whether it is optional (inside brackets)."""
    out = {}
    depth = 0
    for m in re.finditer(r"\[|\]|(?<![\w=,])(--?[a-z][a-z-]*)", synopsis):
        tok = m.group(0)
        if tok == "[":
            depth += 1
        elif tok == "]":
            depth -= 1
        else:
            out[tok] = depth > 0
    return out


def _click_options(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and p.name != "help"]


def test_the_readme_lists_every_command_once():
    assert sorted(SYNOPSES) == sorted(main.commands)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_readme_and_help_agree_option_for_option(name):
    cmd = main.commands[name]
    shown = _options(SYNOPSES[name])
    opts = _click_options(cmd)
    for opt in opts:
        names = [n for n in opt.opts + opt.secondary_opts if n in shown]
        assert names, f"{name}: {'/'.join(opt.opts)} is in --help but not in the README"
        for n in names:
            assert shown[n] == (not opt.required), (
                f"{name}: {n} is {'required' if opt.required else 'optional'} in --help, "
                f"{'optional' if shown[n] else 'required'} in the README"
            )
    known = {n for opt in opts for n in opt.opts + opt.secondary_opts}
    extra = sorted(set(shown) - known)
    assert not extra, f"{name}: the README shows {extra}, which --help does not have"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_option_has_help(name):
    for opt in _click_options(main.commands[name]):
        assert opt.help and len(opt.help) > 10, f"{name} {opt.opts}: no help text"
    assert main.commands[name].help, f"{name}: no description"


def test_the_parser_sees_brackets_and_alternatives():
    got = _options("simrisk x A -o B [--a X \\| --b Y] [-n N [--c]]".replace("\\|", "|"))
    assert got == {"-o": False, "--a": True, "--b": True, "-n": True, "--c": True}


def _single_argument(name: str) -> click.Argument | None:
    args = [p for p in main.commands[name].params if isinstance(p, click.Argument)]
    return args[0] if len(args) == 1 and args[0].nargs == 1 else None


SINGLE = sorted(n for n in main.commands if _single_argument(n) is not None)


def test_most_commands_take_one_argument():
    assert len(SINGLE) >= 9  # all but report, compare and sweep


@pytest.mark.parametrize("name", SINGLE)
def test_a_single_argument_has_the_same_name(name):
    """A command of one argument (DEAL, RESULT, FUND, FILE) names it as --help does; the
    README adds the file's extension (DEAL.toml)."""
    args = [_single_argument(name)]
    metavar = args[0].make_metavar(click.Context(main.commands[name])).rstrip(".")
    first = SYNOPSES[name].split()[2]
    assert first.split(".")[0] == metavar, f"{name}: README {first}, --help {metavar}"
