"""The words simrisk uses, from the kernel to the NetCDF file.

Axis order, everywhere an array has these axes: ``scenario, arm, citizen, week,
state`` (other axes, such as ``benefit``, ``event`` or ``phase``, come last, in
the position of ``state``). Integer codes are positions in the tuples below, so
``LABOUR_STATES[EMPLOYED] == "employed"``. Nothing here imports anything.
"""

from __future__ import annotations

AXES = ("scenario", "arm", "citizen", "week", "state")
"""The order of the named axes in every array and Dataset."""

ARMS = ("counterfactual", "treatment")
"""The two arms of every citizen: business as usual, and enrolled in the programme."""
COUNTERFACTUAL, TREATMENT = 0, 1

LABOUR_STATES = (
    "benefit",
    "employed",
    "education",
    "permanent",
    "moved",
    "unemployed",
    "subsidised",
    "fleksjob",
)
"""Labour-market states (the ``state`` axis):

* ``benefit``: on the segment's benefit path (sygedagpenge, then a jobafklaringsforløb;
  kontanthjælp; ...);
* ``employed``: an ordinary job, full-time or part-time (a part-time job may keep a
  reduced benefit);
* ``education``: in education (SU, paid by the central government);
* ``permanent``: førtidspension (absorbing);
* ``moved``: left the municipality (absorbing, censored);
* ``unemployed``: fit for work without a job, on a-dagpenge (insured) or kontanthjælp;
* ``subsidised``: a job with løntilskud (the municipality pays the subsidy; not
  self-support);
* ``fleksjob``: a flexible job with fleksløntilskud (not self-support).
"""
BENEFIT, EMPLOYED, EDUCATION, PERMANENT, MOVED, UNEMPLOYED, SUBSIDISED, FLEKSJOB = range(8)
N_STATES = len(LABOUR_STATES)
ABSORBING_STATES = ("permanent", "moved")
OUT_OF_WORK_STATES = ("benefit", "unemployed")
"""States from which a transition into ``employed`` is a job entry: the programme's
job-entry ratio, the frailty, the segment's ratio and the labour market's multipliers act
on it (and the education-entry ratio on entries into ``education``)."""

OUTCOME_EVENTS = (
    "job_entry",
    "education_entry",
    "sustained_13",
    "sustained_26",
    "sustained_52",
    "declared_fit",
    "off_benefit",
    "self_supporting_work",
)
"""Outcome events, each a citizen's first (the ``event`` axis; a rate card can pay for
any of them):

* ``job_entry``, ``education_entry``: the first week in an ordinary job, in education;
* ``sustained_13``/``26``/``52``: the 13th/26th/52nd week of one job spell;
* ``declared_fit``: the end of the benefit course for a destination fit for work (a job
  that keeps none of the benefit, education, unemployment benefit or kontanthjælp as
  unemployed, a job with løntilskud), not for førtidspension, fleksjob or moving away
  (raskmelding, whatever follows); a part-time job that keeps part of the benefit (a
  gradual return on sygedagpenge; from July 2025 also a full-time job that keeps a
  little kontanthjælp) does not end the course, and when such a job ends in
  unemployment the outcome is not recorded either (a known limitation);
* ``off_benefit``: the first week of self-support in the sense of § 6 (no public
  benefit, no løntilskud or fleksjob; SU counts as self-support);
* ``self_supporting_work``: the first week of self-support in an ordinary job.
"""
(EV_JOB, EV_EDUCATION, EV_SUST13, EV_SUST26, EV_SUST52, EV_FIT, EV_OFF, EV_WORK_SS) = range(8)
N_EVENTS = len(OUTCOME_EVENTS)

TARGET_OUTCOMES = (
    "employed",
    "education",
    "off_benefit",
    "self_supporting",
    "self_supporting_work",
    "declared_fit",
    "sustained_13",
    "sustained_26",
    "sustained_52",
    "ever_employed",
)
"""Outcomes an outcome target can measure, each ``at`` a week since entry or ``ever_by``
it (:mod:`simrisk.contracts.outcomes` defines them); ``ever_employed`` is ``employed``
ever by the week (kept for older files)."""

HR_KINDS = ("job_entry", "education_entry", "job_loss")
"""The programme's hazard ratios: benefit -> employed, benefit -> education, employed ->
benefit (the last axis of the kernel's hazard-ratio table)."""
HR_JOB_ENTRY, HR_EDUCATION_ENTRY, HR_JOB_LOSS = 0, 1, 2

BASELINE_READINGS = ("baseline", "stays_on_benefit")
"""Measurements against a fixed baseline: ``baseline``, the expected business-as-usual
course at central values (the generous reading for the municipality: exits that would
have come anyway are not paid for); ``stays_on_benefit``, every citizen staying on the
segment's benefit path for the whole deal (the strict reading for the municipality:
every exit counts as a saving)."""

PERSPECTIVES = ("municipality", "central_government", "public")
"""Whose money: the municipality, the central government (which pays the refusion), and
the public sector as a whole. Not to be confused with the labour ``state``."""

WEEKS_PER_YEAR = 365.25 / 7.0
"""Weeks in an average year; annual rates are converted with it."""

QUANTILES = (0.05, 0.5, 0.95)
"""Quantiles stored for weekly series."""
