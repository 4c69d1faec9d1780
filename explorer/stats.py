"""Uncertainty and paired comparisons over test users: bootstrap CIs, sign-flip tests, Holm, effect sizes, verdicts.

Every metric here is a ratio of per-user sums, ``sum(num) / sum(den)`` (see
:func:`explorer.evaluation.user_contributions`), so resampling *users* moves all of a user's rows together
and the statistic stays the notebook's row-weighted metric.

* **Bootstrap CI** (:func:`bootstrap_ratios`, :func:`percentile_intervals`): users are drawn with
  replacement; one draw is a row of counts ``w`` (how often each user was drawn) and the metric of the draw
  is ``(w @ num) / (w @ den)``. All metrics of all models of a year share the same draws, so 10,000
  resamples of every column cost one matrix product. The percentile interval of those draws is reported.
  This is scipy.stats.bootstrap's ``paired=True, method="percentile"`` computed for many statistics at once
  (tests check they agree); scipy's own call costs ~0.5 s per metric, too slow for dozens of them.
* **Paired test** (:func:`sign_flip_pvalues`): under "no difference", swapping a user's two models changes
  nothing, i.e. flips the sign of the user's contribution ``d_u = num_A - num_B``. The p-value compares the
  observed ``sum(d)`` with its distribution over random sign flips, two-sided as scipy.stats.permutation_test
  with ``permutation_type="samples"`` does (exact when 2^n is at most the number of resamples).
* **Holm** (:func:`holm`) controls the family-wise error over everything compared at once.
* **Effect size** (:func:`effect_size`): Cohen's d_z of the per-user contributions (mean over sd).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np

RESAMPLES = 10_000
CONFIDENCE = 0.95
ALPHA = 0.05
CHUNK = 2_000  # resamples drawn at a time (bounds memory at CHUNK × users)


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


def _sign_draws(num_units: int, resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Random ±1 float32 matrices ``[chunk, num_units]``."""
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        bits = np.unpackbits(np.frombuffer(rng.bytes((size * num_units + 7) // 8), dtype=np.uint8))
        yield (1.0 - 2.0 * bits[: size * num_units].astype(np.float32)).reshape(size, num_units)


def sign_flip_pvalues(diffs: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Two-sided p-values of paired sign-flip permutation tests, one per column of ``diffs``.

    Args:
        diffs: ``[num_users, tests]`` (or ``[num_users]``) per-user differences ``num_A - num_B``; the
            test statistic is their sum (dividing by the shared denominator does not change the test).
        resamples: Random sign patterns; when 2^num_users is at most this, all patterns (exact test).
        seed: Seed of the sign patterns.

    Returns:
        ``[tests]`` (or a float) p-values, ``min(1, 2 min(P(T <= t), P(T >= t)))`` as in scipy's
        ``permutation_test``; a random test counts the observed pattern too, so its p is at least
        ``2 / (resamples + 1)``. Where no random pattern is as extreme as the observed one, that bound is
        replaced by the normal tail of the same permutation distribution (its mean 0 and variance
        ``sum(d**2)`` are exact), which resolves the very small p-values Holm's correction needs.
    """
    diffs = np.asarray(diffs, dtype=np.float64)
    flat = diffs.ndim == 1
    d = diffs[:, None] if flat else diffs
    observed = d.sum(axis=0)
    scale = np.maximum(np.abs(d).sum(axis=0), 1e-300)
    if d.shape[0] < 63 and 2 ** d.shape[0] <= resamples:  # every sign pattern: the exact test
        signs = np.array(list(itertools.product([1.0, -1.0], repeat=d.shape[0]))).reshape(-1, d.shape[0])
        null, tolerance = signs @ d, 1e-12 * scale
        less = (null <= observed + tolerance).sum(axis=0)
        greater = (null >= observed - tolerance).sum(axis=0)
        pvalues = np.minimum(1.0, 2.0 * np.minimum(less, greater) / len(signs))
        return float(pvalues[0]) if flat else pvalues
    d32, tolerance = d.astype(np.float32), 1e-5 * scale  # float32 sums: ties within rounding count as extreme
    less, greater = np.zeros(d.shape[1]), np.zeros(d.shape[1])
    for signs in _sign_draws(d.shape[0], resamples, np.random.default_rng(seed)):
        null = signs @ d32
        less += (null <= observed + tolerance).sum(axis=0)
        greater += (null >= observed - tolerance).sum(axis=0)
    extreme = np.minimum(less, greater)
    pvalues = np.minimum(1.0, 2.0 * (extreme + 1) / (resamples + 1))
    spread = np.sqrt((d**2).sum(axis=0))
    z = np.abs(observed) / np.where(spread > 0, spread, 1.0)
    normal = np.array([math.erfc(value / math.sqrt(2.0)) for value in z])  # 2 P(Z > z), one per test
    pvalues = np.where((extreme == 0) & (spread > 0), np.minimum(pvalues, normal), pvalues)
    return float(pvalues[0]) if flat else pvalues


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (same order as given): step-down ``(m - i) p_(i)``, made monotone."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def effect_size(diffs: np.ndarray) -> float:
    """Cohen's d_z: mean over sd (ddof 1) of per-user differences; 0 when they do not vary."""
    d = np.asarray(diffs, dtype=np.float64)
    if len(d) < 2:
        return 0.0
    spread = d.std(ddof=1)
    return float(d.mean() / spread) if spread > 0 else 0.0


def format_p(p: float) -> str:
    """``< 0.001`` or ``= 0.012`` (two significant digits), for sentences and tables."""
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.2g}" if p < 0.1 else f"= {p:.2f}"


def _years_text(years: Sequence[int]) -> str:
    words = [str(y) for y in years]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _p_text(pvalues: Sequence[float]) -> str:
    texts = [format_p(p) for p in pvalues]
    if len(set(texts)) == 1:
        return f"Holm p {texts[0]}" + (" each" if len(texts) > 1 else "")
    bare = [texts[0], *(t.removeprefix("= ") for t in texts[1:])]
    return "Holm p " + (bare[0] if len(bare) == 1 else f"{', '.join(bare[:-1])} and {bare[-1]}")


def verdict(
    a: str, b: str, metric: str, years: Sequence[int], diffs: Sequence[float], p_holm: Sequence[float], alpha=ALPHA
) -> str:
    """One sentence on ``a`` vs ``b`` for one metric across years.

    e.g. "lightgcn-social beats cmf on Recall@10 in 2008, 2009 and 2010 (Holm p < 0.001 each)" or
    "no detectable difference between lightgcn and cmf on Recall@10 in any year (Holm p = 0.62, 1.00 and 1.00)".
    """
    parts = {"a": [], "b": [], "none": []}
    for year, diff, p in zip(years, diffs, p_holm, strict=True):
        side = "none" if p >= alpha or diff == 0 else ("a" if diff > 0 else "b")
        parts[side].append((year, p))
    pieces = []
    for side, winner, loser in (("a", a, b), ("b", b, a)):
        if parts[side]:
            chosen = parts[side]
            pieces.append(
                f"{winner} beats {loser} on {metric} in {_years_text([y for y, _ in chosen])} "
                f"({_p_text([p for _, p in chosen])})"
            )
    if parts["none"]:
        chosen = parts["none"]
        where = "in any year" if len(chosen) == len(years) else f"in {_years_text([y for y, _ in chosen])}"
        text = _p_text([p for _, p in chosen])
        if pieces:
            pieces.append(f"no detectable difference {where} ({text})")
        else:
            pieces.append(f"no detectable difference between {a} and {b} on {metric} {where} ({text})")
    return "; ".join(pieces)
