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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from simrisk import interrupt
from simrisk.errors import ConfigError


def read_toml(path: str | Path) -> tuple[dict, str]:
    """Read a TOML file: its data and its text; ConfigError for a missing or bad file."""
    p = Path(path)
    try:
        if not p.exists():
            raise ConfigError(str(path), [f"{path}: no such file"])
        if p.is_dir():
            raise ConfigError(str(path), [f"{path}: is a directory, not a TOML file"])
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
        ) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"{path}: malformed TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(
            str(path), [f"{path}: nested too deeply to be a simrisk file (arrays or tables)"]
        ) from None
    deep = too_deep(data)
    if deep is not None:
        raise ConfigError(
            str(path), [f"{deep}: nested more than {MAX_DEPTH} levels deep (no simrisk file is)"]
        )
    return data, text


MAX_DEPTH = 12
"""The deepest nesting of tables and arrays a simrisk input file may have."""


def too_deep(data, limit: int = MAX_DEPTH) -> str | None:
    """The path of the first value nested deeper than ``limit`` levels, or None (an
    iterative walk: no recursion limit to hit)."""
    stack = [(data, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if depth > limit:
            return where or "<top>"
        if isinstance(node, dict):
            stack.extend(
                (v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in node.items()
            )
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node))
    return None


def _readable(path: Path) -> None:
    """Give a file or directory made by mkstemp/mkdtemp (mode 0600/0700) the usual
    permissions under the umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _owner(name: str, prefix: str) -> int | None:
    """The process id in a temporary or lock name ``PREFIX<pid>.<...>``."""
    rest = name[len(prefix) :]
    head = rest.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def clean_stale(path: Path) -> list[Path]:
    """Remove the temporary files and folders that an interrupted writer of ``path``
    left beside it (their process is gone); returns what was removed."""
    parent = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}."
    removed = []
    if not parent.is_dir():
        return removed
    for p in parent.iterdir():
        if not (p.name.startswith(prefix) and p.name.endswith((".part", ".old"))):
            continue
        pid = _owner(p.name, prefix)
        if pid is not None and not _alive(pid):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def lock_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextmanager
def exclusive(path: str | Path) -> Iterator[None]:
    """Hold ``path`` for one writer: a lock file beside it names this process; a second
    writer of the same path (while this one lives) gets a FileExistsError naming the
    holder. A lock left by a process that is gone is taken over. Creating the lock also
    shows, before any work, that the folder can be written."""
    lock = lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        if not lock.parent.is_dir():
            raise NotADirectoryError(20, "not a directory")
    except OSError as exc:
        raise OSError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise FileExistsError(
                    f"{path} is being written by another simrisk process (pid {pid}); wait "
                    "for it, or choose another output"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its writer is gone
            continue
        except OSError as exc:
            raise OSError(f"{path}: cannot write here ({exc.strerror or exc})") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    else:  # pragma: no cover - a third process took it in between
        raise FileExistsError(f"{path} is being written by another simrisk process")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


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
    (or appears while writing) and ``overwrite`` is false: a file is published with a
    link that fails rather than replaces. On any failure, an interruption included, the
    temporary file is removed and the target is left as it was; temporaries of writers
    that were killed are removed the next time the path is written. Failures to write
    (a full disk, a read-only folder) come as OSError naming the path.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (use --overwrite to replace it)")
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale(path)
        prefix = f".{path.name}.{os.getpid()}."
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise OSError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    try:
        try:
            write(tmp)
        except (OSError, RuntimeError) as exc:  # netCDF4 reports a full disk as RuntimeError
            raise OSError(f"{path}: writing failed ({exc})") from None
        _readable(tmp)
        interrupt.check()  # an interruption that was swallowed while writing
        _publish(tmp, path, overwrite, directory, parent, prefix)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    return path


def _publish(tmp: Path, path: Path, overwrite: bool, directory: bool, parent, prefix) -> None:
    if directory:
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"{path} exists (use --overwrite to replace it)")
            old = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=parent))
            os.replace(path, old / "previous")
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old / "previous", path)  # put the old one back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    elif overwrite:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)  # fails if the path appeared meanwhile: never replaces
        except FileExistsError:
            raise FileExistsError(f"{path} exists (use --overwrite to replace it)") from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise FileExistsError(f"{path} exists (use --overwrite to replace it)") from None
            os.replace(tmp, path)
            return
        tmp.unlink()


def write_text(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write a text file atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), overwrite=overwrite)


def write_folder(
    out_dir: str | Path,
    write: Callable[[Path], None],
    names: list[str],
    stale: Iterable[str] = (),
) -> None:
    """Write the files ``names`` into ``out_dir`` by ``write(folder)``, built aside: a new
    directory appears as a whole; into an existing one each file is moved in, and the
    plain files ``stale`` names (an earlier output's that this one does not write) are
    removed; its other files stay. Nothing half-written is left if ``write`` fails."""
    out_dir = Path(out_dir)
    if not out_dir.exists():
        atomic_write(out_dir, write, directory=True)
        return
    parent = out_dir.resolve().parent
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.", dir=parent) as tmp:
        write(Path(tmp))
        for n in names:
            os.replace(Path(tmp) / n, out_dir / n)
    for n in set(stale) - set(names):
        if (out_dir / n).is_file() and not (out_dir / n).is_symlink():
            (out_dir / n).unlink()
