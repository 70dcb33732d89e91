"""The hyperparameter samplers' exercises, sample_learning_rate and sample_beta: the ranges they are called
with (the notebook's, or drawn from the grading's seed), how their samples must spread over the decades, and
the check that names how a sampler's samples went wrong (a linear scale, the exponents themselves, natural
logarithms, a range written into the code, 1 - beta)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tfsigns.grading.answers import Candidate
from tfsigns.grading.checks import Report, numbers
from tfsigns.grading.mistakes import CASE_SEED, case_rng, case_seed


@dataclass(frozen=True)
class Sampling:
    """A sampler exercise: the ranges it is called with and how its samples must spread.

    ranges: (low, high, n, seed, bin edges); each bin should get the same share of the samples.
    """

    ranges: tuple[tuple[float, float, int, int, tuple[float, ...]], ...]
    linear_note: str  # why sampling on a linear scale is wrong here
    exponents: Callable[[float, float], tuple[float, float]]  # (low, high) -> the range r is drawn from
    outside_hint: str  # when the samples are the exponents r themselves
    range_hint: str  # when they are not: a range written into the code instead of low and high
    log_hint: str  # when they do not spread evenly over the decades
    draw: Callable[[np.random.Generator], tuple[float, float, tuple[float, ...]]]  # (low, high, edges)
    exponent_of: Callable[[np.ndarray], np.ndarray]  # samples -> the exponents r they were made of
    complement: str = ""  # when the samples are 1 - beta (beta's sampler only)

    def cases(self) -> tuple[tuple[float, float, int, int, tuple[float, ...]], ...]:
        """The ranges: the notebook's, or (low, high, bins and seed) drawn from the grading's seed."""
        if CASE_SEED.get() == 0:
            return self.ranges
        drawn = [self.draw(case_rng(50 + k)) for k in range(len(self.ranges))]
        return tuple((low, high, n, case_seed(seed), edges)
                     for (low, high, edges), (_, _, n, seed, _) in zip(drawn, self.ranges, strict=True))


def _rate_range(rng: np.random.Generator) -> tuple[float, float, tuple[float, ...]]:
    """Two to four decades of learning rates, from 1e-6 to 1e-1 at most: (low, high, the decades' edges)."""
    first = -int(rng.integers(3, 7))
    last = first + int(rng.integers(2, 5))
    return 10.0 ** first, 10.0 ** last, tuple(10.0 ** k for k in range(first, last + 1))


def _beta_range(rng: np.random.Generator) -> tuple[float, float, tuple[float, ...]]:
    """Betas whose 1 - beta spans two or three decades, from 0.9 or 0.99 up: (low, high, the edges)."""
    first = int(rng.integers(1, 3))
    last = first + int(rng.integers(2, 4))
    return 1 - 10.0 ** -first, 1 - 10.0 ** -last, tuple(1 - 10.0 ** -k for k in range(first, last + 1))


SAMPLINGS = {
    "sample_learning_rate": Sampling(
        ((1e-4, 1.0, 4000, 0, (1e-4, 1e-3, 1e-2, 1e-1, 1.0)), (1e-3, 1e-1, 4000, 1, (1e-3, 1e-2, 1e-1))),
        "; almost every trial would get one of the largest learning rates",
        lambda low, high: (math.log10(low), math.log10(high)),
        "return the learning rate, 10 to the power r, not r: r is the exponent, uniform in [log10(low), "
        "log10(high)]",
        "draw r between log10(low) and log10(high) of the low and high you are given, not from a range "
        "written into the code",
        "sample on a log scale: draw the n exponents r at once, uniform between log10(low) and log10(high); "
        "each learning rate is 10 to the power r",
        _rate_range, np.log10),
    "sample_beta": Sampling(
        ((0.9, 0.999, 4000, 0, (0.9, 0.99, 0.999)), (0.9, 0.9999, 4000, 1, (0.9, 0.99, 0.999, 0.9999))),
        "; the values near 1, where beta matters most (it averages over about 1/(1 - beta) steps), are "
        "rarely tried",
        lambda low, high: (math.log10(1 - high), math.log10(1 - low)),
        "return beta, 1 minus 10 to the power r: r is the exponent of 1 - beta, "
        "uniform in [log10(1 - high), log10(1 - low)]",
        "draw r between log10(1 - high) and log10(1 - low) of the low and high you are given, not from a "
        "range written into the code",
        "sample 1 - beta on a log scale: draw the n exponents r at once, uniform between log10(1 - high) and "
        "log10(1 - low); each beta is 1 - 10 to the power r", _beta_range, lambda beta: np.log10(1 - beta),
        "10**r is 1 - beta, the part that is sampled on a log scale: beta is 1 minus 10 to the power r"),
}


NATURAL_LOG_HINT = ("np.log is the natural logarithm, but the exponent r is a power of 10: draw it between "
                    "the base-10 logarithms of the ends (np.log10)")


def _natural_exponents(spec: Sampling, low: float, high: float, samples: np.ndarray) -> bool:
    """Whether the samples' exponents lie between the ends' natural logarithms, not their base-10 ones
    (np.log where np.log10 belongs)."""
    with np.errstate(all="ignore"):
        r = spec.exponent_of(samples)
    first, last = spec.exponents(low, high)
    tolerance = 1e-6 * max(1.0, abs(first), abs(last))
    return bool(np.isfinite(r).all() and r.min() >= first * math.log(10) - tolerance
                and r.max() <= last * math.log(10) + tolerance and (r < first - tolerance).any())


def sampler_check(spec: Sampling) -> Callable[[Candidate, Report], None]:
    """A check of a hyperparameter sampler: n samples within [low, high], spread evenly over the
    bins spec.ranges gives (the right scale), the same for a seed and different for another."""
    def check(candidate: Candidate, report: Report) -> None:
        for low, high, n, seed, edges in spec.cases():
            label = f"({low:g}, {high:g}, n={n}, seed={seed})"
            samples = numbers(candidate(low, high, n, seed))
            if samples is None or samples.shape != (n,):
                got = "something that is not numbers" if samples is None else f"shape {samples.shape}"
                report.fail(f"{label}: expected {n} samples, an array of shape ({n},); got {got}",
                            "draw all n at once: np.random.uniform(a, b, size=n)")
                continue
            outside = (samples < low * (1 - 1e-9)) | (samples > high * (1 + 1e-9))
            if outside.any() and spec.complement and np.all((1 - samples >= low * (1 - 1e-9))
                                                            & (1 - samples <= high * (1 + 1e-9))):
                report.fail(f"{label}: returned 1 - beta, 10**r, not beta: 1 minus each sample lies in "
                            f"[{low:g}, {high:g}]", spec.complement, "returned 1 - beta")
                continue
            if outside.any() and _natural_exponents(spec, low, high, samples):
                report.fail(f"{label}: {outside.sum()} of {n} samples lie outside [{low:g}, {high:g}]: their "
                            "exponents were drawn between natural logarithms", NATURAL_LOG_HINT)
                continue
            if outside.any():
                first, last = spec.exponents(low, high)
                exponents = bool(np.all((samples >= first - 1e-9) & (samples <= last + 1e-9)))
                report.fail(f"{label}: {outside.sum()} of {n} samples lie outside [{low:g}, {high:g}] "
                            f"(min {samples.min():.4g}, max {samples.max():.4g})",
                            spec.outside_hint if exponents else spec.range_hint)
                continue
            bins = [f"[{a:g}, {b:g}]" for a, b in itertools.pairwise(edges)]
            shares = np.histogram(samples, bins=edges)[0] / n
            if np.abs(shares - 1 / len(bins)).max() > 0.05:
                linear = np.abs(shares - np.diff(edges) / (high - low)).max() < 0.05
                top = int(shares.argmax())
                report.fail(f"{label}: {'the samples look uniform on a linear scale: ' if linear else ''}"
                            f"expected about {1 / len(bins):.0%} of the samples in each of "
                            f"{', '.join(bins)}; got {', '.join(f'{s:.0%}' for s in shares)}: "
                            f"{shares[top]:.0%} of samples fall in {bins[top]}"
                            f"{spec.linear_note if linear else ''}", spec.log_hint)
            if not np.array_equal(samples, numbers(candidate(low, high, n, seed))):
                report.fail(f"{label}: two calls with seed={seed} gave different samples",
                            "seed the generator with the seed argument: np.random.seed(seed) first")
            elif np.array_equal(samples, numbers(candidate(low, high, n, seed + 1))):
                report.fail(f"{label}: seeds {seed} and {seed + 1} gave the same samples: the seed is "
                            "ignored", "seed the generator with the seed argument: np.random.seed(seed)")
    return check
