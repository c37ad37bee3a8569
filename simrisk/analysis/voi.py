"""The value of information: what it is worth to know an uncertain input before signing.

Each party decides to sign the deal or not. Signing is worth its net benefit ``NB`` in
each future (the investor: its NPV at its own discount rate, which is its hurdle; the
municipality: its net over the appraisal, discounted, where the deal has one, else over
the deal), not signing 0. With what is known now a party signs if ``E[NB] > 0``:

* EVPI, the expected value of perfect information, ``E[max(NB, 0)] - max(E[NB], 0)``:
  what it would be worth to know everything before deciding (the futures in which it
  would then decline are the ones it loses in);
* EVPPI of an input (or a group of inputs) θ, ``E_θ[max(E[NB | θ], 0)] - max(E[NB], 0)``:
  what it would be worth to know θ alone. ``E[NB | θ]`` is estimated by a nonparametric
  regression on the probabilistic sample a run already holds (its parameter draws and
  its per-scenario results): for one input the running mean of the ``k`` draws nearest in
  it (``k`` about the square root of the number of scenarios); for a group, an additive
  model of such running means (backfitting, as a generalised additive model does),
  which leaves out interactions between the group's inputs. The rest of the
  spread, the cohort's own randomness, is not information anyone can buy.

A regression's leftover noise makes EVPPI slightly too high and its smoothing slightly
too low; EVPPI never exceeds EVPI (it is capped there) and a group's is at least the
largest of its members' up to that noise.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from simrisk.labels import input_label
from simrisk.outputs import provenance
from simrisk.tables import Table, fmt

PARTIES = {"investor": "investor_npv", "municipality": "municipal_net_pv"}
ALL_INPUTS = "all uncertain inputs"
"""The group of every uncertain input (its EVPPI: all that could be learnt before signing)."""


def net_benefit(ds: xr.Dataset, party: str) -> np.ndarray:
    name = PARTIES[party]
    if name not in ds:
        name = "municipal_net"
    return np.asarray(ds[name].values, dtype=float)


def evpi(nb: np.ndarray) -> float:
    return float(np.mean(np.maximum(nb, 0.0)) - max(float(np.mean(nb)), 0.0))


def smooth(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """A running mean of ``y`` over the ``k`` draws nearest in ``x`` (by rank): a
    one-input nonparametric regression, in O(n)."""
    n = len(y)
    order = np.argsort(x, kind="stable")
    c = np.concatenate([[0.0], np.cumsum(y[order])])
    half = k // 2
    lo = np.clip(np.arange(n) - half, 0, n - k)
    fitted = (c[lo + k] - c[lo]) / k
    out = np.empty(n)
    out[order] = fitted
    return out


def conditional_mean(x: np.ndarray, nb: np.ndarray, k: int | None = None,
                     sweeps: int = 20) -> np.ndarray:  # fmt: skip
    """``E[NB | θ]`` at every draw by an additive model of θ's columns (backfitting of
    running means over the ``k`` nearest draws of each input): exact in its structure for
    one input, and for several without their interactions."""
    n = len(nb)
    k = min(int(k or max(20, round(np.sqrt(n)))), n)
    x = np.asarray(x, dtype=float).reshape(n, -1)
    mean = float(nb.mean())
    parts = np.zeros_like(x)
    for _ in range(sweeps if x.shape[1] > 1 else 1):
        for j in range(x.shape[1]):
            rest = nb - mean - parts.sum(axis=1) + parts[:, j]
            f = smooth(x[:, j], rest, k)
            parts[:, j] = f - f.mean()
    return mean + parts.sum(axis=1)


def evppi(x: np.ndarray, nb: np.ndarray, k: int | None = None) -> float:
    value = float(np.mean(np.maximum(conditional_mean(x, nb, k), 0.0)) - max(nb.mean(), 0.0))
    return float(min(max(value, 0.0), evpi(nb)))


def groups_of(ds: xr.Dataset, extra: dict[str, list[str]] | None = None) -> dict[str, list[int]]:
    """Each uncertain input alone (a calibration posterior's parameters as one group),
    the groups asked for, and all inputs together."""
    names = [str(p) for p in ds["parameter"].values]
    deal = json.loads(ds.attrs["deal_json"])
    post = (deal["uncertainty"].get("posterior") or {}).get("paths", [])
    out: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        if name not in post:
            out[input_label(deal, name)] = [j]
    if post:
        out["calibration posterior (" + "; ".join(input_label(deal, p) for p in post) + ")"] = [
            names.index(p) for p in post
        ]
    for gname, paths in (extra or {}).items():
        missing = [p for p in paths if p not in names]
        if missing:
            raise ValueError(f"--group {gname}: {', '.join(missing)} is not an uncertain input")
        out[gname] = [names.index(p) for p in paths]
    if names:
        out[ALL_INPUTS] = list(range(len(names)))
    return out


def value_of_information(ds: xr.Dataset, extra: dict[str, list[str]] | None = None,
                         k: int | None = None) -> xr.Dataset:  # fmt: skip
    """EVPI and every input's (and group's) EVPPI for both parties, in DKK."""
    if ds.sizes.get("parameter", 0) == 0:
        raise ValueError("the run has no uncertain inputs: there is nothing to learn")
    groups = groups_of(ds, extra)
    x = np.asarray(ds["parameters"].values, dtype=float)
    data = {}
    totals = {}
    for party in PARTIES:
        nb = net_benefit(ds, party)
        totals[party] = evpi(nb)
        data[f"evppi_{party}"] = (
            ("input",),
            [evppi(x[:, cols], nb, k) for cols in groups.values()],
            {"long_name": f"EVPPI for the {party}'s decision to sign", "units": "DKK"},
        )
        data[f"expected_net_benefit_{party}"] = ((), float(nb.mean()), {"units": "DKK"})
    out = xr.Dataset(data, coords={"input": list(groups)})
    out.attrs = provenance(
        "value of information", ds.attrs.get("deal_name", ""), int(ds.attrs.get("seed", 0)),
        kind="voi", n_scenarios=int(ds.sizes["scenario"]), evpi_investor=totals["investor"],
        evpi_municipality=totals["municipality"],
        neighbours=int(k or max(20, round(np.sqrt(ds.sizes["scenario"])))),
        deal_file=ds.attrs.get("deal_file", ""),
        investor_benefit=PARTIES["investor"],
        municipality_benefit=PARTIES["municipality"] if "municipal_net_pv" in ds else
        "municipal_net",
    )  # fmt: skip
    return out


def table(v: xr.Dataset) -> Table:
    a = v.attrs
    t = Table(
        f"{a['deal_name']} — value of information, {a['n_scenarios']:,} scenarios",
        [("what is known before signing", "text"), ("to the investor (DKK)", "dkk"),
         ("to the municipality (DKK)", "dkk")],
    )  # fmt: skip
    t.add("everything, the cohort's own luck included (EVPI)", a["evpi_investor"],
          a["evpi_municipality"])  # fmt: skip
    order = np.argsort(-np.maximum(v["evppi_investor"].values, v["evppi_municipality"].values))
    for i in order:
        t.add(str(v["input"].values[i]), float(v["evppi_investor"].values[i]),
              float(v["evppi_municipality"].values[i]))  # fmt: skip
    t.notes.append(
        f"a nonparametric regression (running means of {a['neighbours']} draws, additive for "
        "a group) on the run's own sample; the investor's benefit is its NPV at its "
        f"discount rate, the municipality's {a['municipality_benefit']}; signing against "
        "not signing"
    )
    return t


def sentences(v: xr.Dataset) -> list[str]:
    """What the figures mean, in words."""
    a = v.attrs
    out = []
    for party in PARTIES:
        e = float(v[f"expected_net_benefit_{party}"].values)
        decide = "signs" if e > 0 else "does not sign"
        vals = v[f"evppi_{party}"].values
        names = [str(x) for x in v["input"].values]
        single = [i for i, n in enumerate(names) if n != ALL_INPUTS]
        top = max(single, key=lambda i: vals[i]) if single else None
        text = (
            f"The {party}, on what is known now, {decide} (expected net benefit "
            f"{fmt(e, 'dkk')} DKK). Knowing before deciding how the deal turns out, its "
            "inputs and the cohort's own luck (EVPI), would be worth "
            f"{fmt(a[f'evpi_{party}'], 'dkk')} DKK to it on average: the loss it could avoid "
            "by declining in the futures that turn out badly (or gain by signing in those "
            "that turn out well)."
        )
        if ALL_INPUTS in names:
            text += (
                " Knowing every uncertain input, the part of that which could be learnt, "
                f"would be worth {fmt(float(vals[names.index(ALL_INPUTS)]), 'dkk')} DKK."
            )
        if top is not None and vals[top] > 0:
            text += (
                f" The most valuable single thing to learn is {names[top]}: "
                f"{fmt(float(vals[top]), 'dkk')} DKK."
            )
        out.append(text)
    return out
