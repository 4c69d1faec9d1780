"""Explanations of every model kind on the demo data: faithful to the scores, reasons drawn from the right people."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from explorer import explain, runs
from explorer.errors import ParameterError
from explorer.explainers import SocialLinear, explainer_for, reason_arrays, stored_reasons
from explorer.models import Recommender
from explorer.models.itemitem import TIE_BREAK
from explorer.reasons import Context, Reasons
from explorer.training import splits_of

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2010
SETTINGS = {
    "popularity": {},
    "friends-pop": {},
    "itemknn": {},
    "ease": {},
    "ease-social": {"second_hop": 1.0, "direct": 0.3, "friend_weight": 0.5},
    "als": {"factors": 8, "iterations": 5},
    "lightgcn-social": {"epochs": 5},
    "lightgcn-ease": {"gcn_epochs": 5, "mix": 0.5},
}


@pytest.fixture(scope="module")
def split(demo_dataset):
    return splits_of(demo_dataset, [YEAR])[0]


@pytest.fixture(scope="module")
def explain_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("explain-cache")


@pytest.fixture(scope="module")
def demo_runs(explain_cache, demo_dataset, split):
    return {
        model: runs.run_for(demo_dataset, split, model, params, root=explain_cache)
        for model, params in SETTINGS.items()
    }


@pytest.fixture(scope="module")
def all_reasons(demo_runs, demo_dataset, split):
    """Every test user's stored top-10 list explained, per model (the batch form a run store keeps)."""
    return {
        model: explain.reason_ids(run, split, demo_dataset, run.test_users, run.top_items)
        for model, run in demo_runs.items()
    }


def train_artists(split, user: int) -> set[int]:
    return set(split.train.loc[split.train["userID"] == user, "artistID"].tolist())


def friends_of(dataset, user: int) -> set[int]:
    return set(dataset.friends.loc[dataset.friends["userID"] == user, "friendID"].tolist()) - {user}


def raw_scores(run, users: np.ndarray) -> np.ndarray:
    """``q_u @ W`` in float64 from the stored state (no tie-break): what an exact decomposition must add up to."""
    state, n = run.state, len(run.state["item_ids"])
    query = sparse.csr_matrix((state["query_data"], state["query_indices"], state["query_indptr"]))
    query = sparse.csr_matrix(query, shape=(len(state["user_ids"]), n), dtype=np.float64)[
        np.searchsorted(state["user_ids"], users)
    ]
    if len(state["weight_indptr"]):
        weights = sparse.csr_matrix(
            (state["weight_data"], state["weight_indices"], state["weight_indptr"]), shape=(n, n)
        )
        query = query @ weights.astype(np.float64)
    return query.toarray()


def assert_close(left: object, right: object) -> None:
    """Equal JSON-like values, numbers to 1e-6 relative."""
    if isinstance(left, dict):
        assert isinstance(right, dict) and left.keys() == right.keys()
        for key in left:
            assert_close(left[key], right[key])
    elif isinstance(left, list):
        assert isinstance(right, list) and len(left) == len(right)
        for a, b in zip(left, right, strict=True):
            assert_close(a, b)
    elif isinstance(left, float):
        assert left == pytest.approx(right, rel=1e-6, abs=1e-9)
    else:
        assert left == right


def assert_reasons_add_up(reasons: Reasons) -> None:
    rows = reasons.known[:, None] & (reasons.items >= 0)
    total = np.nan_to_num(reasons.contribution).sum(axis=2) + reasons.rest
    np.testing.assert_allclose(total[rows], reasons.score[rows], rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("model", ["itemknn", "ease", "friends-pop", "ease-social"])
def test_linear_models_decompose_their_scores_exactly(model, demo_runs, all_reasons, demo_dataset, split):
    run, reasons = demo_runs[model], all_reasons[model]
    assert reasons.kind == ("decomposition" if model in ("itemknn", "ease") else "friends")
    assert reasons.known.sum() > 10
    assert_reasons_add_up(reasons)  # sum(reasons) + rest == score
    users = reasons.users[reasons.known]
    context = Context(split, demo_dataset.friends)
    explainer = explainer_for(type(run.recommender()))
    cols = np.searchsorted(split.items, reasons.items[reasons.known])
    sources, entries = explainer.contributions(run.recommender(), context, users, cols)
    total = np.zeros(cols.shape)
    np.add.at(total, (sources.row[entries.source], entries.position), entries.value)
    raw = np.take_along_axis(raw_scores(run, users), cols, axis=1)
    np.testing.assert_allclose(total, raw, rtol=1e-5, atol=1e-9)  # every contribution, summed: the model's q_u @ W
    gap = np.abs(reasons.score[reasons.known] - raw)  # the popularity tie-break and float32 sums, nothing else
    bound = TIE_BREAK * np.abs(raw_scores(run, users)).max(axis=1, keepdims=True) + 1e-5 * np.abs(raw)
    assert (gap <= bound + 1e-9).all()


@pytest.mark.parametrize("model", ["itemknn", "ease"])
def test_item_item_reasons_are_the_users_train_artists_with_the_models_weight(model, demo_runs, all_reasons, split):
    run, reasons = demo_runs[model], all_reasons[model]
    state, n = run.state, len(split.items)
    weights = sparse.csr_matrix((state["weight_data"], state["weight_indices"], state["weight_indptr"]), shape=(n, n))
    checked = 0
    for row in np.flatnonzero(reasons.known)[:25]:
        mine = train_artists(split, int(reasons.users[row]))
        for position, item in enumerate(reasons.items[row]):
            given = ~np.isnan(reasons.contribution[row, position])
            assert (np.diff(reasons.contribution[row, position][given]) <= 0).all()  # largest first
            pairs = zip(reasons.artist[row, position][given], reasons.contribution[row, position][given], strict=True)
            for artist, value in pairs:
                assert artist in mine
                expected = weights[np.searchsorted(split.items, artist), np.searchsorted(split.items, item)]
                assert value == pytest.approx(expected, rel=1e-6)
                checked += 1
    assert checked > 50


@pytest.mark.parametrize("model", ["friends-pop", "ease-social"])
def test_friend_reasons_name_the_users_friends_and_their_artists(model, all_reasons, demo_dataset, split):
    reasons = all_reasons[model]
    hops_seen = set()
    for row in np.flatnonzero(reasons.known)[:80]:
        user = int(reasons.users[row])
        friends = friends_of(demo_dataset, user)
        far = set().union(*(friends_of(demo_dataset, f) for f in friends)) - friends - {user}
        for artist, friend, hops in zip(
            reasons.artist[row].ravel(), reasons.friend[row].ravel(), reasons.hops[row].ravel(), strict=True
        ):
            hops_seen.add(int(hops))
            if hops == 0:
                assert friend == -1 and artist in train_artists(split, user)
            elif hops >= 1:
                assert (friend in friends) if hops == 1 else (friend in far)
                assert artist in train_artists(split, int(friend))  # the friend's own train artist (via_friend)
    assert 1 in hops_seen
    assert hops_seen >= ({0, 1, 2} if model == "ease-social" else {1})
    if model == "friends-pop":  # each friend who has the artist adds exactly 1
        given = ~np.isnan(reasons.contribution)
        assert np.all(reasons.contribution[given] == 1.0)
        assert np.all(reasons.artist[given] == np.broadcast_to(reasons.items[:, :, None], given.shape)[given])


def test_ease_social_sources_rebuild_its_stored_query(demo_runs, demo_dataset, split):
    run = demo_runs["ease-social"]
    model, users = run.recommender(), run.test_users
    sources = SocialLinear().sources(model, Context(split, demo_dataset.friends), users)
    rebuilt = sparse.csr_matrix((sources.coef, (sources.row, sources.artist)), shape=(len(users), len(split.items)))
    state = run.state
    stored = sparse.csr_matrix(
        (state["query_data"], state["query_indices"], state["query_indptr"]),
        shape=(len(state["user_ids"]), len(split.items)),
    )
    rows = np.searchsorted(state["user_ids"], users)
    np.testing.assert_allclose(rebuilt.toarray(), stored[rows].toarray(), rtol=1e-6, atol=1e-7)


def test_factor_reasons_are_the_most_similar_history_artists(demo_runs, all_reasons, split):
    run, reasons = demo_runs["als"], all_reasons["als"]
    assert reasons.kind == "similarity"
    factors = run.state["item_factors"].astype(np.float64)
    unit = factors / np.linalg.norm(factors, axis=1, keepdims=True)
    for row in np.flatnonzero(reasons.known)[:25]:
        mine = np.array(sorted(train_artists(split, int(reasons.users[row]))))
        for position, item in enumerate(reasons.items[row]):
            similar = unit[np.searchsorted(split.items, mine)] @ unit[np.searchsorted(split.items, item)]
            best = np.sort(similar)[::-1][: reasons.artist.shape[2]]
            given = reasons.contribution[row, position][: len(best)]
            np.testing.assert_allclose(given, best, rtol=1e-9)
            assert np.isnan(reasons.contribution[row, position][len(best) :]).all()  # fewer history artists than 3
            assert set(reasons.artist[row, position][: len(best)]) <= set(mine)
            np.testing.assert_allclose(reasons.rest[row, position], similar.sum() - best.sum(), rtol=1e-9, atol=1e-9)


def test_a_cold_user_placed_through_friends_gets_their_friends_artists(all_reasons, demo_dataset, split):
    reasons = all_reasons["lightgcn-social"]
    cold = np.isin(reasons.users, split.cold_users()) & reasons.known
    assert cold.any()
    trained = set(split.train["userID"].tolist())
    placed = 0
    for row in np.flatnonzero(cold):
        given = reasons.friend[row] >= 0
        friends = friends_of(demo_dataset, int(reasons.users[row]))
        assert given.any() == bool(friends & trained)  # none when reached only through friends of friends
        assert (reasons.hops[row][given] == 1).all()
        placed += bool(given.any())
        for artist, friend in zip(reasons.artist[row][given], reasons.friend[row][given], strict=True):
            assert friend in friends and artist in train_artists(split, int(friend))
    assert placed > 0
    row = next(r for r in np.flatnonzero(cold) if (reasons.friend[r] >= 0).any())
    user = int(reasons.users[row])
    explained = explain.explanation_of(reasons, int(row), "lightgcn-social", YEAR, demo_dataset)
    assert "through their friends" in explained.note and explained.user == user
    assert all(r.get("via_friend") for item in explained.items for r in item["reasons"])


def test_ensemble_shares_add_up_and_reasons_carry_their_member(demo_runs, all_reasons, demo_dataset, split):
    run, reasons = demo_runs["lightgcn-ease"], all_reasons["lightgcn-ease"]
    assert reasons.kind == "ensemble" and reasons.members == ("lightgcn-social", "ease-social")
    assert reasons.mix == (0.5, 0.5) and reasons.member_kinds == ("similarity", "friends")
    known = reasons.known[:, None] & (reasons.items >= 0)
    np.testing.assert_allclose(reasons.shares.sum(axis=2)[known], reasons.score[known], rtol=1e-5, atol=1e-9)
    members = set(reasons.member[~np.isnan(reasons.contribution)].tolist())
    assert members == {0, 1}
    member = run.recommender().members_["ease"]  # the member's reasons are its own explanation
    own = SocialLinear().reasons(member, Context(split, demo_dataset.friends), reasons.users, reasons.items, 3)
    np.testing.assert_array_equal(reasons.artist[:, :, 3:], own.artist)
    first = int(np.flatnonzero(reasons.known)[0])
    item = explain.explanation_of(reasons, first, run.model, YEAR, demo_dataset).items[0]
    assert {m["model"] for m in item["members"]} == {"lightgcn-social", "ease-social"}
    assert {r["member"] for r in item["reasons"]} <= {"lightgcn-social", "ease-social"}
    only_gcn = dataclasses.replace(run, params={**run.params, "mix": 1.0})  # same state, another mix
    silent = explain.reason_ids(only_gcn, split, demo_dataset, reasons.users[:20], reasons.items[:20])
    assert not (silent.member == 1).any()  # a member with mix 0 gives no reason


def test_unknown_user_gets_the_popularity_fallback_in_one_sentence(demo_runs, demo_dataset, split):
    run = demo_runs["itemknn"]
    user = int(split.cold_users()[0])
    explained = explain.explain(run, split, demo_dataset, user)
    assert explained.kind == "popularity" and "popularity fallback" in explained.note
    assert explained.note.count(". ") == 0 and explained.note.endswith(".")
    assert all(item["reasons"] == [] and item["kind"] == "popularity" for item in explained.items)
    counts = split.train.groupby("artistID").size()
    assert [item["score"] for item in explained.items] == [counts[item["artistID"]] for item in explained.items]
    assert explain.explain(demo_runs["popularity"], split, demo_dataset, user).note.startswith("popularity ranks")


def test_plugin_models_are_explained_by_what_they_declare():
    class Vectors(Recommender):
        name = "plugin-vectors"

        def _fit(self, train, progress):  # noqa: ANN001, ARG002
            raise NotImplementedError

    class Opaque(Vectors):
        name = "plugin-opaque"
        has_embeddings = False
        STATE = ()

    assert explainer_for(Vectors).kind == "similarity"
    with pytest.raises(ParameterError, match="plugin-opaque cannot be explained"):
        explainer_for(Opaque)
    assert reason_arrays(Opaque(), None, None, np.array([1]), np.array([[2]])) == {}  # a run store keeps nothing


@pytest.mark.parametrize("model", ["ease-social", "lightgcn-ease"])
def test_an_explanation_from_stored_reasons_is_the_computed_one(model, demo_runs, all_reasons, demo_dataset, split):
    run, stored = demo_runs[model], all_reasons[model]
    for user in stored.users[:: max(len(stored.users) // 5, 1)]:
        computed = explain.explain(run, split, demo_dataset, int(user), top=4).as_json()
        read = explain.explain(run, split, demo_dataset, int(user), top=4, stored=stored).as_json()
        assert_close(read, computed)  # float32 scores may differ in the last bit between batch sizes


def test_stored_reasons_read_back_without_pickle(demo_runs, all_reasons, demo_dataset, split, tmp_path):
    reasons, run = all_reasons["lightgcn-ease"], demo_runs["lightgcn-ease"]
    stored = reason_arrays(run.recommender(), split, demo_dataset.friends, run.test_users, run.top_items)
    assert stored and all(name.startswith("reasons_") for name in stored)
    with open(tmp_path / "lookups.npz", "wb") as handle:
        np.savez(handle, other=np.arange(3), **stored)  # beside a run store's other arrays
    with np.load(tmp_path / "lookups.npz", allow_pickle=False) as arrays:
        back = stored_reasons(dict(arrays))
    assert stored_reasons({"other": np.arange(3)}) is None
    assert back.kind == reasons.kind and back.members == reasons.members and back.mix == reasons.mix
    for name in Reasons.ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(reasons, name))


def test_explain_cli_prints_the_issue_json_and_errors_in_one_sentence(tmp_path, demo_dir, split):
    def explorer(*args: str) -> subprocess.CompletedProcess:
        env = {**__import__("os").environ, "EXPLORER_CACHE_DIR": str(tmp_path)}
        command = [sys.executable, "-m", "explorer", "-q", "explain", "--data-dir", str(demo_dir), *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    user = int(np.intersect1d(split.test["userID"], split.train["userID"])[-1])  # a warm test user
    done = explorer("--model", "ease", "--year", str(YEAR), "--user", str(user), "--top", "5", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"model", "year", "user", "note", "items"} and result["user"] == user
    assert [item["rank"] for item in result["items"]] == [1, 2, 3, 4, 5]
    for item in result["items"]:
        assert set(item) == {"artistID", "name", "rank", "score", "kind", "reasons", "rest"}
        assert sum(r["contribution"] for r in item["reasons"]) + item["rest"] == pytest.approx(item["score"], rel=1e-5)
        assert all(set(r) == {"artistID", "name", "contribution"} for r in item["reasons"])
    human = explorer("--model", "ease", "--year", str(YEAR), "--user", str(user), "--top", "3")
    assert human.returncode == 0 and "because:" in human.stdout and "exact decomposition" in human.stdout
    unknown = explorer("--model", "ease", "--year", str(YEAR), "--user", "999999")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().splitlines()[-1].startswith("error: There is no user 999999")


@pytest.mark.parametrize("model", ["ease", "friends-pop", "als", "lightgcn-ease"])
def test_a_cached_run_stores_its_explanations_and_the_page_reads_the_same(
    model, demo_runs, explain_cache, demo_dataset, split
):
    """The run store keeps every test user's top-10 explanations, so a page reads them instead of computing."""
    run = runs.load(demo_runs[model].key, explain_cache)
    stored = stored_reasons(run.lookups)
    assert stored is not None and np.array_equal(stored.users, run.test_users)
    user = int(run.test_users[len(run.test_users) // 2])
    read = explain.explain(run, split, demo_dataset, user, stored=stored).as_json()
    computed = explain.explain(run, split, demo_dataset, user).as_json()
    assert _rounded(read) == _rounded(computed)  # float32 sums in another order: equal to rounding


def _rounded(value):
    """``value`` with every float to 5 significant digits (ids, names and kinds exact)."""
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return float(f"{value:.5g}") if isinstance(value, float) else value
