"""One function per command: the whole job (load, check, simulate, write), returning what
to show (:class:`simrisk.tables.Output`).

The command line (:mod:`simrisk.cli`) only parses options, calls one of these and
renders what it returns; a Python user calls the same functions. Messages meant
for the moment they happen (a drawn seed, what a sweep will do, files written)
go to ``ui.log``, progress to ``ui.progress``. Modules: :mod:`.deal` (run,
validate, summary, report), :mod:`.analysis` (stress, sensitivity, solve,
calibrate), :mod:`.batch` (sweep, portfolio).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from simrisk.config import DealConfig, load_deal
from simrisk.errors import ConfigError
from simrisk.files import exclusive


class UI:
    """Where a job reports as it goes; the default says nothing."""

    def log(self, message: str) -> None:
        pass

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda k: None


QUIET = UI()


class DefaultOutput(str):
    """An output file name the user did not give: the job's default for the deal."""


def exists_problem(path: str | Path) -> str:
    if isinstance(path, DefaultOutput):
        return (
            f"--output: {path} (the default name, as no -o was given) exists (use --overwrite "
            "to replace it, or -o to write another file)"
        )
    return f"--output: {path} exists (use --overwrite to replace it)"


def check_output(path: str | Path, overwrite: bool) -> None:
    """Refuse before any work when the output exists and may not be replaced."""
    if Path(path).exists() and not overwrite:
        raise ConfigError(str(path), [exists_problem(path)])


@contextmanager
def claim_output(path: str | Path, overwrite: bool, *, inputs: tuple) -> Iterator[None]:
    """Before any work: refuse an output that is one of the job's ``inputs`` (the deal
    file), one that exists (unless ``overwrite``), one that another simrisk process is
    writing, or one in a folder that cannot be written; hold it for this job until it
    ends."""
    for inp in inputs:
        if inp is not None and Path(path).resolve() == Path(inp).resolve():
            raise ConfigError(
                str(path), [f"--output: {path} is the input file itself; give another path"]
            )
    check_output(path, overwrite)
    try:
        with exclusive(path):
            yield
    except FileExistsError as exc:
        raise ConfigError(str(path), [f"--output: {exc}"]) from None


def default_output(deal: str | Path, suffix: str) -> str:
    """``DEAL`` name with ``suffix`` (``.nc``, ``_stress.nc``) in the working directory."""
    return DefaultOutput(Path(deal).stem + suffix)


def seed_or_draw(seed: int | None, ui: UI) -> int:
    """The seed given, or a drawn one (said on the ui, so the run can be repeated)."""
    if seed is None:
        seed = secrets.randbits(32)
        ui.log(f"seed: {seed} (drawn; pass --seed {seed} to repeat this run)")
    return seed


_announced = False


def announce_compiling(ui: UI, cfg: DealConfig | None = None, uses: str = "run") -> None:
    """Before the first simulation of a process: say so on the ui when the kernels a job
    of kind ``uses`` calls (:data:`simrisk.compiled.USES`) will be compiled (a first run
    after installing or upgrading is slow for that reason), and with the deal ``cfg``,
    have a second core compile the kernels other than the simulation kernel meanwhile
    (:func:`simrisk.compiled.start_compiling_rest`)."""
    global _announced
    if _announced:
        return
    _announced = True
    from simrisk.compiled import notice, start_compiling_rest

    line = notice(uses)
    if line:
        ui.log(line)
        if cfg is not None:
            start_compiling_rest(cfg, uses)


def load(path: str | Path, ui: UI) -> tuple[DealConfig, str]:
    """Load a deal file; its warnings go to the ui. Another kind of input file (a fund, a
    sweep, an evidence file ...) is refused in one line saying what it is for."""
    from simrisk.jobs.deal import kind_problems

    problems = kind_problems(path, ("deal",), "DEAL")
    if problems:
        raise ConfigError(str(path), problems)
    cfg, text = load_deal(path)
    for w in cfg.warnings:
        ui.log(f"warning: {w}")
    return cfg, text
