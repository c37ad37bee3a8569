"""How the simulation kernel is compiled: one core, no reference counting, arrays that do
not overlap.

The kernel runs on one core per call; :mod:`simrisk.parallel` runs whole chunks on all
cores at once. Compiled that way it takes a quarter of the compile time of a ``prange``
loop, if LLVM is told two things that a ``prange`` loop tells it implicitly:

* ``_nrt=False``: the kernel allocates nothing (its scratch arrays come from the
  caller), so numba need not count references to the arrays it indexes; the counting
  costs an atomic operation per array per stretch of weeks;
* ``noalias``: no two array arguments share memory (the outputs are the caller's own
  buffers, the inputs are read only), so values read from the inputs need not be read
  again after every write to an output.

numba has no public option for the second; it sets it itself for the bodies of
``prange`` loops. :data:`KERNEL` asks for it through numba's own mapping of options to
compiler flags where that mapping exists (numba 0.60 and later), and leaves it out
where it does not: the kernel is then slower, never different.
"""

from __future__ import annotations

try:  # numba's mapping of a decorator option to its compiler flag of the same name
    from numba.core import cpu, options

    if not hasattr(cpu.CPUTargetOptions, "noalias"):
        cpu.CPUTargetOptions.noalias = options.TargetOptions.Mapping("noalias")
    NOALIAS = {"noalias": True}
except (ImportError, AttributeError):  # pragma: no cover - another numba
    NOALIAS = {}

KERNEL = {"nogil": True, "cache": True, "error_model": "numpy", "_nrt": False, **NOALIAS}
"""Decorator options of the simulation kernel."""
