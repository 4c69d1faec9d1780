"""Train: pick models, hyperparameters and test years; one button queues the runs; progress and live loss."""

import pandas as pd
import streamlit as st

from app.charts import sweep_coordinates
from app.run_card import cached_runs_panel
from app.state import cached_runs, page_start, plugin_warnings, splits, training_queue
from app.text import literal
from explorer import sweep
from explorer.errors import ExplorerError
from explorer.models import model_class, model_names

dataset = page_start("Train")
st.markdown(
    "Runs are cached: a model already trained with the same hyperparameters, test year and data loads "
    "instantly. Training happens in the background, one run after another; you can switch pages meanwhile."
)
queue = training_queue()
year_splits = splits(dataset)

st.caption(" · ".join(f"**{literal(name)}**: {literal(model_class(name).description)}" for name in model_names()))
plugin_warnings()  # a broken plugin: its models are missing from the form, with the reason
with st.form("train_form"):
    left, right = st.columns(2)
    chosen_models = left.multiselect("Models", model_names(), default=model_names(), key="train_models")
    chosen_years = right.multiselect("Test years", list(year_splits), default=list(year_splits), key="train_years")
    tuned = st.radio(
        "Hyperparameters",
        ["defaults (tuned for each test year)", "as set below, for every year"],
        horizontal=True,
        key="train_param_mode",
        help="The defaults of LightGCN were chosen for each test year by validation on its last train year.",
    ).startswith("defaults")
    params: dict[str, dict] = {}
    for name in model_names():
        spec = model_class(name).PARAMS
        if not spec:
            continue
        with st.expander(f"{name} hyperparameters"):
            columns = st.columns(4)
            values = {}
            for index, (param, bounds) in enumerate(spec.items()):
                column = columns[index % 4]
                if bounds.kind is int:
                    values[param] = column.number_input(
                        param,
                        min_value=int(bounds.low),
                        max_value=int(bounds.high),
                        value=int(bounds.default),
                        step=1,
                        help=bounds.help,
                        key=f"param_{name}_{param}",
                    )
                else:
                    values[param] = column.number_input(
                        param,
                        min_value=float(bounds.low),
                        max_value=float(bounds.high),
                        value=float(bounds.default),
                        format="%.5g",
                        help=bounds.help,
                        key=f"param_{name}_{param}",
                    )
            params[name] = values
    submitted = st.form_submit_button("Train", type="primary", disabled=queue.busy, key="train_button")

if submitted:
    if not chosen_models or not chosen_years:
        st.warning("Pick at least one model and one test year.")
    else:

        def checked(name: str, year: int) -> dict:
            """Complete, validated hyperparameters (a one-sentence ParameterError when out of bounds)."""
            return model_class(name).params_for(year, None if tuned else params.get(name))

        try:  # validate every request before queueing any, so an error queues nothing
            requests = [(name, year, checked(name, year)) for name in chosen_models for year in sorted(chosen_years)]
        except ExplorerError as error:
            st.error(literal(error))
        else:
            for name, year, values in requests:
                queue.submit(dataset, year_splits[year], name, values)
            st.rerun()


@st.fragment(run_every=0.7 if queue.busy else None)
def show_progress() -> None:
    jobs = queue.jobs(dataset.fingerprint)
    sweeps = [job for job in queue.sweeps(dataset.fingerprint) if job.active]
    if not jobs and not sweeps and not st.session_state.get("was_busy"):
        return
    st.subheader("Progress")
    for job in sweeps:
        if job.status == "running":
            fraction = job.step / job.total if job.total else 0.0
            st.progress(fraction, text=f"{job.label}: trial {job.step} of {job.total or '?'} done (Ray Tune)")
        else:
            st.caption(f"{job.label}: waiting")
    for job in jobs:
        if job.status == "done" and job.run is not None:
            how = "loaded from the cache" if job.run.from_cache else f"trained in {job.run.fit_seconds:.1f} s"
            st.success(
                f"{job.label}: {how} · Recall@10 {job.run.metrics['recall']['10']:.4f} · "
                f"MRR {job.run.metrics['mrr']:.4f}",
                icon=":material/check_circle:",
            )
        elif job.status == "failed":
            st.error(f"{job.label}: {literal(job.error)}")
        elif job.status == "mapping":
            st.progress(
                job.step / job.total if job.total else 0.0, text=f"{job.label}: drawing its embedding map (UMAP)"
            )
        elif job.status == "running":
            fraction = job.step / job.total if job.total else 0.0
            loss = f" · loss {job.losses[-1]:.4f}" if job.losses else ""
            st.progress(fraction, text=f"{job.label}: epoch {job.step} of {job.total or '?'}{loss}")
            if len(job.losses) > 1:
                st.line_chart(pd.DataFrame({"loss": job.losses}).rename_axis("epoch"), height=220, x_label="epoch")
        else:
            st.caption(f"{job.label}: waiting")
    if queue.busy:
        st.caption("Training in the background… the button is disabled until it finishes.")
    elif st.session_state.get("was_busy"):
        st.session_state["was_busy"] = False
        st.rerun(scope="app")  # refresh the table of cached runs
    st.session_state["was_busy"] = queue.busy
    if not queue.busy and st.button("Clear finished", key="clear_jobs"):
        queue.forget_finished()
        st.rerun(scope="app")


def sweep_form() -> None:
    """Model, years, grid and seeds in one form; the sweep runs in the background queue."""
    st.subheader("Sweep")
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
        seeds = st.text_input("Seeds", "0", key="sweep_seeds", help="one trial per grid point and seed, e.g. 0 1 2")
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


def sweep_results() -> None:
    """The latest finished sweep: its chart, its trials, and one button that trains the best settings."""
    finished = [job for job in queue.sweeps(dataset.fingerprint) if not job.active]
    if not finished:
        return
    job = finished[-1]
    if job.status == "failed":
        st.error(f"{job.label}: {literal(job.error)}")
        return
    result = job.result
    trials = result.table()
    spec = model_class(result.model).PARAMS
    st.success(
        f"{job.label}: {len(trials)} trials in {job.finished - job.started:.0f} s", icon=":material/check_circle:"
    )
    if (trials["status"] == "ok").any():
        logs = {name for name in result.swept() if spec[name].log}
        st.plotly_chart(sweep_coordinates(trials, result.swept(), result.metric, logs), key="sweep_chart")
    st.dataframe(
        trials.sort_values(["year", result.metric], ascending=[True, False]),
        hide_index=True,
        key="sweep_trials",
        column_config={result.metric: st.column_config.NumberColumn(format="%.4f")},
    )
    best = {year: part.best for year, part in result.years.items() if part.best is not None}
    for year, part in result.years.items():
        if part.best is None:
            st.warning(f"Every trial for {year} failed; there is no best setting to train.")
    if not best:
        return
    summary = "; ".join(
        f"{year}: {', '.join(f'{k}={v}' for k, v in choice['params'].items()) or 'defaults'} "
        f"({result.metric} {choice['value']:.4f} on {year - 1})"
        for year, choice in best.items()
    )
    st.markdown(f"**Best by validation {result.metric}:** {summary}")
    label = f"Train the best setting on the test year{'s' if len(best) > 1 else ''}"
    if st.button(label, type="primary", disabled=queue.busy, key="sweep_train_best"):
        seed = job.request.seeds[0]
        for year, choice in best.items():
            overrides = {**choice["params"], **sweep.seed_params(result.model, seed)}
            params = model_class(result.model).params_for(year, overrides)
            queue.submit(dataset, year_splits[year], result.model, params)
        st.rerun()


show_progress()
sweep_form()
sweep_results()

st.subheader("Cached runs")
cached_runs_panel(cached_runs(dataset, include_stale=True), queue.busy)
