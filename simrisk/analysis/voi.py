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

A regression's leftover noise makes EVPPI too high and its smoothing too low; EVPPI
never exceeds EVPI (it is capped there) and a group's is at least the largest of its
members' up to that noise. The noise is measured, not assumed: the *noise floor* is the
EVPPI the same regression gives an input that has nothing to do with the outcome (the
mean over :data:`NOISE_COLUMNS` columns of uniforms drawn from the run's seed). For a
balanced decision it is about ``sd(NB | θ) / sqrt(2 pi k)``; a one-input row whose value
is within two of its standard deviations cannot be told from one worth nothing. The
floor is the bias of an input that carries nothing, and only that: an input that moves
the decision carries a bias of its own, of either sign, which it does not measure, and a
group (several columns backfitted together) carries more noise than one column, so
groups get no verdict. Far from a balanced decision the floor goes to 0 (no unrelated
input moves the decision), and so does every small value's meaning.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from simrisk.labels import input_label
from simrisk.outputs import provenance
from simrisk.tables import Table, fmt

PARTIES = {"investor": "investor_npv", "municipality": "municipal_net_pv"}
NOISE_COLUMNS = 20
"""Columns of random uniforms whose mean EVPPI is the noise floor."""
NOISE_TAG = 0x564F49  # "VOI": the noise columns' stream, apart from the run's own
NOISE_FLOOR = "an input unrelated to the outcome (the estimate's noise floor)"
EVPI_ROW = "everything, the cohort's own luck included (EVPI)"
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


def noise_columns(n: int, seed: int, columns: int = NOISE_COLUMNS) -> np.ndarray:
    """``columns`` columns of ``n`` uniforms, from ``seed`` (the run's): inputs that have
    nothing to do with any outcome."""
    return np.random.default_rng([seed, NOISE_TAG]).random((columns, n))


def noise_floor(nb: np.ndarray, noise: np.ndarray, k: int | None = None) -> tuple[float, float]:
    """The mean and the standard deviation of the EVPPI of the ``noise`` columns
    (:func:`noise_columns`) for ``nb``: what the regression's own noise is worth, and how
    much that varies from one unrelated input to another."""
    values = np.array([evppi(col, nb, k) for col in noise])
    return float(values.mean()), float(values.std(ddof=1))


def within_noise(value: float, floor: float, sd: float) -> bool:
    """Whether an EVPPI cannot be told from that of an unrelated input: at most the noise
    floor plus two of its standard deviations."""
    return value <= floor + 2.0 * sd


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
    taken = set(out) | {ALL_INPUTS, EVPI_ROW, NOISE_FLOOR}
    for gname, paths in (extra or {}).items():
        missing = [p for p in paths if p not in names]
        if missing:
            raise ValueError(f"--group {gname}: {', '.join(missing)} is not an uncertain input")
        if gname in taken:
            raise ValueError(f"--group {gname}: the name of a row of the table; name it otherwise")
        twice = sorted({p for p in paths if paths.count(p) > 1})
        if twice:
            raise ValueError(f"--group {gname}: {', '.join(twice)} given twice")
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
    noise = noise_columns(x.shape[0], int(ds.attrs.get("seed", 0)))
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
        floor, sd = noise_floor(nb, noise, k)
        unrelated = f"EVPPI of {NOISE_COLUMNS} inputs unrelated to the outcome"
        data[f"noise_floor_{party}"] = ((), floor, {"long_name": f"{unrelated}, mean",
                                                    "units": "DKK"})  # fmt: skip
        data[f"noise_sd_{party}"] = ((), sd, {"long_name": f"{unrelated}, standard deviation",
                                              "units": "DKK"})  # fmt: skip
    data["input_columns"] = (
        ("input",),
        [len(cols) for cols in groups.values()],
        {"long_name": "uncertain inputs in the row (1: a single input; more: a group)"},
    )
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
    t.add(EVPI_ROW, a["evpi_investor"],
          a["evpi_municipality"])  # fmt: skip
    rows = [
        (str(name), float(inv), float(mun))
        for name, inv, mun in zip(
            v["input"].values, v["evppi_investor"].values, v["evppi_municipality"].values,
            strict=True,
        )
    ]  # fmt: skip
    floor = _floors(v)
    if floor is not None:
        rows.append((NOISE_FLOOR, *floor))
    for name, inv, mun in sorted(rows, key=lambda r: -max(r[1], r[2])):
        t.add(name, inv, mun)
    t.notes.append(
        f"a nonparametric regression (running means of {a['neighbours']} draws, additive for "
        "a group) on the run's own sample; the investor's benefit is its NPV at its "
        f"discount rate, the municipality's {a['municipality_benefit']}; signing against "
        "not signing"
    )
    if floor is not None:
        inv, mun = (_noise(v, p) for p in PARTIES)
        t.notes.append(
            f"noise floor: the mean value the same regression gives {NOISE_COLUMNS} random "
            "inputs that have nothing to do with the outcome (standard deviation "
            f"{fmt(inv[1], 'dkk')} and {fmt(mun[1], 'dkk')} DKK); a value below the floor "
            "plus two of them cannot be told from one worth nothing"
        )
    return t


def _noise(v: xr.Dataset, party: str) -> tuple[float, float] | None:
    """The noise floor of a party and its standard deviation, or None for a file written
    without them."""
    if f"noise_floor_{party}" not in v or f"noise_sd_{party}" not in v:
        return None
    return float(v[f"noise_floor_{party}"].values), float(v[f"noise_sd_{party}"].values)


def _floors(v: xr.Dataset) -> tuple[float, float] | None:
    """The noise floors (investor, municipality), or None for a file written without."""
    noise = [_noise(v, p) for p in PARTIES]
    return None if None in noise else (noise[0][0], noise[1][0])


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
        columns = v["input_columns"].values if "input_columns" in v else np.ones(len(names))
        one = [i for i in single if columns[i] == 1]  # the noise floor is a one-column one
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
        noise = _noise(v, party)

        def noisy(i: int, noise=noise, vals=vals, columns=columns) -> bool:
            """A one-input row within the noise (a group gets no verdict)."""
            return noise is not None and columns[i] == 1 and within_noise(float(vals[i]), *noise)

        if top is not None and vals[top] > 0 and not noisy(top):
            text += (
                f" The most valuable single thing to learn is {names[top]}: "
                f"{fmt(float(vals[top]), 'dkk')} DKK."
            )
        elif top is not None and vals[top] > 0:
            text += (
                " No single input is worth more than the estimate's own noise (at most "
                f"{fmt(float(vals[top]), 'dkk')} DKK, {names[top]})."
            )
        if noise is not None and one:
            near = sum(noisy(i) for i in one)
            text += (
                f" {near} of the {len(one)} single inputs are worth no more than an input "
                f"unrelated to the outcome (the noise floor, {fmt(noise[0], 'dkk')} DKK, plus "
                f"two standard deviations of {fmt(noise[1], 'dkk')} DKK)."
            )
        out.append(text)
    return out
