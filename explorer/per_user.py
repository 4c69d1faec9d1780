"""Per-user results of runs: what each test user contributes to each metric, with the user's cohorts.

One row per (model, year, seed, user): ``cases`` (the user's test rows), ``hits@K`` for the Recall Ks (test rows
ranked in the top K), ``rr_sum`` (sum of 1/norm_rank over the rows with one) and ``rr_cases`` (those rows),
``ndcg@10`` (the user's NDCG), and the cohorts of :mod:`explorer.cohorts`. A metric of a year is a ratio of
column sums: Recall@K = sum(hits@K) / sum(cases), MRR = sum(rr_sum) / sum(rr_cases), NDCG@10 = mean(ndcg@10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from explorer.evaluation import RECALL_KS, user_contributions
from explorer.training import Run

PER_USER_METRICS = [*(f"recall@{k}" for k in RECALL_KS), "mrr", "ndcg@10"]
COLUMNS = ["model", "year", "seed", "user", "cases", *(f"hits@{k}" for k in RECALL_KS), "rr_sum", "rr_cases", "ndcg@10"]


def per_user_frame(runs: Sequence[Run], cohorts: Mapping[int, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The per-user rows of ``runs`` (any years, any seeds), with cohort columns where ``cohorts`` has the year.

    Args:
        runs: Runs (any models).
        cohorts: Year → :func:`explorer.cohorts.assign` of that year's split (index ``user``).
    """
    frames = []
    for run in runs:
        users, num, den = user_contributions(run.ranks, PER_USER_METRICS)
        frame = pd.DataFrame({"model": run.model, "year": run.year, "seed": run.params.get("seed"), "user": users})
        frame["cases"] = den[:, 0].astype(int)
        for i, k in enumerate(RECALL_KS):
            frame[f"hits@{k}"] = num[:, i].astype(int)
        mrr = PER_USER_METRICS.index("mrr")
        frame["rr_sum"], frame["rr_cases"] = num[:, mrr], den[:, mrr].astype(int)
        frame["ndcg@10"] = num[:, PER_USER_METRICS.index("ndcg@10")]
        if cohorts is not None and run.year in cohorts:
            frame = frame.join(cohorts[run.year], on="user")
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True).astype({"seed": "Int64"})
