"""The simulation: deal + leaf values -> kernel inputs -> the kernel -> weekly counts and
citizen outcomes.

:func:`simulate` runs the kernel for one chunk of scenarios and returns a
:class:`~simrisk.simulation.kernel.KernelOut` whose weekly arrays have the
horizon's length (the kernel's scratch week dropped). Modules: :mod:`.kernel`
(numba, arrays only), :mod:`.inputs` (the deal's arrays).
"""

from __future__ import annotations

import numpy as np

from simrisk import rng
from simrisk.simulation.groups import KernelOut
from simrisk.simulation.inputs import (
    UNLIMITED,
    KernelIn,
    Structure,
    build_structure,
    kernel_inputs,
    kernel_outputs,
    planned_entries,
)
from simrisk.simulation.kernel import scratch, simulate_chunk

__all__ = [
    "UNLIMITED",
    "KernelIn",
    "KernelOut",
    "Structure",
    "Workspace",
    "build_structure",
    "kernel_inputs",
    "planned_entries",
    "simulate",
]


def _check_apart(out: KernelOut, inputs: tuple) -> None:
    """The kernel is compiled on the promise that an array it writes shares no memory
    with any other argument (:mod:`simrisk.jit`); a cheap check of the arrays' bounds."""
    arrays = [a for a in (*out, *inputs) if isinstance(a, np.ndarray) and a.size]
    for i, a in enumerate(out):
        for b in arrays:
            if b is not a and a.size and np.may_share_memory(a, b):
                raise RuntimeError(f"kernel output {KernelOut._fields[i]} overlaps another array")


_kernel_off = False


def leave_kernel_out() -> None:
    """From now on :func:`simulate` does not call the kernel: its outputs stay as the
    kernel starts them, with no citizen enrolled. Only for a process that compiles the
    rest of a run while another compiles the kernel (:mod:`simrisk.compiled`)."""
    global _kernel_off
    _kernel_off = True


class Workspace:
    """Kernel output buffers reused from chunk to chunk (no page faults, no re-allocation)."""

    def __init__(self, n: int, n_citizens: int, st: Structure):
        self.n = n
        self.bufs = kernel_outputs(n, n_citizens, st)

    def take(self, m: int) -> KernelOut:
        if m > self.n:
            raise ValueError(f"workspace holds {self.n} scenarios, not {m}")
        return KernelOut(*(buf[:m] for buf in self.bufs))  # the kernel clears its rows


def simulate(
    key: np.uint64,
    scen0: int,
    st: Structure,
    kin: KernelIn,
    control: bool = False,
    workspace: Workspace | None = None,
) -> KernelOut:
    """Run the kernel for the scenarios ``[scen0, scen0 + kin.n)``.

    ``control``: simulate a control group (counterfactual arm only, on citizen streams
    of their own). With a workspace the arrays are views into it, valid until its next
    use. Weekly arrays have shape (scenario, arm, week, state/benefit) and (scenario,
    week, phase).
    """
    n = kin.n
    n_citizens = kin.cohort.entry_planned.shape[0]
    if _kernel_off:
        return _trimmed(kernel_outputs(n, n_citizens, st))
    out = kernel_outputs(n, n_citizens, st) if workspace is None else workspace.take(n)
    _check_apart(out, (st.check_off, st.ss_windows, *kin.cohort, *kin.labour,
                       *kin.programme, *kin.ledger))  # fmt: skip
    simulate_chunk(
        key,
        scen0,
        rng.CONTROL_OFFSET if control else 0,
        not control,
        st.check_off,
        st.ss_windows,
        kin.cohort,
        kin.labour,
        kin.programme,
        kin.ledger,
        *out,
        *scratch(),
    )
    return _trimmed(out)


def _trimmed(out: KernelOut) -> KernelOut:
    """The weekly arrays without the kernel's scratch week (their difference arrays are
    summed)."""
    return out._replace(
        state_count=out.state_count[:, :, :-1],
        benefit_weeks=out.benefit_weeks[:, :, :-1],
        refusion_weeks=out.refusion_weeks[:, :, :-1],
        programme_count=out.programme_count[:, :-1],
        work_fte=out.work_fte[:, :, :-1],
    )
