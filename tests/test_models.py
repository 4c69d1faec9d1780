"""One contract every registered model must pass, plus model-specific regressions."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from explorer.errors import ParameterError
from explorer.models import Recommender, model_class, model_names
from explorer.protocol import TrainSet

# Small settings so the contract runs in seconds; defaults are exercised on the real data elsewhere.
FAST_PARAMS: dict[str, dict] = {
    "cmf": {"k": 4},
    "cmf-tags": {"k": 4, "friends": 1},
    "als": {"factors": 4},
    "bpr": {"factors": 4, "iterations": 200, "lr": 0.05},
    "ease": {"reg": 1.0},
    "ease-social": {"reg": 1.0},
    "lightgcn": {"epochs": 60},
    "lightgcn-social": {"epochs": 60},
    "lightgcn-tags": {"epochs": 60},
    "lightgcn-ease": {"gcn_epochs": 60, "ease_reg": 1.0},
}


def taste_train_set() -> TrainSet:
    """Users 1–4 like artists 100–104 (each misses one); users 5–12 like 200–204, which are more popular."""
    items = np.array([100, 101, 102, 103, 104, 200, 201, 202, 203, 204])
    pairs = [(u, a) for u in range(1, 5) for a in range(5) if a != u - 1]
    pairs += [(u, 5 + a) for u in range(5, 13) for a in range(5) if a != (u - 5) % 5 or u > 9]
    users = np.arange(1, 13)
    user_idx = np.array([u - 1 for u, _ in pairs])
    item_idx = np.array([a for _, a in pairs])
    # users 13, 14 and 15 have no train rows; 13 is a friend of user 1, 14 and 15 only of each other
    friends = np.array([[1, 2], [2, 1], [13, 1], [1, 13], [5, 6], [6, 5], [14, 15], [15, 14]])
    # tag 7 on the 1xx artists, tag 8 on the 2xx artists (item rows, tag id), twice each
    item_tags = np.array([(row, 7 if row < 5 else 8) for row in range(10)] * 2)
    return TrainSet(users, items, user_idx, item_idx, np.ones(len(pairs)), friends, item_tags)


@pytest.fixture(scope="module", params=model_names())
def fitted(request) -> Recommender:
    return model_class(request.param)(**FAST_PARAMS.get(request.param, {})).fit(taste_train_set())


def test_fit_returns_self_and_scores_every_train_artist(fitted):
    scores = fitted.score(np.array([1, 5, 999]))
    assert scores.shape == (3, 10)
    assert np.isfinite(scores).all()


def test_unknown_user_gets_popularity_ranking(fitted):
    popularity = taste_train_set().item_counts()
    assert not fitted.knows(np.array([999]))[0]
    assert np.array_equal(fitted.score(np.array([999]))[0], popularity)


def test_model_learns_the_users_taste(fitted):
    if not fitted.knows(np.array([1]))[0]:
        pytest.skip(f"{fitted.name} does not personalise")
    scores = fitted.score(np.array([1, 2]))
    # user 1 never had artist 100 (column 0), user 2 never had 101 (column 1): both beat every 2xx artist
    assert scores[0, 0] > scores[0, 5:].max()
    assert scores[1, 1] > scores[1, 5:].max()


def test_state_round_trip_gives_identical_scores(fitted):
    again = type(fitted).from_state(fitted.state(), fitted.params)
    users = np.array([1, 7, 13, 999])
    assert np.array_equal(again.score(users), fitted.score(users))
    assert all(isinstance(array, np.ndarray) and array.dtype != object for array in fitted.state().values())


def test_models_that_claim_embeddings_have_them(fitted):
    state = fitted.state()
    if fitted.has_embeddings:
        assert state["item_factors"].shape[0] == 10 and state["item_factors"].shape[1] > 0
        assert state["user_factors"].shape == (len(state["user_ids"]), state["item_factors"].shape[1])
    else:
        assert fitted.no_embeddings_reason


def test_hyperparameters_are_validated():
    for name in model_names():
        cls = model_class(name)
        with pytest.raises(ParameterError, match="no hyperparameter"):
            cls(not_a_parameter=1)
        for param, spec in cls.PARAMS.items():
            with pytest.raises(ParameterError, match=param):
                cls(**{param: spec.high * 10 + 1})


def test_popularity_scores_are_train_counts():
    model = model_class("popularity")().fit(taste_train_set())
    # artists 100–103 are each missed by one of users 1–4, 104 by none; each 2xx by one of users 5–9
    assert model.score(np.array([1]))[0].tolist() == [3, 3, 3, 3, 4, 7, 7, 7, 7, 7]


def test_cmf_factors_rank_like_cmfrec_topn_for_known_users():
    from scipy.sparse import coo_matrix

    model = model_class("cmf")(k=4).fit(taste_train_set())
    from cmfrec import CMF_implicit

    train = taste_train_set()
    matrix = coo_matrix((np.ones(len(train.user_idx)), (train.user_idx, train.item_idx)), shape=(12, 10))
    reference = CMF_implicit(k=4, random_state=1, verbose=False).fit(matrix)
    for row in range(12):  # topN is safe here: every row is a fitted user
        expected = reference.topN(user=row, n=10)
        assert np.argsort(-model.score(np.array([row + 1]))[0], kind="stable").tolist() == expected.tolist()


CMF_UNKNOWN_USER = textwrap.dedent(
    """
    import numpy as np
    from tests.test_models import taste_train_set
    from explorer.models import model_class
    model = model_class("cmf")(k=4).fit(taste_train_set())
    scores = model.score(np.array([999, -5, 1, 10**9]))
    assert np.array_equal(scores[0], taste_train_set().item_counts())
    print("survived")
    """
)


def test_cmf_unknown_user_does_not_kill_the_process():
    """Regression: cmfrec's topN segfaults on an unknown user, killing the whole Streamlit server."""
    done = subprocess.run([sys.executable, "-c", CMF_UNKNOWN_USER], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "survived" in done.stdout


def test_cmfrec_still_crashes_on_unknown_users_so_the_guard_is_needed():
    """Canary: documents the upstream hazard the guard in Recommender.score protects against."""
    script = textwrap.dedent(
        """
        import pandas as pd
        from cmfrec import CMF_implicit
        frame = pd.DataFrame({"UserId": [10, 10, 20, 20], "ItemId": [1, 2, 2, 3], "Value": 1.0})
        CMF_implicit(k=2, verbose=False).fit(frame).topN(user=99, n=2)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    if done.returncode == 0:
        pytest.skip("this cmfrec no longer crashes on unknown users")
    assert done.returncode != 0


def test_lightgcn_is_deterministic_for_a_seed_on_cpu():
    # On a GPU, index_add's atomics make sums order-dependent: the promise is for the CPU.
    first = model_class("lightgcn")(epochs=15, seed=3, device="cpu").fit(taste_train_set())
    second = model_class("lightgcn")(epochs=15, seed=3, device="cpu").fit(taste_train_set())
    other = model_class("lightgcn")(epochs=15, seed=4, device="cpu").fit(taste_train_set())
    assert np.array_equal(first.user_factors_, second.user_factors_)
    assert first.losses_ == second.losses_ and len(first.losses_) == 15
    assert not np.array_equal(first.user_factors_, other.user_factors_)


def test_nan_loss_stops_training_with_a_named_error(monkeypatch):
    import torch
    from torch_geometric.nn.models.lightgcn import BPRLoss

    from explorer.errors import ModelFitError

    monkeypatch.setattr(BPRLoss, "forward", lambda self, pos, neg, params=None: (pos - neg).sum() * torch.nan)
    epochs_seen = []
    with pytest.raises(ModelFitError, match="loss became nan at epoch 1"):
        model_class("lightgcn")(epochs=10).fit(taste_train_set(), progress=lambda e, t, **m: epochs_seen.append(e))
    assert epochs_seen == []


def test_social_variant_knows_users_without_train_rows_through_friends():
    social = model_class("lightgcn-social")(epochs=30).fit(taste_train_set())
    plain = model_class("lightgcn")(epochs=30).fit(taste_train_set())
    assert social.knows(np.array([13]))[0] and not plain.knows(np.array([13]))[0]
    # user 13's only friend is user 1, who likes the 1xx artists: so should user 13's ranking
    scores = social.score(np.array([13]))[0]
    assert scores[:5].mean() > scores[5:].mean()
    assert any("2011 snapshot" in note for note in social.notes)
    # regression: 14 and 15 reach no trained user, kept all-zero embeddings and were ranked by artist id
    assert not social.knows(np.array([14, 15])).any()
    assert np.array_equal(social.score(np.array([14]))[0], taste_train_set().item_counts())


def test_progress_reports_every_epoch_with_the_loss():
    calls = []
    model_class("lightgcn")(epochs=7).fit(taste_train_set(), progress=lambda e, t, **m: calls.append((e, t, m)))
    assert [c[0] for c in calls] == list(range(1, 8)) and all(c[1] == 7 for c in calls)
    assert all(np.isfinite(c[2]["loss"]) for c in calls)


def test_device_selection(monkeypatch):
    import torch

    from explorer.models.lightgcn import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == "cpu"
    with pytest.raises(ParameterError, match="no GPU"):
        resolve_device("cuda")
    with pytest.raises(ParameterError, match="cpu or cuda"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_lightgcn_step_gives_autograds_gradients():
    """bpr_step's shortcuts (sparse scores and gradients, L2 from counts, the symmetric graph) equal autograd's."""
    import torch
    from torch_geometric.nn import LightGCN
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.nn.models.lightgcn import BPRLoss
    from torch_geometric.utils import to_torch_csr_tensor, to_undirected

    from explorer.models.lightgcn import TrainingPairs, bpr_step

    torch.manual_seed(0)
    edges = to_undirected(torch.randint(0, 30, (2, 80)), num_nodes=30)
    edges, weights = gcn_norm(edges, None, num_nodes=30, add_self_loops=False)
    adjacency = to_torch_csr_tensor(edges, weights, size=(30, 30))
    for negatives in (1, 3):
        model = LightGCN(30, 8, 3, normalize=False)
        # users are nodes 0-9, artists 10-29; a repeated pair counts twice, as a repeated train row would
        pairs = TrainingPairs(torch.randint(0, 10, (50,)), torch.randint(0, 20, (50,)), 10, 20)
        negative = pairs.sample(negatives, torch.Generator().manual_seed(negatives))
        bpr = BPRLoss(lambda_reg=1e-2)

        value = bpr_step(model, adjacency, bpr, pairs, negative).item()
        shortcut = model.embedding.weight.grad.clone()
        model.embedding.weight.grad = None
        # PyG's way: one row per triple (positives repeated for each negative), autograd through everything
        user = pairs.user.repeat(negatives)
        item = pairs.item.repeat(negatives) + 10
        sampled = negative.reshape(-1) + 10
        final = model.get_embedding(adjacency)
        loss = bpr(
            (final[user] * final[item]).sum(-1),
            (final[user] * final[sampled]).sum(-1),
            model.embedding.weight[torch.cat([user, item, sampled])],
        )
        loss.backward()
        assert value == pytest.approx(loss.item(), rel=1e-6)
        assert torch.allclose(shortcut, model.embedding.weight.grad, atol=1e-7)


def test_sampled_negatives_are_never_positives_and_uniform():
    """The device-side sampler: no positive ever, every non-positive artist about equally often."""
    import torch

    from explorer.models.lightgcn import TrainingPairs

    rng = np.random.default_rng(1)
    num_users, num_items = 40, 25
    keys = np.unique(rng.integers(num_users, size=500) * num_items + rng.integers(num_items, size=500))
    user, item = torch.from_numpy(keys // num_items), torch.from_numpy(keys % num_items)
    pairs = TrainingPairs(user, item, num_users, num_items)
    negative = pairs.sample(200, torch.Generator().manual_seed(0))
    assert negative.shape == (200, len(keys))
    drawn = pairs.user * num_items + negative
    assert not torch.isin(drawn, torch.from_numpy(keys)).any()
    assert negative.min() >= 0 and negative.max() < num_items
    # one user's draws cover exactly its non-positives, each within 4 standard deviations of uniform
    first = int(pairs.user[0])
    own = negative[:, pairs.user == first].reshape(-1).numpy()
    allowed = np.setdiff1d(np.arange(num_items), keys[keys // num_items == first] % num_items)
    assert set(own.tolist()) == set(allowed.tolist())
    counts = np.bincount(own, minlength=num_items)[allowed]
    expected = len(own) / len(allowed)
    assert np.abs(counts - expected).max() < 4 * np.sqrt(expected)


def test_lightgcn_samples_on_the_device_without_pygs_host_sampler(monkeypatch):
    """Regression: PyG's structured_negative_sampling ran np.isin over every positive on the host each epoch."""
    import torch_geometric.utils

    def fail(*args, **kwargs):
        raise AssertionError("the host-side sampler was called")

    monkeypatch.setattr(torch_geometric.utils, "structured_negative_sampling", fail)
    model = model_class("lightgcn")(epochs=3).fit(taste_train_set())
    assert len(model.losses_) == 3


def test_friends_pop_counts_friends_then_popularity():
    model = model_class("friends-pop")().fit(taste_train_set())
    scores = model.score(np.array([13]))[0]  # only friend: user 1 (has 101–104, not 100)
    order = np.argsort(-scores, kind="stable")
    assert sorted(order[:4].tolist()) == [1, 2, 3, 4]
    assert order[4:].tolist() == [5, 6, 7, 8, 9, 0]  # then by popularity (2xx: 7 each, 100: 3), ties by column
    assert not model.knows(np.array([14, 3]))[0:2].any()  # 14's only friend has no rows; 3 has no friends


def test_itemknn_similarities_are_shrunk_cosines():
    """Two users: {a, b} and {a}; cos(a, b) = 1 / sqrt(2 · 1); shrunk by 1: 1 / (sqrt(2) + 1)."""
    train = TrainSet(
        np.array([1, 2]),
        np.array([10, 11]),
        np.array([0, 0, 1]),
        np.array([0, 1, 0]),
        np.ones(3),
        np.empty((0, 2), dtype=np.int64),
    )
    model = model_class("itemknn")(neighbours=5, shrink=1.0).fit(train)
    scores = model.score(np.array([2]))[0]
    assert scores[1] == pytest.approx(1 / (np.sqrt(2) + 1), rel=1e-5)


def test_ease_woodbury_equals_the_direct_inverse():
    from scipy import sparse

    from explorer.models.ease import ease_weights

    rng = np.random.default_rng(0)
    wide = sparse.csr_matrix((rng.random((6, 15)) < 0.3).astype(float))  # fewer users than items
    direct = np.linalg.inv(wide.T @ wide + 2.0 * np.eye(15))
    expected = -direct / np.diag(direct)[None, :]
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(ease_weights(wide, 2.0), expected, atol=1e-10)
    tall = sparse.csr_matrix((rng.random((20, 5)) < 0.4).astype(float))
    direct = np.linalg.inv((tall.T @ tall).toarray() + 2.0 * np.eye(5))
    expected = -direct / np.diag(direct)[None, :]
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(ease_weights(tall, 2.0), expected, atol=1e-10)


def test_ease_keeps_only_the_largest_weights_per_artist():
    model = model_class("ease")(reg=1.0, neighbours=3).fit(taste_train_set())
    assert (np.diff(model.weight_indptr_) <= 3).all()
    full = model_class("ease")(reg=1.0, neighbours=10).fit(taste_train_set())
    assert len(model.weight_data_) < len(full.weight_data_)


def test_social_models_give_a_cold_user_their_friends_taste():
    """User 13 has no train rows; their only friend, user 1, likes the 1xx artists."""
    for name, params in (("ease-social", {"reg": 1.0}), ("cmf-tags", {"k": 4, "friends": 1})):
        model = model_class(name)(**params).fit(taste_train_set())
        assert model.knows(np.array([13]))[0], name
        scores = model.score(np.array([13]))[0]
        assert scores[:5].mean() > scores[5:].mean(), name
    assert not model_class("ease")(reg=1.0).fit(taste_train_set()).knows(np.array([13]))[0]
    assert not model_class("cmf-tags")(k=4, friends=0).fit(taste_train_set()).knows(np.array([13]))[0]


def test_bpr_factors_carry_implicits_bias_column():
    model = model_class("bpr")(factors=4, iterations=5).fit(taste_train_set())
    assert model.user_factors_.shape[1] == model.item_factors_.shape[1] == 5
    assert np.allclose(model.user_factors_[:, -1], 1.0)


def test_implicit_fits_without_its_blas_threads_warning(recwarn):
    for name in ("als", "bpr"):
        model_class(name)(factors=4, iterations=3).fit(taste_train_set(), progress=lambda *_, **__: None)
    assert not [w for w in recwarn if "threads" in str(w.message)]


def test_implicit_progress_reports_every_iteration():
    calls = []
    model_class("als")(factors=4, iterations=4).fit(taste_train_set(), progress=lambda e, t, **m: calls.append((e, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_tag_nodes_are_not_users():
    model = model_class("lightgcn-tags")(epochs=10).fit(taste_train_set())
    assert (model.user_ids_ > 0).all() and model.knows(np.array([13]))[0]


def test_ensemble_mixes_its_members_and_mix_1_is_lightgcn_social():
    params = {"gcn_epochs": 20, "ease_reg": 1.0}
    only_gcn = model_class("lightgcn-ease")(mix=1.0, **params).fit(taste_train_set())
    gcn = model_class("lightgcn-social")(epochs=20).fit(taste_train_set())
    users = np.array([1, 7, 13])
    order = np.argsort(-only_gcn.score(users), axis=1, kind="stable")
    assert np.array_equal(order, np.argsort(-gcn.score(users), axis=1, kind="stable"))


# a round trip needs a fitted model, not a good one: the fewest epochs (LightGCN's take ~1 s each on the demo data)
TINY_PARAMS: dict[str, dict] = {
    "lightgcn": {"epochs": 2, "embedding_dim": 8},
    "lightgcn-social": {"epochs": 2, "embedding_dim": 8},
    "lightgcn-tags": {"epochs": 2, "embedding_dim": 8},
    "lightgcn-ease": {"gcn_epochs": 2, "gcn_embedding_dim": 8},
}


@pytest.mark.parametrize("name", model_names())
def test_a_cached_run_reloads_and_ranks_identically(name, demo_dataset, tmp_path):
    """runs.save / runs.load round trip: the re-created model ranks every test row as the trained one did."""
    from explorer import runs
    from explorer.evaluation import evaluate
    from explorer.training import splits_of, train_and_evaluate

    (split,) = splits_of(demo_dataset, [2009])
    run = train_and_evaluate(demo_dataset, split, name, {**FAST_PARAMS.get(name, {}), **TINY_PARAMS.get(name, {})})
    loaded = runs.load(runs.save(run, tmp_path).name, tmp_path)
    again = evaluate(loaded.recommender().score, split)
    pd.testing.assert_frame_equal(again.ranks, run.ranks)
    assert again.metrics == {key: value for key, value in run.metrics.items() if key != "beyond"}
    assert np.array_equal(again.top_items, loaded.top_items)  # the stored top-10 lists, which beyond-accuracy reads


def test_second_hop_reaches_a_cold_user_whose_friends_are_cold():
    """User 16's only friend is user 13, who has no train rows; 13's friend user 1 likes the 1xx artists."""
    taste = taste_train_set()
    friends = np.concatenate([taste.friends, [[16, 13], [13, 16]]])
    train = TrainSet(taste.users, taste.items, taste.user_idx, taste.item_idx, taste.weights, friends)
    assert not model_class("ease-social")(reg=1.0).fit(train).knows(np.array([16]))[0]
    model = model_class("ease-social")(reg=1.0, second_hop=1.0).fit(train)
    assert model.knows(np.array([16]))[0]
    scores = model.score(np.array([16]))[0]
    assert scores[:5].mean() > scores[5:].mean()
