"""Many comparisons at once: the randomised Tukey HSD, Holm-consistent intervals, and the disagreement band.

* **Randomised Tukey HSD** (Carterette 2012, TOIS 30(1); elinor's ``RandomizedTukeyHsdTest``): per user, the
  models' contributions are permuted across the models (under "all models are alike" a user's numbers could
  belong to any of them); the statistic is the range (max - min) of the models' metric. A pair's adjusted p
  is ``(#{range* >= |diff|} + 1) / (B + 1)``, and its simultaneous interval is ``diff ± q``, ``q`` the
  permutation quantile of the range, chosen so that the interval excludes 0 exactly when the adjusted p is
  below alpha. Several metrics and years (blocks) are combined by Bonferroni over the blocks.
* **Holm-consistent intervals**: test i's interval is the normal bootstrap interval at level ``1 - alpha/c_i``,
  ``c_i = p_holm_i / p_i`` the multiplier Holm applied to it, so that it excludes 0 when the Holm p is below
  alpha, up to the difference between the bootstrap and the permutation test (:func:`band`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import beta

from explorer.stats import ALPHA, CHUNK

PERMUTATION_CHUNK = 200  # Tukey permutations at a time (memory: a few chunk × users × models arrays; measured)
MAX_PATTERNS = 200_000  # the most sign patterns one test may get; beyond, the floor stays a bound
MARGIN = 1.25  # extra patterns: a floor p times its Holm multiplier ends at alpha / MARGIN
BAND_SYSTEMATIC = 0.03  # the bootstrap SE's Monte Carlo noise in z (3 / sqrt(2 B), B = 10,000: 2.1%), rounded up
BAND_LEVEL = 0.99  # Monte Carlo interval of a permutation p used by the band


def permutation_index(num_users: int, num_models: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` independent uniform permutations of the models per user, as flat indices into a
    ``[num_users, num_models]`` array: int32 ``[size, num_users, num_models]``.

    A permutation is the order of one random 56+-bit key per model; the model's index rides in the key's low
    bits, so one in-place sort of int64 (no argsort, no second pass) gives it.
    """
    bits = max(1, (num_models - 1).bit_length())
    keys = rng.bit_generator.random_raw((size, num_users, num_models))
    np.right_shift(keys, np.uint64(bits + 1), out=keys)
    keys = keys.view(np.int64)
    np.left_shift(keys, bits, out=keys)
    keys |= np.arange(num_models, dtype=np.int64)
    keys.sort(axis=2)
    order = (keys & ((1 << bits) - 1)).astype(np.int32)
    return order + (np.arange(num_users, dtype=np.int32) * num_models)[None, :, None]


def tukey_ranges(contributions: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    """The permutation distribution of the range of the models' metric, per metric.

    Args:
        contributions: ``[num_users, num_models, metrics]``, each user's contribution to each model's metric
            (``num / sum(den)``: a model's metric is the column's sum).
        resamples: Permutations (each user's row of models shuffled independently; all metrics share them).
        seed: Seed of the permutations (each chunk has its own generator).

    Returns:
        ``[resamples, metrics]`` ranges ``max_j metric_j - min_j metric_j`` of the permuted data.
    """
    c = np.asarray(contributions, dtype=np.float64)
    users, models, metrics = c.shape
    flat = [np.ascontiguousarray(c[:, :, k]).ravel() for k in range(metrics)]
    ranges = []
    for chunk, start in enumerate(range(0, resamples, PERMUTATION_CHUNK)):
        size = min(PERMUTATION_CHUNK, resamples - start)
        index = permutation_index(users, models, size, np.random.default_rng([seed, 2, chunk]))
        totals = np.stack([np.take(values, index).sum(axis=1) for values in flat], axis=2)  # [size, models, K]
        ranges.append(totals.max(axis=1) - totals.min(axis=1))
    return np.concatenate(ranges, axis=0) if ranges else np.zeros((0, metrics))


def tukey_pvalues(diffs: np.ndarray, ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p per pair of one block: ``(#{range* >= |diff|} + 1) / (B + 1)``, and whether it is the floor.

    Args:
        diffs: ``[pairs]`` observed differences of the block.
        ranges: ``[B]`` the block's permutation ranges.
    """
    ordered = np.sort(ranges)
    count = len(ordered) - np.searchsorted(ordered, np.abs(diffs) - _tie_tolerance(ordered), side="left")
    return (count + 1.0) / (len(ordered) + 1.0), count == 0


def tukey_half_width(ranges: np.ndarray, level: float) -> float:
    """``q`` such that ``|diff| > q`` exactly when ``(#{range* >= |diff|} + 1) / (B + 1) < level``.

    That holds when at most ``k`` ranges reach ``|diff|``, ``k`` the largest integer below
    ``level (B + 1) - 1``: ``q`` is the (k+1)-th largest range (infinite when ``k < 0``: B is too small), plus
    the tolerance within which :func:`tukey_pvalues` counts a range as reaching ``|diff|`` (permutation ranges
    tie; a difference equal to ``q`` up to rounding is not significant, so its interval must reach zero).
    """
    k = math.ceil(level * (len(ranges) + 1) - 1) - 1
    if k < 0:
        return math.inf
    ordered = np.sort(ranges)[::-1]
    return float(ordered[min(k, len(ordered) - 1)]) + _tie_tolerance(ordered)


def _tie_tolerance(ranges: np.ndarray) -> float:
    """Ranges within this of ``|diff|`` count as reaching it (the two are sums in different orders)."""
    return 1e-9 * max(float(np.abs(ranges).max(initial=0.0)), 1e-300)


def holm_intervals(diff: np.ndarray, se: np.ndarray, multiplier: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Normal bootstrap intervals at the Holm-consistent level ``1 - alpha / multiplier`` → ``[tests, 2]``."""
    z = ndtri(1.0 - alpha / (2.0 * np.asarray(multiplier, dtype=np.float64)))
    half = z * np.asarray(se, dtype=np.float64)
    return np.stack([diff - half, diff + half], axis=-1)


def patterns_needed(multiplier: float, alpha: float = ALPHA) -> int:
    """Sign patterns for which the floor ``2 / (B + 1)`` times ``multiplier`` is ``alpha / MARGIN``."""
    return math.ceil(2.0 * MARGIN * multiplier / alpha - 1.0)


def extra_chunks(patterns: int, multiplier: float, alpha: float = ALPHA) -> int:
    """Chunks of the extension stream a test at the floor needs beyond its first ``patterns`` (capped)."""
    wanted = min(patterns_needed(multiplier, alpha), MAX_PATTERNS)
    return max(0, math.ceil((wanted - patterns) / CHUNK))


def monte_carlo_interval(
    less: np.ndarray, greater: np.ndarray, patterns: np.ndarray, level: float = BAND_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """The Clopper-Pearson interval of the exact permutation p that random sign-flip counts estimate.

    ``min(less, greater)`` of ``B`` patterns is binomial with success ``p / 2``: returns ``[p_lo, p_hi]``.
    """
    extreme = np.minimum(less, greater).astype(np.float64)
    b = np.asarray(patterns, dtype=np.float64)
    tail = (1.0 - level) / 2.0
    low = np.where(extreme > 0, beta.ppf(tail, np.maximum(extreme, 1), b - extreme + 1), 0.0)
    high = np.where(extreme < b, beta.ppf(1.0 - tail, extreme + 1, np.maximum(b - extreme, 1)), 1.0)
    return np.minimum(1.0, 2.0 * low), np.minimum(1.0, 2.0 * high)


def _z(p: np.ndarray) -> np.ndarray:
    """The two-sided normal quantile of a p-value: ``z`` with ``2 (1 - Phi(z)) = p``."""
    return ndtri(1.0 - np.clip(np.asarray(p, dtype=np.float64), 1e-300, 1.0) / 2.0)


def band(
    diff: np.ndarray,
    se: np.ndarray,
    null_se: np.ndarray,
    kurtosis: np.ndarray,
    threshold: np.ndarray,
    p_range: tuple[np.ndarray, np.ndarray],
    settled: np.ndarray,
) -> np.ndarray:
    """Whether each test lies in the band where its adjusted interval and its adjusted p may disagree.

    The interval excludes 0 when the bootstrap ``z_b = |diff| / se`` exceeds ``z_c``, the normal quantile of
    the test's Holm threshold ``alpha / c``; the test rejects when its permutation p is below that threshold.
    They can disagree, without either being wrong, when

    * ``|z_b - z_c|`` is within what separates the two methods: the gap between the bootstrap SE and the
      permutation null's exact SD ``null_se`` (``|z_b - |diff| / null_se|``: centring, the ratio's random
      denominator), the permutation null's lighter-than-normal tails (Cornish-Fisher: ``|kurtosis| / 24
      (z_c^3 - 3 z_c)``, the sign-flip sum's excess kurtosis being ``-2 sum d^4 / (sum d^2)^2``) and the
      bootstrap SE's own Monte Carlo noise (``BAND_SYSTEMATIC z_c``); or
    * the permutation p is within Monte Carlo error of the threshold: the threshold lies in the p's 99%
      Clopper-Pearson interval (``p_range``), unless the test is ``settled`` (rejected on its floor bound,
      a decision the floor cannot reverse).
    """
    diff, se, null_se = (np.asarray(x, dtype=np.float64) for x in (diff, se, null_se))
    z_crit = _z(threshold)
    z_boot = np.abs(diff) / np.where(se > 0, se, np.inf)
    z_null = np.abs(diff) / np.where(null_se > 0, null_se, np.inf)
    shape = np.abs(kurtosis) / 24.0 * np.abs(z_crit**3 - 3.0 * z_crit)
    width = np.abs(z_boot - z_null) + shape + BAND_SYSTEMATIC * z_crit
    low, high = p_range
    monte_carlo = (low <= threshold) & (threshold <= high) & ~np.asarray(settled, dtype=bool)
    return (np.abs(z_boot - z_crit) <= width) | monte_carlo


def bootstrap_p(diff: np.ndarray, se: np.ndarray) -> np.ndarray:
    """The level at which the normal bootstrap interval just touches 0: ``2 (1 - Phi(|diff| / se))``."""
    return 2.0 * ndtr(-np.abs(diff) / np.where(se > 0, se, np.inf))
