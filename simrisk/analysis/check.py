"""Validation against evidence: would the deal, as it runs, have predicted what the
studies observed?

For every endpoint of the evidence files whose arm maps to an arm of the deal, the
posterior predictive value: ``draws`` parameter sets are drawn as ``run`` draws them
(the deal's distributions and one whole draw of its calibration posterior each), and
each set simulates ``replicates`` scenarios of the deal's cohort, measured in the
study's definition. The table gives the mean over the draws with the interval of 95 %
of them (parameter uncertainty and the simulated cohort's own noise), the observation
with its interval (as reported, else 1.96 standard errors from its sample size), and
``z = (observed - predicted) / sqrt(var(predicted) + var(observed))`` on the scale the
calibration fits (for a time to an event: the share that has entered by the observed
weeks, with the sign of the weeks; for a ratio: its logarithm); var(predicted) is the
spread of the draws' values less the simulation's own noise within a draw (for a
contrast, the spread of the draws' contrasts with that noise kept in, which makes its z
a little smaller). A contrast's predicted value is the mean of the draws' contrasts,
while its z compares on the log scale for a ratio. An endpoint the calibration used is
marked ``fit``; the rest are out of sample.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import xarray as xr
from pydantic import ValidationError

from simrisk import interrupt, rng, simulation
from simrisk.analysis.targets import (
    NO_UNCERTAINTY,
    Target,
    endpoint_targets,
    measure,
    pooled,
    time_quantile,
)
from simrisk.config import DealConfig
from simrisk.config.evidence import Endpoint, Evidence, EvidenceUse
from simrisk.config.load import load_evidence
from simrisk.outputs import provenance
from simrisk.sampling import Sampler, Values
from simrisk.tables import Table

Z95 = 1.959963984540054
UNKNOWN_N = 10_000_000
CHUNK_DRAWS = 20
"""Parameter draws simulated together (bounds the memory of the state records)."""


@dataclass
class Row:
    study: str
    endpoint: str
    arm: str
    model_arm: str
    kind: str
    used: str
    observed: float
    observed_low: float
    observed_high: float
    predicted: float
    predicted_low: float
    predicted_high: float
    z: float
    note: str = ""


def uses_for(
    cfg: DealConfig, base: Path | None, files: list[str] | None
) -> list[tuple[Evidence, EvidenceUse]]:
    """The evidence to check: the deal's own ``[[evidence]]``, or the files named (bound as
    the deal binds them, else control arms to the counterfactual and intervention arms to
    the treatment arm)."""

    def resolve(name: str) -> Path:
        p = Path(name)
        return p if base is None or p.is_absolute() else base / p

    own = [
        (load_evidence(resolve(u.file), f"evidence[{i}].file"), u)
        for i, u in enumerate(cfg.evidence)
    ]
    if not files:
        return own
    out = []
    for f in files:
        ev = load_evidence(f, "--evidence")
        bound = next((u for e, u in own if e.id == ev.id), None)
        if bound is None:
            arms = {
                a.id: ("counterfactual" if a.role == "control" else "treatment") for a in ev.arms
            }
            bound = EvidenceUse(
                file=f, arms=arms, why="named on the command line (arms mapped by role)"
            )
        out.append((ev, bound))
    return out


def _observed_interval(e: Endpoint, t: Target | None) -> tuple[float, float, float]:
    """(low, high, standard error on the fitted scale or nan)."""
    if e.kind == "contrast":
        if e.ci is None and e.se is not None:  # a ratio's 'se' is that of its logarithm
            if e.measure == "difference":
                return e.value - Z95 * e.se, e.value + Z95 * e.se, e.se
            return e.value * math.exp(-Z95 * e.se), e.value * math.exp(Z95 * e.se), e.se
        if e.ci is None:
            return math.nan, math.nan, math.nan
        lo, hi = e.ci
        if e.measure == "difference":
            return lo, hi, (hi - lo) / (2 * Z95)
        return lo, hi, (math.log(hi) - math.log(lo)) / (2 * Z95)
    if t is None:
        return (*(e.ci or (math.nan, math.nan)), math.nan)
    se = math.sqrt(t.variance(t.fitted_observed))
    if e.ci is not None:
        return e.ci[0], e.ci[1], se
    if t.kind == "time_to_event":
        return math.nan, math.nan, se
    lo, hi = t.observed - Z95 * se, t.observed + Z95 * se
    if t.kind == "weeks_in":
        return max(lo, 0.0), hi, se  # weeks are never negative
    return max(lo, 0.0), min(hi, 1.0), se  # a share lies in [0, 1]


def _contrast_targets(ev: Evidence, e: Endpoint, use: EvidenceUse) -> tuple | str:
    if e.measure == "hazard_ratio" and e.basis is None:
        return "a hazard ratio without the entries ('basis' = 'ever_by') it compares: not simulated"
    if e.basis is None:
        return f"a {e.measure.replace('_', ' ')} without a share it compares: not simulated"
    arms = (use.arms.get(e.arm, "none"), use.arms.get(e.versus, "none"))
    if "none" in arms or arms[0] == arms[1]:
        return "its two arms are not mapped to the deal's two arms"
    pair = []
    for arm in arms:
        try:
            pair.append(
                Target(
                    name=e.id, kind=e.basis, arm=arm, states=e.states, observed=0.5, n=1,
                    week=e.week + use.origin_week, source="contrast",
                )
            )  # fmt: skip
        except ValidationError as exc:
            return "its basis cannot be simulated: " + exc.errors()[0]["msg"]
    return tuple(pair)


def _ratio(measure: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The contrast of two arms' simulated shares ``a`` and ``b``; a hazard ratio from
    shares ever entered by the same week: the ratio of the cumulative hazards
    ``-log(1 - share)``, which is the hazard ratio where the hazards are proportional."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "risk_ratio":
            return a / b
        if measure == "odds_ratio":
            return (a / (1 - a)) / (b / (1 - b))
        if measure == "hazard_ratio":
            return np.log1p(-a) / np.log1p(-b)
    return a - b


def check(
    cfg: DealConfig,
    uses: list[tuple[Evidence, EvidenceUse]],
    fitted: set[str],
    draws: int = 100,
    replicates: int = 10,
    seed: int = 1,
    progress=None,
) -> list[Row]:
    """The validation table (see the module's description)."""
    items = []  # (evidence, endpoint, use, target | (target, target) | reason)
    for ev, use in uses:
        for e in ev.endpoints:
            if e.kind == "contrast":
                if use.arms.get(e.arm, "none") != "none":
                    items.append((ev, e, use, _contrast_targets(ev, e, use)))
                continue
            if e.kind == "other":
                if use.arms.get(e.arm, "none") != "none":
                    items.append((ev, e, use, "not expressible in the model's states"))
                continue
            for _, t in endpoint_targets(ev, use, [e.key]):
                if isinstance(t, str) and t == NO_UNCERTAINTY:
                    # predicted all the same; without the observation's uncertainty no z
                    stand_in = {"n": UNKNOWN_N, "se": None}
                    if e.kind == "weeks_in":
                        stand_in["sd"] = 1.0
                    big = e.model_copy(update=stand_in)
                    t = endpoint_targets(ev.model_copy(update={"endpoints": [big]}), use)[0][1]
                if not isinstance(t, str) and t.last_offset >= cfg.deal.horizon_weeks:
                    t = f"measured {t.last_offset} weeks after entry, beyond the horizon"
                items.append((ev, e, use, t))
    simulated = [
        t
        for *_, x in items
        if not isinstance(x, str)
        for t in (x if isinstance(x, tuple) else (x,))
    ]
    values = _simulate(cfg, simulated, draws, replicates, seed, progress)
    rows = []
    for ev, e, use, x in items:
        used = "fit" if f"{ev.id}:{e.key}" in fitted else "out of sample"
        model_arm = use.arms.get(e.arm, "none")
        label = f"{ev.id}: {e.id}"
        if isinstance(x, str):
            lo, hi, _ = _observed_interval(e, None)
            rows.append(
                Row(ev.id, label, ev.arm(e.arm).label, model_arm, e.kind, used, e.value, lo, hi,
                    math.nan, math.nan, math.nan, math.nan, x)
            )  # fmt: skip
            continue
        if isinstance(x, tuple):
            m = _ratio(e.measure, values[id(x[0])]["fit"], values[id(x[1])]["fit"])
            lo, hi, se = _observed_interval(e, None)
            scale = (lambda v: v) if e.measure == "difference" else np.log
            ok = np.isfinite(scale(m))
            pred = m[ok]
            zs = scale(pred)
            z = (
                (scale(e.value) - zs.mean()) / math.sqrt(zs.var() + se**2)
                if pred.size
                else math.nan
            )
            rows.append(_row(ev, e, used, model_arm, lo, hi, pred, z, f"versus {e.versus}"))
            continue
        v = values[id(x)]
        fit = v["fit"]
        shown = v["shown"] if x.kind == "time_to_event" else fit
        if x.n == UNKNOWN_N:
            lo, hi = e.ci or (math.nan, math.nan)
            note = "the study gives no sample size or standard error: no z"
            rows.append(_row(ev, e, used, model_arm, lo, hi, shown, math.nan, note))
            continue
        lo, hi, se = _observed_interval(e, x)
        var_obs = x.variance(float(fit.mean()))
        # the spread of the draws' values less the simulation's own noise within a draw
        var_pred = max(float(fit.var()) - float(np.mean(v["mc_var"])), 0.0)
        z = (x.fitted_observed - fit.mean()) / math.sqrt(var_pred + var_obs)
        if x.kind == "time_to_event":
            z = -z  # in weeks: a study that gets there sooner than predicted has z < 0
        rows.append(_row(ev, e, used, model_arm, lo, hi, shown, z, ""))
    return rows


def _row(ev, e, used, model_arm, lo, hi, pred: np.ndarray, z: float, note: str) -> Row:
    finite = pred[np.isfinite(pred)]
    if finite.size < pred.size:
        note = (note + "; " if note else "") + (
            f"{pred.size - finite.size} of {pred.size} draws never reach the quantile"
        )
    if finite.size == 0:
        p, plo, phi = math.nan, math.nan, math.nan
    else:
        p = float(finite.mean())
        plo, phi = np.quantile(finite, [0.025, 0.975], method="inverted_cdf")
    return Row(ev.id, f"{ev.id}: {e.id}", ev.arm(e.arm).label, model_arm, e.kind, used,
               e.value, lo, hi, p, float(plo), float(phi), float(z), note)  # fmt: skip


def _simulate(cfg, targets: list[Target], draws, replicates, seed, progress) -> dict:
    """Per target, the value of every parameter draw: ``fit`` on the fitted scale, and
    ``shown`` (the simulated quantile in weeks, for a time to an event)."""
    out = {
        id(t): {"fit": np.empty(draws), "shown": np.empty(draws), "mc_var": np.empty(draws)}
        for t in targets
    }
    if not targets:
        return out
    offsets = sorted({o for t in targets for o in t.offsets})
    st = simulation.build_structure(cfg, extra_checks=offsets)
    sampler = Sampler(cfg, seed, draws)
    key = rng.seed_key(seed)
    dumped = cfg.model_dump(by_alias=True)
    for d0 in range(0, draws, CHUNK_DRAWS):
        interrupt.check()
        m = min(CHUNK_DRAWS, draws - d0)
        table = np.repeat(sampler.draw(d0, m), replicates, axis=0)
        n = m * replicates
        v = Values(dumped, sampler.overrides(table), n)
        kin = simulation.kernel_inputs(cfg, st, v)
        sim = simulation.simulate(key, d0 * replicates, st, kin)
        for t in targets:
            s, q, c = measure(sim, t, st)
            for j in range(m):
                rows = slice(j * replicates, (j + 1) * replicates)
                mean, mc_se = pooled(s[rows], q[rows], c[rows])
                out[id(t)]["fit"][d0 + j] = mean
                out[id(t)]["mc_var"][d0 + j] = mc_se**2 if math.isfinite(mc_se) else 0.0
                if t.kind == "time_to_event":
                    out[id(t)]["shown"][d0 + j] = time_quantile(sim, t, st, np.arange(n)[rows])
        if progress is not None:
            progress(n)
    return out


def table(rows: list[Row], deal_name: str) -> Table:
    t = Table(
        f"{deal_name} — predicted against observed",
        [
            ("endpoint", "text"),
            ("study arm", "text"),
            ("deal arm", "text"),
            ("kind", "text"),
            ("used", "text"),
            ("observed", "text"),
            ("predicted", "text"),
            ("z", "corr"),
        ],
    )
    for r in rows:
        t.add(
            r.endpoint, r.arm, r.model_arm, r.kind, r.used,
            _value_text(r.observed, r.observed_low, r.observed_high, r.kind),
            _value_text(r.predicted, r.predicted_low, r.predicted_high, r.kind) if not
            math.isnan(r.predicted) else (r.note or "n/a"),
            r.z,
        )  # fmt: skip
    t.notes.append(
        "predicted: mean over parameter draws [95 % of draws]; observed: as reported "
        "[its 95 % interval]; z = (observed - predicted) / sqrt(var predicted + var observed)"
    )
    return t


def _value_text(v: float, lo: float, hi: float, kind: str) -> str:
    if math.isnan(v):
        return "n/a"
    digits = "{:.1f}" if kind in ("weeks_in", "time_to_event") else "{:.3f}"

    def shown(x: float) -> str:
        return digits.format(x + 0.0)  # a zero, never "-0.0"

    text = shown(v)
    if not (math.isnan(lo) or math.isnan(hi)):
        text += " [" + shown(lo) + ", " + shown(hi) + "]"
    return text


def summary_lines(rows: list[Row]) -> list[str]:
    scored = [r for r in rows if not math.isnan(r.z)]
    out = []
    for used in ("fit", "out of sample"):
        group = [r for r in scored if r.used == used]
        if group:
            within = sum(abs(r.z) <= 2 for r in group)
            out.append(f"{used}: {within} of {len(group)} endpoints within |z| <= 2")
    missed = [r for r in scored if abs(r.z) > 2]
    for r in missed:
        out.append(
            f"not reproduced: {r.endpoint} ({r.arm}): observed {r.observed:.3g}, predicted "
            + (f"{r.predicted:.3g}" if math.isfinite(r.predicted) else "never reached")
            + f" (z = {r.z:+.1f})"
        )
    not_sim = [r for r in rows if math.isnan(r.z)]
    if not_sim:
        out.append(f"{len(not_sim)} endpoints not scored (no simulated counterpart or no "
                   "uncertainty reported)")  # fmt: skip
    return out


def as_dicts(rows: list[Row]) -> list[dict]:
    return [asdict(r) for r in rows]


def build_dataset(rows: list[Row], deal_name: str, seed: int, attrs: dict) -> xr.Dataset:
    """The rows of a check, one per endpoint and arm, for ``check -o`` and the report."""
    cols = {f.name: [getattr(r, f.name) for r in rows] for f in fields(Row)}
    data = {
        k: xr.Variable(("endpoint",), np.asarray(v, dtype=float if k in _NUMBERS else str))
        for k, v in cols.items()
        if k != "endpoint"
    }
    ds = xr.Dataset(data, coords={"endpoint": np.arange(len(rows))})
    ds["endpoint_name"] = xr.Variable(("endpoint",), np.asarray(cols["endpoint"], dtype=str))
    ds.attrs = provenance("check", deal_name, seed, kind="check", **attrs)
    return ds


_NUMBERS = {
    "observed", "observed_low", "observed_high", "predicted", "predicted_low",
    "predicted_high", "z",
}  # fmt: skip


def rows_from_dataset(ds: xr.Dataset) -> list[Row]:
    """The rows of a check file (inverse of :func:`build_dataset`)."""
    out = []
    for i in range(ds.sizes["endpoint"]):
        kw = {}
        for f in fields(Row):
            name = "endpoint_name" if f.name == "endpoint" else f.name
            v = ds[name].values[i]
            kw[f.name] = float(v) if f.name in _NUMBERS else str(v)
        out.append(Row(**kw))
    return out
