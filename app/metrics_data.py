"""What the Metrics page shows, found and cached: the runs of one setting per model (all cached seeds), their
comparison (one family, one test), cohort metrics, and the notes a reader must know.

Nothing here computes a statistic: :func:`explorer.comparison.compare` does. A comparison is cached twice: in
this server (``st.cache_data``) and on disk beside the runs (``<cache>/.stats``, through
:class:`explorer.pair_store.PairStore`), keyed by the runs' content ids (:func:`explorer.runs.content_id`) and
the statistics code, so a server that starts reads it instead of reloading every run's ranks; a retrained run
(a new content id) or changed statistics code is computed afresh.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from app.state import column_grid, defaults_first, load_run, model_rank, splits, with_settings
from explorer import comparison, multiple, pair_store, reports, runs, stats, summaries
from explorer.cohorts import COHORTS, assign, cohort_metrics
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.models import model_class, model_names, seed_of
from explorer.pair_store import PairStore
from explorer.training import Run

FAMILY_METRICS = ("recall@10", "mrr", "ndcg@10")  # the page's one family: every pair × these × the years
TABLE_METRICS = tuple(comparison.CI_METRICS)  # reported with CIs (no tests) in the detailed tables
TESTS = {"signflip": "sign-flip + Holm", "tukey": "Tukey HSD"}


def default_seed(model: str, year: int) -> int | None:
    try:
        return seed_of(model_class(model).defaults_for(year))
    except ExplorerError:  # a plugin model not loaded here: no default seed
        return None


def seed_order(model: str, year: int, seed: int | None) -> tuple[bool, int]:
    """The one rule for which seed stands for a model and year when one is shown: the year's default seed,
    else the smallest cached seed (sort by this; the first wins)."""
    if seed is None or pd.isna(seed):  # a model without a seed: its one run per setting
        return (True, -1)
    return (int(seed) != default_seed(model, year), int(seed))


def pick_runs(table: pd.DataFrame, key: str) -> tuple[pd.DataFrame, bool]:
    """One setting per model (``defaults`` first) in a collapsed expander, and whether to pool the seeds.

    Returns:
        The rows of the chosen settings (every cached seed, or each year's default seed alone when the user
        turns pooling off) and whether any setting has more than one seed cached.
    """
    table = with_settings(table)
    models = [model for model in model_names() if model in set(table["model"])]
    chosen = []
    with st.expander("Runs shown: one hyperparameter setting per model (default: each model's tuned defaults)"):
        for column, model in zip(column_grid(len(models), 5), models, strict=True):
            settings = defaults_first(table.loc[table["model"] == model, "setting"])
            picked = column.selectbox(model, settings, key=f"{key}_{model}", help="hyperparameters of the cached runs")
            chosen.append(table[(table["model"] == model) & (table["setting"] == picked)])
        rows = pd.concat(chosen)
        seeded = bool((rows.groupby(["model", "year"]).size() > 1).any())
        pooled = seeded and st.toggle(
            "Average each seed-dependent model over its cached seeds (mean ± seed SD beside the CI)",
            value=True,
            key=f"{key}_seeds",
        )
    if seeded and not pooled:
        rows = pd.concat([_one_seed(group) for _, group in rows.groupby(["model", "year"], sort=False)])
    rows = rows.sort_values(["model", "year"], key=lambda c: model_rank(c) if c.name == "model" else c)
    return rows, seeded


def _one_seed(group: pd.DataFrame) -> pd.DataFrame:
    """The row of the seed that stands for one setting's model and year (:func:`seed_order`)."""
    model, year = group["model"].iloc[0], int(group["year"].iloc[0])
    return group.loc[[min(group.index, key=lambda i: seed_order(model, year, group.at[i, "seed"]))]]


@functools.cache
def statistics_code() -> str:
    """A hash of the statistics modules' source: a stored comparison made by other statistics code is not served."""
    digest = hashlib.sha256()
    for module in (comparison, multiple, stats, summaries, pair_store):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def family_key(keys: Sequence[str], test: str, values: Sequence[str]) -> str:
    """The on-disk key of a comparison of the runs ``keys`` (by their content ids) with this page's family."""
    contents = sorted(runs.content_id(key) for key in keys)
    return PairStore.key(
        "metrics-page-family",
        code=statistics_code(),
        contents=contents,
        metrics=list(FAMILY_METRICS),
        values=list(values),
        test=test,
        resamples=stats.RESAMPLES,
        confidence=stats.CONFIDENCE,
        alpha=stats.ALPHA,
    )


@st.cache_data(show_spinner="Testing every pair of models (stored: computed once)…", max_entries=32)
def comparison_of(keys: tuple[str, ...], contents: tuple[str, ...], test: str, values: tuple[str, ...]) -> dict:  # noqa: ARG001 - contents: the key
    """:func:`explorer.comparison.compare` of the runs ``keys`` over the page's family (every pair × FAMILY_METRICS ×
    years) with ``test``, values and CIs of ``values`` too; read from the run cache's store when it holds it."""
    store = PairStore()
    key = family_key(keys, test, values)
    found = store.get(key)
    if found is not None and found.get("keys") == sorted(keys):
        return found["result"]
    grouped: dict[str, list[Run]] = {}
    for run_key in keys:
        run = load_run(run_key)
        grouped.setdefault(run.model, []).append(run)
    result = comparison.compare(grouped, FAMILY_METRICS, test=test, values=values)
    store.put(key, {"keys": sorted(keys), "result": result})
    return result


def compare_command(rows: pd.DataFrame, test: str) -> str | None:
    """The ``python -m explorer compare`` command that makes the same decisions, when the page shows each model's
    defaults with one seed set (None otherwise: the CLI then needs per-model settings the page does not track)."""
    if (rows["setting"] != "defaults").any():
        return None
    seeded = rows[[comparison.depends_on_seed(m) for m in rows["model"]]]
    seed_sets = {tuple(sorted(g["seed"].dropna().astype(int))) for _, g in seeded.groupby(["model", "year"])}
    if len(seed_sets) > 1:
        return None
    seeds = next(iter(seed_sets), ())
    default = all(
        list(seed_set) == [default_seed(m, int(y))]
        for (m, y), g in seeded.groupby(["model", "year"])
        for seed_set in [sorted(g["seed"].dropna().astype(int))]
    )
    models = list(dict.fromkeys(rows["model"]))
    years = sorted(set(rows["year"]))
    parts = ["python -m explorer compare --models", *models, "--metrics", *FAMILY_METRICS]
    if years != [2008, 2009, 2010]:
        parts += ["--years", *map(str, years)]
    if seeds and not default:
        parts += ["--seeds", *map(str, seeds)]
    if test != "signflip":
        parts += ["--test", test]
    return " ".join(parts)


@st.cache_data(show_spinner="Computing cohort metrics…", max_entries=32)
def cohorts_of(keys: tuple[str, ...], contents: tuple[str, ...], family: str, _dataset: Dataset) -> pd.DataFrame:  # noqa: ARG001
    """Cohort metrics with CIs of the runs ``keys`` (long form, see explorer.reports.cohort_rows); ``contents``
    (the runs' content ids, which name the data set too) key the cache, so a retrained run is recomputed."""
    rows = []
    for key in keys:
        run = load_run(key)
        groups = cohort_metrics(run.ranks, assign(splits(_dataset)[run.year], _dataset.friends), families=(family,))
        rows.append((run.model, run.year, groups))
    return reports.cohort_rows(rows)


COHORT_NOTE = (
    "*activity*: train artists of the user (cold 0, light 1–5, medium 6–20, heavy > 20); *mainstream*: terciles "
    "of the mean train popularity of the user's artists (cold users left out); *social*: friends with train rows "
    f"(none, few 1–5, many > 5). Families: {', '.join(COHORTS)}."
)


def notes(chosen: Sequence[Run]) -> list[str]:
    """Each fact a reader must know, once, with the models it concerns (a note that only adds a qualifier to
    another, such as cmf-tags' "(used only when friends=1)", is folded into it)."""
    by_note: dict[str, list[str]] = {}
    for run in chosen:
        for note in run.notes:
            by_note.setdefault(note, [])
            if run.model not in by_note[note]:
                by_note[note].append(run.model)
    merged: dict[str, list[str]] = {}
    for note in sorted(by_note, key=len):
        base = next((shorter for shorter in merged if note.startswith(shorter)), note)
        merged.setdefault(base, [])
        merged[base] += [m for m in by_note[note] if m not in merged[base]]
    return [f"{', '.join(models)}: {note}" for note, models in merged.items()]
