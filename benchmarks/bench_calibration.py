"""Calibration through the kernel: time, recovery and coverage on synthetic studies.

Run from the repository root::

    python benchmarks/bench_calibration.py [--deal configs/holbaek.toml] [--studies 10]
        [--particles 200] [--scenarios 10]

The truth is the deal's own values of its ``[calibration]`` free parameters. Each
synthetic study is the deal's fitted endpoints measured on citizens the model
generates at the truth (their own random streams), with binomial sampling noise of
the study's size added; it is then calibrated (sequential Monte Carlo, as
``simrisk calibrate``). Printed: the time per calibration and simulations per second;
for every parameter the share of studies whose central 90 % and 50 % posterior
intervals hold the truth, against the 90 % and 50 % they claim, with the binomial
standard error of that share; and the median of the posterior medians.

The synthetic endpoints are independent binomials, one per target, as the likelihood
assumes; a study that reports several endpoints of the same people (a cumulative
share at two follow-ups) makes the posterior narrower than the evidence warrants.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from simrisk.analysis import calibrate as cal
from simrisk.analysis.targets import deal_targets
from simrisk.config import get_path, load_deal, parse_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deal", default="configs/holbaek.toml")
    ap.add_argument("--studies", type=int, default=10)
    ap.add_argument("--particles", type=int, default=200)
    ap.add_argument("--scenarios", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    cfg, _ = load_deal(args.deal)
    tg = deal_targets(cfg, Path(args.deal).parent, args.deal)
    dumped = cfg.model_dump(by_alias=True)
    truth = np.array([get_path(dumped, parse_path(f.path)) for f in tg.free], float)
    print(f"deal {cfg.deal.name}; free {', '.join(f.path for f in tg.free)}")
    print(f"truth {np.array2string(truth, precision=4)}; {len(tg.targets)} targets")
    rng = np.random.default_rng(args.seed)
    inside90 = np.zeros(len(truth))
    inside50 = np.zeros(len(truth))
    medians, seconds, sims = [], [], 0
    for k in range(args.studies):
        # the study's citizens: the model at the truth, on streams the fit does not use
        gen = cal.Objective(cfg, tg, 4 * args.scenarios, 10_000 + k)
        observed = []
        for t, (value, _) in zip(tg.targets, gen.outcomes(truth), strict=True):
            if t.n is not None:
                p = min(max(value, 0.0), 1.0)
                observed.append(rng.binomial(t.n, p) / t.n)
            else:
                observed.append(value + rng.normal(0.0, t.se))
        targets = []
        for t, y in zip(tg.targets, observed, strict=True):
            field = "quantile" if t.kind == "time_to_event" else "observed"
            if field == "quantile":
                y = min(max(y, 1e-3), 1 - 1e-3)
            targets.append(t.model_copy(update={field: float(y)}))
        study = tg.model_copy(update={"targets": targets})
        start = time.perf_counter()
        fit = cal.posterior_fit(cfg, study, args.scenarios, k, args.particles)
        seconds.append(time.perf_counter() - start)
        sims += fit.posterior.evaluations
        lo90, hi90 = fit.posterior.interval(0.9).T
        lo50, hi50 = fit.posterior.interval(0.5).T
        inside90 += (lo90 <= truth) & (truth <= hi90)
        inside50 += (lo50 <= truth) & (truth <= hi50)
        medians.append(fit.estimate)
        print(f"study {k + 1}: median {np.array2string(fit.estimate, precision=4)}, "
              f"90 % {np.array2string(np.stack([lo90, hi90], 1), precision=3)}, "
              f"{seconds[-1]:.1f} s")  # fmt: skip
    n = args.studies
    print(f"\ncalibration: {np.median(seconds):.1f} s median, {sims / sum(seconds):.0f} "
          f"simulations/s of {args.scenarios} scenarios ({args.particles} particles)")  # fmt: skip
    for j, f in enumerate(tg.free):
        for level, inside in ((0.9, inside90), (0.5, inside50)):
            share = inside[j] / n
            se = math.sqrt(level * (1 - level) / n)
            print(f"{f.path}: {100 * level:.0f} % intervals hold the truth in {share:.0%} of "
                  f"{n} studies (claimed {level:.0%}, binomial SE {se:.0%})")  # fmt: skip
        print(f"  median of posterior medians {np.median([m[j] for m in medians]):.4g} "
              f"(truth {truth[j]:.4g})")  # fmt: skip


if __name__ == "__main__":
    main()
