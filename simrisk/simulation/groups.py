"""The simulation kernel's inputs in four groups, and its outputs: namedtuples of arrays
(numba passes them to the kernel as typed tuples; nothing here is computed).

Sizes: ``ns`` scenarios, ``N`` citizens, ``G`` segments, ``M`` stages of a benefit path,
``S`` labour states, ``P`` duration pieces, ``K`` programme phases, ``B`` benefit types,
``R`` refusion steps, ``H`` weeks.
"""

from __future__ import annotations

from collections import namedtuple

CohortIn = namedtuple(
    "CohortIn",
    "entry_planned uptake delay seg_cum seg_weeks seg_hr frailty_var "
    "path_after path_btype path_share n_stage insured_share ins_btype ins_weeks unins_btype "
    "max_enrolled entry_end",
)
CohortIn.__doc__ = """Who enters when, in which segment, with which frailty, and on which
benefits.

entry_planned : int64 (N,), planned entry week of each citizen
uptake : float64 (ns,), probability that a planned citizen enrols
delay : int64 (ns,), weeks added to every entry week
seg_cum : float64 (ns, G), cumulative segment shares (last = 1)
seg_weeks : int64 (G,), weeks on benefit at entry per segment
seg_hr : float64 (ns, G), job-entry hazard ratio per segment
frailty_var : float64 (ns,), variance of the gamma frailty (mean 1)
path_after : int64 (G, M), weeks on benefit (in the spell) from which each stage of the
    segment's benefit path applies (stage 0 from 0; unused stages a large number)
path_btype : int64 (G, M), benefit type of each stage
path_share : float64 (ns, G, M), probability that a citizen moves to the stage when
    reaching it (stage 0: unused)
n_stage : int64 (G,), number of stages
insured_share : float64 (ns, G), probability of being insured (a-dagpenge when fit for
    work without a job)
ins_btype, ins_weeks, unins_btype : int64 (G,), benefit of the ``unemployed`` state for an
    insured citizen, for how many weeks, and for an uninsured one (-1: none)
max_enrolled : int64 (ns,), citizens the programme takes at most, in the order of their
    planned entry (the capital's limit when ``investor.overrun = "fewer_citizens"``)
entry_end : int64 (ns,), the first week in which nobody enters (the deal's horizon: the
    weeks simulated after it, for a settlement lag or an appraisal, take no citizen)
"""

LabourIn = namedtuple(
    "LabourIn",
    "dur_edges haz piece_next job_mult cal_mult cal_next full_time_share part_hours",
)
LabourIn.__doc__ = """Business-as-usual hazards and the hours of jobs.

dur_edges : int64 (P,), first week-in-state of each duration piece (dur_edges[0] = 0)
haz : float64 (ns, S, P, S), weekly hazard from-state, piece, to-state
piece_next : int64 (ns, S, P), for a state and duration piece, the next piece whose
    hazards differ (P if none)
job_mult : float64 (ns,), multiplier of job-entry hazards
cal_mult : float64 (H,), calendar multiplier of job-entry hazards
cal_next : int64 (H,), next week at which cal_mult changes (H if none)
full_time_share : float64 (ns,), probability that a job spell is full-time
part_hours : float64 (ns,), hours of a part-time job as a share of full time
"""

ProgrammeIn = namedtuple("ProgrammeIn", "phase_end drop_haz hr ctx_dep fade_block n_fade")
ProgrammeIn.__doc__ = """The programme track and its effect.

phase_end : int64 (K,), cumulative end week (since entry) of each phase
drop_haz : float64 (ns, K), weekly dropout hazard per phase
hr : float64 (ns, 1 + K + F, 3), hazard ratios by programme context (0 none, 1..K
    phases, K+1.. fade blocks) for job entry, education entry, job loss
ctx_dep : bool (ns, S), whether a state's hazards depend on the programme context
fade_block : int, length of a fade block after completion
n_fade : int64 (ns,), number of fade blocks before the effect ends
"""

LedgerIn = namedtuple(
    "LedgerIn",
    "ref_start ref_share reset_weeks reset_window state_btype on_staircase self_support "
    "partial_weeks resid resid_rule",
)
LedgerIn.__doc__ = """What the kernel needs to weight benefit weeks by refusion.

ref_start : int64 (R,), cumulative benefit weeks at which each refusion step starts
ref_share : float64 (ns, B, R), central-government share per benefit type and step
reset_weeks, reset_window : int, the refusion count restarts after ``reset_weeks`` weeks of
    self-support in total within the last ``reset_window`` weeks
state_btype : int64 (S,), benefit type paid in a state that has one fixed benefit
    (education, permanent, subsidised, fleksjob; -1 otherwise)
on_staircase : bool (B,), weeks on the benefit count on the refusion count
self_support : bool (B,), weeks on the benefit count as self-support (SU)
partial_weeks : int64 (B,), the most weeks of a job spell in which a job keeps a reduced
    benefit (:data:`~simrisk.simulation.weeks.FAR`: the whole spell)
resid : float64 (ns, B, E, 2), share of a benefit kept in a full-time (0) or part-time
    (1) job started from it under each of its earnings rules
resid_rule : int64 (B, H), the earnings rule of each benefit in force in each week
"""

KernelOut = namedtuple(
    "KernelOut",
    "state_count benefit_weeks refusion_weeks programme_count work_fte events checks check_run "
    "entry",
)
KernelOut.__doc__ = """Outputs, written by the kernel (every scenario's rows are reset first;
the last week row of the weekly arrays is scratch).

state_count : int32 (ns, 2, H + 1, S), citizens per state and week
benefit_weeks, refusion_weeks : float64 (ns, 2, H + 1, B), citizens on each benefit type
    per week (a part-time job's reduced benefit as its share), and the same weighted by the
    central government's refusion share
programme_count : int32 (ns, H + 1, K + 2), programme track (phases, completed, dropped)
work_fte : float64 (ns, 2, H + 1, 1), full-time equivalents in ordinary jobs per week
events : int32 (ns, 2, N, E + W), week of each citizen's first outcome event
    (``vocabulary.OUTCOME_EVENTS``), then the first week at which a run of self-support
    reached each of the structure's ``ss_windows`` weeks; -1: never
checks : int8 (ns, 2, N, C), state at the check weeks or -1
check_run : int32 (ns, 2, N, C, 2), at each check week the weeks so far of the current job
    spell (0: not in a job) and of the current unbroken run of self-support (0: none)
entry : int32 (ns, N), entry week or -1 if not enrolled
"""
