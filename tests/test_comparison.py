"""One family of tests per comparison: Holm with more patterns where needed, Tukey, stored results, leaderboards."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.special import ndtri

from explorer import comparison, decisions, multiple, reports
from explorer.errors import ParameterError
from explorer.evaluation import metric_label
from explorer.pair_store import PairStore
from explorer.per_user import per_user_frame
from explorer.training import Run
from tests.conftest import scipy_sign_flip_p


def _run(model: str, year: int, ranks: list[float] | np.ndarray, users=None, seed: int = 0) -> Run:
    users = [1, 1, 2, 3, 4, 5, 6, 7] if users is None else users
    table = pd.DataFrame({"user": users, "item": 0, "ranks": ranks, "norm_ranks": ranks, "cold": False})
    return Run(model, {"seed": seed}, year, {}, {}, table, {}, 0.0, 0.0, "cpu", {})


USERS = np.repeat(np.arange(400), np.random.default_rng(0).integers(1, 6, 400))


def _generated(model: str, year: int, hit_rate: float, seed: int) -> Run:
    """A run whose rows are hits (rank 1–9) with probability ``hit_rate``."""
    rng = np.random.default_rng(seed)
    hit = rng.random(len(USERS)) < hit_rate
    ranks = np.where(hit, rng.integers(1, 10, len(USERS)), rng.integers(11, 400, len(USERS))).astype(float)
    return _run(model, year, ranks, USERS)


@pytest.fixture(scope="module")
def many() -> dict[str, list[Run]]:
    """Six models × two years: three alike (0.10), two a little better, one far better; ``late`` lacks 2009."""
    rates = {"base": 0.10, "same": 0.10, "also": 0.10, "bit": 0.115, "more": 0.13, "best": 0.30}
    found = {m: [_generated(m, y, r, seed=i * 10 + y) for y in (2009, 2010)] for i, (m, r) in enumerate(rates.items())}
    found["late"] = [_generated("late", 2010, 0.10, seed=99)]
    return found


@pytest.fixture(scope="module")
def family(many, tmp_path_factory) -> dict:
    store = PairStore(tmp_path_factory.mktemp("store"))
    return comparison.compare(many, ["recall@10", "mrr"], resamples=2000, store=store)


def _pairs(result: dict) -> list[dict]:
    return [pair for block in result["years"].values() for pair in block["pairs"]]


def test_compare_has_the_documented_shape(family):
    assert set(family) == {"metrics", "values", "confidence", "resamples", "alpha", "test", "test_name", "years"} | {
        "family",
        "verdicts",
    }
    pair = family["years"]["2010"]["pairs"][0]
    assert set(pair) == {"a", "b", "metric", "diff", "rel_diff", "ci", "ci_adjusted", "level_adjusted", "se"} | {
        "p",
        "p_is_bound",
        "p_adjusted",
        "p_adjusted_is_bound",
        "patterns",
        "effect",
        "decision",
        "band",
    }
    # the family is every pair × metric × year: 21 pairs in 2010 (7 models), 15 in 2009 (late is missing)
    assert family["family"]["tests"] == (21 + 15) * 2 == len(_pairs(family))
    assert "every pair of the 7 models" in family["family"]["sentence"]


def test_the_page_and_compare_decide_the_same_on_the_same_models_and_metrics(many, family):
    page = comparison.compare(many, ["recall@10", "mrr"], resamples=2000, values=["recall@50", "ndcg@10"])
    assert [p["decision"] for p in _pairs(page)] == [p["decision"] for p in _pairs(family)]
    assert [p["p_adjusted"] for p in _pairs(page)] == [p["p_adjusted"] for p in _pairs(family)]
    assert set(page["years"]["2010"]["models"]["best"]) == {"recall@10", "mrr", "recall@50", "ndcg@10"}


def test_no_random_p_is_below_its_floor_and_floor_values_are_flagged(family):
    for pair in _pairs(family):
        assert pair["p"] >= 2 / (pair["patterns"] + 1) - 1e-15
        assert pair["p_is_bound"] == (pair["p"] == pytest.approx(2 / (pair["patterns"] + 1)))
        assert pair["p_adjusted"] >= pair["p"]


def test_floor_tests_holm_needs_get_more_patterns_until_the_floor_decides():
    strong = {m: [_generated(m, 2010, r, seed=i)] for i, (m, r) in enumerate([("a", 0.05), ("b", 0.5), ("c", 0.9)])}
    result = comparison.compare(strong, ["recall@10", "recall@5", "mrr", "recall@25"], resamples=200, store=None)
    floor = [p for p in _pairs(result) if p["p_is_bound"]]
    assert floor, "the generated models differ far beyond 200 patterns' resolution"
    for pair in floor:  # 2 / (200 + 1) × 12 tests ≈ 0.12 ≥ 0.05 at 200 patterns: they needed more
        assert pair["patterns"] > 200 and pair["p_adjusted"] < 0.05 and pair["p_adjusted_is_bound"]
        assert pair["decision"] != "none"


def test_adjusted_intervals_are_the_holm_level_normal_intervals_and_agree_with_decisions(family):
    for pair in _pairs(family):
        multiplier = pair["p_adjusted"] / pair["p"]
        z = scipy_stats.norm.ppf(1 - 0.05 / (2 * multiplier))
        assert pair["ci_adjusted"] == pytest.approx([pair["diff"] - z * pair["se"], pair["diff"] + z * pair["se"]])
        excludes = pair["ci_adjusted"][0] > 0 or pair["ci_adjusted"][1] < 0
        assert excludes == (pair["p_adjusted"] < 0.05) or pair["band"], pair


def test_the_bootstrap_se_matches_scipy():
    a, b = _generated("a", 2010, 0.12, seed=1), _generated("b", 2010, 0.10, seed=2)
    result = comparison.compare({"a": [a], "b": [b]}, ["recall@10"], store=None)
    pair = result["years"]["2010"]["pairs"][0]
    frame = per_user_frame([a]).merge(per_user_frame([b]), on="user", suffixes=("_a", "_b"))
    samples = (frame["hits@10_a"].to_numpy(float), frame["hits@10_b"].to_numpy(float), frame["cases_a"].to_numpy(float))
    theirs = scipy_stats.bootstrap(
        samples,
        lambda x, y, n, axis=-1: (x.sum(axis) - y.sum(axis)) / n.sum(axis),
        paired=True,
        vectorized=True,
        n_resamples=10_000,
        rng=np.random.default_rng(3),
    )
    assert pair["se"] == pytest.approx(theirs.standard_error, rel=0.05)


def test_tukey_with_two_models_is_the_randomisation_test_and_its_intervals_match_its_decisions(many):
    two = comparison.compare({m: many[m] for m in ("base", "more")}, ["recall@10"], test="tukey", store=None)
    pair = two["years"]["2010"]["pairs"][0]
    a, b = (per_user_frame(many[m][1:]) for m in ("base", "more"))
    theirs = scipy_sign_flip_p(a["hits@10"].to_numpy(float), b["hits@10"].to_numpy(float))
    assert pair["p"] == pytest.approx(theirs, abs=0.02)
    result = comparison.compare(many, ["recall@10", "mrr"], test="tukey", resamples=2000, store=None)
    for pair in _pairs(result):
        excludes = pair["ci_adjusted"][0] > 0 or pair["ci_adjusted"][1] < 0
        assert excludes == (pair["p_adjusted"] < 0.05)  # exactly: the same permutations decide both
        assert pair["p"] >= 1 / 2001 and pair["level_adjusted"] == pytest.approx(1 - 0.05 / 4)  # 2 metrics × 2 years


def test_tukey_permutations_are_uniform():
    index = multiple.permutation_index(2, 3, 12_000, np.random.default_rng(1))
    assert set(index[:, 1, :].ravel().tolist()) == {3, 4, 5}  # user 1's own cells only
    _, counts = np.unique(index[:, 0, :], axis=0, return_counts=True)
    assert len(counts) == 6 and scipy_stats.chisquare(counts).pvalue > 0.001


def test_tukey_half_width_is_exactly_its_decision_boundary():
    ranges = np.random.default_rng(2).exponential(1.0, 999)
    half = multiple.tukey_half_width(ranges, 0.05)
    above, below = multiple.tukey_pvalues(np.array([half * 1.0000001, half]), ranges)[0]
    assert above < 0.05 <= below


def test_a_tukey_difference_tied_with_its_boundary_up_to_rounding_has_an_interval_reaching_zero():
    # permutation ranges tie, and a difference is summed in another order than a range: equal up to rounding
    ranges = np.repeat(np.arange(1.0, 101.0) / 300, 100)  # 10,000 ranges, each value 100 times
    boundary = multiple.tukey_half_width(ranges, 0.05)
    diff = (np.sort(ranges)[::-1][499]) * (1 + 1e-15)  # the 500th largest range, one rounding step above
    (p,), _ = multiple.tukey_pvalues(np.array([diff]), ranges)
    assert p >= 0.05 and diff - boundary <= 0  # not significant, and its interval [diff - q, diff + q] holds 0


def test_a_missing_year_is_listed_and_shown_not_dropped(family):
    assert family["years"]["2009"]["missing"] == ["late"] and family["years"]["2010"]["missing"] == []
    late = [v for v in family["verdicts"] if "late" in v]
    assert late and all("not compared in 2009 (a run is missing)" in v for v in late)
    table = reports.comparison_table(family)
    assert table.loc[(table["year"] == 2009) & (table["model"] == "late"), "Recall@10"].tolist() == ["missing"]
    tidy = reports.tidy(family)
    assert tidy.loc[(tidy["year"] == 2009) & (tidy["model"] == "late"), "missing"].tolist() == [True, True]


def test_leaderboard_marks_the_best_and_who_cannot_be_told_apart(family):
    board = decisions.leaderboard(family, "recall@10")
    assert board["model"].iloc[0] == "best"  # sorted by the latest year
    for year, rows in board[~board["missing"]].groupby("year"):
        best = rows[rows["best"]]
        assert best["model"].tolist() == ["best"] and best["value"].iloc[0] == rows["value"].max()
        assert rows.loc[rows["model"] == "best", "group"].item()
        for _, row in rows[rows["model"] != "best"].iterrows():
            entry = decisions.pair_entries(family, row["model"], "best", "recall@10")[year]
            assert row["group"] == (entry["decision"] == "none") and row["p_vs_best"] == entry["p_adjusted"]
    assert not board.loc[board["model"] == "base", "group"].any()  # 0.10 vs 0.30: told apart


def test_tidy_export_has_one_numeric_row_per_year_model_metric(family):
    tidy = reports.tidy(family)
    assert {"value", "ci_low", "ci_high", "p_vs_best", "group"} <= set(tidy.columns)
    assert len(tidy) == 2 * 2 * 7  # metrics × years × models (the missing one included)
    assert pd.api.types.is_float_dtype(tidy["value"]) and not tidy.duplicated(["year", "model", "metric"]).any()
    present = tidy[~tidy["missing"]]
    assert (present["ci_low"] <= present["value"]).all() and (present["value"] <= present["ci_high"]).all()


def test_markdown_leaderboards_bold_the_best_and_mark_its_group(family):
    text = reports.markdown(family)
    for metric in family["metrics"]:
        board = decisions.leaderboard(family, metric)
        section = text.split(f"### {metric_label(metric)}\n")[1].split("###")[0]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        assert [row.split("`")[1] for row in rows] == list(dict.fromkeys(board["model"]))  # the leaderboard's order
        for _, entry in board.iterrows():
            row = next(r for r in rows if r.startswith(f"| `{entry['model']}`"))
            cell = row.split(" | ")[1 + (entry["year"] - 2009)]
            if entry["missing"]:
                assert cell.strip(" |") == "missing"
            else:
                assert f"{entry['value']:.4f} [{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]" in cell
                assert cell.startswith("**") == bool(entry["best"])
                assert cell.strip(" |").endswith(" =") == bool(entry["group"] and not entry["best"])
    assert all(f"- {sentence}" in text for sentence in family["verdicts"])


def test_results_are_stored_once_and_refresh_when_a_run_changes(many, tmp_path):
    store = PairStore(tmp_path)
    chosen = {m: many[m] for m in ("base", "bit", "best")}
    first = comparison.compare(chosen, ["recall@10"], resamples=500, store=store)
    assert store.writes == len(list((tmp_path / ".stats").glob("*.json"))) > 0  # one file per record
    again = PairStore(tmp_path)  # another server
    assert json.dumps(comparison.compare(chosen, ["recall@10"], resamples=500, store=again)) == json.dumps(first)
    assert again.writes == 0 and again.reads > 0
    retrained = {**chosen, "bit": [_generated("bit", y, 0.2, seed=7 + y) for y in (2009, 2010)]}  # same key, new ranks
    changed = comparison.compare(retrained, ["recall@10"], resamples=500, store=again)
    assert again.writes > 0 and changed["years"]["2010"]["models"]["bit"] != first["years"]["2010"]["models"]["bit"]


def test_seeds_are_averaged_per_user_and_their_spread_reported():
    runs = {
        "a": [_run("a", 2009, [1.0] * 8, seed=1), _run("a", 2009, [1.0] * 4 + [99.0] * 4, seed=2)],
        "b": [_run("b", 2009, [99.0] * 8)],
    }
    entry = comparison.compare(runs, ["recall@10"], resamples=500, store=None)["years"]["2009"]["models"]["a"]
    assert entry["recall@10"]["value"] == pytest.approx(0.75) and entry["recall@10"]["seeds"] == 2
    assert entry["recall@10"]["sd"] == pytest.approx(np.std([1.0, 0.5], ddof=1))


def test_seven_users_exact_test_and_verdicts():
    good, bad = [1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 1.0, 1.0], [50.0, 60.0, 70.0, 80.0, 90.0, 99.0, 45.0, 30.0]
    two = comparison.compare({"good": [_run("good", 2009, good)], "bad": [_run("bad", 2009, bad)]}, ["recall@10"])
    pair = two["years"]["2009"]["pairs"][0]
    assert pair["p"] == pytest.approx(2 / 128) and not pair["p_is_bound"]  # exact: all 2^7 patterns
    assert two["verdicts"] == ["good beats bad on Recall@10 in 2009 (Holm p = 0.016)"]


def test_one_model_or_an_unknown_test_is_a_one_sentence_error():
    with pytest.raises(ParameterError, match="at least two models"):
        comparison.compare({"a": [_run("a", 2009, [1.0] * 8)]}, ["mrr"])
    with pytest.raises(ParameterError, match="no test"):
        comparison.compare({m: [_run(m, 2009, [1.0] * 8)] for m in "ab"}, ["mrr"], test="t")


def test_per_user_rows_give_back_the_metrics():
    run = _generated("a", 2010, 0.2, seed=4)
    rows = per_user_frame([run])
    ranks = run.ranks["ranks"].to_numpy()
    assert rows["hits@10"].sum() / rows["cases"].sum() == pytest.approx((ranks <= 10).mean())
    assert rows["rr_sum"].sum() / rows["rr_cases"].sum() == pytest.approx((1 / ranks).mean())


def test_band_width_counts_the_methods_known_differences():
    # at the threshold's z exactly, any test is in the band; far from it, only Monte Carlo ambiguity puts it there
    threshold = np.array([0.001, 0.001])
    z = ndtri(1 - threshold / 2)
    in_band = multiple.band(
        z * 0.01 * np.array([1.0, 3.0]),
        np.full(2, 0.01),
        np.full(2, 0.01),
        np.zeros(2),
        threshold,
        (np.zeros(2), np.zeros(2)),
        np.zeros(2, dtype=bool),
    )
    assert in_band.tolist() == [True, False]


def test_a_pair_asked_the_other_way_round_is_turned_around(family):
    forward = reports.pairs_table(family, "base", "best")
    backward = reports.pairs_table(family, "best", "base")
    assert set(forward["a"]) == {"base"} and set(backward["a"]) == {"best"} and len(forward) == 4
    entry = decisions.pair_entries(family, "best", "base", "mrr")[2010]
    values = family["years"]["2010"]["models"]
    assert entry["diff"] == pytest.approx(values["best"]["mrr"]["value"] - values["base"]["mrr"]["value"])
    assert entry["rel_diff"] == pytest.approx(entry["diff"] / values["base"]["mrr"]["value"])
    assert entry["decision"] == "a" and entry["ci"][0] > 0


def test_too_few_permutations_for_tukey_is_a_one_sentence_error(many):
    with pytest.raises(ParameterError, match="needs at least 80 resamples"):
        comparison.compare(many, ["recall@10", "mrr"], test="tukey", resamples=60, store=None)
