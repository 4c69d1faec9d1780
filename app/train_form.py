"""The Train page's training form and the live progress of the background queue (runs and sweeps)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app.jobs import SweepJob, TrainingQueue
from app.text import literal
from explorer.data import Dataset
from explorer.errors import ExplorerError
from explorer.models import model_class, model_names
from explorer.protocol import Split


def _number(column, name: str, param: str, bounds) -> float | int:
    """One hyperparameter's input, within its bounds."""
    if bounds.kind is int:
        return column.number_input(
            param,
            min_value=int(bounds.low),
            max_value=int(bounds.high),
            value=int(bounds.default),
            step=1,
            help=bounds.help,
            key=f"param_{name}_{param}",
        )
    return column.number_input(
        param,
        min_value=float(bounds.low),
        max_value=float(bounds.high),
        value=float(bounds.default),
        format="%.5g",
        help=bounds.help,
        key=f"param_{name}_{param}",
    )


def train_form(dataset: Dataset, queue: TrainingQueue, year_splits: dict[int, Split]) -> None:
    """Models, test years and hyperparameters in one form; its button queues every run (validated first)."""
    with st.form("train_form"):
        left, right = st.columns(2)
        chosen_models = left.multiselect("Models", model_names(), default=model_names(), key="train_models")
        chosen_years = right.multiselect("Test years", list(year_splits), default=list(year_splits), key="train_years")
        tuned = st.radio(
            "Hyperparameters",
            ["defaults (tuned for each test year)", "as set below, for every year"],
            horizontal=True,
            key="train_param_mode",
            help="Each model's defaults were chosen for each test year by validation on its last train year.",
        ).startswith("defaults")
        params: dict[str, dict] = {}
        for name in model_names():
            spec = model_class(name).PARAMS
            if not spec:
                continue
            with st.expander(f"{name} hyperparameters"):
                columns = st.columns(4)
                params[name] = {
                    param: _number(columns[index % 4], name, param, bounds)
                    for index, (param, bounds) in enumerate(spec.items())
                }
        submitted = st.form_submit_button("Train", type="primary", disabled=queue.busy, key="train_button")
    if not submitted:
        return
    if not chosen_models or not chosen_years:
        st.warning("Pick at least one model and one test year.")
        return
    try:  # validate every request before queueing any, so an error queues nothing
        requests = [
            (name, year, model_class(name).params_for(year, None if tuned else params.get(name)))
            for name in chosen_models
            for year in sorted(chosen_years)
        ]
    except ExplorerError as error:
        st.error(literal(error))
        return
    for name, year, values in requests:
        queue.submit(dataset, year_splits[year], name, values)
    st.rerun()


def sweep_line(job: SweepJob, now: float | None = None) -> tuple[float, str]:
    """A running sweep's bar: its fraction and text (``starting Ray… 12 s``, then trials done of total)."""
    elapsed = (now or time.time()) - job.started if job.started else job.elapsed
    clock = f"{elapsed:.0f} s"
    if job.phase in ("", "starting Ray"):
        return 0.0, f"{job.label}: starting Ray… {clock}"
    if job.phase == "training best":
        return (
            1.0,
            f"{job.label}: training the best setting on the test year ({job.step} of {job.total} done) · {clock}",
        )
    fraction = job.step / job.total if job.total else 0.0
    return fraction, f"{job.label}: {job.step} of {job.total} trials done · {clock} (Ray Tune)"


def show_progress(queue: TrainingQueue, dataset: Dataset) -> None:
    """The queue's jobs, refreshed every 0.7 s while it is busy (a fragment: the rest of the page stays)."""

    @st.fragment(run_every=0.7 if queue.busy else None)
    def progress() -> None:
        jobs = queue.jobs(dataset.fingerprint)
        sweeps = [job for job in queue.sweeps(dataset.fingerprint) if job.active]
        if not jobs and not sweeps and not st.session_state.get("was_busy"):
            return
        st.subheader("Progress")
        for job in sweeps:
            if job.status == "running":
                fraction, text = sweep_line(job)
                st.progress(fraction, text=text)
            else:
                st.caption(f"{job.label}: waiting")
        for job in jobs:
            _job_line(job)
        if queue.busy:
            st.caption("Training in the background… the buttons are disabled until it finishes.")
        elif st.session_state.get("was_busy"):
            st.session_state["was_busy"] = False
            st.rerun(scope="app")  # refresh the table of cached runs and the sweep history
        st.session_state["was_busy"] = queue.busy
        if not queue.busy and st.button("Clear finished", key="clear_jobs"):
            queue.forget_finished()
            st.rerun(scope="app")

    progress()


def _job_line(job) -> None:
    if job.status == "done" and job.run is not None:
        how = "loaded from the cache" if job.run.from_cache else f"trained in {job.run.fit_seconds:.1f} s"
        st.success(
            f"{job.label}: {how} · Recall@10 {job.run.metrics['recall']['10']:.4f} · MRR {job.run.metrics['mrr']:.4f}",
            icon=":material/check_circle:",
        )
    elif job.status == "failed":
        st.error(f"{job.label}: {literal(job.error)}")
    elif job.status == "mapping":
        st.progress(job.step / job.total if job.total else 0.0, text=f"{job.label}: drawing its embedding map (UMAP)")
    elif job.status == "running":
        fraction = job.step / job.total if job.total else 0.0
        loss = f" · loss {job.losses[-1]:.4f}" if job.losses else ""
        st.progress(fraction, text=f"{job.label}: epoch {job.step} of {job.total or '?'}{loss}")
        if len(job.losses) > 1:
            st.line_chart(pd.DataFrame({"loss": job.losses}).rename_axis("epoch"), height=220, x_label="epoch")
    else:
        st.caption(f"{job.label}: waiting")
