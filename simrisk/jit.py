"""How the simulation kernel is compiled: one core, no reference counting, written
arrays that overlap nothing.

The kernel runs on one core per call; :mod:`simrisk.parallel` runs whole chunks on all
cores at once. Without a ``prange`` loop numba compiles it in a quarter of the time, and
it runs as fast as (a little faster than) the ``prange`` body did, given two options:

* ``_nrt=False``: the kernel allocates nothing (its scratch arrays come from the
  caller), so numba does not count references to the arrays it indexes. This is nearly
  all of the speed: with the counting the one-core kernel is 3.6 times slower (measured
  on 512 Holbæk scenarios; a ``prange`` body avoids most of the counting by itself).
* ``noalias``: an array the kernel writes shares no memory with any other argument (the
  outputs are the caller's own buffers, the inputs are read only), so a value read from
  an input need not be read again after every write to an output: about 5 % more.
  :func:`simrisk.simulation.simulate` checks the promise before every call.

numba has no public option for the second (it sets the flag itself for a ``prange``
body in which it finds no aliases). :data:`KERNEL` asks for it through numba's own
mapping of decorator options to compiler flags (registered for the whole process) where
that mapping exists, and leaves it out where it does not: the kernel is then slower,
never different. Editing this file does not invalidate numba's cached kernel (see
``docs/architecture.md``).
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
