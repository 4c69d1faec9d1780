"""cmf-tags: cmfrec's ``CMF_implicit`` with side information, what cmfrec exists for.

The binary user × artist matrix is factorised jointly with

* the artist × tag matrix (``I``): for each train artist, how many tag assignments dated **before the
  test year** (any user; never the test year) gave it each of the ``tags`` most used tags, as
  ``log(1 + count)``; and optionally
* the user × friend matrix (``U``, ``friends=1``): a binary row of each user's friends, over the users
  with train rows. A user without train rows but with such friends then gets factors from their friends
  alone through cmfrec's ``factors_multiple`` (the cold-start use of side information), so they get a
  personal list.

Scores are the factors' dot products for all users at once; cmfrec's ``topN`` is never called (it
segfaults on unknown ids). Users it cannot place get popularity.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from explorer.errors import ModelFitError
from explorer.models.base import Param, ProgressCallback, Recommender
from explorer.models.itemitem import friend_matrix, interaction_matrix
from explorer.models.lightgcn import FRIENDSHIP_NOTE
from explorer.models.tuned import tuned
from explorer.protocol import TrainSet


def tag_matrix(train: TrainSet, num_tags: int) -> sparse.coo_matrix:
    """``[num_items, ≤ num_tags]`` log(1 + count) of each artist's assignments of the most used tags."""
    if not len(train.item_tags):
        return sparse.coo_matrix((train.num_items, 1))
    tag_ids, tag_col, counts = np.unique(train.item_tags[:, 1], return_inverse=True, return_counts=True)
    keep_tags = np.argsort(-counts, kind="stable")[:num_tags]
    new_col = np.full(len(tag_ids), -1)
    new_col[keep_tags] = np.arange(len(keep_tags))
    cols = new_col[tag_col]
    kept = cols >= 0
    matrix = sparse.coo_matrix(
        (np.ones(int(kept.sum())), (train.item_tags[kept, 0], cols[kept])), shape=(train.num_items, len(keep_tags))
    ).tocsr()  # duplicates summed: the count of assignments
    matrix.data = np.log1p(matrix.data)
    return matrix.tocoo()


class TagCMF(Recommender):
    """cmfrec ``CMF_implicit`` on interactions plus artist × tag (and optionally user × friend) matrices."""

    name = "cmf-tags"
    description = "cmfrec CMF_implicit with the artist × tag matrix (tags dated before the test year) and friends."
    notes = (FRIENDSHIP_NOTE + " (used only when friends=1)",)
    PARAMS = {
        # Bound 1024 > the train users of every validation split (at most 892): an L2 penalty on factors is a
        # nuclear-norm penalty on their product once k exceeds its rank, so a larger k cannot change the optimum.
        "k": Param(50, 1, 1024, "number of latent factors"),
        "reg": Param(1.0, 1e-4, 1e3, "L2 regularisation (cmfrec's lambda_)", log=True),
        "alpha": Param(1.0, 1e-3, 1e3, "confidence weight of observed interactions", log=True),
        "w_item": Param(1.0, 1e-3, 1e3, "weight of the artist × tag matrix in the loss", log=True),
        "tags": Param(500, 1, 20000, "most used tags kept as artist attributes"),
        "friends": Param(0, 0, 1, "1: also factorise the user × friend matrix (cold users placed by friends)"),
        "iterations": Param(10, 1, 100, "alternating least squares iterations"),
        "seed": Param(1, 0, 2**31 - 1, "random seed"),
    }
    # Chosen per test year Y on validation year Y-1 (train < Y-1) by `python -m explorer sweep --record`;
    # explorer/models/tuned/cmf-tags.json holds every trial (`python -m explorer tuning --model cmf-tags`).
    TUNED = tuned("cmf-tags")

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        from cmfrec import CMF_implicit  # imported here: reading a cached run does not need it

        p = self.params
        matrix = interaction_matrix(train).tocoo()
        user_side = None
        if p["friends"]:
            user_ids, friends = friend_matrix(train)
            rows = np.searchsorted(user_ids, train.users)
            user_side = friends[rows].tocoo()  # [num_users, num_users]: the train users' friends
        model = CMF_implicit(
            k=p["k"],
            lambda_=p["reg"],
            alpha=p["alpha"],
            w_item=p["w_item"],
            w_user=1.0,
            # absent friendships and tags are zeros, not missing values: with missing values (the default
            # for sparse side information) centring turns a row of ones into zeros and cold users learn nothing
            NA_as_zero_user=True,
            NA_as_zero_item=True,
            niter=p["iterations"],
            random_state=p["seed"],
            verbose=False,
            nthreads=2,
        ).fit(matrix, U=user_side, I=tag_matrix(train, p["tags"]))
        users, items, user_ids_known = model.A_, model.B_, train.users
        if p["friends"]:
            cold = np.flatnonzero(~np.isin(user_ids, train.users) & (np.diff(friends.indptr) > 0))
            if len(cold):
                no_rows = sparse.csr_matrix((len(cold), train.num_items))  # they have no interactions
                users = np.vstack([users, model.factors_multiple(X=no_rows, U=friends[cold].tocsr())])
                user_ids_known = np.r_[train.users, user_ids[cold]]
            order = np.argsort(user_ids_known, kind="stable")
            users, user_ids_known = users[order], user_ids_known[order]
        if not (np.isfinite(users).all() and np.isfinite(items).all()):
            raise ModelFitError("cmf-tags produced non-finite factors; raise reg or lower alpha and train again.")
        self._set_factors(user_ids_known, users, items)
        if progress is not None:
            progress(1, 1)


MODELS = (TagCMF,)
