"""LightGCN (He et al., SIGIR 2020) through PyTorch Geometric, with and without the friendship graph.

This module is an adapter: it builds the graph, samples negatives, seeds, trains with BPR and reports
progress; the layers (:class:`torch_geometric.nn.models.LightGCN`, symmetric normalisation, layer
weights 1/(K+1)), the BPR loss (softplus form, L2 on the batch's layer-0 embeddings) and the
negative sampler are PyG's.

* ``lightgcn``: the user–artist graph of the train rows.
* ``lightgcn-social``: the same plus the user–user edges of ``user_friends.dat``, so a user without
  train rows still gets an embedding through their friends. Such users start from a zero layer-0
  embedding (a random start would only add noise to their scores), so their scores come from the
  friends; one with no trained user within ``num_layers`` hops keeps zeros and gets popularity.

Training is full-batch: one propagation over the whole graph and one Adam step per epoch, with
``negatives`` sampled artists per train interaction. On this data the graph has < 100k edges, so a
step takes milliseconds on a CPU (see ``benchmarks/``). Torch is imported inside :meth:`_fit` so
reading a cached run never loads it.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from explorer.errors import ModelFitError, ParameterError
from explorer.models.base import Param, ProgressCallback, Recommender
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


def bpr_step(
    model: torch.nn.Module,
    adjacency: torch.Tensor,
    bpr: torch.nn.Module,
    user: torch.Tensor,
    item: torch.Tensor,
    negative: torch.Tensor,
) -> float:
    """One full-batch BPR step's loss and gradients (accumulated into ``model.embedding.weight.grad``).

    The gradients are autograd's, computed faster: the propagation is linear in the layer-0 embeddings
    and the normalised adjacency is symmetric, so the gradient through it is the propagation of the
    final embeddings' gradient. That is three sparse products, where autograd's backward re-sorts the
    sparse matrix for every layer (about 30% of an epoch on this data; ``tests/test_models.py`` checks
    the gradients are equal).

    Args:
        user, item, negative: Node indices ``[batch]`` of each triple (items already offset).

    Returns:
        The loss value.
    """
    import torch

    weight = model.embedding.weight
    with torch.no_grad():
        final = model.get_embedding(adjacency)
    final.requires_grad_(True)
    # index_select, not final[...]: its backward (index_add) is 3x faster on CPU here.
    user_embedding = final.index_select(0, user)
    positive_rank = (user_embedding * final.index_select(0, item)).sum(dim=-1)
    negative_rank = (user_embedding * final.index_select(0, negative)).sum(dim=-1)
    loss = bpr(positive_rank, negative_rank, weight.index_select(0, torch.cat([user, item, negative])))
    loss.backward()
    with torch.no_grad():
        through_graph = propagate(model, final.grad, adjacency)
        weight.grad = through_graph if weight.grad is None else weight.grad + through_graph
    return loss.item()


class LightGCNRecommender(Recommender):
    """LightGCN on the bipartite user–artist graph of the train rows."""

    name = "lightgcn"
    description = "LightGCN graph neural network on the user–artist graph (PyTorch Geometric)."
    use_friends: ClassVar[bool] = False
    PARAMS = {
        "embedding_dim": Param(64, 4, 512, "size of the user and artist embeddings"),
        "num_layers": Param(3, 1, 6, "LightGCN propagation layers"),
        "epochs": Param(100, 1, 5000, "full-batch training epochs (one Adam step each)"),
        "lr": Param(0.01, 1e-5, 1.0, "Adam learning rate", log=True),
        "l2": Param(1e-2, 0.0, 1.0, "BPR L2 penalty on the batch's layer-0 embeddings"),
        "negatives": Param(4, 1, 50, "sampled negative artists per train interaction"),
        "seed": Param(0, 0, 2**31 - 1, "random seed (training is deterministic on CPU for a seed)"),
    }
    # Chosen for each test year Y by validation on its last train year (train < Y-1, validate on Y-1):
    # benchmarks/tune_lightgcn.py. The defaults above are 2010's choice, for later years.
    TUNED = {
        2008: {"lr": 0.01, "epochs": 25, "num_layers": 3, "l2": 0.01, "negatives": 4},
        2009: {"lr": 0.01, "epochs": 200, "num_layers": 3, "l2": 0.01, "negatives": 1},
        2010: {"lr": 0.01, "epochs": 100, "num_layers": 3, "l2": 0.01, "negatives": 4},
    }

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
        return np.unique(np.concatenate(pairs, axis=1), axis=1)

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        import torch
        from torch_geometric.nn import LightGCN
        from torch_geometric.nn.conv.gcn_conv import gcn_norm
        from torch_geometric.nn.models.lightgcn import BPRLoss
        from torch_geometric.utils import structured_negative_sampling, to_torch_csr_tensor

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
        user_nodes = torch.from_numpy(np.searchsorted(users, train.users[train.user_idx]))
        positives = torch.stack([user_nodes, torch.from_numpy(train.item_idx)]).repeat(1, p["negatives"])
        without_rows = torch.from_numpy(np.flatnonzero(~np.isin(users, train.users)))

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p["seed"])
            model = LightGCN(num_nodes, p["embedding_dim"], p["num_layers"], normalize=False).to(device)
            with torch.no_grad():
                model.embedding.weight[without_rows.to(device)] = 0.0
            optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"])
            bpr = BPRLoss(lambda_reg=p["l2"])  # what LightGCN.recommendation_loss uses
            for epoch in range(1, p["epochs"] + 1):
                user, item, negative = structured_negative_sampling(positives, num_nodes=train.num_items)
                user, item, negative = user.to(device), item.to(device) + num_users, negative.to(device) + num_users
                optimizer.zero_grad()
                value = bpr_step(model, adjacency, bpr, user, item, negative)
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
    TUNED = {
        2008: {"lr": 0.01, "epochs": 50, "num_layers": 3, "l2": 0.001, "negatives": 4},
        2009: {"lr": 0.03, "epochs": 50, "num_layers": 3, "l2": 0.001, "negatives": 1},
        2010: {"lr": 0.01, "epochs": 200, "num_layers": 3, "l2": 0.001, "negatives": 1},
    }


MODELS = (LightGCNRecommender, SocialLightGCNRecommender)
