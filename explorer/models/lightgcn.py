"""LightGCN (He et al., SIGIR 2020) through PyTorch Geometric, with and without the friendship graph.

This module is an adapter: it builds the graph, samples negatives, seeds, trains with BPR and reports
progress; the layers (:class:`torch_geometric.nn.models.LightGCN`, symmetric normalisation, layer
weights 1/(K+1)) and the BPR loss (softplus form, L2 on the triples' layer-0 embeddings) are PyG's.
Negatives are drawn on the training device with the distribution of PyG's sampler (uniform over the
user's non-positive artists, see :class:`TrainingPairs`), and the loss's gradients are autograd's,
computed as sparse products (see :func:`bpr_step`).

* ``lightgcn``: the user–artist graph of the train rows.
* ``lightgcn-social``: the same plus the user–user edges of ``user_friends.dat``, so a user without
  train rows still gets an embedding through their friends. Such users start from a zero layer-0
  embedding (a random start would only add noise to their scores), so their scores come from the
  friends; one with no trained user within ``num_layers`` hops keeps zeros and gets popularity.

Training is full-batch: one propagation over the whole graph and one Adam step per epoch, with
``negatives`` sampled artists per train interaction. An epoch costs about what its floor costs (the six
sparse products of three layers forward and back) and reads the device once (the loss); see
``benchmarks/bench_epoch.py``. Torch is imported inside :meth:`_fit` so reading a cached run never
loads it.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from explorer.errors import ModelFitError, ParameterError
from explorer.models.base import Param, ProgressCallback, Recommender
from explorer.models.tuned import tuned
from explorer.protocol import TrainSet

if TYPE_CHECKING:  # torch is imported when a model trains, never to read a cached run
    import torch

FRIENDSHIP_NOTE = (
    "The friendship list is a 2011 snapshot, so it may contain friendships formed after the test year "
    "(a possible leak in favour of lightgcn-social)."
)


def resolve_device(requested: str | None) -> str:
    """``cuda`` when available (or asked for), else ``cpu``.

    Raises:
        ParameterError: ``cuda`` was asked for but no GPU is visible, or the name is unknown.
    """
    import torch

    if requested in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested not in ("cpu", "cuda"):
        raise ParameterError(f"The device must be cpu or cuda, got {requested!r}.")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ParameterError("The device cuda was asked for but no GPU is visible; use --device cpu.")
    return requested


def propagate(model: torch.nn.Module, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """``sum_k alpha_k A^k x`` with the model's own LGConv layers: ``LightGCN.get_embedding`` for any ``x``."""
    out = x * model.alpha[0]
    for layer, conv in enumerate(model.convs):
        x = conv(x, adjacency)
        out = out + x * model.alpha[layer + 1]
    return out


def _csr(rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    import torch

    with warnings.catch_warnings():  # torch calls sparse CSR tensors "beta"
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*", category=UserWarning)
        return torch.sparse_csr_tensor(rows, columns, values, size=size, check_invariants=False)


def _offsets(counts: torch.Tensor) -> torch.Tensor:
    """CSR row offsets ``[len(counts) + 1]`` of rows holding ``counts`` entries."""
    import torch

    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


class TrainingPairs:
    """The positive (user, artist) pairs in user order, their sparse layouts, and a negative sampler.

    Everything an epoch reuses is built once here, on the training device: the pairs as the rows of a
    user × artist CSR matrix (and its artist-major transpose), and the sorted keys of the sampler.

    Negatives are exact and need no rejection: for user ``u`` with sorted positive artists
    ``p_0 < p_1 < …`` the sampler draws ``r`` uniformly in ``[0, num_items - deg(u))`` and returns
    the ``r``-th artist that is not a positive, ``r + #{k : p_k - k <= r}``; the count is one
    ``searchsorted`` over the keys ``u * num_items + p_k - k``, which are sorted across users too. That
    is the distribution of PyG's ``structured_negative_sampling`` (uniform over the user's
    non-positives) without its host-side ``np.isin`` loop. A user who has every artist (no negative
    exists) gets the last one.

    Args:
        user: User node index of each positive ``[num_positives]`` (int64).
        item: Artist index (0-based, not offset by the users) of each positive.
        num_users, num_items: Numbers of user nodes and artists.
    """

    def __init__(self, user: torch.Tensor, item: torch.Tensor, num_users: int, num_items: int) -> None:
        import torch

        self.num_users, self.num_items = num_users, num_items
        order = torch.argsort(user * num_items + item, stable=True)
        self.user, self.item = user[order], item[order]
        self.user_degree = torch.bincount(self.user, minlength=num_users)
        self.item_degree = torch.bincount(self.item, minlength=num_items)
        self.user_rows = _offsets(self.user_degree)
        self.item_order = torch.argsort(self.item, stable=True)  # the transpose: artist-major
        self.item_rows = _offsets(self.item_degree)
        self.item_columns = self.user[self.item_order]
        keys = torch.unique(self.user * num_items + self.item)  # sorted, duplicate pairs once
        owner = keys // num_items
        distinct = torch.bincount(owner, minlength=num_users)
        first = torch.cumsum(distinct, 0) - distinct
        self._shifted_keys = keys - (torch.arange(len(keys), device=keys.device) - first[owner])
        self._first = first
        self._free = (num_items - distinct).clamp(min=1).to(torch.float64)

    def __len__(self) -> int:
        return len(self.user)

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``[count, num_positives]`` artist indices, each uniform over its positive's user's non-positives."""
        import torch

        user = self.user.unsqueeze(0)
        rank = torch.rand((count, len(self)), generator=generator, device=user.device, dtype=torch.float64)
        rank = rank.mul_(self._free[user]).long()
        below = torch.searchsorted(self._shifted_keys, user * self.num_items + rank, right=True)
        return rank.add_(below).sub_(self._first[user]).clamp_(max=self.num_items - 1)


def bpr_step(
    model: torch.nn.Module,
    adjacency: torch.Tensor,
    bpr: torch.nn.Module,
    pairs: TrainingPairs,
    negative: torch.Tensor,
) -> torch.Tensor:
    """One full-batch BPR step's loss and gradients (accumulated into ``model.embedding.weight.grad``).

    The loss is PyG's ``BPRLoss`` over every (user, positive, negative) triple: the mean of
    ``-log sigmoid(score(u, i) - score(u, j))`` plus ``lambda_reg * ||x0||^2 / num_triples`` over the
    layer-0 rows of the triples' nodes. Its gradients are autograd's (``tests/test_models.py`` checks
    them), computed without one gathered embedding row per triple:

    * the scores of the positive and the negative pairs are sampled dense products on the pairs' sparse
      patterns (``torch.sparse.sampled_addmm``), and PyG's loss with autograd gives the gradient with
      respect to those scores only (one number per triple);
    * those numbers, as the values of the same sparse patterns, turn the gradient with respect to the
      final embeddings into sparse products (users: ``C @ artists``; artists: ``C^T @ users``);
    * the L2 term's gradient is ``2 lambda count_n x0_n / num_triples`` from per-node counts;
    * the propagation is linear in the layer-0 embeddings and the normalised adjacency is symmetric,
      so the gradient through the graph is the propagation of the final embeddings' gradient: three
      sparse products, as many as the forward pass.

    No temporary holds more than one number per triple or one row per node, and nothing waits for the
    device.

    Args:
        pairs: The positive pairs (user order) and their layouts.
        negative: Artist indices ``[negatives, len(pairs)]`` (0-based): row ``k`` holds the ``k``-th
            negative of every positive pair (one sparse pattern per row: a pattern may not hold more
            entries in a row than the matrix has columns).

    Returns:
        The loss, a 0-dimensional tensor on the training device (reading it is the caller's one sync).
    """
    import torch

    weight = model.embedding.weight
    num_users, num_items = pairs.num_users, pairs.num_items
    size, transposed = (num_users, num_items), (num_items, num_users)
    per_positive, num_positives = negative.shape
    flat_negative = negative.reshape(-1)
    num_triples = len(flat_negative)

    def scores(columns: torch.Tensor) -> torch.Tensor:  # final[u] . final[i] for each (user row, column)
        pattern = _csr(pairs.user_rows, columns, final.new_zeros(num_positives), size)
        return torch.sparse.sampled_addmm(pattern, users, items.t(), beta=0.0).values()

    with torch.no_grad():
        final = model.get_embedding(adjacency)
        users, items = final[:num_users], final[num_users:]
        positive_rank = scores(pairs.item)
        negative_rank = torch.stack([scores(columns) for columns in negative])
    positive_rank.requires_grad_(True)
    negative_rank.requires_grad_(True)
    with torch.enable_grad():  # PyG's loss without its L2 term, differentiated w.r.t. the scores only
        data_loss = type(bpr)(lambda_reg=0.0)(positive_rank.expand_as(negative_rank), negative_rank)
        toward_positive, toward_negative = torch.autograd.grad(data_loss, (positive_rank, negative_rank))
    with torch.no_grad():
        grad_users = _csr(pairs.user_rows, pairs.item, toward_positive, size) @ items
        for columns, values in zip(negative, toward_negative, strict=True):
            grad_users += _csr(pairs.user_rows, columns, values, size) @ items
        by_item = torch.argsort(flat_negative.int(), stable=True)
        negative_degree = torch.bincount(flat_negative, minlength=num_items)
        grad_items = _csr(pairs.item_rows, pairs.item_columns, toward_positive[pairs.item_order], transposed) @ users
        grad_items += (
            _csr(
                _offsets(negative_degree),
                pairs.user[by_item % num_positives],
                toward_negative.reshape(-1)[by_item],
                transposed,
            )
            @ users
        )
        # how many triples each layer-0 row appears in
        counts = torch.cat([pairs.user_degree * per_positive, pairs.item_degree * per_positive + negative_degree])
        counts = counts.to(final.dtype)
        regularisation = bpr.lambda_reg * (counts @ weight.square().sum(-1)) / num_triples
        through_graph = propagate(model, torch.cat([grad_users, grad_items]), adjacency)
        through_graph.add_(weight * counts.unsqueeze(1), alpha=2 * bpr.lambda_reg / num_triples)
        weight.grad = through_graph if weight.grad is None else weight.grad + through_graph
        return data_loss.detach() + regularisation


class LightGCNRecommender(Recommender):
    """LightGCN on the bipartite user–artist graph of the train rows."""

    name = "lightgcn"
    description = "LightGCN graph neural network on the user–artist graph (PyTorch Geometric)."
    use_friends: ClassVar[bool] = False
    PARAMS = {
        "embedding_dim": Param(64, 4, 512, "size of the user and artist embeddings"),
        # up to 10: a cold user is reached through friends (and tags) only within num_layers hops, and on the
        # sparsest validation split (train < 2007, 189 users) lightgcn-tags still gained up to the old bound, 6
        "num_layers": Param(3, 1, 10, "LightGCN propagation layers"),
        "epochs": Param(100, 1, 5000, "full-batch training epochs (one Adam step each)"),
        "lr": Param(0.01, 1e-5, 1.0, "Adam learning rate", log=True),
        "l2": Param(1e-2, 0.0, 1.0, "BPR L2 penalty on the batch's layer-0 embeddings"),
        "negatives": Param(4, 1, 50, "sampled negative artists per train interaction"),
        "seed": Param(0, 0, 2**31 - 1, "random seed (training is deterministic on CPU for a seed)"),
    }
    # Chosen for each test year Y by validation on its last train year (train < Y-1, validate on Y-1, best
    # validation MRR): `python -m explorer sweep --model lightgcn --grid lr=0.01,0.03 epochs=25,50,100,200
    # l2=0.0001,0.001,0.01 negatives=1,4` (first run as benchmarks/tune_lightgcn.py: same protocol and grid).
    # The defaults above are 2010's choice, for later years.
    TUNED = tuned("lightgcn")

    def _nodes(self, train: TrainSet) -> np.ndarray:
        """Sorted ids of the user nodes."""
        if self.use_friends and len(train.friends):
            return np.union1d(train.users, train.friends.ravel())
        return train.users

    def _edges(self, train: TrainSet, users: np.ndarray) -> np.ndarray:
        """``[2, num_edges]`` node indices, both directions; artists are numbered after the users."""
        user_nodes = np.searchsorted(users, train.users[train.user_idx])
        item_nodes = train.item_idx + len(users)
        pairs = [np.stack([user_nodes, item_nodes]), np.stack([item_nodes, user_nodes])]
        if self.use_friends and len(train.friends):
            friends = np.searchsorted(users, train.friends.T)
            friends = friends[:, friends[0] != friends[1]]
            pairs += [friends, friends[::-1]]
        both = np.concatenate(pairs, axis=1)
        num_nodes = len(users) + train.num_items  # one int64 key per edge: a 1-D unique, same order as axis=1
        keys = np.unique(both[0] * num_nodes + both[1])
        return np.stack([keys // num_nodes, keys % num_nodes])

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        import torch
        from torch_geometric.nn import LightGCN
        from torch_geometric.nn.conv.gcn_conv import gcn_norm
        from torch_geometric.nn.models.lightgcn import BPRLoss
        from torch_geometric.utils import to_torch_csr_tensor

        p = self.params
        device = resolve_device(self.device)
        self.device_used_ = device
        users = self._nodes(train)
        num_users, num_nodes = len(users), len(users) + train.num_items
        edge_index = torch.from_numpy(self._edges(train, users))
        edge_index, edge_weight = gcn_norm(edge_index, None, num_nodes=num_nodes, add_self_loops=False)
        with warnings.catch_warnings():  # torch calls sparse CSR tensors "beta"; PyG's spmm uses them
            warnings.filterwarnings("ignore", message=".*[Ss]parse.*", category=UserWarning)
            adjacency = to_torch_csr_tensor(edge_index, edge_weight, size=(num_nodes, num_nodes)).to(device)
        del edge_index, edge_weight
        user_nodes = np.searchsorted(users, train.users[train.user_idx])
        pairs = TrainingPairs(
            torch.from_numpy(user_nodes).to(device),
            torch.from_numpy(train.item_idx).to(device),
            num_users,
            train.num_items,
        )
        without_rows = torch.from_numpy(np.flatnonzero(~np.isin(users, train.users)))

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p["seed"])
            model = LightGCN(num_nodes, p["embedding_dim"], p["num_layers"], normalize=False).to(device)
            with torch.no_grad():
                model.embedding.weight[without_rows.to(device)] = 0.0
            optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"])
            bpr = BPRLoss(lambda_reg=p["l2"])  # what LightGCN.recommendation_loss uses
            generator = torch.Generator(device=device).manual_seed(p["seed"])

            for epoch in range(1, p["epochs"] + 1):
                optimizer.zero_grad()
                loss = bpr_step(model, adjacency, bpr, pairs, pairs.sample(p["negatives"], generator))
                value = loss.item()  # the epoch's one host synchronisation
                if not math.isfinite(value):
                    raise ModelFitError(
                        f"{self.name}'s loss became {value} at epoch {epoch}; lower the learning rate "
                        f"(now {p['lr']}) and train again."
                    )
                optimizer.step()
                self.losses_.append(value)
                if progress is not None:
                    progress(epoch, p["epochs"], loss=value)
            with torch.no_grad():
                final = model.get_embedding(adjacency).cpu().numpy()
        if not np.isfinite(final).all():
            raise ModelFitError(
                f"{self.name}'s embeddings became non-finite; lower the learning rate (now {p['lr']}) and train again."
            )
        # A user without train rows and no trained user within num_layers friend hops keeps a zero embedding:
        # it is not known personally, so it gets the popularity ranking like any unknown user.
        reached = np.linalg.norm(final[:num_users], axis=1) > 0
        self._set_factors(users[reached], final[:num_users][reached], final[num_users:])


class SocialLightGCNRecommender(LightGCNRecommender):
    """LightGCN on the user–artist graph plus the users' friendships."""

    name = "lightgcn-social"
    description = "LightGCN over the user–artist graph plus friendships, so cold users get embeddings."
    use_friends = True
    notes = (FRIENDSHIP_NOTE,)
    PARAMS = {
        **LightGCNRecommender.PARAMS,
        "epochs": Param(200, 1, 5000, "full-batch training epochs (one Adam step each)"),
        "l2": Param(1e-3, 0.0, 1.0, "BPR L2 penalty on the batch's layer-0 embeddings"),
        "negatives": Param(1, 1, 50, "sampled negative artists per train interaction"),
    }
    # `python -m explorer sweep --model lightgcn-social` with the grid above (see LightGCNRecommender.TUNED).
    TUNED = tuned("lightgcn-social")


MODELS = (LightGCNRecommender, SocialLightGCNRecommender)
