"""Bootstrap CIs, sign-flip p-values, Holm, effect sizes and verdicts: hand-computed cases and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from explorer import comparison, stats
from explorer.errors import ParameterError
from explorer.evaluation import metrics_of, parse_metric, user_contributions
from explorer.training import Run


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
    theirs = scipy_stats.permutation_test(
        (x, y),
        lambda a, b, axis=-1: (a - b).sum(axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=9_999,
        rng=np.random.default_rng(0),
    ).pvalue
    ours = stats.sign_flip_pvalues(x - y, resamples=10_000, seed=0)
    assert 0.01 < theirs < 0.9  # a p-value Monte Carlo resolves
    assert ours == pytest.approx(theirs, abs=0.02)


def test_columns_are_tested_independently_and_tiny_p_uses_the_normal_tail():
    rng = np.random.default_rng(3)
    strong = rng.normal(1.0, 1.0, 500)  # mean 1 sd 1: z ≈ 22, beyond any Monte Carlo resolution
    none = rng.normal(0.0, 1.0, 500)
    p = stats.sign_flip_pvalues(np.stack([strong, none], axis=1), resamples=2000)
    assert p[0] < 2 / 2001 and p[0] > 0
    assert p[1] > 0.01


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 (m = 3) → 0.03, 0.04, 0.04 (monotone); original order kept
    assert stats.holm([0.04, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    assert stats.holm([]).tolist() == []


def test_effect_size_is_mean_over_sd():
    assert stats.effect_size(np.array([1.0, 2.0, 3.0])) == pytest.approx(2.0)
    assert stats.effect_size(np.ones(4)) == 0.0


def test_verdict_sentences():
    assert (
        stats.verdict("lightgcn-social", "cmf", "Recall@10", [2008, 2009, 2010], [0.03, 0.04, 0.03], [1e-5] * 3)
        == "lightgcn-social beats cmf on Recall@10 in 2008, 2009 and 2010 (Holm p < 0.001 each)"
    )
    assert (
        stats.verdict("lightgcn", "cmf", "Recall@10", [2008, 2009], [0.003, -0.0002], [0.62, 1.0])
        == "no detectable difference between lightgcn and cmf on Recall@10 in any year (Holm p = 0.62 and 1.00)"
    )
    mixed = stats.verdict("a", "b", "MRR", [2008, 2009, 2010], [-0.01, 0.02, 0.0], [0.01, 0.002, 0.5])
    assert mixed == (
        "a beats b on MRR in 2009 (Holm p = 0.002); b beats a on MRR in 2008 (Holm p = 0.01); "
        "no detectable difference in 2010 (Holm p = 0.50)"
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


def _run(model: str, year: int, ranks: list[float], seed: int = 0) -> Run:
    users = [1, 1, 2, 3, 4, 5, 6, 7]
    table = pd.DataFrame({"user": users, "item": range(8), "ranks": ranks, "norm_ranks": ranks, "cold": False})
    return Run(model, {"seed": seed}, year, {}, {}, table, {}, 0.0, 0.0, "cpu", {})


def test_compare_has_the_issue_shape_and_one_verdict_per_pair_and_metric():
    good = [1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 1.0, 1.0]
    bad = [50.0, 60.0, 70.0, 80.0, 90.0, 99.0, 45.0, 30.0]
    runs = {
        "good": [_run("good", 2009, good), _run("good", 2010, good)],
        "bad": [_run("bad", 2009, bad), _run("bad", 2010, bad)],
        "same": [_run("same", 2009, bad), _run("same", 2010, bad)],
    }
    result = comparison.compare(runs, ["recall@10", "MRR"], resamples=1000)
    assert set(result) == {"metrics", "confidence", "resamples", "test", "years", "verdicts"}
    assert result["metrics"] == ["recall@10", "mrr"] and result["resamples"] == 1000
    block = result["years"]["2009"]
    assert block["models"]["good"]["recall@10"]["value"] == 1.0
    assert block["models"]["bad"]["recall@10"]["ci"] == [0.0, 0.0]
    pair = block["pairs"][0]
    assert set(pair) == {"a", "b", "metric", "diff", "ci", "p", "p_holm", "effect"}
    assert (pair["a"], pair["b"], pair["metric"], pair["diff"]) == ("good", "bad", "recall@10", 1.0)
    assert len(block["pairs"]) == 3 * 2 and pair["p_holm"] >= pair["p"]
    # 7 users, all better: exact test p = 2/128; Holm over 3 pairs × 2 metrics × 2 years
    assert pair["p"] == pytest.approx(2 / 128)
    assert len(result["verdicts"]) == 3 * 2
    # Holm over 12 tests: the 8 smallest (2/128) become 12 × 2/128 = 0.1875; 7 users cannot show a difference
    assert (
        result["verdicts"][0]
        == "no detectable difference between good and bad on Recall@10 in any year (Holm p = 0.19 each)"
    )
    assert (
        result["verdicts"][-1]
        == "no detectable difference between bad and same on MRR in any year (Holm p = 1.00 each)"
    )
    two = comparison.compare({m: runs[m][:1] for m in ("good", "bad")}, ["recall@10"], resamples=1000)
    assert two["verdicts"] == ["good beats bad on Recall@10 in 2009 (Holm p = 0.016)"]


def test_seeds_are_averaged_per_user_and_their_spread_reported():
    runs = {
        "a": [_run("a", 2009, [1.0] * 8, seed=1), _run("a", 2009, [1.0] * 4 + [99.0] * 4, seed=2)],
        "b": [_run("b", 2009, [99.0] * 8)],
    }
    entry = comparison.compare(runs, ["recall@10"], resamples=500)["years"]["2009"]["models"]["a"]["recall@10"]
    assert entry["value"] == pytest.approx(0.75) and entry["seeds"] == 2
    assert entry["sd"] == pytest.approx(np.std([1.0, 0.5], ddof=1))


def test_one_model_is_a_one_sentence_error():
    with pytest.raises(ParameterError, match="at least two models"):
        comparison.compare({"a": [_run("a", 2009, [1.0] * 8)]}, ["mrr"])
