"""The Train page's sweeps: the form that queues one, and the sweep history (every finished sweep stored in the
run cache, :func:`explorer.sweep.history`), any of which re-opens with its chart, trials and best settings."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.jobs import TrainingQueue
from app.text import literal
from explorer import runs, sweep
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.models import model_class, model_names
from explorer.protocol import Split


def sweep_form(dataset: Dataset, queue: TrainingQueue, year_splits: dict[int, Split]) -> None:
    """Model, years, grid and seeds in one form; the sweep runs in the background queue."""
    st.markdown(
        "Choose hyperparameters without looking at a test year: for test year Y every grid point × seed is "
        "trained on years < Y−1 and validated on Y−1, as Ray Tune trials on this machine. The best setting "
        "can then be trained on the test year."
    )
    tunable = [name for name in model_names() if model_class(name).PARAMS]
    with st.form("sweep_form"):
        left, middle, right = st.columns([2, 2, 1])
        model = left.selectbox(
            "Model", tunable, index=tunable.index("lightgcn") if "lightgcn" in tunable else 0, key="sweep_model"
        )
        years = middle.multiselect("Test years", list(year_splits), default=[max(year_splits)], key="sweep_years")
        metric = right.selectbox("Metric", ["mrr", "recall@10", "ndcg@10"], key="sweep_metric")
        grid = st.text_input(
            "Grid",
            "lr=0.01,0.03 epochs=50,100",
            key="sweep_grid",
            help="NAME=V1,V2 items separated by spaces; every combination is tried. Hyperparameters: "
            + "; ".join(f"{name}: {', '.join(model_class(name).PARAMS)}" for name in tunable),
        )
        seeds = st.text_input(
            "Seeds",
            "0",
            key="sweep_seeds",
            help="one trial per grid point and seed, e.g. 0 1 2 (ignored by models without a seed)",
        )
        submitted = st.form_submit_button("Sweep", disabled=queue.busy, key="sweep_button")
    if not submitted:
        return
    try:
        chosen_seeds = [int(seed) for seed in seeds.replace(",", " ").split()]
    except ValueError:
        st.error(f"Seeds must be whole numbers separated by spaces, got {literal(repr(seeds))}.")
        return
    try:
        request = sweep.plan(dataset, model, years, grid.split(), chosen_seeds, metric)
    except ExplorerError as error:
        st.error(literal(error))
        return
    queue.submit_sweep(dataset, request)
    st.rerun()


def _setting(params: dict) -> str:
    return ", ".join(f"{name}={value:g}" for name, value in params.items()) or "defaults"


def history_table(rows: list[dict]) -> list[dict]:
    """The history's rows as shown: when, model, years, metric, trials (failed), the best setting per year."""
    shown = []
    for row in rows:
        best = "; ".join(
            f"{year}: {_setting(chosen['params'])} ({chosen['value']:.4f})" if chosen else f"{year}: every trial failed"
            for year, chosen in row["best"].items()
        )
        shown.append(
            {
                "finished": row["created"].replace("T", " ").removesuffix("+00:00"),
                "model": row["model"],
                "test years": ", ".join(map(str, row["years"])),
                "metric": row["metric"],
                "trials": row["trials"] if not row["failed"] else f"{row['trials']} ({row['failed']} failed)",
                "seconds": round(row["seconds"]),
                "best on validation": best,
            }
        )
    return shown


@st.cache_data(max_entries=16, show_spinner=False)
def _history(cache: str, fingerprint: str, listing: tuple) -> list[dict]:  # noqa: ARG001 - listing: the key
    return sweep.history(Path(cache), fingerprint=fingerprint)


@st.cache_data(max_entries=16, show_spinner=False)
def _load(cache: str, sweep_id: str, listing: tuple) -> sweep.SweepResult:  # noqa: ARG001 - listing: the key
    return sweep.load(sweep_id, Path(cache))


def sweep_history(dataset: Dataset, queue: TrainingQueue, year_splits: dict[int, Split], *, read_only: bool) -> None:
    """Failed sweeps of this server, then the stored sweeps (newest first); the chosen one re-opens below."""
    for job in queue.sweeps(dataset.fingerprint):
        if job.status == "failed":
            st.error(f"{job.label}: {literal(job.error)}")
    cache = runs.cache_dir()
    listing = sweep.listing(cache)  # the stored files' names, times and sizes: parsed again only when they change
    rows = _history(str(cache), dataset.fingerprint, listing)
    if not rows:
        st.caption("No sweep has finished for this data set yet; finished sweeps are kept here.")
        return
    st.markdown("**Past sweeps** (stored in the run cache; pick one to re-open it)")
    selection = st.dataframe(
        history_table(rows),
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        selection_default={"selection": {"rows": [0]}},
        key=f"sweep_history_{rows[0]['id']}",  # a new sweep: a fresh table with the newest selected
    )
    picked = selection.selection.rows[0] if selection.selection.rows else 0
    try:
        result = _load(str(cache), rows[picked]["id"], listing)
    except ExplorerError as error:
        st.error(literal(error))
        return
    sweep_result(result, dataset, queue, year_splits, read_only=read_only)


def sweep_result(
    result: sweep.SweepResult, dataset: Dataset, queue: TrainingQueue, year_splits: dict, *, read_only: bool
) -> None:
    """One sweep: its chart, its trials (no seed column without seeds), the best setting and a button to train it."""
    from app.sweep_charts import sweep_figure

    trials = result.table()
    swept = [name for name in result.swept() if trials[name].nunique() > 1]  # a single value is fixed, not swept
    fixed = {name: trials[name].iloc[0] for name in result.swept() if name not in swept}
    when = result.created.replace("T", " ").removesuffix("+00:00")
    st.success(
        f"Sweep of {literal(result.model)} ({when}): {len(trials)} trials in {result.seconds:.0f} s",
        icon=":material/check_circle:",
    )
    try:
        spec = model_class(result.model).PARAMS
    except ExplorerError:  # a plugin model not loaded here: its trials still show
        spec = {}
    best = {year: part.best for year, part in result.years.items()}
    if (trials["status"] == "ok").any() and swept:
        logs = {name for name in swept if name in spec and spec[name].log}
        figure = sweep_figure(trials, swept, result.metric, logs, best, fixed)
        st.plotly_chart(figure, key=f"sweep_chart_{result.id}")
    st.dataframe(
        trials.sort_values(["year", result.metric], ascending=[True, False]),
        hide_index=True,
        key=f"sweep_trials_{result.id}",
        column_config={
            result.metric: st.column_config.NumberColumn(format="%.4f"),
            result.secondary: st.column_config.NumberColumn(format="%.4f"),
        },
    )
    chosen = {year: choice for year, choice in best.items() if choice is not None}
    for year, choice in best.items():
        if choice is None:
            st.warning(f"Every trial for {year} failed; there is no best setting to train.")
    if not chosen:
        return
    summary = "; ".join(
        f"{year}: {_setting(choice['params'])} ({result.metric} {choice['value']:.4f} on {year - 1}"
        + (f", mean of {choice['seeds']} seeds)" if choice.get("seeds", 1) > 1 else ")")
        for year, choice in chosen.items()
    )
    st.markdown(f"**Best by validation {result.metric}:** {literal(summary)}")
    if read_only or result.model not in model_names():
        return
    label = f"Train the best setting on the test year{'s' if len(chosen) > 1 else ''}"
    if st.button(label, type="primary", disabled=queue.busy, key=f"sweep_train_best_{result.id}"):
        seeds = [trial.seed for trial in result.trials()]
        seed = seeds[0] if seeds else None
        for year, choice in chosen.items():
            overrides = {**choice["params"], **sweep.seed_params(result.model, seed)}
            params = model_class(result.model).params_for(year, overrides)
            queue.submit(dataset, year_splits[year], result.model, params)
        st.rerun()
