"""Train: pick models, hyperparameters and test years; one button queues the runs; progress and live loss."""

import pandas as pd
import streamlit as st

from app.state import cached_runs, page_start, splits, training_queue
from explorer import runs
from explorer.errors import ExplorerError
from explorer.models import model_class, model_names

dataset = page_start("Train")
st.markdown(
    "Runs are cached: a model already trained with the same hyperparameters, test year and data loads "
    "instantly. Training happens in the background, one run after another; you can switch pages meanwhile."
)
queue = training_queue()
year_splits = splits(dataset)

st.caption(" · ".join(f"**{name}**: {model_class(name).description}" for name in model_names()))
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
            st.error(str(error))
        else:
            for name, year, values in requests:
                queue.submit(dataset, year_splits[year], name, values)
            st.rerun()


@st.fragment(run_every=0.7 if queue.busy else None)
def show_progress() -> None:
    jobs = queue.jobs(dataset.fingerprint)
    if not jobs:
        return
    st.subheader("Progress")
    for job in jobs:
        if job.status == "done" and job.run is not None:
            how = "loaded from the cache" if job.run.from_cache else f"trained in {job.run.fit_seconds:.1f} s"
            st.success(
                f"{job.label}: {how} · Recall@10 {job.run.metrics['recall']['10']:.4f} · "
                f"MRR {job.run.metrics['mrr']:.4f}",
                icon=":material/check_circle:",
            )
        elif job.status == "failed":
            st.error(f"{job.label}: {job.error}")
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


show_progress()

st.subheader("Cached runs")
table = cached_runs(dataset)
if table.empty:
    st.info("Nothing cached yet for this data set.")
else:
    shown = table[["model", "setting", "year", "recall@10", "mrr", "fit_seconds", "device", "created"]]
    selection = st.dataframe(
        shown,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key=f"cached_runs_table_{st.session_state.get('deletions', 0)}",  # a new table after each deletion
        column_config={
            "recall@10": st.column_config.NumberColumn(format="%.4f"),
            "mrr": st.column_config.NumberColumn(format="%.4f"),
            "fit_seconds": st.column_config.NumberColumn("fit s", format="%.2f"),
        },
    )
    picked = [row for row in selection.selection.rows if row < len(table)]
    if st.button(f"Delete {len(picked)} selected run(s)", disabled=not picked or queue.busy, key="delete_runs"):
        for key in table.iloc[picked]["key"]:
            runs.delete(key)
        st.session_state["deletions"] = st.session_state.get("deletions", 0) + 1  # forget the old selection
        st.rerun()
