"""How a contract measures the programme's effect: against the counterfactual arm
(exact), a simulated control group (sampling noise) or a fixed baseline.

The baseline is an expectation of the business-as-usual course set before the
deal starts: the expected benefit weeks per enrolled citizen by weeks since
entry at the deal's central parameter values. A scenario's baseline cost places
this profile at each enrolled citizen's actual entry week and values it at the
scenario's rates, so the baseline does not move with the world (job market,
effect) but does follow who enrolled when and what a benefit week costs.

Two readings of "the savings when citizens get work": ``baseline``, the expected
business-as-usual course (generous to the municipality: it pays only for exits beyond
those expected), and ``stays_on_benefit``, every citizen on the segment's benefit path
for the whole deal (strict: every exit, expected or not, counts as a saving).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from simrisk import interrupt, rng
from simrisk.config import DealConfig
from simrisk.contracts.outcomes import target_rate
from simrisk.sampling import Values, central_overrides
from simrisk.simulation import UNLIMITED, Structure, kernel_inputs, simulate
from simrisk.simulation.inputs import chunk_cap
from simrisk.vocabulary import COUNTERFACTUAL

BASELINE_SEED = 0xBA5E11E
"""The baseline's own seed: it is the same in every run of a deal."""


@dataclass
class Baseline:
    """A fixed expectation of the business-as-usual course.

    benefit_weeks, refusion_weeks : float64 (week since entry, benefit), per enrolled
        citizen
    work_fte : float64 (week since entry, 1), full-time equivalents in work per enrolled
        citizen
    rates : outcome rate per target mechanism (index in the contract)
    """

    benefit_weeks: np.ndarray
    refusion_weeks: np.ndarray
    work_fte: np.ndarray
    rates: dict[int, float] = field(default_factory=dict)

    def cost(self, entry: np.ndarray, la, perspective: str) -> np.ndarray:
        """Baseline cost per week, shape (scenario, week), valued like the arms' costs
        (:mod:`simrisk.ledger`).

        Parameters
        ----------
        entry : int32 (scenario, citizen), entry week or -1
        la : the chunk's :class:`simrisk.ledger.LedgerArrays`
        """
        m, H = entry.shape[0], la.rates.shape[1]
        starts = np.zeros((m, H))
        rows, cols = np.nonzero(entry >= 0)
        np.add.at(starts, (rows, entry[rows, cols]), 1.0)
        ben = _convolve(starts, self.benefit_weeks)
        ref = _convolve(starts, self.refusion_weeks)
        fte = _convolve(starts, self.work_fte)[:, :, 0]
        weight = {"municipality": ben - ref, "central_government": ref, "public": ben}[perspective]
        out = np.zeros((m, H))
        for b in range(la.rates.shape[2]):  # benefit by benefit: the sum's order is fixed
            out += weight[:, :, b] * la.rates[:, :, b]
        if perspective == "municipality":
            return out * la.kept[:, None] - fte * la.tax[:, :, 0]
        if perspective == "central_government":
            return out - fte * la.tax[:, :, 1]
        return out - fte * la.tax.sum(axis=2)


def _convolve(starts: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """sum_e starts[s, e] * profile[t - e, b], shape (scenario, week, benefit)."""
    m, H = starts.shape
    out = np.zeros((m, H, profile.shape[1]))
    for e in np.flatnonzero(starts.any(axis=0)):
        out[:, e:, :] += starts[:, e, None, None] * profile[None, : H - e, :]
    return out


BASELINE_CHUNK = 512
"""Baseline scenarios simulated at a time (memory does not grow with their number)."""


def baseline_chunk(cfg: DealConfig) -> int:
    """Baseline scenarios in one kernel call: :data:`BASELINE_CHUNK`, fewer for a very
    large cohort (:func:`simrisk.simulation.inputs.chunk_cap`); the sums are the same for
    any chunking."""
    return min(BASELINE_CHUNK, chunk_cap(cfg))


def _staying(dumped: dict) -> dict:
    """The deal with every labour transition at probability 0: nobody leaves the
    segment's benefit path (its stages still follow each other)."""
    out = copy.deepcopy(dumped)
    for t in out["labour"]["transitions"]:
        p = t["probability"]
        t["probability"] = [0.0] * len(p) if isinstance(p, list) else 0.0
    return out


def compute_baseline(cfg: DealConfig, st: Structure, n: int | None = None) -> Baseline:
    """Mean counterfactual course (and outcome rates) at the central parameter values,
    everyone entering in week 0 (so calendar weeks are weeks since entry); simulated in
    chunks, the sums taken scenario by scenario in order. With the measurement
    ``stays_on_benefit`` nobody leaves the benefit path (no transition happens)."""
    n = n or cfg.contract.baseline_scenarios
    dumped = cfg.model_dump(by_alias=True)
    staying = cfg.contract.measurement == "stays_on_benefit"
    if staying:
        dumped = _staying(dumped)
    key = rng.seed_key(BASELINE_SEED)
    targets = [(m, mech) for m, mech in enumerate(cfg.contract.mechanisms) if mech.kind == "target"]
    ben = ref = fte = None
    enrolled = 0.0
    rates: dict[int, list[np.ndarray]] = {m: [] for m, _ in targets}
    chunk = baseline_chunk(cfg)
    for scen0 in range(0, n, chunk):
        interrupt.check()  # an interruption swallowed while numba compiled
        k = min(chunk, n - scen0)
        central = central_overrides(cfg, k)
        if staying:  # uncertain transition probabilities stay at 0 too
            central = {p: x for p, x in central.items() if p[:2] != ("labour", "transitions")}
        v = Values(dumped, central, k)
        kin = kernel_inputs(cfg, st, v, entry=np.zeros_like(st.entry_planned))
        # a profile per enrolled citizen: no delay, and the capital does not limit who enrols
        kin.cohort = kin.cohort._replace(
            delay=np.zeros_like(kin.cohort.delay),
            max_enrolled=np.full_like(kin.cohort.max_enrolled, UNLIMITED),
        )
        sim = simulate(key, scen0, st, kin)
        bw, rw = sim.benefit_weeks[:, COUNTERFACTUAL], sim.refusion_weeks[:, COUNTERFACTUAL]
        fw = sim.work_fte[:, COUNTERFACTUAL]
        if ben is None:
            ben, ref, fte = np.zeros(bw.shape[1:]), np.zeros(rw.shape[1:]), np.zeros(fw.shape[1:])
        for s in range(k):  # one scenario at a time: the same sums for any chunking
            ben += bw[s]
            ref += rw[s]
            fte += fw[s]
        enrolled += float((sim.entry >= 0).sum())
        for m, mech in targets:
            rates[m].append(target_rate(sim, COUNTERFACTUAL, st, mech)[0])
    enrolled = max(enrolled, 1.0)
    base = Baseline(
        benefit_weeks=ben / enrolled, refusion_weeks=ref / enrolled, work_fte=fte / enrolled
    )
    for m, _ in targets:
        base.rates[m] = float(np.nanmean(np.concatenate(rates[m])))
    return base
