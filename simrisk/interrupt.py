"""Interruptions (Ctrl-C, SIGTERM) that cannot be lost.

A signal handler that raises ``KeyboardInterrupt`` is not enough: when the signal
arrives while numba compiles, the exception is raised inside a ctypes callback of
llvmlite, which prints and swallows it, and the run would go on to write its output.
So the handler also records the request, and :func:`check` raises it again at the
points where the work can stop cleanly: after each chunk, and before an output is put
in place.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


def request(signum=None, frame=None) -> None:
    """Signal handler: record the interruption and raise it here too, unless the signal
    arrived inside llvmlite (numba compiling), where the exception would only be printed
    with its traceback and swallowed: :func:`check` raises it once the compiling is
    done."""
    _requested.set()
    if not _in_llvmlite(frame):
        raise KeyboardInterrupt


def _in_llvmlite(frame) -> bool:
    while frame is not None:
        if "llvmlite" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def check() -> None:
    """Raise ``KeyboardInterrupt`` if an interruption was requested (and perhaps
    swallowed where it was first raised)."""
    if _requested.is_set():
        raise KeyboardInterrupt


def clear() -> None:
    """Forget a handled interruption (for a process that goes on, such as a test)."""
    _requested.clear()
