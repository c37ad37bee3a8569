"""How a contract measures the programme's effect: against the counterfactual arm
(exact), a simulated control group (sampling noise) or a fixed baseline.

The baseline is an expectation of the business-as-usual course set before the
deal starts: the expected benefit weeks per enrolled citizen by weeks since
entry at the deal's central parameter values. A scenario's baseline cost places
this profile at each enrolled citizen's actual entry week and values it at the
scenario's rates, so the baseline does not move with the world (job market,
effect) but does follow who enrolled when and what a benefit week costs. A rule that
changes on a date and shapes the course itself (a dated earnings rule: what a job keeps
of a benefit) applies in the profile by weeks since entry as if everyone entered in the
deal's first week (an assumption: for Slagelse, a citizen entering after July 2025 is
credited with the old rule's kontanthjælp weeks for the weeks of the profile before the
change, about 2 % fewer than the new rule's).

Two readings of "the savings when citizens get work": ``baseline``, the expected
business-as-usual course (generous to the municipality: it pays only for exits beyond
those expected), and ``stays_on_benefit``, every citizen on the segment's benefit path
for the whole deal (strict: every exit, expected or not, counts as a saving).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numba as nb
import numpy as np

from simrisk import interrupt, rng
from simrisk.config import DealConfig
from simrisk.contracts.outcomes import target_rate
from simrisk.sampling import Values, central_overrides
from simrisk.simulation import UNLIMITED, Structure, kernel_inputs, simulate
from simrisk.simulation.inputs import chunk_cap
from simrisk.vocabulary import COUNTERFACTUAL, PERSPECTIVES

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
        m, H = entry.shape[0], la.rate_table.week_pair.shape[1]
        out = np.empty((m, H))
        _baseline_cost(
            entry, self.benefit_weeks, self.refusion_weeks, self.work_fte,
            la.rate_table.amounts, la.rate_table.week_pair, la.tax_table.amounts,
            la.tax_table.week_pair, la.kept, PERSPECTIVES.index(perspective), out,
        )  # fmt: skip
        return out


@nb.njit(nogil=True, cache=True)
def _baseline_cost(
    entry, ben_p, ref_p, fte_p, rate_amounts, rate_pair, tax_amounts, tax_pair, kept, persp, out
):
    """The baseline's weekly cost by perspective (0 municipality, 1 central government,
    2 public), written to ``out`` (scenario, week).

    Scenario by scenario, the profiles (week since entry, benefit) are placed at every
    week in which citizens entered, weighted by their number, and summed in the order of
    the entry weeks; the sums are then valued at the scenario's rates, benefit by benefit,
    and the tax on the work is taken off (as :func:`simrisk.ledger.costs` values an arm).
    """
    m, N = entry.shape
    H = out.shape[1]
    B = ben_p.shape[1]
    starts = np.empty(H)
    ben = np.empty((H, B))
    ref = np.empty((H, B))
    fte = np.empty(H)
    ben_f, ref_f = ben.reshape(H * B), ref.reshape(H * B)
    ben_pf = np.ascontiguousarray(ben_p[:H]).reshape(H * B)
    ref_pf = np.ascontiguousarray(ref_p[:H]).reshape(H * B)
    for s in range(m):
        sr = min(np.int64(s), rate_amounts.shape[0] - 1)
        sx = min(np.int64(s), tax_amounts.shape[0] - 1)
        starts[:] = 0.0
        for i in range(N):
            if entry[s, i] >= 0:
                starts[entry[s, i]] += 1.0
        ben[:] = 0.0
        ref[:] = 0.0
        fte[:] = 0.0
        for e in range(H):
            c = starts[e]
            if c == 0.0:
                continue
            # weeks e.. of the sums take the profiles' weeks 0..: one run of (week, benefit)
            for j in range((H - e) * B):
                ben_f[e * B + j] += c * ben_pf[j]
            for j in range((H - e) * B):
                ref_f[e * B + j] += c * ref_pf[j]
            for j in range(H - e):
                fte[e + j] += c * fte_p[j, 0]
        for t in range(H):
            acc = 0.0
            for b in range(B):  # benefit by benefit: the sum's order is fixed
                if persp == 0:
                    w = ben[t, b] - ref[t, b]
                elif persp == 1:
                    w = ref[t, b]
                else:
                    w = ben[t, b]
                acc += w * rate_amounts[sr, b, rate_pair[b, t]]
            tm = tax_amounts[sx, 0, tax_pair[0, t]]
            tc = tax_amounts[sx, 1, tax_pair[1, t]]
            if persp == 0:
                out[s, t] = acc * kept[s] - fte[t] * tm
            elif persp == 1:
                out[s, t] = acc - fte[t] * tc
            else:
                out[s, t] = acc - fte[t] * (tm + tc)


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
