"""Matrix factorisation baseline: cmfrec's ``CMF_implicit`` on binary interactions, as in the notebook.

Scores are the dot products of cmfrec's fitted factors (``A_ @ B_.T``, what its ``topN`` ranks), computed
for all users at once. cmfrec's ``topN`` is never called: it kills the whole process with a segmentation
fault when asked about a user it was not fitted on. Unknown users get popularity in
:meth:`~explorer.models.base.Recommender.score` before any factor is looked up.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix

from explorer.errors import ModelFitError
from explorer.models.base import Param, ProgressCallback, Recommender
from explorer.models.tuned import tuned
from explorer.protocol import TrainSet


class CMF(Recommender):
    """cmfrec ``CMF_implicit(k=50, random_state=1)`` fitted on the binary user × artist matrix."""

    name = "cmf"
    description = "Implicit-feedback matrix factorisation (cmfrec CMF_implicit, binary interactions)."
    PARAMS = {
        # Bound 1024 > the train users of every validation split (at most 892): an L2 penalty on factors is a
        # nuclear-norm penalty on their product once k exceeds its rank, so a larger k cannot change the optimum.
        "k": Param(50, 1, 1024, "number of latent factors"),
        "reg": Param(1.0, 1e-4, 1e3, "L2 regularisation (cmfrec's lambda_)", log=True),
        "alpha": Param(1.0, 1e-3, 1e3, "confidence weight of observed interactions", log=True),
        "iterations": Param(10, 1, 100, "alternating least squares iterations"),
        "seed": Param(1, 0, 2**31 - 1, "random seed"),
    }
    # Chosen per test year Y on validation year Y-1 (train < Y-1) by `python -m explorer sweep --record`;
    # explorer/models/tuned/cmf.json holds every trial (`python -m explorer tuning --model cmf`). The
    # defaults above are the notebook's setting (k=50), kept for other years and for comparison.
    TUNED = tuned("cmf")

    def _fit(self, train: TrainSet, progress: ProgressCallback | None) -> None:
        from cmfrec import CMF_implicit  # imported here: reading a cached run does not need it

        matrix = coo_matrix(
            (np.ones(len(train.user_idx)), (train.user_idx, train.item_idx)),
            shape=(train.num_users, train.num_items),
        )
        model = CMF_implicit(
            k=self.params["k"],
            lambda_=self.params["reg"],
            alpha=self.params["alpha"],
            niter=self.params["iterations"],
            random_state=self.params["seed"],
            verbose=False,
        ).fit(matrix)
        if not (np.isfinite(model.A_).all() and np.isfinite(model.B_).all()):
            raise ModelFitError("CMF produced non-finite factors; raise reg or lower alpha and train again.")
        self._set_factors(train.users, model.A_, model.B_)
        if progress is not None:
            progress(1, 1)


MODELS = (CMF,)
