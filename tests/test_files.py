"""Reading TOML and the one atomic writer (simrisk.files): an output is complete or
absent, an existing one is replaced only when asked, nothing temporary is left behind,
and permissions follow the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from simrisk.errors import ConfigError
from simrisk.files import atomic_write, read_toml, write_text


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class Boom(Exception):
    pass


@pytest.fixture
def umask():
    """Set the umask for a test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


# ----------------------------------------------------------------------------- read_toml
def test_read_toml_returns_data_and_text(tmp_path):
    text = "# a comment\nname = 'x'\n[a]\nb = [1, 2.5]\n"
    (tmp_path / "f.toml").write_text(text, encoding="utf-8")
    data, got = read_toml(tmp_path / "f.toml")
    assert data == {"name": "x", "a": {"b": [1, 2.5]}}
    assert got == text


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory, not a TOML file"),
        (lambda p: p.write_bytes("navn = 'Holbæk'\n".encode("latin-1")), "not UTF-8 text"),
        (lambda p: p.write_text("a = 1\nb = = 2\n"), "malformed TOML"),
    ],
    ids=["missing", "directory", "latin-1", "malformed"],
)
def test_read_toml_problems_are_one_line_naming_the_file(tmp_path, make, words):
    path = tmp_path / "f.toml"
    make(path)
    with pytest.raises(ConfigError) as err:
        read_toml(path)
    (line,) = err.value.problems
    assert line.startswith(f"{path}: ") and words in line
    assert err.value.source == str(path)


def test_malformed_toml_names_the_line(tmp_path):
    (tmp_path / "f.toml").write_text("a = 1\n\nb = = 2\n")
    with pytest.raises(ConfigError, match=r"line 3"):
        read_toml(tmp_path / "f.toml")


# -------------------------------------------------------------------------- atomic_write
def test_atomic_write_builds_beside_the_target_then_renames(tmp_path):
    target = tmp_path / "out.nc"
    seen = {}

    def write(tmp: Path) -> None:
        seen["tmp"] = tmp
        seen["target_during"] = target.exists()
        tmp.write_text("complete")

    assert atomic_write(target, write) == target
    assert target.read_text() == "complete"
    tmp = seen["tmp"]
    assert tmp.parent == tmp_path and tmp.name.startswith(".out.nc.") and tmp.suffix == ".part"
    assert seen["target_during"] is False  # the target appears only when complete
    assert listing(tmp_path) == ["out.nc"]


def test_failed_write_leaves_the_target_unchanged_and_no_temporary(tmp_path):
    target = tmp_path / "out.nc"
    target.write_text("precious")

    def write(tmp: Path) -> None:
        tmp.write_text("half")
        raise Boom

    with pytest.raises(Boom):
        atomic_write(target, write, overwrite=True)
    assert target.read_text() == "precious"
    assert listing(tmp_path) == ["out.nc"]


def test_interrupted_write_is_cleaned_up_too(tmp_path):
    def write(tmp: Path) -> None:
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "new.nc", write)
    assert listing(tmp_path) == []


def test_existing_target_is_not_replaced_without_overwrite(tmp_path):
    target = tmp_path / "out.nc"
    target.write_text("precious")
    before = target.stat().st_mtime_ns
    called = []
    with pytest.raises(FileExistsError, match="out.nc exists"):
        atomic_write(target, lambda tmp: called.append(tmp))
    assert called == []  # refused before any work
    assert target.read_text() == "precious" and target.stat().st_mtime_ns == before
    assert listing(tmp_path) == ["out.nc"]
    atomic_write(target, lambda tmp: tmp.write_text("new"), overwrite=True)
    assert target.read_text() == "new"
    assert listing(tmp_path) == ["out.nc"]


def test_missing_parent_folders_are_made(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    atomic_write(target, lambda tmp: tmp.write_text("x"))
    assert target.read_text() == "x"


def test_a_relative_path_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic_write("plain.txt", lambda tmp: tmp.write_text("x"))
    assert listing(tmp_path) == ["plain.txt"]


# --------------------------------------------------------------------- directory mode
def _fill(tmp: Path) -> None:
    assert tmp.is_dir() and list(tmp.iterdir()) == []  # an empty directory to fill
    (tmp / "a.txt").write_text("a")
    (tmp / "sub").mkdir()
    (tmp / "sub" / "b.txt").write_text("b")


def test_directory_mode_moves_a_whole_directory_into_place(tmp_path):
    target = tmp_path / "store.zarr"
    atomic_write(target, _fill, directory=True)
    assert target.is_dir()
    assert (target / "a.txt").read_text() == "a" and (target / "sub" / "b.txt").read_text() == "b"
    assert listing(tmp_path) == ["store.zarr"]


def test_directory_mode_replaces_an_old_directory_as_a_whole(tmp_path):
    target = tmp_path / "store.zarr"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with pytest.raises(FileExistsError):
        atomic_write(target, _fill, directory=True)
    assert listing(target) == ["stale.txt"]
    atomic_write(target, _fill, directory=True, overwrite=True)
    assert listing(target) == ["a.txt", "sub"]  # nothing of the old one is kept
    assert listing(tmp_path) == ["store.zarr"]


def test_failed_directory_write_leaves_the_old_directory_and_no_temporary(tmp_path):
    target = tmp_path / "store.zarr"
    target.mkdir()
    (target / "stale.txt").write_text("old")

    def write(tmp: Path) -> None:
        _fill(tmp)
        raise Boom

    with pytest.raises(Boom):
        atomic_write(target, write, directory=True, overwrite=True)
    assert listing(target) == ["stale.txt"]
    assert listing(tmp_path) == ["store.zarr"]


# ------------------------------------------------------------------------- permissions
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_text_permissions_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    path = write_text(tmp_path / "f.txt", "hello\n")
    assert path.read_text(encoding="utf-8") == "hello\n"
    assert stat.S_IMODE(path.stat().st_mode) == mode  # not mkstemp's 0600
    # replacing keeps following the umask
    umask(0o022)
    write_text(path, "again\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 and path.read_text() == "again\n"


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o755), (0o027, 0o750)])
def test_directory_permissions_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    target = atomic_write(tmp_path / "d", _fill, directory=True)
    assert stat.S_IMODE(target.stat().st_mode) == mode  # not mkdtemp's 0700


def test_write_text_replaces_by_default_but_can_refuse(tmp_path):
    path = tmp_path / "f.txt"
    write_text(path, "one")
    write_text(path, "two")
    assert path.read_text() == "two"
    with pytest.raises(FileExistsError):
        write_text(path, "three", overwrite=False)
    assert path.read_text() == "two"
    write_text(path, "ø — unicode\n")
    assert path.read_bytes() == "ø — unicode\n".encode()


# ------------------------------------------------------------ exclusive outputs, stale parts
def test_a_second_writer_of_the_same_path_is_refused(tmp_path):
    from simrisk.files import exclusive, lock_path

    out = tmp_path / "r.nc"
    with exclusive(out):
        assert lock_path(out).read_text() == str(os.getpid())
        with pytest.raises(FileExistsError, match="being written by another simrisk process"):
            with exclusive(out):
                pass  # pragma: no cover
    assert not lock_path(out).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    from simrisk.files import exclusive, lock_path

    dead = _dead_pid()
    out = tmp_path / "r.nc"
    lock_path(out).write_text(str(dead))
    with exclusive(out):
        assert lock_path(out).read_text() == str(os.getpid())


def _dead_pid() -> int:
    import subprocess

    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_temporaries_of_a_killed_writer_are_removed_on_the_next_write(tmp_path):
    out = tmp_path / "r.txt"
    stale = tmp_path / f".r.txt.{_dead_pid()}.abc.part"
    stale.write_text("half")
    mine = tmp_path / f".r.txt.{os.getpid()}.xyz.part"  # a live writer's: kept
    mine.write_text("busy")
    other = tmp_path / ".other.txt.1.part"  # another target's: not touched
    other.write_text("x")
    write_text(out, "whole")
    assert out.read_text() == "whole"
    assert not stale.exists() and mine.exists() and other.exists()


def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path):
    out = tmp_path / "r.txt"

    def write(p):
        p.write_text("mine")
        out.write_text("theirs")  # another writer finished first

    with pytest.raises(FileExistsError):
        atomic_write(out, write)
    assert out.read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_a_write_that_fails_names_the_path_in_one_line(tmp_path):
    out = tmp_path / "r.nc"

    def full_disk(p):
        raise RuntimeError("NetCDF: HDF error")

    with pytest.raises(OSError, match=r"r\.nc: writing failed \(NetCDF: HDF error\)"):
        atomic_write(out, full_disk)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_said_before_any_work(tmp_path):
    from simrisk.files import exclusive

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores the mode: make the folder a file instead
            ro.chmod(0o700)
            ro.rmdir()
            ro.write_text("a file, not a folder")
        with pytest.raises(OSError, match="cannot write here"):
            with exclusive(ro / "r.nc"):
                pass  # pragma: no cover
    finally:
        if ro.is_dir():
            ro.chmod(0o700)


def test_deep_nesting_is_refused_in_one_line(tmp_path):
    from simrisk.files import MAX_DEPTH

    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 600 + "]" * 600)
    with pytest.raises(ConfigError) as err:
        read_toml(deep)
    assert len(err.value.problems) == 1 and "nested too deeply" in err.value.problems[0]
    nested = tmp_path / "nested.toml"
    nested.write_text("x = " + "{a = " * (MAX_DEPTH + 2) + "1" + "}" * (MAX_DEPTH + 2))
    with pytest.raises(ConfigError) as err:
        read_toml(nested)
    assert err.value.problems[0].startswith("x.a.a.a")
