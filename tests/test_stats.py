"""Bootstrap CIs, sign-flip p-values, Holm, effect sizes and verdicts: hand-computed cases and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from explorer import stats
from explorer.errors import ParameterError
from explorer.evaluation import metrics_of, parse_metric, user_contributions
from tests.conftest import scipy_sign_flip_p


def test_bootstrap_of_two_users_takes_the_three_possible_values():
    # user A: 1 hit of 1 row, user B: 0 of 1. Draws {A,A} → 1 (p 1/4), {A,B} → 0.5 (1/2), {B,B} → 0 (1/4)
    draws = stats.bootstrap_ratios(np.array([1.0, 0.0]), np.array([1.0, 1.0]), resamples=4000, seed=1)
    assert set(np.unique(draws)) == {0.0, 0.5, 1.0}
    assert (draws == 0.5).mean() == pytest.approx(0.5, abs=0.03)
    assert stats.ratio_interval(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == (0.0, 1.0)


def test_bootstrap_moves_a_users_rows_together():
    # user A: 3 hits in 3 rows, user B: 0 hits in 1 row → draws are 6/6, 3/4 or 0/2, never a row mix
    draws = stats.bootstrap_ratios(np.array([3.0, 0.0]), np.array([3.0, 1.0]), resamples=2000)
    assert set(np.unique(draws)) == {0.0, 0.75, 1.0}


def test_bootstrap_is_seeded_and_constant_data_gives_a_point():
    num, den = np.random.default_rng(0).random(20), np.full(20, 3.0)
    assert stats.ratio_interval(num, den, seed=3) == stats.ratio_interval(num, den, seed=3)
    assert stats.ratio_interval(num, den, seed=3) != stats.ratio_interval(num, den, seed=4)
    assert stats.ratio_interval(np.full(5, 2.0), np.full(5, 4.0)) == (0.5, 0.5)


def test_bootstrap_interval_agrees_with_scipy_on_random_data():
    rng = np.random.default_rng(7)
    den = rng.integers(1, 12, 400).astype(float)
    num = rng.binomial(den.astype(int), 0.1).astype(float)
    ours = stats.ratio_interval(num, den, seed=0)
    theirs = scipy_stats.bootstrap(
        (num, den),
        lambda a, b, axis=-1: a.sum(axis) / b.sum(axis),
        paired=True,
        vectorized=True,
        n_resamples=10_000,
        method="percentile",
        rng=np.random.default_rng(1),
    ).confidence_interval
    width = theirs.high - theirs.low
    assert ours[0] == pytest.approx(theirs.low, abs=0.05 * width)
    assert ours[1] == pytest.approx(theirs.high, abs=0.05 * width)


def test_many_columns_share_draws_and_match_one_at_a_time():
    rng = np.random.default_rng(2)
    num = rng.random((50, 3))
    den = np.ones((50, 3))
    together = stats.bootstrap_ratios(num, den, resamples=500, seed=5)
    for column in range(3):
        assert np.allclose(together[:, column], stats.bootstrap_ratios(num[:, column], den[:, column], 500, 5))


def test_exact_sign_flip_p_by_hand():
    # d = [1, 2, 3]: the 8 sign patterns give sums 6, 4, 2, 0, 0, -2, -4, -6; observed 6
    # P(T >= 6) = 1/8, P(T <= 6) = 1 → two-sided 2/8
    assert stats.sign_flip_pvalues(np.array([1.0, 2.0, 3.0])) == pytest.approx(0.25)
    # d = [1, -1]: sums 0, 2, -2, 0; observed 0 → P(T >= 0) = 3/4 → p = min(1, 1.5) = 1
    assert stats.sign_flip_pvalues(np.array([1.0, -1.0])) == 1.0
    assert stats.sign_flip_pvalues(np.zeros(5)) == 1.0


def test_exact_sign_flip_equals_scipy():
    x = np.array([0.3, 0.0, 1.0, 0.5, 0.25, 0.0, 1.0])
    y = np.array([0.0, 0.1, 0.5, 0.5, 0.0, 0.2, 0.2])
    theirs = scipy_stats.permutation_test(
        (x, y), lambda a, b, axis=-1: (a - b).sum(axis), permutation_type="samples", vectorized=True
    ).pvalue
    assert stats.sign_flip_pvalues(x - y) == pytest.approx(theirs)


def test_random_sign_flip_agrees_with_scipy_on_random_data():
    rng = np.random.default_rng(11)
    x = rng.binomial(5, 0.12, 300) / 5
    y = rng.binomial(5, 0.10, 300) / 5
    theirs = scipy_sign_flip_p(x, y)
    ours = stats.sign_flip_pvalues(x - y, resamples=10_000, seed=0)
    assert 0.01 < theirs < 0.9  # a p-value Monte Carlo resolves
    assert ours == pytest.approx(theirs, abs=0.02)


def test_a_p_never_goes_below_the_floor_and_the_floor_is_a_bound():
    rng = np.random.default_rng(3)
    strong = rng.normal(1.0, 1.0, 500)  # z ≈ 22: no random pattern is as extreme
    none = rng.normal(0.0, 1.0, 500)
    counts = stats.sign_flip_counts(np.stack([strong, none], axis=1), resamples=2000)
    p, bound = stats.counts_pvalues(counts.less, counts.greater, counts.patterns, counts.exact)
    assert p[0] == pytest.approx(2 / 2001) and bound.tolist() == [True, False]  # regression: was 1e-100 (normal)
    assert p[1] > 0.01
    assert stats.sign_flip_pvalues(strong, resamples=2000) == pytest.approx(2 / 2001)


def test_the_first_patterns_do_not_depend_on_how_many_are_drawn():
    d = np.random.default_rng(4).normal(0.05, 1.0, (300, 3))
    short, long = stats.sign_flip_counts(d, 1_500, seed=2), stats.sign_flip_counts(d, 4_000, seed=2)
    first = stats.sign_flip_counts(d, 2_000, seed=2)
    assert np.array_equal(stats.sign_patterns(300, 0, 2)[:1_500], stats.sign_patterns(300, 0, 2)[:1_500])
    assert (short.less <= first.less).all() and (first.less <= long.less).all()
    once = stats.extra_sign_flip_counts(d, 0, 3, seed=2)
    split = [stats.extra_sign_flip_counts(d, 0, 1, seed=2), stats.extra_sign_flip_counts(d, 1, 3, seed=2)]
    assert np.array_equal(once[0], np.concatenate([split[0][0], split[1][0]]))
    assert np.array_equal(once[1], np.concatenate([split[0][1], split[1][1]]))


def test_holm_keeps_bounds_as_bounds_and_reports_its_multiplier():
    adjusted, is_bound, multiplier = stats.holm_with_bounds([0.001, 0.02, 0.03], [True, False, False])
    assert adjusted.tolist() == pytest.approx([0.003, 0.04, 0.04])
    assert is_bound.tolist() == [True, False, False]  # 0.04 is set by the exact 0.02 × 2
    assert multiplier.tolist() == pytest.approx([3.0, 2.0, 0.04 / 0.03])
    assert adjusted.tolist() == pytest.approx((multiplier * np.array([0.001, 0.02, 0.03])).tolist())


def test_p_values_print_with_two_significant_figures_and_bounds_as_bounds():
    assert [stats.format_p(p) for p in (0.6789, 0.0123, 0.00123, 0.5, 0.00032, 1.0, 0.997)] == [
        "0.68", "0.012", "0.0012", "0.50", "3.2e-4", "1.0", "1.0"
    ]  # fmt: skip
    assert stats.format_p(2 / 23_401, bound=True) == "< 8.5e-5"  # regression: "6.23e-32" from 10,000 patterns
    assert stats.format_p(0.0064, bound=True) == "< 0.0064"


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 (m = 3) → 0.03, 0.04, 0.04 (monotone); original order kept
    assert stats.holm([0.04, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    assert stats.holm([]).tolist() == []


def test_effect_size_is_mean_over_sd():
    assert stats.effect_size(np.array([1.0, 2.0, 3.0])) == pytest.approx(2.0)
    assert stats.effect_size(np.ones(4)) == 0.0


def test_effect_size_is_d_z_of_each_users_contribution_to_the_reported_difference():
    rng = np.random.default_rng(5)
    den = rng.integers(1, 9, 200).astype(float)
    num_a, num_b = rng.binomial(den.astype(int), 0.2), rng.binomial(den.astype(int), 0.15)
    contribution = len(den) * (num_a - num_b) / den.sum()  # user u's share of the reported difference
    assert contribution.mean() == pytest.approx(num_a.sum() / den.sum() - num_b.sum() / den.sum())
    assert stats.effect_size(num_a - num_b) == pytest.approx(contribution.mean() / contribution.std(ddof=1))


def test_verdict_sentences():
    years = [2008, 2009, 2010]
    assert (
        stats.verdict("lightgcn-social", "cmf", "Recall@10", years, [0.03, 0.04, 0.03], [0.004] * 3, bounds=[True] * 3)
        == "lightgcn-social beats cmf on Recall@10 in 2008, 2009 and 2010 (Holm p < 0.0040 each)"
    )
    assert (
        stats.verdict("lightgcn", "cmf", "Recall@10", [2008, 2009], [0.003, -0.0002], [0.62, 1.0])
        == "no detectable difference between lightgcn and cmf on Recall@10 in any year (Holm p = 0.62 and 1.0)"
    )
    mixed = stats.verdict("a", "b", "MRR", years, [-0.01, 0.02, 0.0], [0.01, 0.002, 0.5])
    assert mixed == (
        "a beats b on MRR in 2009 (Holm p = 0.0020); b beats a on MRR in 2008 (Holm p = 0.010); "
        "no detectable difference in 2010 (Holm p = 0.50)"
    )
    missing = stats.verdict("a", "b", "MRR", [2010], [0.0], [0.9], missing=[2008], adjustment="Tukey")
    assert missing == (
        "no detectable difference between a and b on MRR in 2010 (Tukey p = 0.90); "
        "not compared in 2008 (a run is missing)"
    )


def test_metric_names_are_parsed_and_bad_ones_are_one_sentence():
    assert parse_metric("Recall@10") == ("recall", 10) and parse_metric("mrr") == ("mrr", None)
    for bad, words in [("precision@10", "no metric"), ("recall@0", "whole number"), ("recall@x", "whole number")]:
        with pytest.raises(ParameterError, match=words):
            parse_metric(bad)
    with pytest.raises(ParameterError, match="no cut-off"):
        parse_metric("mrr@10")


def test_user_contributions_give_back_the_notebook_metrics():
    ranked = pd.DataFrame(
        {
            "user": [1, 1, 1, 2, 3, 3],
            "ranks": [1.0, 7.0, np.nan, 30.0, 2.0, 12.0],
            "norm_ranks": [1.0, 6.0, np.nan, 30.0, 2.0, 11.0],
        }
    )
    names = ["recall@10", "hit_rate@10", "mrr", "ndcg@10"]
    users, num, den = user_contributions(ranked, names)
    expected = metrics_of(ranked["ranks"].to_numpy(), ranked["norm_ranks"].to_numpy(), ranked["user"].to_numpy())
    values = num.sum(axis=0) / den.sum(axis=0)
    assert users.tolist() == [1, 2, 3]
    assert values[0] == pytest.approx(expected["recall"]["10"])
    assert values[1] == pytest.approx(expected["hit_rate"]["10"])
    assert values[2] == pytest.approx(expected["mrr"])
    assert values[3] == pytest.approx(expected["ndcg"]["10"])
    assert den[:, 0].tolist() == [3, 1, 2] and den[:, 2].tolist() == [2, 1, 2]  # rows; rows with a norm_rank
