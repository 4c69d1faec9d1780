"""Uncertainty and paired comparisons over test users: bootstrap CIs, sign-flip tests, Holm, effect sizes, verdicts.

Every metric here is a ratio of per-user sums, ``sum(num) / sum(den)`` (see
:func:`explorer.evaluation.user_contributions`), so resampling *users* moves all of a user's rows together
and the statistic stays the notebook's row-weighted metric. docs/statistics.md states every definition.

* **Bootstrap CI** (:func:`bootstrap_ratios`, :func:`percentile_intervals`): users are drawn with
  replacement; one draw is a row of counts ``w`` and the metric of the draw is ``(w @ num) / (w @ den)``.
  All columns share the draws, so 10,000 resamples of every column cost one matrix product per chunk. This is
  scipy.stats.bootstrap's ``paired=True, method="percentile"`` for many statistics at once (tests check it).
* **Paired test** (:func:`sign_flip_counts`): under "no difference", swapping a user's two models flips the
  sign of the user's contribution ``d_u = num_A - num_B``. The observed ``sum(d)`` is compared with random
  sign patterns, two-sided as scipy.stats.permutation_test (``permutation_type="samples"``) does; exact when
  2^n is at most the number of resamples. A random test's p is ``min(1, 2 (extreme + 1) / (B + 1))``: never
  below ``2 / (B + 1)``, and where it sits there it is reported as a *bound* (the true p is at most that).
  More patterns come from a second seeded stream (:func:`extra_sign_flip_counts`), in whole chunks, so the
  counts of the first ``B`` patterns never depend on how many were drawn later.
* **Holm** (:func:`holm_with_bounds`) controls the family-wise error; a bound stays a bound after it.
* **Effect size** (:func:`effect_size`): d_z of each user's contribution to the reported difference.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

RESAMPLES = 10_000
CONFIDENCE = 0.95
ALPHA = 0.05
CHUNK = 2_000  # resamples drawn at a time (bounds memory at CHUNK × users); also the sign-pattern stream's unit


def bootstrap_weights(num_units: int, resamples: int = RESAMPLES, seed: int = 0) -> Iterator[np.ndarray]:
    """Draws of ``num_units`` units with replacement, as counts: float arrays ``[chunk, num_units]``.

    Seeded: the same arguments give the same draws.
    """
    rng = np.random.default_rng(seed)
    kind = np.int32 if CHUNK * num_units < 2**31 else np.int64
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        picks = rng.integers(0, num_units, (size, num_units), dtype=kind)
        picks += np.arange(size, dtype=kind)[:, None] * kind(num_units)
        counts = np.bincount(picks.ravel(), minlength=size * num_units)
        yield counts.astype(np.float64).reshape(size, num_units)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def bootstrap_ratios(num: np.ndarray, den: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Bootstrap distribution of ``sum(num) / sum(den)`` per column, resampling rows (users).

    Args:
        num, den: ``[num_users, columns]`` (or ``[num_users]``) per-user numerators and denominators.
        resamples: Number of draws.
        seed: Seed of the draws.

    Returns:
        ``[resamples, columns]`` (or ``[resamples]``) metric values, one per draw.
    """
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    flat = num.ndim == 1
    num2, den2 = (num[:, None], den[:, None]) if flat else (num, den)
    both = np.concatenate([num2, den2], axis=1)
    width = num2.shape[1]
    if len(num2) == 0:
        draws = np.zeros((resamples, num2.shape[1]))
    else:
        draws = np.concatenate(
            [_ratio(*np.hsplit(w @ both, [width])) for w in bootstrap_weights(len(num2), resamples, seed)], axis=0
        )
    return draws[:, 0] if flat else draws


def percentile_intervals(draws: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """Percentile intervals of bootstrap draws ``[resamples, columns]`` → ``[columns, 2]`` (``[2]`` for 1-D)."""
    tail = (1.0 - confidence) / 2.0
    return np.quantile(draws, [tail, 1.0 - tail], axis=0).T


def ratio_interval(
    num: np.ndarray, den: np.ndarray, confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """The percentile bootstrap interval of ``sum(num) / sum(den)`` over users."""
    low, high = percentile_intervals(bootstrap_ratios(num, den, resamples, seed), confidence)
    return float(low), float(high)


def normal_interval(estimate: np.ndarray, se: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """The normal bootstrap interval ``estimate ± z se`` at two-sided level ``confidence`` → ``[..., 2]``.

    Used where the level is too extreme for the percentile interval of a few thousand draws to resolve
    (``1 - 0.05 / 468`` needs the 0.005% tails); ``se`` is the standard deviation of the bootstrap draws.
    """
    z = ndtri(1.0 - (1.0 - np.asarray(confidence, dtype=np.float64)) / 2.0)
    half = z * np.asarray(se, dtype=np.float64)
    return np.stack([estimate - half, estimate + half], axis=-1)


def sign_patterns(num_units: int, chunk: int, seed: int, stream: int = 0) -> np.ndarray:
    """Chunk ``chunk`` of a seeded stream of random ±1 patterns: float32 ``[CHUNK, num_units]``.

    Each chunk has its own generator (``[seed, stream, chunk]``), so the patterns of a chunk never depend on
    how many chunks were drawn before or after it.
    """
    rng = np.random.default_rng([seed, stream, chunk])
    words = rng.integers(0, 2**32, size=(CHUNK, (num_units + 31) // 32), dtype=np.uint32)
    bits = np.unpackbits(words.view(np.uint8), axis=1)[:, :num_units]
    return 1.0 - 2.0 * bits.astype(np.float32)


def _extremes(d: np.ndarray, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many sign patterns give a sum at most / at least the observed one, per column (ties count)."""
    observed = d.sum(axis=0)
    tolerance = 1e-5 * np.maximum(np.abs(d).sum(axis=0), 1e-300)  # float32 sums: ties within rounding count
    null = signs @ d.astype(np.float32)
    return (null <= observed + tolerance).sum(axis=0), (null >= observed - tolerance).sum(axis=0)


@dataclass(frozen=True)
class SignFlipCounts:
    """Counts of a sign-flip test per column: ``less`` / ``greater`` patterns as extreme as observed of ``patterns``.

    ``exact``: every one of the 2^n patterns was used (the counts then include the observed pattern itself).
    """

    patterns: int
    less: np.ndarray
    greater: np.ndarray
    exact: bool


def sign_flip_counts(diffs: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> SignFlipCounts:
    """The first ``resamples`` patterns of the seeded stream (or all 2^n when that is no more), per column.

    Args:
        diffs: ``[num_users, tests]`` per-user differences ``num_A - num_B``; the statistic is their sum
            (dividing by the shared denominator does not change the test).
        resamples: Random sign patterns.
        seed: Seed of the stream.
    """
    d = np.asarray(diffs, dtype=np.float64)
    d = d[:, None] if d.ndim == 1 else d
    if d.shape[0] < 63 and 2 ** d.shape[0] <= resamples:  # every sign pattern: the exact test
        signs = np.array(list(itertools.product([1.0, -1.0], repeat=d.shape[0])), dtype=np.float32)
        less, greater = _extremes(d, signs.reshape(-1, d.shape[0]))
        return SignFlipCounts(2 ** d.shape[0], less, greater, True)
    less, greater = np.zeros(d.shape[1], dtype=np.int64), np.zeros(d.shape[1], dtype=np.int64)
    for chunk in range(math.ceil(resamples / CHUNK)):
        size = min(CHUNK, resamples - chunk * CHUNK)
        low, high = _extremes(d, sign_patterns(d.shape[0], chunk, seed)[:size])
        less, greater = less + low, greater + high
    return SignFlipCounts(resamples, less, greater, False)


def extra_sign_flip_counts(diffs: np.ndarray, first: int, stop: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Counts over chunks ``first … stop - 1`` of the extension stream (``CHUNK`` patterns each).

    Returns:
        ``(less, greater)``, int arrays ``[stop - first, tests]``: one row per chunk.
    """
    d = np.asarray(diffs, dtype=np.float64)
    d = d[:, None] if d.ndim == 1 else d
    rows = [_extremes(d, sign_patterns(d.shape[0], chunk, seed, stream=1)) for chunk in range(first, stop)]
    if not rows:
        return np.zeros((0, d.shape[1]), dtype=np.int64), np.zeros((0, d.shape[1]), dtype=np.int64)
    return np.stack([r[0] for r in rows]).astype(np.int64), np.stack([r[1] for r in rows]).astype(np.int64)


def counts_pvalues(
    less: np.ndarray, greater: np.ndarray, patterns: np.ndarray | int, exact: np.ndarray | bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values from sign-flip counts, and whether each is only a bound.

    Exact: ``min(1, 2 min(less, greater) / 2^n)``. Random: ``min(1, 2 (extreme + 1) / (B + 1))``, where the
    ``+ 1`` counts the observed pattern; with no random pattern as extreme (``extreme == 0``) the p is the
    test's floor ``2 / (B + 1)`` and a *bound*: the true p is at most that.
    """
    less, greater = np.asarray(less, dtype=np.float64), np.asarray(greater, dtype=np.float64)
    patterns = np.asarray(patterns, dtype=np.float64)
    exact = np.asarray(exact, dtype=bool)
    extreme = np.minimum(less, greater)
    random_p = np.minimum(1.0, 2.0 * (extreme + 1.0) / (patterns + 1.0))
    exact_p = np.minimum(1.0, 2.0 * extreme / patterns)
    return np.where(exact, exact_p, random_p), (~exact) & (extreme == 0)


def sign_flip_pvalues(diffs: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Two-sided p-values of paired sign-flip tests, one per column of ``diffs`` (a float for a 1-D ``diffs``).

    Never below the test's floor ``2 / (resamples + 1)`` (see :func:`counts_pvalues`).
    """
    counts = sign_flip_counts(diffs, resamples, seed)
    pvalues, _ = counts_pvalues(counts.less, counts.greater, counts.patterns, counts.exact)
    return float(pvalues[0]) if np.asarray(diffs).ndim == 1 else pvalues


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (same order as given): step-down ``(m - i) p_(i)``, made monotone."""
    return holm_with_bounds(pvalues)[0]


def holm_with_bounds(
    pvalues: Sequence[float] | np.ndarray, bound: Sequence[bool] | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Holm's adjusted p-values, which of them are bounds, and the multiplier Holm applied to each test.

    Holm is valid on bounds (a true p below its bound only lowers the adjusted value). An adjusted p is a
    bound when the term that sets it (the largest ``(m - j) p_(j)`` up to it) is a bound.

    Returns:
        ``(adjusted, adjusted_is_bound, multiplier)``; ``multiplier = adjusted / p`` is in ``[1, m]`` (1 when
        the cap at 1 set it), so ``p < alpha / multiplier`` exactly when ``adjusted < alpha``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    bounds = np.zeros(len(p), dtype=bool) if bound is None else np.asarray(bound, dtype=bool)
    order = np.lexsort((bounds[np.arange(len(p))], p))  # ties: exact values first, so they set the level
    scaled = (len(p) - np.arange(len(p))) * p[order]
    running = np.maximum.accumulate(scaled) if len(p) else scaled
    setter = np.maximum.accumulate(np.where(scaled >= running, np.arange(len(p)), 0)) if len(p) else scaled
    adjusted, is_bound = np.empty_like(p), np.zeros(len(p), dtype=bool)
    adjusted[order] = np.minimum(1.0, running)
    is_bound[order] = bounds[order][setter.astype(int)] & (running < 1.0)
    multiplier = np.divide(adjusted, p, out=np.ones_like(p), where=p > 0)
    return adjusted, is_bound, np.maximum(multiplier, 1.0)


def effect_size(diffs: np.ndarray) -> float:
    """d_z of per-user contributions: their mean over their sd (ddof 1); 0 when they do not vary.

    For a ratio metric, user u's contribution to the reported difference is ``n (num_A,u - num_B,u) / sum(den)``
    (their mean is exactly the difference); d_z is scale-free, so it equals d_z of the numerator differences.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if len(d) < 2:
        return 0.0
    spread = d.std(ddof=1)
    return float(d.mean() / spread) if spread > 0 else 0.0


def format_p(p: float, bound: bool = False) -> str:
    """A p-value to two significant figures: ``0.68``, ``0.012``, ``0.0012``, ``3.2e-4``; a bound as ``< 8.5e-5``."""
    rounded = float(f"{p:.2g}")
    if rounded >= 1.0:
        text = "1.0"
    elif rounded >= 0.001:
        text = f"{rounded:.{1 - math.floor(math.log10(rounded))}f}"
    else:
        mantissa, exponent = f"{p:.1e}".split("e")
        text = f"{mantissa}e{int(exponent)}"
    return f"< {text}" if bound else text


def _years_text(years: Sequence[int]) -> str:
    words = [str(y) for y in years]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _p_text(pvalues: Sequence[float], bounds: Sequence[bool], name: str) -> str:
    texts = [format_p(p, b) if b else f"= {format_p(p)}" for p, b in zip(pvalues, bounds, strict=True)]
    if len(set(texts)) == 1:
        return f"{name} p {texts[0]}" + (" each" if len(texts) > 1 else "")
    bare = [texts[0], *(t.removeprefix("= ") for t in texts[1:])]
    return f"{name} p " + (bare[0] if len(bare) == 1 else f"{', '.join(bare[:-1])} and {bare[-1]}")


def verdict(
    a: str,
    b: str,
    metric: str,
    years: Sequence[int],
    diffs: Sequence[float],
    p_adjusted: Sequence[float],
    alpha: float = ALPHA,
    *,
    bounds: Sequence[bool] | None = None,
    adjustment: str = "Holm",
    missing: Sequence[int] = (),
) -> str:
    """One sentence on ``a`` vs ``b`` for one metric across years.

    e.g. "lightgcn-social beats cmf on Recall@10 in 2008, 2009 and 2010 (Holm p < 0.0040 each)" or
    "no detectable difference between lightgcn and cmf on Recall@10 in any year (Holm p = 0.62, 1.0 and 1.0)";
    years where one of them has no run end in "; not compared in 2008 (a run is missing)".
    """
    bounds = list(bounds) if bounds is not None else [False] * len(years)
    parts: dict[str, list[tuple[int, float, bool]]] = {"a": [], "b": [], "none": []}
    for year, diff, p, bound in zip(years, diffs, p_adjusted, bounds, strict=True):
        side = "none" if p >= alpha or diff == 0 else ("a" if diff > 0 else "b")
        parts[side].append((year, p, bound))
    pieces = []
    for side, winner, loser in (("a", a, b), ("b", b, a)):
        if parts[side]:
            chosen = parts[side]
            text = _p_text([p for _, p, _ in chosen], [x for _, _, x in chosen], adjustment)
            pieces.append(f"{winner} beats {loser} on {metric} in {_years_text([y for y, _, _ in chosen])} ({text})")
    if parts["none"]:
        chosen = parts["none"]
        every = len(chosen) == len(years) and not missing
        where = "in any year" if every else f"in {_years_text([y for y, _, _ in chosen])}"
        text = _p_text([p for _, p, _ in chosen], [x for _, _, x in chosen], adjustment)
        if pieces:
            pieces.append(f"no detectable difference {where} ({text})")
        else:
            pieces.append(f"no detectable difference between {a} and {b} on {metric} {where} ({text})")
    if missing:
        lead = "" if pieces else f"{a} vs {b} on {metric}: "
        pieces.append(f"{lead}not compared in {_years_text(list(missing))} (a run is missing)")
    return "; ".join(pieces)
