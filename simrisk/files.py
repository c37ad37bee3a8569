"""Reading TOML and writing outputs atomically.

Every file or directory simrisk writes goes through :func:`atomic_write`: it is
built beside its target under a hidden temporary name and renamed into place,
so an output is either complete or absent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from simrisk.errors import ConfigError


def read_toml(path: str | Path) -> tuple[dict, str]:
    """Read a TOML file: its data and its text; ConfigError for a missing or bad file."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(str(path), [f"{path}: no such file"])
    if p.is_dir():
        raise ConfigError(str(path), [f"{path}: is a directory, not a TOML file"])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"{path}: malformed TOML: {exc}"]) from None
    return data, text


def _readable(path: Path) -> None:
    """Give a file or directory made by mkstemp/mkdtemp (mode 0600/0700) the usual
    permissions under the umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def atomic_write(
    path: str | Path,
    write: Callable[[Path], None],
    *,
    overwrite: bool = False,
    directory: bool = False,
) -> Path:
    """Build ``path`` with ``write(tmp)`` under a temporary name beside it, then rename.

    ``directory``: the output is a directory (a Zarr store, a report); ``write`` gets
    an empty temporary directory to fill. Raises FileExistsError when ``path`` exists
    and ``overwrite`` is false. On any failure the temporary file is removed and the
    target is left as it was.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=parent)
        os.close(fd)
        tmp = Path(name)
    try:
        write(tmp)
        _readable(tmp)
        if directory and path.exists():
            old = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=parent))
            os.replace(path, old / "previous")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write a text file atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), overwrite=overwrite)
