"""User cohorts of a split's test users, and every metric per cohort with its bootstrap CI.

* ``activity``: ``cold`` (no train rows), ``light`` (1–5 train artists), ``medium`` (6–20), ``heavy`` (> 20);
* ``mainstream``: terciles ``low`` / ``mid`` / ``high`` of the mean train popularity (train interactions)
  of the user's train artists; cold users have none and are left out;
* ``social``: ``none`` / ``few`` (1–5) / ``many`` (> 5) friends who have train rows.

Terciles split the warm test users into three groups of (nearly) equal size, ties broken by user id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.evaluation import user_contributions
from explorer.protocol import Split
from explorer.stats import CONFIDENCE, RESAMPLES, bootstrap_ratios, percentile_intervals

COHORTS: dict[str, tuple[str, ...]] = {
    "activity": ("cold", "light", "medium", "heavy"),
    "mainstream": ("low", "mid", "high"),
    "social": ("none", "few", "many"),
}
COHORT_METRICS = ["recall@5", "recall@10", "recall@25", "recall@50", "recall@500", "mrr", "ndcg@10"]


def assign(split: Split, friends: pd.DataFrame) -> pd.DataFrame:
    """The cohorts of each test user.

    Args:
        split: The forward-chaining split (train rows per user, train popularity).
        friends: ``userID, friendID`` pairs (both directions).

    Returns:
        One row per test user (index ``user``, sorted) with columns ``activity``, ``mainstream`` (empty
        for cold users) and ``social``.
    """
    users = np.unique(split.test["userID"].to_numpy())
    train = split.train
    rows = train.groupby("userID").size()
    activity_rows = rows.reindex(users, fill_value=0).to_numpy()
    activity = np.select(
        [activity_rows == 0, activity_rows <= 5, activity_rows <= 20], ["cold", "light", "medium"], "heavy"
    )
    popularity = train.groupby("artistID").size()
    mean_popularity = (
        train.assign(popularity=popularity.reindex(train["artistID"]).to_numpy())
        .groupby("userID")["popularity"]
        .mean()
        .reindex(users)
    )
    mainstream = np.full(len(users), "", dtype=object)
    warm = ~mean_popularity.isna().to_numpy()
    if warm.any():
        order = mean_popularity[warm].rank(method="first").to_numpy()  # ties by user id (sorted users)
        mainstream[warm] = pd.qcut(order, 3, labels=list(COHORTS["mainstream"])).astype(str)
    trained = set(train["userID"].unique().tolist())
    pairs = friends[friends["userID"].isin(users) & friends["friendID"].isin(trained)]
    friend_counts = pairs.groupby("userID")["friendID"].nunique().reindex(users, fill_value=0).to_numpy()
    social = np.select([friend_counts == 0, friend_counts <= 5], ["none", "few"], "many")
    return pd.DataFrame(
        {"activity": activity, "mainstream": mainstream, "social": social}, index=pd.Index(users, name="user")
    )


def cohort_metrics(
    ranked: pd.DataFrame,
    cohorts: pd.DataFrame,
    *,
    num: np.ndarray | None = None,
    families: tuple[str, ...] = tuple(COHORTS),
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, dict[str, dict]]:
    """Every metric per cohort, with users, cases and a bootstrap CI over the cohort's users.

    Args:
        ranked: A run's ranks table.
        cohorts: :func:`assign` of the same split.
        num: Per-user numerators of :data:`COHORT_METRICS` to use instead of ``ranked``'s (e.g. the mean
            over seeds); same users and columns as :func:`explorer.evaluation.user_contributions` gives.
        families: The cohort families to compute (default all of :data:`COHORTS`).
        confidence, resamples, seed: Of the bootstrap.

    Returns:
        ``{family: {cohort: {"users", "cases", "recall": {K: v}, "mrr", "mrr_cases", "ndcg": {"10": v},
        "ci": {"recall": {K: [lo, hi]}, "mrr": [lo, hi], "ndcg": {"10": [lo, hi]}}}}}``; values are None
        for an empty cohort.
    """
    users, own_num, den = user_contributions(ranked, COHORT_METRICS)
    num = own_num if num is None else num
    labels = cohorts.reindex(users)
    result: dict[str, dict[str, dict]] = {}
    for family in families:
        result[family] = {}
        for name in COHORTS[family]:
            members = (labels[family] == name).to_numpy()
            result[family][name] = _cohort_entry(num[members], den[members], confidence, resamples, seed)
    return result


def _cohort_entry(num: np.ndarray, den: np.ndarray, confidence: float, resamples: int, seed: int) -> dict:
    users = len(num)
    recall_columns = [(i, name.split("@")[1]) for i, name in enumerate(COHORT_METRICS) if name.startswith("recall")]
    mrr_column, ndcg_column = COHORT_METRICS.index("mrr"), COHORT_METRICS.index("ndcg@10")
    entry = {
        "users": users,
        "cases": int(den[:, 0].sum()),
        "mrr_cases": int(den[:, mrr_column].sum()),
    }
    if users == 0:
        return {
            **entry,
            "recall": {k: None for _, k in recall_columns},
            "mrr": None,
            "ndcg": {"10": None},
            "ci": {"recall": {k: None for _, k in recall_columns}, "mrr": None, "ndcg": {"10": None}},
        }
    totals = den.sum(axis=0)
    values = np.divide(num.sum(axis=0), totals, out=np.zeros(len(totals)), where=totals != 0)
    intervals = percentile_intervals(bootstrap_ratios(num, den, resamples, seed), confidence)
    return {
        **entry,
        "recall": {k: float(values[i]) for i, k in recall_columns},
        "mrr": float(values[mrr_column]),
        "ndcg": {"10": float(values[ndcg_column])},
        "ci": {
            "recall": {k: intervals[i].tolist() for i, k in recall_columns},
            "mrr": intervals[mrr_column].tolist(),
            "ndcg": {"10": intervals[ndcg_column].tolist()},
        },
    }
