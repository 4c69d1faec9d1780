"""Two candidate improvements of ``lightgcn-social``, each kept or dropped on validation years only.

* ``lightgcn-tags``: the social graph plus one node per frequent tag, joined to the artists it was given
  to in tag assignments dated before the test year (``TrainSet.item_tags``). Artists that share tags
  share neighbours, so an artist with few listeners is pulled towards similar ones (the tag graph of
  KGAT-style models, without relation types). Built through :class:`LightGCNRecommender`'s hooks: the
  tag nodes are numbered before the users (ids ``-1 - tag``), start at zero like cold users and are
  dropped from the stored factors after training.
* ``lightgcn-ease``: an ensemble of ``lightgcn-social`` and ``ease-social``: each model's scores are
  standardised per user over the artists, then mixed, ``mix · z_gcn + (1 − mix) · z_ease``. The two see
  the same information (interactions and friendships) through different inductive biases (smooth graph
  propagation vs a sparse linear item–item model), the classic case where averaging helps. The members'
  hyperparameters are its own (prefixed ``gcn_`` and ``ease_``), set per year to the members' tuned
  values; only ``mix`` is tuned on top.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from explorer.models.base import Param, ProgressCallback, Recommender
from explorer.models.ease import SocialEASE
from explorer.models.lightgcn import SocialLightGCNRecommender
from explorer.models.tuned import tuned
from explorer.protocol import TrainSet


class TagLightGCN(SocialLightGCNRecommender):
    """LightGCN over users, artists, friendships and artist–tag edges from tags dated before the test year."""

    name = "lightgcn-tags"
    description = "LightGCN + friends + tag nodes (tag assignments dated before the test year)."
    PARAMS = {
        **SocialLightGCNRecommender.PARAMS,
        "tags": Param(200, 1, 20000, "most used tags that become nodes"),
        "min_assignments": Param(2, 1, 1000, "assignments of a tag to an artist needed for their edge"),
    }
    TUNED = tuned("lightgcn-tags")

    def _tag_pairs(self, train: TrainSet) -> np.ndarray:
        """``[n, 2]`` unique (artist row, tag id) pairs kept as edges."""
        if not len(train.item_tags):
            return np.empty((0, 2), dtype=np.int64)
        pairs, counts = np.unique(train.item_tags, axis=0, return_counts=True)
        pairs = pairs[counts >= self.params["min_assignments"]]
        tags, per_tag = np.unique(pairs[:, 1], return_counts=True)
        frequent = tags[np.argsort(-per_tag, kind="stable")[: self.params["tags"]]]
        return pairs[np.isin(pairs[:, 1], frequent)]

    def _nodes(self, train: TrainSet) -> np.ndarray:
        tag_ids = np.unique(self._tag_pairs(train)[:, 1])
        return np.union1d(super()._nodes(train), -1 - tag_ids)  # negative ids sort before every user

    def _edges(self, train: TrainSet, users: np.ndarray) -> np.ndarray:
        edges = super()._edges(train, users)
        pairs = self._tag_pairs(train)
        if not len(pairs):
            return edges
        tag_nodes = np.searchsorted(users, -1 - pairs[:, 1])
        item_nodes = pairs[:, 0] + len(users)
        extra = np.concatenate([np.stack([tag_nodes, item_nodes]), np.stack([item_nodes, tag_nodes])], axis=1)
        return np.unique(np.concatenate([edges, extra], axis=1), axis=1)

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        super()._fit(train, progress)
        people = self.user_ids_ >= 0  # tag nodes are not users
        self._set_factors(self.user_ids_[people], self.user_factors_[people], self.item_factors_)


def _members_tuned() -> dict[int, dict[str, int | float]]:
    years = set(SocialEASE.TUNED) | set(SocialLightGCNRecommender.TUNED)
    return {
        year: {
            **{f"ease_{k}": v for k, v in SocialEASE.TUNED.get(year, {}).items()},
            **{f"gcn_{k}": v for k, v in SocialLightGCNRecommender.TUNED.get(year, {}).items()},
        }
        for year in years
    }


class SocialEnsemble(Recommender):
    """``mix`` · standardised lightgcn-social scores + (1 − ``mix``) · standardised ease-social scores."""

    name = "lightgcn-ease"
    description = "Ensemble of lightgcn-social and ease-social (per-user standardised scores, mixed)."
    notes = SocialLightGCNRecommender.notes
    has_embeddings = False
    no_embeddings_reason = "it mixes two models' scores; map its lightgcn-social member's run instead"
    MEMBERS: ClassVar[dict[str, type[Recommender]]] = {"gcn": SocialLightGCNRecommender, "ease": SocialEASE}
    PARAMS = {
        "mix": Param(0.5, 0.0, 1.0, "weight of lightgcn-social (1 − mix: ease-social)"),
        **{f"gcn_{k}": spec for k, spec in SocialLightGCNRecommender.PARAMS.items()},
        **{f"ease_{k}": spec for k, spec in SocialEASE.PARAMS.items()},
    }
    STATE = ()
    # The members' own tuned values per year, and mix chosen on validation year Y-1 (train < Y-1) with them
    # (its record: benchmarks/tune.py lightgcn-ease). mix 1 ranks exactly as lightgcn-social does.
    TUNED: ClassVar[dict[int, dict[str, int | float]]] = {
        year: {**members, **tuned("lightgcn-ease").get(year, {})} for year, members in _members_tuned().items()
    }

    def _member_params(self, prefix: str) -> dict[str, Any]:
        return {k.removeprefix(f"{prefix}_"): v for k, v in self.params.items() if k.startswith(f"{prefix}_")}

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        self.members_ = {
            prefix: cls(device=self.device, **self._member_params(prefix)).fit(train, progress)
            for prefix, cls in self.MEMBERS.items()
        }
        self.device_used_ = getattr(self.members_["gcn"], "device_used_", "cpu")
        self.losses_ = list(self.members_["gcn"].losses_)
        self.user_ids_ = np.union1d(*(member.user_ids_ for member in self.members_.values()))

    def _score_known(self, rows: np.ndarray) -> np.ndarray:
        users = self.user_ids_[rows]
        mixed = np.zeros((len(rows), len(self.item_ids_)))
        for prefix, weight in (("gcn", self.params["mix"]), ("ease", 1.0 - self.params["mix"])):
            scores = self.members_[prefix].score(users)
            spread = scores.std(axis=1, keepdims=True)
            mixed += weight * (scores - scores.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
        return mixed

    def state(self) -> dict[str, np.ndarray]:
        return {
            **super().state(),
            **{f"{prefix}__{k}": v for prefix, member in self.members_.items() for k, v in member.state().items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], params: dict[str, Any]) -> Recommender:
        model = super().from_state(state, params)
        model.members_ = {
            prefix: member.from_state(
                {k.removeprefix(f"{prefix}__"): v for k, v in state.items() if k.startswith(f"{prefix}__")},
                model._member_params(prefix),
            )
            for prefix, member in cls.MEMBERS.items()
        }
        return model


MODELS = (TagLightGCN, SocialEnsemble)
