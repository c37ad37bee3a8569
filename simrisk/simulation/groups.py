"""The simulation kernel's inputs in four groups, and its outputs: namedtuples of arrays
(numba passes them to the kernel as typed tuples; nothing here is computed)."""

from __future__ import annotations

from collections import namedtuple

CohortIn = namedtuple(
    "CohortIn",
    "entry_planned uptake delay seg_cum seg_weeks seg_btype seg_hr frailty_var",
)
CohortIn.__doc__ = """Who enters when, in which segment, with which frailty (``ns`` scenarios,
``N`` citizens, ``G`` segments).

entry_planned : int64 (N,), planned entry week of each citizen
uptake : float64 (ns,), probability that a planned citizen enrols
delay : int64 (ns,), weeks added to every entry week
seg_cum : float64 (ns, G), cumulative segment shares (last = 1)
seg_weeks : int64 (G,), weeks on benefit at entry per segment
seg_btype : int64 (G,), benefit type index per segment
seg_hr : float64 (ns, G), job-entry hazard ratio per segment
frailty_var : float64 (ns,), variance of the gamma frailty (mean 1)
"""

LabourIn = namedtuple("LabourIn", "dur_edges haz piece_next job_mult cal_mult cal_next")
LabourIn.__doc__ = """Business-as-usual hazards (``P`` duration pieces, ``H`` weeks).

dur_edges : int64 (P,), first week-in-state of each duration piece (dur_edges[0] = 0)
haz : float64 (ns, 5, P, 5), weekly hazard from-state, piece, to-state
piece_next : int64 (ns, 5, P), for a state and duration piece, the next piece whose
    hazards differ (P if none)
job_mult : float64 (ns,), multiplier of the benefit -> employed hazard
cal_mult : float64 (H,), calendar multiplier of the benefit -> employed hazard
cal_next : int64 (H,), next week at which cal_mult changes (H if none)
"""

ProgrammeIn = namedtuple("ProgrammeIn", "phase_end drop_haz hr ctx_dep fade_block n_fade")
ProgrammeIn.__doc__ = """The programme track and its effect (``K`` phases).

phase_end : int64 (K,), cumulative end week (since entry) of each phase
drop_haz : float64 (ns, K), weekly dropout hazard per phase
hr : float64 (ns, 1 + K + F, 3), hazard ratios by programme context (0 none, 1..K
    phases, K+1.. fade blocks) for job entry, education entry, job loss
ctx_dep : bool (ns, 5), whether a state's hazards depend on the programme context
fade_block : int, length of a fade block after completion
n_fade : int64 (ns,), number of fade blocks before the effect ends
"""

LedgerIn = namedtuple("LedgerIn", "ref_start ref_share reset_weeks perm_btype")
LedgerIn.__doc__ = """What the kernel needs to weight benefit weeks by refusion (``S`` steps,
``B`` benefit types).

ref_start : int64 (S,), cumulative benefit weeks at which each refusion step starts
ref_share : float64 (ns, B, S), state share per benefit type and step
reset_weeks : int, weeks of self-support after which the refusion counter resets
perm_btype : int, benefit type paid in ``permanent`` (-1: none)
"""

KernelOut = namedtuple(
    "KernelOut",
    "state_count benefit_weeks refusion_weeks programme_count events checks entry",
)
KernelOut.__doc__ = """Outputs, written by the kernel (every scenario's rows are reset first).

state_count : float64 (ns, 2, H + 1, 5), citizens per state and week (the last week row
    is scratch)
benefit_weeks, refusion_weeks : float64 (ns, 2, H + 1, B), citizens on each benefit type
    per week, and the same weighted by the state's refusion share
programme_count : float64 (ns, H + 1, K + 2), programme track (phases, completed, dropped)
events : int32 (ns, 2, N, 5), week of each citizen's first outcome event or -1
checks : int8 (ns, 2, N, C), state at the check weeks or -1
entry : int32 (ns, N), entry week or -1 if not enrolled
"""
