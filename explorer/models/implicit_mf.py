"""ALS and BPR matrix factorisation through the ``implicit`` package (Ben Frederickson).

* ``als``: implicit's ``AlternatingLeastSquares`` (Hu, Koren & Volinsky 2008) on the binary train
  matrix with confidence ``1 + alpha``.
* ``bpr``: implicit's ``BayesianPersonalizedRanking`` (Rendle et al. 2009): LightGCN with zero layers,
  trained by SGD; comparing it with ``lightgcn`` shows what the graph adds. implicit appends an item-bias
  column to its factors (users get a constant 1 there), so its vectors have ``factors + 1`` numbers.

implicit's GPU build is used when one is present (``implicit.gpu.HAS_CUDA``), its CPU build otherwise.
On the CPU, fitting runs with OpenBLAS limited to one thread (``threadpoolctl``), as implicit advises:
its own threads parallelise over users, and nested BLAS threads would slow it down (implicit warns
about that otherwise). Scores are the factors' dot products for all users at once (implicit's
``recommend`` is never needed); users without train rows get popularity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from explorer.errors import ModelFitError, ParameterError
from explorer.models.base import Param, ProgressCallback, Recommender
from explorer.models.itemitem import interaction_matrix
from explorer.models.tuned import tuned
from explorer.protocol import TrainSet


def use_gpu(requested: str | None) -> bool:
    """Whether to fit on implicit's GPU build: ``cuda`` when it has one (or when asked for), else the CPU.

    Raises:
        ParameterError: ``cuda`` was asked for but implicit has no CUDA build here, or the name is unknown.
    """
    import implicit.gpu

    if requested in (None, "", "auto"):
        return bool(implicit.gpu.HAS_CUDA)
    if requested not in ("cpu", "cuda"):
        raise ParameterError(f"The device must be cpu or cuda, got {requested!r}.")
    if requested == "cuda" and not implicit.gpu.HAS_CUDA:
        raise ParameterError("The device cuda was asked for but implicit has no CUDA build here; use --device cpu.")
    return requested == "cuda"


class ImplicitModel(Recommender):
    """Shared fitting of implicit's factor models; subclasses say which one to build."""

    def _build(self, gpu: bool) -> Any:
        raise NotImplementedError

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        from threadpoolctl import threadpool_limits

        gpu = use_gpu(self.device)
        self.device_used_ = "cuda" if gpu else "cpu"
        matrix = interaction_matrix(train).astype(np.float32)
        iterations = self.params["iterations"]

        def report(iteration: int, *_: Any) -> None:
            if progress is not None:
                progress(iteration + 1, iterations)

        with threadpool_limits(1, "blas"):
            model = self._build(gpu)
            model.fit(matrix, show_progress=False, callback=report)
        if gpu:
            model = model.to_cpu()
        users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
        if not (np.isfinite(users).all() and np.isfinite(items).all()):
            raise ModelFitError(f"{self.name} produced non-finite factors; raise reg or lower the learning rate.")
        self._set_factors(train.users, users, items)


class ALS(ImplicitModel):
    """implicit's AlternatingLeastSquares on the binary user × artist matrix."""

    name = "als"
    description = "Implicit-feedback ALS matrix factorisation (implicit's AlternatingLeastSquares)."
    PARAMS = {
        # Bound 1024 > the train users of every validation split (at most 892): an L2 penalty on factors is a
        # nuclear-norm penalty on their product once k exceeds its rank, so a larger k cannot change the optimum.
        "factors": Param(64, 1, 1024, "number of latent factors"),
        "reg": Param(0.01, 1e-5, 1e3, "L2 regularisation", log=True),
        "alpha": Param(1.0, 1e-3, 1e3, "confidence weight of observed interactions", log=True),
        "iterations": Param(15, 1, 200, "alternating least squares iterations"),
        "seed": Param(0, 0, 2**31 - 1, "random seed"),
    }
    # Chosen per test year Y on validation year Y-1 (train < Y-1) by `python -m explorer sweep --record`;
    # explorer/models/tuned/als.json holds every trial (`python -m explorer tuning --model als`).
    TUNED = tuned("als")

    def _build(self, gpu: bool) -> Any:
        from implicit.als import AlternatingLeastSquares

        p = self.params
        return AlternatingLeastSquares(
            factors=p["factors"],
            regularization=p["reg"],
            alpha=p["alpha"],
            iterations=p["iterations"],
            random_state=p["seed"],
            use_gpu=gpu,
        )


class BPR(ImplicitModel):
    """implicit's BayesianPersonalizedRanking: matrix factorisation with the BPR loss (LightGCN, zero layers)."""

    name = "bpr"
    description = "BPR matrix factorisation (implicit): LightGCN without the graph."
    PARAMS = {
        "factors": Param(64, 1, 1024, "number of latent factors (implicit adds one bias column)"),
        "lr": Param(0.01, 1e-5, 1.0, "SGD learning rate", log=True),
        "reg": Param(0.01, 0.0, 10.0, "L2 regularisation"),
        "iterations": Param(100, 1, 2000, "SGD epochs over the train interactions"),
        "seed": Param(0, 0, 2**31 - 1, "random seed"),
    }
    # Chosen per test year Y on validation year Y-1 (train < Y-1) by `python -m explorer sweep --record`;
    # explorer/models/tuned/bpr.json holds every trial (`python -m explorer tuning --model bpr`).
    TUNED = tuned("bpr")

    def _build(self, gpu: bool) -> Any:
        from implicit.bpr import BayesianPersonalizedRanking

        p = self.params
        return BayesianPersonalizedRanking(
            factors=p["factors"],
            learning_rate=p["lr"],
            regularization=p["reg"],
            iterations=p["iterations"],
            random_state=p["seed"],
            use_gpu=gpu,
            num_threads=1,  # on the CPU: one thread makes the SGD reproducible for a seed (it takes < 1 s)
        )


MODELS = (ALS, BPR)
